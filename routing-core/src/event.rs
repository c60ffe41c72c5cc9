//! Events: what happened, in the past tense. They are the only source of truth: state, timers and
//! read models are all rebuilt from them.
//!
//! Each event kind is its own struct so that its stored shape can be versioned and upcast on its
//! own (see [`crate::codec`]). An event never holds anything the core could not reproduce from the
//! same commands: no wall-clock reading, no random id.

use crate::access::{Role, SecretDigest};
use crate::config::{Channel, RoutingMode, RoutingStrategy};
use crate::content::{Attachment, DeliveryStatus, MessageKind};
use crate::ids::{
    AgentId, ConnectorId, ConversationId, ExternalContactId, KeyId, MessageId, QueueId,
};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// One decided fact with the time it was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub at: Timestamp,
    pub kind: EventKind,
}

/// Which log stream an event belongs to: one per conversation, one per agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StreamOf<'a> {
    Conversation(&'a ConversationId),
    Agent(&'a AgentId),
    Key(&'a KeyId),
    /// A customer on one connector: what is known of them apart from any conversation.
    Contact(&'a ConnectorId, &'a ExternalContactId),
    /// A connector itself: what its provider said that belongs to no conversation yet.
    Connector(&'a ConnectorId),
}

impl StreamOf<'_> {
    pub fn name(&self) -> String {
        match self {
            StreamOf::Conversation(id) => format!("conversation-{id}"),
            StreamOf::Agent(id) => format!("agent-{id}"),
            StreamOf::Key(id) => format!("key-{id}"),
            // Connector ids never hold ':'; contact ids may hold anything after it.
            StreamOf::Contact(connector, contact) => format!("contact-{connector}:{contact}"),
            StreamOf::Connector(id) => format!("connector-{id}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationStarted {
    pub conversation: ConversationId,
    pub connector: ConnectorId,
    pub channel: Channel,
    /// Who the core routes on: the contact's pseudonym, or, for a contact first seen before
    /// pseudonyms, their handle.
    pub contact: ExternalContactId,
    /// Personal: sealed under the contact's key (see [`crate::privacy`]).
    pub contact_name: Option<String>,
    /// The customer's real handle on the channel (phone number, page-scoped id, visitor id),
    /// where `contact` is a pseudonym. Personal: sealed. Added without a version change: absent
    /// means `contact` is the handle itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerMessageReceived {
    pub conversation: ConversationId,
    pub message_id: MessageId,
    pub text: String,
    /// v2: what kind of message it is (v1 had only text).
    pub kind: MessageKind,
    /// v2: the files it carries, by the provider's reference.
    pub attachments: Vec<Attachment>,
}

/// The delivery worker handed an agent's message to the provider, which gave it this id;
/// receipts name it by that id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDispatched {
    pub conversation: ConversationId,
    pub message_id: MessageId,
    pub provider_message_id: String,
}

/// An agent's message could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDispatchFailed {
    pub conversation: ConversationId,
    pub message_id: MessageId,
    pub reason: String,
}

/// A provider's receipt moved a sent message on: delivered, read, or failed after all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageStatusChanged {
    pub conversation: ConversationId,
    pub message_id: MessageId,
    pub status: DeliveryStatus,
}

/// A receipt for a message the provider named before the delivery worker confirmed sending it:
/// the provider's webhook can outrun the worker. It is applied when the confirmation comes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptHeld {
    pub connector: ConnectorId,
    pub provider_message_id: String,
    pub status: DeliveryStatus,
}

/// A web-chat visitor came online or went offline; `email` is the address they left, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerPresenceChanged {
    pub connector: ConnectorId,
    pub contact: ExternalContactId,
    pub online: bool,
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationEnqueued {
    pub conversation: ConversationId,
    pub queue: QueueId,
    /// Higher is served first; equal priorities are served oldest first.
    pub priority: u8,
    /// The skills an agent needs to be offered it (from its connector). Added without a version
    /// change: absent means none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skills: Vec<String>,
}

/// A conversation entered a collaboration or grab queue: its team is told. `agents` are the
/// team members who were logged in and ready; others see it in the queue's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamNotified {
    pub conversation: ConversationId,
    pub queue: QueueId,
    pub mode: RoutingMode,
    pub agents: Vec<AgentId>,
}

/// An agent joined a conversation of a collaboration queue, or (as a team admin) of a grab queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationJoined {
    pub conversation: ConversationId,
    pub agent: AgentId,
    pub queue: QueueId,
    /// Whether the agent joined as one of the queue's admins.
    pub as_admin: bool,
}

/// An agent grabbed a conversation of a grab queue first: it is theirs, and other team members
/// can neither see nor join it (its admins can).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationGrabbed {
    pub conversation: ConversationId,
    pub agent: AgentId,
    pub queue: QueueId,
}

/// What followed a conversation reaching its queue's waiting limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "then")]
pub enum WaitLimitOutcome {
    /// It moved to another queue (the next event enqueues it there).
    Overflowed { to: QueueId },
    /// The engine closed it unanswered.
    Closed,
}

/// A conversation waited with nobody in it for its queue's limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitLimitReached {
    pub conversation: ConversationId,
    pub queue: QueueId,
    pub waiting_since: Timestamp,
    #[serde(flatten)]
    pub outcome: WaitLimitOutcome,
}

/// The customer ended the chat. If nobody had taken it, it ends here (unanswered, ended by the
/// customer); otherwise it stays open, waiting on nobody, until its agents close it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerLeft {
    pub conversation: ConversationId,
    /// Whether this closed the conversation (nobody was in it).
    pub closed: bool,
}

/// An agent's pause has lasted longer than the limit for its reason: supervisors are told once
/// per pause. The agent stays paused; nothing is routed to someone who is not there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseLimitExceeded {
    pub agent: AgentId,
    pub reason: String,
    pub paused_at: Timestamp,
    pub limit_ms: u64,
}

/// Why this agent: enough for a supervisor to ask "why did X get this chat" and for replay to
/// give the same answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationOffered {
    pub conversation: ConversationId,
    pub queue: QueueId,
    pub agent: AgentId,
    pub strategy: RoutingStrategy,
    /// The best-ranked eligible agents (at most three), in the strategy's order; the first won.
    pub candidates: Vec<AgentId>,
    /// How many agents were eligible in all.
    pub eligible: u32,
    /// The rule that separated the winner from the runner-up.
    pub tie_break: TieBreak,
    /// When the offer times out if unanswered.
    pub expires_at: Timestamp,
}

/// What decided between the best-ranked agents of an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TieBreak {
    /// Nobody else was eligible.
    OnlyEligible,
    /// The agent became free while the conversation waited; it was theirs as soon as they could
    /// take it.
    BecameFreeWhileWaiting,
    /// The strategy ranked the winner strictly ahead of the runner-up.
    StrategyOrder,
    /// The strategy ranked them equal; the lower agent id won.
    EqualRankLowestId,
    /// The agent who last took this contact's conversation, within the queue's window, was free
    /// for it and preferred.
    LastAgentPreferred,
}

/// Outcome of an offer: the agent took it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferAccepted {
    pub conversation: ConversationId,
    pub agent: AgentId,
}

/// Outcome of an offer: the agent declined it; the conversation waits again, ahead of newer ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferRejected {
    pub conversation: ConversationId,
    pub agent: AgentId,
}

/// Outcome of an offer: nobody answered it in time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferTimedOut {
    pub conversation: ConversationId,
    pub agent: AgentId,
    /// The deadline that passed (the event's own time is when the engine noticed).
    pub expired_at: Timestamp,
}

/// Why an offer was withdrawn before the agent answered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum RescindReason {
    /// The agent paused (or was paused): no conversation rings for an agent who is not there.
    AgentPaused,
    /// The agent logged out of the conversation's queue.
    AgentLoggedOut,
    /// Another agent took the conversation from the waiting list.
    TakenFromWaiting { by: AgentId },
    /// The conversation was closed while the offer rang.
    ConversationClosed,
    /// The agent who asked for the transfer or invitation left the conversation.
    RequesterLeft,
    /// The agent's console vanished or closed.
    AgentDisconnected,
    /// The customer left while it rang.
    CustomerLeft,
    /// The conversation reached its queue's waiting limit while it rang.
    WaitLimitReached,
}

/// Outcome of an offer: withdrawn before an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferRescinded {
    pub conversation: ConversationId,
    pub agent: AgentId,
    #[serde(flatten)]
    pub reason: RescindReason,
}

/// An agent offers their conversation to a colleague, who may accept or decline: the offer's
/// outcome is recorded like any other. Until it is accepted the conversation stays with `from`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferOffered {
    pub conversation: ConversationId,
    pub from: AgentId,
    pub to: AgentId,
    pub expires_at: Timestamp,
}

/// An agent handed the conversation to a queue: their activity ends and it waits there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferredToQueue {
    pub conversation: ConversationId,
    pub agent: AgentId,
    pub queue: QueueId,
}

/// An agent asks a colleague (named, or the best available in a queue) to join the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteOffered {
    pub conversation: ConversationId,
    pub by: AgentId,
    pub to: AgentId,
    /// The queue the colleague was chosen from, when the invitation went to a queue.
    pub queue: Option<QueueId>,
    pub expires_at: Timestamp,
}

/// An agent's activity on the conversation ended while others stay in it: the customer is told
/// and continues with `remaining`. When nobody remains, the conversation goes back to its queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentLeft {
    pub conversation: ConversationId,
    pub agent: AgentId,
    /// The status the agent closed their activity with, when they closed rather than left.
    pub status: Option<String>,
    pub remaining: Vec<AgentId>,
}

/// The agent moved the conversation to their postponed list: it no longer takes a chat slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationPostponed {
    pub conversation: ConversationId,
    pub agent: AgentId,
}

/// The agent took the conversation back from their postponed list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationResumed {
    pub conversation: ConversationId,
    pub agent: AgentId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportanceMarked {
    pub conversation: ConversationId,
    pub agent: AgentId,
    pub important: bool,
}

/// Status board: the customer has waited for an answer past the queue's first threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationSoonOverdue {
    pub conversation: ConversationId,
    /// Since when the customer has waited for an answer.
    pub unanswered_since: Timestamp,
}

/// Status board: the customer has waited for an answer past the queue's second threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationOverdue {
    pub conversation: ConversationId,
    pub unanswered_since: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum ReminderReason {
    /// The queue's time since the first unanswered customer message has passed.
    Unanswered { since: Timestamp },
    /// The customer wrote again.
    NewMessage,
}

/// The agents in a conversation are reminded that the customer waits for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentsReminded {
    pub conversation: ConversationId,
    pub agents: Vec<AgentId>,
    #[serde(flatten)]
    pub reason: ReminderReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum ReclaimReason {
    /// Nobody in it answered the customer within the queue's limit.
    NoReply { unanswered_since: Timestamp },
    /// The agent in it vanished before answering the customer.
    AgentDisconnected { unanswered_since: Timestamp },
}

/// The engine took the conversation from the agents in it, whose activities end; it goes back to
/// its queue and is offered to someone else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationReclaimed {
    pub conversation: ConversationId,
    pub agents: Vec<AgentId>,
    #[serde(flatten)]
    pub reason: ReclaimReason,
}

/// The engine closed the conversation: no customer message for the queue's limit (24 hours by
/// default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationExpired {
    pub conversation: ConversationId,
    pub last_customer_message_at: Timestamp,
}

/// The agent's console is there. Recorded at most every quarter of the heartbeat timeout, so
/// the log does not fill with heartbeats; the timeout counts from the last one recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentHeartbeatRecorded {
    pub agent: AgentId,
}

/// The agent's console vanished (silent past the timeout) or closed: nothing rings for them and
/// nothing waits on them any more, and they must say ready again to take work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentDisconnected {
    pub agent: AgentId,
    /// The last heartbeat recorded, when the console fell silent; `None` when it said goodbye.
    pub last_heartbeat_at: Option<Timestamp>,
}

/// The agent's console shows this conversation in front: focus time counts for their activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityFocused {
    pub agent: AgentId,
    pub conversation: ConversationId,
}

/// The agent's console lost their attention (another module or window): focus time stops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityBlurred {
    pub agent: AgentId,
}

/// An agent took a waiting conversation from the waiting list, without an offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptedFromWaiting {
    pub conversation: ConversationId,
    pub agent: AgentId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentMessageSent {
    pub conversation: ConversationId,
    pub agent: AgentId,
    pub message_id: MessageId,
    pub text: String,
    /// The approved template the message was sent with, where the channel requires one (WhatsApp
    /// and Messenger outside 24 hours of the customer's last message). Added without a version
    /// change: absent means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// v2: whether it waits in its connector's outbox for a delivery worker. Replies written
    /// before there was an outbox (v1) were delivered then, and must never be sent again.
    pub outbox: bool,
    /// v2: where the reply goes by e-mail instead: a web-chat visitor who was offline when it
    /// was sent and left this address.
    pub email_fallback: Option<String>,
}

/// An agent started a conversation with a contact who has written before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundConversationStarted {
    pub conversation: ConversationId,
    pub connector: ConnectorId,
    pub channel: Channel,
    /// The contact's pseudonym (or a pre-pseudonym contact's handle), as in
    /// [`ConversationStarted`].
    pub contact: ExternalContactId,
    pub queue: QueueId,
    pub agent: AgentId,
    /// The customer's real handle where `contact` is a pseudonym. Personal: sealed. Added
    /// without a version change: absent means `contact` is the handle itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
    /// When the customer last wrote through the connector: the reply window counts from it.
    /// Added without a version change: absent in events written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_wrote_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationClosed {
    pub conversation: ConversationId,
    pub agent: AgentId,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentLoggedIn {
    pub agent: AgentId,
    pub queue: QueueId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentLoggedOut {
    pub agent: AgentId,
    pub queue: QueueId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentBecameReady {
    pub agent: AgentId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentPaused {
    pub agent: AgentId,
    pub reason: String,
    pub paid: bool,
    /// True when the engine paused the agent (a missed offer), not the agent themselves.
    pub automatic: bool,
}

/// A contact's personal data was erased: their key was shredded, so what the log holds of them
/// can no longer be read, and everything built from it forgets them. Their metrics stay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactAnonymised {
    pub connector: ConnectorId,
    /// The contact's pseudonym: nothing links it to the person any more.
    pub contact: ExternalContactId,
    /// Who erased them.
    pub by: KeyId,
    /// The interaction the erasure was asked for through, if it was.
    pub interaction: Option<ConversationId>,
}

/// An administrator issued an API key. Only the digest of its secret is recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyIssued {
    pub key: KeyId,
    pub name: String,
    #[serde(flatten)]
    pub role: Role,
    pub secret_sha256: SecretDigest,
    pub issued_by: KeyId,
}

/// An administrator revoked an API key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRevoked {
    pub key: KeyId,
    pub revoked_by: KeyId,
}

/// Declares the event kinds once: the enum, each kind's stored name and its current schema
/// version. The codec and the stream mapping are derived from this list.
macro_rules! event_kinds {
    ($($kind:ident => $version:literal),+ $(,)?) => {
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum EventKind {
            $($kind($kind),)+
        }

        impl EventKind {
            /// Every kind's stored name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($kind),)+];

            /// The name the event is stored under; never change one, add a new kind instead.
            pub fn name(&self) -> &'static str {
                match self {
                    $(EventKind::$kind(_) => stringify!($kind),)+
                }
            }

            /// The schema version this build writes for the event's kind.
            pub fn schema_version(&self) -> u32 {
                match self {
                    $(EventKind::$kind(_) => $version,)+
                }
            }

            pub(crate) fn payload_json(&self) -> Result<Vec<u8>, serde_json::Error> {
                match self {
                    $(EventKind::$kind(inner) => serde_json::to_vec(inner),)+
                }
            }

            pub(crate) fn from_current_json(name: &str, payload: &[u8]) -> Option<Result<Self, serde_json::Error>> {
                match name {
                    $(stringify!($kind) => Some(serde_json::from_slice(payload).map(EventKind::$kind)),)+
                    _ => None,
                }
            }

            pub(crate) fn from_current_value(name: &str, payload: serde_json::Value) -> Option<Result<Self, serde_json::Error>> {
                match name {
                    $(stringify!($kind) => Some(serde_json::from_value(payload).map(EventKind::$kind)),)+
                    _ => None,
                }
            }

            pub(crate) fn current_version_of(name: &str) -> Option<u32> {
                match name {
                    $(stringify!($kind) => Some($version),)+
                    _ => None,
                }
            }
        }

        $(impl From<$kind> for EventKind {
            fn from(inner: $kind) -> Self {
                EventKind::$kind(inner)
            }
        })+
    };
}

event_kinds! {
    ConversationStarted => 1,
    CustomerMessageReceived => 2,
    ConversationEnqueued => 2,
    ConversationOffered => 2,
    OfferAccepted => 1,
    OfferRejected => 1,
    OfferTimedOut => 1,
    OfferRescinded => 1,
    AcceptedFromWaiting => 1,
    TransferOffered => 1,
    TransferredToQueue => 1,
    InviteOffered => 1,
    AgentLeft => 1,
    ConversationPostponed => 1,
    ConversationResumed => 1,
    ImportanceMarked => 1,
    ConversationSoonOverdue => 1,
    ConversationOverdue => 1,
    AgentsReminded => 1,
    ConversationReclaimed => 1,
    ConversationExpired => 1,
    AgentHeartbeatRecorded => 1,
    AgentDisconnected => 1,
    OutboundConversationStarted => 1,
    AgentMessageSent => 2,
    ConversationClosed => 1,
    AgentLoggedIn => 1,
    AgentLoggedOut => 1,
    AgentBecameReady => 1,
    AgentPaused => 2,
    TeamNotified => 1,
    ConversationJoined => 1,
    ConversationGrabbed => 1,
    WaitLimitReached => 1,
    CustomerLeft => 1,
    PauseLimitExceeded => 1,
    ActivityFocused => 1,
    ActivityBlurred => 1,
    ApiKeyIssued => 1,
    ApiKeyRevoked => 1,
    MessageDispatched => 1,
    MessageDispatchFailed => 1,
    MessageStatusChanged => 1,
    CustomerPresenceChanged => 1,
    ReceiptHeld => 1,
    ContactAnonymised => 1,
}

impl EventKind {
    /// The conversation the event concerns, if it concerns one.
    pub fn conversation(&self) -> Option<ConversationId> {
        match self.stream() {
            StreamOf::Conversation(id) => Some(*id),
            StreamOf::Agent(_)
            | StreamOf::Key(_)
            | StreamOf::Contact(..)
            | StreamOf::Connector(_) => None,
        }
    }

    /// The conversation this event ends, if it ends one: closed by an agent, expired, closed at its
    /// waiting limit, or left by its customer with nobody in it.
    pub fn ended_conversation(&self) -> Option<ConversationId> {
        match self {
            EventKind::ConversationClosed(e) => Some(e.conversation),
            EventKind::ConversationExpired(e) => Some(e.conversation),
            EventKind::WaitLimitReached(e) if e.outcome == WaitLimitOutcome::Closed => {
                Some(e.conversation)
            }
            EventKind::CustomerLeft(e) if e.closed => Some(e.conversation),
            _ => None,
        }
    }

    /// The stream the event is appended to.
    pub fn stream(&self) -> StreamOf<'_> {
        match self {
            EventKind::ConversationStarted(e) => StreamOf::Conversation(&e.conversation),
            EventKind::CustomerMessageReceived(e) => StreamOf::Conversation(&e.conversation),
            EventKind::ConversationEnqueued(e) => StreamOf::Conversation(&e.conversation),
            EventKind::ConversationOffered(e) => StreamOf::Conversation(&e.conversation),
            EventKind::OfferAccepted(e) => StreamOf::Conversation(&e.conversation),
            EventKind::OfferRejected(e) => StreamOf::Conversation(&e.conversation),
            EventKind::OfferTimedOut(e) => StreamOf::Conversation(&e.conversation),
            EventKind::OfferRescinded(e) => StreamOf::Conversation(&e.conversation),
            EventKind::AcceptedFromWaiting(e) => StreamOf::Conversation(&e.conversation),
            EventKind::TransferOffered(e) => StreamOf::Conversation(&e.conversation),
            EventKind::TransferredToQueue(e) => StreamOf::Conversation(&e.conversation),
            EventKind::InviteOffered(e) => StreamOf::Conversation(&e.conversation),
            EventKind::AgentLeft(e) => StreamOf::Conversation(&e.conversation),
            EventKind::ConversationPostponed(e) => StreamOf::Conversation(&e.conversation),
            EventKind::ConversationResumed(e) => StreamOf::Conversation(&e.conversation),
            EventKind::ImportanceMarked(e) => StreamOf::Conversation(&e.conversation),
            EventKind::ConversationSoonOverdue(e) => StreamOf::Conversation(&e.conversation),
            EventKind::ConversationOverdue(e) => StreamOf::Conversation(&e.conversation),
            EventKind::AgentsReminded(e) => StreamOf::Conversation(&e.conversation),
            EventKind::ConversationReclaimed(e) => StreamOf::Conversation(&e.conversation),
            EventKind::ConversationExpired(e) => StreamOf::Conversation(&e.conversation),
            EventKind::AgentMessageSent(e) => StreamOf::Conversation(&e.conversation),
            EventKind::ConversationClosed(e) => StreamOf::Conversation(&e.conversation),
            EventKind::AgentLoggedIn(e) => StreamOf::Agent(&e.agent),
            EventKind::AgentLoggedOut(e) => StreamOf::Agent(&e.agent),
            EventKind::AgentBecameReady(e) => StreamOf::Agent(&e.agent),
            EventKind::AgentPaused(e) => StreamOf::Agent(&e.agent),
            EventKind::AgentHeartbeatRecorded(e) => StreamOf::Agent(&e.agent),
            EventKind::OutboundConversationStarted(e) => StreamOf::Conversation(&e.conversation),
            EventKind::AgentDisconnected(e) => StreamOf::Agent(&e.agent),
            EventKind::ActivityFocused(e) => StreamOf::Agent(&e.agent),
            EventKind::ActivityBlurred(e) => StreamOf::Agent(&e.agent),
            EventKind::TeamNotified(e) => StreamOf::Conversation(&e.conversation),
            EventKind::ConversationJoined(e) => StreamOf::Conversation(&e.conversation),
            EventKind::ConversationGrabbed(e) => StreamOf::Conversation(&e.conversation),
            EventKind::WaitLimitReached(e) => StreamOf::Conversation(&e.conversation),
            EventKind::CustomerLeft(e) => StreamOf::Conversation(&e.conversation),
            EventKind::PauseLimitExceeded(e) => StreamOf::Agent(&e.agent),
            EventKind::ApiKeyIssued(e) => StreamOf::Key(&e.key),
            EventKind::ApiKeyRevoked(e) => StreamOf::Key(&e.key),
            EventKind::MessageDispatched(e) => StreamOf::Conversation(&e.conversation),
            EventKind::MessageDispatchFailed(e) => StreamOf::Conversation(&e.conversation),
            EventKind::MessageStatusChanged(e) => StreamOf::Conversation(&e.conversation),
            EventKind::CustomerPresenceChanged(e) => StreamOf::Contact(&e.connector, &e.contact),
            EventKind::ReceiptHeld(e) => StreamOf::Connector(&e.connector),
            EventKind::ContactAnonymised(e) => StreamOf::Contact(&e.connector, &e.contact),
        }
    }
}
