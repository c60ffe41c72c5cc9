//! Rejections: why the core refused a command, as domain data named as predicates.
//!
//! A rejection means nothing was decided and nothing may be appended. Messages are written for the
//! person who sent the command.

use crate::config::Channel;
use crate::content::DeliveryStatus;
use crate::ids::{
    AgentId, ConnectorId, ConversationId, ExternalContactId, KeyId, MessageId, QueueId,
};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Rejection {
    #[error("agent '{0}' is not configured")]
    UnknownAgent(AgentId),
    #[error("queue '{0}' is not configured")]
    UnknownQueue(QueueId),
    #[error("connector '{0}' is not configured")]
    UnknownConnector(ConnectorId),
    #[error("connector '{connector}' serves {expected}, not {got}")]
    ChannelMismatch {
        connector: ConnectorId,
        expected: Channel,
        got: Channel,
    },
    #[error("agent '{agent}' has no rights to queue '{queue}'")]
    AgentHasNoRightsToQueue { agent: AgentId, queue: QueueId },
    #[error("agent '{agent}' is already logged in to queue '{queue}'")]
    AgentAlreadyLoggedIn { agent: AgentId, queue: QueueId },
    #[error("agent '{agent}' is not logged in to queue '{queue}'")]
    AgentNotLoggedIn { agent: AgentId, queue: QueueId },
    #[error("agent '{0}' is already ready")]
    AgentAlreadyReady(AgentId),
    #[error("agent '{0}' is already disconnected")]
    AgentAlreadyDisconnected(AgentId),
    #[error("a pause needs a reason")]
    PauseReasonMissing,
    #[error("conversation {0} is not open (unknown, or already closed)")]
    ConversationNotOpen(ConversationId),
    #[error("conversation {conversation} is not offered to agent '{agent}'")]
    ConversationNotOfferedToAgent {
        conversation: ConversationId,
        agent: AgentId,
    },
    #[error("agent '{agent}' is not in conversation {conversation}")]
    AgentNotInConversation {
        conversation: ConversationId,
        agent: AgentId,
    },
    #[error("conversation {0} is not waiting")]
    ConversationNotWaiting(ConversationId),
    #[error("agent '{agent}' has no room for another {channel} conversation")]
    AgentAtCapacity { agent: AgentId, channel: Channel },
    #[error("agent '{0}' is already in the conversation")]
    AlreadyInConversation(AgentId),
    #[error("agent '{0}' is not ready to take it")]
    AgentNotAvailable(AgentId),
    #[error("nobody in queue '{0}' is free to take it now")]
    NobodyAvailableInQueue(QueueId),
    #[error("conversation {0} already has a transfer or an invitation waiting for an answer")]
    OfferPending(ConversationId),
    #[error("conversation {0} is postponed; resume it first")]
    ConversationIsPostponed(ConversationId),
    #[error("conversation {0} is not postponed")]
    ConversationNotPostponed(ConversationId),
    #[error(
        "other agents are in conversation {0}: only an agent alone in it can hand it over or postpone it"
    )]
    OtherAgentsInConversation(ConversationId),
    #[error("queue '{queue}' does not serve {channel}")]
    QueueDoesNotServeChannel { queue: QueueId, channel: Channel },
    #[error("a status is required to close a conversation")]
    StatusRequired,
    #[error("'{template}' is not an approved template of this connector; choose one of: {}", allowed.join(", "))]
    UnknownTemplate {
        template: String,
        allowed: Vec<String>,
    },
    #[error("'{status}' is not a close status here; choose one of: {}", allowed.join(", "))]
    UnknownCloseStatus {
        status: String,
        allowed: Vec<String>,
    },
    #[error("'{reason}' is not a pause reason here; choose one of: {}", allowed.join(", "))]
    UnknownPauseReason {
        reason: String,
        allowed: Vec<String>,
    },
    #[error("a customer message must name the customer (their handle on the channel)")]
    ContactMissing,
    #[error("a customer message must carry the provider's message id")]
    MessageIdMissing,
    #[error("{channel} messages are at most {max} characters; this one has {got}")]
    MessageTooLong {
        channel: Channel,
        max: usize,
        got: usize,
    },
    #[error("the customer last wrote more than 24 hours ago: on {0} only a template may be sent")]
    TemplateRequired(Channel),
    #[error(
        "contact '{contact}' has never written through connector '{connector}': outbound messages go only to contacts who have written before"
    )]
    ContactNeverWrote {
        connector: ConnectorId,
        contact: ExternalContactId,
    },
    #[error("contact already has open conversation {0}")]
    ConversationAlreadyOpen(ConversationId),
    /// The caller handed in an id that an open conversation already has: a bug in the caller's
    /// id generation, refused rather than allowed to merge two conversations.
    #[error("conversation id {0} is already in use")]
    ConversationIdInUse(ConversationId),
    #[error("a message needs text")]
    MessageEmpty,
    #[error(
        "queue '{0}' routes each conversation to one agent at a time: accept an offer or take it from the waiting list"
    )]
    NotATeamQueue(QueueId),
    #[error("queue '{0}' is not a grab queue: its conversations are not grabbed")]
    NotAGrabQueue(QueueId),
    #[error("conversation {conversation} was already grabbed by '{by}'")]
    AlreadyGrabbed {
        conversation: ConversationId,
        by: AgentId,
    },
    #[error("in grab queue '{queue}' agents grab a conversation; only the team's admins join one")]
    GrabQueueJoinedByAdminsOnly { queue: QueueId },
    #[error(
        "agent '{agent}' administers queue '{queue}': admins join conversations, they do not grab them"
    )]
    AdminsDoNotGrab { agent: AgentId, queue: QueueId },
    #[error("contact '{contact}' has no open conversation through connector '{connector}'")]
    NoOpenConversation {
        connector: ConnectorId,
        contact: ExternalContactId,
    },
    #[error("a key's secret digest must be 64 hexadecimal digits (its SHA-256)")]
    NotADigest,
    #[error("API key '{0}' already exists")]
    KeyExists(KeyId),
    #[error("API key '{0}' does not exist")]
    UnknownKey(KeyId),
    #[error("API key '{0}' is already revoked")]
    KeyAlreadyRevoked(KeyId),
    #[error("an API key needs a name")]
    KeyNameMissing,
    #[error("no message '{message}' waits in the outbox of connector '{connector}'")]
    NotInOutbox {
        connector: ConnectorId,
        message: MessageId,
    },
    #[error("connector '{connector}' sent no message the provider calls '{provider_message_id}'")]
    UnknownSentMessage {
        connector: ConnectorId,
        provider_message_id: String,
    },
    #[error("connector '{connector}' sent contact '{contact}' no message by then")]
    NothingSentToContact {
        connector: ConnectorId,
        contact: ExternalContactId,
    },
    #[error("message '{message}' is already {status}: a receipt never moves a message back")]
    StatusNotNewer {
        message: MessageId,
        status: DeliveryStatus,
    },
    #[error(
        "the provider's id '{provider_message_id}' already names message '{message}': receipts must name one message"
    )]
    ProviderMessageIdInUse {
        provider_message_id: String,
        message: MessageId,
    },
    #[error(
        "'{0}' is not a message kind: a name of 1 to 64 letters, digits, '_', '-' or '.', and not a known kind's in another form"
    )]
    MessageKindInvalid(String),
    #[error("a sent message needs the provider's id for it")]
    ProviderMessageIdMissing,
    #[error("a failed dispatch needs a reason")]
    FailureReasonMissing,
    #[error("'{0}' is not an e-mail address")]
    NotAnEmailAddress(String),
    #[error(
        "connector '{0}' is not a web-chat connector: only web chat reports a visitor's presence"
    )]
    PresenceOnlyForWebchat(ConnectorId),
    #[error(
        "the contact has open conversation {0}: close it before anonymising them, so that nobody is answering someone whose data is being erased"
    )]
    ContactHasOpenConversation(ConversationId),
}
