//! The conversations view: every conversation, open or closed, with where it is now: its queue,
//! the agents in it, the offer ringing for it, and how it ended.
//!
//! It answers "where is this conversation now" for consoles and auditors; the full history is the
//! log itself.

use routing_core::event::{
    AcceptedFromWaiting, ConversationGrabbed, ConversationJoined, EventKind, WaitLimitOutcome,
};
use routing_core::ids::ExternalContactId;
use routing_core::{AgentId, Channel, ConnectorId, ConversationId, Event, QueueId, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    /// In its queue; possibly ringing for an agent (see `offered_to`).
    Waiting,
    /// At least one agent is in it.
    Active,
    /// On its agent's postponed list.
    Postponed,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overdue {
    InTime,
    SoonOverdue,
    Overdue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The customer wrote first.
    Inbound,
    /// An agent started it.
    Outbound,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub conversation: ConversationId,
    pub connector: ConnectorId,
    pub channel: Channel,
    pub queue: Option<QueueId>,
    /// The contact's pseudonym (or, for a contact from before pseudonyms, their handle).
    pub contact: ExternalContactId,
    pub contact_name: Option<String>,
    /// The customer's handle on the channel, where `contact` is a pseudonym; gone once the
    /// contact is anonymised.
    pub handle: Option<String>,
    pub status: ConversationStatus,
    pub direction: Direction,
    /// The agents in it now.
    pub agents: BTreeSet<AgentId>,
    /// The agent an offer (routing, transfer or invitation) rings for.
    pub offered_to: Option<AgentId>,
    pub important: bool,
    /// Status board: the customer waits for an answer past the queue's thresholds.
    pub overdue: Overdue,
    #[serde(with = "crate::rfc3339")]
    pub started_at: Timestamp,
    /// When an agent first took it.
    #[serde(with = "crate::rfc3339::option")]
    pub accepted_at: Option<Timestamp>,
    #[serde(with = "crate::rfc3339::option")]
    pub closed_at: Option<Timestamp>,
    pub closed_by: Option<AgentId>,
    pub close_status: Option<String>,
    pub customer_messages: u32,
    pub agent_messages: u32,
    /// The customer's newest message has had no agent's reply yet.
    pub awaiting_reply: bool,
    #[serde(with = "crate::rfc3339::option")]
    pub last_customer_message_at: Option<Timestamp>,
    /// When the customer last wrote through the connector, in this conversation or (for an
    /// outbound one) before it: the reply window counts from it.
    #[serde(with = "crate::rfc3339::option")]
    pub customer_wrote_at: Option<Timestamp>,
    /// In a grab queue: who won it, while they are still in it (and, once closed, who had it).
    #[serde(default)]
    pub grabbed_by: Option<AgentId>,
}

impl ConversationSummary {
    /// The conversation ended: by an agent with their status, or by the engine or the customer
    /// (no agent) for the reason given.
    fn close(&mut self, at: Timestamp, by: Option<&AgentId>, status: &str) {
        self.status = ConversationStatus::Closed;
        self.offered_to = None;
        self.closed_at = Some(at);
        self.closed_by = by.cloned();
        self.close_status = Some(status.to_owned());
    }

    /// A conversation that has just started: inbound, waiting, nobody in it.
    pub(crate) fn started(
        conversation: ConversationId,
        connector: &ConnectorId,
        channel: Channel,
        contact: &ExternalContactId,
        at: Timestamp,
    ) -> Self {
        Self {
            conversation,
            connector: connector.clone(),
            channel,
            queue: None,
            contact: contact.clone(),
            contact_name: None,
            handle: None,
            status: ConversationStatus::Waiting,
            direction: Direction::Inbound,
            agents: BTreeSet::new(),
            offered_to: None,
            important: false,
            overdue: Overdue::InTime,
            started_at: at,
            accepted_at: None,
            grabbed_by: None,
            closed_at: None,
            closed_by: None,
            close_status: None,
            customer_messages: 0,
            agent_messages: 0,
            awaiting_reply: false,
            last_customer_message_at: None,
            customer_wrote_at: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationsView {
    conversations: BTreeMap<ConversationId, ConversationSummary>,
    /// The conversations not closed, for the status board.
    open: BTreeSet<ConversationId>,
    /// Transfers ringing, by conversation: the agent each would hand over from.
    transfers: BTreeMap<ConversationId, AgentId>,
    /// The agent the event just applied handed a conversation over from (an accepted transfer),
    /// for as long as that event is the newest: they must hear of it, though no longer in it.
    #[serde(default)]
    handed_over: Option<(ConversationId, AgentId)>,
}

impl ConversationsView {
    pub fn apply(&mut self, event: &Event) {
        let at = event.at;
        self.handed_over = None;
        match &event.kind {
            EventKind::ConversationStarted(e) => {
                let mut row = ConversationSummary::started(
                    e.conversation,
                    &e.connector,
                    e.channel,
                    &e.contact,
                    at,
                );
                row.contact_name = e.contact_name.clone();
                row.handle = e.handle.clone();
                self.conversations.insert(e.conversation, row);
                self.open.insert(e.conversation);
                return;
            }
            EventKind::OutboundConversationStarted(e) => {
                let mut row = ConversationSummary::started(
                    e.conversation,
                    &e.connector,
                    e.channel,
                    &e.contact,
                    at,
                );
                row.queue = Some(e.queue.clone());
                row.handle = e.handle.clone();
                row.customer_wrote_at = e.customer_wrote_at;
                row.status = ConversationStatus::Active;
                row.direction = Direction::Outbound;
                row.agents = [e.agent.clone()].into();
                row.accepted_at = Some(at);
                self.conversations.insert(e.conversation, row);
                self.open.insert(e.conversation);
                return;
            }
            EventKind::ContactAnonymised(e) => {
                // Erasure is rare; a pass over the summaries keeps every row small.
                for row in self.conversations.values_mut() {
                    if row.connector == e.connector && row.contact == e.contact {
                        row.contact_name = None;
                        row.handle = None;
                    }
                }
                return;
            }
            _ => {}
        }
        let Some(id) = event.kind.conversation() else {
            return;
        };
        let Some(row) = self.conversations.get_mut(&id) else {
            return;
        };
        if matches!(
            event.kind,
            EventKind::ConversationClosed(_)
                | EventKind::ConversationExpired(_)
                | EventKind::WaitLimitReached(_)
                | EventKind::CustomerLeft(_)
        ) {
            self.transfers.remove(&id);
        }
        match &event.kind {
            EventKind::CustomerMessageReceived(_) => {
                row.customer_messages += 1;
                row.awaiting_reply = true;
                row.last_customer_message_at = Some(at);
                row.customer_wrote_at = Some(at);
            }
            EventKind::AgentMessageSent(_) => {
                row.agent_messages += 1;
                row.overdue = Overdue::InTime;
                row.awaiting_reply = false;
            }
            EventKind::ConversationSoonOverdue(_) => {
                if row.overdue == Overdue::InTime {
                    row.overdue = Overdue::SoonOverdue;
                }
            }
            EventKind::ConversationOverdue(_) => row.overdue = Overdue::Overdue,
            EventKind::AgentsReminded(_) => {}
            EventKind::ConversationReclaimed(e) => {
                for agent in &e.agents {
                    row.agents.remove(agent);
                }
            }
            EventKind::ConversationExpired(_) => {
                row.close(at, None, "expired");
            }
            EventKind::ConversationEnqueued(e) => {
                row.queue = Some(e.queue.clone());
                row.status = ConversationStatus::Waiting;
            }
            EventKind::ConversationOffered(e) => row.offered_to = Some(e.agent.clone()),
            EventKind::TransferOffered(e) => {
                row.offered_to = Some(e.to.clone());
                self.transfers.insert(id, e.from.clone());
            }
            EventKind::InviteOffered(e) => row.offered_to = Some(e.to.clone()),
            EventKind::OfferRejected(_)
            | EventKind::OfferTimedOut(_)
            | EventKind::OfferRescinded(_) => {
                row.offered_to = None;
                self.transfers.remove(&id);
            }
            EventKind::OfferAccepted(e) => {
                // An accepted transfer hands over: the agent it came from leaves.
                if let Some(from) = self.transfers.remove(&id) {
                    row.agents.remove(&from);
                    self.handed_over = Some((id, from));
                }
                row.offered_to = None;
                row.agents.insert(e.agent.clone());
                row.status = ConversationStatus::Active;
                row.accepted_at.get_or_insert(at);
            }
            EventKind::AcceptedFromWaiting(AcceptedFromWaiting { agent, .. })
            | EventKind::ConversationJoined(ConversationJoined { agent, .. })
            | EventKind::ConversationGrabbed(ConversationGrabbed { agent, .. }) => {
                if matches!(event.kind, EventKind::ConversationGrabbed(_)) {
                    row.grabbed_by = Some(agent.clone());
                }
                row.offered_to = None;
                row.agents.insert(agent.clone());
                row.status = ConversationStatus::Active;
                row.accepted_at.get_or_insert(at);
            }
            EventKind::TransferredToQueue(e) => {
                row.agents.remove(&e.agent);
                row.queue = Some(e.queue.clone());
                row.status = ConversationStatus::Waiting;
            }
            EventKind::AgentLeft(e) => {
                row.agents.remove(&e.agent);
                if row.agents.is_empty() {
                    row.status = ConversationStatus::Waiting;
                }
            }
            EventKind::ConversationPostponed(_) => row.status = ConversationStatus::Postponed,
            EventKind::ConversationResumed(_) => row.status = ConversationStatus::Active,
            EventKind::ImportanceMarked(e) => row.important = e.important,
            EventKind::ConversationClosed(e) => {
                row.close(at, Some(&e.agent), &e.status);
            }
            EventKind::WaitLimitReached(e) => {
                if e.outcome == WaitLimitOutcome::Closed {
                    row.close(at, None, "unanswered: waiting limit reached");
                }
            }
            EventKind::CustomerLeft(e) => {
                if e.closed {
                    row.close(at, None, "unanswered: customer left");
                }
            }
            EventKind::ConversationStarted(_)
            | EventKind::TeamNotified(_)
            | EventKind::PauseLimitExceeded(_)
            | EventKind::OutboundConversationStarted(_)
            | EventKind::AgentLoggedIn(_)
            | EventKind::AgentLoggedOut(_)
            | EventKind::AgentBecameReady(_)
            | EventKind::AgentPaused(_)
            | EventKind::AgentHeartbeatRecorded(_)
            | EventKind::AgentDisconnected(_)
            | EventKind::ActivityFocused(_)
            | EventKind::ActivityBlurred(_)
            | EventKind::ApiKeyIssued(_)
            | EventKind::ApiKeyRevoked(_)
            | EventKind::MessageDispatched(_)
            | EventKind::MessageDispatchFailed(_)
            | EventKind::MessageStatusChanged(_)
            | EventKind::CustomerPresenceChanged(_)
            | EventKind::ReceiptHeld(_)
            | EventKind::ContactAnonymised(_) => {}
        }
        // Who won a grab is told while they are in it; once they leave, it is history.
        if row
            .grabbed_by
            .as_ref()
            .is_some_and(|winner| !row.agents.contains(winner))
            && row.status != ConversationStatus::Closed
        {
            row.grabbed_by = None;
        }
        if row.status == ConversationStatus::Closed {
            self.open.remove(&id);
        }
    }

    /// Who the newest event handed `conversation` over from, if it completed a transfer.
    pub fn handed_over_by(&self, conversation: &ConversationId) -> Option<&AgentId> {
        self.handed_over
            .as_ref()
            .filter(|(id, _)| id == conversation)
            .map(|(_, from)| from)
    }

    /// The conversations not closed.
    pub fn open(&self) -> impl Iterator<Item = &ConversationSummary> {
        self.open.iter().filter_map(|id| self.conversations.get(id))
    }

    /// Every conversation the view knows, by id.
    pub fn all(&self) -> impl Iterator<Item = &ConversationSummary> {
        self.conversations.values()
    }

    pub fn get(&self, id: &ConversationId) -> Option<&ConversationSummary> {
        self.conversations.get(id)
    }
}
