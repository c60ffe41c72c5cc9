//! Where channel providers and delivery workers meet Switchboard: each connector's webhook, in
//! its provider's own format and signed by it, and each connector's outbox of agent replies.
//!
//! A webhook call is checked against the connector's secret before its body is read; a body
//! that is not the provider's format is refused whole; each item of a readable body becomes a
//! core command, and what the core refused is reported item by item while the rest stands.
//! Reading formats is the `connectors` crate's; deciding is the core's; this module only
//! carries one to the other.

use super::AppState;
use super::auth::Caller;
use super::commands::CommandAccepted;
use super::extract::Path;
use super::extract::{Json, Query};
use super::problem::ApiError;
use crate::engine::{EngineError, Receipt};
use crate::feed::READ_YOUR_WRITES_LIMIT;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::HeaderMap;
use connectors::signature;
use projections::outbox::{MessageState, OutboxItem};
use routing_core::ids::MessageId;
use routing_core::{Channel, Command, ConnectorId, DispatchOutcome, Rejection};
use serde::{Deserialize, Serialize};

/// The largest webhook call read: Meta's deliveries may batch up to a thousand updates.
pub const WEBHOOK_BODY_LIMIT_BYTES: usize = 4 * 1024 * 1024;

/// Meta's subscription check's parameters, as Meta names them.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Handshake {
    #[serde(rename = "hub.mode")]
    #[param(rename = "hub.mode")]
    pub mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    #[param(rename = "hub.verify_token")]
    pub verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    #[param(rename = "hub.challenge")]
    pub challenge: Option<String>,
}

/// The connector's channel, if it is configured.
fn channel_of(state: &AppState, connector: &ConnectorId) -> Result<Channel, ApiError> {
    state
        .config
        .connectors
        .get(connector)
        .map(|c| c.channel)
        .ok_or_else(|| EngineError::Rejected(Rejection::UnknownConnector(connector.clone())).into())
}

/// Web chat has no provider and so no webhook: its widget speaks Switchboard's own JSON.
fn not_for_webchat(connector: &ConnectorId, channel: Channel) -> Result<(), ApiError> {
    if channel == Channel::Webchat {
        return Err(ApiError::WebhookNotConfigured(format!(
            "connector '{connector}' is web chat: it has no provider webhook; its widget posts to /v1/webchat/{connector}/messages"
        )));
    }
    Ok(())
}

#[utoipa::path(
    get,
    path = "/v1/connectors/{connector}/webhook",
    tag = "connectors",
    params(("connector" = String, Path), Handshake),
    responses(
        (status = 200, description = "the challenge, as plain text", body = String),
        (status = "4XX", description = "the token or the mode is wrong", body = super::problem::Problem)
    )
)]
/// Meta's subscription handshake (WhatsApp, Messenger, Instagram): the challenge comes back
/// only to a caller that knows the connector's verify token.
pub async fn handshake(
    State(state): State<AppState>,
    Path(connector): Path<String>,
    Query(query): Query<Handshake>,
) -> Result<String, ApiError> {
    let connector = ConnectorId::new(connector);
    let channel = channel_of(&state, &connector)?;
    not_for_webchat(&connector, channel)?;
    let token = state
        .webhooks
        .get(&connector)
        .and_then(|w| w.verify_token.as_deref())
        .filter(|_| connectors::handshake::applies_to(channel))
        .ok_or_else(|| {
            ApiError::WebhookNotConfigured(format!(
                "connector '{connector}' has no verify token: its {channel} webhook cannot be subscribed"
            ))
        })?;
    connectors::handshake::answer(
        query.mode.as_deref(),
        query.verify_token.as_deref(),
        query.challenge.as_deref(),
        token,
    )
    .map_err(|error| match error {
        connectors::handshake::HandshakeError::WrongToken => ApiError::NoRights(error.to_string()),
        _ => ApiError::BadRequest(error.to_string()),
    })
}

/// What became of one item of a webhook call.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ItemOutcome {
    /// Stored; `duplicate` when the provider had delivered it before (nothing new appended).
    Stored {
        index: usize,
        position: u64,
        duplicate: bool,
    },
    /// Acknowledged; it stores nothing (a subscription, a "sent" status, an echo).
    Noted { index: usize, what: String },
    /// Not stored, and why: the item could not be read, or the engine refused it.
    Refused { index: usize, reason: String },
}

/// The answer to a webhook call: one outcome per item, in the provider's order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookReport {
    pub stored: usize,
    pub refused: usize,
    pub items: Vec<ItemOutcome>,
}

#[utoipa::path(
    post,
    path = "/v1/connectors/{connector}/webhook",
    tag = "connectors",
    params(("connector" = String, Path)),
    request_body(content = String, description = "the provider's own webhook JSON, signed in X-Hub-Signature-256 (Meta) or X-Viber-Content-Signature (Viber)"),
    responses(
        (status = 200, description = "what became of each item", body = WebhookReport),
        (status = "4XX", description = "no or a wrong signature (401), a body that is not the provider's format (400)", body = super::problem::Problem)
    )
)]
/// A provider's webhook call. Signed, not keyed: the signature over the raw body is the
/// provider's proof, checked before anything else.
pub async fn receive(
    State(state): State<AppState>,
    Path(connector): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::Json<WebhookReport>, ApiError> {
    let connector = ConnectorId::new(connector);
    // Meta batches many messages into one call: a larger limit than the API's own bodies.
    let body: Bytes = axum::body::to_bytes(body, WEBHOOK_BODY_LIMIT_BYTES)
        .await
        .map_err(|_| ApiError::Unreadable {
            status: axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            message: format!(
                "a webhook call's body is at most {WEBHOOK_BODY_LIMIT_BYTES} bytes, or it could not be read"
            ),
        })?;
    let channel = channel_of(&state, &connector)?;
    not_for_webchat(&connector, channel)?;
    let webhook = state.webhooks.get(&connector);
    let secret = webhook.and_then(|w| w.secret.as_deref()).ok_or_else(|| {
        ApiError::WebhookNotConfigured(format!(
            "connector '{connector}' has no webhook secret: its webhook takes no calls"
        ))
    })?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let checked = match channel {
        Channel::Viber => {
            signature::verify_viber(secret.as_bytes(), header(signature::VIBER_HEADER), &body)
        }
        _ => signature::verify_meta(secret.as_bytes(), header(signature::META_HEADER), &body),
    };
    checked.map_err(|error| ApiError::BadSignature(error.to_string()))?;
    let delivery = connectors::parse(channel, &body)
        .map_err(|error| ApiError::BadRequest(format!("not a {channel} webhook: {error}")))?;

    let mut report = WebhookReport {
        stored: 0,
        refused: 0,
        items: Vec::with_capacity(delivery.items.len()),
    };
    let own_account = webhook.and_then(|w| w.account.as_deref());
    // In the provider's order, one at a time: a customer's messages keep their order.
    for (index, (item, account)) in delivery.addressed().enumerate() {
        let outcome = match (item, account) {
            (Err(refused), _) => ItemOutcome::Refused {
                index,
                reason: refused.reason,
            },
            // The app's secret signs for every number and page it has: the account tells whose
            // customer this is.
            (Ok(_), Some(account)) if own_account.is_some_and(|own| own != account) => {
                ItemOutcome::Refused {
                    index,
                    reason: format!(
                        "addressed to provider account '{account}', not connector '{connector}''s"
                    ),
                }
            }
            (Ok(item), _) => match item {
                connectors::Item::Noted { what } => ItemOutcome::Noted { index, what },
                item => match connectors::command(&connector, channel, item) {
                    None => ItemOutcome::Noted {
                        index,
                        what: "nothing to store".into(),
                    },
                    Some(command) => run(&state, index, command).await?,
                },
            },
        };
        match outcome {
            ItemOutcome::Stored { .. } => report.stored += 1,
            ItemOutcome::Refused { .. } => report.refused += 1,
            ItemOutcome::Noted { .. } => {}
        }
        report.items.push(outcome);
    }
    if report.refused > 0 {
        tracing::warn!(%connector, refused = report.refused, "webhook items refused");
    }
    Ok(axum::Json(report))
}

/// Runs one item's command. A refusal is the item's; a failure of the service fails the call,
/// so that the provider delivers it again (what was stored is then a duplicate).
async fn run(state: &AppState, index: usize, command: Command) -> Result<ItemOutcome, ApiError> {
    match state.engine.execute(command).await {
        Ok(receipt) => Ok(ItemOutcome::Stored {
            index,
            position: receipt.position().0,
            duplicate: matches!(receipt, Receipt::Duplicate { .. }),
        }),
        Err(EngineError::Rejected(rejection)) => Ok(ItemOutcome::Refused {
            index,
            reason: rejection.to_string(),
        }),
        Err(error) => Err(error.into()),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutboxQuery {
    /// Messages after this log position (default 0: from the oldest waiting): the last
    /// position of the page before.
    #[serde(default)]
    pub cursor: u64,
    /// At most this many (default and maximum 500).
    pub limit: Option<usize>,
    /// Answer only once the outbox includes this log position (a command's `position`).
    pub after: Option<u64>,
}

/// Read-your-writes for a single message's state.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StateQuery {
    /// Answer only once the views include this log position (a command's `position`).
    pub after: Option<u64>,
}

const OUTBOX_PAGE_LIMIT: usize = 500;

/// A page of a connector's outbox.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OutboxPage {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<OutboxItem>,
    /// Whether more wait after this page; ask again with `cursor` = the last item's position.
    pub more: bool,
}

#[utoipa::path(
    get,
    path = "/v1/connectors/{connector}/outbox",
    tag = "connectors",
    params(("connector" = String, Path), OutboxQuery),
    responses((status = 200, description = "agent messages waiting to be sent, oldest first", body = OutboxPage))
)]
/// The agent messages waiting to be sent through the connector, oldest first. Channel rules
/// were applied before they were stored: each may be sent as it stands.
pub async fn outbox(
    State(state): State<AppState>,
    caller: Caller,
    Path(connector): Path<String>,
    Query(query): Query<OutboxQuery>,
) -> Result<axum::Json<OutboxPage>, ApiError> {
    let connector = ConnectorId::new(connector);
    caller.delivers_for(&connector)?;
    channel_of(&state, &connector)?;
    let limit = query
        .limit
        .unwrap_or(OUTBOX_PAGE_LIMIT)
        .clamp(1, OUTBOX_PAGE_LIMIT);
    let page = state
        .views
        .read(query.after, READ_YOUR_WRITES_LIMIT, |models| {
            let (items, more) = models.outbox.pending(&connector, query.cursor, limit);
            OutboxPage {
                items: items.into_iter().cloned().collect(),
                more,
            }
        })
        .await?;
    Ok(axum::Json(page))
}

/// How sending one outbox message went.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case", deny_unknown_fields)]
pub enum Dispatch {
    /// The provider took it and gave it this id (its receipts will name it).
    Sent { provider_message_id: String },
    /// It could not be sent.
    Failed { reason: String },
}

#[utoipa::path(
    post,
    path = "/v1/connectors/{connector}/outbox/{message}",
    tag = "connectors",
    params(("connector" = String, Path), ("message" = String, Path)),
    request_body = Dispatch,
    responses((status = 200, description = "the events appended, with their positions", body = CommandAccepted))
)]
/// Confirms one outbox message: sent (with the provider's id for it) or failed (with why).
pub async fn confirm(
    State(state): State<AppState>,
    caller: Caller,
    Path((connector, message)): Path<(String, String)>,
    Json(body): Json<Dispatch>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    let connector = ConnectorId::new(connector);
    caller.delivers_for(&connector)?;
    channel_of(&state, &connector)?;
    let outcome = match body {
        Dispatch::Sent {
            provider_message_id,
        } => DispatchOutcome::Sent {
            provider_message_id,
        },
        Dispatch::Failed { reason } => DispatchOutcome::Failed { reason },
    };
    let receipt = state
        .engine
        .execute(Command::ConfirmDispatch {
            connector,
            message_id: MessageId::new(message),
            outcome,
        })
        .await?;
    Ok(axum::Json(super::commands::accepted(&receipt, None)))
}

#[utoipa::path(
    get,
    path = "/v1/connectors/{connector}/messages/{message}",
    tag = "connectors",
    params(("connector" = String, Path), ("message" = String, Path), StateQuery),
    responses((status = 200, description = "where an agent message stands: pending, sent, delivered, read or failed", body = Object))
)]
/// Where an agent message sent through the connector stands.
pub async fn message_state(
    State(state): State<AppState>,
    caller: Caller,
    Path((connector, message)): Path<(String, String)>,
    Query(query): Query<StateQuery>,
) -> Result<axum::Json<MessageState>, ApiError> {
    let connector = ConnectorId::new(connector);
    caller.delivers_for(&connector)?;
    channel_of(&state, &connector)?;
    let id = MessageId::new(message.clone());
    state
        .views
        .read(query.after, READ_YOUR_WRITES_LIMIT, |models| {
            models
                .outbox
                .state(&id)
                .filter(|state| state.connector == connector)
                .cloned()
        })
        .await?
        .map(axum::Json)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "connector '{connector}' has no agent message '{message}'"
            ))
        })
}
