//! Switchboard's service: the HTTP API, the single-writer engine around the routing core, the feed
//! that keeps the read models current, and the `switchboard` binary's commands.
//!
//! Nothing here decides routing or lifecycle rules: the engine asks `routing-core`, the read models
//! live in `projections`, and the log in `event-store`.

pub mod access;
pub mod cli;
pub mod clock;
pub mod config_file;
pub mod engine;
pub mod feed;
pub mod http;
pub mod keyring;
pub mod replay;
pub mod server;
pub mod snapshot;
pub mod verify;
