//! Read-model snapshots on disk: the read models and their checkpoint in one file, replaced
//! atomically, so that a restart resumes from the checkpoint instead of replaying the whole log.
//!
//! A snapshot is only a head start. It is used only if it was written by this build's layout, for
//! the same agents, and for this very log (the event at its checkpoint must carry the event id it
//! recorded); otherwise, or if it cannot be read, the read models are rebuilt from position 0.
//! This module must never let a snapshot that fails a check be used, nor leave a half-written
//! file where a whole one was.

use event_store::{EventStore, Position};
use projections::ReadModels;
use routing_core::AgentId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// The file's name inside the snapshot directory.
pub const FILE_NAME: &str = "read-models.snapshot";

/// What is known about the log at a snapshot's checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub position: u64,
    /// The id of the event at `position`.
    pub event_id: Uuid,
}

/// The file: a small header (what checks need) and the read models' own snapshot.
#[derive(Serialize, Deserialize)]
struct Header {
    /// `None` for views of an empty log.
    anchor: Option<Anchor>,
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot write the read-model snapshot {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Encode(#[from] projections::SnapshotError),
}

/// Where snapshots go: beside the embedded log, or `snapshots` in the working directory for a
/// log in PostgreSQL.
pub fn default_dir(store: &str) -> PathBuf {
    if event_store::is_postgres(store) {
        PathBuf::from("snapshots")
    } else {
        Path::new(store).join("snapshots")
    }
}

/// Writes `models` (whose checkpoint is `anchor`'s position) to `dir`, replacing the previous
/// snapshot atomically: a new file is written and synced, then renamed over the old one.
pub fn save(dir: &Path, models: &ReadModels, anchor: Option<Anchor>) -> Result<(), SnapshotError> {
    let path = dir.join(FILE_NAME);
    let failed = |source| SnapshotError::Write {
        path: path.display().to_string(),
        source,
    };
    let header =
        serde_json::to_vec(&Header { anchor }).map_err(|e| failed(std::io::Error::other(e)))?;
    let body = models.snapshot()?;
    std::fs::create_dir_all(dir).map_err(failed)?;
    let partial = dir.join(format!("{FILE_NAME}.partial"));
    let mut file = std::fs::File::create(&partial).map_err(failed)?;
    // One line of header, then the models: the header can be checked without reading the rest.
    file.write_all(&header).map_err(failed)?;
    file.write_all(b"\n").map_err(failed)?;
    file.write_all(&body).map_err(failed)?;
    file.sync_all().map_err(failed)?;
    drop(file);
    std::fs::rename(&partial, &path).map_err(failed)?;
    // The rename itself is durable once the directory is.
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(failed)?;
    Ok(())
}

/// The read models stored in `dir`, if they pass every check against `agents` and `store`;
/// otherwise `None`, with the reason logged.
pub async fn load<S: EventStore>(
    dir: &Path,
    agents: &BTreeSet<AgentId>,
    store: &S,
) -> Option<(ReadModels, Option<Anchor>)> {
    let path = dir.join(FILE_NAME);
    let reading = path.clone();
    let read = tokio::task::spawn_blocking(move || std::fs::read(reading))
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
    let bytes = match read {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "read-model snapshot unreadable; rebuilding from the log");
            return None;
        }
    };
    match check(&bytes, agents, store).await {
        Ok(loaded) => Some(loaded),
        Err(why) => {
            tracing::warn!(path = %path.display(), %why, "read-model snapshot not used; rebuilding from the log");
            None
        }
    }
}

async fn check<S: EventStore>(
    bytes: &[u8],
    agents: &BTreeSet<AgentId>,
    store: &S,
) -> Result<(ReadModels, Option<Anchor>), String> {
    let split = bytes
        .iter()
        .position(|b| *b == b'\n')
        .ok_or("no header line")?;
    let (header, body) = bytes.split_at(split);
    let header: Header = serde_json::from_slice(header).map_err(|e| e.to_string())?;
    let models = ReadModels::restore(&body[1..]).map_err(|e| e.to_string())?;
    let checkpoint = models.checkpoint();
    match header.anchor {
        None if checkpoint == 0 => {}
        None => return Err("a checkpoint without an anchor".into()),
        Some(anchor) if anchor.position != checkpoint => {
            return Err(format!(
                "anchored at {} but checkpointed at {checkpoint}",
                anchor.position
            ));
        }
        Some(anchor) => {
            let at = store
                .read_all(Position(anchor.position - 1), 1)
                .await
                .map_err(|e| format!("cannot read the log at its checkpoint: {e}"))?;
            match at.first() {
                Some(event)
                    if event.position.0 == anchor.position && event.event_id == anchor.event_id => {
                }
                Some(_) => return Err("it was taken from another log".into()),
                None => {
                    return Err(format!(
                        "the log ends before its checkpoint {}",
                        anchor.position
                    ));
                }
            }
        }
    }
    let followed: BTreeSet<AgentId> = models.agents.ids().cloned().collect();
    if &followed != agents {
        return Err("the configured agents changed".into());
    }
    Ok((models, header.anchor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use event_store::embedded::EmbeddedStore;
    use event_store::{AppendRequest, NewEvent};

    fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
        result.unwrap_or_else(|e| panic!("{e}"))
    }

    async fn log_with_one_event(dir: &Path) -> (EmbeddedStore, Uuid) {
        let store = ok(EmbeddedStore::open(dir));
        let event_id = Uuid::now_v7();
        ok(store
            .append(AppendRequest {
                events: vec![NewEvent {
                    event_id,
                    stream: "s".into(),
                    event_type: "Tested".into(),
                    schema_version: 1,
                    recorded_at_ms: 0,
                    correlation_id: event_id,
                    causation_id: event_id,
                    payload: b"{}".to_vec(),
                    idempotency_key: None,
                }],
                ..AppendRequest::default()
            })
            .await);
        (store, event_id)
    }

    /// Views checkpointed at position 1 of a log (they saw nothing they track: the checkpoint is
    /// what matters here).
    fn models_at_one(agents: &BTreeSet<AgentId>) -> ReadModels {
        let mut models = ReadModels::new(agents.iter().cloned());
        let heartbeat = routing_core::Event {
            at: routing_core::Timestamp::from_millis(0),
            kind: routing_core::event::EventKind::AgentHeartbeatRecorded(
                routing_core::event::AgentHeartbeatRecorded {
                    agent: AgentId::new("nobody"),
                },
            ),
        };
        models.apply(1, &heartbeat);
        models
    }

    #[tokio::test]
    async fn a_snapshot_is_used_only_for_its_own_log_and_agents() {
        let dir = ok(tempfile::tempdir());
        let snapshots = dir.path().join("snapshots");
        let (store, event_id) = log_with_one_event(&dir.path().join("log")).await;
        let agents: BTreeSet<AgentId> = [AgentId::new("ada")].into();
        let models = models_at_one(&agents);
        let anchor = Anchor {
            position: 1,
            event_id,
        };
        ok(save(&snapshots, &models, Some(anchor)));
        assert!(!snapshots.join(format!("{FILE_NAME}.partial")).exists());

        let (loaded, loaded_anchor) = load(&snapshots, &agents, &store)
            .await
            .unwrap_or_else(|| panic!("the snapshot should be used"));
        assert_eq!(loaded, models);
        assert_eq!(loaded_anchor, Some(anchor));

        // Other agents configured: rebuilt instead.
        let others: BTreeSet<AgentId> = [AgentId::new("ada"), AgentId::new("bo")].into();
        assert!(load(&snapshots, &others, &store).await.is_none());

        // Another log, whose event 1 is another event: rebuilt instead.
        let (other_log, _) = log_with_one_event(&dir.path().join("other")).await;
        assert!(load(&snapshots, &agents, &other_log).await.is_none());

        // A log shorter than the checkpoint: rebuilt instead.
        let empty = ok(EmbeddedStore::open(dir.path().join("empty")));
        assert!(load(&snapshots, &agents, &empty).await.is_none());

        // A damaged file: rebuilt instead; no file at all: nothing to say.
        let path = snapshots.join(FILE_NAME);
        let bytes = ok(std::fs::read(&path));
        ok(std::fs::write(&path, &bytes[..bytes.len() / 2]));
        assert!(load(&snapshots, &agents, &store).await.is_none());
        ok(std::fs::remove_file(&path));
        assert!(load(&snapshots, &agents, &store).await.is_none());
    }
}
