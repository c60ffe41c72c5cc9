//! The stored shape of events: a kind name, a schema version and a JSON payload.
//!
//! Serialisation is a compatibility boundary. Writing always uses the current version; reading
//! upcasts older versions step by step to the current one before deserialising. This module must
//! never change how an already-stored version is read: add an upcaster instead.

use crate::config::DEFAULT_OFFER_TIMEOUT_MS;
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
    // The current version is read straight from the bytes; an older one goes through its JSON.
    if known_version(event_type, schema_version)? != schema_version {
        let value =
            serde_json::from_slice(payload).map_err(|source| malformed(event_type, source))?;
        return decode_value(event_type, schema_version, value, at);
    }
    let kind = EventKind::from_current_json(event_type, payload)
        .ok_or_else(|| DecodeError::UnknownType(event_type.to_owned()))?
        .map_err(|source| malformed(event_type, source))?;
    Ok(Event { at, kind })
}

/// [`decode`] for a payload already parsed as JSON (one whose sealed fields were opened), so
/// that it is not written out and parsed again.
pub fn decode_value(
    event_type: &str,
    schema_version: u32,
    payload: serde_json::Value,
    at: Timestamp,
) -> Result<Event, DecodeError> {
    let known = known_version(event_type, schema_version)?;
    let current = if schema_version == known {
        payload
    } else {
        upcast_to_current(event_type, schema_version, payload, at)?
    };
    let kind = EventKind::from_current_value(event_type, current)
        .ok_or_else(|| DecodeError::UnknownType(event_type.to_owned()))?
        .map_err(|source| malformed(event_type, source))?;
    Ok(Event { at, kind })
}

/// The version this build knows for `event_type`, refusing one newer than it.
fn known_version(event_type: &str, schema_version: u32) -> Result<u32, DecodeError> {
    let known = EventKind::current_version_of(event_type)
        .ok_or_else(|| DecodeError::UnknownType(event_type.to_owned()))?;
    if schema_version > known {
        return Err(DecodeError::VersionFromTheFuture {
            event_type: event_type.to_owned(),
            version: schema_version,
            known,
        });
    }
    Ok(known)
}

fn malformed(event_type: &str, source: serde_json::Error) -> DecodeError {
    DecodeError::Malformed {
        event_type: event_type.to_owned(),
        source,
    }
}

/// Rewrites an old payload into the current shape, one version step at a time. Each step is
/// frozen once written: it describes how a stored version is read, forever.
fn upcast_to_current(
    event_type: &str,
    version: u32,
    mut value: serde_json::Value,
    at: Timestamp,
) -> Result<serde_json::Value, DecodeError> {
    let mut version = version;
    let known = EventKind::current_version_of(event_type).unwrap_or(version);
    while version < known {
        let Some(fields) = value.as_object_mut() else {
            return Err(DecodeError::NoUpcaster {
                event_type: event_type.to_owned(),
                version,
            });
        };
        match (event_type, version) {
            // v2 ranks conversations by priority; v1 had none, which is priority 0.
            ("ConversationEnqueued", 1) => {
                fields.insert("priority".into(), 0.into());
            }
            // v2 records how many agents were eligible and when the offer expires, and names the
            // tie-break instead of describing it. v1 engines named every eligible agent, rang for
            // the default limit, and wrote one of three sentences (or "idle the longest").
            ("ConversationOffered", 1) => {
                let eligible = fields
                    .get("candidates")
                    .and_then(serde_json::Value::as_array)
                    .map_or(0, Vec::len);
                let expires_at = at
                    .as_millis()
                    .saturating_add(i64::try_from(DEFAULT_OFFER_TIMEOUT_MS).unwrap_or(i64::MAX));
                let tie_break = match fields.get("tie_break").and_then(serde_json::Value::as_str) {
                    Some("only eligible agent") => "only_eligible",
                    Some("only eligible agent: became free while the conversation waited") => {
                        "became_free_while_waiting"
                    }
                    Some("equally idle; lowest agent id") => "equal_rank_lowest_id",
                    _ => "strategy_order",
                };
                fields.insert("eligible".into(), eligible.into());
                fields.insert("expires_at".into(), expires_at.into());
                fields.insert("tie_break".into(), tie_break.into());
            }
            // v2 keeps the kind of message and its attachments; v1 knew only text.
            ("CustomerMessageReceived", 1) => {
                fields.insert("kind".into(), "text".into());
                fields.insert("attachments".into(), serde_json::Value::Array(Vec::new()));
            }
            // v2 says whether a reply waits in the outbox, and where it goes by e-mail. A v1
            // reply was delivered when it was written: it never waits.
            ("AgentMessageSent", 1) => {
                fields.insert("outbox".into(), false.into());
                fields
                    .entry("email_fallback")
                    .or_insert(serde_json::Value::Null);
            }
            // v2 tells the engine's automatic pauses from the agent's own; v1 had only the latter.
            ("AgentPaused", 1) => {
                fields.insert("automatic".into(), false.into());
            }
            _ => {
                return Err(DecodeError::NoUpcaster {
                    event_type: event_type.to_owned(),
                    version,
                });
            }
        }
        version += 1;
    }
    Ok(value)
}
