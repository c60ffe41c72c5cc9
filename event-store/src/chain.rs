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

/// Names this way of linking inside every link's input.
const DOMAIN: &[u8] = b"switchboard-log-chain-v1";

/// The link after `previous` for `event`. Every variable-length field is length-prefixed, so no
/// two different events hash the same bytes.
pub fn link(previous: &ChainHash, event: &Linked<'_>) -> ChainHash {
    let mut hash = Sha256::new();
    let mut bytes = |data: &[u8]| {
        hash.update((data.len() as u64).to_be_bytes());
        hash.update(data);
    };
    // What is hashed, and how: a later way of linking gets a new tag.
    bytes(DOMAIN);
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
    /// Events that carry no link of their own (stored before the log was chained): a log begun
    /// after the chain has none, and anywhere after the first linked event one is a break.
    pub unlinked: u64,
}

/// Walks events in position order, recomputing the chain.
pub struct Verifier {
    previous: ChainHash,
    expected: u64,
    checked: u64,
    unlinked: u64,
    linked_seen: bool,
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
            unlinked: 0,
            linked_seen: false,
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
        match event.chain {
            Some(stored) if stored != computed => self.broken(
                event.position.0,
                "its stored link does not follow from the events before it and its own bytes"
                    .into(),
            ),
            Some(_) => self.linked_seen = true,
            // Unlinked events only ever come before the first linked one: a link taken away
            // later is a change.
            None if self.linked_seen => self.broken(
                event.position.0,
                "it carries no link, but events before it do: its link was removed".into(),
            ),
            None => self.unlinked += 1,
        }
        let position = event.position.0;
        let mismatch = self
            .checkpoints
            .iter()
            .any(|c| c.position == position && c.chain != computed);
        if mismatch {
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

    /// What was found when reading stopped at an unreadable event after `last`.
    fn finish_at(mut self, head: Position, last: u64) -> Verification {
        self.expected = last + 1;
        // What follows the unreadable event was not checked: no truncation to report.
        self.finish(Position(last.min(head.0)))
    }

    /// What was found; `head` is the log's head position, to catch truncation below a checkpoint.
    pub fn finish(mut self, head: Position) -> Verification {
        let last = self.expected - 1;
        if last < head.0 {
            self.broken(
                last + 1,
                format!(
                    "the log's head is {} but its events end at {last}: events were removed",
                    head.0
                ),
            );
        }
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
            unlinked: self.unlinked,
        }
    }
}

/// Checks the whole chain of `store` against `checkpoints`.
pub async fn verify<S: crate::EventStore>(
    store: &S,
    checkpoints: Vec<Checkpoint>,
) -> Result<Verification, StoreError> {
    // The log as it stands now: events appended while it is checked are the next check's.
    let head = *store.head().borrow();
    let mut verifier = Verifier::new(checkpoints);
    let mut after = Position(0);
    while after < head {
        let limit = usize::try_from((head.0 - after.0).min(4096)).unwrap_or(4096);
        let page = match store.read_all(after, limit).await {
            Ok(page) => page,
            // An event that cannot even be read is where the chain breaks.
            Err(StoreError::Corrupt { position, reason }) => {
                verifier.broken(position, format!("it cannot be read: {reason}"));
                return Ok(verifier.finish_at(head, position.saturating_sub(1)));
            }
            Err(other) => return Err(other),
        };
        let Some(last) = page.last() else { break };
        after = last.position;
        for event in &page {
            verifier.check(event);
        }
    }
    Ok(verifier.finish(head))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(position: u64, payload: &str) -> StoredEvent {
        StoredEvent {
            position: Position(position),
            stream: "s".into(),
            stream_version: position,
            event_id: Uuid::from_u64_pair(0, position),
            event_type: "Tested".into(),
            schema_version: 1,
            recorded_at_ms: 1_000 * i64::try_from(position).unwrap_or(0),
            correlation_id: Uuid::nil(),
            causation_id: Uuid::nil(),
            payload: payload.as_bytes().to_vec(),
            idempotency_key: None,
            chain: None,
        }
    }

    /// Links every event after the one before it, as a writer does.
    fn linked(mut events: Vec<StoredEvent>) -> Vec<StoredEvent> {
        let mut previous = ChainHash::GENESIS;
        for event in &mut events {
            event.chain = None;
            let chain = link(&previous, &Linked::from(&*event));
            event.chain = Some(chain);
            previous = chain;
        }
        events
    }

    fn check(events: &[StoredEvent], checkpoints: Vec<Checkpoint>, head: u64) -> Verification {
        let mut verifier = Verifier::new(checkpoints);
        for event in events {
            verifier.check(event);
        }
        verifier.finish(Position(head))
    }

    fn log() -> Vec<StoredEvent> {
        linked((1..=6).map(|n| event(n, &format!("event {n}"))).collect())
    }

    #[test]
    fn an_intact_log_checks_and_its_head_is_the_last_link() {
        let events = log();
        let found = check(&events, Vec::new(), 6);
        assert_eq!(found.first_break, None, "{found:?}");
        assert_eq!(
            found.head.chain,
            events[5].chain.unwrap_or(ChainHash::GENESIS)
        );
        assert_eq!(found.checked, 6);
    }

    #[test]
    fn an_altered_event_is_named_once() {
        let mut events = log();
        events[2].payload = b"event 9".to_vec();
        let found = check(&events, Vec::new(), 6);
        assert_eq!(found.first_break, Some(3), "{found:?}");
    }

    #[test]
    fn a_log_rewritten_with_fresh_links_is_caught_only_by_a_checkpoint_kept_elsewhere() {
        let original = log();
        let kept = Checkpoint {
            position: 6,
            chain: original[5].chain.unwrap_or(ChainHash::GENESIS),
        };
        let mut rewritten = original.clone();
        rewritten[2].payload = b"event 9".to_vec();
        let rewritten = linked(rewritten);
        assert_eq!(check(&rewritten, Vec::new(), 6).first_break, None);
        let found = check(&rewritten, vec![kept], 6);
        assert_eq!(found.first_break, Some(6), "{found:?}");
    }

    #[test]
    fn removed_links_and_removed_events_are_breaks() {
        let mut stripped = log();
        stripped[3].chain = None;
        assert_eq!(check(&stripped, Vec::new(), 6).first_break, Some(4));
        let mut gap = log();
        gap.remove(2);
        assert_eq!(check(&gap, Vec::new(), 6).first_break, Some(3));
        let truncated = log()[..4].to_vec();
        assert_eq!(check(&truncated, Vec::new(), 6).first_break, Some(5));
    }

    #[test]
    fn events_from_before_the_chain_are_covered_by_the_first_link_after_them() {
        let mut events = log();
        // The first two were stored unlinked; the third's link covers them.
        events[0].chain = None;
        events[1].chain = None;
        let found = check(&events, Vec::new(), 6);
        assert_eq!((found.first_break, found.unlinked), (None, 2), "{found:?}");
        events[0].payload = b"changed".to_vec();
        assert_eq!(check(&events, Vec::new(), 6).first_break, Some(3));
    }
}
