//! The embedded backend: the log in a redb file and a write-ahead file, written by one thread with
//! group commit.
//!
//! Appenders hand their batches to the writer thread (`writer.rs`), which takes everything queued
//! as one group, decides positions and versions, keeps the encoded events in memory
//! (`memory.rs`), writes them to the write-ahead file (`wal.rs`: checksummed records in a
//! preallocated file) and hands the group to the syncer thread (`syncer.rs`). The syncer syncs the
//! file once for every group handed over meanwhile, then answers the appenders and moves the
//! horizon. So the disk syncs one group while the writer prepares the next, and no redb commit
//! stands between an append and its answer: redb takes the events in bulk, non-durably every few
//! thousand events and durably (with the lookup tables, after which the write-ahead file starts
//! over) every few tens of thousands. Opening the store puts back what the write-ahead file holds
//! past redb's durable state.
//!
//! Readers never wait for the writer. They read memory and then redb (in that order, see
//! `memory.rs`), and never past the horizon, so that they never see an event that a crash could
//! take back. This module must never show an event above the horizon.
//!
//! The log itself is the `events` table; the lookup tables derived from it (the stream index and
//! the idempotency keys) are written only by durable commits, in bulk: a commit touching 64
//! streams would otherwise dirty 64 scattered index pages besides the log's few sequential ones.
//! `meta.indexed_through` says how far they go, and opening the store rebuilds the rest of the
//! lookups in memory from the log, so a crash loses nothing.

mod codec;
mod flusher;
mod memory;
mod syncer;
mod wal;
mod writer;

use crate::EventStore;
use crate::chain::ChainHash;
use crate::error::{AppendError, StoreError, storage};
use crate::record::{AppendOutcome, AppendRequest, Position, StoredEvent, WriterEpoch};
use flusher::{Unflushed, flush_loop};
use memory::{Memory, Shared};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, mpsc};
use std::thread::JoinHandle;
use syncer::{Horizon, sync_loop};
use tokio::sync::{oneshot, watch};
use wal::Wal;
use writer::{Job, Writer};

/// Global position → encoded event.
const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
/// (stream, version) → global position.
const STREAM_INDEX: TableDefinition<(&str, u64), u64> = TableDefinition::new("stream_index");
/// idempotency key → global position of the event that carried it.
const IDEMPOTENCY: TableDefinition<&str, u64> = TableDefinition::new("idempotency");
/// Facts about the log as a whole: the newest writer epoch, how far the lookup tables go.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const WRITER_EPOCH: &str = "writer_epoch";
/// The position up to which the stream index and the idempotency table are complete (absent in
/// files written before lookups were deferred, whose tables are complete).
const INDEXED_THROUGH: &str = "indexed_through";

/// The file the log lives in, inside the data directory.
pub const FILE_NAME: &str = "events.redb";

/// How many appends may wait for the writer before appenders are made to wait.
const QUEUE_DEPTH: usize = 4096;

/// How the embedded store paces its work. The defaults suit production; tests make both small to
/// cross flushes and segment changes often.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedOptions {
    /// How many events wait in memory before they are flushed into redb durably (and the lookup
    /// tables with them). More means fewer flushes and more memory.
    pub flush_every: usize,
    /// The size of each of the two write-ahead segments, in bytes. It must hold what is written
    /// while a flush runs; a group that does not fit in an empty segment is flushed on its own.
    pub segment_bytes: u64,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self {
            flush_every: 16384,
            segment_bytes: wal::CAPACITY,
        }
    }
}

/// The writer thread's queue and handle; dropping it closes the queue and waits for the thread.
struct WriterHandle {
    requests: Option<mpsc::SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for WriterHandle {
    fn drop(&mut self) {
        // Closing the queue lets the writer finish what it holds, commit it and stop.
        self.requests.take();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("event store writer thread panicked");
        }
    }
}

/// The redb-backed log. Cloning shares the same database and writer.
#[derive(Clone)]
pub struct EmbeddedStore {
    reader: Reader,
    writer: Arc<WriterHandle>,
    head: watch::Receiver<Position>,
    path: Arc<PathBuf>,
}

/// What readers need: the database, memory, and the horizon they must not read past.
#[derive(Clone)]
struct Reader {
    db: Arc<Database>,
    memory: Shared,
    horizon: Arc<Horizon>,
}

impl EmbeddedStore {
    /// Opens (or creates) the log in `dir`, creating the directory if needed.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(dir, EmbeddedOptions::default())
    }

    /// [`EmbeddedStore::open`] with options other than the defaults.
    pub fn open_with(dir: impl AsRef<Path>, options: EmbeddedOptions) -> Result<Self, StoreError> {
        let dir = dir.as_ref();
        let path = dir.join(FILE_NAME);
        let shown = path.display().to_string();
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Open {
            path: dir.display().to_string(),
            source: Box::new(source),
        })?;
        let open_error = |source: std::io::Error| StoreError::Open {
            path: shown.clone(),
            source: Box::new(source),
        };
        let db = Database::create(&path).map_err(|error| match error {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse {
                path: shown.clone(),
            },
            other => StoreError::Open {
                path: shown.clone(),
                source: Box::new(other),
            },
        })?;
        prepare_tables(&db)?;
        // redb holds what its last durable commit held; the write-ahead file holds the rest.
        let (mut wal, recovered) =
            Wal::open(dir, read_head(&db)?.0, options.segment_bytes.max(1)).map_err(open_error)?;
        if !recovered.is_empty() {
            let txn = db.begin_write().map_err(storage)?;
            {
                let mut events = txn.open_table(EVENTS).map_err(storage)?;
                for (position, record) in &recovered {
                    events
                        .insert(*position, record.as_slice())
                        .map_err(storage)?;
                }
            }
            txn.commit().map_err(storage)?;
            tracing::info!(
                events = recovered.len(),
                "event store recovered appends from its write-ahead file"
            );
        }
        let head = read_head(&db)?;
        let chain = chain_head(&db, head)?;
        let epoch = read_meta(&db, WRITER_EPOCH)?.unwrap_or(0);
        let (memory, unflushed) = lookups_after_index(&db, head)?;
        let memory: Shared = Arc::new(RwLock::new(memory));
        let (horizon, head_rx) = Horizon::new(head);
        let reader = Reader {
            db: Arc::new(db),
            memory,
            horizon: Arc::new(horizon),
        };

        let sync_files = wal.sync_handles().map_err(open_error)?;
        let (groups, to_sync) = mpsc::channel();
        let syncer_horizon = Arc::clone(&reader.horizon);
        let syncer = std::thread::Builder::new()
            .name("event-store-syncer".into())
            .spawn(move || sync_loop(sync_files, to_sync, &syncer_horizon))
            .map_err(open_error)?;
        let (flushes, to_flush) = mpsc::channel();
        let (flushed_tx, flushed) = mpsc::channel();
        let for_flusher = reader.clone();
        let flusher = std::thread::Builder::new()
            .name("event-store-flusher".into())
            .spawn(move || {
                let Reader {
                    db,
                    memory,
                    horizon,
                } = &for_flusher;
                flush_loop(db, memory, horizon, to_flush, flushed_tx);
            })
            .map_err(open_error)?;
        let (requests, queue) = mpsc::sync_channel(QUEUE_DEPTH);
        let shared = reader.clone();
        let thread = std::thread::Builder::new()
            .name("event-store-writer".into())
            .spawn(move || {
                let mut writer = Writer {
                    db: &shared.db,
                    wal: &mut wal,
                    horizon: &shared.horizon,
                    memory: &shared.memory,
                    groups,
                    flushes,
                    flushed,
                    flushing: false,
                    unflushed,
                    last: head.0,
                    chain,
                    epoch,
                    flush_every: options.flush_every.max(1),
                };
                writer.run(&queue);
                // Hanging up lets the syncer answer what it holds and the flusher finish, and
                // stop; wait for both, so that a dropped store has answered every appender.
                drop(writer);
                for (name, thread) in [("syncer", syncer), ("flusher", flusher)] {
                    if thread.join().is_err() {
                        tracing::error!("event store {name} thread panicked");
                    }
                }
            })
            .map_err(open_error)?;
        Ok(Self {
            reader,
            writer: Arc::new(WriterHandle {
                requests: Some(requests),
                thread: Some(thread),
            }),
            head: head_rx,
            path: Arc::new(path),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Hands a job to the writer thread.
    async fn submit(&self, job: Job) -> Result<(), StoreError> {
        let queue = self.writer.requests.as_ref().ok_or(StoreError::Closed)?;
        match queue.try_send(job) {
            Ok(()) => Ok(()),
            Err(mpsc::TrySendError::Full(job)) => {
                // The queue is bounded: when the writer falls behind, appenders wait here (off the
                // async threads) instead of piling up unbounded memory.
                let queue = queue.clone();
                tokio::task::spawn_blocking(move || queue.send(job))
                    .await
                    .map_err(|_| StoreError::Closed)?
                    .map_err(|_| StoreError::Closed)
            }
            Err(mpsc::TrySendError::Disconnected(_)) => Err(StoreError::Closed),
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(Reader) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || work(reader))
            .await
            .map_err(|_| StoreError::Closed)?
    }
}

impl Reader {
    fn read_all(&self, after: Position, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let horizon = self.horizon.through();
        let through = horizon.min(
            after
                .0
                .saturating_add(u64::try_from(limit).unwrap_or(u64::MAX)),
        );
        let mut out = Vec::new();
        if after.0 >= through {
            return Ok(out);
        }
        // Memory before redb: what left the tail since is in redb for a transaction opened after.
        let tail = memory::read(&self.memory).copy_tail(after.0 + 1, through);
        if after.0 + 1 < tail.first {
            let txn = self.db.begin_read().map_err(storage)?;
            let events = txn.open_table(EVENTS).map_err(storage)?;
            for entry in events
                .range(after.0 + 1..tail.first.min(through + 1))
                .map_err(storage)?
            {
                let (position, bytes) = entry.map_err(storage)?;
                out.push(codec::decode(position.value(), bytes.value())?);
            }
        }
        for (position, record) in (tail.first..).zip(&tail.records) {
            out.push(codec::decode(position, record)?);
        }
        Ok(out)
    }

    fn read_stream(
        &self,
        stream: &str,
        after_version: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let first = after_version.saturating_add(1);
        let horizon = self.horizon.through();
        // Memory before redb: an entry (or record) that leaves memory meanwhile is in the tables
        // for a transaction opened after. Entries above the horizon are left out.
        // (version, position, the record if the tail holds it)
        type Pending = Vec<(u64, u64, Option<Arc<[u8]>>)>;
        let pending: Pending = {
            let memory = memory::read(&self.memory);
            memory
                .streams
                .get(stream)
                .map(|versions| {
                    versions
                        .range(first..)
                        .filter(|(_, position)| **position <= horizon)
                        .take(limit)
                        .map(|(version, position)| {
                            (*version, *position, memory.tail_record(*position))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let txn = self.db.begin_read().map_err(storage)?;
        let index = txn.open_table(STREAM_INDEX).map_err(storage)?;
        let events = txn.open_table(EVENTS).map_err(storage)?;
        // The index table only holds durable entries (durable commits write it).
        let mut versions = std::collections::BTreeMap::new();
        for entry in index
            .range((stream, first)..=(stream, u64::MAX))
            .map_err(storage)?
        {
            if versions.len() >= limit {
                break;
            }
            let (key, position) = entry.map_err(storage)?;
            versions.insert(key.value().1, (position.value(), None));
        }
        for (version, position, record) in pending {
            versions.insert(version, (position, record));
        }
        let mut out = Vec::new();
        for (position, record) in versions.into_values().take(limit) {
            let event = match record {
                Some(record) => codec::decode(position, &record)?,
                None => {
                    let bytes = events.get(position).map_err(storage)?.ok_or_else(|| {
                        StoreError::Corrupt {
                            position,
                            reason: format!("indexed by stream '{stream}' but missing"),
                        }
                    })?;
                    codec::decode(position, bytes.value())?
                }
            };
            out.push(event);
        }
        Ok(out)
    }

    fn find_key(&self, key: &str) -> Result<Option<Position>, StoreError> {
        Ok(self
            .find_keys(&[key.to_owned()])?
            .into_iter()
            .next()
            .flatten())
    }

    fn find_keys(&self, wanted: &[String]) -> Result<Vec<Option<Position>>, StoreError> {
        let horizon = self.horizon.through();
        // Memory first, then redb: an event leaves memory only after the commit that holds it.
        let pending: Vec<Option<u64>> = {
            let memory = memory::read(&self.memory);
            wanted
                .iter()
                .map(|key| memory.keys.get(key.as_str()).copied())
                .collect()
        };
        let txn = self.db.begin_read().map_err(storage)?;
        let keys = txn.open_table(IDEMPOTENCY).map_err(storage)?;
        wanted
            .iter()
            .zip(pending)
            .map(|(key, pending)| {
                if let Some(position) = keys.get(key.as_str()).map_err(storage)? {
                    return Ok(Some(Position(position.value())));
                }
                // An event not yet durable is not there yet: its appender has not been
                // answered either.
                Ok(pending.filter(|p| *p <= horizon).map(Position))
            })
            .collect()
    }
}

impl EventStore for EmbeddedStore {
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, AppendError> {
        request.check_size()?;
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Append(request, reply)).await?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn claim_writer(&self) -> Result<WriterEpoch, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Claim(reply)).await?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.blocking(move |reader| reader.read_all(after, limit))
            .await
    }

    async fn read_stream(
        &self,
        stream: &str,
        after_version: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let stream = stream.to_owned();
        self.blocking(move |reader| reader.read_stream(&stream, after_version, limit))
            .await
    }

    async fn find_idempotency_key(&self, key: &str) -> Result<Option<Position>, StoreError> {
        let key = key.to_owned();
        self.blocking(move |reader| reader.find_key(&key)).await
    }

    async fn find_idempotency_keys(
        &self,
        keys: &[String],
    ) -> Result<Vec<Option<Position>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys = keys.to_vec();
        self.blocking(move |reader| reader.find_keys(&keys)).await
    }

    fn head(&self) -> watch::Receiver<Position> {
        self.head.clone()
    }
}

/// Creates the tables of a new file, and marks the lookup tables of a file written before
/// lookups were deferred as complete.
fn prepare_tables(db: &Database) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(storage)?;
    {
        txn.open_table(STREAM_INDEX).map_err(storage)?;
        txn.open_table(IDEMPOTENCY).map_err(storage)?;
        let head = txn
            .open_table(EVENTS)
            .map_err(storage)?
            .last()
            .map_err(storage)?
            .map_or(0, |(position, _)| position.value());
        let mut meta = txn.open_table(META).map_err(storage)?;
        if meta.get(INDEXED_THROUGH).map_err(storage)?.is_none() {
            meta.insert(INDEXED_THROUGH, head).map_err(storage)?;
        }
    }
    txn.commit().map_err(storage)
}

fn read_head(db: &Database) -> Result<Position, StoreError> {
    let txn = db.begin_read().map_err(storage)?;
    let events = txn.open_table(EVENTS).map_err(storage)?;
    let last = events.last().map_err(storage)?;
    Ok(Position(last.map_or(0, |(position, _)| position.value())))
}

/// The link of the event at `head`: stored in its record, or, for a log written before the
/// chain, computed once over the whole log (later events link to it, so the chain covers all).
fn chain_head(db: &Database, head: Position) -> Result<ChainHash, StoreError> {
    let txn = db.begin_read().map_err(storage)?;
    let events = txn.open_table(EVENTS).map_err(storage)?;
    let Some((position, bytes)) = events.last().map_err(storage)? else {
        return Ok(ChainHash::GENESIS);
    };
    if let Some(chain) = codec::decode(position.value(), bytes.value())?.chain {
        return Ok(chain);
    }
    let mut chain = ChainHash::GENESIS;
    for entry in events.range(..=head.0).map_err(storage)? {
        let (position, bytes) = entry.map_err(storage)?;
        let event = codec::decode(position.value(), bytes.value())?;
        chain = event
            .chain
            .unwrap_or_else(|| crate::chain::link(&chain, &crate::chain::Linked::from(&event)));
    }
    Ok(chain)
}

fn read_meta(db: &Database, key: &str) -> Result<Option<u64>, StoreError> {
    let txn = db.begin_read().map_err(storage)?;
    let meta = txn.open_table(META).map_err(storage)?;
    Ok(meta.get(key).map_err(storage)?.map(|v| v.value()))
}

/// Memory for a log whose events up to `head` are all in redb: the lookup entries of the events
/// after `meta.indexed_through`, rebuilt from the log; and the same entries for the next flush.
fn lookups_after_index(db: &Database, head: Position) -> Result<(Memory, Unflushed), StoreError> {
    let through = read_meta(db, INDEXED_THROUGH)?.unwrap_or(head.0);
    let txn = db.begin_read().map_err(storage)?;
    let events = txn.open_table(EVENTS).map_err(storage)?;
    let mut memory = Memory::after(head.0);
    let mut unflushed = Unflushed::default();
    for entry in events.range(through.saturating_add(1)..).map_err(storage)? {
        let (position, bytes) = entry.map_err(storage)?;
        let event = codec::decode(position.value(), bytes.value())?;
        if let Some(key) = event.idempotency_key {
            memory.keys.insert(key.clone(), event.position.0);
            unflushed.keys.push((key, event.position.0));
        }
        memory.insert_lookup(&event.stream, event.stream_version, event.position.0);
        unflushed
            .streams
            .push((event.stream, event.stream_version, event.position.0));
    }
    Ok((memory, unflushed))
}
