//! Feeds the read models from the global log: catch up from the checkpoint, then follow the head.
//!
//! The store's head only wakes this task; events are always read from the log itself, so nothing
//! the log holds is skipped and nothing is applied twice (the read models skip positions at or
//! below their checkpoint). This module must never take events from the command path.

use crate::engine::{EngineError, decode};
use event_store::{EventStore, Position, Subscription};
use projections::ReadModels;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;

/// How many events are applied per read, so a long catch-up does not hold the lock for long.
const PAGE: usize = 1024;

/// The read models and how far they have got.
#[derive(Clone)]
pub struct Views {
    models: Arc<RwLock<ReadModels>>,
    checkpoint: watch::Receiver<u64>,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "the read models have not reached position {wanted} within {waited_ms} ms (they are at {reached})"
)]
pub struct NotCaughtUp {
    pub wanted: u64,
    pub reached: u64,
    pub waited_ms: u128,
}

impl Views {
    /// Reads the views, after waiting (at most `limit`) until they include position `after`:
    /// a caller that has just appended sees its own write.
    pub async fn read<T>(
        &self,
        after: Option<u64>,
        limit: Duration,
        read: impl FnOnce(&ReadModels) -> T,
    ) -> Result<T, NotCaughtUp> {
        if let Some(wanted) = after {
            let mut checkpoint = self.checkpoint.clone();
            let reached =
                tokio::time::timeout(limit, checkpoint.wait_for(|at| *at >= wanted)).await;
            if !matches!(reached, Ok(Ok(_))) {
                return Err(NotCaughtUp {
                    wanted,
                    reached: *self.checkpoint.borrow(),
                    waited_ms: limit.as_millis(),
                });
            }
        }
        let models = self
            .models
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(read(&models))
    }

    /// Waits, without a limit, until the views include `position`; fails if the feed stopped.
    pub async fn caught_up_to(&self, position: u64) -> Result<(), NotCaughtUp> {
        let mut checkpoint = self.checkpoint.clone();
        checkpoint
            .wait_for(|at| *at >= position)
            .await
            .map(|_| ())
            .map_err(|_| NotCaughtUp {
                wanted: position,
                reached: *self.checkpoint.borrow(),
                waited_ms: 0,
            })
    }

    pub fn checkpoint(&self) -> u64 {
        *self.checkpoint.borrow()
    }
}

/// Starts the task that keeps `models` up to date with `store` until `shutdown` turns true.
pub fn start<S: EventStore + Clone>(
    store: S,
    models: ReadModels,
    mut shutdown: watch::Receiver<bool>,
) -> (Views, tokio::task::JoinHandle<Result<(), EngineError>>) {
    let (checkpoint_tx, checkpoint) = watch::channel(models.checkpoint());
    let models = Arc::new(RwLock::new(models));
    let views = Views {
        models: Arc::clone(&models),
        checkpoint,
    };
    let task = tokio::spawn(async move {
        let after = *checkpoint_tx.borrow();
        let mut log = Subscription::new(store, Position(after));
        loop {
            let page = tokio::select! {
                page = log.next_batch(PAGE) => page?,
                _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
            };
            if page.is_empty() {
                // The store shut down.
                return Ok(());
            }
            let decoded = page
                .iter()
                .map(|stored| decode(stored).map(|event| (stored.position.0, event)))
                .collect::<Result<Vec<_>, _>>()?;
            let reached = {
                let mut models = models
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for (position, event) in &decoded {
                    models.apply(*position, event);
                }
                models.checkpoint()
            };
            checkpoint_tx.send_replace(reached);
        }
    });
    (views, task)
}

/// The longest a query waits for the read models to reach a position it asked for.
pub const READ_YOUR_WRITES_LIMIT: Duration = Duration::from_secs(5);
