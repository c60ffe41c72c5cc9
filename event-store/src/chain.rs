//! The hash chain that makes the log tamper-evident: every stored event carries the SHA-256 of
//! the event before it (its chain hash) and of its own stored bytes, so changing, removing or
//! reordering any stored event changes every chain hash after it.
//!
//! The hash covers the event as stored (for personal data, its encrypted bytes), so erasing a
//! contact's key never breaks the chain. A chain only proves the log is the one whose head hash
//! you hold: someone able to rewrite the whole log rewrites the hashes too, which is why heads
//! are exported and kept elsewhere ([`Checkpoint`]). This module computes and checks; it must
//! never change what it checks.

use crate::error::StoreError;
use crate::record::{Position, StoredEvent};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use uuid::Uuid;

/// A link of the chain: the SHA-256 of the previous link and of one stored event.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// What the first event links to.
    pub const GENESIS: ChainHash = ChainHash([0; 32]);

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Option<ChainHash> {
        let bytes = hex::decode(text.trim()).ok()?;
        Some(ChainHash(bytes.try_into().ok()?))
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({})", self.to_hex())
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for ChainHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ChainHash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ChainHash::from_hex(&text)
            .ok_or_else(|| serde::de::Error::custom("a chain hash is 64 hexadecimal digits"))
    }
}

/// The fields of a stored event that its link covers, borrowed.
pub struct Linked<'a> {
    pub position: u64,
    pub stream: &'a str,
    pub stream_version: u64,
    pub event_id: Uuid,
    pub event_type: &'a str,
    pub schema_version: u32,
    pub recorded_at_ms: i64,
    pub correlation_id: Uuid,
    pub causation_id: Uuid,
    pub payload: &'a [u8],
    pub idempotency_key: Option<&'a str>,
}

impl<'a> From<&'a StoredEvent> for Linked<'a> {
    fn from(event: &'a StoredEvent) -> Self {
        Linked {
            position: event.position.0,
            stream: &event.stream,
            stream_version: event.stream_version,
            event_id: event.event_id,
            event_type: &event.event_type,
            schema_version: event.schema_version,
            recorded_at_ms: event.recorded_at_ms,
            correlation_id: event.correlation_id,
            causation_id: event.causation_id,
            payload: &event.payload,
            idempotency_key: event.idempotency_key.as_deref(),
        }
    }
}

/// The link after `previous` for `event`. Every variable-length field is length-prefixed, so no
/// two different events hash the same bytes.
pub fn link(previous: &ChainHash, event: &Linked<'_>) -> ChainHash {
    let mut hash = Sha256::new();
    let mut bytes = |data: &[u8]| {
        hash.update((data.len() as u64).to_be_bytes());
        hash.update(data);
    };
    bytes(&previous.0);
    bytes(&event.position.to_be_bytes());
    bytes(event.stream.as_bytes());
    bytes(&event.stream_version.to_be_bytes());
    bytes(event.event_id.as_bytes());
    bytes(event.event_type.as_bytes());
    bytes(&event.schema_version.to_be_bytes());
    bytes(&event.recorded_at_ms.to_be_bytes());
    bytes(event.correlation_id.as_bytes());
    bytes(event.causation_id.as_bytes());
    match event.idempotency_key {
        Some(key) => {
            bytes(&[1]);
            bytes(key.as_bytes());
        }
        None => bytes(&[0]),
    }
    bytes(event.payload);
    ChainHash(hash.finalize().into())
}

/// A head of the chain to keep elsewhere: deleting the newest events, or rewriting the log
/// before it, is detectable against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub position: u64,
    pub chain: ChainHash,
}

/// What a check of the chain found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// Events checked.
    pub checked: u64,
    /// The head as found: the last position read and its link.
    pub head: Checkpoint,
    /// The first position whose stored link does not follow from the events before it and its
    /// own bytes, or which breaks from a checkpoint; `None` when the chain holds.
    pub first_break: Option<u64>,
    /// Why it breaks there.
    pub reason: Option<String>,
}

/// Walks events in position order, recomputing the chain.
pub struct Verifier {
    previous: ChainHash,
    expected: u64,
    checked: u64,
    first_break: Option<(u64, String)>,
    checkpoints: Vec<Checkpoint>,
}

impl Verifier {
    /// A check from position 1, against `checkpoints` kept elsewhere.
    pub fn new(mut checkpoints: Vec<Checkpoint>) -> Self {
        checkpoints.sort_by_key(|c| c.position);
        Verifier {
            previous: ChainHash::GENESIS,
            expected: 1,
            checked: 0,
            first_break: None,
            checkpoints,
        }
    }

    fn broken(&mut self, position: u64, reason: String) {
        if self.first_break.is_none() {
            self.first_break = Some((position, reason));
        }
    }

    /// Checks the next event. Events stored before the log was chained carry no link: theirs is
    /// computed, and the first stored link after them checks them all.
    pub fn check(&mut self, event: &StoredEvent) {
        if event.position.0 != self.expected {
            self.broken(
                self.expected,
                format!(
                    "position {} is missing (the next event stored is at {})",
                    self.expected, event.position.0
                ),
            );
        }
        let computed = link(&self.previous, &Linked::from(event));
        if let Some(stored) = event.chain
            && stored != computed
        {
            self.broken(
                event.position.0,
                "its stored link does not follow from the events before it and its own bytes"
                    .into(),
            );
        }
        if let Some(checkpoint) = self
            .checkpoints
            .iter()
            .find(|c| c.position == event.position.0)
            && checkpoint.chain != computed
        {
            let position = event.position.0;
            self.broken(
                position,
                format!("the log differs from the checkpoint kept for position {position}"),
            );
        }
        // Past a break, follow the stored links so that one altered event is named once.
        self.previous = event.chain.unwrap_or(computed);
        self.expected = event.position.0 + 1;
        self.checked += 1;
    }

    /// What was found; `head` is the log's head position, to catch truncation below a checkpoint.
    pub fn finish(mut self, head: Position) -> Verification {
        let last = self.expected - 1;
        if let Some(beyond) = self.checkpoints.iter().find(|c| c.position > last).copied() {
            self.broken(
                last + 1,
                format!(
                    "the log ends at {} (head {}), but a checkpoint was kept for position {}: events were removed",
                    last, head.0, beyond.position
                ),
            );
        }
        let (first_break, reason) = match self.first_break {
            Some((position, reason)) => (Some(position), Some(reason)),
            None => (None, None),
        };
        Verification {
            checked: self.checked,
            head: Checkpoint {
                position: last,
                chain: self.previous,
            },
            first_break,
            reason,
        }
    }
}

/// Checks the whole chain of `store` against `checkpoints`.
pub async fn verify<S: crate::EventStore>(
    store: &S,
    checkpoints: Vec<Checkpoint>,
) -> Result<Verification, StoreError> {
    let head = *store.head().borrow();
    let mut verifier = Verifier::new(checkpoints);
    let mut after = Position(0);
    loop {
        let page = store.read_all(after, 4096).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        for event in &page {
            verifier.check(event);
        }
    }
    Ok(verifier.finish(head))
}
