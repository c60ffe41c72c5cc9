//! The core's state: what it must remember to decide, rebuilt by applying events in log order.
//!
//! `apply` must never fail and never decide anything: every rule was checked when the event was
//! decided, and replaying the log must reproduce the live state exactly (indexes included). Only
//! open conversations are kept; a closed one lives on in the log and the read models.

mod index;

use crate::config::{CentreConfig, Channel, QueueConfig};
use crate::event::{Event, EventKind};
use crate::ids::{AgentId, ConnectorId, ConversationId, ExternalContactId, QueueId};
use crate::time::Timestamp;
use index::Indexes;
pub(crate) use index::{AgentIx, Deadline, QueueIx, Rank, WaitKey};
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
    pub id: AgentId,
    pub presence: Presence,
    pub logged_in: BTreeSet<QueueId>,
    /// Conversations offered to the agent and not yet answered.
    pub offers: BTreeSet<ConversationId>,
    /// Conversations the agent is in.
    pub active: BTreeSet<ConversationId>,
    /// Offers plus active conversations, per channel: what capacity is measured against.
    pub load: BTreeMap<Channel, u32>,
    /// When the agent last went ready, was offered a conversation or closed one: the longest-idle
    /// strategy ranks by it.
    pub idle_since: Timestamp,
    /// The sequence number of the last offer made to the agent: round robin ranks by it.
    pub last_offer: u64,
    /// From the configuration, copied for the hot path.
    pub capacity: BTreeMap<Channel, u32>,
    /// The (queue, channel) availability entries the agent holds, to remove them on change.
    indexed: Vec<(QueueIx, Channel, Rank)>,
}

impl AgentState {
    pub fn load_for(&self, channel: Channel) -> u32 {
        self.load.get(&channel).copied().unwrap_or(0)
    }

    pub fn capacity_for(&self, channel: Channel) -> u32 {
        self.capacity.get(&channel).copied().unwrap_or(0)
    }

    pub fn has_room_for(&self, channel: Channel) -> bool {
        self.load_for(channel) < self.capacity_for(channel)
    }

    pub fn total_load(&self) -> u32 {
        self.load.values().sum()
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
        expires_at: Timestamp,
    },
    Active {
        agent: AgentId,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub id: ConversationId,
    pub connector: ConnectorId,
    pub channel: Channel,
    pub contact: ExternalContactId,
    pub queue: Option<QueueId>,
    pub priority: u8,
    pub phase: Phase,
    /// When it entered its queue: its place in the queue, kept when an offer falls through.
    pub waiting_since: Timestamp,
    /// Agents who rejected it or let it time out in this queue: it is not offered to them again.
    pub declined_by: BTreeSet<AgentId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    config: CentreConfig,
    queue_ix: BTreeMap<QueueId, QueueIx>,
    agent_ix: BTreeMap<AgentId, AgentIx>,
    agents: Vec<AgentState>,
    conversations: BTreeMap<ConversationId, Conversation>,
    open_by_contact: BTreeMap<(ConnectorId, ExternalContactId), ConversationId>,
    indexes: Indexes,
    /// Offers made so far: a deterministic clock for round robin.
    offers_made: u64,
    /// How many events have been applied.
    applied: u64,
}

impl State {
    /// The state of a contact centre before anything happened.
    pub fn new(config: CentreConfig) -> Self {
        let queue_ix = config
            .queues
            .keys()
            .enumerate()
            .map(|(n, id)| (id.clone(), QueueIx(n as u32)))
            .collect();
        let agent_ix = config
            .agents
            .keys()
            .enumerate()
            .map(|(n, id)| (id.clone(), AgentIx(n as u32)))
            .collect();
        let agents = config
            .agents
            .iter()
            .map(|(id, agent)| AgentState {
                id: id.clone(),
                presence: Presence::NotReady,
                logged_in: BTreeSet::new(),
                offers: BTreeSet::new(),
                active: BTreeSet::new(),
                load: BTreeMap::new(),
                idle_since: Timestamp::from_millis(0),
                last_offer: 0,
                capacity: agent.capacity.clone(),
                indexed: Vec::new(),
            })
            .collect();
        Self {
            config,
            queue_ix,
            agent_ix,
            agents,
            conversations: BTreeMap::new(),
            open_by_contact: BTreeMap::new(),
            indexes: Indexes::default(),
            offers_made: 0,
            applied: 0,
        }
    }

    pub fn config(&self) -> &CentreConfig {
        &self.config
    }

    pub fn agent(&self, id: &AgentId) -> Option<&AgentState> {
        self.agent_ix.get(id).map(|ix| &self.agents[ix.0 as usize])
    }

    pub fn agents(&self) -> impl Iterator<Item = (&AgentId, &AgentState)> {
        self.agents.iter().map(|agent| (&agent.id, agent))
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

    /// The conversations waiting (offered to nobody) in a queue, in the order they are served.
    pub fn waiting_in(&self, queue: &QueueId) -> Vec<ConversationId> {
        let Some(ix) = self.queue_ix.get(queue) else {
            return Vec::new();
        };
        let mut keys: Vec<&WaitKey> = Channel::ALL
            .iter()
            .flat_map(|channel| self.indexes.waiting_in(*ix, *channel))
            .collect();
        keys.sort();
        keys.into_iter().map(|key| key.conversation).collect()
    }

    /// How many conversations wait in all queues.
    pub fn waiting_count(&self) -> usize {
        self.indexes.waiting_count()
    }

    /// The earliest moment something is due (an offer expiring, …): the runtime calls
    /// [`crate::Command::Tick`] then.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.indexes.next_deadline()
    }

    pub fn events_applied(&self) -> u64 {
        self.applied
    }

    pub(crate) fn queue_ix(&self, queue: &QueueId) -> Option<QueueIx> {
        self.queue_ix.get(queue).copied()
    }

    pub(crate) fn queue_config(&self, queue: &QueueId) -> Option<&QueueConfig> {
        self.config.queues.get(queue)
    }

    pub(crate) fn agent_ix(&self, id: &AgentId) -> Option<AgentIx> {
        self.agent_ix.get(id).copied()
    }

    pub(crate) fn agent_at(&self, ix: AgentIx) -> &AgentState {
        &self.agents[ix.0 as usize]
    }

    pub(crate) fn indexes(&self) -> &Indexes {
        &self.indexes
    }

    pub fn apply(&mut self, event: &Event) {
        self.applied += 1;
        let at = event.at;
        match &event.kind {
            EventKind::ConversationStarted(e) => {
                self.conversations.insert(
                    e.conversation,
                    Conversation {
                        id: e.conversation,
                        connector: e.connector.clone(),
                        channel: e.channel,
                        contact: e.contact.clone(),
                        queue: None,
                        priority: 0,
                        phase: Phase::Waiting,
                        waiting_since: at,
                        declined_by: BTreeSet::new(),
                    },
                );
                self.open_by_contact
                    .insert((e.connector.clone(), e.contact.clone()), e.conversation);
            }
            EventKind::CustomerMessageReceived(_) | EventKind::AgentMessageSent(_) => {}
            EventKind::ConversationEnqueued(e) => {
                let queue = self.queue_ix(&e.queue);
                if let Some(conversation) = self.conversations.get_mut(&e.conversation) {
                    conversation.queue = Some(e.queue.clone());
                    conversation.priority = e.priority;
                    conversation.phase = Phase::Waiting;
                    conversation.waiting_since = at;
                    conversation.declined_by.clear();
                    if let Some(queue) = queue {
                        self.indexes.wait(queue, conversation);
                    }
                }
            }
            EventKind::ConversationOffered(e) => {
                let queue = self.queue_ix(&e.queue);
                let Some(conversation) = self.conversations.get_mut(&e.conversation) else {
                    return;
                };
                if let Some(queue) = queue {
                    self.indexes.unwait(queue, conversation);
                }
                conversation.phase = Phase::Offered {
                    agent: e.agent.clone(),
                    since: at,
                    expires_at: e.expires_at,
                };
                let channel = conversation.channel;
                self.indexes
                    .add_deadline(e.expires_at, Deadline::OfferExpires(e.conversation));
                self.offers_made += 1;
                let seq = self.offers_made;
                self.change_agent(&e.agent, |agent| {
                    agent.offers.insert(e.conversation);
                    *agent.load.entry(channel).or_default() += 1;
                    agent.idle_since = at;
                    agent.last_offer = seq;
                });
            }
            EventKind::OfferAccepted(e) => {
                if let Some(conversation) = self.conversations.get_mut(&e.conversation) {
                    if let Phase::Offered { expires_at, .. } = conversation.phase {
                        self.indexes
                            .remove_deadline(expires_at, Deadline::OfferExpires(e.conversation));
                    }
                    conversation.phase = Phase::Active {
                        agent: e.agent.clone(),
                    };
                }
                if let Some(ix) = self.agent_ix(&e.agent) {
                    let agent = &mut self.agents[ix.0 as usize];
                    agent.offers.remove(&e.conversation);
                    agent.active.insert(e.conversation);
                }
            }
            EventKind::OfferRejected(e) => {
                self.offer_fell_through(&e.conversation, &e.agent, true);
            }
            EventKind::OfferTimedOut(e) => {
                self.offer_fell_through(&e.conversation, &e.agent, true);
            }
            EventKind::OfferRescinded(e) => {
                self.offer_fell_through(&e.conversation, &e.agent, false);
            }
            EventKind::AcceptedFromWaiting(e) => {
                let Some(conversation) = self.conversations.get_mut(&e.conversation) else {
                    return;
                };
                if conversation.phase == Phase::Waiting
                    && let Some(queue) = conversation
                        .queue
                        .as_ref()
                        .and_then(|q| self.queue_ix.get(q))
                {
                    self.indexes.unwait(*queue, conversation);
                }
                conversation.phase = Phase::Active {
                    agent: e.agent.clone(),
                };
                let channel = conversation.channel;
                self.change_agent(&e.agent, |agent| {
                    agent.active.insert(e.conversation);
                    *agent.load.entry(channel).or_default() += 1;
                });
            }
            EventKind::ConversationClosed(e) => {
                let Some(conversation) = self.conversations.remove(&e.conversation) else {
                    return;
                };
                self.open_by_contact
                    .remove(&(conversation.connector.clone(), conversation.contact.clone()));
                match &conversation.phase {
                    Phase::Waiting => {
                        if let Some(queue) = conversation
                            .queue
                            .as_ref()
                            .and_then(|q| self.queue_ix.get(q))
                        {
                            self.indexes.unwait(*queue, &conversation);
                        }
                    }
                    Phase::Offered { expires_at, .. } => {
                        self.indexes
                            .remove_deadline(*expires_at, Deadline::OfferExpires(e.conversation));
                    }
                    Phase::Active { .. } => {}
                }
                let channel = conversation.channel;
                self.change_agent(&e.agent, |agent| {
                    if agent.active.remove(&e.conversation) {
                        release(agent, channel);
                        agent.idle_since = at;
                    }
                });
            }
            EventKind::AgentLoggedIn(e) => {
                self.change_agent(&e.agent, |agent| {
                    agent.logged_in.insert(e.queue.clone());
                });
            }
            EventKind::AgentLoggedOut(e) => {
                self.change_agent(&e.agent, |agent| {
                    agent.logged_in.remove(&e.queue);
                });
            }
            EventKind::AgentBecameReady(e) => {
                self.change_agent(&e.agent, |agent| {
                    agent.presence = Presence::Ready;
                    agent.idle_since = at;
                });
            }
            EventKind::AgentPaused(e) => {
                self.change_agent(&e.agent, |agent| {
                    agent.presence = Presence::Paused {
                        reason: e.reason.clone(),
                        paid: e.paid,
                    };
                });
            }
        }
    }

    /// An offer ended without an accept: the agent's capacity comes back and the conversation
    /// waits again in its old place.
    fn offer_fell_through(&mut self, id: &ConversationId, agent: &AgentId, declined: bool) {
        let Some(conversation) = self.conversations.get_mut(id) else {
            return;
        };
        if let Phase::Offered { expires_at, .. } = conversation.phase {
            self.indexes
                .remove_deadline(expires_at, Deadline::OfferExpires(*id));
        }
        conversation.phase = Phase::Waiting;
        if declined {
            conversation.declined_by.insert(agent.clone());
        }
        if let Some(queue) = conversation
            .queue
            .as_ref()
            .and_then(|q| self.queue_ix.get(q))
        {
            self.indexes.wait(*queue, conversation);
        }
        let channel = conversation.channel;
        self.change_agent(agent, |state| {
            if state.offers.remove(id) {
                release(state, channel);
            }
        });
    }

    /// Changes an agent and keeps the availability index in step with the change.
    fn change_agent(&mut self, id: &AgentId, change: impl FnOnce(&mut AgentState)) {
        let Some(ix) = self.agent_ix.get(id).copied() else {
            return;
        };
        let agent = &mut self.agents[ix.0 as usize];
        self.indexes.unlist(ix, &mut agent.indexed);
        change(agent);
        let entries = index::availability(&self.config, &self.queue_ix, agent);
        self.indexes.list(ix, &entries);
        agent.indexed = entries;
    }
}

fn release(agent: &mut AgentState, channel: Channel) {
    if let Some(load) = agent.load.get_mut(&channel) {
        *load = load.saturating_sub(1);
        if *load == 0 {
            agent.load.remove(&channel);
        }
    }
}
