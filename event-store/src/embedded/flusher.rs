//! The embedded store's flusher thread: moves what the writer kept in memory into redb, durably,
//! off the writer's path.
//!
//! The writer hands over a [`Flush`]: every event and lookup entry since the previous flush, up to
//! a position. The flusher commits them in one durable redb transaction (with the writer epoch,
//! for a claim), then takes them out of memory and moves the horizon. Meanwhile the writer goes on
//! in the other write-ahead segment, which is why it may only reuse the segment this flush covers
//! once the flush has reported back.
//!
//! This module must never take anything out of memory before the commit that holds it returned.

use super::memory::{self, Shared};
use super::syncer::Horizon;
use super::{EVENTS, IDEMPOTENCY, INDEXED_THROUGH, META, STREAM_INDEX, WRITER_EPOCH};
use crate::error::{StoreError, storage};
use crate::record::Position;
use redb::Database;
use std::sync::{Arc, mpsc};

/// What the writer produced since the previous flush.
#[derive(Default)]
pub(super) struct Unflushed {
    /// Encoded events, by position, not yet in redb.
    pub(super) records: Vec<(u64, Arc<[u8]>)>,
    /// (stream, version, position) not yet in the index table.
    pub(super) streams: Vec<(String, u64, u64)>,
    /// (idempotency key, position) not yet in the keys table.
    pub(super) keys: Vec<(String, u64)>,
}

impl Unflushed {
    pub(super) fn is_empty(&self) -> bool {
        self.records.is_empty() && self.streams.is_empty() && self.keys.is_empty()
    }
}

/// One durable commit to make.
pub(super) struct Flush {
    /// Everything up to here is in `unflushed` or already in redb.
    pub(super) through: u64,
    pub(super) unflushed: Unflushed,
    /// A writer epoch to record with it (a claim).
    pub(super) epoch: Option<u64>,
}

/// Commits each flush received and reports back; runs until the writer hangs up.
pub(super) fn flush_loop(
    db: &Database,
    memory: &Shared,
    horizon: &Horizon,
    flushes: mpsc::Receiver<Flush>,
    done: mpsc::Sender<Result<(), StoreError>>,
) {
    while let Ok(flush) = flushes.recv() {
        let result = apply(db, memory, horizon, &flush);
        if result.is_err() {
            horizon.fail();
        }
        if done.send(result).is_err() {
            return;
        }
    }
}

/// Commits one flush, then takes what it holds out of memory and moves the horizon to it.
pub(super) fn apply(
    db: &Database,
    memory: &Shared,
    horizon: &Horizon,
    flush: &Flush,
) -> Result<(), StoreError> {
    commit(db, flush)?;
    {
        let mut memory = memory::write(memory);
        memory.drop_tail_through(flush.through);
        memory.forget_lookups_through(flush.through);
    }
    horizon.advance(Position(flush.through));
    Ok(())
}

/// Writes a flush's events, lookup entries and facts in one durable transaction.
fn commit(db: &Database, flush: &Flush) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(storage)?;
    {
        let mut events = txn.open_table(EVENTS).map_err(storage)?;
        for (position, record) in &flush.unflushed.records {
            events.insert(*position, &record[..]).map_err(storage)?;
        }
        let mut index = txn.open_table(STREAM_INDEX).map_err(storage)?;
        for (stream, version, position) in &flush.unflushed.streams {
            index
                .insert((stream.as_str(), *version), *position)
                .map_err(storage)?;
        }
        let mut keys = txn.open_table(IDEMPOTENCY).map_err(storage)?;
        for (key, position) in &flush.unflushed.keys {
            keys.insert(key.as_str(), *position).map_err(storage)?;
        }
        let mut meta = txn.open_table(META).map_err(storage)?;
        meta.insert(INDEXED_THROUGH, flush.through)
            .map_err(storage)?;
        if let Some(epoch) = flush.epoch {
            meta.insert(WRITER_EPOCH, epoch).map_err(storage)?;
        }
    }
    txn.commit().map_err(storage)
}
