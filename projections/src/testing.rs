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

/// Web-chat visitor `v-{n}` starts conversation `n`, which waits in `queue` from `ms` on.
pub(crate) fn arrival(n: u128, queue: &str, ms: i64) -> [Event; 2] {
    use routing_core::event::{ConversationEnqueued, ConversationStarted};
    use routing_core::ids::ExternalContactId;
    use routing_core::{Channel, ConnectorId, QueueId};
    [
        at(
            ms,
            ConversationStarted {
                handle: None,
                conversation: id(n),
                connector: ConnectorId::new("web"),
                channel: Channel::Webchat,
                contact: ExternalContactId::new(format!("v-{n}")),
                contact_name: None,
            },
        ),
        at(
            ms,
            ConversationEnqueued {
                conversation: id(n),
                queue: QueueId::new(queue),
                priority: 0,
                skills: Vec::new(),
            },
        ),
    ]
}
