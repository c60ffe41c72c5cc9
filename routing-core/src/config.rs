//! The contact centre's configuration as the core sees it: queues, agents, connectors.
//!
//! Parsing a file is the service's job; this module only holds validated data in deterministic
//! (`BTreeMap`) order. Configuration is an input of every decision, like the commands themselves.

use crate::ids::{AgentId, ConnectorId, QueueId};
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    pub name: String,
    pub channels: BTreeSet<Channel>,
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
    /// no reminders and no re-offer for want of a reply.
    pub fn new(name: impl Into<String>, channels: impl IntoIterator<Item = Channel>) -> Self {
        Self {
            name: name.into(),
            channels: channels.into_iter().collect(),
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
        }
    }
}

/// How long an offer rings when the queue does not say.
pub const DEFAULT_OFFER_TIMEOUT_MS: u64 = 30_000;

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
}

impl AgentConfig {
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
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CentreConfig {
    pub queues: BTreeMap<QueueId, QueueConfig>,
    pub agents: BTreeMap<AgentId, AgentConfig>,
    pub connectors: BTreeMap<ConnectorId, ConnectorConfig>,
    /// An agent's console that has sent heartbeats and then stays silent this long is taken as
    /// gone; `None` means [`DEFAULT_HEARTBEAT_TIMEOUT_MS`].
    pub heartbeat_timeout_ms: Option<u64>,
}

/// How long a silent console is trusted when the configuration does not say.
pub const DEFAULT_HEARTBEAT_TIMEOUT_MS: u64 = 60_000;

impl CentreConfig {
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
