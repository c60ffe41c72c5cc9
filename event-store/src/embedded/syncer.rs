//! The embedded store's syncer: the thread that makes written groups durable, and the horizon
//! below which readers may look.
//!
//! The writer thread puts a group in memory and writes it to a write-ahead segment, then hands
//! the group's answers here and goes on with the next group while the disk syncs. This thread
//! takes every group handed over so far, syncs the segments they went to once for all of them (a
//! sync started after a group was written covers it), then moves the [`Horizon`] and answers
//! their appenders. So the writer's work and the disk's overlap, and one sync serves as many
//! groups as arrived while the last one ran.
//!
//! Memory shows a group as soon as it is written, before it is durable: every reader caps what it
//! reads at the horizon, which only ever covers durable events. This module must never move the
//! horizon or answer an appender before the sync that covers the group has returned.

use crate::error::{AppendError, StoreError};
use crate::record::{AppendOutcome, Position};
use std::fs::File;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use tokio::sync::{oneshot, watch};

pub(crate) type Reply = oneshot::Sender<Result<AppendOutcome, AppendError>>;

/// A group's answers, to send once the group is durable.
pub(crate) type Answers = Vec<(Reply, Result<AppendOutcome, AppendError>)>;

/// How far the log is durable, hence visible; and whether the store has failed.
pub(crate) struct Horizon {
    through: AtomicU64,
    head: watch::Sender<Position>,
    failed: AtomicBool,
}

impl Horizon {
    pub(crate) fn new(durable: Position) -> (Self, watch::Receiver<Position>) {
        let (head, receiver) = watch::channel(durable);
        let horizon = Self {
            through: AtomicU64::new(durable.0),
            head,
            failed: AtomicBool::new(false),
        };
        (horizon, receiver)
    }

    /// The newest durable position. A reader takes it before opening its read transaction, which
    /// then holds every event up to it (each was committed to redb before it became durable).
    pub(crate) fn through(&self) -> u64 {
        self.through.load(Ordering::Acquire)
    }

    /// Records that everything up to `position` is durable, and wakes subscribers.
    pub(crate) fn advance(&self, position: Position) {
        self.through.fetch_max(position.0, Ordering::AcqRel);
        self.head.send_if_modified(|head| {
            let moved = position > *head;
            if moved {
                *head = position;
            }
            moved
        });
    }

    pub(crate) fn fail(&self) {
        self.failed.store(true, Ordering::Release);
    }

    pub(crate) fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }
}

/// A group handed to the syncer: durable once the write-ahead segment it went to is synced.
pub(crate) struct Group {
    /// The newest position given out when the group was handed over.
    pub(crate) through: Position,
    /// The write-ahead segment written to (the active one, for a group with nothing new).
    pub(crate) segment: usize,
    pub(crate) answers: Answers,
}

/// Syncs the write-ahead segments for every group received, then answers them; runs until the
/// writer hangs up. After a failed sync nothing more is acknowledged: every later group is
/// answered with the error.
pub(crate) fn sync_loop(segments: [File; 2], groups: mpsc::Receiver<Group>, horizon: &Horizon) {
    let mut failure: Option<String> = None;
    while let Ok(first) = groups.recv() {
        let mut taken = vec![first];
        taken.extend(groups.try_iter());
        if failure.is_none() {
            // Usually one segment; both when the writer moved to the other one meanwhile.
            let synced = (0..2)
                .filter(|segment| taken.iter().any(|g| g.segment == *segment))
                .try_for_each(|segment| segments[segment].sync_data());
            if let Err(error) = synced {
                // After a failed sync nobody can say what reached the disk: stop acknowledging,
                // so that the process restarts and reads the truth back from the file.
                tracing::error!(%error, "event store sync failed; the store stops");
                horizon.fail();
                failure = Some(format!("write-ahead file: {error}"));
            }
        }
        match &failure {
            None => {
                if let Some(through) = taken.iter().map(|g| g.through).max() {
                    horizon.advance(through);
                }
                for group in taken {
                    answer(group.answers);
                }
            }
            Some(message) => {
                for group in taken {
                    for (reply, _) in group.answers {
                        let _ = reply
                            .send(Err(AppendError::Store(StoreError::Failed(message.clone()))));
                    }
                }
            }
        }
    }
}

/// Sends each appender its answer (one that stopped waiting still had its events committed).
pub(crate) fn answer(answers: Answers) {
    for (reply, outcome) in answers {
        let _ = reply.send(outcome);
    }
}
