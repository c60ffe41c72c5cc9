//! The backend chosen at start-up: `--store` names a directory (embedded) or a `postgres://` URL.
//! This module only picks and forwards; it must hold no behaviour of its own.

use crate::embedded::EmbeddedStore;
use crate::postgres::{Location, PostgresStore};
use crate::{
    AppendError, AppendOutcome, AppendRequest, EventStore, Position, StoreError, StoredEvent,
    WriterEpoch,
};
use tokio::sync::watch;

/// Either backend, behind the one trait.
#[derive(Clone)]
pub enum Store {
    Embedded(EmbeddedStore),
    Postgres(PostgresStore),
}

impl Store {
    /// Opens the log `spec` names: a `postgres://` or `postgresql://` URL, or else a directory.
    pub async fn open(spec: &str) -> Result<Self, StoreError> {
        if is_postgres(spec) {
            Ok(Store::Postgres(
                PostgresStore::connect(Location::parse(spec)?).await?,
            ))
        } else {
            Ok(Store::Embedded(EmbeddedStore::open(spec)?))
        }
    }

    /// Where the log is, fit for a log line (never a password).
    pub fn describe(&self) -> String {
        match self {
            Store::Embedded(store) => store.path().display().to_string(),
            Store::Postgres(store) => store.location().to_string(),
        }
    }
}

/// Whether a `--store` value names a PostgreSQL database.
pub fn is_postgres(spec: &str) -> bool {
    spec.starts_with("postgres://") || spec.starts_with("postgresql://")
}

impl EventStore for Store {
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, AppendError> {
        match self {
            Store::Embedded(store) => store.append(request).await,
            Store::Postgres(store) => store.append(request).await,
        }
    }

    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        match self {
            Store::Embedded(store) => store.read_all(after, limit).await,
            Store::Postgres(store) => store.read_all(after, limit).await,
        }
    }

    async fn read_stream(
        &self,
        stream: &str,
        after_version: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        match self {
            Store::Embedded(store) => store.read_stream(stream, after_version, limit).await,
            Store::Postgres(store) => store.read_stream(stream, after_version, limit).await,
        }
    }

    async fn find_idempotency_key(&self, key: &str) -> Result<Option<Position>, StoreError> {
        match self {
            Store::Embedded(store) => store.find_idempotency_key(key).await,
            Store::Postgres(store) => store.find_idempotency_key(key).await,
        }
    }

    async fn find_idempotency_keys(
        &self,
        keys: &[String],
    ) -> Result<Vec<Option<Position>>, StoreError> {
        match self {
            Store::Embedded(store) => store.find_idempotency_keys(keys).await,
            Store::Postgres(store) => store.find_idempotency_keys(keys).await,
        }
    }

    async fn claim_writer(&self) -> Result<WriterEpoch, StoreError> {
        match self {
            Store::Embedded(store) => store.claim_writer().await,
            Store::Postgres(store) => store.claim_writer().await,
        }
    }

    fn head(&self) -> watch::Receiver<Position> {
        match self {
            Store::Embedded(store) => store.head(),
            Store::Postgres(store) => store.head(),
        }
    }
}
