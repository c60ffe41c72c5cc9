//! The agents view: each agent's presence, pause reason, queues, offers, conversations, postponed
//! list and load per channel, as a supervisor's board and the agent's own console show them.
//!
//! It keeps a small mirror of each open conversation (channel, agents in it, who it rings for,
//! postponed) and recomputes the agents an event touches from it, so offers, transfers and
//! invitations all count the same way the routing core counts them.

use routing_core::event::{EventKind, WaitLimitOutcome};
use routing_core::{AgentId, Channel, ConversationId, Event, QueueId, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum AgentPresence {
    NotReady,
    Ready,
    Paused {
        reason: String,
        paid: bool,
        automatic: bool,
        /// The pause has lasted longer than the limit for its reason.
        overran: bool,
    },
    /// The console vanished or closed.
    Disconnected,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSummary {
    pub agent: AgentId,
    pub presence: AgentPresence,
    /// When the presence last changed; `None` before the agent's first change.
    #[serde(with = "crate::rfc3339::option")]
    pub presence_since: Option<Timestamp>,
    pub queues: BTreeSet<QueueId>,
    /// Offers ringing for the agent: routed conversations, transfers, invitations.
    pub offers: BTreeSet<ConversationId>,
    pub conversations: BTreeSet<ConversationId>,
    pub postponed: BTreeSet<ConversationId>,
    /// Offers plus conversations (postponed ones aside), per channel.
    pub load: BTreeMap<Channel, u32>,
}

/// An agent's part in one conversation: what their lists and load count of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Part {
    offered: bool,
    inside: bool,
    postponed: bool,
}

impl Part {
    fn of(mirror: Option<&Mirror>, agent: &AgentId) -> Part {
        mirror.map_or_else(Part::default, |mirror| Part {
            offered: mirror.offered_to.as_ref() == Some(agent),
            inside: mirror.agents.contains(agent),
            postponed: mirror.postponed,
        })
    }

    /// Offers and conversations count towards the load; postponed ones do not.
    fn loads(self) -> bool {
        self.offered || (self.inside && !self.postponed)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Mirror {
    channel: Channel,
    agents: BTreeSet<AgentId>,
    offered_to: Option<AgentId>,
    transfer_from: Option<AgentId>,
    postponed: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentsView {
    agents: BTreeMap<AgentId, AgentSummary>,
    open: BTreeMap<ConversationId, Mirror>,
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
                        postponed: BTreeSet::new(),
                        load: BTreeMap::new(),
                    };
                    (id, summary)
                })
                .collect(),
            open: BTreeMap::new(),
        }
    }

    pub fn apply(&mut self, event: &Event) {
        if let Some(conversation) = event.kind.conversation() {
            self.apply_to_conversation(conversation, &event.kind);
            return;
        }
        match &event.kind {
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
            EventKind::AgentDisconnected(e) => {
                if let Some(agent) = self.agents.get_mut(&e.agent) {
                    agent.presence = AgentPresence::Disconnected;
                    agent.presence_since = Some(event.at);
                }
            }
            EventKind::AgentPaused(e) => {
                if let Some(agent) = self.agents.get_mut(&e.agent) {
                    agent.presence = AgentPresence::Paused {
                        reason: e.reason.clone(),
                        paid: e.paid,
                        automatic: e.automatic,
                        overran: false,
                    };
                    agent.presence_since = Some(event.at);
                }
            }
            EventKind::PauseLimitExceeded(e) => {
                if let Some(AgentSummary {
                    presence: AgentPresence::Paused { overran, .. },
                    ..
                }) = self.agents.get_mut(&e.agent)
                {
                    *overran = true;
                }
            }
            _ => {}
        }
    }

    fn apply_to_conversation(&mut self, id: ConversationId, kind: &EventKind) {
        if let EventKind::ConversationStarted(e) = kind {
            self.open.insert(
                id,
                Mirror {
                    channel: e.channel,
                    agents: BTreeSet::new(),
                    offered_to: None,
                    transfer_from: None,
                    postponed: false,
                },
            );
            return;
        }
        if let EventKind::OutboundConversationStarted(e) = kind {
            self.open.insert(
                id,
                Mirror {
                    channel: e.channel,
                    agents: [e.agent.clone()].into(),
                    offered_to: None,
                    transfer_from: None,
                    postponed: false,
                },
            );
            self.shift(
                &e.agent,
                id,
                e.channel,
                Part::default(),
                Part::of(self.open.get(&id), &e.agent),
            );
            return;
        }
        let Some(mirror) = self.open.get_mut(&id) else {
            return;
        };
        // Each agent's part in the conversation before the event; compared with the part after
        // it, that is all an agent's lists and load can change by.
        let channel = mirror.channel;
        let mut touched: Vec<(AgentId, Part)> = mirror
            .agents
            .iter()
            .chain(mirror.offered_to.as_ref())
            .map(|agent| (agent.clone(), Part::of(Some(mirror), agent)))
            .collect();
        match kind {
            EventKind::ConversationOffered(e) => mirror.offered_to = Some(e.agent.clone()),
            EventKind::TransferOffered(e) => {
                mirror.offered_to = Some(e.to.clone());
                mirror.transfer_from = Some(e.from.clone());
            }
            EventKind::InviteOffered(e) => mirror.offered_to = Some(e.to.clone()),
            EventKind::OfferAccepted(e) => {
                if let Some(from) = mirror.transfer_from.take() {
                    mirror.agents.remove(&from);
                }
                mirror.offered_to = None;
                mirror.agents.insert(e.agent.clone());
            }
            EventKind::OfferRejected(_)
            | EventKind::OfferTimedOut(_)
            | EventKind::OfferRescinded(_) => {
                mirror.offered_to = None;
                mirror.transfer_from = None;
            }
            EventKind::AcceptedFromWaiting(e) => {
                mirror.agents.insert(e.agent.clone());
            }
            EventKind::ConversationJoined(e) => {
                mirror.agents.insert(e.agent.clone());
            }
            EventKind::ConversationGrabbed(e) => {
                mirror.agents.insert(e.agent.clone());
            }
            EventKind::TransferredToQueue(e) => {
                mirror.agents.remove(&e.agent);
                mirror.postponed = false;
            }
            EventKind::AgentLeft(e) => {
                mirror.agents.remove(&e.agent);
                if mirror.agents.is_empty() {
                    mirror.postponed = false;
                }
            }
            EventKind::ConversationPostponed(_) => mirror.postponed = true,
            EventKind::ConversationResumed(_) => mirror.postponed = false,
            EventKind::ConversationReclaimed(e) => {
                for agent in &e.agents {
                    mirror.agents.remove(agent);
                }
                mirror.postponed = false;
            }
            EventKind::ConversationClosed(_) | EventKind::ConversationExpired(_) => {
                self.open.remove(&id);
            }
            EventKind::WaitLimitReached(e) if e.outcome == WaitLimitOutcome::Closed => {
                self.open.remove(&id);
            }
            EventKind::CustomerLeft(e) if e.closed => {
                self.open.remove(&id);
            }
            _ => {}
        }
        if let Some(mirror) = self.open.get(&id) {
            for agent in mirror.agents.iter().chain(mirror.offered_to.as_ref()) {
                if !touched.iter().any(|(a, _)| a == agent) {
                    touched.push((agent.clone(), Part::default()));
                }
            }
        }
        for (agent, before) in touched {
            let after = Part::of(self.open.get(&id), &agent);
            self.shift(&agent, id, channel, before, after);
        }
    }

    /// Moves an agent's lists and load from their `before` part in conversation `id` to their
    /// `after` part: only what changed is touched, however many conversations the agent has.
    fn shift(
        &mut self,
        id: &AgentId,
        conversation: ConversationId,
        channel: Channel,
        before: Part,
        after: Part,
    ) {
        if before == after {
            return;
        }
        let Some(agent) = self.agents.get_mut(id) else {
            return;
        };
        let set = |list: &mut BTreeSet<ConversationId>, on: bool| {
            if on {
                list.insert(conversation);
            } else {
                list.remove(&conversation);
            }
        };
        set(&mut agent.offers, after.offered);
        set(&mut agent.conversations, after.inside && !after.postponed);
        set(&mut agent.postponed, after.inside && after.postponed);
        match (before.loads(), after.loads()) {
            (false, true) => *agent.load.entry(channel).or_default() += 1,
            (true, false) => {
                if let Some(load) = agent.load.get_mut(&channel) {
                    *load = load.saturating_sub(1);
                    if *load == 0 {
                        agent.load.remove(&channel);
                    }
                }
            }
            _ => {}
        }
    }

    /// The agents the view follows (the configured ones it was made for).
    pub fn ids(&self) -> impl Iterator<Item = &AgentId> {
        self.agents.keys()
    }

    /// Every agent, in id order.
    pub fn all(&self) -> impl Iterator<Item = &AgentSummary> {
        self.agents.values()
    }

    pub fn get(&self, id: &AgentId) -> Option<&AgentSummary> {
        self.agents.get(id)
    }
}
