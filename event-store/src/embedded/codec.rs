//! How the embedded store lays an event out in bytes: one format byte, then the envelope and
//! payload in postcard. The same bytes go into the write-ahead file and into redb.
//!
//! This module must never change the bytes of an existing format: a new layout gets a new format
//! byte and is read beside the old one.

use crate::error::StoreError;
use crate::record::{NewEvent, Position, StoredEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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

pub(super) fn decode(position: u64, bytes: &[u8]) -> Result<StoredEvent, StoreError> {
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

/// `event`'s stored record, as version `stream_version` of its stream.
pub(super) fn encode(event: &NewEvent, stream_version: u64) -> Result<Vec<u8>, postcard::Error> {
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
    Ok(out)
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
        let mut expected = vec![RECORD_FORMAT];
        expected.extend(postcard::to_stdvec(&earlier).unwrap_or_else(|e| panic!("{e}")));
        let written = encode(&new, 9).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(written, expected);
        let read = decode(3, &written).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read.payload, new.payload);
        assert_eq!(read.stream_version, 9);
        assert_eq!(read.idempotency_key.as_deref(), Some("wamid.1"));
    }
}
