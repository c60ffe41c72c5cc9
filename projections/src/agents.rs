//! The agents view: each agent's presence, pause reason, queues, offers, conversations and load
//! per channel, as a supervisor's board and the agent's own console show them.

use routing_core::event::EventKind;
use routing_core::{AgentId, Channel, ConversationId, Event, QueueId, Timestamp};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum AgentPresence {
    NotReady,
    Ready,
    Paused { reason: String, paid: bool },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentSummary {
    pub agent: AgentId,
    pub presence: AgentPresence,
    /// When the presence last changed; `None` before the agent's first change.
    #[serde(with = "crate::rfc3339::option")]
    pub presence_since: Option<Timestamp>,
    pub queues: BTreeSet<QueueId>,
    pub offers: BTreeSet<ConversationId>,
    pub conversations: BTreeSet<ConversationId>,
    /// Offers plus conversations, per channel.
    pub load: BTreeMap<Channel, u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentsView {
    agents: BTreeMap<AgentId, AgentSummary>,
    /// The channel of every open conversation, to know which load an offer or close changes.
    channels: BTreeMap<ConversationId, Channel>,
}

impl AgentsView {
    pub fn new(agents: impl IntoIterator<Item = AgentId>) -> Self {
        Self {
            agents: agents
                .into_iter()
                .map(|id| {
                    let summary = AgentSummary {
                        agent: id.clone(),
                        presence: AgentPresence::NotReady,
                        presence_since: None,
                        queues: BTreeSet::new(),
                        offers: BTreeSet::new(),
                        conversations: BTreeSet::new(),
                        load: BTreeMap::new(),
                    };
                    (id, summary)
                })
                .collect(),
            channels: BTreeMap::new(),
        }
    }

    pub fn apply(&mut self, event: &Event) {
        match &event.kind {
            EventKind::ConversationStarted(e) => {
                self.channels.insert(e.conversation, e.channel);
            }
            EventKind::ConversationOffered(e) => {
                let channel = self.channels.get(&e.conversation).copied();
                if let Some(agent) = self.agents.get_mut(&e.agent) {
                    agent.offers.insert(e.conversation);
                    if let Some(channel) = channel {
                        *agent.load.entry(channel).or_default() += 1;
                    }
                }
            }
            EventKind::OfferAccepted(e) => {
                if let Some(agent) = self.agents.get_mut(&e.agent) {
                    agent.offers.remove(&e.conversation);
                    agent.conversations.insert(e.conversation);
                }
            }
            EventKind::OfferRejected(e) => self.offer_ended(&e.agent, e.conversation),
            EventKind::OfferTimedOut(e) => self.offer_ended(&e.agent, e.conversation),
            EventKind::OfferRescinded(e) => self.offer_ended(&e.agent, e.conversation),
            EventKind::AcceptedFromWaiting(e) => {
                let channel = self.channels.get(&e.conversation).copied();
                if let Some(agent) = self.agents.get_mut(&e.agent) {
                    agent.conversations.insert(e.conversation);
                    if let Some(channel) = channel {
                        *agent.load.entry(channel).or_default() += 1;
                    }
                }
            }
            EventKind::ConversationClosed(e) => {
                let channel = self.channels.remove(&e.conversation);
                if let Some(agent) = self.agents.get_mut(&e.agent)
                    && agent.conversations.remove(&e.conversation)
                {
                    release(agent, channel);
                }
            }
            EventKind::AgentLoggedIn(e) => {
                if let Some(agent) = self.agents.get_mut(&e.agent) {
                    agent.queues.insert(e.queue.clone());
                }
            }
            EventKind::AgentLoggedOut(e) => {
                if let Some(agent) = self.agents.get_mut(&e.agent) {
                    agent.queues.remove(&e.queue);
                }
            }
            EventKind::AgentBecameReady(e) => {
                if let Some(agent) = self.agents.get_mut(&e.agent) {
                    agent.presence = AgentPresence::Ready;
                    agent.presence_since = Some(event.at);
                }
            }
            EventKind::AgentPaused(e) => {
                if let Some(agent) = self.agents.get_mut(&e.agent) {
                    agent.presence = AgentPresence::Paused {
                        reason: e.reason.clone(),
                        paid: e.paid,
                    };
                    agent.presence_since = Some(event.at);
                }
            }
            EventKind::CustomerMessageReceived(_)
            | EventKind::ConversationEnqueued(_)
            | EventKind::AgentMessageSent(_) => {}
        }
    }

    /// An offer ended without an accept: it no longer counts against the agent's capacity.
    fn offer_ended(&mut self, agent: &AgentId, conversation: ConversationId) {
        let channel = self.channels.get(&conversation).copied();
        if let Some(agent) = self.agents.get_mut(agent)
            && agent.offers.remove(&conversation)
        {
            release(agent, channel);
        }
    }

    pub fn get(&self, id: &AgentId) -> Option<&AgentSummary> {
        self.agents.get(id)
    }
}

fn release(agent: &mut AgentSummary, channel: Option<Channel>) {
    if let Some(channel) = channel
        && let Some(load) = agent.load.get_mut(&channel)
    {
        *load = load.saturating_sub(1);
        if *load == 0 {
            agent.load.remove(&channel);
        }
    }
}
