//! The routing core: the deterministic brain of Switchboard.
//!
//! It turns a [`Command`] (which carries the current time as data, in its [`Context`]) into
//! [`Event`]s or a typed [`Rejection`], and rebuilds its [`State`] by applying events. It must never
//! do IO, read a clock, draw a random number or let hash iteration order reach an event: the same
//! commands with the same timestamps must always give the same events, byte for byte.
//!
//! The service around the core loads the state, calls [`decide`], appends the events, then
//! [`State::apply`]s them. Nothing here knows how events are stored or sent over HTTP.

pub mod codec;
pub mod command;
pub mod config;
pub mod event;
pub mod ids;
pub mod rejection;
mod routing;
pub mod state;
pub mod time;

mod decide;

pub use command::{Command, Context};
pub use config::{
    AgentConfig, CentreConfig, Channel, ConnectorConfig, QueueConfig, RoutingStrategy,
};
pub use decide::decide;
pub use event::{Event, EventKind};
pub use ids::{AgentId, ConnectorId, ConversationId, QueueId};
pub use rejection::Rejection;
pub use state::State;
pub use time::Timestamp;
