//! Read models: what agents and supervisors look at, built only from the log.
//!
//! Every view here is a pure fold over decoded events: it never does IO, never decides anything
//! and never reads a clock (a query that needs "now", like time in queue, takes it as an argument).
//! Feeding the same events from position 0 must rebuild exactly the same view.
//!
//! A snapshot is the views and their checkpoint as one byte string ([`ReadModels::snapshot`]):
//! what the caller stores, it stores together, so that a restart resumes from the checkpoint
//! without counting anything twice. Writing and reading it is the caller's business.

pub mod agents;
pub mod board;
pub mod conversations;
pub mod export;
pub mod focus;
pub mod interactions;
pub mod keys;
pub mod missed;
pub mod notifications;
pub mod outbox;
pub mod postponed;
pub mod queues;
pub mod rfc3339;
pub mod rights;
#[cfg(test)]
mod testing;
pub mod waiting;

use routing_core::{AgentId, Event};
use serde::{Deserialize, Serialize};

/// The layout of snapshots this build writes and reads. Bump it whenever a view's state changes
/// shape or meaning: an older snapshot is then refused, and the views are rebuilt from the log
/// instead of being misread.
pub const SNAPSHOT_FORMAT: u32 = 11;

/// Why a snapshot cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("the snapshot has format {found}; this build reads format {expected}")]
    Format { found: u32, expected: u32 },
    #[error("the snapshot cannot be read: {0}")]
    Unreadable(String),
}

/// Every read model, fed together and checkpointed together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadModels {
    /// The position of the last event applied; 0 before any.
    checkpoint: u64,
    pub waiting: waiting::WaitingView,
    pub conversations: conversations::ConversationsView,
    pub agents: agents::AgentsView,
    pub missed: missed::MissedView,
    pub postponed: postponed::PostponedView,
    pub queues: queues::QueuesView,
    pub focus: focus::FocusView,
    pub interactions: interactions::InteractionsView,
    pub keys: keys::KeysView,
    pub outbox: outbox::OutboxView,
}

impl ReadModels {
    /// Empty views for a contact centre with these agents.
    pub fn new(agents: impl IntoIterator<Item = AgentId>) -> Self {
        Self {
            checkpoint: 0,
            waiting: waiting::WaitingView::default(),
            conversations: conversations::ConversationsView::default(),
            agents: agents::AgentsView::new(agents),
            missed: missed::MissedView::default(),
            postponed: postponed::PostponedView::default(),
            queues: queues::QueuesView::default(),
            focus: focus::FocusView::default(),
            interactions: interactions::InteractionsView::default(),
            keys: keys::KeysView::default(),
            outbox: outbox::OutboxView::default(),
        }
    }

    pub fn checkpoint(&self) -> u64 {
        self.checkpoint
    }

    /// The views and their checkpoint, as one byte string to store.
    pub fn snapshot(&self) -> Result<Vec<u8>, SnapshotError> {
        #[derive(Serialize)]
        struct Snapshot<'a> {
            format: u32,
            models: &'a ReadModels,
        }
        serde_json::to_vec(&Snapshot {
            format: SNAPSHOT_FORMAT,
            models: self,
        })
        .map_err(|e| SnapshotError::Unreadable(e.to_string()))
    }

    /// The views a [`ReadModels::snapshot`] holds; refused when another layout wrote it.
    pub fn restore(bytes: &[u8]) -> Result<Self, SnapshotError> {
        #[derive(Deserialize)]
        struct Header {
            format: u32,
        }
        #[derive(Deserialize)]
        struct Snapshot {
            models: ReadModels,
        }
        let unreadable = |e: serde_json::Error| SnapshotError::Unreadable(e.to_string());
        let header: Header = serde_json::from_slice(bytes).map_err(unreadable)?;
        if header.format != SNAPSHOT_FORMAT {
            return Err(SnapshotError::Format {
                found: header.format,
                expected: SNAPSHOT_FORMAT,
            });
        }
        let snapshot: Snapshot = serde_json::from_slice(bytes).map_err(unreadable)?;
        Ok(snapshot.models)
    }

    /// Applies the event stored at `position`. Positions at or below the checkpoint were already
    /// counted and are skipped, so feeding an event twice never counts it twice.
    pub fn apply(&mut self, position: u64, event: &Event) {
        if position <= self.checkpoint {
            return;
        }
        let conversation = event.kind.conversation();
        let queue_before = conversation.and_then(|c| self.waiting.queue_of(&c).cloned());
        self.waiting.apply(event);
        self.conversations.apply(event);
        self.agents.apply(event);
        self.missed.apply(event);
        self.postponed.apply(event);
        self.queues.apply(event);
        if let Some(conversation) = conversation {
            // The queues' waiting counts over the day, recorded where they change.
            let queue_after = self.waiting.queue_of(&conversation);
            if queue_after != queue_before.as_ref() {
                for queue in [queue_before.as_ref(), queue_after].into_iter().flatten() {
                    self.queues
                        .level(queue, self.waiting.count(queue), event.at);
                }
            }
        }
        self.focus.apply(event);
        self.interactions.apply(event);
        self.keys.apply(event);
        self.outbox.apply(position, event, &self.conversations);
        if let Some(conversation) = event.kind.conversation() {
            let nobody = std::collections::BTreeSet::new();
            let in_it = match self.conversations.get(&conversation) {
                Some(summary) if summary.status != conversations::ConversationStatus::Closed => {
                    &summary.agents
                }
                _ => &nobody,
            };
            self.focus.settle(conversation, in_it, event.at);
            self.interactions.settle(conversation, in_it, event.at);
        }
        self.checkpoint = position;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_of_another_layout_or_no_snapshot_at_all_is_refused() {
        let models = ReadModels::new([AgentId::new("ada")]);
        let bytes = models.snapshot().unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8(bytes).unwrap_or_else(|e| panic!("{e}"));
        let older = text.replacen(&format!("\"format\":{SNAPSHOT_FORMAT}"), "\"format\":0", 1);
        assert!(matches!(
            ReadModels::restore(older.as_bytes()),
            Err(SnapshotError::Format { found: 0, .. })
        ));
        assert!(matches!(
            ReadModels::restore(format!("{{\"format\":{SNAPSHOT_FORMAT},\"models\":").as_bytes()),
            Err(SnapshotError::Unreadable(_))
        ));
        assert!(matches!(
            ReadModels::restore(b"not json"),
            Err(SnapshotError::Unreadable(_))
        ));
    }
}
