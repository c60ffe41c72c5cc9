//! The contact centre's configuration as the core sees it: queues, agents, connectors.
//!
//! Parsing a file is the service's job; this module only holds validated data in deterministic
//! (`BTreeMap`) order. Configuration is an input of every decision, like the commands themselves.

use crate::access::ApiKey;
use crate::ids::{AgentId, ConnectorId, KeyId, QueueId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The messaging channels Switchboard routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Webchat,
    Whatsapp,
    Messenger,
    InstagramDm,
    Viber,
}

impl Channel {
    pub const ALL: [Channel; 5] = [
        Channel::Webchat,
        Channel::Whatsapp,
        Channel::Messenger,
        Channel::InstagramDm,
        Channel::Viber,
    ];

    /// The longest text a message may have on this channel, if the channel limits it.
    pub fn max_text_chars(self) -> Option<usize> {
        match self {
            Channel::InstagramDm => Some(1000),
            _ => None,
        }
    }

    /// Whether free text is allowed only within 24 hours of the customer's last message (a
    /// template otherwise).
    pub fn has_reply_window(self) -> bool {
        matches!(self, Channel::Whatsapp | Channel::Messenger)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Webchat => "webchat",
            Channel::Whatsapp => "whatsapp",
            Channel::Messenger => "messenger",
            Channel::InstagramDm => "instagram_dm",
            Channel::Viber => "viber",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a routed queue picks among eligible agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutingStrategy {
    /// The agent idle the longest (since they went ready, were last offered a conversation or
    /// last closed one) gets it.
    LongestIdle,
    /// The agent offered a conversation least recently gets it: turns go round.
    RoundRobin,
    /// The agent with the fewest conversations (offers included) gets it; ties go to the one
    /// idle the longest.
    LeastBusy,
}

impl RoutingStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            RoutingStrategy::LongestIdle => "longest_idle",
            RoutingStrategy::RoundRobin => "round_robin",
            RoutingStrategy::LeastBusy => "least_busy",
        }
    }
}

/// How a queue hands its conversations to its team (the agents logged in to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutingMode {
    /// The engine offers each conversation to one eligible agent at a time, by the strategy.
    Routed,
    /// The whole team is notified; anyone with rights to the queue may join, as many as like.
    Collaboration,
    /// The whole team is notified; the first to grab owns it, and then only the queue's admins
    /// may join it.
    Grab,
}

impl RoutingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RoutingMode::Routed => "routed",
            RoutingMode::Collaboration => "collaboration",
            RoutingMode::Grab => "grab",
        }
    }
}

/// A queue's limit on waiting: how long a conversation may wait with nobody in it, and what
/// happens then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaxWait {
    pub after_ms: u64,
    pub then: AfterMaxWait,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "then")]
pub enum AfterMaxWait {
    /// It moves to another queue (which must serve its channel; otherwise it is closed).
    Overflow { to: QueueId },
    /// The engine closes it as unanswered; the customer's next message starts a new one.
    Close,
}

/// What happens when a colleague declines (or lets expire) a transfer offered to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferDeclined {
    /// The conversation stays with the agent who asked for the transfer.
    ReturnToSender,
    /// The agent's activity ends and the conversation waits in its queue.
    ToQueue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    pub name: String,
    pub channels: BTreeSet<Channel>,
    pub mode: RoutingMode,
    pub strategy: RoutingStrategy,
    /// How long an agent has to answer an offer before it moves on.
    pub offer_timeout_ms: u64,
    /// Whether an agent who lets an offer expire is put on an unpaid pause.
    pub pause_on_missed_offer: bool,
    /// Status board: a customer waiting for an answer this long is "soon to be overdue"...
    pub soon_overdue_after_ms: u64,
    /// ... and this long, "overdue".
    pub overdue_after_ms: u64,
    /// A conversation with no customer message for this long is closed by the engine.
    pub auto_close_after_ms: u64,
    /// When the agents in a conversation are reminded of a customer waiting for them.
    pub reminder: Reminder,
    /// If set, a conversation whose agents have not answered the customer for this long is taken
    /// from them and offered to someone else in the queue (before it becomes overdue).
    pub no_reply_limit_ms: Option<u64>,
    /// What happens to conversations waiting for an answer from an agent whose console vanished.
    pub on_agent_lost: AgentLostPolicy,
    /// If set, a contact who writes again within this long after an agent last took one of their
    /// conversations is offered to that agent first, when they are free for it.
    pub last_agent_window_ms: Option<u64>,
    /// If set, how long a conversation may wait with nobody in it, and what follows.
    pub max_wait: Option<MaxWait>,
    /// Where a declined transfer goes.
    pub on_transfer_declined: TransferDeclined,
    /// Service level: a conversation taken from this queue within this long of joining it counts
    /// as answered in time. Supervisors' figures only; routing never reads it.
    pub answer_target_ms: u64,
}

/// When agents are reminded that a customer waits for their answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reminder {
    Off,
    /// Once, this long after the customer's first unanswered message.
    AfterMs(u64),
    /// On every new customer message.
    EveryMessage,
}

impl QueueConfig {
    /// A routed queue with the defaults: longest idle, 30 s to answer, no automatic pause; soon
    /// overdue after 3 minutes, overdue after 5; closed after 24 hours without a customer message;
    /// no reminders, no re-offer for want of a reply, no waiting limit; a declined transfer
    /// returns to its sender; answered in time within a minute.
    pub fn new(name: impl Into<String>, channels: impl IntoIterator<Item = Channel>) -> Self {
        Self {
            name: name.into(),
            channels: channels.into_iter().collect(),
            mode: RoutingMode::Routed,
            strategy: RoutingStrategy::LongestIdle,
            offer_timeout_ms: DEFAULT_OFFER_TIMEOUT_MS,
            pause_on_missed_offer: false,
            soon_overdue_after_ms: 3 * 60_000,
            overdue_after_ms: 5 * 60_000,
            auto_close_after_ms: 24 * 3_600_000,
            reminder: Reminder::Off,
            no_reply_limit_ms: None,
            on_agent_lost: AgentLostPolicy::Reroute,
            last_agent_window_ms: None,
            max_wait: None,
            on_transfer_declined: TransferDeclined::ReturnToSender,
            answer_target_ms: DEFAULT_ANSWER_TARGET_MS,
        }
    }
}

/// How long an offer rings when the queue does not say.
pub const DEFAULT_OFFER_TIMEOUT_MS: u64 = 30_000;

/// The service level target when a queue names none: taken within a minute. Messaging customers
/// tolerate longer waits than callers, but a minute is where chat services commonly set it.
pub const DEFAULT_ANSWER_TARGET_MS: u64 = 60_000;

/// The reason recorded when an agent is paused for letting an offer expire.
pub const MISSED_OFFER_PAUSE_REASON: &str = "missed offer";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    pub name: String,
    /// The queues the agent has rights to: they may log in to these.
    pub queues: BTreeSet<QueueId>,
    /// How many conversations of each channel the agent handles at once; a channel not listed
    /// means zero.
    pub capacity: BTreeMap<Channel, u32>,
    /// The queues whose team the agent administers: in a grab queue they may join what another
    /// agent grabbed. Administering a queue gives rights to it. Only team queues (collaboration
    /// or grab) have admins.
    pub admin_of: BTreeSet<QueueId>,
    /// What the agent can serve: a conversation that needs skills is routed only to agents who
    /// have them all.
    pub skills: BTreeSet<String>,
}

impl AgentConfig {
    /// Whether the agent may log in to, take from and join conversations of the queue.
    pub fn has_rights_to(&self, queue: &QueueId) -> bool {
        self.queues.contains(queue) || self.admin_of.contains(queue)
    }

    /// Every queue the agent has rights to: their own and those they administer.
    pub fn rights(&self) -> BTreeSet<QueueId> {
        self.queues.union(&self.admin_of).cloned().collect()
    }

    pub fn capacity_for(&self, channel: Channel) -> u32 {
        self.capacity.get(&channel).copied().unwrap_or(0)
    }
}

/// One provider account (a web-chat widget, a WhatsApp number, a page) and the queue its
/// conversations enter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorConfig {
    pub channel: Channel,
    pub queue: QueueId,
    /// Conversations from this connector are served before lower-priority ones in the queue.
    pub priority: u8,
    /// The skills an agent needs to be offered a conversation from this connector.
    pub skills: BTreeSet<String>,
    /// The message templates the provider approved for this account, by name: outside the
    /// reply window only these may be sent. Empty means any name is taken (the provider judges).
    pub templates: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CentreConfig {
    pub queues: BTreeMap<QueueId, QueueConfig>,
    pub agents: BTreeMap<AgentId, AgentConfig>,
    pub connectors: BTreeMap<ConnectorId, ConnectorConfig>,
    /// An agent's console that has sent heartbeats and then stays silent this long is taken as
    /// gone; `None` means [`DEFAULT_HEARTBEAT_TIMEOUT_MS`].
    pub heartbeat_timeout_ms: Option<u64>,
    /// How long a pause may last before supervisors are told it overran, per pause reason.
    pub pause_limits: PauseLimits,
    /// The API keys the configuration file defines; more are issued over the API.
    pub api_keys: BTreeMap<KeyId, ApiKey>,
    /// The statuses an agent closes a conversation with, in the order offered; empty accepts any.
    pub close_statuses: Vec<String>,
    /// The reasons an agent pauses for, in the order offered; empty accepts any.
    pub pause_reasons: Vec<String>,
}

/// How long pauses may last: by reason, with a default for reasons not listed. `None` means a
/// pause of that reason has no limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PauseLimits {
    pub default_ms: Option<u64>,
    pub by_reason: BTreeMap<String, u64>,
}

impl PauseLimits {
    pub fn for_reason(&self, reason: &str) -> Option<u64> {
        self.by_reason.get(reason).copied().or(self.default_ms)
    }
}

/// How long a silent console is trusted when the configuration does not say.
pub const DEFAULT_HEARTBEAT_TIMEOUT_MS: u64 = 60_000;

impl CentreConfig {
    /// The approved templates of a connector (none for one not configured).
    pub fn templates_of(&self, connector: &ConnectorId) -> &[String] {
        self.connectors
            .get(connector)
            .map_or(&[], |c| c.templates.as_slice())
    }

    pub fn heartbeat_timeout_ms(&self) -> u64 {
        self.heartbeat_timeout_ms
            .unwrap_or(DEFAULT_HEARTBEAT_TIMEOUT_MS)
    }
}

/// What happens to a queue's conversations that wait for an answer from an agent who vanished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentLostPolicy {
    /// Taken from them and routed again at once.
    Reroute,
    /// Left with them (the queue's no-reply limit, if set, still takes them later).
    Keep,
}
