//! Access: the API keys of a contact centre and the role each one grants.
//!
//! A key is known by its id and by the SHA-256 of its secret; the secret itself never reaches the
//! core, the log or the configuration. Keys come from the configuration file or are issued and
//! revoked over the API, which records both as events, so who could do what, and since when, is
//! part of the audited history. This module says what a role is bound to and checks that the
//! binding names configured agents, queues and connectors; which endpoint a role may call is the
//! API's business, and it must never hash, compare or store a secret.

use crate::config::CentreConfig;
use crate::ids::{AgentId, ConnectorId, QueueId};
use crate::rejection::Rejection;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// Everything, or only some.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope<T: Ord> {
    All,
    Only(BTreeSet<T>),
}

impl<T: Ord> Scope<T> {
    pub fn allows(&self, item: &T) -> bool {
        match self {
            Scope::All => true,
            Scope::Only(items) => items.contains(item),
        }
    }

    /// For a row that may have no such item: one without it is only seen with rights to all.
    pub fn allows_optional(&self, item: Option<&T>) -> bool {
        match item {
            Some(item) => self.allows(item),
            None => matches!(self, Scope::All),
        }
    }

    fn items(&self) -> impl Iterator<Item = &T> {
        match self {
            Scope::All => None,
            Scope::Only(items) => Some(items.iter()),
        }
        .into_iter()
        .flatten()
    }
}

/// What a key lets its holder be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Role {
    /// A channel connector: brings customers' messages in, for these connectors.
    Connector { connectors: Scope<ConnectorId> },
    /// One agent's console: acts only as that agent.
    Agent { agent: AgentId },
    /// Watches the users and queues it has rights to; changes nothing.
    Supervisor {
        users: Scope<AgentId>,
        queues: Scope<QueueId>,
    },
    /// Reads everything, history and the log included; changes nothing.
    Auditor,
    /// Everything, including issuing and revoking keys.
    Admin,
}

impl Role {
    pub fn name(&self) -> &'static str {
        match self {
            Role::Connector { .. } => "connector",
            Role::Agent { .. } => "agent",
            Role::Supervisor { .. } => "supervisor",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    /// Refuses a role bound to an agent, queue or connector the configuration does not define.
    pub fn check(&self, config: &CentreConfig) -> Result<(), Rejection> {
        match self {
            Role::Connector { connectors } => match connectors
                .items()
                .find(|c| !config.connectors.contains_key(*c))
            {
                Some(unknown) => Err(Rejection::UnknownConnector(unknown.clone())),
                None => Ok(()),
            },
            Role::Agent { agent } if !config.agents.contains_key(agent) => {
                Err(Rejection::UnknownAgent(agent.clone()))
            }
            Role::Supervisor { users, queues } => {
                if let Some(unknown) = users.items().find(|a| !config.agents.contains_key(*a)) {
                    return Err(Rejection::UnknownAgent(unknown.clone()));
                }
                match queues.items().find(|q| !config.queues.contains_key(*q)) {
                    Some(unknown) => Err(Rejection::UnknownQueue(unknown.clone())),
                    None => Ok(()),
                }
            }
            Role::Agent { .. } | Role::Auditor | Role::Admin => Ok(()),
        }
    }
}

/// An API key as configured: what it is called, the role it grants, and its secret's digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub name: String,
    pub role: Role,
    pub secret_sha256: SecretDigest,
}

/// The SHA-256 of a key's secret, as 64 lowercase hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SecretDigest(String);

impl SecretDigest {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SecretDigest {
    type Error = Rejection;

    fn try_from(hex: String) -> Result<Self, Rejection> {
        let hex = hex.to_ascii_lowercase();
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(hex))
        } else {
            Err(Rejection::NotADigest)
        }
    }
}

impl From<SecretDigest> for String {
    fn from(digest: SecretDigest) -> String {
        digest.0
    }
}

impl fmt::Display for SecretDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
