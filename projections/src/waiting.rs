//! The waiting view: conversations in their queue that no agent has accepted yet, oldest first.
//!
//! A conversation that is being offered is still waiting (as in the product's waiting activities,
//! which show chats "being routed to one of your colleagues"); it leaves the view when accepted or
//! closed.

use routing_core::event::EventKind;
use routing_core::ids::ExternalContactId;
use routing_core::{AgentId, Channel, ConversationId, Event, QueueId, Timestamp};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Waiting {
    queue: Option<QueueId>,
    channel: Channel,
    contact: ExternalContactId,
    contact_name: Option<String>,
    since: Timestamp,
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
    pub offered_to: Option<AgentId>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WaitingView {
    rows: BTreeMap<ConversationId, Waiting>,
    /// Oldest first: (waiting since, conversation).
    order: BTreeSet<(Timestamp, ConversationId)>,
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
                        offered_to: None,
                    },
                );
                self.order.insert((event.at, e.conversation));
            }
            EventKind::ConversationEnqueued(e) => {
                if let Some(row) = self.rows.get_mut(&e.conversation) {
                    row.queue = Some(e.queue.clone());
                }
            }
            EventKind::ConversationOffered(e) => {
                if let Some(row) = self.rows.get_mut(&e.conversation) {
                    row.offered_to = Some(e.agent.clone());
                }
            }
            EventKind::OfferAccepted(e) => self.remove(e.conversation),
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
            self.order.remove(&(row.since, conversation));
        }
    }

    /// The waiting conversations of one queue (or all), oldest first, with their time in queue
    /// measured at `now`.
    pub fn list(&self, queue: Option<&QueueId>, now: Timestamp) -> Vec<WaitingRow> {
        self.order
            .iter()
            .filter_map(|(_, id)| {
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
                    offered_to: row.offered_to.clone(),
                })
            })
            .collect()
    }
}
