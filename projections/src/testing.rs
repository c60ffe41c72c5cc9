//! What the views' unit tests share: ids and events made in one line.

use routing_core::event::EventKind;
use routing_core::{ConversationId, Event, Timestamp};

/// Conversation number `n`.
pub(crate) fn id(n: u128) -> ConversationId {
    ConversationId::from_uuid(uuid::Uuid::from_u128(n))
}

/// An event of `kind` at `ms` milliseconds.
pub(crate) fn at(ms: i64, kind: impl Into<EventKind>) -> Event {
    Event {
        at: Timestamp::from_millis(ms),
        kind: kind.into(),
    }
}
