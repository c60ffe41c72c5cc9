//! The waiting view: conversations in their queue that no agent has accepted yet, oldest first.
//!
//! A conversation that is being offered is still waiting (as in the product's waiting activities,
//! which show chats "being routed to one of your colleagues"); it leaves the view when accepted or
//! closed.

use routing_core::event::EventKind;
use routing_core::ids::ExternalContactId;
use routing_core::{AgentId, Channel, ConversationId, Event, QueueId, Timestamp};
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Waiting {
    queue: Option<QueueId>,
    channel: Channel,
    contact: ExternalContactId,
    contact_name: Option<String>,
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
    rows: BTreeMap<ConversationId, Waiting>,
    /// Serving order: highest priority first, then oldest first.
    order: BTreeSet<(Reverse<u8>, Timestamp, ConversationId)>,
}

impl WaitingView {
    pub fn apply(&mut self, event: &Event) {
        match &event.kind {
            EventKind::ConversationStarted(e) => {
                self.rows.insert(
                    e.conversation,
                    Waiting {
                        queue: None,
                        channel: e.channel,
                        contact: e.contact.clone(),
                        contact_name: e.contact_name.clone(),
                        since: event.at,
                        priority: 0,
                        offered_to: None,
                    },
                );
                self.order.insert((Reverse(0), event.at, e.conversation));
            }
            EventKind::ConversationEnqueued(e) => {
                if let Some(row) = self.rows.get_mut(&e.conversation) {
                    self.order
                        .remove(&(Reverse(row.priority), row.since, e.conversation));
                    row.queue = Some(e.queue.clone());
                    row.priority = e.priority;
                    row.since = event.at;
                    self.order
                        .insert((Reverse(row.priority), row.since, e.conversation));
                }
            }
            EventKind::ConversationOffered(e) => {
                if let Some(row) = self.rows.get_mut(&e.conversation) {
                    row.offered_to = Some(e.agent.clone());
                }
            }
            EventKind::OfferRejected(e) => self.unoffer(e.conversation),
            EventKind::OfferTimedOut(e) => self.unoffer(e.conversation),
            EventKind::OfferRescinded(e) => self.unoffer(e.conversation),
            EventKind::OfferAccepted(e) => self.remove(e.conversation),
            EventKind::AcceptedFromWaiting(e) => self.remove(e.conversation),
            EventKind::ConversationClosed(e) => self.remove(e.conversation),
            EventKind::CustomerMessageReceived(_)
            | EventKind::AgentMessageSent(_)
            | EventKind::AgentLoggedIn(_)
            | EventKind::AgentLoggedOut(_)
            | EventKind::AgentBecameReady(_)
            | EventKind::AgentPaused(_) => {}
        }
    }

    fn remove(&mut self, conversation: ConversationId) {
        if let Some(row) = self.rows.remove(&conversation) {
            self.order
                .remove(&(Reverse(row.priority), row.since, conversation));
        }
    }

    fn unoffer(&mut self, conversation: ConversationId) {
        if let Some(row) = self.rows.get_mut(&conversation) {
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
                let row_queue = row.queue.as_ref()?;
                if queue.is_some_and(|wanted| wanted != row_queue) {
                    return None;
                }
                Some(WaitingRow {
                    conversation: *id,
                    queue: row_queue.clone(),
                    channel: row.channel,
                    contact: row.contact.clone(),
                    contact_name: row.contact_name.clone(),
                    waiting_since: row.since,
                    time_in_queue_ms: now.millis_since(row.since),
                    priority: row.priority,
                    offered_to: row.offered_to.clone(),
                })
            })
            .collect()
    }
}
