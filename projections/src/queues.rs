//! Queue figures for supervisors: answered and missed conversations and their waits, over any
//! period (today, by default, in the API), beside what waits now (from the waiting view).
//!
//! A conversation counts as answered in a queue when an agent takes it from that queue (again, if
//! it comes back to the queue and is taken again), with the time it waited there; as missed when
//! it ends never having been taken at all. Figures are kept per queue per minute, so that a period
//! is a sum of whole minutes in any time zone; minutes older than [`KEPT_DAYS`] before the newest
//! event are dropped. This view never decides anything and never reads a clock.

use crate::rights::Visible;
use crate::waiting::WaitingView;
use routing_core::event::EventKind;
use routing_core::{ConversationId, Event, QueueId, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// How many days of per-minute figures are kept.
pub const KEPT_DAYS: i64 = 8;
const MINUTE_MS: i64 = 60_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Minute {
    answered: u32,
    /// Sum of the answered conversations' waits.
    answered_wait_ms: u64,
    missed: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuesView {
    /// Conversations waiting in a queue: which, and since when.
    waiting: BTreeMap<ConversationId, (QueueId, Timestamp)>,
    /// Conversations an agent has taken at least once.
    answered: BTreeSet<ConversationId>,
    /// Open conversations (to forget `answered` entries when they end).
    open: BTreeSet<ConversationId>,
    /// queue → minute (since the epoch) → figures.
    minutes: BTreeMap<QueueId, BTreeMap<i64, Minute>>,
    /// The newest minute seen, for dropping old ones.
    newest_minute: i64,
}

/// A queue's figures, as the API shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueFigures {
    pub queue: QueueId,
    pub waiting: u32,
    /// How long the longest-waiting conversation has waited; 0 when none waits.
    pub longest_wait_ms: u64,
    pub answered: u32,
    pub missed: u32,
    /// The answered conversations' average wait in the queue; `None` when none was answered.
    pub average_wait_ms: Option<u64>,
}

impl QueuesView {
    pub fn apply(&mut self, event: &Event) {
        let at = event.at;
        match &event.kind {
            EventKind::ConversationStarted(e) => {
                self.open.insert(e.conversation);
            }
            EventKind::OutboundConversationStarted(e) => {
                self.open.insert(e.conversation);
                self.answered.insert(e.conversation);
            }
            EventKind::ConversationEnqueued(e) => {
                self.waiting.insert(e.conversation, (e.queue.clone(), at));
            }
            EventKind::TransferredToQueue(e) => {
                self.waiting.insert(e.conversation, (e.queue.clone(), at));
            }
            EventKind::OfferAccepted(e) => self.taken(e.conversation, at),
            EventKind::AcceptedFromWaiting(e) => self.taken(e.conversation, at),
            EventKind::ConversationJoined(e) => self.taken(e.conversation, at),
            EventKind::ConversationGrabbed(e) => self.taken(e.conversation, at),
            kind => {
                if let Some(ended) = kind.ended_conversation() {
                    let queue = self.waiting.remove(&ended).map(|(queue, _)| queue);
                    if self.open.remove(&ended)
                        && !self.answered.remove(&ended)
                        && let Some(queue) = queue
                    {
                        self.minute(&queue, at).missed += 1;
                    }
                }
            }
        }
        self.forget_old(at);
    }

    fn taken(&mut self, conversation: ConversationId, at: Timestamp) {
        self.answered.insert(conversation);
        if let Some((queue, since)) = self.waiting.remove(&conversation) {
            let minute = self.minute(&queue, at);
            minute.answered += 1;
            minute.answered_wait_ms += at.millis_since(since);
        }
    }

    fn minute(&mut self, queue: &QueueId, at: Timestamp) -> &mut Minute {
        let minute = at.as_millis().div_euclid(MINUTE_MS);
        self.minutes
            .entry(queue.clone())
            .or_default()
            .entry(minute)
            .or_default()
    }

    fn forget_old(&mut self, at: Timestamp) {
        let minute = at.as_millis().div_euclid(MINUTE_MS);
        if minute <= self.newest_minute {
            return;
        }
        self.newest_minute = minute;
        let oldest = minute - KEPT_DAYS * 24 * 60;
        for minutes in self.minutes.values_mut() {
            while minutes.first_key_value().is_some_and(|(m, _)| *m < oldest) {
                minutes.pop_first();
            }
        }
        self.minutes.retain(|_, minutes| !minutes.is_empty());
    }

    /// Each queue's figures from `since` (rounded down to its minute) to now, for the queues in
    /// `queues` that `visible` allows; what waits comes from `waiting` as of `now`.
    pub fn figures<'a>(
        &self,
        queues: impl IntoIterator<Item = &'a QueueId>,
        waiting: &WaitingView,
        visible: &Visible,
        since: Timestamp,
        now: Timestamp,
    ) -> Vec<QueueFigures> {
        let waits = waiting.per_queue();
        let from = since.as_millis().div_euclid(MINUTE_MS);
        queues
            .into_iter()
            .filter(|queue| visible.queues.allows(queue))
            .map(|queue| {
                let mut total = Minute::default();
                if let Some(minutes) = self.minutes.get(queue) {
                    for minute in minutes.range(from..).map(|(_, m)| m) {
                        total.answered += minute.answered;
                        total.answered_wait_ms += minute.answered_wait_ms;
                        total.missed += minute.missed;
                    }
                }
                let (count, oldest) = waits.get(queue).copied().unwrap_or((0, now));
                QueueFigures {
                    queue: queue.clone(),
                    waiting: count,
                    longest_wait_ms: now.millis_since(oldest),
                    answered: total.answered,
                    missed: total.missed,
                    average_wait_ms: (total.answered > 0)
                        .then(|| total.answered_wait_ms / u64::from(total.answered)),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rights::Scope;
    use crate::testing::{arrival, id};
    use routing_core::event::{CustomerLeft, OfferAccepted};

    use routing_core::AgentId;

    fn feed(views: &mut (QueuesView, WaitingView), ms: i64, kind: impl Into<EventKind>) {
        let event = Event {
            at: Timestamp::from_millis(ms),
            kind: kind.into(),
        };
        views.0.apply(&event);
        views.1.apply(&event);
    }

    fn arrives(views: &mut (QueuesView, WaitingView), n: u128, queue: &str, ms: i64) {
        for event in arrival(n, queue, ms) {
            views.0.apply(&event);
            views.1.apply(&event);
        }
    }

    fn taken(views: &mut (QueuesView, WaitingView), n: u128, ms: i64) {
        feed(
            views,
            ms,
            OfferAccepted {
                conversation: id(n),
                agent: AgentId::new("ada"),
            },
        );
    }

    fn left(views: &mut (QueuesView, WaitingView), n: u128, ms: i64) {
        feed(
            views,
            ms,
            CustomerLeft {
                conversation: id(n),
                closed: true,
            },
        );
    }

    const HOUR: i64 = 3_600_000;

    #[test]
    fn a_queue_counts_answered_and_missed_with_waits_over_a_period() {
        let mut views = (QueuesView::default(), WaitingView::default());
        let support = QueueId::new("support");
        let sales = QueueId::new("sales");
        // Yesterday: one answered after 10 s.
        arrives(&mut views, 1, "support", 0);
        taken(&mut views, 1, 10_000);
        // Today (from 24 h on): answered after 20 s and 40 s, one missed, one still waiting.
        let today = 24 * HOUR;
        arrives(&mut views, 2, "support", today);
        taken(&mut views, 2, today + 20_000);
        arrives(&mut views, 3, "support", today);
        taken(&mut views, 3, today + 40_000);
        arrives(&mut views, 4, "support", today + 50_000);
        left(&mut views, 4, today + 60_000);
        arrives(&mut views, 5, "support", today + 70_000);
        // Taken, then the customer leaves: answered, not missed.
        left(&mut views, 2, today + 80_000);

        let now = Timestamp::from_millis(today + 100_000);
        let figures = |since: i64, visible: &Visible| {
            views.0.figures(
                [&support, &sales],
                &views.1,
                visible,
                Timestamp::from_millis(since),
                now,
            )
        };
        let everything = Visible::everything();
        let today_figures = figures(today, &everything);
        assert_eq!(
            today_figures[0],
            QueueFigures {
                queue: support.clone(),
                waiting: 1,
                longest_wait_ms: 30_000,
                answered: 2,
                missed: 1,
                average_wait_ms: Some(30_000),
            }
        );
        assert_eq!(today_figures[1].answered, 0);
        assert_eq!(today_figures[1].average_wait_ms, None);
        let both_days = figures(0, &everything);
        assert_eq!(both_days[0].answered, 3);
        assert_eq!(both_days[0].average_wait_ms, Some(70_000 / 3));

        // Without rights to support, only sales.
        let sales_only = Visible {
            users: Scope::All,
            queues: Scope::Only([sales.clone()].into()),
            own: None,
        };
        let shown = figures(0, &sales_only);
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].queue, sales);

        // Nine days later the first day's minutes are gone.
        arrives(&mut views, 6, "sales", 10 * 24 * HOUR);
        let all = views.0.figures(
            [&support],
            &views.1,
            &everything,
            Timestamp::from_millis(0),
            Timestamp::from_millis(10 * 24 * HOUR),
        );
        assert_eq!(all[0].answered, 0);
    }
}
