//! Command endpoints: each turns a request into one core command and answers with the positions of
//! the events it appended (so the caller can read its own writes).

use super::ApiError;
use super::auth::Caller;
use super::extract::{Json, Path};
use crate::engine::Receipt;
use crate::http::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use routing_core::ids::{ExternalContactId, MessageId};
use routing_core::{
    AgentId, Attachment, Channel, Command, ConnectorId, ConversationId, EventKind, MessageKind,
    QueueId, Target,
};
use serde::{Deserialize, Serialize};

/// The answer to every command.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CommandAccepted {
    /// The position of the newest event the command appended (or, for a redelivered message, of
    /// the event stored the first time): pass it as `after` to a query to see the effect.
    pub position: u64,
    /// True when the message had been delivered before and nothing new was appended.
    pub duplicate: bool,
    /// The conversation the command concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub conversation: Option<ConversationId>,
    /// What happened, in order.
    pub events: Vec<EventRef>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventRef {
    pub position: u64,
    #[serde(rename = "type")]
    pub event_type: &'static str,
}

pub(super) fn accepted(receipt: &Receipt, conversation: Option<ConversationId>) -> CommandAccepted {
    let events = match receipt {
        Receipt::Appended { events } => events
            .iter()
            .map(|(position, event)| EventRef {
                position: position.0,
                event_type: event.kind.name(),
            })
            .collect(),
        Receipt::Duplicate { .. } => Vec::new(),
    };
    CommandAccepted {
        position: receipt.position().0,
        duplicate: matches!(receipt, Receipt::Duplicate { .. }),
        conversation,
        events,
    }
}

/// A message from a web-chat visitor, in Switchboard's own web-chat format.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebchatMessage {
    /// The visitor's id, stable across their messages.
    pub visitor: String,
    /// The name the visitor gave, if any.
    pub name: Option<String>,
    /// The widget's id for this message: a redelivery with the same id is stored once.
    pub message_id: String,
    /// The text; may be empty for a message that is not text (a file, a picture).
    pub text: String,
    /// `text` (the default), `image`, `video`, `audio`, `file`, `location`, … Kinds Switchboard
    /// does not know are kept under their own name.
    #[serde(default)]
    pub kind: Option<String>,
    /// Files the visitor sent, by the widget's reference.
    #[serde(default)]
    pub attachments: Vec<WebchatAttachment>,
}

/// A file a web-chat visitor sent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebchatAttachment {
    /// `image`, `video`, `audio`, `file`, …
    pub kind: String,
    /// Where the widget stored it (a URL or an id).
    pub reference: String,
    pub mime_type: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/webchat/{connector}/messages",
    tag = "commands",
    params(("connector" = String, Path)),
    request_body = WebchatMessage,
    responses((status = 201, description = "the events appended, with their positions", body = CommandAccepted))
)]
pub async fn webchat_message(
    State(state): State<AppState>,
    caller: Caller,
    Path(connector): Path<String>,
    Json(body): Json<WebchatMessage>,
) -> Result<(StatusCode, axum::Json<CommandAccepted>), ApiError> {
    let connector = ConnectorId::new(connector);
    caller.brings_in(&connector)?;
    let command = Command::ReceiveCustomerMessage {
        connector,
        channel: Channel::Webchat,
        contact: ExternalContactId::new(body.visitor),
        contact_name: body.name,
        handle: None,
        message_id: MessageId::new(body.message_id),
        text: body.text,
        kind: body.kind.map_or(MessageKind::Text, MessageKind::from),
        attachments: body
            .attachments
            .into_iter()
            .map(|a| Attachment {
                kind: a.kind,
                reference: a.reference,
                mime_type: a.mime_type,
            })
            .collect(),
    };
    let receipt = state.engine.execute(command).await?;
    let conversation = receipt.events().find_map(|event| match &event.kind {
        EventKind::CustomerMessageReceived(message) => Some(message.conversation),
        _ => None,
    });
    let status = match receipt {
        Receipt::Appended { .. } => StatusCode::CREATED,
        Receipt::Duplicate { .. } => StatusCode::OK,
    };
    Ok((status, axum::Json(accepted(&receipt, conversation))))
}

/// The agent a command acts as, once the caller may act as them.
fn acting(caller: &Caller, agent: String) -> Result<AgentId, ApiError> {
    let agent = AgentId::new(agent);
    caller.acts_as(&agent)?;
    Ok(agent)
}

async fn run(
    state: &AppState,
    command: Command,
    conversation: Option<ConversationId>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    let receipt = state.engine.execute(command).await?;
    Ok(axum::Json(accepted(&receipt, conversation)))
}

#[utoipa::path(
    post,
    path = "/v1/agents/{agent}/queues/{queue}/login",
    tag = "commands",
    params(("agent" = String, Path), ("queue" = String, Path)),
    responses((status = 200, description = "the events appended, with their positions", body = CommandAccepted))
)]
pub async fn log_in(
    State(state): State<AppState>,
    caller: Caller,
    Path((agent, queue)): Path<(String, String)>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    let command = Command::LogIn {
        agent: acting(&caller, agent)?,
        queue: QueueId::new(queue),
    };
    run(&state, command, None).await
}

#[utoipa::path(
    post,
    path = "/v1/agents/{agent}/queues/{queue}/logout",
    tag = "commands",
    params(("agent" = String, Path), ("queue" = String, Path)),
    responses((status = 200, description = "the events appended, with their positions", body = CommandAccepted))
)]
pub async fn log_out(
    State(state): State<AppState>,
    caller: Caller,
    Path((agent, queue)): Path<(String, String)>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    let command = Command::LogOut {
        agent: acting(&caller, agent)?,
        queue: QueueId::new(queue),
    };
    run(&state, command, None).await
}

#[utoipa::path(
    post,
    path = "/v1/agents/{agent}/ready",
    tag = "commands",
    params(("agent" = String, Path)),
    responses((status = 200, description = "the events appended, with their positions", body = CommandAccepted))
)]
pub async fn ready(
    State(state): State<AppState>,
    caller: Caller,
    Path(agent): Path<String>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    let command = Command::GoReady {
        agent: acting(&caller, agent)?,
    };
    run(&state, command, None).await
}

#[utoipa::path(
    post,
    path = "/v1/agents/{agent}/heartbeat",
    tag = "commands",
    params(("agent" = String, Path)),
    responses((status = 200, description = "the events appended, with their positions", body = CommandAccepted))
)]
pub async fn heartbeat(
    State(state): State<AppState>,
    caller: Caller,
    Path(agent): Path<String>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    let command = Command::Heartbeat {
        agent: acting(&caller, agent)?,
    };
    run(&state, command, None).await
}

#[utoipa::path(
    post,
    path = "/v1/agents/{agent}/disconnect",
    tag = "commands",
    params(("agent" = String, Path)),
    responses((status = 200, description = "the events appended, with their positions", body = CommandAccepted))
)]
pub async fn disconnect(
    State(state): State<AppState>,
    caller: Caller,
    Path(agent): Path<String>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    let command = Command::Disconnect {
        agent: acting(&caller, agent)?,
    };
    run(&state, command, None).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FocusBody {
    #[schema(value_type = uuid::Uuid)]
    pub conversation: ConversationId,
}

#[utoipa::path(
    post,
    path = "/v1/agents/{agent}/focus",
    tag = "commands",
    params(("agent" = String, Path)),
    request_body = FocusBody,
    responses((status = 200, description = "the events appended, with their positions", body = CommandAccepted))
)]
pub async fn focus(
    State(state): State<AppState>,
    caller: Caller,
    Path(agent): Path<String>,
    Json(body): Json<FocusBody>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    let command = Command::Focus {
        agent: acting(&caller, agent)?,
        conversation: body.conversation,
    };
    run(&state, command, None).await
}

#[utoipa::path(
    post,
    path = "/v1/agents/{agent}/blur",
    tag = "commands",
    params(("agent" = String, Path)),
    responses((status = 200, description = "the events appended, with their positions", body = CommandAccepted))
)]
pub async fn blur(
    State(state): State<AppState>,
    caller: Caller,
    Path(agent): Path<String>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    let command = Command::Blur {
        agent: acting(&caller, agent)?,
    };
    run(&state, command, None).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseBody {
    pub reason: String,
    /// Paid pauses (a meeting, training) count as working time; unpaid ones do not.
    #[serde(default)]
    pub paid: bool,
}

#[utoipa::path(
    post,
    path = "/v1/agents/{agent}/pause",
    tag = "commands",
    params(("agent" = String, Path)),
    request_body = PauseBody,
    responses((status = 200, description = "the events appended, with their positions", body = CommandAccepted))
)]
pub async fn pause(
    State(state): State<AppState>,
    caller: Caller,
    Path(agent): Path<String>,
    Json(body): Json<PauseBody>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    let command = Command::Pause {
        agent: acting(&caller, agent)?,
        reason: body.reason,
        paid: body.paid,
    };
    run(&state, command, None).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentBody {
    pub agent: String,
}

#[utoipa::path(
    post,
    path = "/v1/conversations/{conversation}/accept",
    tag = "commands",
    params(("conversation" = uuid::Uuid, Path)),
    request_body = AgentBody,
    responses((status = 200, description = "the events appended, with their positions", body = CommandAccepted))
)]
pub async fn accept(
    State(state): State<AppState>,
    caller: Caller,
    Path(conversation): Path<ConversationId>,
    Json(body): Json<AgentBody>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    let command = Command::AcceptOffer {
        agent: acting(&caller, body.agent)?,
        conversation,
    };
    run(&state, command, Some(conversation)).await
}

#[utoipa::path(
    post,
    path = "/v1/conversations/{conversation}/reject",
    tag = "commands",
    params(("conversation" = uuid::Uuid, Path)),
    request_body = AgentBody,
    responses((status = 200, description = "the events appended, with their positions", body = CommandAccepted))
)]
pub async fn reject(
    State(state): State<AppState>,
    caller: Caller,
    Path(conversation): Path<ConversationId>,
    Json(body): Json<AgentBody>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    let command = Command::RejectOffer {
        agent: acting(&caller, body.agent)?,
        conversation,
    };
    run(&state, command, Some(conversation)).await
}

#[utoipa::path(
    post,
    path = "/v1/conversations/{conversation}/accept-from-waiting",
    tag = "commands",
    params(("conversation" = uuid::Uuid, Path)),
    request_body = AgentBody,
    responses((status = 200, description = "the events appended, with their positions", body = CommandAccepted))
)]
pub async fn accept_from_waiting(
    State(state): State<AppState>,
    caller: Caller,
    Path(conversation): Path<ConversationId>,
    Json(body): Json<AgentBody>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    let command = Command::AcceptFromWaiting {
        agent: acting(&caller, body.agent)?,
        conversation,
    };
    run(&state, command, Some(conversation)).await
}

#[utoipa::path(
    post,
    path = "/v1/conversations/{conversation}/grab",
    tag = "commands",
    params(("conversation" = uuid::Uuid, Path)),
    request_body = AgentBody,
    responses((status = 200, description = "the events appended, with their positions", body = CommandAccepted))
)]
pub async fn grab(
    State(state): State<AppState>,
    caller: Caller,
    Path(conversation): Path<ConversationId>,
    Json(body): Json<AgentBody>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    let command = Command::Grab {
        agent: acting(&caller, body.agent)?,
        conversation,
    };
    run(&state, command, Some(conversation)).await
}

#[utoipa::path(
    post,
    path = "/v1/conversations/{conversation}/join",
    tag = "commands",
    params(("conversation" = uuid::Uuid, Path)),
    request_body = AgentBody,
    responses((status = 200, description = "the events appended, with their positions", body = CommandAccepted))
)]
pub async fn join(
    State(state): State<AppState>,
    caller: Caller,
    Path(conversation): Path<ConversationId>,
    Json(body): Json<AgentBody>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    let command = Command::Join {
        agent: acting(&caller, body.agent)?,
        conversation,
    };
    run(&state, command, Some(conversation)).await
}

/// A web-chat visitor ended the chat.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebchatLeft {
    pub visitor: String,
}

#[utoipa::path(
    post,
    path = "/v1/webchat/{connector}/left",
    tag = "commands",
    params(("connector" = String, Path)),
    request_body = WebchatLeft,
    responses((status = 200, description = "the events appended, with their positions", body = CommandAccepted))
)]
pub async fn webchat_left(
    State(state): State<AppState>,
    caller: Caller,
    Path(connector): Path<String>,
    Json(body): Json<WebchatLeft>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    let connector = ConnectorId::new(connector);
    caller.brings_in(&connector)?;
    let command = Command::CustomerLeft {
        connector,
        contact: ExternalContactId::new(body.visitor),
    };
    let receipt = state.engine.execute(command).await?;
    let conversation = receipt.events().find_map(|event| match &event.kind {
        EventKind::CustomerLeft(left) => Some(left.conversation),
        _ => None,
    });
    Ok(axum::Json(accepted(&receipt, conversation)))
}

/// A web-chat visitor's presence, as their widget reports it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebchatPresence {
    pub visitor: String,
    /// Whether the visitor has the chat open now.
    pub online: bool,
    /// The address the visitor left for answers while away; omitted, the last one stays.
    pub email: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/webchat/{connector}/presence",
    tag = "commands",
    params(("connector" = String, Path)),
    request_body = WebchatPresence,
    responses((status = 200, description = "the events appended, with their positions", body = CommandAccepted))
)]
/// The visitor came online or went offline. While they are offline, an agent's reply to a
/// visitor who left an address is marked for e-mail in the outbox.
pub async fn webchat_presence(
    State(state): State<AppState>,
    caller: Caller,
    Path(connector): Path<String>,
    Json(body): Json<WebchatPresence>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    let connector = ConnectorId::new(connector);
    caller.brings_in(&connector)?;
    let command = Command::SetCustomerPresence {
        connector,
        contact: ExternalContactId::new(body.visitor),
        online: body.online,
        email: body.email,
    };
    run(&state, command, None).await
}

/// Where a transfer or an invitation goes: exactly one of `to_agent` and `to_queue`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandOverBody {
    pub agent: String,
    pub to_agent: Option<String>,
    pub to_queue: Option<String>,
}

impl HandOverBody {
    fn target(&self) -> Result<Target, ApiError> {
        match (&self.to_agent, &self.to_queue) {
            (Some(agent), None) => Ok(Target::Agent(AgentId::new(agent))),
            (None, Some(queue)) => Ok(Target::Queue(QueueId::new(queue))),
            _ => Err(ApiError::BadRequest(
                "give exactly one of `to_agent` and `to_queue`".into(),
            )),
        }
    }
}

#[utoipa::path(
    post,
    path = "/v1/conversations/{conversation}/transfer",
    tag = "commands",
    params(("conversation" = uuid::Uuid, Path)),
    request_body = HandOverBody,
    responses((status = 200, description = "the events appended, with their positions", body = CommandAccepted))
)]
pub async fn transfer(
    State(state): State<AppState>,
    caller: Caller,
    Path(conversation): Path<ConversationId>,
    Json(body): Json<HandOverBody>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    let command = Command::Transfer {
        to: body.target()?,
        agent: acting(&caller, body.agent)?,
        conversation,
    };
    run(&state, command, Some(conversation)).await
}

#[utoipa::path(
    post,
    path = "/v1/conversations/{conversation}/invite",
    tag = "commands",
    params(("conversation" = uuid::Uuid, Path)),
    request_body = HandOverBody,
    responses((status = 200, description = "the events appended, with their positions", body = CommandAccepted))
)]
pub async fn invite(
    State(state): State<AppState>,
    caller: Caller,
    Path(conversation): Path<ConversationId>,
    Json(body): Json<HandOverBody>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    let command = Command::Invite {
        to: body.target()?,
        agent: acting(&caller, body.agent)?,
        conversation,
    };
    run(&state, command, Some(conversation)).await
}

#[utoipa::path(
    post,
    path = "/v1/conversations/{conversation}/leave",
    tag = "commands",
    params(("conversation" = uuid::Uuid, Path)),
    request_body = AgentBody,
    responses((status = 200, description = "the events appended, with their positions", body = CommandAccepted))
)]
pub async fn leave(
    State(state): State<AppState>,
    caller: Caller,
    Path(conversation): Path<ConversationId>,
    Json(body): Json<AgentBody>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    let command = Command::Leave {
        agent: acting(&caller, body.agent)?,
        conversation,
    };
    run(&state, command, Some(conversation)).await
}

#[utoipa::path(
    post,
    path = "/v1/conversations/{conversation}/postpone",
    tag = "commands",
    params(("conversation" = uuid::Uuid, Path)),
    request_body = AgentBody,
    responses((status = 200, description = "the events appended, with their positions", body = CommandAccepted))
)]
pub async fn postpone(
    State(state): State<AppState>,
    caller: Caller,
    Path(conversation): Path<ConversationId>,
    Json(body): Json<AgentBody>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    let command = Command::Postpone {
        agent: acting(&caller, body.agent)?,
        conversation,
    };
    run(&state, command, Some(conversation)).await
}

#[utoipa::path(
    post,
    path = "/v1/conversations/{conversation}/resume",
    tag = "commands",
    params(("conversation" = uuid::Uuid, Path)),
    request_body = AgentBody,
    responses((status = 200, description = "the events appended, with their positions", body = CommandAccepted))
)]
pub async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    Path(conversation): Path<ConversationId>,
    Json(body): Json<AgentBody>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    let command = Command::Resume {
        agent: acting(&caller, body.agent)?,
        conversation,
    };
    run(&state, command, Some(conversation)).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportantBody {
    pub agent: String,
    /// Defaults to true; false takes the mark away.
    #[serde(default = "yes")]
    pub important: bool,
}

fn yes() -> bool {
    true
}

#[utoipa::path(
    post,
    path = "/v1/conversations/{conversation}/important",
    tag = "commands",
    params(("conversation" = uuid::Uuid, Path)),
    request_body = ImportantBody,
    responses((status = 200, description = "the events appended, with their positions", body = CommandAccepted))
)]
pub async fn mark_important(
    State(state): State<AppState>,
    caller: Caller,
    Path(conversation): Path<ConversationId>,
    Json(body): Json<ImportantBody>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    let command = Command::MarkImportant {
        agent: acting(&caller, body.agent)?,
        conversation,
        important: body.important,
    };
    run(&state, command, Some(conversation)).await
}

/// An agent starts a conversation with a contact who has written before.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutboundBody {
    pub agent: String,
    pub connector: String,
    pub contact: String,
    pub text: String,
    pub template: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/outbound",
    tag = "commands",
    request_body = OutboundBody,
    responses((status = 201, description = "the events appended, with their positions", body = CommandAccepted))
)]
pub async fn start_outbound(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<OutboundBody>,
) -> Result<(StatusCode, axum::Json<CommandAccepted>), ApiError> {
    let command = Command::StartOutbound {
        agent: acting(&caller, body.agent)?,
        connector: ConnectorId::new(body.connector),
        contact: ExternalContactId::new(body.contact),
        handle: None,
        message_id: MessageId::new(uuid::Uuid::now_v7().to_string()),
        text: body.text,
        template: body.template,
    };
    let receipt = state.engine.execute(command).await?;
    let conversation = receipt.events().find_map(|event| match &event.kind {
        EventKind::OutboundConversationStarted(started) => Some(started.conversation),
        _ => None,
    });
    Ok((
        StatusCode::CREATED,
        axum::Json(accepted(&receipt, conversation)),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentMessageBody {
    pub agent: String,
    pub text: String,
    /// An approved template's name, where the channel requires one.
    pub template: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/conversations/{conversation}/messages",
    tag = "commands",
    params(("conversation" = uuid::Uuid, Path)),
    request_body = AgentMessageBody,
    responses((status = 200, description = "the events appended, with their positions", body = CommandAccepted))
)]
pub async fn agent_message(
    State(state): State<AppState>,
    caller: Caller,
    Path(conversation): Path<ConversationId>,
    Json(body): Json<AgentMessageBody>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    let command = Command::SendAgentMessage {
        agent: acting(&caller, body.agent)?,
        conversation,
        message_id: MessageId::new(uuid::Uuid::now_v7().to_string()),
        text: body.text,
        template: body.template,
    };
    run(&state, command, Some(conversation)).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    pub agent: String,
    /// Required by the engine; left optional here so that its absence gets the engine's precise
    /// answer rather than a parse error.
    pub status: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/conversations/{conversation}/close",
    tag = "commands",
    params(("conversation" = uuid::Uuid, Path)),
    request_body = CloseBody,
    responses((status = 200, description = "the events appended, with their positions", body = CommandAccepted))
)]
pub async fn close(
    State(state): State<AppState>,
    caller: Caller,
    Path(conversation): Path<ConversationId>,
    Json(body): Json<CloseBody>,
) -> Result<axum::Json<CommandAccepted>, ApiError> {
    let command = Command::Close {
        agent: acting(&caller, body.agent)?,
        conversation,
        status: body.status,
    };
    run(&state, command, Some(conversation)).await
}
