//! Who is calling: the bearer key of a request, looked up by its digest, and what its role may do.
//!
//! A request without a key, with a malformed one, or with one that is unknown or revoked is
//! answered 401 before anything else is read. After that, each handler asks the [`Caller`] the
//! one question its endpoint needs (may you act as this agent, for this connector, see what
//! these rights allow, read the log, manage keys) before it calls the engine, so a refused
//! request appends nothing. This module decides who may call what; it must never decide a
//! routing or lifecycle rule.

use super::{ApiError, AppState};
use crate::access;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use projections::rights::{Scope, Visible};
use routing_core::access::{Role, SecretDigest};
use routing_core::{AgentId, CentreConfig, ConnectorId, KeyId};
use std::collections::HashMap;

/// The configured keys by digest, built once at start-up.
#[derive(Debug, Default)]
pub struct ConfiguredKeys(HashMap<SecretDigest, KeyId>);

impl ConfiguredKeys {
    pub fn of(config: &CentreConfig) -> Self {
        Self(
            config
                .api_keys
                .iter()
                .map(|(id, key)| (key.secret_sha256.clone(), id.clone()))
                .collect(),
        )
    }
}

/// The key a request came with, and the role it grants.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key: KeyId,
    pub name: String,
    pub role: Role,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            ApiError::Unauthenticated(
                "this endpoint needs an API key: send `Authorization: Bearer <key>`".into(),
            )
        })?;
        let secret = header
            .to_str()
            .ok()
            // The scheme's name is case-insensitive (RFC 9110).
            .and_then(|value| {
                let (scheme, secret) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then_some(secret)
            })
            .map(str::trim)
            .filter(|secret| !secret.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthenticated("the Authorization header must be `Bearer <key>`".into())
            })?;
        let digest = access::digest(secret);
        let configured = state.keys.0.get(&digest);
        let found = state.views.keys(|keys| match configured {
            Some(id) => keys
                .revocation(id)
                .is_none()
                .then(|| {
                    state
                        .config
                        .api_keys
                        .get(id)
                        .map(|k| (id.clone(), k.name.clone(), k.role.clone()))
                })
                .flatten(),
            None => keys
                .issued_with(&digest)
                .map(|k| (k.key.clone(), k.name.clone(), k.role.clone())),
        });
        let (key, name, role) = found.ok_or_else(|| {
            ApiError::Unauthenticated("the API key is unknown or has been revoked".into())
        })?;
        Ok(Caller { key, name, role })
    }
}

impl Caller {
    /// Commands an agent's console sends, acting as `agent`: that agent's own key, or an
    /// admin's. Nobody acts on another agent's activity.
    pub fn acts_as(&self, agent: &AgentId) -> Result<(), ApiError> {
        match &self.role {
            Role::Admin => Ok(()),
            Role::Agent { agent: own } if own == agent => Ok(()),
            Role::Agent { agent: own } => Err(ApiError::NoRights(format!(
                "this key acts as agent '{own}', not as '{agent}'"
            ))),
            other => Err(self.wrong_role("act as an agent", other)),
        }
    }

    /// A customer's message through `connector`: a connector key for it, or an admin's.
    pub fn brings_in(&self, connector: &ConnectorId) -> Result<(), ApiError> {
        match &self.role {
            Role::Admin => Ok(()),
            Role::Connector { connectors } if connectors.allows(connector) => Ok(()),
            Role::Connector { .. } => Err(ApiError::NoRights(format!(
                "this key may not bring messages in for connector '{connector}'"
            ))),
            other => Err(self.wrong_role("bring customers' messages in", other)),
        }
    }

    /// Whether the caller delivers agents' messages for the connector (reads its outbox and
    /// confirms what it sent): the connector's own key, or an admin.
    pub fn delivers_for(&self, connector: &ConnectorId) -> Result<(), ApiError> {
        match &self.role {
            Role::Admin => Ok(()),
            Role::Connector { connectors } if connectors.allows(connector) => Ok(()),
            Role::Connector { .. } => Err(ApiError::NoRights(format!(
                "this key may not deliver messages for connector '{connector}'"
            ))),
            other => Err(self.wrong_role("deliver a connector's messages", other)),
        }
    }

    /// What the caller may see of the read models: a supervisor its rights, an agent their own
    /// work and the queues they have rights to, an auditor or admin everything. A connector
    /// reads nothing.
    pub fn rights(&self, config: &CentreConfig) -> Result<Visible, ApiError> {
        match &self.role {
            Role::Admin | Role::Auditor => Ok(Visible::everything()),
            Role::Supervisor { users, queues } => Ok(Visible {
                users: users.clone(),
                queues: queues.clone(),
                own: None,
                administers: Default::default(),
            }),
            Role::Agent { agent } => {
                let config = config.agents.get(agent);
                let queues = config.map(|a| a.rights()).unwrap_or_default();
                Ok(Visible {
                    users: Scope::Only([agent.clone()].into()),
                    queues: Scope::Only(queues),
                    own: Some(agent.clone()),
                    administers: config.map(|a| a.admin_of.clone()).unwrap_or_default(),
                })
            }
            other @ Role::Connector { .. } => Err(self.wrong_role("read the read models", other)),
        }
    }

    /// The global log: auditors and admins.
    pub fn reads_the_log(&self) -> Result<(), ApiError> {
        match &self.role {
            Role::Admin | Role::Auditor => Ok(()),
            other => Err(self.wrong_role("read the global log", other)),
        }
    }

    /// Anonymising contacts: admins, who answer erasure requests.
    pub fn erases_personal_data(&self) -> Result<(), ApiError> {
        match &self.role {
            Role::Admin => Ok(()),
            other => Err(self.wrong_role("anonymise contacts", other)),
        }
    }

    /// Issuing, listing and revoking keys: admins.
    pub fn manages_keys(&self) -> Result<(), ApiError> {
        match &self.role {
            Role::Admin => Ok(()),
            other => Err(self.wrong_role("manage API keys", other)),
        }
    }

    fn wrong_role(&self, what: &str, role: &Role) -> ApiError {
        ApiError::WrongRole(format!(
            "key '{}' has role '{}', which may not {what}",
            self.key,
            role.name()
        ))
    }
}
