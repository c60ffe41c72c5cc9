//! `switchboard verify`: checks the log's hash chain, and keeps its head as a checkpoint.
//!
//! It reads the log and the checkpoint file; it writes only the checkpoint it is asked to export.
//! It must never change the log.

use anyhow::Context as _;
use event_store::Store;
use event_store::chain::{Checkpoint, verify as check};
use std::io::Write as _;
use std::path::Path;

/// Reads checkpoints kept earlier: one JSON object per line, blank lines ignored.
pub fn read_checkpoints(path: &Path) -> anyhow::Result<Vec<Checkpoint>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("the checkpoints in {} cannot be read", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line)
                .with_context(|| format!("{} line {}: not a checkpoint", path.display(), n + 1))
        })
        .collect()
}

pub async fn verify(
    store: &str,
    checkpoints: Option<&Path>,
    export: Option<&Path>,
) -> anyhow::Result<()> {
    let kept = match checkpoints {
        Some(path) => read_checkpoints(path)?,
        None => Vec::new(),
    };
    // Checking must not create what it checks: a mistyped directory is an error, not an empty
    // log whose chain holds.
    if !event_store::is_postgres(store)
        && !Path::new(store)
            .join(event_store::embedded::FILE_NAME)
            .exists()
    {
        anyhow::bail!("there is no embedded log in {store}");
    }
    let store = Store::open(store).await.map_err(|error| match error {
        event_store::StoreError::InUse { .. } => anyhow::anyhow!(
            "{error}: an embedded log is locked while its server runs; stop it, or ask the server (GET /v1/audit/verify)"
        ),
        other => anyhow::Error::new(other).context("the event store could not be opened"),
    })?;
    let found = check(&store, kept).await?;
    if found.unlinked > 0 {
        println!(
            "{} events from before the log was chained carry no link of their own",
            found.unlinked
        );
    }
    if let (Some(position), Some(reason)) = (found.first_break, &found.reason) {
        println!("checked {} events", found.checked);
        println!("the chain breaks at position {position}: {reason}");
        anyhow::bail!("the log's hash chain breaks at position {position}");
    }
    println!(
        "checked {} events: the chain holds; head at position {} is {}",
        found.checked, found.head.position, found.head.chain
    );
    if let Some(path) = export {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("{} cannot be written", path.display()))?;
        writeln!(file, "{}", serde_json::to_string(&found.head)?)
            .with_context(|| format!("{} cannot be written", path.display()))?;
        println!("checkpoint appended to {}", path.display());
    }
    Ok(())
}
