//! How the embedded store lays an event out in bytes: one format byte, then the envelope and
//! payload in postcard, then (format 2) the event's 32-byte link in the log's hash chain. The
//! same bytes go into the write-ahead file and into redb.
//!
//! This module must never change the bytes of an existing format: a new layout gets a new format
//! byte and is read beside the old one.

use crate::chain::{ChainHash, Linked, link};
use crate::error::StoreError;
use crate::record::{NewEvent, Position, StoredEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The first byte of every stored record: the record layout's version, so that a later layout can
/// be read beside this one. Format 1 has no chain link; format 2 appends it.
const RECORD_FORMAT: u8 = 2;
const UNCHAINED_FORMAT: u8 = 1;
const LINK_BYTES: usize = 32;

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

pub(super) fn decode(position: u64, bytes: &[u8]) -> Result<StoredEvent, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { position, reason };
    let (format, body) = bytes
        .split_first()
        .ok_or_else(|| corrupt("empty record".into()))?;
    let (body, chain) = match *format {
        UNCHAINED_FORMAT => (body, None),
        RECORD_FORMAT if body.len() >= LINK_BYTES => {
            let (body, link) = body.split_at(body.len() - LINK_BYTES);
            let link: [u8; LINK_BYTES] = link
                .try_into()
                .map_err(|_| corrupt("short chain link".into()))?;
            (body, Some(ChainHash(link)))
        }
        RECORD_FORMAT => return Err(corrupt("record too short for its chain link".into())),
        other => return Err(corrupt(format!("unknown record format {other}"))),
    };
    let (record, rest): (RecordV1, &[u8]) =
        postcard::take_from_bytes(body).map_err(|e| corrupt(e.to_string()))?;
    // Bytes the record's fields do not account for would escape its link.
    if !rest.is_empty() {
        return Err(corrupt(format!(
            "{} bytes after the record's fields",
            rest.len()
        )));
    }
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
        chain,
    })
}

/// `event`'s stored record at `position`, as version `stream_version` of its stream, linked
/// after `previous`; and its link.
pub(super) fn encode(
    event: &NewEvent,
    position: u64,
    stream_version: u64,
    previous: &ChainHash,
) -> Result<(Vec<u8>, ChainHash), postcard::Error> {
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
    let mut out =
        Vec::with_capacity(event.payload.len() + event.stream.len() + event.event_type.len() + 96);
    out.push(RECORD_FORMAT);
    postcard::to_io(&record, &mut out)?;
    let chain = link(
        previous,
        &Linked {
            position,
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
        },
    );
    out.extend_from_slice(&chain.0);
    Ok((out, chain))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let new = NewEvent {
            event_id: Uuid::now_v7(),
            stream: "conversation-7".into(),
            event_type: "Tested".into(),
            schema_version: 2,
            recorded_at_ms: 1_763_900_000_000,
            correlation_id: Uuid::now_v7(),
            causation_id: Uuid::now_v7(),
            payload: (0..=255).collect(),
            idempotency_key: Some("wamid.1".into()),
        };
        let earlier = Earlier {
            stream: new.stream.clone(),
            stream_version: 9,
            event_id: new.event_id,
            event_type: new.event_type.clone(),
            schema_version: 2,
            recorded_at_ms: new.recorded_at_ms,
            correlation_id: new.correlation_id,
            causation_id: new.causation_id,
            payload: new.payload.clone(),
            idempotency_key: new.idempotency_key.clone(),
        };
        let mut unchained = vec![UNCHAINED_FORMAT];
        unchained.extend(postcard::to_stdvec(&earlier).unwrap_or_else(|e| panic!("{e}")));
        let (written, chain) =
            encode(&new, 3, 9, &ChainHash::GENESIS).unwrap_or_else(|e| panic!("{e}"));
        // Format 2 is format 1's layout with the link after it.
        assert_eq!(written[0], RECORD_FORMAT);
        assert_eq!(&written[1..written.len() - LINK_BYTES], &unchained[1..]);
        let read = decode(3, &written).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read.payload, new.payload);
        assert_eq!(read.stream_version, 9);
        assert_eq!(read.idempotency_key.as_deref(), Some("wamid.1"));
        assert_eq!(read.chain, Some(chain));
        assert_eq!(link(&ChainHash::GENESIS, &Linked::from(&read)), chain);
        // A record written before the chain still reads, without a link.
        let old = decode(3, &unchained).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(old.payload, new.payload);
        assert_eq!(old.chain, None);
    }
}
