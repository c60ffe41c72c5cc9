//! Switchboard's append-only log.
//!
//! One trait, [`EventStore`], and its backends: [`embedded::EmbeddedStore`] (redb, the default)
//! and [`postgres::PostgresStore`]; [`Store`] is whichever `--store` named, and [`Subscription`]
//! follows the global log. Events arrive already encoded: this crate never knows what an event
//! means, and nothing outside it knows how events are laid out on disk.

mod any;
pub mod chain;
pub mod embedded;
mod error;
pub mod postgres;
mod record;
mod subscription;
pub mod vault;

pub use any::{Store, is_postgres};
pub use error::{AppendError, StoreError};
pub use record::{
    AppendOutcome, AppendRequest, ExpectedVersion, NewEvent, Position, StoredEvent, WriterEpoch,
};
pub use subscription::Subscription;

use std::future::Future;
use tokio::sync::watch;

/// The most events one append may carry; a bigger batch is refused, not split.
pub const MAX_EVENTS_PER_APPEND: usize = 1024;

/// The operations every backend offers, with the same guarantees (the conformance tests run
/// against each backend).
pub trait EventStore: Send + Sync + 'static {
    /// Appends a batch atomically: every event or none. When an event's idempotency key is already
    /// stored, nothing is appended and the outcome names the position it has.
    fn append(
        &self,
        request: AppendRequest,
    ) -> impl Future<Output = Result<AppendOutcome, AppendError>> + Send;

    /// Events of the global log after `after`, in position order, at most `limit`.
    fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send;

    /// Events of one stream with a version above `after_version`, in order, at most `limit`.
    fn read_stream(
        &self,
        stream: &str,
        after_version: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send;

    /// The position of the event stored under an idempotency key, if any.
    fn find_idempotency_key(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<Position>, StoreError>> + Send;

    /// The positions stored under several idempotency keys, one answer per key in order: one
    /// round trip for a whole batch of inbound messages.
    fn find_idempotency_keys(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<Vec<Option<Position>>, StoreError>> + Send;

    /// Claims the log for a new writer: the returned epoch is higher than every earlier claim,
    /// and from now on appends presenting an older epoch (or none) are refused with
    /// [`AppendError::Fenced`].
    fn claim_writer(&self) -> impl Future<Output = Result<WriterEpoch, StoreError>> + Send;

    /// The position of the newest committed event, updated after every commit. It only wakes
    /// readers: they then read the log itself.
    fn head(&self) -> watch::Receiver<Position>;
}
