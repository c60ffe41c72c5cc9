//! Following the global log: catch up from a position, then go live, delivering every event once,
//! in position order.
//!
//! Live delivery pulls from the store; the store's `head` only wakes the subscriber (who also looks
//! every second anyway, in case a wake-up was lost). A subscriber
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
/// How long a subscriber waits for a wake-up before it reads the log anyway.
const POLL_ANYWAY: Duration = Duration::from_secs(1);
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
            let woken = tokio::select! {
                changed = self.head.changed() => changed.is_ok(),
                // A wake-up can be lost (a dropped connection to PostgreSQL, say): look at the
                // log now and then anyway.
                () = tokio::time::sleep(POLL_ANYWAY) => true,
            };
            if !woken {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AppendError, AppendOutcome, AppendRequest, WriterEpoch};
    use std::sync::{Arc, Mutex};

    /// A log whose visible events the test chooses, to show a subscriber a gap no real backend
    /// here ever shows: position 2 committed while position 1 is still in flight.
    #[derive(Clone)]
    struct Scripted {
        visible: Arc<Mutex<Vec<StoredEvent>>>,
        head: Arc<watch::Sender<Position>>,
    }

    impl Scripted {
        fn new() -> Self {
            Self {
                visible: Arc::default(),
                head: Arc::new(watch::channel(Position(0)).0),
            }
        }

        fn commit(&self, position: u64) {
            let mut visible = self.visible.lock().unwrap_or_else(|e| e.into_inner());
            visible.push(event(position));
            visible.sort_by_key(|e| e.position);
            self.head
                .send_modify(|head| *head = (*head).max(Position(position)));
        }
    }

    fn event(position: u64) -> StoredEvent {
        StoredEvent {
            position: Position(position),
            stream: "s".into(),
            stream_version: position,
            event_id: uuid::Uuid::nil(),
            event_type: "Tested".into(),
            schema_version: 1,
            recorded_at_ms: 0,
            correlation_id: uuid::Uuid::nil(),
            causation_id: uuid::Uuid::nil(),
            payload: Vec::new(),
            idempotency_key: None,
            chain: None,
        }
    }

    impl EventStore for Scripted {
        async fn append(&self, _: AppendRequest) -> Result<AppendOutcome, AppendError> {
            Err(AppendError::Empty)
        }

        async fn read_all(
            &self,
            after: Position,
            limit: usize,
        ) -> Result<Vec<StoredEvent>, StoreError> {
            let visible = self.visible.lock().unwrap_or_else(|e| e.into_inner());
            Ok(visible
                .iter()
                .filter(|e| e.position > after)
                .take(limit)
                .cloned()
                .collect())
        }

        async fn read_stream(
            &self,
            _: &str,
            _: u64,
            _: usize,
        ) -> Result<Vec<StoredEvent>, StoreError> {
            Ok(Vec::new())
        }

        async fn find_idempotency_keys(
            &self,
            keys: &[String],
        ) -> Result<Vec<Option<Position>>, StoreError> {
            Ok(vec![None; keys.len()])
        }

        async fn find_idempotency_key(&self, _: &str) -> Result<Option<Position>, StoreError> {
            Ok(None)
        }

        async fn claim_writer(&self) -> Result<WriterEpoch, StoreError> {
            Ok(WriterEpoch(1))
        }

        fn head(&self) -> watch::Receiver<Position> {
            self.head.subscribe()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_earlier_position_that_commits_after_a_later_one_is_waited_for_not_skipped() {
        let store = Scripted::new();
        let mut subscription = Subscription::new(store.clone(), Position(0));
        // The transaction that took position 2 commits first; the one holding 1 has not.
        store.commit(2);
        let next = tokio::spawn(async move {
            let first = subscription.next().await;
            let second = subscription.next().await;
            (first, second)
        });
        // With the clock paused, the subscriber retries the gap many times over; it must not
        // deliver 2 on its own.
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!next.is_finished(), "delivered past a gap");
        store.commit(1);
        let (first, second) = next.await.unwrap_or_else(|e| panic!("{e}"));
        let position =
            |e: Result<Option<StoredEvent>, StoreError>| e.ok().flatten().map(|e| e.position.0);
        assert_eq!(position(first), Some(1));
        assert_eq!(position(second), Some(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_commit_whose_wake_up_was_lost_is_still_delivered() {
        let store = Scripted::new();
        let mut subscription = Subscription::new(store.clone(), Position(0));
        let next = tokio::spawn(async move { subscription.next().await });
        tokio::task::yield_now().await;
        // Committed without moving the head: nobody is woken.
        store
            .visible
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event(1));
        let delivered = tokio::time::timeout(Duration::from_secs(10), next)
            .await
            .unwrap_or_else(|_| panic!("never delivered without a wake-up"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(delivered.ok().flatten().map(|e| e.position.0), Some(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_subscriber_from_a_position_delivers_each_later_event_once_in_order() {
        let store = Scripted::new();
        for position in 1..=5 {
            store.commit(position);
        }
        let mut subscription = Subscription::new(store.clone(), Position(2));
        let batch = subscription
            .next_batch(2)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            batch.iter().map(|e| e.position.0).collect::<Vec<_>>(),
            [3, 4]
        );
        let reader = tokio::spawn(async move {
            let mut seen = Vec::new();
            while seen.len() < 3 {
                for e in subscription
                    .next_batch(10)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"))
                {
                    seen.push(e.position.0);
                }
            }
            seen
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        store.commit(6);
        store.commit(7);
        assert_eq!(reader.await.unwrap_or_else(|e| panic!("{e}")), [5, 6, 7]);
    }
}
