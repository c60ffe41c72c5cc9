//! Newtype identifiers, so an agent id can never be passed where a queue id is meant.
//!
//! Ids are chosen outside the core (configuration, or the service's id generator) and only carried
//! here; the core never invents one.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// An agent, as named in the configuration.
    AgentId
);
string_id!(
    /// A queue, as named in the configuration.
    QueueId
);
string_id!(
    /// A channel connector (one provider account routed to one queue), as named in the configuration.
    ConnectorId
);
string_id!(
    /// The customer's handle on a channel: a phone number, a page-scoped id, a web-chat visitor id.
    ExternalContactId
);
string_id!(
    /// An API key, as named in the configuration or given when it was issued. Not its secret.
    KeyId
);
string_id!(
    /// A message id: the provider's for inbound messages, the service's for agent messages.
    MessageId
);

/// One conversation (an interaction) from its first customer message to its close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConversationId(uuid::Uuid);

// Ordered as the UUID's 128-bit big-endian value, which is the same order as its bytes; comparing
// integers instead of byte slices matters on the hot path (every index is keyed by it).
impl Ord for ConversationId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.as_u128().cmp(&other.0.as_u128())
    }
}

impl PartialOrd for ConversationId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl ConversationId {
    pub fn from_uuid(id: uuid::Uuid) -> Self {
        Self(id)
    }

    pub fn as_uuid(&self) -> uuid::Uuid {
        self.0
    }
}

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for ConversationId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s).map(Self)
    }
}
