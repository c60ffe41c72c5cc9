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

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// The file's name inside the data directory.
pub(crate) const FILE_NAME: &str = "events.wal";
/// Its size, allocated once with zeros so that a sync never has to extend it.
pub(crate) const CAPACITY: u64 = 16 * 1024 * 1024;
const HEADER: usize = 8;

/// Records read back at opening: each position with its stored record's bytes.
pub(crate) type Recovered = Vec<(u64, Vec<u8>)>;

pub(crate) struct Wal {
    file: File,
    /// Where the next record goes.
    offset: u64,
    /// The bytes of the group being written, kept between groups to save an allocation each.
    buffer: Vec<u8>,
}

impl Wal {
    /// Opens (creating and preallocating if needed) the file and returns it with the records past
    /// `durable_head`, in order and gapless.
    pub(crate) fn open(dir: &Path, durable_head: u64) -> io::Result<(Self, Recovered)> {
        let path = dir.join(FILE_NAME);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        if file.metadata()?.len() < CAPACITY {
            preallocate(&mut file)?;
        }
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(0))?;
        file.read_to_end(&mut bytes)?;
        let mut records = Vec::new();
        let mut next = durable_head + 1;
        let mut at = 0usize;
        while let Some((position, body, size)) = record_at(&bytes, at) {
            if position > durable_head {
                if position != next {
                    break;
                }
                records.push((position, body.to_vec()));
                next += 1;
            }
            at += size;
        }
        Ok((
            Self {
                file,
                offset: 0,
                buffer: Vec::new(),
            },
            records,
        ))
    }

    /// Whether `bytes` more fit before the file must start over.
    pub(crate) fn has_room(&self, bytes: u64) -> bool {
        self.offset + bytes <= CAPACITY
    }

    /// The size a record of `len` bytes takes in the file.
    pub(crate) fn size_of(len: usize) -> u64 {
        (HEADER + 8 + len) as u64
    }

    /// A second handle on the file, for the thread that syncs it.
    pub(crate) fn sync_handle(&self) -> io::Result<File> {
        self.file.try_clone()
    }

    /// Makes everything written so far durable.
    #[cfg(test)]
    fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Writes the records after the previous ones. They are durable once a sync of the file that
    /// started after this returned has returned.
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
        self.file.seek(SeekFrom::Start(self.offset))?;
        self.file.write_all(buffer)?;
        self.offset += buffer.len() as u64;
        Ok(())
    }

    /// Starts over at the beginning, once redb durably holds everything written here. (What lies
    /// beyond the new records is older than redb's durable head and is skipped on reading.)
    pub(crate) fn restart(&mut self) {
        self.offset = 0;
    }
}

fn preallocate(file: &mut File) -> io::Result<()> {
    let zeros = vec![0u8; 1024 * 1024];
    file.seek(SeekFrom::Start(0))?;
    let mut written = 0;
    while written < CAPACITY {
        file.write_all(&zeros)?;
        written += zeros.len() as u64;
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
        let (mut wal, none) = Wal::open(dir.path(), 0).unwrap_or_else(|e| panic!("{e}"));
        assert!(none.is_empty());
        wal.write([(1, &b"one"[..]), (2, &b"two"[..])])
            .unwrap_or_else(|e| panic!("{e}"));
        wal.write([(3, &b"three"[..])])
            .unwrap_or_else(|e| panic!("{e}"));
        wal.sync().unwrap_or_else(|e| panic!("{e}"));
        drop(wal);
        let (_, records) = Wal::open(dir.path(), 1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(records, vec![(2, b"two".to_vec()), (3, b"three".to_vec())]);

        // Tear the last record: it and only it is gone.
        let path = dir.path().join(FILE_NAME);
        let mut bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
        let third = 2 * HEADER + 2 * 8 + 3 + 3;
        bytes[third + HEADER + 9] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
        let (mut wal, records) = Wal::open(dir.path(), 0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(records, vec![(1, b"one".to_vec()), (2, b"two".to_vec())]);

        // After a restart, new records overwrite the start; older ones behind them are skipped.
        wal.restart();
        wal.write([(3, &b"THREE"[..])])
            .unwrap_or_else(|e| panic!("{e}"));
        wal.sync().unwrap_or_else(|e| panic!("{e}"));
        drop(wal);
        let (_, records) = Wal::open(dir.path(), 2).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(records, vec![(3, b"THREE".to_vec())]);
    }
}
