//! Commands: what connectors, agents and supervisors ask the engine to do, in the imperative.
//!
//! A command carries everything a decision needs that the core cannot know by itself: the time
//! and any fresh ids travel in its [`Context`], never fetched from the environment.

use crate::access::{Role, SecretDigest};
use crate::config::Channel;
use crate::content::{Attachment, DeliveryStatus, DispatchOutcome, MessageKind, ReceiptFor};
use crate::ids::{
    AgentId, ConnectorId, ConversationId, ExternalContactId, KeyId, MessageId, QueueId,
};
use crate::time::Timestamp;

/// What the caller supplies with every command: the time of the decision and the ids the
/// decision may need, chosen by the caller so that the core stays deterministic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub now: Timestamp,
    /// The id a conversation gets if this command starts one.
    pub new_conversation_id: ConversationId,
}

/// Where a transfer or an invitation goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Agent(AgentId),
    Queue(QueueId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A customer wrote through a connector: a message on their open conversation, or the start
    /// of a new one.
    ReceiveCustomerMessage {
        connector: ConnectorId,
        channel: Channel,
        /// Whom the core routes on: the contact's pseudonym once the service has given them
        /// one, else their handle.
        contact: ExternalContactId,
        contact_name: Option<String>,
        /// The real handle, where `contact` is a pseudonym; carried into the events, sealed.
        handle: Option<String>,
        message_id: MessageId,
        /// The text, or a caption or description for a message that is not text; may be empty
        /// only for a message that is not text.
        text: String,
        kind: MessageKind,
        attachments: Vec<Attachment>,
    },
    /// A provider's receipt for messages sent to a customer: delivered, read or failed.
    RecordReceipt {
        connector: ConnectorId,
        receipt: ReceiptFor,
        status: DeliveryStatus,
    },
    /// The delivery worker (or an external connector) took a message from the outbox and
    /// reports how sending it went.
    ConfirmDispatch {
        connector: ConnectorId,
        message_id: MessageId,
        outcome: DispatchOutcome,
    },
    /// A web-chat visitor came online or went offline, and the e-mail address they left, if
    /// any: an agent's reply to an offline visitor with an address is marked for e-mail.
    SetCustomerPresence {
        connector: ConnectorId,
        contact: ExternalContactId,
        online: bool,
        email: Option<String>,
    },
    /// The customer ended the chat (a web-chat visitor closed it, a contact unsubscribed): an
    /// offer ringing for it is withdrawn, and a conversation nobody took ends as unanswered.
    CustomerLeft {
        connector: ConnectorId,
        contact: ExternalContactId,
    },
    LogIn {
        agent: AgentId,
        queue: QueueId,
    },
    LogOut {
        agent: AgentId,
        queue: QueueId,
    },
    GoReady {
        agent: AgentId,
    },
    Pause {
        agent: AgentId,
        reason: String,
        paid: bool,
    },
    AcceptOffer {
        agent: AgentId,
        conversation: ConversationId,
    },
    /// Decline an offer: the conversation moves on to another agent, never straight back.
    RejectOffer {
        agent: AgentId,
        conversation: ConversationId,
    },
    /// Take a waiting conversation without an offer, from the waiting list: allowed with rights to
    /// its queue, even when logged out of it.
    AcceptFromWaiting {
        agent: AgentId,
        conversation: ConversationId,
    },
    /// Take a conversation of a grab queue: the first grab wins and owns it; a later one is
    /// refused with the winner's name.
    Grab {
        agent: AgentId,
        conversation: ConversationId,
    },
    /// Join a conversation of a collaboration queue (anyone with rights to it), or, as one of its
    /// admins, a conversation of a grab queue.
    Join {
        agent: AgentId,
        conversation: ConversationId,
    },
    SendAgentMessage {
        agent: AgentId,
        conversation: ConversationId,
        message_id: MessageId,
        text: String,
        /// An approved template, where the channel's window requires one.
        template: Option<String>,
    },
    /// Start a conversation with a contact who has written before, through a connector of a
    /// queue the agent has rights to, with a first message.
    StartOutbound {
        agent: AgentId,
        connector: ConnectorId,
        contact: ExternalContactId,
        /// The real handle, where `contact` is a pseudonym.
        handle: Option<String>,
        message_id: MessageId,
        text: String,
        template: Option<String>,
    },
    /// Erase a contact's personal data (their key is shredded by the service once this is
    /// recorded). Refused while they have an open conversation: close it first.
    AnonymiseContact {
        connector: ConnectorId,
        /// Their pseudonym.
        contact: ExternalContactId,
        by: KeyId,
        interaction: Option<ConversationId>,
    },
    /// Close with a status; the status is optional here only so that the core, not the caller,
    /// owns the rule that it is required.
    Close {
        agent: AgentId,
        conversation: ConversationId,
        status: Option<String>,
    },
    /// Hand the conversation to a colleague (who may decline) or to a queue.
    Transfer {
        agent: AgentId,
        conversation: ConversationId,
        to: Target,
    },
    /// Ask a colleague, or the best available agent of a queue, to join the conversation.
    Invite {
        agent: AgentId,
        conversation: ConversationId,
        to: Target,
    },
    /// Leave the conversation without closing it: the others continue, or it goes back to its
    /// queue when nobody remains.
    Leave {
        agent: AgentId,
        conversation: ConversationId,
    },
    Postpone {
        agent: AgentId,
        conversation: ConversationId,
    },
    Resume {
        agent: AgentId,
        conversation: ConversationId,
    },
    MarkImportant {
        agent: AgentId,
        conversation: ConversationId,
        important: bool,
    },
    /// The agent's console is still there. Consoles send these regularly; one that falls
    /// silent for the centre's heartbeat timeout is taken as gone.
    Heartbeat {
        agent: AgentId,
    },
    /// The agent's console closed (or the agent signed out of it).
    Disconnect {
        agent: AgentId,
    },
    /// The agent's console shows this conversation's tab, in front: the agent works on it.
    Focus {
        agent: AgentId,
        conversation: ConversationId,
    },
    /// The agent's console lost the agent's attention: another module, another window.
    Blur {
        agent: AgentId,
    },
    /// An administrator issues an API key. The caller draws the secret and hands in only its
    /// digest.
    IssueApiKey {
        key: KeyId,
        name: String,
        role: Role,
        secret_sha256: SecretDigest,
        by: KeyId,
    },
    /// An administrator revokes an API key, configured or issued: it opens nothing from now on.
    RevokeApiKey {
        key: KeyId,
        by: KeyId,
    },
    /// Time has passed: fire every deadline at or before the context's `now`.
    Tick,
    /// Offer every waiting conversation that a free eligible agent can take. The engine runs it
    /// after rebuilding the state, so that a changed configuration (more capacity, new agents)
    /// takes effect at once.
    Rebalance,
}

/// A command's customer, for the service to replace their handle with their pseudonym before
/// the core sees it: the log and the core's state then never hold the handle in plaintext.
pub struct ContactSlot<'a> {
    pub connector: &'a ConnectorId,
    /// The handle as the caller named it; the service writes the pseudonym here.
    pub contact: &'a mut ExternalContactId,
    /// Where the command carries the real handle on into its events, if it does.
    pub handle: Option<&'a mut Option<String>>,
    /// Whether the command may be the first the centre hears of the customer (a message, a
    /// visitor's presence): an unknown handle gets a pseudonym. For the others an unknown
    /// handle is refused as unknown, under the name the caller gave.
    pub introduces: bool,
}

impl Command {
    /// The customer this command names by their handle, if it names one.
    pub fn contact_mut(&mut self) -> Option<ContactSlot<'_>> {
        let slot = |connector, contact, handle, introduces| ContactSlot {
            connector,
            contact,
            handle,
            introduces,
        };
        match self {
            Command::ReceiveCustomerMessage {
                connector,
                contact,
                handle,
                ..
            } => Some(slot(connector, contact, Some(handle), true)),
            Command::StartOutbound {
                connector,
                contact,
                handle,
                ..
            } => Some(slot(connector, contact, Some(handle), false)),
            Command::SetCustomerPresence {
                connector, contact, ..
            } => Some(slot(connector, contact, None, true)),
            Command::CustomerLeft { connector, contact }
            | Command::RecordReceipt {
                connector,
                receipt: ReceiptFor::UpTo { contact, .. },
                ..
            } => Some(slot(connector, contact, None, false)),
            _ => None,
        }
    }
}
