//! The embedded store's write-ahead file: where an append becomes durable.
//!
//! A group of appends is written here as checksummed records and made durable with one
//! `fdatasync` of a preallocated file (no metadata to flush), which is several times cheaper than
//! a durable redb commit. The syncer thread (`syncer.rs`) makes that call, for every group
//! written since its last one; the events also go into redb with a non-durable commit, and redb is
//! made durable in bulk from time to time, after which this file starts over. Opening the store
//! puts back into redb every record past redb's durable head. Writing here makes nothing durable:
//! only the sync does, and nothing may be acknowledged before it.
//!
//! A record is `[len: u32][crc32 of body: u32][body]`, the body being the position (u64) and the
//! stored record's bytes. Reading stops at the first record that is torn (bad checksum or length)
//! or out of sequence: everything before it is whole, and nothing after it was ever acknowledged.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// The segments' names inside the data directory (the first is the name a single file had).
pub(crate) const FILE_NAMES: [&str; 2] = ["events.wal", "events.1.wal"];
/// A segment's usual size, allocated once with zeros so that a sync never has to extend it.
pub(crate) const CAPACITY: u64 = 16 * 1024 * 1024;
const HEADER: usize = 8;

/// Records read back at opening: each position with its stored record's bytes.
pub(crate) type Recovered = Vec<(u64, Vec<u8>)>;

pub(crate) struct Wal {
    segments: [File; 2],
    /// The segment written to.
    active: usize,
    /// Where the next record goes in it.
    offset: u64,
    /// How much of each segment is used.
    capacity: u64,
    /// The bytes of the group being written, kept between groups to save an allocation each.
    buffer: Vec<u8>,
}

impl Wal {
    /// Opens (creating and preallocating if needed) both segments and returns them with the
    /// records past `durable_head`, in order and gapless. Writing then starts at the first
    /// segment's beginning: the caller must first make the returned records durable elsewhere.
    pub(crate) fn open(
        dir: &Path,
        durable_head: u64,
        capacity: u64,
    ) -> io::Result<(Self, Recovered)> {
        let mut found = BTreeMap::new();
        let mut open = |name: &str| -> io::Result<File> {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(dir.join(name))?;
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            if (bytes.len() as u64) < capacity {
                extend_with_zeros(&mut file, bytes.len() as u64, capacity)?;
            }
            // Each segment's whole records, up to the first torn one. Those at or below the
            // durable head are old: a segment is reused only once redb durably holds all of it.
            let mut at = 0usize;
            while let Some((position, body, size)) = record_at(&bytes, at) {
                if position > durable_head {
                    found.insert(position, body.to_vec());
                }
                at += size;
            }
            Ok(file)
        };
        let segments = [open(FILE_NAMES[0])?, open(FILE_NAMES[1])?];
        // The run that continues the durable head without a gap; past a gap nothing was ever
        // acknowledged (a sync covers everything written before it).
        let records = found
            .into_iter()
            .zip(durable_head + 1..)
            .take_while(|((position, _), expected)| position == expected)
            .map(|(record, _)| record)
            .collect();
        Ok((
            Self {
                segments,
                active: 0,
                offset: 0,
                capacity,
                buffer: Vec::new(),
            },
            records,
        ))
    }

    /// Whether `bytes` more fit in the active segment.
    pub(crate) fn has_room(&self, bytes: u64) -> bool {
        self.offset + bytes <= self.capacity
    }

    /// The size a record of `len` bytes takes in the file.
    pub(crate) fn size_of(len: usize) -> u64 {
        (HEADER + 8 + len) as u64
    }

    /// Second handles on both segments, for the thread that syncs them.
    pub(crate) fn sync_handles(&self) -> io::Result<[File; 2]> {
        Ok([self.segments[0].try_clone()?, self.segments[1].try_clone()?])
    }

    /// The segment the next write goes to.
    pub(crate) fn active(&self) -> usize {
        self.active
    }

    /// Makes everything written so far durable.
    #[cfg(test)]
    pub(crate) fn sync(&self) -> io::Result<()> {
        self.segments[self.active].sync_data()
    }

    /// Writes the records after the previous ones in the active segment. They are durable once a
    /// sync of that segment that started after this returned has returned.
    pub(crate) fn write<'a>(
        &mut self,
        records: impl IntoIterator<Item = (u64, &'a [u8])>,
    ) -> io::Result<()> {
        let buffer = &mut self.buffer;
        buffer.clear();
        for (position, record) in records {
            let len = u32::try_from(8 + record.len())
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "record too large"))?;
            let position = position.to_le_bytes();
            let mut crc = crc32fast::Hasher::new();
            crc.update(&position);
            crc.update(record);
            buffer.extend_from_slice(&len.to_le_bytes());
            buffer.extend_from_slice(&crc.finalize().to_le_bytes());
            buffer.extend_from_slice(&position);
            buffer.extend_from_slice(record);
        }
        let file = &mut self.segments[self.active];
        file.seek(SeekFrom::Start(self.offset))?;
        file.write_all(buffer)?;
        self.offset += buffer.len() as u64;
        Ok(())
    }

    /// Moves writing to the start of the other segment. The caller must know that redb durably
    /// holds every record in it. (What lies beyond the new records is older than redb's durable
    /// head and is skipped on reading.)
    pub(crate) fn rotate(&mut self) {
        self.active = 1 - self.active;
        self.offset = 0;
    }
}

/// Fills the file with zeros from `len` (its length) to `capacity`, and makes that durable, so that
/// writing inside it never changes its size (and a sync never has metadata to flush). What the
/// file held is kept: it may hold records still to recover.
fn extend_with_zeros(file: &mut File, len: u64, capacity: u64) -> io::Result<()> {
    let zeros = vec![0u8; 1024 * 1024];
    file.seek(SeekFrom::Start(len))?;
    let mut at = len;
    while at < capacity {
        let chunk = usize::try_from(capacity - at).map_or(zeros.len(), |n| n.min(zeros.len()));
        file.write_all(&zeros[..chunk])?;
        at += chunk as u64;
    }
    file.sync_all()
}

/// The record starting at `at`: its position, its body after the position, and its total size.
fn record_at(bytes: &[u8], at: usize) -> Option<(u64, &[u8], usize)> {
    let header = bytes.get(at..at + HEADER)?;
    let len = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(header[4..].try_into().ok()?);
    if len < 8 {
        return None;
    }
    let body = bytes.get(at + HEADER..at + HEADER + len)?;
    if crc32fast::hash(body) != crc {
        return None;
    }
    let position = u64::from_le_bytes(body[..8].try_into().ok()?);
    Some((position, &body[8..], HEADER + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_past_the_durable_head_come_back_in_order_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (mut wal, none) = Wal::open(dir.path(), 0, CAPACITY).unwrap_or_else(|e| panic!("{e}"));
        assert!(none.is_empty());
        wal.write([(1, &b"one"[..]), (2, &b"two"[..])])
            .unwrap_or_else(|e| panic!("{e}"));
        wal.write([(3, &b"three"[..])])
            .unwrap_or_else(|e| panic!("{e}"));
        wal.sync().unwrap_or_else(|e| panic!("{e}"));
        drop(wal);
        let (_, records) = Wal::open(dir.path(), 1, CAPACITY).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(records, vec![(2, b"two".to_vec()), (3, b"three".to_vec())]);

        // Tear the last record: it and only it is gone.
        let path = dir.path().join(FILE_NAMES[0]);
        let mut bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
        let third = 2 * HEADER + 2 * 8 + 3 + 3;
        bytes[third + HEADER + 9] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
        let (mut wal, records) =
            Wal::open(dir.path(), 0, CAPACITY).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(records, vec![(1, b"one".to_vec()), (2, b"two".to_vec())]);

        // After opening, new records overwrite the start; older ones behind them are skipped.
        wal.write([(3, &b"THREE"[..])])
            .unwrap_or_else(|e| panic!("{e}"));
        wal.sync().unwrap_or_else(|e| panic!("{e}"));
        drop(wal);
        let (_, records) = Wal::open(dir.path(), 2, CAPACITY).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(records, vec![(3, b"THREE".to_vec())]);
    }

    /// Records written to both segments come back as one run, whichever segment holds them,
    /// and a reused segment's old records (redb durably holds them) are skipped.
    #[test]
    fn the_two_segments_read_back_as_one_run() {
        let ok = |r: io::Result<()>| r.unwrap_or_else(|e| panic!("{e}"));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (mut wal, _) = Wal::open(dir.path(), 0, CAPACITY).unwrap_or_else(|e| panic!("{e}"));
        ok(wal.write([(1, &b"one"[..]), (2, &b"two"[..])]));
        ok(wal.sync());
        wal.rotate();
        assert_eq!(wal.active(), 1);
        ok(wal.write([(3, &b"three"[..]), (4, &b"four"[..])]));
        ok(wal.sync());
        // Back to the first segment, once redb durably holds 1 and 2.
        wal.rotate();
        ok(wal.write([(5, &b"a longer fifth record"[..])]));
        ok(wal.sync());
        drop(wal);
        let (_, records) = Wal::open(dir.path(), 2, CAPACITY).unwrap_or_else(|e| panic!("{e}"));
        let positions: Vec<u64> = records.iter().map(|(p, _)| *p).collect();
        assert_eq!(positions, vec![3, 4, 5]);
        assert_eq!(records[2].1, b"a longer fifth record".to_vec());
        // A gap (here: redb said 1 was the durable head, but 2 was overwritten) ends the run.
        let (_, records) = Wal::open(dir.path(), 1, CAPACITY).unwrap_or_else(|e| panic!("{e}"));
        assert!(records.is_empty());
    }

    /// Opening with bigger segments (other options, or a new version) keeps what the smaller
    /// ones hold.
    #[test]
    fn growing_the_segments_keeps_their_records() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (mut wal, _) = Wal::open(dir.path(), 0, 4096).unwrap_or_else(|e| panic!("{e}"));
        wal.write([(1, &b"one"[..])])
            .unwrap_or_else(|e| panic!("{e}"));
        wal.sync().unwrap_or_else(|e| panic!("{e}"));
        drop(wal);
        let (_, records) = Wal::open(dir.path(), 0, CAPACITY).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(records, vec![(1, b"one".to_vec())]);
        let size = std::fs::metadata(dir.path().join(FILE_NAMES[1]))
            .unwrap_or_else(|e| panic!("{e}"))
            .len();
        assert_eq!(size, CAPACITY);
    }
}
