//! The core's state: what it must remember to decide, rebuilt by applying events in log order.
//!
//! `apply` must never fail and never decide anything: every rule was checked when the event was
//! decided, and replaying the log must reproduce the live state exactly (indexes included). Only
//! open conversations are kept; a closed one lives on in the log and the read models.

mod delivery;
mod index;

use crate::config::{CentreConfig, Channel, QueueConfig};
use crate::event::{Event, EventKind};
use crate::ids::{AgentId, ConnectorId, ConversationId, ExternalContactId, KeyId, QueueId};
use crate::time::Timestamp;
pub use delivery::{Deliveries, Pending, Sent, VisitorPresence};
use index::Indexes;

/// A queue's configuration, when the conversation has a queue.
pub(crate) type QueueConfigRef<'a> = Option<&'a QueueConfig>;
pub(crate) use index::{AgentIx, Deadline, QueueIx, Rank, WaitKey};
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, BTreeSet};

/// What a conversation is to an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relation {
    None,
    Offered,
    Active,
    Postponed,
}

impl Relation {
    fn of(conversation: Option<&Conversation>, agent: &AgentId) -> Self {
        let Some(conversation) = conversation else {
            return Relation::None;
        };
        if conversation
            .offer
            .as_ref()
            .is_some_and(|o| &o.agent == agent)
        {
            Relation::Offered
        } else if conversation.participants.contains(agent) {
            if conversation.postponed {
                Relation::Postponed
            } else {
                Relation::Active
            }
        } else {
            Relation::None
        }
    }

    /// Whether it takes a chat slot.
    fn loads(self) -> bool {
        matches!(self, Relation::Offered | Relation::Active)
    }
}

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
    /// The console vanished or closed; the agent must say ready again.
    Disconnected,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentState {
    pub id: AgentId,
    pub presence: Presence,
    pub logged_in: BTreeSet<QueueId>,
    /// Conversations offered to the agent and not yet answered.
    pub offers: BTreeSet<ConversationId>,
    /// Conversations the agent is in (postponed ones aside).
    pub active: BTreeSet<ConversationId>,
    /// Conversations on the agent's postponed list: they take no chat slot.
    pub postponed: BTreeSet<ConversationId>,
    /// Offers plus active conversations, per channel: what capacity is measured against.
    pub load: BTreeMap<Channel, u32>,
    /// When the agent last went ready, was offered a conversation or closed one: the longest-idle
    /// strategy ranks by it.
    pub idle_since: Timestamp,
    /// The sequence number of the last offer made to the agent: round robin ranks by it.
    pub last_offer: u64,
    /// From the configuration, copied for the hot path.
    pub capacity: BTreeMap<Channel, u32>,
    /// The last heartbeat recorded while the console is connected; `None` when it never sent one
    /// (then nothing is watched) or after it disconnected.
    pub last_heartbeat: Option<Timestamp>,
    /// From the configuration, copied for the hot path.
    pub skills: BTreeSet<String>,
    /// When the current pause began; `None` when not paused.
    pub paused_at: Option<Timestamp>,
    /// Whether supervisors were told that the current pause overran its limit.
    pub pause_overran: bool,
    /// The agent's presence deadline in the global set, to move it when a heartbeat comes.
    watched: Option<(Timestamp, Deadline)>,
    /// The agent's pause-limit deadline in the global set.
    pause_watched: Option<(Timestamp, Deadline)>,
    /// The channel of every conversation the agent is involved in, to count load when one closes.
    channels: BTreeMap<ConversationId, Channel>,
    /// The queues of `logged_in` by index, so that the hot path compares no strings.
    pub(crate) logged_in_ix: BTreeSet<QueueIx>,
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

    /// Whether the agent is listed as available for a queue's channel right now.
    pub(crate) fn is_listed(&self, queue: QueueIx, channel: Channel) -> bool {
        self.indexed
            .iter()
            .any(|(q, c, _)| *q == queue && *c == channel)
    }

    pub fn total_load(&self) -> u32 {
        self.load.values().sum()
    }

    /// Whether the agent has every skill the conversation needs.
    pub fn can_serve(&self, conversation: &Conversation) -> bool {
        conversation.skills.is_subset(&self.skills)
    }
}

/// Where a conversation is in its life while open, as seen from routing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// In its queue, offered to nobody, nobody in it.
    Waiting,
    /// Being offered by routing to an agent; nobody in it yet.
    Offered {
        agent: AgentId,
        since: Timestamp,
        expires_at: Timestamp,
    },
    /// One or more agents are in it (possibly with a transfer or invitation ringing).
    Active,
    /// Nobody in it and not in a queue: only between its start and its enqueueing.
    Arriving,
}

/// Why an offer rings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfferPurpose {
    /// Routing: the conversation waits for someone to take it.
    Route,
    /// A colleague hands it over; until accepted it stays with them.
    Transfer { from: AgentId },
    /// A colleague asks for help; on accept both are in it.
    Invite { by: AgentId },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub agent: AgentId,
    pub since: Timestamp,
    pub expires_at: Timestamp,
    pub purpose: OfferPurpose,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub id: ConversationId,
    pub connector: ConnectorId,
    pub channel: Channel,
    pub contact: ExternalContactId,
    pub queue: Option<QueueId>,
    pub priority: u8,
    /// The skills an agent needs to be offered it.
    pub skills: BTreeSet<String>,
    /// In a grab queue, the agent who grabbed it, while they are in it.
    pub grabbed_by: Option<AgentId>,
    /// When it entered its queue: its place in the queue, kept when an offer falls through.
    pub waiting_since: Timestamp,
    /// Agents who rejected it or let it time out in this queue: it is not offered to them again.
    pub declined_by: BTreeSet<AgentId>,
    /// The agents in it (each one's activity).
    pub participants: BTreeSet<AgentId>,
    /// The offer ringing for it, if any: one at a time.
    pub offer: Option<Offer>,
    /// On its (sole) agent's postponed list: it takes no chat slot.
    pub postponed: bool,
    pub important: bool,
    /// Since when the customer has waited for an answer (their first message after the last
    /// agent message); `None` when answered.
    pub unanswered_since: Option<Timestamp>,
    /// The customer's last message, or the start of an outbound conversation: the 24-hour
    /// automatic close counts from it.
    pub last_customer_message_at: Timestamp,
    /// When the customer last wrote (in this conversation or, for an outbound one, before it):
    /// the WhatsApp and Messenger reply windows count from it.
    pub customer_wrote_at: Option<Timestamp>,
    /// Status board: 0 in time, 1 soon to be overdue, 2 overdue (for the current wait).
    pub overdue_level: u8,
    /// Whether the agents were reminded of the current wait.
    pub reminded: bool,
    /// The index entries it holds, to remove them on change.
    indexed: Indexed,
}

/// What a conversation has put into the indexes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Indexed {
    waiting: Option<(QueueIx, Channel, WaitKey)>,
    /// The earliest of its deadlines: only that one is in the global deadline set.
    deadline: Option<(Timestamp, Deadline)>,
}

impl Conversation {
    /// A conversation that has just started, with nobody in it and no queue yet.
    fn new(
        id: ConversationId,
        connector: &ConnectorId,
        channel: Channel,
        contact: &ExternalContactId,
        at: Timestamp,
        customer_wrote_at: Option<Timestamp>,
    ) -> Self {
        Self {
            id,
            connector: connector.clone(),
            channel,
            contact: contact.clone(),
            queue: None,
            priority: 0,
            skills: BTreeSet::new(),
            grabbed_by: None,
            waiting_since: at,
            declined_by: BTreeSet::new(),
            participants: BTreeSet::new(),
            offer: None,
            postponed: false,
            important: false,
            unanswered_since: None,
            last_customer_message_at: at,
            customer_wrote_at,
            overdue_level: 0,
            reminded: false,
            indexed: Indexed::default(),
        }
    }

    pub fn is_waiting(&self) -> bool {
        self.queue.is_some() && self.participants.is_empty() && self.offer.is_none()
    }

    pub fn phase(&self) -> Phase {
        match &self.offer {
            _ if !self.participants.is_empty() => Phase::Active,
            Some(offer) => Phase::Offered {
                agent: offer.agent.clone(),
                since: offer.since,
                expires_at: offer.expires_at,
            },
            None if self.queue.is_some() => Phase::Waiting,
            None => Phase::Arriving,
        }
    }
}

/// Whether an API key still opens anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    Live,
    Revoked,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    config: CentreConfig,
    // Queue and agent ids are looked up on every step: a hash of the (trusted, configured) id
    // costs less than a dozen string comparisons. They are never iterated, so hash order cannot
    // reach a decision, and the hash is fixed (no random seed), so a run is the same everywhere.
    queue_ix: FxHashMap<QueueId, QueueIx>,
    agent_ix: FxHashMap<AgentId, AgentIx>,
    /// Each queue's configuration by index (a copy of the configuration's), for the hot path.
    queue_at: Vec<QueueConfig>,
    agents: Vec<AgentState>,
    conversations: BTreeMap<ConversationId, Conversation>,
    // Contact ids come from outside, so these are ordered, not hashed: no crafted id can make a
    // lookup slower than logarithmic. Nested so that lookups borrow, not clone.
    /// Per connector, when each contact last wrote: who may be written to, and their windows.
    contacts: BTreeMap<ConnectorId, BTreeMap<ExternalContactId, Timestamp>>,
    /// Per connector, the agent who last took each contact's conversation, and when.
    last_agents: BTreeMap<ConnectorId, BTreeMap<ExternalContactId, (AgentId, Timestamp)>>,
    /// Per connector, each contact's open conversation.
    open_by_contact: BTreeMap<ConnectorId, BTreeMap<ExternalContactId, ConversationId>>,
    /// Per queue, the agents logged in to it (its team), in id order.
    members: BTreeMap<QueueId, BTreeSet<AgentId>>,
    indexes: Indexes,
    /// Offers made so far: a deterministic clock for round robin.
    offers_made: u64,
    /// How many events have been applied.
    applied: u64,
    /// API keys issued over the API (configured ones are in the configuration), and every key
    /// revoked so far, configured or issued.
    keys_issued: BTreeSet<KeyId>,
    keys_revoked: BTreeSet<KeyId>,
    /// Agent messages on their way to customers, and web-chat visitors' presence.
    deliveries: Deliveries,
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
        let queue_at = config.queues.values().cloned().collect();
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
                logged_in_ix: BTreeSet::new(),
                offers: BTreeSet::new(),
                active: BTreeSet::new(),
                postponed: BTreeSet::new(),
                load: BTreeMap::new(),
                idle_since: Timestamp::from_millis(0),
                last_offer: 0,
                capacity: agent.capacity.clone(),
                channels: BTreeMap::new(),
                last_heartbeat: None,
                skills: agent.skills.clone(),
                paused_at: None,
                pause_overran: false,
                watched: None,
                pause_watched: None,
                indexed: Vec::new(),
            })
            .collect();
        Self {
            config,
            queue_at,
            queue_ix,
            agent_ix,
            agents,
            conversations: BTreeMap::new(),
            open_by_contact: BTreeMap::new(),
            contacts: BTreeMap::new(),
            last_agents: BTreeMap::new(),
            members: BTreeMap::new(),
            indexes: Indexes::default(),
            offers_made: 0,
            applied: 0,
            keys_issued: BTreeSet::new(),
            keys_revoked: BTreeSet::new(),
            deliveries: Deliveries::default(),
        }
    }

    /// Agent messages on their way to customers, and web-chat visitors' presence.
    pub fn deliveries(&self) -> &Deliveries {
        &self.deliveries
    }

    /// Whether an API key by this id exists (configured or issued), and whether it is revoked.
    pub fn key(&self, id: &KeyId) -> Option<KeyStatus> {
        let exists = self.config.api_keys.contains_key(id) || self.keys_issued.contains(id);
        exists.then(|| {
            if self.keys_revoked.contains(id) {
                KeyStatus::Revoked
            } else {
                KeyStatus::Live
            }
        })
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

    /// Every open conversation, in id order.
    pub fn conversations(&self) -> impl Iterator<Item = (&ConversationId, &Conversation)> {
        self.conversations.iter()
    }

    /// When the contact last wrote through the connector, if ever.
    pub fn contact_wrote_at(
        &self,
        connector: &ConnectorId,
        contact: &ExternalContactId,
    ) -> Option<Timestamp> {
        self.contacts
            .get(connector)
            .and_then(|contacts| contacts.get(contact))
            .copied()
    }

    /// The agent who last took the contact's conversation through the connector, and when.
    pub fn last_agent_of(
        &self,
        connector: &ConnectorId,
        contact: &ExternalContactId,
    ) -> Option<&(AgentId, Timestamp)> {
        self.last_agents
            .get(connector)
            .and_then(|contacts| contacts.get(contact))
    }

    /// Remembers that `agent` took the conversation's contact at `at`.
    fn remember_agent(&mut self, conversation: &ConversationId, agent: &AgentId, at: Timestamp) {
        if let Some(c) = self.conversations.get(conversation) {
            self.last_agents
                .entry(c.connector.clone())
                .or_default()
                .insert(c.contact.clone(), (agent.clone(), at));
        }
    }

    pub fn open_conversation_of(
        &self,
        connector: &ConnectorId,
        contact: &ExternalContactId,
    ) -> Option<ConversationId> {
        self.open_by_contact
            .get(connector)
            .and_then(|contacts| contacts.get(contact))
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

    /// The agents logged in to a queue, in id order.
    pub fn members_of(&self, queue: &QueueId) -> impl Iterator<Item = &AgentId> {
        self.members.get(queue).into_iter().flatten()
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

    /// A queue's configuration by index (queue indexes are dense, in id order).
    pub(crate) fn queue_at(&self, ix: QueueIx) -> Option<&QueueConfig> {
        self.queue_at.get(ix.0 as usize)
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
                    Conversation::new(
                        e.conversation,
                        &e.connector,
                        e.channel,
                        &e.contact,
                        at,
                        None,
                    ),
                );
                self.open_by_contact
                    .entry(e.connector.clone())
                    .or_default()
                    .insert(e.contact.clone(), e.conversation);
            }
            EventKind::CustomerMessageReceived(e) => {
                let mut contact = None;
                self.change_conversation(&e.conversation, |c| {
                    c.unanswered_since.get_or_insert(at);
                    c.last_customer_message_at = at;
                    c.customer_wrote_at = Some(at);
                    contact = Some((c.connector.clone(), c.contact.clone()));
                });
                if let Some((connector, contact)) = contact {
                    self.contacts
                        .entry(connector)
                        .or_default()
                        .insert(contact, at);
                }
            }
            EventKind::OutboundConversationStarted(e) => {
                let wrote = self.contact_wrote_at(&e.connector, &e.contact);
                let conversation = Conversation::new(
                    e.conversation,
                    &e.connector,
                    e.channel,
                    &e.contact,
                    at,
                    wrote,
                );
                self.conversations.insert(e.conversation, conversation);
                self.open_by_contact
                    .entry(e.connector.clone())
                    .or_default()
                    .insert(e.contact.clone(), e.conversation);
                self.change_conversation(&e.conversation, |c| {
                    c.queue = Some(e.queue.clone());
                    c.participants.insert(e.agent.clone());
                });
                self.refresh_agent(&e.agent, &e.conversation, None);
                self.remember_agent(&e.conversation, &e.agent, at);
            }
            EventKind::AgentMessageSent(e) => {
                let mut pending = None;
                self.change_conversation(&e.conversation, |c| {
                    c.unanswered_since = None;
                    c.overdue_level = 0;
                    c.reminded = false;
                    pending = Some(Pending {
                        connector: c.connector.clone(),
                        conversation: c.id,
                        contact: c.contact.clone(),
                    });
                });
                if let Some(pending) = pending.filter(|_| e.outbox) {
                    self.deliveries.queued(e.message_id.clone(), pending);
                }
            }
            EventKind::MessageDispatched(e) => {
                self.deliveries
                    .dispatched(&e.message_id, &e.provider_message_id, at);
            }
            EventKind::MessageDispatchFailed(e) => self.deliveries.failed(&e.message_id),
            EventKind::MessageStatusChanged(e) => self.deliveries.status(&e.message_id, e.status),
            EventKind::ReceiptHeld(e) => self.deliveries.hold(
                &e.connector,
                &e.provider_message_id,
                e.status,
                at,
                crate::content::HELD_RECEIPT_MS,
            ),
            EventKind::CustomerPresenceChanged(e) => {
                self.deliveries.presence_changed(
                    &e.connector,
                    &e.contact,
                    e.online,
                    e.email.clone(),
                );
            }
            EventKind::ConversationSoonOverdue(e) => {
                self.change_conversation(&e.conversation, |c| {
                    c.overdue_level = c.overdue_level.max(1)
                });
            }
            EventKind::ConversationOverdue(e) => {
                self.change_conversation(&e.conversation, |c| c.overdue_level = 2);
            }
            EventKind::AgentsReminded(e) => {
                if let crate::event::ReminderReason::Unanswered { .. } = e.reason {
                    self.change_conversation(&e.conversation, |c| c.reminded = true);
                }
            }
            EventKind::ConversationReclaimed(e) => {
                self.change_conversation(&e.conversation, |c| {
                    for agent in &e.agents {
                        c.participants.remove(agent);
                        c.declined_by.insert(agent.clone());
                    }
                    c.postponed = false;
                    c.reminded = false;
                });
                for agent in &e.agents {
                    self.refresh_agent(agent, &e.conversation, Some(at));
                }
            }
            EventKind::ConversationEnqueued(e) => {
                self.change_conversation(&e.conversation, |c| {
                    // Who declined it in this queue still did; a new queue starts afresh.
                    if c.queue.as_ref() != Some(&e.queue) {
                        c.declined_by.clear();
                    }
                    c.queue = Some(e.queue.clone());
                    c.priority = e.priority;
                    c.skills = e.skills.iter().cloned().collect();
                    c.waiting_since = at;
                });
            }
            EventKind::ConversationOffered(e) => {
                self.offers_made += 1;
                let seq = self.offers_made;
                self.offer(
                    &e.conversation,
                    &e.agent,
                    at,
                    e.expires_at,
                    OfferPurpose::Route,
                );
                self.change_agent(&e.agent, |agent| {
                    agent.idle_since = at;
                    agent.last_offer = seq;
                });
            }
            EventKind::TransferOffered(e) => {
                let purpose = OfferPurpose::Transfer {
                    from: e.from.clone(),
                };
                self.offer(&e.conversation, &e.to, at, e.expires_at, purpose);
            }
            EventKind::InviteOffered(e) => {
                let purpose = OfferPurpose::Invite { by: e.by.clone() };
                self.offer(&e.conversation, &e.to, at, e.expires_at, purpose);
            }
            EventKind::OfferAccepted(e) => {
                let mut handed_over = None;
                self.change_conversation(&e.conversation, |c| {
                    if let Some(offer) = c.offer.take() {
                        if let OfferPurpose::Transfer { from } = offer.purpose {
                            c.participants.remove(&from);
                            // Whoever takes a grabbed conversation over owns it.
                            if c.grabbed_by.as_ref() == Some(&from) {
                                c.grabbed_by = Some(e.agent.clone());
                            }
                            handed_over = Some(from);
                        }
                        c.participants.insert(e.agent.clone());
                    }
                });
                if let Some(from) = handed_over {
                    self.refresh_agent(&from, &e.conversation, Some(at));
                }
                self.refresh_agent(&e.agent, &e.conversation, None);
                self.remember_agent(&e.conversation, &e.agent, at);
            }
            EventKind::OfferRejected(e) => self.offer_fell_through(&e.conversation, &e.agent, true),
            EventKind::OfferTimedOut(e) => self.offer_fell_through(&e.conversation, &e.agent, true),
            EventKind::OfferRescinded(e) => {
                self.offer_fell_through(&e.conversation, &e.agent, false)
            }
            EventKind::AcceptedFromWaiting(e) => {
                self.change_conversation(&e.conversation, |c| {
                    c.participants.insert(e.agent.clone());
                });
                self.refresh_agent(&e.agent, &e.conversation, None);
                self.remember_agent(&e.conversation, &e.agent, at);
            }
            EventKind::ConversationJoined(e) => {
                self.change_conversation(&e.conversation, |c| {
                    c.participants.insert(e.agent.clone());
                });
                self.refresh_agent(&e.agent, &e.conversation, None);
                self.remember_agent(&e.conversation, &e.agent, at);
            }
            EventKind::ConversationGrabbed(e) => {
                self.change_conversation(&e.conversation, |c| {
                    c.participants.insert(e.agent.clone());
                    c.grabbed_by = Some(e.agent.clone());
                });
                self.refresh_agent(&e.agent, &e.conversation, None);
                self.remember_agent(&e.conversation, &e.agent, at);
            }
            // Who was told is for the agents' notifications and the read models; routing state
            // does not change.
            EventKind::TeamNotified(_) => {}
            EventKind::WaitLimitReached(e) => {
                if e.outcome == crate::event::WaitLimitOutcome::Closed {
                    self.remove_conversation(&e.conversation, at);
                }
            }
            EventKind::CustomerLeft(e) => {
                if e.closed {
                    self.remove_conversation(&e.conversation, at);
                } else {
                    self.change_conversation(&e.conversation, |c| {
                        // Nobody waits for an answer any more: no overdue, no reminder, no
                        // re-offer, until the customer writes again.
                        c.unanswered_since = None;
                        c.overdue_level = 0;
                        c.reminded = false;
                    });
                }
            }
            EventKind::PauseLimitExceeded(e) => {
                self.change_agent(&e.agent, |agent| agent.pause_overran = true);
            }
            EventKind::TransferredToQueue(e) => {
                self.change_conversation(&e.conversation, |c| {
                    c.participants.remove(&e.agent);
                    c.postponed = false;
                    if c.queue.as_ref() != Some(&e.queue) {
                        c.declined_by.clear();
                        c.queue = Some(e.queue.clone());
                    }
                    // Handed on: not straight back to the agent who handed it on.
                    c.declined_by.insert(e.agent.clone());
                });
                self.refresh_agent(&e.agent, &e.conversation, Some(at));
            }
            EventKind::AgentLeft(e) => {
                self.change_conversation(&e.conversation, |c| {
                    c.participants.remove(&e.agent);
                    if c.participants.is_empty() {
                        c.postponed = false;
                        // The last agent left it: it goes back to its queue, not back to them.
                        c.declined_by.insert(e.agent.clone());
                    }
                });
                self.refresh_agent(&e.agent, &e.conversation, Some(at));
            }
            EventKind::ConversationPostponed(e) => {
                self.change_conversation(&e.conversation, |c| c.postponed = true);
                self.refresh_agent(&e.agent, &e.conversation, Some(at));
            }
            EventKind::ConversationResumed(e) => {
                self.change_conversation(&e.conversation, |c| c.postponed = false);
                self.refresh_agent(&e.agent, &e.conversation, None);
            }
            EventKind::ImportanceMarked(e) => {
                self.change_conversation(&e.conversation, |c| c.important = e.important);
            }
            EventKind::ConversationClosed(e) => self.remove_conversation(&e.conversation, at),
            EventKind::ConversationExpired(e) => self.remove_conversation(&e.conversation, at),
            EventKind::AgentLoggedIn(e) => {
                self.members
                    .entry(e.queue.clone())
                    .or_default()
                    .insert(e.agent.clone());
                let ix = self.queue_ix.get(&e.queue).copied();
                self.change_agent(&e.agent, |agent| {
                    agent.logged_in.insert(e.queue.clone());
                    agent.logged_in_ix.extend(ix);
                });
            }
            EventKind::AgentLoggedOut(e) => {
                if let Some(members) = self.members.get_mut(&e.queue) {
                    members.remove(&e.agent);
                    if members.is_empty() {
                        self.members.remove(&e.queue);
                    }
                }
                let ix = self.queue_ix.get(&e.queue).copied();
                self.change_agent(&e.agent, |agent| {
                    agent.logged_in.remove(&e.queue);
                    if let Some(ix) = ix {
                        agent.logged_in_ix.remove(&ix);
                    }
                });
            }
            EventKind::AgentBecameReady(e) => {
                self.change_agent(&e.agent, |agent| {
                    agent.presence = Presence::Ready;
                    agent.idle_since = at;
                    agent.paused_at = None;
                    agent.pause_overran = false;
                });
            }
            EventKind::AgentHeartbeatRecorded(e) => {
                self.change_agent(&e.agent, |agent| agent.last_heartbeat = Some(at));
            }
            // Where the agent looks decides nothing here; the read models measure it.
            EventKind::ActivityFocused(_) | EventKind::ActivityBlurred(_) => {}
            EventKind::ApiKeyIssued(e) => {
                self.keys_issued.insert(e.key.clone());
            }
            EventKind::ContactAnonymised(e) => {
                // Whoever writes from this handle again is someone new to the centre: no
                // reply window, no preferred agent, no presence carried over.
                if let Some(contacts) = self.contacts.get_mut(&e.connector) {
                    contacts.remove(&e.contact);
                }
                if let Some(contacts) = self.last_agents.get_mut(&e.connector) {
                    contacts.remove(&e.contact);
                }
                self.deliveries.forget_contact(&e.connector, &e.contact);
            }
            EventKind::ApiKeyRevoked(e) => {
                self.keys_revoked.insert(e.key.clone());
            }
            EventKind::AgentDisconnected(e) => {
                self.change_agent(&e.agent, |agent| {
                    agent.presence = Presence::Disconnected;
                    agent.last_heartbeat = None;
                    agent.paused_at = None;
                    agent.pause_overran = false;
                });
            }
            EventKind::AgentPaused(e) => {
                self.change_agent(&e.agent, |agent| {
                    agent.presence = Presence::Paused {
                        reason: e.reason.clone(),
                        paid: e.paid,
                    };
                    agent.paused_at = Some(at);
                    agent.pause_overran = false;
                });
            }
        }
    }

    /// The conversation ended (closed, expired, left unanswered): forget it, free its agents.
    fn remove_conversation(&mut self, id: &ConversationId, at: Timestamp) {
        let Some(conversation) = self.conversations.remove(id) else {
            return;
        };
        self.indexes
            .relist_conversation(&conversation.indexed, &Indexed::default());
        if let Some(contacts) = self.open_by_contact.get_mut(&conversation.connector) {
            contacts.remove(&conversation.contact);
        }
        let involved: Vec<AgentId> = conversation
            .participants
            .iter()
            .chain(conversation.offer.as_ref().map(|o| &o.agent))
            .cloned()
            .collect();
        for agent in involved {
            self.refresh_agent(&agent, id, Some(at));
        }
    }

    fn offer(
        &mut self,
        conversation: &ConversationId,
        agent: &AgentId,
        at: Timestamp,
        expires_at: Timestamp,
        purpose: OfferPurpose,
    ) {
        self.change_conversation(conversation, |c| {
            c.offer = Some(Offer {
                agent: agent.clone(),
                since: at,
                expires_at,
                purpose,
            });
        });
        self.refresh_agent(agent, conversation, None);
    }

    /// An offer ended without an accept: the agent's capacity comes back; a routed conversation
    /// waits again in its old place, a transfer or invitation simply stays where it was. An agent
    /// who declined it (rejected, or let it ring out) is not offered it again in this queue, be it
    /// a routed offer, a transfer or an invitation.
    fn offer_fell_through(&mut self, id: &ConversationId, agent: &AgentId, declined: bool) {
        self.change_conversation(id, |c| {
            if c.offer.take().is_some() && declined {
                c.declined_by.insert(agent.clone());
            }
        });
        self.refresh_agent(agent, id, None);
    }

    /// Changes a conversation and keeps the waiting and deadline indexes in step with it.
    fn change_conversation(&mut self, id: &ConversationId, change: impl FnOnce(&mut Conversation)) {
        let Some(conversation) = self.conversations.get_mut(id) else {
            return;
        };
        change(conversation);
        // A grab belongs to its grabber only while they are in it.
        if conversation
            .grabbed_by
            .as_ref()
            .is_some_and(|owner| !conversation.participants.contains(owner))
        {
            conversation.grabbed_by = None;
        }
        let queue = conversation
            .queue
            .as_ref()
            .and_then(|q| self.queue_ix.get(q))
            .copied();
        let config = conversation
            .queue
            .as_ref()
            .and_then(|q| self.config.queues.get(q));
        let wanted = index::desired(conversation, queue, config);
        self.indexes
            .relist_conversation(&conversation.indexed, &wanted);
        conversation.indexed = wanted;
    }

    /// Brings an agent's offers, conversations, postponed list and load in step with what the
    /// conversation `id` (just changed, or just closed) now is to them. `freed_at`, when given, is
    /// when their capacity last came back.
    fn refresh_agent(&mut self, agent: &AgentId, id: &ConversationId, freed_at: Option<Timestamp>) {
        let conversation = self.conversations.get(id);
        let after = Relation::of(conversation, agent);
        let channel = conversation.map(|c| c.channel);
        self.change_agent(agent, |state| {
            let before = if state.offers.contains(id) {
                Relation::Offered
            } else if state.active.contains(id) {
                Relation::Active
            } else if state.postponed.contains(id) {
                Relation::Postponed
            } else {
                Relation::None
            };
            if before != after {
                match before {
                    Relation::Offered => state.offers.remove(id),
                    Relation::Active => state.active.remove(id),
                    Relation::Postponed => state.postponed.remove(id),
                    Relation::None => false,
                };
                match after {
                    Relation::Offered => state.offers.insert(*id),
                    Relation::Active => state.active.insert(*id),
                    Relation::Postponed => state.postponed.insert(*id),
                    Relation::None => false,
                };
                // A closed conversation is gone from the map; its channel is remembered in the
                // agent's own books.
                let channel = channel.or_else(|| state.channels.get(id).copied());
                if let Some(channel) = channel {
                    if before.loads()
                        && let Some(load) = state.load.get_mut(&channel)
                    {
                        *load = load.saturating_sub(1);
                        if *load == 0 {
                            state.load.remove(&channel);
                        }
                    }
                    if after.loads() {
                        *state.load.entry(channel).or_default() += 1;
                    }
                    if after == Relation::None {
                        state.channels.remove(id);
                    } else {
                        state.channels.insert(*id, channel);
                    }
                }
            }
            if let Some(at) = freed_at {
                state.idle_since = at;
            }
        });
    }

    /// Changes an agent and keeps the availability index in step with the change.
    fn change_agent(&mut self, id: &AgentId, change: impl FnOnce(&mut AgentState)) {
        let Some(ix) = self.agent_ix.get(id).copied() else {
            return;
        };
        let agent = &mut self.agents[ix.0 as usize];
        change(agent);
        let entries = index::availability(&self.queue_at, agent);
        // Most changes (an accept, a message) leave availability as it was: touch the index only
        // when it differs.
        if entries != agent.indexed {
            self.indexes.unlist(ix, &mut agent.indexed);
            self.indexes.list(ix, &entries);
            agent.indexed = entries;
        }
        let watched = agent.last_heartbeat.map(|last| {
            let timeout = i64::try_from(self.config.heartbeat_timeout_ms()).unwrap_or(i64::MAX);
            (
                Timestamp::from_millis(last.as_millis().saturating_add(timeout)),
                Deadline::AgentSilent(ix.0),
            )
        });
        if watched != agent.watched {
            self.indexes.move_deadline(agent.watched, watched);
            agent.watched = watched;
        }
        let pause_watched = match (&agent.presence, agent.paused_at) {
            (Presence::Paused { reason, .. }, Some(since)) if !agent.pause_overran => {
                self.config.pause_limits.for_reason(reason).map(|limit| {
                    (
                        Timestamp::from_millis(
                            since
                                .as_millis()
                                .saturating_add(i64::try_from(limit).unwrap_or(i64::MAX)),
                        ),
                        Deadline::PauseLimit(ix.0),
                    )
                })
            }
            _ => None,
        };
        if pause_watched != agent.pause_watched {
            self.indexes
                .move_deadline(agent.pause_watched, pause_watched);
            agent.pause_watched = pause_watched;
        }
    }
}
