//! The waiting view: conversations in their queue that no agent has taken yet, in serving order.
//!
//! A conversation that is being offered is still waiting (as in the product's waiting activities,
//! which show chats "being routed to one of your colleagues"); it leaves the view when an agent
//! takes it, and comes back when its last agent hands it to a queue or leaves it.

use routing_core::event::EventKind;
use routing_core::ids::ExternalContactId;
use routing_core::{AgentId, Channel, ConversationId, Event, QueueId, Timestamp};
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

/// What the view remembers of every open conversation, to list it again when it re-enters a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Known {
    channel: Channel,
    contact: ExternalContactId,
    contact_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Waiting {
    queue: QueueId,
    since: Timestamp,
    priority: u8,
    offered_to: Option<AgentId>,
}

/// One row of the view, as a query returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitingRow {
    pub conversation: ConversationId,
    pub queue: QueueId,
    pub channel: Channel,
    pub contact: ExternalContactId,
    pub contact_name: Option<String>,
    #[serde(with = "crate::rfc3339")]
    pub waiting_since: Timestamp,
    pub time_in_queue_ms: u64,
    /// Higher is served first.
    pub priority: u8,
    pub offered_to: Option<AgentId>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WaitingView {
    known: BTreeMap<ConversationId, Known>,
    rows: BTreeMap<ConversationId, Waiting>,
    /// Serving order: highest priority first, then oldest first.
    order: BTreeSet<(Reverse<u8>, Timestamp, ConversationId)>,
}

impl WaitingView {
    pub fn apply(&mut self, event: &Event) {
        match &event.kind {
            EventKind::ConversationStarted(e) => {
                self.known.insert(
                    e.conversation,
                    Known {
                        channel: e.channel,
                        contact: e.contact.clone(),
                        contact_name: e.contact_name.clone(),
                    },
                );
            }
            EventKind::OutboundConversationStarted(e) => {
                self.known.insert(
                    e.conversation,
                    Known {
                        channel: e.channel,
                        contact: e.contact.clone(),
                        contact_name: None,
                    },
                );
            }
            EventKind::ConversationEnqueued(e) => {
                self.remove(e.conversation);
                self.rows.insert(
                    e.conversation,
                    Waiting {
                        queue: e.queue.clone(),
                        since: event.at,
                        priority: e.priority,
                        offered_to: None,
                    },
                );
                self.order
                    .insert((Reverse(e.priority), event.at, e.conversation));
            }
            EventKind::ConversationOffered(e) => {
                if let Some(row) = self.rows.get_mut(&e.conversation) {
                    row.offered_to = Some(e.agent.clone());
                }
            }
            EventKind::OfferRejected(e) => self.unoffer(e.conversation, &e.agent),
            EventKind::OfferTimedOut(e) => self.unoffer(e.conversation, &e.agent),
            EventKind::OfferRescinded(e) => self.unoffer(e.conversation, &e.agent),
            EventKind::OfferAccepted(e) => self.remove(e.conversation),
            EventKind::AcceptedFromWaiting(e) => self.remove(e.conversation),
            EventKind::ConversationClosed(_) | EventKind::ConversationExpired(_) => {
                if let Some(id) = event.kind.conversation() {
                    self.remove(id);
                    self.known.remove(&id);
                }
            }
            EventKind::CustomerMessageReceived(_)
            | EventKind::AgentMessageSent(_)
            | EventKind::TransferOffered(_)
            | EventKind::TransferredToQueue(_)
            | EventKind::InviteOffered(_)
            | EventKind::AgentLeft(_)
            | EventKind::ConversationPostponed(_)
            | EventKind::ConversationResumed(_)
            | EventKind::ImportanceMarked(_)
            | EventKind::ConversationSoonOverdue(_)
            | EventKind::ConversationOverdue(_)
            | EventKind::AgentsReminded(_)
            | EventKind::ConversationReclaimed(_)
            | EventKind::AgentLoggedIn(_)
            | EventKind::AgentLoggedOut(_)
            | EventKind::AgentBecameReady(_)
            | EventKind::AgentPaused(_)
            | EventKind::AgentHeartbeatRecorded(_)
            | EventKind::AgentDisconnected(_) => {}
        }
    }

    fn remove(&mut self, conversation: ConversationId) {
        if let Some(row) = self.rows.remove(&conversation) {
            self.order
                .remove(&(Reverse(row.priority), row.since, conversation));
        }
    }

    fn unoffer(&mut self, conversation: ConversationId, agent: &AgentId) {
        if let Some(row) = self.rows.get_mut(&conversation)
            && row.offered_to.as_ref() == Some(agent)
        {
            row.offered_to = None;
        }
    }

    /// The waiting conversations of one queue (or all), in serving order (priority, then age),
    /// with their time in queue measured at `now`.
    pub fn list(&self, queue: Option<&QueueId>, now: Timestamp) -> Vec<WaitingRow> {
        self.order
            .iter()
            .filter_map(|(_, _, id)| {
                let row = self.rows.get(id)?;
                if queue.is_some_and(|wanted| *wanted != row.queue) {
                    return None;
                }
                let known = self.known.get(id)?;
                Some(WaitingRow {
                    conversation: *id,
                    queue: row.queue.clone(),
                    channel: known.channel,
                    contact: known.contact.clone(),
                    contact_name: known.contact_name.clone(),
                    waiting_since: row.since,
                    time_in_queue_ms: now.millis_since(row.since),
                    priority: row.priority,
                    offered_to: row.offered_to.clone(),
                })
            })
            .collect()
    }
}
