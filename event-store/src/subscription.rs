//! Following the global log: catch up from a position, then go live, delivering every event once,
//! in position order.
//!
//! Live delivery pulls from the store; the store's `head` only wakes the subscriber. A subscriber
//! delivers only the gapless run of positions after the last one it delivered: if the store ever
//! showed position N+1 before N (a transaction that took N still committing), it waits for N
//! instead of passing it by. The backends here never show such a gap (see `postgres.rs` for why),
//! so this is a second line of defence, not the mechanism. This module must never skip a position.

use crate::{EventStore, Position, StoreError, StoredEvent};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::watch;

/// How many events one read of the log asks for.
const PAGE: usize = 512;
/// How long to wait before looking again at a gap that no commit notification has closed.
const GAP_RETRY: Duration = Duration::from_millis(20);

/// A reader of the global log after a position.
pub struct Subscription<S> {
    store: S,
    after: Position,
    head: watch::Receiver<Position>,
    buffered: VecDeque<StoredEvent>,
}

impl<S: EventStore> Subscription<S> {
    /// Follows `store` from the event after `after` (`Position(0)`: from the start).
    pub fn new(store: S, after: Position) -> Self {
        let head = store.head();
        Self {
            store,
            after,
            head,
            buffered: VecDeque::new(),
        }
    }

    /// The position of the last event delivered (or the starting position).
    pub fn position(&self) -> Position {
        self.after
    }

    /// The next event, waiting for it to be committed if need be; `None` once the store has shut
    /// down and everything committed before has been delivered.
    pub async fn next(&mut self) -> Result<Option<StoredEvent>, StoreError> {
        loop {
            if let Some(event) = self.buffered.pop_front() {
                self.after = event.position;
                return Ok(Some(event));
            }
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }

    /// Up to `max` events, waiting for at least one; empty once the store has shut down.
    pub async fn next_batch(&mut self, max: usize) -> Result<Vec<StoredEvent>, StoreError> {
        if self.buffered.is_empty() && !self.fill().await? {
            return Ok(Vec::new());
        }
        let take = max.max(1).min(self.buffered.len());
        let batch: Vec<StoredEvent> = self.buffered.drain(..take).collect();
        if let Some(last) = batch.last() {
            self.after = last.position;
        }
        Ok(batch)
    }

    /// Reads the next gapless run into the buffer, waiting until there is one. `false` when the
    /// store shut down with nothing more to read.
    async fn fill(&mut self) -> Result<bool, StoreError> {
        let mut from = self
            .buffered
            .back()
            .map_or(self.after, |event| event.position);
        loop {
            // Mark the head seen before reading, so that a commit after the read wakes us.
            self.head.borrow_and_update();
            let page = self.store.read_all(from, PAGE).await?;
            let mut gap = false;
            for event in page {
                if event.position.0 != from.0 + 1 {
                    gap = true;
                    break;
                }
                from = event.position;
                self.buffered.push_back(event);
            }
            if !self.buffered.is_empty() {
                return Ok(true);
            }
            if gap {
                // A later position is visible before this one: wait for it to commit.
                tokio::select! {
                    _ = self.head.changed() => {}
                    () = tokio::time::sleep(GAP_RETRY) => {}
                }
                continue;
            }
            if self.head.changed().await.is_err() {
                // The store shut down; one last read catches anything committed just before.
                let rest = self.store.read_all(from, PAGE).await.unwrap_or_default();
                for event in rest {
                    if event.position.0 != from.0 + 1 {
                        break;
                    }
                    from = event.position;
                    self.buffered.push_back(event);
                }
                return Ok(!self.buffered.is_empty());
            }
        }
    }
}
