//! The PostgreSQL backend: the log in one schema of a PostgreSQL database.
//!
//! **Why positions never commit out of order.** A `bigserial` hands out numbers when a
//! transaction asks, not when it commits, so under concurrency position 7 can become visible
//! before position 6, and a reader that has passed 7 skips 6 for ever. Here every append
//! transaction first takes the row lock on the single `log_head` row (`SELECT … FOR UPDATE`) and
//! numbers its events from the position stored there, then writes the new head in the same
//! transaction. The lock is held until commit, so the next transaction can only read the head,
//! and so number its events, after the previous one has committed (or rolled back, taking its
//! numbers with it). Positions are therefore gapless and become visible strictly in order, for
//! every process that writes, and a reader asking for "everything after N" can never miss an event
//! that commits later. The same row carries the writer epoch, so fencing is checked under the
//! same lock. Throughput does not suffer from the serialisation because one writer task per
//! process folds every queued append into one transaction (group commit).
//!
//! Readers only wake on `NOTIFY` (sent inside the append transaction, so delivered on commit, to
//! every process listening) or on this process's own commits; what they deliver they read from
//! the table. This module must never log the connection string: it may carry a password.

use crate::EventStore;
use crate::chain::{ChainHash, Linked, link};
use crate::error::{AppendError, StoreError};
use crate::record::{AppendOutcome, AppendRequest, Position, StoredEvent, WriterEpoch, refusal};
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_postgres::types::ToSql;
use tokio_postgres::{AsyncMessage, Client, Config, NoTls, Row, Statement};

/// The schema the log lives in when none is named.
pub const DEFAULT_SCHEMA: &str = "switchboard";

/// How many appends the writer folds into one transaction at most.
const MAX_APPENDS_PER_COMMIT: usize = 512;
/// How many streams' versions the writer remembers before it starts afresh.
const MAX_CACHED_STREAMS: usize = 100_000;
/// How many appends may wait for the writer before appenders are made to wait.
const QUEUE_DEPTH: usize = 4096;

/// The schema's migrations, in order; the number applied is kept in `schema_version`. A migration,
/// once released, is never edited: a change is a new entry.
const MIGRATIONS: &[&str] = &[
    // 1: the log, the streams' heads and the single head row that orders every append.
    "CREATE TABLE {s}.log_head (
        only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
        position bigint NOT NULL,
        writer_epoch bigint NOT NULL
    );
    INSERT INTO {s}.log_head (position, writer_epoch) VALUES (0, 0);
    CREATE TABLE {s}.events (
        position bigint PRIMARY KEY,
        stream text NOT NULL,
        stream_version bigint NOT NULL,
        event_id uuid NOT NULL,
        event_type text NOT NULL,
        schema_version integer NOT NULL,
        recorded_at_ms bigint NOT NULL,
        correlation_id uuid NOT NULL,
        causation_id uuid NOT NULL,
        payload bytea NOT NULL,
        idempotency_key text UNIQUE,
        UNIQUE (stream, stream_version)
    );
    CREATE TABLE {s}.streams (
        stream text PRIMARY KEY,
        version bigint NOT NULL
    );",
    // 2: a stream's version is read from its newest event (one index probe) instead of a table
    // updated by every append, whose dead rows slowed every lookup under load.
    "DROP TABLE {s}.streams;",
    // 3: the hash chain. Every event stores its link; the head row the newest link, so that the
    // next append links to it under the same lock. Rows from before are NULL: their links are
    // computed when the chain is checked, and the first append after computes the head's.
    "ALTER TABLE {s}.events ADD COLUMN chain bytea;
     ALTER TABLE {s}.log_head ADD COLUMN chain bytea;",
];

/// Set on every connection: see where it is used.
const CUSTOM_PLANS: &str = "SET plan_cache_mode = force_custom_plan";

const COLUMNS: &str = "position, stream, stream_version, event_id, event_type, schema_version, \
    recorded_at_ms, correlation_id, causation_id, payload, idempotency_key, chain";

/// Where a PostgreSQL log lives, shown without its password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub(crate) config: Config,
    schema: String,
}

impl Location {
    /// Parses a `postgres://` URL. The schema is `switchboard` unless the URL's query names one
    /// with `schema=` (which is taken out before the URL reaches the driver).
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let (base, schema) = split_schema(url)?;
        let config = Config::from_str(&base)
            .map_err(|e| StoreError::InvalidLocation(format!("not a PostgreSQL URL: {e}")))?;
        Ok(Self { config, schema })
    }

    /// Names a schema (letters, digits and `_`, starting with a letter or `_`).
    pub fn with_schema(mut self, schema: &str) -> Result<Self, StoreError> {
        self.schema = checked_schema(schema)?;
        Ok(self)
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }
}

impl std::fmt::Display for Location {
    /// `postgres://user@host:port/db (schema s)`, never the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let user = self.config.get_user().unwrap_or("");
        let hosts: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .zip(
                self.config
                    .get_ports()
                    .iter()
                    .chain(std::iter::repeat(&5432)),
            )
            .map(|(host, port)| match host {
                tokio_postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
                tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        let db = self.config.get_dbname().unwrap_or("");
        write!(
            f,
            "postgres://{user}@{}/{db} (schema {})",
            hosts.join(","),
            self.schema
        )
    }
}

fn split_schema(url: &str) -> Result<(String, String), StoreError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), DEFAULT_SCHEMA.to_owned()));
    };
    let mut schema = DEFAULT_SCHEMA.to_owned();
    let mut kept = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("schema", name)) => schema = checked_schema(name)?,
            _ => kept.push(pair),
        }
    }
    let base = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((base, schema))
}

fn checked_schema(name: &str) -> Result<String, StoreError> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    if first_ok
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        Ok(name.to_owned())
    } else {
        Err(StoreError::InvalidLocation(format!(
            "schema '{name}': use lower-case letters, digits and '_', starting with a letter or '_'"
        )))
    }
}

type Reply = oneshot::Sender<Result<AppendOutcome, AppendError>>;

/// The PostgreSQL-backed log. Cloning shares the connections and the writer.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    reader: Client,
    statements: Statements,
    appends: mpsc::Sender<(AppendRequest, Reply)>,
    head: watch::Receiver<Position>,
    location: Location,
}

struct Statements {
    read_all: Statement,
    read_stream: Statement,
    find_key: Statement,
    find_keys: Statement,
    claim: Statement,
}

impl PostgresStore {
    /// Connects, creates or migrates the schema, and starts the writer.
    pub async fn connect(location: Location) -> Result<Self, StoreError> {
        let schema = location.schema.clone();
        let channel = notify_channel(&schema);
        let (head_tx, head) = watch::channel(Position(0));
        let head_tx = Arc::new(head_tx);

        let (reader, connection) = location.config.connect(NoTls).await?;
        // The reader's connection also listens: a notification only moves `head`, which wakes
        // subscribers, who then read the table.
        let wake = Arc::clone(&head_tx);
        tokio::spawn(async move {
            let mut connection = connection;
            loop {
                match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                    Some(Ok(AsyncMessage::Notification(note))) => {
                        if let Ok(position) = note.payload().parse::<u64>() {
                            advance(&wake, Position(position));
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(error)) => {
                        tracing::error!(%error, "PostgreSQL reader connection failed");
                        return;
                    }
                    None => return,
                }
            }
        });
        // A cached generic plan is made once, often while the log is still empty, and would then
        // scan the whole table for ever: plan every statement for its actual arguments instead.
        reader.batch_execute(CUSTOM_PLANS).await?;
        migrate(&reader, &schema).await?;
        reader.batch_execute(&format!("LISTEN {channel}")).await?;
        let statements = Statements {
            read_all: reader
                .prepare(&format!(
                    "SELECT {COLUMNS} FROM {schema}.events WHERE position > $1 \
                     ORDER BY position LIMIT $2"
                ))
                .await?,
            read_stream: reader
                .prepare(&format!(
                    "SELECT {COLUMNS} FROM {schema}.events WHERE stream = $1 \
                     AND stream_version > $2 ORDER BY stream_version LIMIT $3"
                ))
                .await?,
            find_key: reader
                .prepare(&format!(
                    "SELECT position FROM {schema}.events WHERE idempotency_key = $1"
                ))
                .await?,
            find_keys: reader
                .prepare(&format!(
                    "SELECT idempotency_key, position FROM {schema}.events \
                     WHERE idempotency_key = ANY($1)"
                ))
                .await?,
            claim: reader
                .prepare(&format!(
                    "UPDATE {schema}.log_head SET writer_epoch = writer_epoch + 1 \
                     RETURNING writer_epoch"
                ))
                .await?,
        };
        let current = reader
            .query_one(&format!("SELECT position FROM {schema}.log_head"), &[])
            .await?;
        advance(&head_tx, Position(to_u64(current.get::<_, i64>(0))));

        // The writer and its connection run on a thread of their own, as the embedded writer
        // does: a busy application runtime must not delay the commits every appender waits on.
        let (appends, queue) = mpsc::channel(QUEUE_DEPTH);
        let (ready_tx, ready) = oneshot::channel();
        let config = location.config.clone();
        std::thread::Builder::new()
            .name("event-store-pg-writer".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = ready_tx.send(Err(StoreError::Failed(error.to_string())));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let started = async {
                        let (writer, connection) = config.connect(NoTls).await?;
                        tokio::spawn(async move {
                            if let Err(error) = connection.await {
                                tracing::error!(%error, "PostgreSQL writer connection failed");
                            }
                        });
                        writer.batch_execute(CUSTOM_PLANS).await?;
                        WriterTask::prepare(writer, &schema, channel, head_tx).await
                    };
                    match started.await {
                        Ok(writer) => {
                            let _ = ready_tx.send(Ok(()));
                            writer.run(queue).await;
                        }
                        Err(error) => {
                            let _ = ready_tx.send(Err(error));
                        }
                    }
                });
            })
            .map_err(|error| StoreError::Failed(error.to_string()))?;
        ready.await.map_err(|_| StoreError::Closed)??;
        tracing::info!(store = %location, "PostgreSQL event store open");
        Ok(Self {
            inner: Arc::new(Inner {
                reader,
                statements,
                appends,
                head,
                location,
            }),
        })
    }

    pub fn location(&self) -> &Location {
        &self.inner.location
    }
}

/// The notification channel of a schema's log.
fn notify_channel(schema: &str) -> String {
    format!("{schema}_log")
}

/// Moves the head forward, never back (a late notification must not rewind it).
fn advance(head: &watch::Sender<Position>, to: Position) {
    head.send_if_modified(|current| {
        if to > *current {
            *current = to;
            true
        } else {
            false
        }
    });
}

/// Creates the schema or brings it up to date, under an advisory lock so that two servers
/// starting together do not migrate twice.
async fn migrate(client: &Client, schema: &str) -> Result<(), StoreError> {
    let lock_key = format!("switchboard-migrate:{schema}");
    client
        .execute("SELECT pg_advisory_lock(hashtext($1))", &[&lock_key])
        .await?;
    let outcome = async {
        client
            .batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {schema};
                 CREATE TABLE IF NOT EXISTS {schema}.schema_version (version integer NOT NULL);"
            ))
            .await?;
        let rows = client
            .query(&format!("SELECT version FROM {schema}.schema_version"), &[])
            .await?;
        let applied = rows.first().map_or(0, |row| row.get::<_, i32>(0));
        let applied = usize::try_from(applied).unwrap_or(0);
        if applied > MIGRATIONS.len() {
            return Err(StoreError::InvalidLocation(format!(
                "schema {schema} is at version {applied}, newer than this build knows ({}): \
                 run a newer switchboard",
                MIGRATIONS.len()
            )));
        }
        for (number, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
            let version = i32::try_from(number + 1).unwrap_or(i32::MAX);
            let sql = migration.replace("{s}", schema);
            client
                .batch_execute(&format!(
                    "BEGIN;
                     {sql};
                     DELETE FROM {schema}.schema_version;
                     INSERT INTO {schema}.schema_version VALUES ({version});
                     COMMIT;"
                ))
                .await?;
            tracing::info!(schema, version, "event store schema migrated");
        }
        Ok(())
    }
    .await;
    client
        .execute("SELECT pg_advisory_unlock(hashtext($1))", &[&lock_key])
        .await?;
    outcome
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn stored(row: &Row) -> Result<StoredEvent, StoreError> {
    Ok(StoredEvent {
        position: Position(to_u64(row.try_get(0)?)),
        stream: row.try_get(1)?,
        stream_version: to_u64(row.try_get(2)?),
        event_id: row.try_get(3)?,
        event_type: row.try_get(4)?,
        schema_version: u32::try_from(row.try_get::<_, i32>(5)?).unwrap_or(0),
        recorded_at_ms: row.try_get(6)?,
        correlation_id: row.try_get(7)?,
        causation_id: row.try_get(8)?,
        payload: row.try_get(9)?,
        idempotency_key: row.try_get(10)?,
        chain: match row.try_get::<_, Option<Vec<u8>>>(11)? {
            None => None,
            Some(bytes) => Some(ChainHash(bytes.try_into().map_err(|_| {
                StoreError::Corrupt {
                    position: to_u64(row.try_get(0).unwrap_or(0)),
                    reason: "a chain link is not 32 bytes".into(),
                }
            })?)),
        },
    })
}

impl EventStore for PostgresStore {
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, AppendError> {
        request.check_size()?;
        // The column is a PostgreSQL integer; a version it cannot hold would be stored as
        // another number than the one its chain link covers.
        if let Some(event) = request
            .events
            .iter()
            .find(|e| i32::try_from(e.schema_version).is_err())
        {
            return Err(AppendError::Store(StoreError::Failed(format!(
                "event type '{}' has schema version {}, more than PostgreSQL's integer column holds",
                event.event_type, event.schema_version
            ))));
        }
        let (reply, answer) = oneshot::channel();
        self.inner
            .appends
            .send((request, reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.inner
            .reader
            .query(&self.inner.statements.read_all, &[&to_i64(after.0), &limit])
            .await?
            .iter()
            .map(stored)
            .collect()
    }

    async fn read_stream(
        &self,
        stream: &str,
        after_version: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.inner
            .reader
            .query(
                &self.inner.statements.read_stream,
                &[&stream, &to_i64(after_version), &limit],
            )
            .await?
            .iter()
            .map(stored)
            .collect()
    }

    async fn find_idempotency_key(&self, key: &str) -> Result<Option<Position>, StoreError> {
        let row = self
            .inner
            .reader
            .query_opt(&self.inner.statements.find_key, &[&key])
            .await?;
        Ok(row.map(|row| Position(to_u64(row.get(0)))))
    }

    async fn find_idempotency_keys(
        &self,
        keys: &[String],
    ) -> Result<Vec<Option<Position>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self
            .inner
            .reader
            .query(&self.inner.statements.find_keys, &[&keys])
            .await?;
        let found: std::collections::HashMap<String, Position> = rows
            .iter()
            .map(|row| (row.get::<_, String>(0), Position(to_u64(row.get(1)))))
            .collect();
        Ok(keys.iter().map(|key| found.get(key).copied()).collect())
    }

    async fn claim_writer(&self) -> Result<WriterEpoch, StoreError> {
        // The update takes the head row's lock: it waits for an append in flight and is ordered
        // before every later one.
        let row = self
            .inner
            .reader
            .query_one(&self.inner.statements.claim, &[])
            .await?;
        Ok(WriterEpoch(to_u64(row.get(0))))
    }

    fn head(&self) -> watch::Receiver<Position> {
        self.inner.head.clone()
    }
}

/// The task that owns the writing connection and commits queued appends in groups.
struct WriterTask {
    client: Client,
    head: Arc<watch::Sender<Position>>,
    lock_head: Statement,
    lookups: Statement,
    write: Statement,
    /// Every event up to a position, for a log written before the chain.
    read_through: Statement,
    channel: String,
    /// Each stream's version as of `cached_at`, from this writer's own commits.
    versions: std::collections::HashMap<String, u64>,
    /// The log's head when `versions` was last right; `None` when it is not to be trusted.
    cached_at: Option<u64>,
}

/// The idempotency keys and the streams' versions a lookup found.
#[allow(clippy::type_complexity)]
fn lookups_of(rows: &[Row]) -> Result<(BTreeMap<String, u64>, BTreeMap<String, u64>), StoreError> {
    let mut keys = BTreeMap::new();
    let mut versions = BTreeMap::new();
    for row in rows {
        let kind: &str = row.try_get(0)?;
        let name: String = row.try_get(1)?;
        // A stream without events has no newest version: NULL.
        let value: Option<i64> = row.try_get(2)?;
        let value = value.map_or(0, to_u64);
        match kind {
            "key" => keys.insert(name, value),
            _ => versions.insert(name, value),
        };
    }
    Ok((keys, versions))
}

/// The head row, read under its lock.
struct Head {
    position: u64,
    epoch: u64,
    /// `None` for a log written before the chain.
    chain: Option<ChainHash>,
}

/// What one group's validation decided: the rows to insert and each request's answer.
#[derive(Default)]
struct Group {
    positions: Vec<i64>,
    streams: Vec<String>,
    versions: Vec<i64>,
    event_ids: Vec<uuid::Uuid>,
    types: Vec<String>,
    schema_versions: Vec<i32>,
    recorded: Vec<i64>,
    correlations: Vec<uuid::Uuid>,
    causations: Vec<uuid::Uuid>,
    payloads: Vec<Vec<u8>>,
    keys: Vec<Option<String>>,
    chains: Vec<Vec<u8>>,
}

impl WriterTask {
    async fn prepare(
        client: Client,
        schema: &str,
        channel: String,
        head: Arc<watch::Sender<Position>>,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            lock_head: client
                .prepare(&format!(
                    "SELECT position, writer_epoch, chain FROM {schema}.log_head FOR UPDATE"
                ))
                .await?,
            read_through: client
                .prepare(&format!(
                    "SELECT {COLUMNS} FROM {schema}.events WHERE position <= $1 ORDER BY position"
                ))
                .await?,
            lookups: client
                .prepare(&format!(
                    "SELECT 'key', idempotency_key, position FROM {schema}.events \
                     WHERE idempotency_key = ANY($1) \
                     UNION ALL \
                     SELECT 'stream', name, (SELECT stream_version FROM {schema}.events \
                       WHERE stream = name ORDER BY stream_version DESC LIMIT 1) \
                     FROM unnest($2::text[]) AS name"
                ))
                .await?,
            // One statement for every write of a group: the events, the log's head and the wake-up
            // (delivered on commit).
            write: client
                .prepare(&format!(
                    "WITH inserted AS (\
                       INSERT INTO {schema}.events ({COLUMNS}) SELECT * FROM UNNEST(\
                       $1::bigint[], $2::text[], $3::bigint[], $4::uuid[], $5::text[], \
                       $6::integer[], $7::bigint[], $8::uuid[], $9::uuid[], $10::bytea[], $11::text[], \
                       $12::bytea[])), \
                     head_moved AS (UPDATE {schema}.log_head SET position = $13, chain = $14) \
                     SELECT pg_notify($15, $16)"
                ))
                .await?,
            client,
            head,
            channel,
            versions: std::collections::HashMap::new(),
            cached_at: None,
        })
    }

    async fn run(mut self, mut queue: mpsc::Receiver<(AppendRequest, Reply)>) {
        let mut jobs = Vec::new();
        while queue.recv_many(&mut jobs, MAX_APPENDS_PER_COMMIT).await > 0 {
            let (requests, replies): (Vec<_>, Vec<_>) =
                std::mem::take(&mut jobs).into_iter().unzip();
            match self.commit(requests).await {
                Ok((outcomes, committed)) => {
                    if let Some(position) = committed {
                        advance(&self.head, position);
                    }
                    for (reply, outcome) in replies.into_iter().zip(outcomes) {
                        let _ = reply.send(outcome);
                    }
                }
                Err(error) => {
                    // Whether a failed commit was stored is unknown (the connection may have
                    // dropped after PostgreSQL committed): stop, so that the process restarts and
                    // reads the truth back from the database.
                    tracing::error!(%error, "PostgreSQL append failed; the store stops");
                    let message = error.to_string();
                    for reply in replies {
                        let _ = reply
                            .send(Err(AppendError::Store(StoreError::Failed(message.clone()))));
                    }
                    return;
                }
            }
        }
    }

    /// Begins a transaction, takes the head row's lock and looks up `keys` and `streams`, in one
    /// round trip (pipelined statements run in order, so the lookups run under the lock).
    #[allow(clippy::type_complexity)]
    async fn read_locked(
        &self,
        keys: &[&str],
        streams: &[&str],
    ) -> Result<(Head, BTreeMap<String, u64>, BTreeMap<String, u64>), StoreError> {
        let client = &self.client;
        let lookup_params: [&(dyn ToSql + Sync); 2] = [&keys, &streams];
        let (begun, head, found) = tokio::join!(
            client.batch_execute("BEGIN"),
            client.query_one(&self.lock_head, &[]),
            client.query(&self.lookups, &lookup_params),
        );
        begun?;
        let head = head?;
        let (keys, versions) = lookups_of(&found?)?;
        let chain = match head.try_get::<_, Option<Vec<u8>>>(2)? {
            Some(bytes) => Some(ChainHash(bytes.try_into().map_err(|_| {
                StoreError::Corrupt {
                    position: 0,
                    reason: "the head's chain link is not 32 bytes".into(),
                }
            })?)),
            None => None,
        };
        Ok((
            Head {
                position: to_u64(head.try_get::<_, i64>(0)?),
                epoch: to_u64(head.try_get::<_, i64>(1)?),
                chain,
            },
            keys,
            versions,
        ))
    }

    /// The link of the event at `through` in a log written before the chain: computed once,
    /// under the head's lock, over every event up to it.
    async fn unchained_head(&self, through: u64) -> Result<ChainHash, StoreError> {
        let rows = self
            .client
            .query(&self.read_through, &[&to_i64(through)])
            .await?;
        let mut chain = ChainHash::GENESIS;
        for row in &rows {
            let event = stored(row)?;
            chain = event
                .chain
                .unwrap_or_else(|| link(&chain, &Linked::from(&event)));
        }
        Ok(chain)
    }

    /// Forgets the streams' versions: after a failure, nothing this writer knew can be trusted.
    fn forget(&mut self) {
        self.versions.clear();
        self.cached_at = None;
    }

    /// Validates and writes every request of a group in one transaction. A request that conflicts,
    /// is fenced or repeats an idempotency key is answered without writing; the others commit
    /// together.
    #[allow(clippy::type_complexity)]
    async fn commit(
        &mut self,
        requests: Vec<AppendRequest>,
    ) -> Result<(Vec<Result<AppendOutcome, AppendError>>, Option<Position>), StoreError> {
        // One round trip for the reads: the statements are pipelined and run in order, so the
        // key and version lookups run after the head row's lock is held.
        let wanted_keys: Vec<&str> = requests
            .iter()
            .flat_map(|r| r.events.iter())
            .filter_map(|e| e.idempotency_key.as_deref())
            .collect();
        let wanted_streams: BTreeSet<&str> = requests
            .iter()
            .flat_map(|r| {
                r.events
                    .iter()
                    .map(|e| e.stream.as_str())
                    .chain(r.expectations.iter().map(|(s, _)| s.as_str()))
            })
            .collect();
        let wanted_streams: Vec<&str> = wanted_streams.into_iter().collect();
        // Streams whose version this writer knows from its own commits are not looked up, on the
        // bet (checked below, under the lock) that nobody else wrote since.
        let uncached: Vec<&str> = wanted_streams
            .iter()
            .copied()
            .filter(|s| self.cached_at.is_none() || !self.versions.contains_key(*s))
            .collect();
        let outcome = self.read_locked(&wanted_keys, &uncached).await;
        let (
            Head {
                position: mut last,
                epoch,
                chain,
            },
            mut keys,
            found,
        ) = match outcome {
            Ok(read) => read,
            Err(error) => {
                // Nothing was written: roll back and let the writer report the failure.
                self.forget();
                let _ = self.client.batch_execute("ROLLBACK").await;
                return Err(error);
            }
        };
        let mut versions: BTreeMap<String, u64> = BTreeMap::new();
        if self.cached_at == Some(last) {
            for stream in &wanted_streams {
                if let Some(version) = self.versions.get(*stream) {
                    versions.insert((*stream).to_owned(), *version);
                }
            }
            versions.extend(found);
        } else if uncached.len() == wanted_streams.len() {
            versions.extend(found);
        } else {
            // Another writer committed since this one's last commit: what it knew is stale.
            self.forget();
            let no_keys: Vec<&str> = Vec::new();
            let lookup_params: [&(dyn ToSql + Sync); 2] = [&no_keys, &wanted_streams];
            let rows = match self.client.query(&self.lookups, &lookup_params).await {
                Ok(rows) => rows,
                Err(error) => {
                    let _ = self.client.batch_execute("ROLLBACK").await;
                    return Err(error.into());
                }
            };
            let (_, fresh) = lookups_of(&rows)?;
            versions.extend(fresh);
        }

        let mut chain = match chain {
            Some(chain) => chain,
            None if last == 0 => ChainHash::GENESIS,
            None => match self.unchained_head(last).await {
                Ok(chain) => chain,
                Err(error) => {
                    let _ = self.client.batch_execute("ROLLBACK").await;
                    return Err(error);
                }
            },
        };
        let mut group = Group::default();
        let mut outcomes = Vec::with_capacity(requests.len());
        for request in requests {
            let refused = refusal::<StoreError>(
                &request,
                epoch,
                |key| Ok(keys.get(key).copied()),
                |stream| Ok(versions.get(stream).copied().unwrap_or(0)),
            )?;
            if let Some(answer) = refused {
                outcomes.push(answer);
                continue;
            }
            let first = Position(last + 1);
            for event in request.events {
                last += 1;
                let version = versions.entry(event.stream.clone()).or_insert(0);
                *version += 1;
                if let Some(key) = &event.idempotency_key {
                    keys.insert(key.clone(), last);
                }
                chain = link(
                    &chain,
                    &Linked {
                        position: last,
                        stream: &event.stream,
                        stream_version: *version,
                        event_id: event.event_id,
                        event_type: &event.event_type,
                        schema_version: event.schema_version,
                        recorded_at_ms: event.recorded_at_ms,
                        correlation_id: event.correlation_id,
                        causation_id: event.causation_id,
                        payload: &event.payload,
                        idempotency_key: event.idempotency_key.as_deref(),
                    },
                );
                group.chains.push(chain.0.to_vec());
                group.positions.push(to_i64(last));
                group.versions.push(to_i64(*version));
                group.streams.push(event.stream);
                group.event_ids.push(event.event_id);
                group.types.push(event.event_type);
                group
                    .schema_versions
                    .push(i32::try_from(event.schema_version).unwrap_or(i32::MAX));
                group.recorded.push(event.recorded_at_ms);
                group.correlations.push(event.correlation_id);
                group.causations.push(event.causation_id);
                group.payloads.push(event.payload);
                group.keys.push(event.idempotency_key);
            }
            outcomes.push(Ok(AppendOutcome::Appended {
                first,
                last: Position(last),
            }));
        }
        if group.positions.is_empty() {
            // Nothing to write: the transaction only held the lock.
            self.client.batch_execute("ROLLBACK").await?;
            return Ok((outcomes, None));
        }
        let last_text = last.to_string();
        let head_value = to_i64(last);
        // One round trip for the writes and the commit. If a write fails, PostgreSQL aborts the
        // transaction and the COMMIT rolls it back; the failure is reported either way.
        let head_chain = chain.0.to_vec();
        let params: [&(dyn ToSql + Sync); 16] = [
            &group.positions,
            &group.streams,
            &group.versions,
            &group.event_ids,
            &group.types,
            &group.schema_versions,
            &group.recorded,
            &group.correlations,
            &group.causations,
            &group.payloads,
            &group.keys,
            &group.chains,
            &head_value,
            &head_chain,
            &self.channel,
            &last_text,
        ];
        let client = &self.client;
        let (written, committed) = tokio::join!(
            client.query(&self.write, &params),
            client.batch_execute("COMMIT"),
        );
        if let Err(error) = written.and(committed) {
            self.forget();
            return Err(error.into());
        }
        if self.versions.len() > MAX_CACHED_STREAMS {
            self.versions.clear();
        }
        for (stream, version) in group.streams.iter().zip(&group.versions) {
            self.versions.insert(stream.clone(), to_u64(*version));
        }
        self.cached_at = Some(last);
        Ok((outcomes, Some(Position(last))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_never_shows_its_password() {
        let location =
            Location::parse("postgres://sb:s3cret@db.example:5433/centre?schema=centre_1").unwrap();
        let shown = location.to_string();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(
            shown,
            "postgres://sb@db.example:5433/centre (schema centre_1)"
        );
        assert!(!format!("{location:?}").contains("s3cret"));
    }

    #[test]
    fn a_schema_name_is_an_identifier_or_refused() {
        assert_eq!(
            Location::parse("postgres://h/db").unwrap().schema(),
            "switchboard"
        );
        assert!(Location::parse("postgres://h/db?schema=x;drop").is_err());
        assert!(Location::parse("postgres://h/db?schema=Upper").is_err());
        let kept = split_schema("postgres://h/db?sslmode=disable&schema=a_1").unwrap();
        assert_eq!(
            kept,
            ("postgres://h/db?sslmode=disable".into(), "a_1".into())
        );
    }
}
