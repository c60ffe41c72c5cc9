//! What the embedded store keeps in memory beside redb: the newest events, not yet in redb's
//! events table (the tail), and the lookup entries not yet in the lookup tables.
//!
//! The flusher moves both into redb in bulk, every few thousand events, instead of the writer
//! committing to redb per group. Until then readers find them here. Two rules keep a reader from missing
//! anything: something leaves memory only after the redb commit that holds it, and a reader copies
//! what it needs from memory before it opens its read transaction. Nothing here is durable: the
//! write-ahead file and redb are, and opening the store rebuilds this from them.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

#[derive(Default)]
pub(super) struct Memory {
    /// stream → version → position, for events after the lookup tables' end (looked up by stream
    /// without building a key).
    pub(super) streams: HashMap<String, BTreeMap<u64, u64>>,
    /// idempotency key → position, likewise.
    pub(super) keys: HashMap<String, u64>,
    /// Encoded records of the events from `tail_start` on, gapless: those not in redb yet.
    tail: VecDeque<Arc<[u8]>>,
    tail_start: u64,
}

pub(super) type Shared = Arc<RwLock<Memory>>;

pub(super) fn read(shared: &Shared) -> RwLockReadGuard<'_, Memory> {
    shared.read().unwrap_or_else(PoisonError::into_inner)
}

pub(super) fn write(shared: &Shared) -> RwLockWriteGuard<'_, Memory> {
    shared.write().unwrap_or_else(PoisonError::into_inner)
}

/// Records copied out of the tail: `records[i]` is the event at `first + i`.
pub(super) struct TailCopy {
    pub(super) first: u64,
    pub(super) records: Vec<Arc<[u8]>>,
}

impl Memory {
    /// Empty memory for a log whose events up to `head` are all in redb.
    pub(super) fn after(head: u64) -> Self {
        Self {
            tail_start: head + 1,
            ..Self::default()
        }
    }

    pub(super) fn stream_head(&self, stream: &str) -> Option<u64> {
        self.streams
            .get(stream)
            .and_then(|versions| versions.last_key_value())
            .map(|(version, _)| *version)
    }

    pub(super) fn insert_lookup(&mut self, stream: &str, version: u64, position: u64) {
        let versions = match self.streams.get_mut(stream) {
            Some(versions) => versions,
            None => self.streams.entry(stream.to_owned()).or_default(),
        };
        versions.insert(version, position);
    }

    /// Forgets the lookup entries of events up to `through` (now in the tables).
    pub(super) fn forget_lookups_through(&mut self, through: u64) {
        self.streams.retain(|_, versions| {
            versions.retain(|_, position| *position > through);
            !versions.is_empty()
        });
        self.keys.retain(|_, position| *position > through);
    }

    /// Adds the record of the event at `position`, which must directly follow the tail.
    pub(super) fn push_tail(&mut self, position: u64, record: Arc<[u8]>) {
        debug_assert_eq!(position, self.tail_start + self.tail.len() as u64);
        self.tail.push_back(record);
    }

    #[cfg(test)]
    pub(super) fn tail_len(&self) -> usize {
        self.tail.len()
    }

    /// Drops the tail's records up to `through` (now in redb).
    pub(super) fn drop_tail_through(&mut self, through: u64) {
        while self.tail_start <= through && self.tail.pop_front().is_some() {
            self.tail_start += 1;
        }
        self.tail_start = self.tail_start.max(through + 1);
    }

    /// Copies the tail's records from `from` through `through` (those it holds).
    pub(super) fn copy_tail(&self, from: u64, through: u64) -> TailCopy {
        let first = from.max(self.tail_start);
        let records = if first > through {
            Vec::new()
        } else {
            let skip = usize::try_from(first - self.tail_start).unwrap_or(usize::MAX);
            let take = usize::try_from(through - first + 1).unwrap_or(usize::MAX);
            self.tail.iter().skip(skip).take(take).cloned().collect()
        };
        TailCopy { first, records }
    }

    /// The record at `position`, if the tail holds it.
    pub(super) fn tail_record(&self, position: u64) -> Option<Arc<[u8]>> {
        let at = usize::try_from(position.checked_sub(self.tail_start)?).ok()?;
        self.tail.get(at).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: u8) -> Arc<[u8]> {
        Arc::from(vec![n])
    }

    #[test]
    fn the_tail_copies_what_it_holds_and_drops_what_redb_took() {
        let mut memory = Memory::after(10);
        for position in 11..=15 {
            memory.push_tail(position, record(position as u8));
        }
        let copy = memory.copy_tail(5, 12);
        assert_eq!(copy.first, 11);
        assert_eq!(copy.records, vec![record(11), record(12)]);
        let copy = memory.copy_tail(14, 100);
        assert_eq!(copy.first, 14);
        assert_eq!(copy.records, vec![record(14), record(15)]);
        assert!(memory.copy_tail(16, 20).records.is_empty());

        memory.drop_tail_through(13);
        assert_eq!(memory.tail_len(), 2);
        assert_eq!(memory.tail_record(13), None);
        assert_eq!(memory.tail_record(14), Some(record(14)));
        let copy = memory.copy_tail(1, 20);
        assert_eq!((copy.first, copy.records.len()), (14, 2));
        memory.drop_tail_through(15);
        memory.push_tail(16, record(16));
        assert_eq!(memory.tail_record(16), Some(record(16)));
    }
}
