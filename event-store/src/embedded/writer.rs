//! The embedded store's writer thread: the one place that decides positions and versions.
//!
//! It takes every append queued, checks each against the log (expected versions, idempotency
//! keys, the writer epoch), encodes the accepted events, puts them in memory, writes them to the
//! active write-ahead segment and hands the group's answers to the syncer. No redb transaction is
//! committed on this path: every `flush_every` events (and when a segment is full, on a claim
//! and on closing) the writer hands everything since the previous flush to the flusher thread,
//! which commits it to redb durably, and goes on in the other segment.
//!
//! This module never acknowledges an append (the syncer does, once the group is durable), and
//! never reuses a write-ahead segment before the flush that covers it has reported back.

use super::flusher::{Flush, Unflushed};
use super::memory::{self, Shared};
use super::syncer::{Answers, Group, Horizon, Reply};
use super::wal::Wal;
use super::{IDEMPOTENCY, STREAM_INDEX, codec};
use crate::chain::ChainHash;
use crate::error::{AppendError, StoreError, storage};
use crate::record::{AppendOutcome, AppendRequest, Position, WriterEpoch, refusal};
use redb::{Database, ReadableDatabase, ReadableTable};
use std::collections::HashMap;
use std::sync::{Arc, mpsc};
use tokio::sync::oneshot;

/// How many appends the writer takes into one group at most.
const MAX_APPENDS_PER_GROUP: usize = 512;

/// What the writer thread is asked to do. Claims go through it too, so that a claim and the
/// appends around it are ordered by the one thread that writes.
pub(super) enum Job {
    Append(AppendRequest, Reply),
    Claim(oneshot::Sender<Result<WriterEpoch, StoreError>>),
}

/// Each request's answer, in the group's order.
type Outcomes = Vec<Result<AppendOutcome, AppendError>>;

/// A checked and encoded group, not yet anywhere.
struct Prepared {
    outcomes: Outcomes,
    records: Vec<(u64, Arc<[u8]>)>,
    /// (stream, version, position) of each accepted event.
    streams: Vec<(String, u64, u64)>,
    keys: Vec<(String, u64)>,
    /// The link of the last accepted event.
    chain: ChainHash,
}

pub(super) struct Writer<'a> {
    pub(super) db: &'a Database,
    pub(super) wal: &'a mut Wal,
    pub(super) horizon: &'a Horizon,
    pub(super) memory: &'a Shared,
    /// Where written groups go to be synced and answered.
    pub(super) groups: mpsc::Sender<Group>,
    /// Where flushes go, and where the flusher reports each one done.
    pub(super) flushes: mpsc::Sender<Flush>,
    pub(super) flushed: mpsc::Receiver<Result<(), StoreError>>,
    /// Whether a flush was handed over and has not reported back yet.
    pub(super) flushing: bool,
    /// What the next flush takes.
    pub(super) unflushed: Unflushed,
    /// The newest position given to an event.
    pub(super) last: u64,
    /// That event's link in the hash chain.
    pub(super) chain: ChainHash,
    /// The current writer epoch (only this thread changes it, durably, before using it).
    pub(super) epoch: u64,
    /// How many events wait in memory before they are flushed.
    pub(super) flush_every: usize,
}

impl Writer<'_> {
    /// Serves the queue until it closes or the store fails; then flushes what memory holds into
    /// redb, so that a store closed cleanly opens without replaying its write-ahead file.
    pub(super) fn run(&mut self, queue: &mpsc::Receiver<Job>) {
        if self.serve(queue) {
            let closed = if self.unflushed.is_empty() {
                self.wait_flush()
            } else {
                self.start_flush(self.last, None)
                    .and_then(|()| self.wait_flush())
            };
            if let Err(error) = closed {
                tracing::error!(%error, "event store could not flush into redb on closing");
            }
        }
    }

    /// `false` when the store failed.
    fn serve(&mut self, queue: &mpsc::Receiver<Job>) -> bool {
        while let Ok(first) = queue.recv() {
            let mut jobs = vec![first];
            while jobs.len() < MAX_APPENDS_PER_GROUP {
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
                        if !self.group(std::mem::take(&mut appends)) {
                            let _ = reply.send(Err(StoreError::Failed("the store failed".into())));
                            return false;
                        }
                        let claimed = self.claim();
                        let failed = claimed.is_err();
                        let _ = reply.send(claimed);
                        if failed {
                            return false;
                        }
                    }
                }
            }
            if !self.group(appends) {
                return false;
            }
        }
        true
    }

    /// Takes the next writer epoch, durably (with everything before it).
    fn claim(&mut self) -> Result<WriterEpoch, StoreError> {
        let next = self.epoch + 1;
        self.start_flush(self.last, Some(next))
            .and_then(|()| self.wait_flush())
            .inspect_err(|error| {
                tracing::error!(%error, "event store commit failed; the store stops");
                self.horizon.fail();
            })?;
        self.epoch = next;
        Ok(WriterEpoch(next))
    }

    /// Checks, stores and hands on one group; `false` when the store must stop.
    fn group(&mut self, appends: Vec<(AppendRequest, Reply)>) -> bool {
        if let Err(error) = self.poll_flush() {
            tracing::error!(%error, "event store flush failed; the store stops");
        }
        if self.horizon.failed() {
            // An earlier sync or flush failed: acknowledge nothing more.
            fail_all(
                appends.into_iter().map(|(_, reply)| reply),
                "an earlier write of the event store failed",
            );
            return false;
        }
        if appends.is_empty() {
            return true;
        }
        let (requests, replies): (Vec<_>, Vec<_>) = appends.into_iter().unzip();
        match self.store_group(requests) {
            Ok((outcomes, segment)) => {
                let answers: Answers = replies.into_iter().zip(outcomes).collect();
                if let Err(mpsc::SendError(group)) = self.groups.send(Group {
                    through: Position(self.last),
                    segment,
                    answers,
                }) {
                    fail_all(
                        group.answers.into_iter().map(|(reply, _)| reply),
                        "the event store's syncer stopped",
                    );
                    return false;
                }
                true
            }
            Err(error) => {
                // After a failed write or commit nobody can say what reached the disk, and redb
                // refuses further use: stop here, so that the process restarts and reads the
                // truth back from the files, instead of limping on.
                tracing::error!(%error, "event store write failed; the store stops");
                self.horizon.fail();
                fail_all(replies.into_iter(), &error.to_string());
                false
            }
        }
    }

    /// Checks and stores a group, and returns each request's answer, to be sent once the group is
    /// durable (the syncer sends them), with the write-ahead segment that must be synced for it.
    fn store_group(
        &mut self,
        requests: Vec<AppendRequest>,
    ) -> Result<(Outcomes, usize), StoreError> {
        let Prepared {
            outcomes,
            records,
            streams,
            keys,
            chain,
        } = self.prepare(requests)?;
        let size: u64 = records.iter().map(|(_, r)| Wal::size_of(r.len())).sum();
        if !records.is_empty() && !self.wal.has_room(size) {
            // The active segment is full: everything before this group goes to the flusher, and
            // writing goes on in the other segment.
            self.start_flush(self.last, None)?;
        }
        {
            let mut memory = memory::write(self.memory);
            for (stream, version, position) in &streams {
                memory.insert_lookup(stream, *version, *position);
            }
            memory.keys.extend(keys.iter().cloned());
            for (position, record) in &records {
                memory.push_tail(*position, Arc::clone(record));
            }
        }
        if let Some((last, _)) = records.last() {
            self.last = *last;
            self.chain = chain;
        }
        // Named before a flush below moves writing to the other segment.
        let segment = self.wal.active();
        if self.wal.has_room(size) {
            if !records.is_empty() {
                self.wal
                    .write(records.iter().map(|(p, r)| (*p, &r[..])))
                    .map_err(|e| StoreError::Failed(format!("write-ahead file: {e}")))?;
            }
            self.unflushed.records.extend(records);
            self.unflushed.streams.extend(streams);
            self.unflushed.keys.extend(keys);
        } else {
            // Bigger than a whole segment: a flush of its own makes it durable.
            self.unflushed.records.extend(records);
            self.unflushed.streams.extend(streams);
            self.unflushed.keys.extend(keys);
            self.start_flush(self.last, None)?;
            self.wait_flush()?;
        }
        if self.unflushed.streams.len() >= self.flush_every && !self.flushing {
            self.start_flush(self.last, None)?;
        }
        Ok((outcomes, segment))
    }

    /// Hands everything up to `through` to the flusher, once the previous flush reported back,
    /// and moves writing to the other segment (which that flush freed).
    fn start_flush(&mut self, through: u64, epoch: Option<u64>) -> Result<(), StoreError> {
        self.wait_flush()?;
        self.wal.rotate();
        let flush = Flush {
            through,
            unflushed: std::mem::take(&mut self.unflushed),
            epoch,
        };
        self.flushes
            .send(flush)
            .map_err(|_| StoreError::Failed("the event store's flusher stopped".into()))?;
        self.flushing = true;
        Ok(())
    }

    /// Waits for the flush in progress, if any, to report back.
    fn wait_flush(&mut self) -> Result<(), StoreError> {
        if !self.flushing {
            return Ok(());
        }
        self.flushing = false;
        self.flushed
            .recv()
            .map_err(|_| StoreError::Failed("the event store's flusher stopped".into()))?
    }

    /// Notes a flush that reported back meanwhile, without waiting.
    fn poll_flush(&mut self) -> Result<(), StoreError> {
        if !self.flushing {
            return Ok(());
        }
        match self.flushed.try_recv() {
            Ok(result) => {
                self.flushing = false;
                result
            }
            Err(mpsc::TryRecvError::Empty) => Ok(()),
            Err(mpsc::TryRecvError::Disconnected) => {
                self.flushing = false;
                Err(StoreError::Failed(
                    "the event store's flusher stopped".into(),
                ))
            }
        }
    }

    /// Checks each request against the log and this group's earlier requests, and encodes the
    /// events of those accepted.
    fn prepare(&self, requests: Vec<AppendRequest>) -> Result<Prepared, StoreError> {
        // Memory before the read transaction: an entry the flusher takes out of memory
        // meanwhile is then in the tables this transaction reads.
        let memory = memory::read(self.memory);
        let txn = self.db.begin_read().map_err(storage)?;
        let index = txn.open_table(STREAM_INDEX).map_err(storage)?;
        let stored_keys = txn.open_table(IDEMPOTENCY).map_err(storage)?;
        let mut prepared = Prepared {
            outcomes: Vec::with_capacity(requests.len()),
            records: Vec::new(),
            streams: Vec::new(),
            keys: Vec::new(),
            chain: self.chain,
        };
        let mut heads: HashMap<String, u64> = HashMap::new();
        let mut keys: HashMap<String, u64> = HashMap::new();
        let mut last = self.last;
        let mut chain = self.chain;
        let head_of = |stream: &str, heads: &HashMap<String, u64>| {
            if let Some(version) = heads.get(stream) {
                return Ok(*version);
            }
            if let Some(version) = memory.stream_head(stream) {
                return Ok(version);
            }
            stream_head(&index, stream)
        };
        for request in requests {
            let refused = refusal(
                &request,
                self.epoch,
                |key| match keys.get(key).or_else(|| memory.keys.get(key)) {
                    Some(position) => Ok(Some(*position)),
                    None => Ok(stored_keys.get(key).map_err(storage)?.map(|p| p.value())),
                },
                |stream| head_of(stream, &heads),
            )?;
            if let Some(answer) = refused {
                prepared.outcomes.push(answer);
                continue;
            }
            let first = Position(last + 1);
            for event in request.events {
                let position = last + 1;
                let version = head_of(&event.stream, &heads)? + 1;
                let (record, link) =
                    codec::encode(&event, position, version, &chain).map_err(|e| {
                        StoreError::Corrupt {
                            position,
                            reason: format!("cannot encode: {e}"),
                        }
                    })?;
                chain = link;
                prepared.records.push((position, Arc::from(record)));
                if let Some(key) = event.idempotency_key {
                    keys.insert(key.clone(), position);
                    prepared.keys.push((key, position));
                }
                heads.insert(event.stream.clone(), version);
                prepared.streams.push((event.stream, version, position));
                last = position;
            }
            prepared.outcomes.push(Ok(AppendOutcome::Appended {
                first,
                last: Position(last),
            }));
        }
        prepared.chain = chain;
        Ok(prepared)
    }
}

fn fail_all(replies: impl Iterator<Item = Reply>, why: &str) {
    for reply in replies {
        let _ = reply.send(Err(AppendError::Store(StoreError::Failed(why.to_owned()))));
    }
}

/// A stream's newest version in the index table (0 when it has none): the last entry of its
/// range, so that no second table has to be written per event.
pub(super) fn stream_head<T: ReadableTable<(&'static str, u64), u64>>(
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

#[cfg(test)]
mod tests {
    use super::super::{FILE_NAME, Reader, prepare_tables};
    use super::*;
    use crate::record::{ExpectedVersion, NewEvent};
    use std::sync::RwLock;
    use uuid::Uuid;

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

    fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
        result.unwrap_or_else(|e| panic!("{e}"))
    }

    /// A writer whose syncer and flusher are the test itself: groups wait in `to_sync` until the
    /// test moves the horizon, as the syncer does after a sync; flushes wait in `to_flush`.
    struct Rig {
        _dir: tempfile::TempDir,
        wal: Wal,
        reader: Reader,
        groups: mpsc::Sender<Group>,
        to_sync: mpsc::Receiver<Group>,
        flushes: mpsc::Sender<Flush>,
        to_flush: mpsc::Receiver<Flush>,
        /// Kept so that the writer's `flushed` stays open.
        _flushed_tx: mpsc::Sender<Result<(), StoreError>>,
        flushed: Option<mpsc::Receiver<Result<(), StoreError>>>,
    }

    impl Rig {
        fn new() -> Self {
            let dir = ok(tempfile::tempdir());
            let db = ok(Database::create(dir.path().join(FILE_NAME)));
            ok(prepare_tables(&db));
            let (wal, _) = ok(Wal::open(dir.path(), 0, super::super::wal::CAPACITY));
            let (horizon, _) = Horizon::new(Position(0));
            let (groups, to_sync) = mpsc::channel();
            let (flushes, to_flush) = mpsc::channel();
            let (flushed_tx, flushed) = mpsc::channel();
            Self {
                _dir: dir,
                wal,
                reader: Reader {
                    db: Arc::new(db),
                    memory: Arc::new(RwLock::new(memory::Memory::after(0))),
                    horizon: Arc::new(horizon),
                },
                groups,
                to_sync,
                flushes,
                to_flush,
                _flushed_tx: flushed_tx,
                flushed: Some(flushed),
            }
        }

        /// The writer (one per rig: it takes the flusher's answers).
        fn writer(&mut self) -> Writer<'_> {
            Writer {
                db: &self.reader.db,
                wal: &mut self.wal,
                horizon: &self.reader.horizon,
                memory: &self.reader.memory,
                groups: self.groups.clone(),
                flushes: self.flushes.clone(),
                flushed: self.flushed.take().unwrap_or_else(|| mpsc::channel().1),
                flushing: false,
                unflushed: Unflushed::default(),
                last: 0,
                chain: ChainHash::GENESIS,
                epoch: 0,
                flush_every: 1000,
            }
        }
    }

    fn appends(requests: Vec<AppendRequest>) -> Vec<(AppendRequest, Reply)> {
        requests
            .into_iter()
            .map(|request| (request, oneshot::channel().0))
            .collect()
    }

    /// One group that mixes successes, a conflict, a key repeated across requests and a key
    /// repeated inside one request: each request gets its own answer, and none of it is visible
    /// to a reader until the group is durable.
    #[test]
    fn a_group_answers_each_request_on_its_own_and_shows_nothing_before_the_sync() {
        let mut rig = Rig::new();
        let requests = vec![
            AppendRequest {
                events: vec![event("a", Some("k1"))],
                expectations: vec![("a".into(), ExpectedVersion::NoStream)],
                writer: None,
            },
            // Conflicts with the first request of the same group.
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
        assert!(rig.writer().group(appends(requests)));
        let group = ok(rig.to_sync.try_recv());
        assert_eq!(group.through, Position(3));
        let outcomes: Vec<_> = group.answers.into_iter().map(|(_, o)| o).collect();
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

        // Written, not yet synced: no reader sees it.
        let reader = &rig.reader;
        assert!(ok(reader.read_all(Position(0), 100)).is_empty());
        assert!(ok(reader.read_stream("a", 0, 100)).is_empty());
        assert_eq!(ok(reader.find_key("k1")), None);

        // Synced: all of it.
        reader.horizon.advance(group.through);
        let all = ok(reader.read_all(Position(0), 100));
        assert_eq!(
            all.iter()
                .map(|e| (e.stream.as_str(), e.stream_version))
                .collect::<Vec<_>>(),
            vec![("a", 1), ("a", 2), ("b", 1)]
        );
        assert_eq!(ok(reader.read_stream("a", 1, 100)).len(), 1);
        assert_eq!(ok(reader.find_key("k1")), Some(Position(1)));
    }

    /// A flush changes nothing a reader sees: it moves the tail and the lookups into redb, with
    /// how far the tables go and the writer epoch, and takes them out of memory.
    #[test]
    fn flushing_memory_into_redb_changes_nothing_a_reader_sees() {
        let mut rig = Rig::new();
        let request = |stream: &str, key: &str| AppendRequest {
            events: vec![event(stream, Some(key))],
            expectations: Vec::new(),
            writer: None,
        };
        let seen = |reader: &Reader| {
            (
                ok(reader.read_all(Position(0), 100)),
                ok(reader.read_all(Position(2), 1)),
                ok(reader.read_stream("x", 1, 100)),
                ok(reader.find_key("k3")),
            )
        };
        let mut writer = rig.writer();
        assert!(writer.group(appends(vec![request("x", "k1"), request("y", "k2")])));
        assert!(writer.group(appends(vec![request("x", "k3")])));
        assert_eq!(writer.wal.active(), 0);
        ok(writer.start_flush(3, Some(7)));
        // Writing goes on in the other segment while the flush runs.
        assert_eq!(writer.wal.active(), 1);
        assert!(writer.unflushed.is_empty());
        drop(writer);
        rig.reader.horizon.advance(Position(3));
        let before = seen(&rig.reader);
        assert_eq!(before.0.len(), 3);
        assert_eq!(before.1.len(), 1);
        assert_eq!(before.2.len(), 1);
        assert_eq!(before.3, Some(Position(3)));

        let flush = ok(rig.to_flush.try_recv());
        assert_eq!(flush.unflushed.records.len(), 3);
        ok(super::super::flusher::apply(
            &rig.reader.db,
            &rig.reader.memory,
            &rig.reader.horizon,
            &flush,
        ));
        {
            let memory = memory::read(&rig.reader.memory);
            assert_eq!(memory.tail_len(), 0);
            assert!(memory.streams.is_empty() && memory.keys.is_empty());
        }
        assert_eq!(seen(&rig.reader), before);
        let txn = ok(rig.reader.db.begin_read());
        let index = ok(txn.open_table(STREAM_INDEX));
        assert_eq!(ok(stream_head(&index, "x")), 2);
        let meta = ok(txn.open_table(super::super::META));
        let fact = |key| ok(meta.get(key)).map(|v| v.value());
        assert_eq!(fact(super::super::INDEXED_THROUGH), Some(3));
        assert_eq!(fact(super::super::WRITER_EPOCH), Some(7));
    }

    /// A flush that follows a group moves writing to the other segment; the group still names the
    /// segment it went to, which is the one the syncer must sync before answering it.
    #[test]
    fn a_group_names_the_segment_it_was_written_to() {
        let mut rig = Rig::new();
        let mut writer = rig.writer();
        writer.flush_every = 2;
        let request = AppendRequest {
            events: vec![event("x", None), event("x", None)],
            expectations: Vec::new(),
            writer: None,
        };
        assert!(writer.group(appends(vec![request])));
        assert!(writer.flushing);
        assert_eq!(writer.wal.active(), 1);
        drop(writer);
        let group = ok(rig.to_sync.try_recv());
        assert_eq!(group.segment, 0);
        assert_eq!(ok(rig.to_flush.try_recv()).through, 2);
    }
}
