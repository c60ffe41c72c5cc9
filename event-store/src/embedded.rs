//! The embedded backend: the log in a redb file, written by one thread with group commit.
//!
//! Appenders hand their batches to the writer thread, which drains everything queued into one
//! group, writes it to the write-ahead file (`wal.rs`: checksummed records in a preallocated file),
//! commits it to redb non-durably and hands the group's answers to the syncer thread
//! (`syncer.rs`), which syncs the file and only then answers the appenders and moves the horizon
//! readers stop at. So the next group is prepared while the disk syncs the last. Every few thousand
//! events (and for a group too big for the file) redb commits durably instead, and the file starts
//! over. Opening the store puts back what the file holds past redb's durable state. Readers use
//! their own read transactions, never wait for the writer, and never read past the horizon: redb
//! shows a non-durable commit at once, so the horizon is what keeps a reader from seeing an event
//! a crash could take back. This module must never acknowledge, nor show, before the sync.
//!
//! The log itself (`events`) is written by every commit; the lookup tables derived from it (the
//! stream index and the idempotency keys) are written in bulk every [`INDEX_EVERY`] events. A commit
//! touching 64 streams would otherwise dirty 64 scattered index pages besides the log's few
//! sequential ones. Until then the entries wait in memory ([`Unindexed`]), where the writer and
//! every reader consult them beside the tables; `meta.indexed_through` says how far the tables go,
//! and opening the store rebuilds the rest from the log, so a crash loses nothing.

use crate::EventStore;
use crate::error::{AppendError, StoreError, storage};
use crate::record::{
    AppendOutcome, AppendRequest, NewEvent, Position, StoredEvent, WriterEpoch, refusal,
};
use crate::syncer::{Answers, Group, Horizon, Reply, answer, sync_loop};
use crate::wal::Wal;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use tokio::sync::{oneshot, watch};
use uuid::Uuid;

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

/// How many events may wait in memory for the lookup tables before they are written in bulk.
const INDEX_EVERY: usize = 16384;

/// Lookup entries of committed (or committing) events not yet in the tables.
#[derive(Default)]
struct Unindexed {
    /// stream → version → position (looked up by stream without building a key).
    streams: std::collections::HashMap<String, std::collections::BTreeMap<u64, u64>>,
    /// idempotency key → position.
    keys: std::collections::HashMap<String, u64>,
    /// How many (stream, version) entries wait.
    entries: usize,
}

impl Unindexed {
    fn stream_head(&self, stream: &str) -> Option<u64> {
        self.streams
            .get(stream)
            .and_then(|versions| versions.last_key_value())
            .map(|(version, _)| *version)
    }

    fn insert(&mut self, stream: &str, version: u64, position: u64) {
        let versions = match self.streams.get_mut(stream) {
            Some(versions) => versions,
            None => self.streams.entry(stream.to_owned()).or_default(),
        };
        if versions.insert(version, position).is_none() {
            self.entries += 1;
        }
    }

    /// Forgets the entries of events up to `through` (now in the tables).
    fn forget_through(&mut self, through: u64) {
        self.streams.retain(|_, versions| {
            versions.retain(|_, position| *position > through);
            !versions.is_empty()
        });
        self.keys.retain(|_, position| *position > through);
        self.entries = self.streams.values().map(|v| v.len()).sum();
    }

    fn len(&self) -> usize {
        self.entries
    }
}

type Shared = Arc<std::sync::RwLock<Unindexed>>;

fn read_shared(shared: &Shared) -> std::sync::RwLockReadGuard<'_, Unindexed> {
    shared
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write_shared(shared: &Shared) -> std::sync::RwLockWriteGuard<'_, Unindexed> {
    shared
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The file the log lives in, inside the data directory.
pub const FILE_NAME: &str = "events.redb";

/// How many appends the writer folds into one transaction at most.
const MAX_APPENDS_PER_COMMIT: usize = 512;
/// How many appends may wait for the writer before appenders are made to wait.
const QUEUE_DEPTH: usize = 4096;

/// The first byte of every stored record: the record layout's version, so that a later layout can
/// be read beside this one.
const RECORD_FORMAT: u8 = 1;

/// A stored record as read back. The payload is read as one byte string (postcard writes a byte
/// string and a sequence of bytes alike, so records written either way read the same).
#[derive(Deserialize)]
struct RecordV1 {
    stream: String,
    stream_version: u64,
    event_id: Uuid,
    event_type: String,
    schema_version: u32,
    recorded_at_ms: i64,
    correlation_id: Uuid,
    causation_id: Uuid,
    #[serde(with = "serde_bytes")]
    payload: Vec<u8>,
    idempotency_key: Option<String>,
}

/// [`RecordV1`] as written: borrowed from the event, so that encoding copies each byte once.
#[derive(Serialize)]
struct RecordV1Ref<'a> {
    stream: &'a str,
    stream_version: u64,
    event_id: Uuid,
    event_type: &'a str,
    schema_version: u32,
    recorded_at_ms: i64,
    correlation_id: Uuid,
    causation_id: Uuid,
    #[serde(with = "serde_bytes")]
    payload: &'a [u8],
    idempotency_key: Option<&'a str>,
}

/// What the writer thread is asked to do. Claims go through it too, so that a claim and the
/// appends around it are ordered by the one thread that writes.
enum Job {
    Append(AppendRequest, Reply),
    Claim(oneshot::Sender<Result<WriterEpoch, StoreError>>),
}

struct Writer {
    requests: Option<mpsc::SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Writer {
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
    db: Arc<Database>,
    writer: Arc<Writer>,
    head: watch::Receiver<Position>,
    horizon: Arc<Horizon>,
    path: Arc<PathBuf>,
    unindexed: Shared,
}

impl EmbeddedStore {
    /// Opens (or creates) the log in `dir`, creating the directory if needed.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let dir = dir.as_ref();
        let path = dir.join(FILE_NAME);
        let shown = path.display().to_string();
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Open {
            path: dir.display().to_string(),
            source: Box::new(source),
        })?;
        let db = Database::create(&path).map_err(|error| match error {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse {
                path: shown.clone(),
            },
            other => StoreError::Open {
                path: shown.clone(),
                source: Box::new(other),
            },
        })?;
        let txn = db.begin_write().map_err(storage)?;
        {
            txn.open_table(EVENTS).map_err(storage)?;
            txn.open_table(STREAM_INDEX).map_err(storage)?;
            txn.open_table(IDEMPOTENCY).map_err(storage)?;
            let mut meta = txn.open_table(META).map_err(storage)?;
            // A new file, or one written before lookups were deferred: its tables are complete.
            if meta.get(INDEXED_THROUGH).map_err(storage)?.is_none() {
                let head = txn
                    .open_table(EVENTS)
                    .map_err(storage)?
                    .last()
                    .map_err(storage)?
                    .map_or(0, |(position, _)| position.value());
                meta.insert(INDEXED_THROUGH, head).map_err(storage)?;
            }
        }
        txn.commit().map_err(storage)?;
        let db = Arc::new(db);
        // redb holds what its last durable commit held; the write-ahead file holds the rest.
        let (mut wal, recovered) =
            Wal::open(dir, read_head(&db)?.0).map_err(|source| StoreError::Open {
                path: shown.clone(),
                source: Box::new(source),
            })?;
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
        wal.restart();
        let head_position = read_head(&db)?;
        let unindexed: Shared =
            Arc::new(std::sync::RwLock::new(unindexed_tail(&db, head_position)?));
        let (horizon, head) = Horizon::new(head_position);
        let horizon = Arc::new(horizon);
        let open_error = |source: std::io::Error| StoreError::Open {
            path: shown.clone(),
            source: Box::new(source),
        };
        let sync_file = wal.sync_handle().map_err(open_error)?;
        let (groups, to_sync) = mpsc::channel();
        let syncer_horizon = Arc::clone(&horizon);
        let syncer = std::thread::Builder::new()
            .name("event-store-syncer".into())
            .spawn(move || sync_loop(sync_file, to_sync, &syncer_horizon))
            .map_err(open_error)?;
        let (requests, queue) = mpsc::sync_channel(QUEUE_DEPTH);
        let writer_db = Arc::clone(&db);
        let writer_unindexed = Arc::clone(&unindexed);
        let writer_horizon = Arc::clone(&horizon);
        let thread = std::thread::Builder::new()
            .name("event-store-writer".into())
            .spawn(move || {
                let mut writer = WriterThread {
                    db: &writer_db,
                    wal: &mut wal,
                    horizon: &writer_horizon,
                    groups,
                    last: head_position,
                    unindexed: &writer_unindexed,
                };
                writer.run(&queue);
                // Hanging up lets the syncer answer what it holds and stop; wait for it, so that
                // a dropped store has answered every appender.
                drop(writer);
                if syncer.join().is_err() {
                    tracing::error!("event store syncer thread panicked");
                }
            })
            .map_err(open_error)?;
        Ok(Self {
            db,
            writer: Arc::new(Writer {
                requests: Some(requests),
                thread: Some(thread),
            }),
            head,
            horizon,
            path: Arc::new(path),
            unindexed,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read_all_blocking(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        // The horizon first: the transaction then holds every event up to it.
        let horizon = self.horizon.through();
        let txn = self.db.begin_read().map_err(storage)?;
        let events = txn.open_table(EVENTS).map_err(storage)?;
        let mut out = Vec::new();
        if after.0 >= horizon {
            return Ok(out);
        }
        for entry in events
            .range(after.0.saturating_add(1)..=horizon)
            .map_err(storage)?
        {
            if out.len() >= limit {
                break;
            }
            let (position, bytes) = entry.map_err(storage)?;
            out.push(decode_record(position.value(), bytes.value())?);
        }
        Ok(out)
    }

    fn read_stream_blocking(
        &self,
        stream: &str,
        after_version: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        // The unindexed entries are copied before the read transaction begins: an entry the
        // writer moves into the table meanwhile is then in one or the other (or both).
        let first = after_version.saturating_add(1);
        let horizon = self.horizon.through();
        let pending: Vec<(u64, u64)> = read_shared(&self.unindexed)
            .streams
            .get(stream)
            .map(|versions| {
                versions
                    .range(first..)
                    .map(|(version, position)| (*version, *position))
                    .collect()
            })
            .unwrap_or_default();
        let txn = self.db.begin_read().map_err(storage)?;
        let index = txn.open_table(STREAM_INDEX).map_err(storage)?;
        let events = txn.open_table(EVENTS).map_err(storage)?;
        // The tables only hold durable entries (they are written by durable commits).
        let visible = horizon;
        let mut versions = std::collections::BTreeMap::new();
        for entry in index
            .range((stream, first)..=(stream, u64::MAX))
            .map_err(storage)?
        {
            if versions.len() >= limit {
                break;
            }
            let (key, position) = entry.map_err(storage)?;
            versions.insert(key.value().1, position.value());
        }
        // Entries of events this transaction cannot see yet (committing now) are left out.
        versions.extend(pending.into_iter().filter(|(_, p)| *p <= visible));
        let mut out = Vec::new();
        for (_, position) in versions {
            if out.len() >= limit {
                break;
            }
            let bytes =
                events
                    .get(position)
                    .map_err(storage)?
                    .ok_or_else(|| StoreError::Corrupt {
                        position,
                        reason: format!("indexed by stream '{stream}' but missing"),
                    })?;
            out.push(decode_record(position, bytes.value())?);
        }
        Ok(out)
    }

    fn find_key_blocking(&self, key: &str) -> Result<Option<Position>, StoreError> {
        let horizon = self.horizon.through();
        let pending = read_shared(&self.unindexed).keys.get(key).copied();
        let txn = self.db.begin_read().map_err(storage)?;
        let keys = txn.open_table(IDEMPOTENCY).map_err(storage)?;
        if let Some(position) = keys.get(key).map_err(storage)? {
            return Ok(Some(Position(position.value())));
        }
        // An event not yet durable is not there yet: its appender has not been answered either.
        Ok(pending.filter(|p| *p <= horizon).map(Position))
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
        work: impl FnOnce(EmbeddedStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || work(store))
            .await
            .map_err(|_| StoreError::Closed)?
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
        self.blocking(move |store| store.read_all_blocking(after, limit))
            .await
    }

    async fn read_stream(
        &self,
        stream: &str,
        after_version: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let stream = stream.to_owned();
        self.blocking(move |store| store.read_stream_blocking(&stream, after_version, limit))
            .await
    }

    async fn find_idempotency_key(&self, key: &str) -> Result<Option<Position>, StoreError> {
        let key = key.to_owned();
        self.blocking(move |store| store.find_key_blocking(&key))
            .await
    }

    fn head(&self) -> watch::Receiver<Position> {
        self.head.clone()
    }
}

fn read_head(db: &Database) -> Result<Position, StoreError> {
    read_head_in(&db.begin_read().map_err(storage)?)
}

fn read_head_in(txn: &redb::ReadTransaction) -> Result<Position, StoreError> {
    let events = txn.open_table(EVENTS).map_err(storage)?;
    let last = events.last().map_err(storage)?;
    Ok(Position(last.map_or(0, |(position, _)| position.value())))
}

/// The lookup entries of the events after `meta.indexed_through`, rebuilt from the log.
fn unindexed_tail(db: &Database, head: Position) -> Result<Unindexed, StoreError> {
    let txn = db.begin_read().map_err(storage)?;
    let through = txn
        .open_table(META)
        .map_err(storage)?
        .get(INDEXED_THROUGH)
        .map_err(storage)?
        .map_or(head.0, |v| v.value());
    let events = txn.open_table(EVENTS).map_err(storage)?;
    let mut tail = Unindexed::default();
    for entry in events.range(through.saturating_add(1)..).map_err(storage)? {
        let (position, bytes) = entry.map_err(storage)?;
        let event = decode_record(position.value(), bytes.value())?;
        if let Some(key) = event.idempotency_key {
            tail.keys.insert(key, event.position.0);
        }
        tail.insert(&event.stream, event.stream_version, event.position.0);
    }
    Ok(tail)
}

fn decode_record(position: u64, bytes: &[u8]) -> Result<StoredEvent, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { position, reason };
    let (format, body) = bytes
        .split_first()
        .ok_or_else(|| corrupt("empty record".into()))?;
    if *format != RECORD_FORMAT {
        return Err(corrupt(format!("unknown record format {format}")));
    }
    let record: RecordV1 = postcard::from_bytes(body).map_err(|e| corrupt(e.to_string()))?;
    Ok(StoredEvent {
        position: Position(position),
        stream: record.stream,
        stream_version: record.stream_version,
        event_id: record.event_id,
        event_type: record.event_type,
        schema_version: record.schema_version,
        recorded_at_ms: record.recorded_at_ms,
        correlation_id: record.correlation_id,
        causation_id: record.causation_id,
        payload: record.payload,
        idempotency_key: record.idempotency_key,
    })
}

/// Appends `event`'s stored record to `out`.
fn encode_record(
    event: &NewEvent,
    stream_version: u64,
    out: &mut Vec<u8>,
) -> Result<(), postcard::Error> {
    let record = RecordV1Ref {
        stream: &event.stream,
        stream_version,
        event_id: event.event_id,
        event_type: &event.event_type,
        schema_version: event.schema_version,
        recorded_at_ms: event.recorded_at_ms,
        correlation_id: event.correlation_id,
        causation_id: event.causation_id,
        payload: &event.payload,
        idempotency_key: event.idempotency_key.as_deref(),
    };
    out.reserve(event.payload.len() + event.stream.len() + event.event_type.len() + 96);
    out.push(RECORD_FORMAT);
    postcard::to_io(&record, &mut *out)?;
    Ok(())
}

/// The writer thread's state.
struct WriterThread<'a> {
    db: &'a Database,
    wal: &'a mut Wal,
    horizon: &'a Horizon,
    /// Where written groups go to be synced and answered.
    groups: mpsc::Sender<Group>,
    /// The newest position committed to redb (durable or not).
    last: Position,
    unindexed: &'a Shared,
}

impl WriterThread<'_> {
    /// Waits for one job, takes whatever else is queued, commits the appends together (a claim
    /// among them is committed in its place in the queue's order); until the queue closes or the
    /// store fails.
    fn run(&mut self, queue: &mpsc::Receiver<Job>) {
        while let Ok(first) = queue.recv() {
            let mut jobs = vec![first];
            while jobs.len() < MAX_APPENDS_PER_COMMIT {
                match queue.try_recv() {
                    Ok(more) => jobs.push(more),
                    Err(_) => break,
                }
            }
            let mut appends = Vec::new();
            for job in jobs {
                match job {
                    Job::Append(request, reply) => appends.push((request, reply)),
                    Job::Claim(reply) => {
                        if !self.flush(std::mem::take(&mut appends)) {
                            return;
                        }
                        // A claim's commit is durable, and so is everything before it.
                        let claimed = claim(self.db);
                        if claimed.is_ok() {
                            self.horizon.advance(self.last);
                        }
                        let _ = reply.send(claimed);
                    }
                }
            }
            if !self.flush(appends) {
                return;
            }
        }
    }

    /// Commits a group of appends and sees that each appender is answered once it is durable;
    /// `false` when the store must stop.
    fn flush(&mut self, appends: Vec<(AppendRequest, Reply)>) -> bool {
        if self.horizon.failed() {
            // The syncer could not make an earlier group durable: acknowledge nothing more.
            fail_all(appends, "an earlier sync of the write-ahead file failed");
            return false;
        }
        if appends.is_empty() {
            return true;
        }
        let (requests, replies): (Vec<_>, Vec<_>) = appends.into_iter().unzip();
        match commit_batch(
            self.db,
            Some(&mut *self.wal),
            requests,
            self.last,
            self.unindexed,
            INDEX_EVERY,
        ) {
            Ok(committed) => {
                self.last = committed.last;
                let answers: Answers = replies.into_iter().zip(committed.outcomes).collect();
                if committed.durable {
                    // Durable through redb itself (earlier groups with it): no sync to wait for.
                    self.horizon.advance(committed.last);
                    answer(answers);
                } else if let Err(mpsc::SendError(group)) = self.groups.send(Group {
                    through: committed.last,
                    answers,
                }) {
                    fail_all_answers(group.answers, "the event store's syncer stopped");
                    return false;
                }
                true
            }
            Err(error) => {
                // After a failed commit (an fsync error above all) nobody can say what reached
                // the disk, and redb refuses further use: stop here, so that the process restarts
                // and reads the truth back from the file, instead of limping on.
                tracing::error!(%error, "event store commit failed; the store stops");
                self.horizon.fail();
                let message = error.to_string();
                for reply in replies {
                    let _ =
                        reply.send(Err(AppendError::Store(StoreError::Failed(message.clone()))));
                }
                false
            }
        }
    }
}

fn fail_all(appends: Vec<(AppendRequest, Reply)>, why: &str) {
    for (_, reply) in appends {
        let _ = reply.send(Err(AppendError::Store(StoreError::Failed(why.to_owned()))));
    }
}

fn fail_all_answers(answers: Answers, why: &str) {
    for (reply, _) in answers {
        let _ = reply.send(Err(AppendError::Store(StoreError::Failed(why.to_owned()))));
    }
}

/// A stream's newest version (0 when it has none): the last entry of its range in the index,
/// so that no second table has to be written per event.
fn stream_head<T: ReadableTable<(&'static str, u64), u64>>(
    index: &T,
    stream: &str,
) -> Result<u64, StoreError> {
    Ok(index
        .range((stream, 0)..=(stream, u64::MAX))
        .map_err(storage)?
        .next_back()
        .transpose()
        .map_err(storage)?
        .map_or(0, |(key, _)| key.value().1))
}

/// Takes the next writer epoch, durably.
fn claim(db: &Database) -> Result<WriterEpoch, StoreError> {
    let txn = db.begin_write().map_err(storage)?;
    let epoch = {
        let mut meta = txn.open_table(META).map_err(storage)?;
        let current = meta
            .get(WRITER_EPOCH)
            .map_err(storage)?
            .map_or(0, |v| v.value());
        let next = current + 1;
        meta.insert(WRITER_EPOCH, next).map_err(storage)?;
        next
    };
    txn.commit().map_err(storage)?;
    Ok(WriterEpoch(epoch))
}

/// What [`commit_batch`] did.
struct Committed {
    /// Each request's answer, in order.
    outcomes: Vec<Result<AppendOutcome, AppendError>>,
    /// The newest position now in redb.
    last: Position,
    /// Whether redb committed durably (then everything through `last` is durable); otherwise the
    /// group is durable once the write-ahead file is synced.
    durable: bool,
}

/// Validates and writes every request of a batch in one transaction. A request that conflicts or
/// repeats an idempotency key is answered without writing; the others commit together. Their
/// lookup entries join `unindexed` (before the commit, so that readers, who only use entries of
/// events their snapshot shows, never miss one); once `index_every` entries wait, this commit also
/// writes them all into the tables.
fn commit_batch(
    db: &Database,
    wal: Option<&mut Wal>,
    requests: Vec<AppendRequest>,
    mut last: Position,
    unindexed: &Shared,
    index_every: usize,
) -> Result<Committed, StoreError> {
    let mut txn = db.begin_write().map_err(storage)?;
    let mut outcomes = Vec::with_capacity(requests.len());
    // The batch's records, one after another, and where each one lies: for the write-ahead file.
    let mut encoded: Vec<u8> = Vec::new();
    let mut records: Vec<(u64, std::ops::Range<usize>)> = Vec::new();
    // This batch's own entries, which later requests of the batch must see.
    let mut batch_streams: Vec<(String, u64, u64)> = Vec::new();
    let mut batch_heads: std::collections::HashMap<String, u64> = Default::default();
    let mut batch_keys: std::collections::HashMap<String, u64> = Default::default();
    {
        let mut events = txn.open_table(EVENTS).map_err(storage)?;
        let index = txn.open_table(STREAM_INDEX).map_err(storage)?;
        let keys = txn.open_table(IDEMPOTENCY).map_err(storage)?;
        let epoch = txn
            .open_table(META)
            .map_err(storage)?
            .get(WRITER_EPOCH)
            .map_err(storage)?
            .map_or(0, |v| v.value());
        let pending = read_shared(unindexed);
        let head_of = |stream: &str, batch_heads: &std::collections::HashMap<String, u64>| {
            if let Some(version) = batch_heads.get(stream) {
                return Ok(*version);
            }
            if let Some(version) = pending.stream_head(stream) {
                return Ok(version);
            }
            stream_head(&index, stream)
        };
        for request in requests {
            let refused = refusal(
                &request,
                epoch,
                |key| match batch_keys.get(key).or_else(|| pending.keys.get(key)) {
                    Some(position) => Ok(Some(*position)),
                    None => Ok(keys.get(key).map_err(storage)?.map(|p| p.value())),
                },
                |stream| head_of(stream, &batch_heads),
            )?;
            if let Some(answer) = refused {
                outcomes.push(answer);
                continue;
            }
            let first = Position(last.0 + 1);
            for event in request.events {
                let position = last.0 + 1;
                let version = head_of(&event.stream, &batch_heads)? + 1;
                batch_heads.insert(event.stream.clone(), version);
                batch_streams.push((event.stream.clone(), version, position));
                if let Some(key) = &event.idempotency_key {
                    batch_keys.insert(key.clone(), position);
                }
                let start = encoded.len();
                encode_record(&event, version, &mut encoded).map_err(|e| StoreError::Corrupt {
                    position,
                    reason: format!("cannot encode: {e}"),
                })?;
                let bytes = &encoded[start..];
                events.insert(position, bytes).map_err(storage)?;
                records.push((position, start..encoded.len()));
                last = Position(position);
            }
            outcomes.push(Ok(AppendOutcome::Appended { first, last }));
        }
    }
    let index_now = {
        let mut pending = write_shared(unindexed);
        for (stream, version, position) in batch_streams {
            pending.insert(&stream, version, position);
        }
        pending.keys.extend(batch_keys);
        pending.len() >= index_every
    };
    if index_now {
        // Every waiting entry goes into the tables in this same commit; they leave memory only
        // once it is durable.
        let pending = read_shared(unindexed);
        let mut index = txn.open_table(STREAM_INDEX).map_err(storage)?;
        for (stream, versions) in &pending.streams {
            for (version, position) in versions {
                index
                    .insert((stream.as_str(), *version), *position)
                    .map_err(storage)?;
            }
        }
        let mut keys = txn.open_table(IDEMPOTENCY).map_err(storage)?;
        for (key, position) in &pending.keys {
            keys.insert(key.as_str(), *position).map_err(storage)?;
        }
        txn.open_table(META)
            .map_err(storage)?
            .insert(INDEXED_THROUGH, last.0)
            .map_err(storage)?;
    }
    // Durable through the write-ahead file when it has room (one cheap sync, by the syncer), and
    // visible (to the writer at once, to readers once synced) through a non-durable redb commit;
    // otherwise (bulk index writes, a batch too big) a durable redb commit, after which the
    // write-ahead file starts over.
    let size: u64 = records.iter().map(|(_, r)| Wal::size_of(r.len())).sum();
    let durable = match wal {
        Some(wal) if !index_now && wal.has_room(size) => {
            if !records.is_empty() {
                wal.write(records.iter().map(|(p, r)| (*p, &encoded[r.clone()])))
                    .map_err(|e| StoreError::Failed(format!("write-ahead file: {e}")))?;
            }
            txn.set_durability(redb::Durability::None)
                .map_err(storage)?;
            txn.commit().map_err(storage)?;
            false
        }
        Some(wal) => {
            txn.commit().map_err(storage)?;
            wal.restart();
            true
        }
        None => {
            txn.commit().map_err(storage)?;
            true
        }
    };
    if index_now {
        let mut pending = write_shared(unindexed);
        pending.forget_through(last.0);
    }
    Ok(Committed {
        outcomes,
        last,
        durable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::ExpectedVersion;

    fn event(stream: &str, key: Option<&str>) -> NewEvent {
        NewEvent {
            event_id: Uuid::nil(),
            stream: stream.to_owned(),
            event_type: "Tested".to_owned(),
            schema_version: 1,
            recorded_at_ms: 0,
            correlation_id: Uuid::nil(),
            causation_id: Uuid::nil(),
            payload: b"{}".to_vec(),
            idempotency_key: key.map(str::to_owned),
        }
    }

    /// Records written before the payload was encoded as a byte string (when it went through serde
    /// as a sequence of bytes) have the very same bytes, so stores written then read unchanged.
    #[test]
    fn the_record_layout_is_the_one_written_by_earlier_versions() {
        #[derive(Serialize)]
        struct Earlier {
            stream: String,
            stream_version: u64,
            event_id: Uuid,
            event_type: String,
            schema_version: u32,
            recorded_at_ms: i64,
            correlation_id: Uuid,
            causation_id: Uuid,
            payload: Vec<u8>,
            idempotency_key: Option<String>,
        }
        let mut new = event("conversation-7", Some("wamid.1"));
        new.payload = (0..=255).collect();
        new.event_id = Uuid::now_v7();
        let earlier = Earlier {
            stream: new.stream.clone(),
            stream_version: 9,
            event_id: new.event_id,
            event_type: new.event_type.clone(),
            schema_version: 1,
            recorded_at_ms: 0,
            correlation_id: new.correlation_id,
            causation_id: new.causation_id,
            payload: new.payload.clone(),
            idempotency_key: new.idempotency_key.clone(),
        };
        let mut expected = vec![RECORD_FORMAT];
        expected.extend(postcard::to_stdvec(&earlier).unwrap());
        let mut written = Vec::new();
        encode_record(&new, 9, &mut written).unwrap();
        assert_eq!(written, expected);
        let read = decode_record(3, &written).unwrap();
        assert_eq!(read.payload, new.payload);
        assert_eq!(read.stream_version, 9);
        assert_eq!(read.idempotency_key.as_deref(), Some("wamid.1"));
    }

    /// One commit that mixes successes, a conflict, a key repeated across requests and a key
    /// repeated inside one request: each request gets its own answer, the good ones are stored.
    #[test]
    fn one_commit_answers_each_request_on_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join(FILE_NAME)).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(EVENTS).unwrap();
        txn.open_table(STREAM_INDEX).unwrap();
        txn.open_table(IDEMPOTENCY).unwrap();
        txn.open_table(META).unwrap();
        txn.commit().unwrap();

        let requests = vec![
            AppendRequest {
                events: vec![event("a", Some("k1"))],
                expectations: vec![("a".into(), ExpectedVersion::NoStream)],
                writer: None,
            },
            // Conflicts with the first request of the same batch.
            AppendRequest {
                events: vec![event("a", None)],
                expectations: vec![("a".into(), ExpectedVersion::NoStream)],
                writer: None,
            },
            // Repeats the first request's key.
            AppendRequest {
                events: vec![event("b", Some("k1"))],
                expectations: Vec::new(),
                writer: None,
            },
            // Repeats a key inside itself.
            AppendRequest {
                events: vec![event("c", Some("k2")), event("c", Some("k2"))],
                expectations: Vec::new(),
                writer: None,
            },
            AppendRequest {
                events: vec![event("a", None), event("b", None)],
                expectations: vec![("a".into(), ExpectedVersion::Exact(1))],
                writer: None,
            },
        ];
        let unindexed = Shared::default();
        let Committed { outcomes, last, .. } =
            commit_batch(&db, None, requests, Position(0), &unindexed, 2).unwrap();
        assert!(matches!(
            outcomes[0],
            Ok(AppendOutcome::Appended {
                first: Position(1),
                last: Position(1)
            })
        ));
        assert!(matches!(
            outcomes[1],
            Err(AppendError::WrongExpectedVersion { actual: 1, .. })
        ));
        assert!(matches!(
            outcomes[2],
            Ok(AppendOutcome::AlreadyAppended {
                position: Position(1)
            })
        ));
        assert!(matches!(
            outcomes[3],
            Err(AppendError::DuplicateKeyInRequest { .. })
        ));
        assert!(matches!(
            outcomes[4],
            Ok(AppendOutcome::Appended {
                first: Position(2),
                last: Position(3)
            })
        ));
        assert_eq!(last, Position(3));
        assert_eq!(read_head(&db).unwrap(), Position(3));
        // Three entries were waiting, more than two: they are in the tables and out of memory.
        let pending = read_shared(&unindexed);
        assert!(pending.streams.is_empty() && pending.keys.is_empty());
        let txn = db.begin_read().unwrap();
        let index = txn.open_table(STREAM_INDEX).unwrap();
        assert_eq!(stream_head(&index, "a").unwrap(), 2);
        assert_eq!(stream_head(&index, "b").unwrap(), 1);
        let meta = txn.open_table(META).unwrap();
        assert_eq!(meta.get(INDEXED_THROUGH).unwrap().unwrap().value(), 3);
    }
}
