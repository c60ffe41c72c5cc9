//! The stored shape of events: a kind name, a schema version and a JSON payload.
//!
//! Serialisation is a compatibility boundary. Writing always uses the current version; reading
//! upcasts older versions step by step to the current one before deserialising. This module must
//! never change how an already-stored version is read: add an upcaster instead.

use crate::event::{Event, EventKind};
use crate::time::Timestamp;
use thiserror::Error;

/// An event ready for the log: the store adds the envelope (position, ids, stream version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedEvent {
    pub stream: String,
    pub event_type: &'static str,
    pub schema_version: u32,
    pub payload: Vec<u8>,
}

#[derive(Debug, Error)]
pub enum DecodeError {
    #[error("unknown event type '{0}'")]
    UnknownType(String),
    #[error(
        "event type '{event_type}' has schema version {version}, newer than this build knows ({known})"
    )]
    VersionFromTheFuture {
        event_type: String,
        version: u32,
        known: u32,
    },
    #[error("event type '{event_type}' version {version} has no upcaster")]
    NoUpcaster { event_type: String, version: u32 },
    #[error("event type '{event_type}' payload is malformed: {source}")]
    Malformed {
        event_type: String,
        #[source]
        source: serde_json::Error,
    },
}

#[derive(Debug, Error)]
#[error("event could not be encoded: {0}")]
pub struct EncodeError(#[from] serde_json::Error);

pub fn encode(event: &Event) -> Result<EncodedEvent, EncodeError> {
    Ok(EncodedEvent {
        stream: event.kind.stream().name(),
        event_type: event.kind.name(),
        schema_version: event.kind.schema_version(),
        payload: event.kind.payload_json()?,
    })
}

/// Decodes a stored event, upcasting it first if it was written by an older schema version. The
/// time comes from the envelope, where the writer recorded the decision's `now`.
pub fn decode(
    event_type: &str,
    schema_version: u32,
    payload: &[u8],
    at: Timestamp,
) -> Result<Event, DecodeError> {
    let known = EventKind::current_version_of(event_type)
        .ok_or_else(|| DecodeError::UnknownType(event_type.to_owned()))?;
    if schema_version > known {
        return Err(DecodeError::VersionFromTheFuture {
            event_type: event_type.to_owned(),
            version: schema_version,
            known,
        });
    }
    let upcast;
    let current: &[u8] = if schema_version == known {
        payload
    } else {
        upcast = upcast_to_current(event_type, schema_version, payload)?;
        &upcast
    };
    let kind = EventKind::from_current_json(event_type, current)
        .ok_or_else(|| DecodeError::UnknownType(event_type.to_owned()))?
        .map_err(|source| DecodeError::Malformed {
            event_type: event_type.to_owned(),
            source,
        })?;
    Ok(Event { at, kind })
}

/// Rewrites an old payload into the current shape. Every kind is at version 1 today, so no
/// upcaster exists yet; when a kind moves to version 2, its `(name, 1)` arm goes here.
fn upcast_to_current(
    event_type: &str,
    version: u32,
    _payload: &[u8],
) -> Result<Vec<u8>, DecodeError> {
    Err(DecodeError::NoUpcaster {
        event_type: event_type.to_owned(),
        version,
    })
}
