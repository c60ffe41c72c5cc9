//! What goes into the log and what comes out: the event envelope, append requests and outcomes.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// A place in the global log. Position 0 is "before the first event"; the first event is 1.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Position(pub u64);

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An event to append. The writer supplies the ids and the recorded time so that a retried append
/// carries the same envelope, and so that the decision's time (not the disk's) is what is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub event_id: Uuid,
    pub stream: String,
    pub event_type: String,
    pub schema_version: u32,
    /// Milliseconds since the Unix epoch.
    pub recorded_at_ms: i64,
    pub correlation_id: Uuid,
    pub causation_id: Uuid,
    pub payload: Vec<u8>,
    /// For inbound messages, the provider's message id: an event with a key already stored is not
    /// stored again.
    pub idempotency_key: Option<String>,
}

/// An event as the log holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    pub position: Position,
    pub stream: String,
    /// 1 for a stream's first event.
    pub stream_version: u64,
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: u32,
    pub recorded_at_ms: i64,
    pub correlation_id: Uuid,
    pub causation_id: Uuid,
    pub payload: Vec<u8>,
    pub idempotency_key: Option<String>,
    /// Its link in the log's hash chain ([`crate::chain`]); `None` for an event stored before
    /// the log was chained, whose link is computed when the chain is checked.
    pub chain: Option<crate::chain::ChainHash>,
}

/// What a writer believes about a stream before appending to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    Any,
    NoStream,
    Exact(u64),
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(version) => write!(f, "version {version}"),
        }
    }
}

impl ExpectedVersion {
    pub fn admits(self, actual: u64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::Exact(expected) => expected == actual,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppendRequest {
    pub events: Vec<NewEvent>,
    /// Checked before anything is written; streams not named here accept any version.
    pub expectations: Vec<(String, ExpectedVersion)>,
    /// The writer's epoch, from [`crate::EventStore::claim_writer`]. Once any writer has claimed
    /// the log, every append must carry the newest epoch: an older one (a server that was
    /// superseded) or none is refused, so two servers on one log never both route.
    pub writer: Option<WriterEpoch>,
}

/// A writer's claim on the log: each claim gets a higher epoch than every claim before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WriterEpoch(pub u64);

impl fmt::Display for WriterEpoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl AppendRequest {
    /// Refuses an empty append and one over [`crate::MAX_EVENTS_PER_APPEND`], before it reaches
    /// any writer.
    pub(crate) fn check_size(&self) -> Result<(), crate::AppendError> {
        if self.events.is_empty() {
            return Err(crate::AppendError::Empty);
        }
        if self.events.len() > crate::MAX_EVENTS_PER_APPEND {
            return Err(crate::AppendError::TooLarge {
                max: crate::MAX_EVENTS_PER_APPEND,
                got: self.events.len(),
            });
        }
        Ok(())
    }
}

/// The answer to give a request without writing it, if any, checked in the order every backend
/// uses: the writer's claim, a key repeated inside the request, a key stored before, the expected
/// versions. `stored_key` and `stream_head` see the log as the backend's writer does (earlier
/// requests of the same group included).
pub(crate) fn refusal<E>(
    request: &AppendRequest,
    epoch: u64,
    mut stored_key: impl FnMut(&str) -> Result<Option<u64>, E>,
    mut stream_head: impl FnMut(&str) -> Result<u64, E>,
) -> Result<Option<Result<AppendOutcome, crate::AppendError>>, E> {
    use crate::AppendError;
    if !fencing_admits(request.writer, epoch) {
        return Ok(Some(Err(AppendError::Fenced {
            presented: request.writer,
            current: epoch,
        })));
    }
    let mut own_keys = std::collections::BTreeSet::new();
    for key in request
        .events
        .iter()
        .filter_map(|e| e.idempotency_key.as_deref())
    {
        if !own_keys.insert(key) {
            return Ok(Some(Err(AppendError::DuplicateKeyInRequest {
                key: key.to_owned(),
            })));
        }
        if let Some(position) = stored_key(key)? {
            return Ok(Some(Ok(AppendOutcome::AlreadyAppended {
                position: Position(position),
            })));
        }
    }
    for (stream, expected) in &request.expectations {
        let actual = stream_head(stream)?;
        if !expected.admits(actual) {
            return Ok(Some(Err(AppendError::WrongExpectedVersion {
                stream: stream.clone(),
                expected: *expected,
                actual,
            })));
        }
    }
    Ok(None)
}

/// Whether an append presenting `presented` may write to a log whose newest claim is `current`
/// (0: never claimed). The one fencing rule, shared by every backend.
fn fencing_admits(presented: Option<WriterEpoch>, current: u64) -> bool {
    match presented {
        Some(epoch) => epoch.0 == current,
        None => current == 0,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOutcome {
    Appended {
        first: Position,
        last: Position,
    },
    /// An event of the batch carried an idempotency key that was stored before, at `position`.
    AlreadyAppended {
        position: Position,
    },
}
