//! The store's errors: infrastructure failures and optimistic-concurrency conflicts, never
//! domain rejections.

use crate::record::{ExpectedVersion, WriterEpoch};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("the event store cannot be opened at {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the event store at {path} is in use by another process")]
    InUse { path: String },
    #[error("storage failure: {0}")]
    Storage(#[from] redb::Error),
    /// PostgreSQL refused or failed a statement, or the connection broke. (Its messages never
    /// carry the connection string's password.)
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("invalid store location: {0}")]
    InvalidLocation(String),
    #[error("stored event at position {position} is unreadable: {reason}")]
    Corrupt { position: u64, reason: String },
    /// The disk or the database failed mid-commit. Whether the batch is stored is unknown; the
    /// store accepts nothing more, and the process must restart to recover from the file.
    #[error(
        "the event store failed ({0}); whether the last appends were stored is unknown; restart to recover"
    )]
    Failed(String),
    #[error("the event store has shut down")]
    Closed,
}

#[derive(Debug, Error)]
pub enum AppendError {
    #[error("stream '{stream}' is at version {actual}, expected {expected}")]
    WrongExpectedVersion {
        stream: String,
        expected: ExpectedVersion,
        actual: u64,
    },
    #[error("idempotency key '{key}' appears twice in one append")]
    DuplicateKeyInRequest { key: String },
    #[error(
        "the log is claimed by writer epoch {current}, this writer presented {}: another server has taken over routing",
        presented.map_or_else(|| "none".to_string(), |e| e.to_string())
    )]
    Fenced {
        presented: Option<WriterEpoch>,
        current: u64,
    },
    #[error("an append must carry at least one event")]
    Empty,
    #[error("an append may carry at most {max} events, got {got}")]
    TooLarge { max: usize, got: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub(crate) fn storage<E: Into<redb::Error>>(error: E) -> StoreError {
    StoreError::Storage(error.into())
}
