//! Feeds the read models from the global log: catch up from the checkpoint, then follow the head.
//!
//! The store's head only wakes this task; events are always read from the log itself, so nothing
//! the log holds is skipped and nothing is applied twice (the read models skip positions at or
//! below their checkpoint). Now and then, and on stopping, the views are written to a snapshot
//! (`snapshot.rs`) from which the next start resumes. This module must never take events from the
//! command path.

use crate::engine::{EngineError, decode};
use crate::snapshot::{self, Anchor};
use event_store::{EventStore, Position, Subscription};
use projections::ReadModels;
use projections::keys::KeysView;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};

/// How many events are read per page.
const PAGE: usize = 1024;
/// How many events are applied per hold of the views' lock: every request's query waits for it.
const APPLY_CHUNK: usize = 64;
/// A snapshot is written once this many events were applied since the last one (about a second
/// of catch-up, so a restart replays at most that)...
const SNAPSHOT_EVERY_EVENTS: u64 = 500_000;
/// ...or once any were and this long has passed. A snapshot copies every view and writes them
/// whole (hundreds of MB for a busy month), so not more often.
const SNAPSHOT_EVERY: Duration = Duration::from_secs(300);

/// Where the feed keeps its snapshots, and the anchor of the views it starts from.
pub struct Snapshots {
    pub dir: std::path::PathBuf,
    pub anchor: Option<Anchor>,
}

/// The read models and how far they have got.
#[derive(Clone)]
pub struct Views {
    models: Arc<RwLock<ReadModels>>,
    checkpoint: watch::Receiver<u64>,
    /// A copy of the keys view under a lock of its own: every request looks its key up, and
    /// must not wait for the feed to finish applying events to the other views.
    keys: Arc<RwLock<KeysView>>,
    /// Every page, once applied: what live notifications follow.
    applied: broadcast::Sender<Arc<Applied>>,
}

/// How many applied pages a slow listener may fall behind before it must read the log instead.
const APPLIED_PAGES_KEPT: usize = 256;

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

    /// Reads the keys view (as of the last key event applied).
    pub fn keys<T>(&self, read: impl FnOnce(&KeysView) -> T) -> T {
        read(
            &self
                .keys
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Pages as they are applied, from now on: each event with its position, the views already
    /// holding it. A receiver that falls behind is told how many pages it lost (and reads those
    /// from the log).
    pub fn applied(&self) -> broadcast::Receiver<Arc<Applied>> {
        self.applied.subscribe()
    }
}

/// Starts the task that keeps `models` up to date with `store` until `shutdown` turns true,
/// writing snapshots to `snapshots` if given.
pub fn start<S: EventStore + Clone>(
    store: S,
    keyring: Arc<crate::keyring::Keyring>,
    models: ReadModels,
    snapshots: Option<Snapshots>,
    mut shutdown: watch::Receiver<bool>,
) -> (Views, tokio::task::JoinHandle<Result<(), EngineError>>) {
    let (checkpoint_tx, checkpoint) = watch::channel(models.checkpoint());
    let keys = Arc::new(RwLock::new(models.keys.clone()));
    let models = Arc::new(RwLock::new(models));
    let (applied, _) = broadcast::channel(APPLIED_PAGES_KEPT);
    let views = Views {
        models: Arc::clone(&models),
        checkpoint,
        keys: Arc::clone(&keys),
        applied: applied.clone(),
    };
    let task = tokio::spawn(async move {
        let after = *checkpoint_tx.borrow();
        // Reading and decoding run in a task of their own, a few pages ahead, while this one
        // applies: on two cores a catch-up from position 0 goes about twice as fast.
        let (pages, mut decoded_pages) = mpsc::channel(PAGES_AHEAD);
        let reader = tokio::spawn(read_ahead(store, keyring, Position(after), pages));
        let mut keeper = snapshots.map(|s| Keeper::new(s, Arc::clone(&models)));
        let result = loop {
            let page = tokio::select! {
                page = decoded_pages.recv() => page,
                _ = shutdown.wait_for(|stop| *stop) => break Ok(()),
            };
            let page: Decoded = match page {
                Some(Ok(page)) => page,
                Some(Err(error)) => break Err(error),
                // The store shut down.
                None => break Ok(()),
            };
            let listened = applied.receiver_count() > 0;
            // Whom each event concerns, as the views stand right after it: once here rather
            // than once per open stream, and only while someone listens.
            let mut audiences = Vec::with_capacity(if listened { page.len() } else { 0 });
            let mut reached = 0;
            // A few events per hold of the lock, so that queries and streams never wait long.
            for chunk in page.chunks(APPLY_CHUNK) {
                let mut models = models
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for (position, _, event) in chunk {
                    models.apply(*position, event);
                    if listened {
                        audiences.push(projections::notifications::audience(&models, event));
                    }
                }
                if chunk.iter().any(|(_, _, event)| {
                    matches!(
                        event.kind,
                        routing_core::EventKind::ApiKeyIssued(_)
                            | routing_core::EventKind::ApiKeyRevoked(_)
                    )
                }) {
                    *keys
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = models.keys.clone();
                }
                reached = models.checkpoint();
            }
            checkpoint_tx.send_replace(reached);
            if let (Some(keeper), Some((position, event_id, _))) = (keeper.as_mut(), page.last()) {
                let erasure = page.iter().any(|(_, _, event)| {
                    matches!(event.kind, routing_core::EventKind::ContactAnonymised(_))
                });
                keeper.applied(
                    page.len() as u64,
                    Anchor {
                        position: *position,
                        event_id: *event_id,
                    },
                    erasure,
                );
            }
            // Always sent, even when nobody listened as the page was applied: a stream opening
            // meanwhile must get it (without audiences; it works them out itself). A listener
            // that went away is not an error.
            let _ = applied.send(Arc::new(Applied {
                events: page,
                audiences,
            }));
        };
        reader.abort();
        if let Some(keeper) = keeper {
            keeper.finish().await;
        }
        result
    });
    (views, task)
}

/// How many decoded pages may wait for the applying task.
const PAGES_AHEAD: usize = 4;

/// A page the views have applied, for live notifications: its events and, for each, the agents
/// whose consoles must hear about it (`projections::notifications::audience`).
pub struct Applied {
    pub events: Decoded,
    pub audiences: Vec<Vec<routing_core::AgentId>>,
}

/// A decoded page: each event's position, id and content.
pub type Decoded = Vec<(u64, uuid::Uuid, routing_core::Event)>;

/// Reads the log from `after` on and decodes it, a page at a time, until the store or the
/// receiver goes away; an event that cannot be decoded is sent as the error that stops the feed.
async fn read_ahead<S: EventStore + Clone>(
    store: S,
    keyring: Arc<crate::keyring::Keyring>,
    after: Position,
    pages: mpsc::Sender<Result<Decoded, EngineError>>,
) {
    let mut log = Subscription::new(store, after);
    loop {
        let page = tokio::select! {
            page = log.next_batch(PAGE) => page,
            () = pages.closed() => return,
        };
        let decoded = page.map_err(EngineError::from).and_then(|page| {
            page.iter()
                .map(|stored| {
                    decode(stored, &keyring)
                        .map(|event| (stored.position.0, stored.event_id, event))
                })
                .collect::<Result<Decoded, _>>()
        });
        match decoded {
            // The store shut down: hanging up tells the applying task.
            Ok(page) if page.is_empty() => return,
            decoded => {
                let failed = decoded.is_err();
                if pages.send(decoded).await.is_err() || failed {
                    return;
                }
            }
        }
    }
}

/// Writes snapshots of the views: in the background while the feed runs (one at a time), and a
/// last one when it stops. A failed snapshot is logged and costs only a longer next start.
struct Keeper {
    dir: std::path::PathBuf,
    models: Arc<RwLock<ReadModels>>,
    /// The anchor of the views as they are now, and of the last snapshot written.
    now: Option<Anchor>,
    saved: Option<Anchor>,
    since: u64,
    last: tokio::time::Instant,
    writing: Option<tokio::task::JoinHandle<()>>,
}

impl Keeper {
    fn new(snapshots: Snapshots, models: Arc<RwLock<ReadModels>>) -> Self {
        Self {
            dir: snapshots.dir,
            models,
            now: snapshots.anchor,
            saved: snapshots.anchor,
            since: 0,
            last: tokio::time::Instant::now(),
            writing: None,
        }
    }

    /// `erasure`: the page anonymised a contact. The last snapshot still holds their data, so
    /// a new one is written at once (after the one being written, if any), not when due.
    fn applied(&mut self, events: u64, anchor: Anchor, erasure: bool) {
        self.now = Some(anchor);
        self.since += events;
        if erasure {
            let previous = self.writing.take();
            let work = self.write_now();
            self.writing = Some(tokio::spawn(async move {
                if let Some(previous) = previous {
                    let _ = previous.await;
                }
                let _ = tokio::task::spawn_blocking(work).await;
            }));
            return;
        }
        let due = self.since >= SNAPSHOT_EVERY_EVENTS || self.last.elapsed() >= SNAPSHOT_EVERY;
        if due && self.writing.as_ref().is_none_or(|w| w.is_finished()) {
            self.writing = Some(tokio::task::spawn_blocking(self.write_now()));
        }
    }

    /// A copy of the views (taken now, under the lock for no longer than the copy) and the work
    /// that writes it.
    fn write_now(&mut self) -> impl FnOnce() + Send + 'static {
        let models = self
            .models
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let (dir, anchor) = (self.dir.clone(), self.now);
        self.saved = anchor;
        self.since = 0;
        self.last = tokio::time::Instant::now();
        move || {
            if let Err(error) = snapshot::save(&dir, &models, anchor) {
                tracing::warn!(%error, "read-model snapshot not written");
            }
        }
    }

    /// Waits for the snapshot being written, then writes the views as they are now (unless the
    /// last snapshot already holds them).
    async fn finish(mut self) {
        if let Some(writing) = self.writing.take() {
            let _ = writing.await;
        }
        if self.now != self.saved {
            let _ = tokio::task::spawn_blocking(self.write_now()).await;
        }
    }
}

/// The longest a query waits for the read models to reach a position it asked for.
pub const READ_YOUR_WRITES_LIMIT: Duration = Duration::from_secs(5);
