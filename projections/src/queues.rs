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

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Minute {
    /// Sum of the answered conversations' waits.
    answered_wait_ms: u64,
    missed: u32,
    /// The answered conversations by their wait in whole seconds, rounded up: how many were
    /// answered, and how many within any target, are sums over these, so a target changed in
    /// the configuration applies to the past as well.
    waits_s: BTreeMap<u32, u32>,
    /// The most conversations waiting in the queue at once during the minute...
    waiting_peak: u32,
    /// ... and how many waited after its last change; `None` when the count did not change.
    waiting_end: Option<u32>,
}

impl Minute {
    fn answered(&self) -> u32 {
        self.waits_s.values().sum()
    }

    /// How many were answered within `target_s` seconds.
    fn answered_within(&self, target_s: u32) -> u32 {
        self.waits_s.range(..=target_s).map(|(_, n)| n).sum()
    }
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
    /// Per queue, how many waited at the end of the newest minute dropped: where a series
    /// starts when no kept minute says.
    level_before: BTreeMap<QueueId, u32>,
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
            let wait_ms = at.millis_since(since);
            let minute = self.minute(&queue, at);
            minute.answered_wait_ms += wait_ms;
            let wait_s = u32::try_from(wait_ms.div_ceil(1000)).unwrap_or(u32::MAX);
            *minute.waits_s.entry(wait_s).or_default() += 1;
        }
    }

    /// The number of conversations waiting in `queue` changed to `waiting` at `at`.
    pub fn level(&mut self, queue: &QueueId, waiting: u32, at: Timestamp) {
        let minute = self.minute(queue, at);
        minute.waiting_peak = minute.waiting_peak.max(waiting);
        minute.waiting_end = Some(waiting);
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
        for (queue, minutes) in &mut self.minutes {
            while minutes.first_key_value().is_some_and(|(m, _)| *m < oldest) {
                if let Some((_, dropped)) = minutes.pop_first()
                    && let Some(level) = dropped.waiting_end
                {
                    self.level_before.insert(queue.clone(), level);
                }
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
                let (mut answered, mut answered_wait_ms, mut missed) = (0u32, 0u64, 0u32);
                if let Some(minutes) = self.minutes.get(queue) {
                    for minute in minutes.range(from..).map(|(_, m)| m) {
                        answered += minute.answered();
                        answered_wait_ms += minute.answered_wait_ms;
                        missed += minute.missed;
                    }
                }
                let (count, oldest) = waits.get(queue).copied().unwrap_or((0, now));
                QueueFigures {
                    queue: queue.clone(),
                    waiting: count,
                    longest_wait_ms: now.millis_since(oldest),
                    answered,
                    missed,
                    average_wait_ms: (answered > 0).then(|| answered_wait_ms / u64::from(answered)),
                }
            })
            .collect()
    }
}

/// One interval of a queue's day, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeriesPoint {
    #[serde(with = "crate::rfc3339")]
    pub start: Timestamp,
    /// The most conversations waiting in the queue at once during the interval.
    pub waiting: u32,
    pub answered: u32,
    /// Of those, how many were taken within the queue's target.
    pub answered_in_time: u32,
    pub missed: u32,
}

/// A queue's figures interval by interval, with their totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueSeries {
    pub queue: QueueId,
    pub answer_target_ms: u64,
    pub answered: u32,
    pub answered_in_time: u32,
    pub points: Vec<SeriesPoint>,
}

/// How many intervals of `step_minutes` a series from `since` until `until` holds, each time
/// rounded down to its minute as [`QueuesView::series`] does; 0 when `until` is before `since`.
pub fn intervals(since: Timestamp, until: Timestamp, step_minutes: u32) -> i64 {
    let from = since.as_millis().div_euclid(MINUTE_MS);
    let to = until.as_millis().div_euclid(MINUTE_MS);
    if to < from {
        return 0;
    }
    (to - from) / i64::from(step_minutes.max(1)) + 1
}

/// The earliest a series may start when the newest event is at `now`: older minutes are gone.
pub fn oldest_kept(now: Timestamp) -> Timestamp {
    Timestamp::from_millis(
        (now.as_millis().div_euclid(MINUTE_MS) - KEPT_DAYS * 24 * 60) * MINUTE_MS,
    )
}

impl QueuesView {
    /// For each queue `visible` allows, with its answer target, its figures in intervals of
    /// `step_minutes` from `since` (rounded down to its minute) until `until`.
    pub fn series<'a>(
        &self,
        queues: impl IntoIterator<Item = (&'a QueueId, u64)>,
        visible: &Visible,
        since: Timestamp,
        until: Timestamp,
        step_minutes: u32,
    ) -> Vec<QueueSeries> {
        let step = i64::from(step_minutes.max(1));
        let from = since.as_millis().div_euclid(MINUTE_MS);
        let empty = BTreeMap::new();
        queues
            .into_iter()
            .filter(|(queue, _)| visible.queues.allows(queue))
            .map(|(queue, target_ms)| {
                let minutes = self.minutes.get(queue).unwrap_or(&empty);
                // Whole seconds, rounded down: a wait of w s (rounded up) is in time when w ≤ this.
                let target_s = u32::try_from(target_ms / 1000).unwrap_or(u32::MAX);
                let mut level = minutes
                    .range(..from)
                    .rev()
                    .find_map(|(_, m)| m.waiting_end)
                    .or_else(|| self.level_before.get(queue).copied())
                    .unwrap_or(0);
                let mut points = Vec::new();
                let mut start = from;
                for _ in 0..intervals(since, until, step_minutes) {
                    let mut point = SeriesPoint {
                        start: Timestamp::from_millis(start * MINUTE_MS),
                        waiting: level,
                        answered: 0,
                        answered_in_time: 0,
                        missed: 0,
                    };
                    for minute in minutes.range(start..start + step).map(|(_, m)| m) {
                        point.answered += minute.answered();
                        point.missed += minute.missed;
                        point.answered_in_time += minute.answered_within(target_s);
                        point.waiting = point.waiting.max(minute.waiting_peak);
                        level = minute.waiting_end.unwrap_or(level);
                    }
                    points.push(point);
                    start += step;
                }
                QueueSeries {
                    queue: queue.clone(),
                    answer_target_ms: target_ms,
                    answered: points.iter().map(|p| p.answered).sum(),
                    answered_in_time: points.iter().map(|p| p.answered_in_time).sum(),
                    points,
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
            administers: Default::default(),
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

    #[test]
    fn a_queue_series_counts_the_peak_waiting_and_answers_in_time_per_interval() {
        use crate::ReadModels;
        use crate::testing::at;
        let mut models = ReadModels::new([AgentId::new("ada")]);
        let mut position = 0;
        let mut feed = |models: &mut ReadModels, events: Vec<Event>| {
            for event in events {
                position += 1;
                models.apply(position, &event);
            }
        };
        let accepted = |n: u128, ms: i64| {
            at(
                ms,
                OfferAccepted {
                    conversation: id(n),
                    agent: AgentId::new("ada"),
                },
            )
        };
        let minute = 60_000;
        // 09:00 (as minutes from 0): three arrive; one is taken after 30 s, one after 90 s.
        let nine = 9 * HOUR;
        feed(&mut models, arrival(1, "support", nine).into());
        feed(&mut models, arrival(2, "support", nine + 1_000).into());
        feed(&mut models, arrival(3, "support", nine + 2_000).into());
        feed(&mut models, vec![accepted(1, nine + 30_000)]);
        feed(&mut models, vec![accepted(2, nine + 91_000)]);
        // 09:20: the third leaves unanswered; nothing else happens until 09:45.
        feed(
            &mut models,
            vec![at(
                nine + 20 * minute,
                CustomerLeft {
                    conversation: id(3),
                    closed: true,
                },
            )],
        );
        feed(
            &mut models,
            arrival(4, "support", nine + 45 * minute).into(),
        );

        let support = QueueId::new("support");
        let series = |models: &ReadModels, target_ms: u64, visible: &Visible| {
            models.queues.series(
                [(&support, target_ms)],
                visible,
                Timestamp::from_millis(nine - 15 * minute),
                Timestamp::from_millis(nine + 59 * minute),
                15,
            )
        };
        let everything = Visible::everything();
        let shown = series(&models, 60_000, &everything);
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].answer_target_ms, 60_000);
        assert_eq!((shown[0].answered, shown[0].answered_in_time), (2, 1));
        // As many intervals as `intervals` says, counted on whole minutes: 08:45:59 to 09:15:00
        // in steps of 15 is 08:45, 09:00 and 09:15.
        assert_eq!(
            intervals(
                Timestamp::from_millis(nine - 14 * minute - 1_000),
                Timestamp::from_millis(nine + 15 * minute),
                15
            ),
            3
        );
        assert_eq!(
            intervals(
                Timestamp::from_millis(nine),
                Timestamp::from_millis(nine - 1),
                15
            ),
            0
        );
        let points: Vec<(u32, u32, u32, u32)> = shown[0]
            .points
            .iter()
            .map(|p| (p.waiting, p.answered, p.answered_in_time, p.missed))
            .collect();
        assert_eq!(
            points,
            [
                (0, 0, 0, 0), // 08:45
                (3, 2, 1, 0), // 09:00: three at once; 30 s in time, 90 s not
                (1, 0, 0, 1), // 09:15: one still waits when it starts; it leaves unanswered
                (0, 0, 0, 0), // 09:30: nobody
                (1, 0, 0, 0), // 09:45
            ]
        );
        assert_eq!(
            shown[0].points[1].start,
            Timestamp::from_millis(nine),
            "intervals start on whole minutes from `since`"
        );
        // A target changed later applies to the past too.
        let generous = series(&models, 120_000, &everything);
        assert_eq!(generous[0].points[1].answered_in_time, 2);
        // A wait of exactly the target is in time: 30 s.
        assert_eq!(
            series(&models, 30_000, &everything)[0].points[1].answered_in_time,
            1
        );
        assert_eq!(
            series(&models, 29_000, &everything)[0].points[1].answered_in_time,
            0
        );

        // Without rights to the queue, nothing.
        let elsewhere = Visible {
            users: Scope::All,
            queues: Scope::Only([QueueId::new("sales")].into()),
            own: None,
            administers: Default::default(),
        };
        assert!(series(&models, 60_000, &elsewhere).is_empty());

        // Read from the middle of the quiet stretch, the level carries in from before.
        let late = models.queues.series(
            [(&support, 60_000)],
            &everything,
            Timestamp::from_millis(nine + 10 * minute),
            Timestamp::from_millis(nine + 10 * minute),
            5,
        );
        assert_eq!(late[0].points.len(), 1);
        assert_eq!(late[0].points[0].waiting, 1);

        // Eight days on, the day's minutes are gone but the level they ended on stays.
        feed(
            &mut models,
            arrival(5, "sales", nine + 9 * 24 * HOUR).into(),
        );
        let much_later = models.queues.series(
            [(&support, 60_000)],
            &everything,
            Timestamp::from_millis(nine + 9 * 24 * HOUR),
            Timestamp::from_millis(nine + 9 * 24 * HOUR),
            15,
        );
        assert_eq!(much_later[0].points[0].waiting, 1);
        assert_eq!(much_later[0].points[0].answered, 0);
    }
}
