//! The core's state: what it must remember to decide, rebuilt by applying events in log order.
//!
//! `apply` must never fail and never decide anything: every rule was checked when the event was
//! decided, and replaying the log must reproduce the live state exactly. Only open conversations
//! are kept; a closed one lives on in the log and the read models, not here.

use crate::config::{CentreConfig, Channel};
use crate::event::{Event, EventKind};
use crate::ids::{AgentId, ConnectorId, ConversationId, ExternalContactId, QueueId};
use crate::time::Timestamp;
use std::collections::{BTreeMap, BTreeSet};

/// Whether an agent takes new conversations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// Has not said ready since the engine started knowing them.
    NotReady,
    Ready,
    Paused {
        reason: String,
        paid: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentState {
    pub presence: Presence,
    pub logged_in: BTreeSet<QueueId>,
    /// Conversations offered to the agent and not yet answered.
    pub offers: BTreeSet<ConversationId>,
    /// Conversations the agent is in.
    pub active: BTreeSet<ConversationId>,
    /// Offers plus active conversations, per channel: what capacity is measured against.
    pub load: BTreeMap<Channel, u32>,
    /// When the agent last became free for work: the longest-idle strategy ranks by it.
    pub free_since: Timestamp,
}

impl AgentState {
    fn new() -> Self {
        Self {
            presence: Presence::NotReady,
            logged_in: BTreeSet::new(),
            offers: BTreeSet::new(),
            active: BTreeSet::new(),
            load: BTreeMap::new(),
            free_since: Timestamp::from_millis(0),
        }
    }

    pub fn load_for(&self, channel: Channel) -> u32 {
        self.load.get(&channel).copied().unwrap_or(0)
    }
}

/// Where a conversation is in its life while open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// In its queue, offered to nobody.
    Waiting,
    Offered {
        agent: AgentId,
        since: Timestamp,
    },
    Active {
        agent: AgentId,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub connector: ConnectorId,
    pub channel: Channel,
    pub contact: ExternalContactId,
    pub queue: Option<QueueId>,
    pub phase: Phase,
    pub enqueued_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    config: CentreConfig,
    agents: BTreeMap<AgentId, AgentState>,
    conversations: BTreeMap<ConversationId, Conversation>,
    open_by_contact: BTreeMap<(ConnectorId, ExternalContactId), ConversationId>,
    /// Conversations offered to nobody, per queue, oldest first.
    waiting: BTreeMap<QueueId, BTreeSet<(Timestamp, ConversationId)>>,
    /// How many events have been applied: lets the service check it is in step with the log.
    applied: u64,
}

impl State {
    /// The state of a contact centre before anything happened.
    pub fn new(config: CentreConfig) -> Self {
        let agents = config
            .agents
            .keys()
            .map(|id| (id.clone(), AgentState::new()))
            .collect();
        Self {
            config,
            agents,
            conversations: BTreeMap::new(),
            open_by_contact: BTreeMap::new(),
            waiting: BTreeMap::new(),
            applied: 0,
        }
    }

    pub fn config(&self) -> &CentreConfig {
        &self.config
    }

    pub fn agent(&self, id: &AgentId) -> Option<&AgentState> {
        self.agents.get(id)
    }

    pub fn agents(&self) -> impl Iterator<Item = (&AgentId, &AgentState)> {
        self.agents.iter()
    }

    pub fn conversation(&self, id: &ConversationId) -> Option<&Conversation> {
        self.conversations.get(id)
    }

    pub fn open_conversation_of(
        &self,
        connector: &ConnectorId,
        contact: &ExternalContactId,
    ) -> Option<ConversationId> {
        self.open_by_contact
            .get(&(connector.clone(), contact.clone()))
            .copied()
    }

    pub fn waiting_in(&self, queue: &QueueId) -> impl Iterator<Item = ConversationId> + '_ {
        self.waiting
            .get(queue)
            .into_iter()
            .flat_map(|set| set.iter().map(|(_, id)| *id))
    }

    pub fn events_applied(&self) -> u64 {
        self.applied
    }

    pub fn apply(&mut self, event: &Event) {
        self.applied += 1;
        let at = event.at;
        match &event.kind {
            EventKind::ConversationStarted(e) => {
                self.conversations.insert(
                    e.conversation,
                    Conversation {
                        connector: e.connector.clone(),
                        channel: e.channel,
                        contact: e.contact.clone(),
                        queue: None,
                        phase: Phase::Waiting,
                        enqueued_at: at,
                    },
                );
                self.open_by_contact
                    .insert((e.connector.clone(), e.contact.clone()), e.conversation);
            }
            EventKind::CustomerMessageReceived(_) | EventKind::AgentMessageSent(_) => {}
            EventKind::ConversationEnqueued(e) => {
                if let Some(conversation) = self.conversations.get_mut(&e.conversation) {
                    conversation.queue = Some(e.queue.clone());
                    conversation.phase = Phase::Waiting;
                    conversation.enqueued_at = at;
                    self.waiting
                        .entry(e.queue.clone())
                        .or_default()
                        .insert((at, e.conversation));
                }
            }
            EventKind::ConversationOffered(e) => {
                if let Some(conversation) = self.conversations.get_mut(&e.conversation) {
                    if let Some(waiting) = self.waiting.get_mut(&e.queue) {
                        waiting.remove(&(conversation.enqueued_at, e.conversation));
                    }
                    conversation.phase = Phase::Offered {
                        agent: e.agent.clone(),
                        since: at,
                    };
                    let channel = conversation.channel;
                    let agent = self
                        .agents
                        .entry(e.agent.clone())
                        .or_insert_with(AgentState::new);
                    agent.offers.insert(e.conversation);
                    *agent.load.entry(channel).or_default() += 1;
                }
            }
            EventKind::OfferAccepted(e) => {
                if let Some(conversation) = self.conversations.get_mut(&e.conversation) {
                    conversation.phase = Phase::Active {
                        agent: e.agent.clone(),
                    };
                }
                if let Some(agent) = self.agents.get_mut(&e.agent) {
                    agent.offers.remove(&e.conversation);
                    agent.active.insert(e.conversation);
                }
            }
            EventKind::ConversationClosed(e) => {
                if let Some(conversation) = self.conversations.remove(&e.conversation) {
                    self.open_by_contact
                        .remove(&(conversation.connector.clone(), conversation.contact.clone()));
                    if let Some(agent) = self.agents.get_mut(&e.agent)
                        && agent.active.remove(&e.conversation)
                    {
                        if let Some(load) = agent.load.get_mut(&conversation.channel) {
                            *load = load.saturating_sub(1);
                        }
                        agent.free_since = at;
                    }
                }
            }
            EventKind::AgentLoggedIn(e) => {
                if let Some(agent) = self.agents.get_mut(&e.agent) {
                    agent.logged_in.insert(e.queue.clone());
                }
            }
            EventKind::AgentLoggedOut(e) => {
                if let Some(agent) = self.agents.get_mut(&e.agent) {
                    agent.logged_in.remove(&e.queue);
                }
            }
            EventKind::AgentBecameReady(e) => {
                if let Some(agent) = self.agents.get_mut(&e.agent) {
                    agent.presence = Presence::Ready;
                    agent.free_since = at;
                }
            }
            EventKind::AgentPaused(e) => {
                if let Some(agent) = self.agents.get_mut(&e.agent) {
                    agent.presence = Presence::Paused {
                        reason: e.reason.clone(),
                        paid: e.paid,
                    };
                }
            }
        }
    }
}
