//! The waiting view: conversations in their queue that no agent has taken yet, in serving order.
//!
//! A conversation that is being offered is still waiting (as in the product's waiting activities,
//! which show chats "being routed to one of your colleagues"); it leaves the view when an agent
//! takes it, and comes back when its last agent hands it to a queue or leaves it.

use routing_core::event::EventKind;
use routing_core::ids::ExternalContactId;
use routing_core::{AgentId, Channel, ConversationId, Event, QueueId, Timestamp};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// What the view remembers of every open conversation, to list it again when it re-enters a queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Known {
    channel: Channel,
    contact: ExternalContactId,
    contact_name: Option<String>,
    handle: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Waiting {
    queue: QueueId,
    since: Timestamp,
    priority: u8,
    offered_to: Option<AgentId>,
}

/// One row of the view, as a query returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingRow {
    pub conversation: ConversationId,
    pub queue: QueueId,
    pub channel: Channel,
    pub contact: ExternalContactId,
    pub contact_name: Option<String>,
    /// The customer's handle, where `contact` is a pseudonym.
    pub handle: Option<String>,
    #[serde(with = "crate::rfc3339")]
    pub waiting_since: Timestamp,
    pub time_in_queue_ms: u64,
    /// Higher is served first.
    pub priority: u8,
    pub offered_to: Option<AgentId>,
    /// 1 for the next conversation its queue serves.
    pub position: u32,
    /// Position times the queue's recent interval between conversations taken by agents; `None`
    /// until the queue has a history of at least two.
    pub estimated_wait_ms: Option<u64>,
}

/// How many recent takes the estimate averages over.
const TAKES_REMEMBERED: usize = 20;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingView {
    /// Per queue, when agents most recently took a waiting conversation (oldest first).
    takes: BTreeMap<QueueId, VecDeque<Timestamp>>,
    known: BTreeMap<ConversationId, Known>,
    rows: BTreeMap<ConversationId, Waiting>,
    /// Serving order: highest priority first, then oldest first.
    order: BTreeSet<(Reverse<u8>, Timestamp, ConversationId)>,
    /// How many wait in each queue (queues with none are absent).
    counts: BTreeMap<QueueId, u32>,
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
                        handle: e.handle.clone(),
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
                        handle: e.handle.clone(),
                    },
                );
            }
            EventKind::ConversationEnqueued(e) => {
                self.remove(e.conversation);
                *self.counts.entry(e.queue.clone()).or_default() += 1;
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
            EventKind::OfferAccepted(e) => self.take(e.conversation, event.at),
            EventKind::AcceptedFromWaiting(e) => self.take(e.conversation, event.at),
            EventKind::ConversationJoined(e) => self.take(e.conversation, event.at),
            EventKind::ConversationGrabbed(e) => self.take(e.conversation, event.at),
            EventKind::WaitLimitReached(e) => {
                // An overflow is followed by its enqueueing in the other queue.
                if e.outcome == routing_core::event::WaitLimitOutcome::Closed {
                    self.remove(e.conversation);
                    self.known.remove(&e.conversation);
                }
            }
            EventKind::CustomerLeft(e) => {
                if e.closed {
                    self.remove(e.conversation);
                    self.known.remove(&e.conversation);
                }
            }
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
            | EventKind::AgentDisconnected(_)
            | EventKind::TeamNotified(_)
            | EventKind::PauseLimitExceeded(_)
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
    }

    fn remove(&mut self, conversation: ConversationId) {
        if let Some(row) = self.rows.remove(&conversation) {
            self.order
                .remove(&(Reverse(row.priority), row.since, conversation));
            if let Some(count) = self.counts.get_mut(&row.queue) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    self.counts.remove(&row.queue);
                }
            }
        }
    }

    /// The queue a conversation waits in, if it waits.
    pub fn queue_of(&self, conversation: &ConversationId) -> Option<&QueueId> {
        self.rows.get(conversation).map(|row| &row.queue)
    }

    /// How many conversations wait in a queue.
    pub fn count(&self, queue: &QueueId) -> u32 {
        self.counts.get(queue).copied().unwrap_or(0)
    }

    /// An agent took a waiting conversation: it leaves the view and counts for the estimate.
    fn take(&mut self, conversation: ConversationId, at: Timestamp) {
        if let Some(row) = self.rows.get(&conversation) {
            let takes = self.takes.entry(row.queue.clone()).or_default();
            takes.push_back(at);
            if takes.len() > TAKES_REMEMBERED {
                takes.pop_front();
            }
        }
        self.remove(conversation);
    }

    /// The queue's recent interval between takes, in milliseconds.
    fn interval_ms(&self, queue: &QueueId) -> Option<u64> {
        let takes = self.takes.get(queue)?;
        let (first, last) = (takes.front()?, takes.back()?);
        let gaps = u64::try_from(takes.len().checked_sub(1)?)
            .ok()
            .filter(|n| *n > 0)?;
        Some(last.millis_since(*first) / gaps)
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
    /// Per queue: how many conversations wait, and since when the oldest has waited.
    pub fn per_queue(&self) -> BTreeMap<&QueueId, (u32, Timestamp)> {
        let mut queues: BTreeMap<&QueueId, (u32, Timestamp)> = BTreeMap::new();
        for row in self.rows.values() {
            let entry = queues.entry(&row.queue).or_insert((0, row.since));
            entry.0 += 1;
            entry.1 = entry.1.min(row.since);
        }
        queues
    }

    pub fn list(&self, queue: Option<&QueueId>, now: Timestamp) -> Vec<WaitingRow> {
        let mut positions: BTreeMap<&QueueId, u32> = BTreeMap::new();
        self.order
            .iter()
            .filter_map(|(_, _, id)| {
                let row = self.rows.get(id)?;
                let known = self.known.get(id)?;
                let position = positions.entry(&row.queue).or_default();
                *position += 1;
                let position = *position;
                if queue.is_some_and(|wanted| *wanted != row.queue) {
                    return None;
                }
                Some(WaitingRow {
                    conversation: *id,
                    queue: row.queue.clone(),
                    channel: known.channel,
                    contact: known.contact.clone(),
                    contact_name: known.contact_name.clone(),
                    handle: known.handle.clone(),
                    waiting_since: row.since,
                    time_in_queue_ms: now.millis_since(row.since),
                    priority: row.priority,
                    offered_to: row.offered_to.clone(),
                    position,
                    estimated_wait_ms: self
                        .interval_ms(&row.queue)
                        .map(|interval| interval.saturating_mul(u64::from(position))),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use routing_core::event::{ConversationEnqueued, ConversationStarted, OfferAccepted};
    use routing_core::ids::ExternalContactId;
    use routing_core::{ConnectorId, EventKind};

    fn id(n: u128) -> ConversationId {
        ConversationId::from_uuid(uuid::Uuid::from_u128(n))
    }

    fn at(seconds: i64, kind: impl Into<EventKind>) -> Event {
        Event {
            at: Timestamp::from_millis(seconds * 1000),
            kind: kind.into(),
        }
    }

    fn arrive(view: &mut WaitingView, n: u128, seconds: i64) {
        view.apply(&at(
            seconds,
            ConversationStarted {
                handle: None,
                conversation: id(n),
                connector: ConnectorId::new("web"),
                channel: Channel::Webchat,
                contact: ExternalContactId::new(format!("v-{n}")),
                contact_name: None,
            },
        ));
        view.apply(&at(
            seconds,
            ConversationEnqueued {
                conversation: id(n),
                queue: QueueId::new("support"),
                priority: 0,
                skills: Vec::new(),
            },
        ));
    }

    fn take(view: &mut WaitingView, n: u128, seconds: i64) {
        view.apply(&at(
            seconds,
            OfferAccepted {
                conversation: id(n),
                agent: AgentId::new("alice"),
            },
        ));
    }

    #[test]
    fn each_waiting_conversation_has_a_position_and_an_estimated_wait_from_the_queues_pace() {
        let mut view = WaitingView::default();
        for n in 1..=5 {
            arrive(&mut view, n, 0);
        }
        let rows = view.list(None, Timestamp::from_millis(0));
        assert_eq!(
            rows.iter().map(|r| r.position).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        assert!(
            rows.iter().all(|r| r.estimated_wait_ms.is_none()),
            "no pace yet"
        );
        // Agents take one every 30 s.
        take(&mut view, 1, 30);
        take(&mut view, 2, 60);
        take(&mut view, 3, 90);
        let rows = view.list(
            Some(&QueueId::new("support")),
            Timestamp::from_millis(90_000),
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].position, rows[0].estimated_wait_ms),
            (1, Some(30_000))
        );
        assert_eq!(
            (rows[1].position, rows[1].estimated_wait_ms),
            (2, Some(60_000))
        );
    }
}
