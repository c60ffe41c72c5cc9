//! API keys on the service's side: drawing a secret, digesting it, and reading the role a key
//! grants from the configuration file or an administrator's request.
//!
//! Secrets are 256 random bits from the operating system, so a plain SHA-256 is the right digest
//! to keep: nothing can be guessed by trying, and every request is checked in microseconds (a
//! password hash such as Argon2 protects low-entropy secrets and would cost milliseconds per
//! request). This module must never store, log or echo a secret except to the one administrator
//! who just drew it.

use routing_core::access::{Role, Scope, SecretDigest};
use routing_core::{AgentId, ConnectorId, QueueId};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// Every secret starts with this, so a leaked one is recognisable (secret scanners, logs).
pub const SECRET_PREFIX: &str = "sb_";

/// A fresh secret: the prefix and 32 random bytes in hexadecimal.
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{SECRET_PREFIX}{}", hex(&bytes)))
}

/// The digest under which a secret is known.
pub fn digest(secret: &str) -> SecretDigest {
    let hex = hex(&Sha256::digest(secret.as_bytes()));
    // 64 hexadecimal digits by construction.
    SecretDigest::try_from(hex).unwrap_or_else(|_| unreachable!("a SHA-256 is 64 hex digits"))
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleName {
    Connector,
    Agent,
    Supervisor,
    Auditor,
    Admin,
}

/// A role as written in the configuration file or in a request: the role's name and what it is
/// bound to. An omitted list means all.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    pub role: RoleName,
    /// For role `agent`: the agent the key acts as.
    pub agent: Option<String>,
    /// For role `supervisor`: the users (agents) it has rights to.
    pub users: Option<Vec<String>>,
    /// For role `supervisor`: the queues it has rights to.
    pub queues: Option<Vec<String>>,
    /// For role `connector`: the connectors it may bring messages in for.
    pub connectors: Option<Vec<String>>,
}

impl RoleSpec {
    /// The role, or what is wrong with the spec. Whether the names are configured is the core's
    /// to say ([`Role::check`]).
    pub fn into_role(self) -> Result<Role, String> {
        let RoleSpec {
            role,
            agent,
            users,
            queues,
            connectors,
        } = self;
        let stray = |field: &str, with: &str| Err(format!("`{field}` goes only with role {with}"));
        if agent.is_some() && role != RoleName::Agent {
            return stray("agent", "\"agent\"");
        }
        if (users.is_some() || queues.is_some()) && role != RoleName::Supervisor {
            let field = if users.is_some() { "users" } else { "queues" };
            return stray(field, "\"supervisor\"");
        }
        if connectors.is_some() && role != RoleName::Connector {
            return stray("connectors", "\"connector\"");
        }
        Ok(match role {
            RoleName::Connector => Role::Connector {
                connectors: scope(connectors, ConnectorId::new),
            },
            RoleName::Agent => Role::Agent {
                agent: AgentId::new(agent.ok_or_else(|| {
                    "role \"agent\" needs `agent`: the agent the key acts as".to_owned()
                })?),
            },
            RoleName::Supervisor => Role::Supervisor {
                users: scope(users, AgentId::new),
                queues: scope(queues, QueueId::new),
            },
            RoleName::Auditor => Role::Auditor,
            RoleName::Admin => Role::Admin,
        })
    }
}

fn scope<T: Ord>(items: Option<Vec<String>>, make: impl Fn(String) -> T) -> Scope<T> {
    match items {
        None => Scope::All,
        Some(items) => Scope::Only(items.into_iter().map(make).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_random_prefixed_and_digested_as_sha256() {
        let one = new_secret().unwrap_or_else(|e| panic!("{e}"));
        let two = new_secret().unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(one, two);
        assert!(one.starts_with(SECRET_PREFIX) && one.len() == SECRET_PREFIX.len() + 64);
        // The SHA-256 of "test", as `printf test | sha256sum` prints it.
        assert_eq!(
            digest("test").as_str(),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
    }

    fn spec(role: RoleName) -> RoleSpec {
        RoleSpec {
            role,
            agent: None,
            users: None,
            queues: None,
            connectors: None,
        }
    }

    #[test]
    fn a_role_takes_only_the_bindings_it_has() {
        assert_eq!(
            spec(RoleName::Agent).into_role().err().as_deref(),
            Some("role \"agent\" needs `agent`: the agent the key acts as")
        );
        let supervisor = RoleSpec {
            queues: Some(vec!["support".into()]),
            ..spec(RoleName::Supervisor)
        };
        assert_eq!(
            supervisor.into_role(),
            Ok(Role::Supervisor {
                users: Scope::All,
                queues: Scope::Only([QueueId::new("support")].into()),
            })
        );
        let auditor = RoleSpec {
            agent: Some("alice".into()),
            ..spec(RoleName::Auditor)
        };
        assert_eq!(
            auditor.into_role().err().as_deref(),
            Some("`agent` goes only with role \"agent\"")
        );
    }
}
