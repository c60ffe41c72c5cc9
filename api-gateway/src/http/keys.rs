//! Key management for admins: issue a key (its secret is shown once, in the answer), list keys,
//! revoke one; and `GET /v1/me`, which tells any caller who their key says they are.
//!
//! Issuing and revoking are commands like any other: the core checks them and the log records
//! them. Each answers only once the read models hold the change, so the new key opens the very
//! next request and the revoked one is refused from the very next request.

use super::auth::Caller;
use super::commands::{CommandAccepted, accepted};
use super::extract::{Json, Path};
use super::{ApiError, AppState};
use crate::access::{self, RoleName, RoleSpec};
use axum::extract::State;
use axum::http::StatusCode;
use projections::keys::Revocation;
use projections::rights::Scope;
use routing_core::access::Role;
use routing_core::{Command, KeyId};
use serde::{Deserialize, Serialize};

/// A key to issue: a name people recognise and the role, bound as in the configuration file.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    pub name: String,
    pub role: RoleName,
    pub agent: Option<String>,
    pub users: Option<Vec<String>>,
    pub queues: Option<Vec<String>>,
    pub connectors: Option<Vec<String>>,
}

/// A role as the API shows it: omitted lists mean all, as when a key is configured or issued.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RoleView {
    pub role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queues: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connectors: Option<Vec<String>>,
}

impl From<&Role> for RoleView {
    fn from(role: &Role) -> Self {
        fn list<T: Ord + std::fmt::Display>(scope: &Scope<T>) -> Option<Vec<String>> {
            match scope {
                Scope::All => None,
                Scope::Only(items) => Some(items.iter().map(ToString::to_string).collect()),
            }
        }
        let mut view = RoleView {
            role: role.name(),
            agent: None,
            users: None,
            queues: None,
            connectors: None,
        };
        match role {
            Role::Connector { connectors } => view.connectors = list(connectors),
            Role::Agent { agent } => view.agent = Some(agent.to_string()),
            Role::Supervisor { users, queues } => {
                view.users = list(users);
                view.queues = list(queues);
            }
            Role::Auditor | Role::Admin => {}
        }
        view
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuedKey {
    #[schema(value_type = String)]
    pub id: KeyId,
    pub name: String,
    #[serde(flatten)]
    pub role: RoleView,
    /// The secret to send as `Authorization: Bearer <secret>`. Shown this once: only its
    /// digest is kept.
    pub secret: String,
    pub position: u64,
}

#[utoipa::path(
    post,
    path = "/v1/keys",
    tag = "keys",
    request_body = NewKey,
    responses((status = 201, description = "the new key and its secret, shown once", body = IssuedKey))
)]
pub async fn issue(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewKey>,
) -> Result<(StatusCode, axum::Json<IssuedKey>), ApiError> {
    caller.manages_keys()?;
    let role = RoleSpec {
        role: body.role,
        agent: body.agent,
        users: body.users,
        queues: body.queues,
        connectors: body.connectors,
    }
    .into_role()
    .map_err(ApiError::BadRequest)?;
    let secret = access::new_secret()
        .map_err(|e| ApiError::Internal(format!("no randomness for a new key: {e}")))?;
    let id = KeyId::new(format!("k-{}", uuid::Uuid::now_v7()));
    let command = Command::IssueApiKey {
        key: id.clone(),
        name: body.name.clone(),
        role: role.clone(),
        secret_sha256: access::digest(&secret),
        by: caller.key.clone(),
    };
    let receipt = state.engine.execute(command).await?;
    let position = receipt.position().0;
    state.views.caught_up_to(position).await?;
    tracing::info!(key = %id, role = role.name(), by = %caller.key, "API key issued");
    Ok((
        StatusCode::CREATED,
        axum::Json(IssuedKey {
            id,
            name: body.name,
            role: RoleView::from(&role),
            secret,
            position,
        }),
    ))
}

#[utoipa::path(
    delete,
    path = "/v1/keys/{key}",
    tag = "keys",
    params(("key" = String, Path)),
    responses((status = 200, description = "the events appended, with their positions", body = CommandAccepted))
)]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    caller.manages_keys()?;
    let key = KeyId::new(key);
    let command = Command::RevokeApiKey {
        key: key.clone(),
        by: caller.key.clone(),
    };
    let receipt = state.engine.execute(command).await?;
    state.views.caught_up_to(receipt.position().0).await?;
    tracing::info!(key = %key, by = %caller.key, "API key revoked");
    Ok(axum::Json(accepted(&receipt, None)))
}

/// A key as listed: never its secret, nor its digest (the digest of an issued key is in the
/// audit log, `ApiKeyIssued`, for auditors: harmless, the secret being 256 random bits).
#[derive(Debug, Serialize)]
pub struct KeyRow {
    pub id: KeyId,
    pub name: String,
    #[serde(flatten)]
    pub role: RoleView,
    /// "configuration" or "api".
    pub source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_by: Option<KeyId>,
    #[serde(skip_serializing_if = "Option::is_none", flatten)]
    pub revoked: Option<Revocation>,
}

#[derive(Debug, Serialize)]
pub struct KeyList {
    pub keys: Vec<KeyRow>,
}

#[utoipa::path(
    get,
    path = "/v1/keys",
    tag = "keys",
    responses((status = 200, description = "the answer"))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<KeyList>, ApiError> {
    caller.manages_keys()?;
    let keys = state
        .views
        .read(None, std::time::Duration::ZERO, |models| {
            let configured = state.config.api_keys.iter().map(|(id, key)| KeyRow {
                id: id.clone(),
                name: key.name.clone(),
                role: RoleView::from(&key.role),
                source: "configuration",
                issued_at: None,
                issued_by: None,
                revoked: models.keys.revocation(id).cloned(),
            });
            let issued = models.keys.issued().into_iter().map(|key| KeyRow {
                id: key.key.clone(),
                name: key.name.clone(),
                role: RoleView::from(&key.role),
                source: "api",
                issued_at: Some(projections::rfc3339::format(key.issued_at)),
                issued_by: Some(key.issued_by.clone()),
                revoked: models.keys.revocation(&key.key).cloned(),
            });
            configured.chain(issued).collect()
        })
        .await?;
    Ok(axum::Json(KeyList { keys }))
}

#[derive(Debug, Serialize)]
pub struct Me {
    pub key: KeyId,
    pub name: String,
    #[serde(flatten)]
    pub role: RoleView,
}

/// Who the caller's key says they are: what a console shows after signing in.
#[utoipa::path(
    get,
    path = "/v1/me",
    tag = "keys",
    responses((status = 200, description = "the answer"))
)]
pub async fn me(caller: Caller) -> axum::Json<Me> {
    axum::Json(Me {
        role: RoleView::from(&caller.role),
        key: caller.key,
        name: caller.name,
    })
}
