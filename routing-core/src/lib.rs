//! The routing core: the deterministic brain of Switchboard.
//!
//! It turns a [`Command`] (which carries the current time as data, in its [`Context`]) into
//! [`Event`]s or a typed [`Rejection`], and rebuilds its [`State`] by applying events. It must never
//! do IO, read a clock, draw a random number or let hash iteration order reach an event: the same
//! commands with the same timestamps must always give the same events, byte for byte.
//!
//! The service around the core rebuilds the state from the log with [`State::apply`], then hands
//! each command to [`State::execute`], which validates it completely (a rejection changes
//! nothing), emits its events applying them as it goes, and routes on the result. The service
//! appends the events; if that fails, it rebuilds the state from the log. Nothing here knows how
//! events are stored or sent over HTTP.

pub mod access;
pub mod codec;
pub mod command;
pub mod config;
pub mod content;
pub mod event;
mod execute;
pub mod ids;
pub mod privacy;
pub mod rejection;
mod routing;
pub mod state;
pub mod time;

pub use command::{Command, Context, Target};
pub use config::{
    AfterMaxWait, AgentConfig, CentreConfig, Channel, ConnectorConfig, MaxWait, PauseLimits,
    QueueConfig, Reminder, RoutingMode, RoutingStrategy, TransferDeclined,
};
pub use content::{Attachment, DeliveryStatus, DispatchOutcome, MessageKind, ReceiptFor};
pub use event::{Event, EventKind};
pub use execute::decide;
pub use ids::{AgentId, ConnectorId, ConversationId, KeyId, QueueId};
pub use rejection::Rejection;
pub use state::State;
pub use time::Timestamp;
