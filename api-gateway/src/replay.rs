//! `switchboard replay`: rebuilds every read model from the log, up to the live snapshot's
//! checkpoint, into a scratch directory, and reports for each whether it matches the live one.
//!
//! An auditor's check that the read models say what the log says. It reads the log and the
//! snapshot and writes only into the scratch directory: it must never change the log or the live
//! snapshot.

use crate::engine::decode;
use crate::snapshot::{self, Anchor};
use anyhow::Context as _;
use event_store::{EventStore, Position, Store};
use projections::ReadModels;
use routing_core::AgentId;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// What `replay` needs to know.
pub struct ReplayOptions {
    pub config: PathBuf,
    pub store: String,
    pub snapshots: PathBuf,
    pub scratch: PathBuf,
}

/// Each read model's name and whether the rebuilt one equals the live one.
pub type Comparison = Vec<(&'static str, bool)>;

/// Compares `live` and `rebuilt` view by view.
pub fn compare(live: &ReadModels, rebuilt: &ReadModels) -> Comparison {
    vec![
        ("waiting", live.waiting == rebuilt.waiting),
        ("conversations", live.conversations == rebuilt.conversations),
        ("agents", live.agents == rebuilt.agents),
        ("missed", live.missed == rebuilt.missed),
        ("postponed", live.postponed == rebuilt.postponed),
        ("queues", live.queues == rebuilt.queues),
        ("focus", live.focus == rebuilt.focus),
        ("interactions", live.interactions == rebuilt.interactions),
        ("keys", live.keys == rebuilt.keys),
        ("outbox", live.outbox == rebuilt.outbox),
        ("checkpoint", live.checkpoint() == rebuilt.checkpoint()),
    ]
}

/// Where a rebuild from the log stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Through this position.
    Position(u64),
    /// Through the last event recorded at or before this time (milliseconds since the epoch).
    Time(i64),
}

/// Every read model as the log had made it at `until`, folded from position 0, and each stored
/// event on the way handed to `seen` (an auditor's view of one conversation collects its own).
/// Reads only; costs a pass over the log up to `until`.
pub async fn rebuild(
    store: &Store,
    keyring: &crate::keyring::Keyring,
    agents: impl IntoIterator<Item = AgentId>,
    until: Until,
    mut seen: impl FnMut(&event_store::StoredEvent),
) -> Result<ReadModels, crate::engine::EngineError> {
    let mut models = ReadModels::new(agents);
    let mut after = Position(0);
    loop {
        let limit = match until {
            Until::Position(through) if after.0 >= through => break,
            Until::Position(through) => {
                usize::try_from((through - after.0).min(4096)).unwrap_or(4096)
            }
            Until::Time(_) => 4096,
        };
        let page = store.read_all(after, limit).await?;
        let Some(end) = page.last() else { break };
        for stored in &page {
            if let Until::Time(at) = until
                && stored.recorded_at_ms > at
            {
                return Ok(models);
            }
            models.apply(stored.position.0, &decode(stored, keyring)?);
            seen(stored);
        }
        after = end.position;
    }
    Ok(models)
}

/// Runs the replay, prints one line per read model, and answers whether all of them match.
pub async fn replay(options: ReplayOptions) -> anyhow::Result<bool> {
    let config = crate::config_file::load(&options.config)?;
    let store = Store::open(&options.store).await.context(
        "the event store could not be opened (an embedded one is locked while its server runs)",
    )?;
    let vault = event_store::vault::AnyVault::open(&options.store)
        .await
        .context("the key vault could not be opened")?;
    let privacy = crate::engine::Privacy::new(vault);
    privacy
        .load()
        .await
        .context("the contacts' keys could not be read")?;
    let agents: BTreeSet<AgentId> = config.agents.keys().cloned().collect();
    let (live, anchor) = snapshot::load(&options.snapshots, &agents, &store)
        .await
        .with_context(|| {
            format!(
                "no usable read-model snapshot in {} to compare with",
                options.snapshots.display()
            )
        })?;
    let through = live.checkpoint();
    let mut last: Option<Anchor> = None;
    let rebuilt = rebuild(
        &store,
        &privacy.keyring,
        agents,
        Until::Position(through),
        |stored| {
            last = Some(Anchor {
                position: stored.position.0,
                event_id: stored.event_id,
            });
        },
    )
    .await?;
    snapshot::save(&options.scratch, &rebuilt, last.or(anchor))?;
    println!(
        "rebuilt every read model from position 0 to {through} into {}",
        options.scratch.display()
    );
    let comparison = compare(&live, &rebuilt);
    for (name, same) in &comparison {
        println!("{name:<14} {}", if *same { "matches" } else { "DIFFERS" });
    }
    Ok(comparison.iter().all(|(_, same)| *same))
}
