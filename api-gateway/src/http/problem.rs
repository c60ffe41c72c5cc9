//! `ApiError`: every failure the API reports, mapped once to a status and an
//! `application/problem+json` body (RFC 9457).
//!
//! Domain rejections become 4xx with the core's precise message; internal failures become 500 with
//! a generic message, the detail going to the log only.

use crate::engine::EngineError;
use crate::feed::NotCaughtUp;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use routing_core::Rejection;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    /// A request the extractors refused: malformed JSON (400), a wrong content type (415), a body
    /// over the limit (413), …, with the extractor's own status and message.
    #[error("{message}")]
    Unreadable { status: StatusCode, message: String },
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("the request took longer than {0} ms")]
    Timeout(u128),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    NotCaughtUp(#[from] NotCaughtUp),
    #[error(transparent)]
    Store(#[from] event_store::StoreError),
    #[error("the export could not be written: {0}")]
    Export(String),
    #[error("{0}")]
    NotReady(String),
    /// The caller has no rights to what they asked for.
    #[error("{0}")]
    NoRights(String),
    /// No key, a malformed one, or one that is unknown or revoked.
    #[error("{0}")]
    Unauthenticated(String),
    /// A provider's webhook call without a valid signature.
    #[error("{0}")]
    BadSignature(String),
    /// The connector has no webhook set up (no secret, or no verify token for the handshake).
    #[error("{0}")]
    WebhookNotConfigured(String),
    /// The caller's role may not call this endpoint at all.
    #[error("{0}")]
    WrongRole(String),
    /// What was asked for is no longer kept.
    #[error("{0}")]
    Gone(String),
    /// Something this service needs failed; the detail goes to the log, not to the caller.
    #[error("{0}")]
    Internal(String),
}

/// An error, as RFC 9457 `application/problem+json`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            ApiError::Unreadable { status, .. } => {
                (*status, "unreadable-request", "Unreadable request")
            }
            ApiError::MethodNotAllowed(_) => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            ApiError::Timeout(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "Request timed out",
            ),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::NoRights(_) => (StatusCode::FORBIDDEN, "no-rights", "No rights"),
            ApiError::Unauthenticated(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Not authenticated",
            ),
            ApiError::BadSignature(_) => (
                StatusCode::UNAUTHORIZED,
                "bad-signature",
                "Signature missing or wrong",
            ),
            ApiError::WebhookNotConfigured(_) => (
                StatusCode::FORBIDDEN,
                "webhook-not-configured",
                "Webhook not configured",
            ),
            ApiError::WrongRole(_) => (StatusCode::FORBIDDEN, "wrong-role", "Wrong role"),
            ApiError::Gone(_) => (StatusCode::GONE, "gone", "No longer kept"),
            ApiError::NotReady(_) => (StatusCode::SERVICE_UNAVAILABLE, "not-ready", "Not ready"),
            ApiError::Export(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "export-failed",
                "Export failed",
            ),
            ApiError::NotCaughtUp(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "not-caught-up",
                "Read model not caught up",
            ),
            ApiError::Engine(error) => engine_parts(error),
            ApiError::Store(_) | ApiError::Internal(_) => INTERNAL,
        }
    }
}

const INTERNAL: (StatusCode, &str, &str) = (
    StatusCode::INTERNAL_SERVER_ERROR,
    "internal",
    "Internal error",
);

fn engine_parts(error: &EngineError) -> (StatusCode, &'static str, &'static str) {
    match error {
        EngineError::Batch(inner) => engine_parts(inner),
        EngineError::Rejected(rejection) => rejection_parts(rejection),
        EngineError::Busy => (StatusCode::SERVICE_UNAVAILABLE, "busy", "Engine busy"),
        EngineError::Append(event_store::AppendError::WrongExpectedVersion { .. }) => {
            (StatusCode::CONFLICT, "conflict", "Concurrent change")
        }
        EngineError::Append(event_store::AppendError::Fenced { .. }) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "fenced",
            "Another server has taken over this contact centre's log",
        ),
        _ => INTERNAL,
    }
}

/// Whether a server-side failure's message may be shown to the caller: it says what to do
/// (wait, retry, go to the other server) and reveals nothing of the internals.
fn told(error: &ApiError) -> bool {
    fn engine(error: &EngineError) -> bool {
        match error {
            EngineError::Batch(inner) => engine(inner),
            EngineError::Busy | EngineError::Append(event_store::AppendError::Fenced { .. }) => {
                true
            }
            _ => false,
        }
    }
    match error {
        ApiError::NotCaughtUp(_) | ApiError::Timeout(_) => true,
        ApiError::Engine(inner) => engine(inner),
        _ => false,
    }
}

/// Status, problem type and title of each rejection. Exhaustive on purpose: a new rejection must
/// be given its status here.
fn rejection_parts(rejection: &Rejection) -> (StatusCode, &'static str, &'static str) {
    use Rejection as R;
    match rejection {
        R::ContactHasOpenConversation(_) => (
            StatusCode::CONFLICT,
            "contact-has-open-conversation",
            "The contact has an open conversation",
        ),
        R::NotInOutbox { .. } => (
            StatusCode::NOT_FOUND,
            "not-in-outbox",
            "Not waiting in the outbox",
        ),
        R::UnknownSentMessage { .. } => (
            StatusCode::NOT_FOUND,
            "unknown-sent-message",
            "No such sent message",
        ),
        R::NothingSentToContact { .. } => (
            StatusCode::CONFLICT,
            "nothing-sent-to-contact",
            "Nothing sent to the contact by then",
        ),
        R::StatusNotNewer { .. } => (
            StatusCode::CONFLICT,
            "status-not-newer",
            "Message already further along",
        ),
        R::ProviderMessageIdInUse { .. } => (
            StatusCode::CONFLICT,
            "provider-message-id-in-use",
            "Provider id names another message",
        ),
        R::MessageKindInvalid(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "message-kind-invalid",
            "Not a message kind",
        ),
        R::ProviderMessageIdMissing => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "provider-message-id-required",
            "Provider message id required",
        ),
        R::FailureReasonMissing => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "failure-reason-required",
            "Failure reason required",
        ),
        R::NotAnEmailAddress(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "not-an-email-address",
            "Not an e-mail address",
        ),
        R::PresenceOnlyForWebchat(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "presence-only-for-webchat",
            "Presence is web chat's only",
        ),
        R::NotATeamQueue(_) => (
            StatusCode::CONFLICT,
            "not-a-team-queue",
            "Queue routes conversations one at a time",
        ),
        R::NotAGrabQueue(_) => (StatusCode::CONFLICT, "not-a-grab-queue", "Not a grab queue"),
        R::AlreadyGrabbed { .. } => (
            StatusCode::CONFLICT,
            "already-grabbed",
            "Already grabbed by another agent",
        ),
        R::GrabQueueJoinedByAdminsOnly { .. } => (
            StatusCode::FORBIDDEN,
            "grab-queue-admins-only",
            "Only team admins join in a grab queue",
        ),
        R::AdminsDoNotGrab { .. } => (
            StatusCode::CONFLICT,
            "admins-do-not-grab",
            "Team admins join, they do not grab",
        ),
        R::NoOpenConversation { .. } => (
            StatusCode::CONFLICT,
            "no-open-conversation",
            "No open conversation",
        ),
        R::UnknownAgent(_) => (StatusCode::NOT_FOUND, "unknown-agent", "Unknown agent"),
        R::UnknownQueue(_) => (StatusCode::NOT_FOUND, "unknown-queue", "Unknown queue"),
        R::UnknownConnector(_) => (
            StatusCode::NOT_FOUND,
            "unknown-connector",
            "Unknown connector",
        ),
        R::ChannelMismatch { .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "channel-mismatch",
            "Wrong channel for connector",
        ),
        R::AgentHasNoRightsToQueue { .. } => (
            StatusCode::FORBIDDEN,
            "no-rights-to-queue",
            "No rights to queue",
        ),
        R::AgentAlreadyLoggedIn { .. } => (
            StatusCode::CONFLICT,
            "already-logged-in",
            "Already logged in",
        ),
        R::AgentNotLoggedIn { .. } => (StatusCode::CONFLICT, "not-logged-in", "Not logged in"),
        R::AgentAlreadyReady(_) => (StatusCode::CONFLICT, "already-ready", "Already ready"),
        R::AgentAlreadyDisconnected(_) => (
            StatusCode::CONFLICT,
            "already-disconnected",
            "Already disconnected",
        ),
        R::PauseReasonMissing => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "pause-reason-required",
            "Pause reason required",
        ),
        R::ConversationNotOpen(_) => (
            StatusCode::CONFLICT,
            "conversation-not-open",
            "Conversation not open",
        ),
        R::ConversationNotOfferedToAgent { .. } => (
            StatusCode::CONFLICT,
            "not-offered-to-agent",
            "Not offered to agent",
        ),
        R::AgentNotInConversation { .. } => (
            StatusCode::CONFLICT,
            "agent-not-in-conversation",
            "Agent not in conversation",
        ),
        R::ConversationNotWaiting(_) => (
            StatusCode::CONFLICT,
            "conversation-not-waiting",
            "Conversation not waiting",
        ),
        R::AgentAtCapacity { .. } => (
            StatusCode::CONFLICT,
            "agent-at-capacity",
            "Agent at capacity",
        ),
        R::AlreadyInConversation(_) => (
            StatusCode::CONFLICT,
            "already-in-conversation",
            "Already in conversation",
        ),
        R::AgentNotAvailable(_) => (
            StatusCode::CONFLICT,
            "agent-not-available",
            "Agent not available",
        ),
        R::NobodyAvailableInQueue(_) => (
            StatusCode::CONFLICT,
            "nobody-available",
            "Nobody available in queue",
        ),
        R::OfferPending(_) => (StatusCode::CONFLICT, "offer-pending", "Offer pending"),
        R::ConversationIsPostponed(_) => (
            StatusCode::CONFLICT,
            "conversation-postponed",
            "Conversation postponed",
        ),
        R::ConversationNotPostponed(_) => (
            StatusCode::CONFLICT,
            "conversation-not-postponed",
            "Conversation not postponed",
        ),
        R::OtherAgentsInConversation(_) => (
            StatusCode::CONFLICT,
            "other-agents-in-conversation",
            "Other agents in conversation",
        ),
        R::QueueDoesNotServeChannel { .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "queue-does-not-serve-channel",
            "Queue does not serve channel",
        ),
        R::StatusRequired => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "status-required",
            "Status required",
        ),
        R::UnknownTemplate { .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown-template",
            "Unknown template",
        ),
        R::UnknownCloseStatus { .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown-close-status",
            "Unknown close status",
        ),
        R::UnknownPauseReason { .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown-pause-reason",
            "Unknown pause reason",
        ),
        R::ContactMissing => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "contact-missing",
            "Contact missing",
        ),
        R::MessageIdMissing => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "message-id-missing",
            "Message id missing",
        ),
        R::MessageTooLong { .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "message-too-long",
            "Message too long for the channel",
        ),
        R::TemplateRequired(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "template-required",
            "Template required",
        ),
        R::ContactNeverWrote { .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "contact-never-wrote",
            "Contact never wrote",
        ),
        R::ConversationAlreadyOpen(_) => (
            StatusCode::CONFLICT,
            "conversation-already-open",
            "Conversation already open",
        ),
        R::ConversationIdInUse(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
        ),
        R::MessageEmpty => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "message-empty",
            "Message empty",
        ),
        R::NotADigest | R::KeyNameMissing => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-key",
            "Invalid API key",
        ),
        R::KeyExists(_) => (StatusCode::CONFLICT, "key-exists", "API key exists"),
        R::UnknownKey(_) => (StatusCode::NOT_FOUND, "unknown-key", "Unknown API key"),
        R::KeyAlreadyRevoked(_) => (
            StatusCode::CONFLICT,
            "key-already-revoked",
            "API key already revoked",
        ),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, title) = self.parts();
        let detail = if status.is_server_error() && !told(&self) {
            tracing::error!(error = %self, "request failed");
            "an internal error occurred; it has been logged".to_owned()
        } else {
            self.to_string()
        };
        let mut response = problem(status, kind, title, detail);
        if matches!(self, ApiError::Unauthenticated(_)) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"switchboard\""),
            );
        }
        response
    }
}

/// A problem+json response.
pub fn problem(status: StatusCode, kind: &str, title: &str, detail: String) -> Response {
    let body = Problem {
        kind: format!("urn:switchboard:problem:{kind}"),
        title,
        status: status.as_u16(),
        detail,
    };
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}
