//! The backends the conformance suite runs against, each a fresh, empty log per test.

// Shared by several test crates, each of which uses part of it.
#![allow(dead_code)]

use event_store::EventStore;
use event_store::embedded::{EmbeddedOptions, EmbeddedStore};
use event_store::postgres::{Location, PostgresStore};

/// The environment variable naming the PostgreSQL server the tests may use.
pub const POSTGRES_ENV: &str = "SWITCHBOARD_TEST_POSTGRES";

/// A fresh log on one backend, which a test can close and reopen.
pub trait Backend: Sized + Send {
    type Store: EventStore + Clone;

    /// A new, empty log; `None` (after printing why) when this backend is not available here.
    async fn fresh() -> Option<Self>;
    fn store(&self) -> &Self::Store;
    /// Closes the log (every clone of the store must be gone) and opens it again.
    async fn reopen(&mut self);
    /// Opens a second, independent handle on the same log, as another server would; `None`
    /// where the backend allows only one (the embedded file is locked to one process).
    async fn second_handle(&self) -> Option<Self::Store>;
    /// Removes what the test left behind.
    async fn cleanup(self) {}
}

/// The embedded store as configured by default.
pub struct Embedded {
    dir: tempfile::TempDir,
    store: Option<EmbeddedStore>,
    options: EmbeddedOptions,
}

impl Embedded {
    fn with(options: EmbeddedOptions) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = EmbeddedStore::open_with(dir.path(), options).expect("open the embedded store");
        Self {
            dir,
            store: Some(store),
            options,
        }
    }
}

impl Backend for Embedded {
    type Store = EmbeddedStore;

    async fn fresh() -> Option<Self> {
        Some(Self::with(EmbeddedOptions::default()))
    }

    fn store(&self) -> &EmbeddedStore {
        self.store.as_ref().expect("the store is open")
    }

    async fn reopen(&mut self) {
        // Dropping the last handle joins the writer thread and closes the file.
        self.store.take();
        self.store = Some(
            EmbeddedStore::open_with(self.dir.path(), self.options)
                .expect("reopen the embedded store"),
        );
    }

    async fn second_handle(&self) -> Option<EmbeddedStore> {
        None
    }
}

/// The embedded store flushing into redb every few events and changing write-ahead segment every
/// few kilobytes, so that every guarantee is also checked across flushes and segment changes.
pub struct EmbeddedFlushing(Embedded);

impl Backend for EmbeddedFlushing {
    type Store = EmbeddedStore;

    async fn fresh() -> Option<Self> {
        Some(Self(Embedded::with(EmbeddedOptions {
            flush_every: 5,
            segment_bytes: 8 * 1024,
        })))
    }

    fn store(&self) -> &EmbeddedStore {
        self.0.store()
    }

    async fn reopen(&mut self) {
        self.0.reopen().await;
    }

    async fn second_handle(&self) -> Option<EmbeddedStore> {
        None
    }
}

pub struct Postgres {
    location: Location,
    store: Option<PostgresStore>,
}

impl Postgres {
    /// A location with a schema of its own, so that tests running together never share a log.
    pub fn location() -> Option<Location> {
        let Ok(url) = std::env::var(POSTGRES_ENV) else {
            eprintln!("skipping the PostgreSQL backend: {POSTGRES_ENV} is not set");
            return None;
        };
        let schema = format!("t_{}", uuid::Uuid::now_v7().simple());
        Some(
            Location::parse(&url)
                .and_then(|l| l.with_schema(&schema))
                .expect("a valid PostgreSQL URL"),
        )
    }

    pub async fn raw_client(&self) -> tokio_postgres::Client {
        raw_client().await
    }

    pub fn schema(&self) -> &str {
        self.location.schema()
    }
}

impl Backend for Postgres {
    type Store = PostgresStore;

    async fn fresh() -> Option<Self> {
        let location = Self::location()?;
        let store = PostgresStore::connect(location.clone())
            .await
            .expect("connect to the PostgreSQL named by SWITCHBOARD_TEST_POSTGRES");
        Some(Self {
            location,
            store: Some(store),
        })
    }

    fn store(&self) -> &PostgresStore {
        self.store.as_ref().expect("the store is open")
    }

    async fn reopen(&mut self) {
        self.store.take();
        self.store = Some(
            PostgresStore::connect(self.location.clone())
                .await
                .expect("reconnect"),
        );
    }

    async fn second_handle(&self) -> Option<PostgresStore> {
        Some(
            PostgresStore::connect(self.location.clone())
                .await
                .expect("a second connection"),
        )
    }

    async fn cleanup(mut self) {
        self.store.take();
        let client = self.raw_client().await;
        client
            .batch_execute(&format!("DROP SCHEMA {} CASCADE", self.schema()))
            .await
            .expect("drop the test schema");
    }
}

/// A plain connection to the test server, for what the store must not be asked to do.
pub async fn raw_client() -> tokio_postgres::Client {
    let url = std::env::var(POSTGRES_ENV).expect("set when the backend exists");
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect to PostgreSQL");
    tokio::spawn(connection);
    client
}
