//! Focus time: per activity (an agent in a conversation), how long the agent's console showed it
//! in front, and how often their work on it was disrupted by another activity or module. Fed by the
//! console's focus and blur events.
//!
//! Focusing another conversation, or blurring, ends the current focus and counts one disruption;
//! leaving the conversation (however: left, closed, handed over) ends it without one. A console that falls silent (disconnected
//! with a last heartbeat) ends the focus at that heartbeat and flags the figure as unreliable (the
//! product's "focus time anomaly"); one that says goodbye ends it then. A focus still open counts
//! up to the "now" a query passes. This view never decides anything and never reads a clock.

use routing_core::event::EventKind;
use routing_core::{AgentId, ConversationId, Event, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One activity's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FocusFigures {
    pub focused_ms: u64,
    pub disruptions: u32,
    /// The console vanished while this activity was in focus: `focused_ms` may be short.
    pub anomaly: bool,
}

/// An activity's figures as a query shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActivityFocus {
    pub agent: AgentId,
    #[serde(flatten)]
    pub figures: FocusFigures,
    /// The agent is looking at it now.
    pub in_focus: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FocusView {
    /// conversation → agent → figures.
    activities: BTreeMap<ConversationId, BTreeMap<AgentId, FocusFigures>>,
    /// agent → the conversation in focus and since when.
    current: BTreeMap<AgentId, (ConversationId, Timestamp)>,
}

impl FocusView {
    pub fn apply(&mut self, event: &Event) {
        let at = event.at;
        match &event.kind {
            EventKind::ActivityFocused(e) => {
                if self
                    .current
                    .get(&e.agent)
                    .is_some_and(|(focused, _)| *focused == e.conversation)
                {
                    return;
                }
                self.end(&e.agent, at, true, false);
                self.current.insert(e.agent.clone(), (e.conversation, at));
                self.activities
                    .entry(e.conversation)
                    .or_default()
                    .entry(e.agent.clone())
                    .or_default();
            }
            EventKind::ActivityBlurred(e) => self.end(&e.agent, at, true, false),
            EventKind::AgentDisconnected(e) => {
                let end = e.last_heartbeat_at.unwrap_or(at);
                self.end(&e.agent, end, false, e.last_heartbeat_at.is_some());
            }
            _ => {}
        }
    }

    /// After an event of `conversation` at `at`: whoever is in focus on it but no longer in it
    /// (`in_it`; nobody, once it is closed) has ended their activity, without a disruption. Who
    /// is in a conversation is the conversations view's to say, so the caller passes it.
    pub fn settle(
        &mut self,
        conversation: ConversationId,
        in_it: &BTreeSet<AgentId>,
        at: Timestamp,
    ) {
        let gone: Vec<AgentId> = self
            .current
            .iter()
            .filter(|(agent, (focused, _))| *focused == conversation && !in_it.contains(*agent))
            .map(|(agent, _)| agent.clone())
            .collect();
        for agent in gone {
            self.end(&agent, at, false, false);
        }
    }

    /// Ends `agent`'s current focus at `at`, counting a disruption or an anomaly if asked.
    fn end(&mut self, agent: &AgentId, at: Timestamp, disrupted: bool, anomaly: bool) {
        let Some((conversation, since)) = self.current.remove(agent) else {
            return;
        };
        let figures = self
            .activities
            .entry(conversation)
            .or_default()
            .entry(agent.clone())
            .or_default();
        figures.focused_ms += at.millis_since(since);
        if disrupted {
            figures.disruptions += 1;
        }
        figures.anomaly |= anomaly;
    }

    /// Every activity of `conversation` with its figures as of `now`.
    pub fn of(&self, conversation: &ConversationId, now: Timestamp) -> Vec<ActivityFocus> {
        self.activities
            .get(conversation)
            .map(|agents| {
                agents
                    .iter()
                    .map(|(agent, figures)| {
                        let open = self
                            .current
                            .get(agent)
                            .filter(|(focused, _)| focused == conversation);
                        let mut figures = *figures;
                        if let Some((_, since)) = open {
                            figures.focused_ms += now.millis_since(*since);
                        }
                        ActivityFocus {
                            agent: agent.clone(),
                            figures,
                            in_focus: open.is_some(),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::id;
    use routing_core::event::{ActivityBlurred, ActivityFocused, AgentDisconnected};

    fn feed(view: &mut FocusView, ms: i64, kind: impl Into<EventKind>) {
        view.apply(&Event {
            at: Timestamp::from_millis(ms),
            kind: kind.into(),
        });
    }

    fn focus(view: &mut FocusView, agent: &str, n: u128, ms: i64) {
        feed(
            view,
            ms,
            ActivityFocused {
                agent: AgentId::new(agent),
                conversation: id(n),
            },
        );
    }

    fn figures(view: &FocusView, n: u128, now: i64) -> (u64, u32, bool, bool) {
        let rows = view.of(&id(n), Timestamp::from_millis(now));
        let row = &rows[0];
        (
            row.figures.focused_ms,
            row.figures.disruptions,
            row.figures.anomaly,
            row.in_focus,
        )
    }

    #[test]
    fn switching_between_two_chats_splits_focus_time_and_counts_disruptions() {
        let mut view = FocusView::default();
        focus(&mut view, "ada", 1, 0);
        focus(&mut view, "ada", 1, 5_000); // the same tab again: nothing changes
        focus(&mut view, "ada", 2, 10_000);
        focus(&mut view, "ada", 1, 25_000);
        feed(
            &mut view,
            30_000,
            ActivityBlurred {
                agent: AgentId::new("ada"),
            },
        );
        assert_eq!(figures(&view, 1, 99_000), (15_000, 2, false, false));
        assert_eq!(figures(&view, 2, 99_000), (15_000, 1, false, false));

        // In focus now: counted up to the query's now. Leaving ends it without a disruption.
        focus(&mut view, "ada", 2, 40_000);
        assert_eq!(figures(&view, 2, 45_000), (20_000, 1, false, true));
        view.settle(
            id(2),
            &[AgentId::new("ada")].into(),
            Timestamp::from_millis(48_000),
        );
        assert_eq!(
            figures(&view, 2, 49_000),
            (24_000, 1, false, true),
            "still in it"
        );
        view.settle(id(2), &BTreeSet::new(), Timestamp::from_millis(50_000));
        assert_eq!(figures(&view, 2, 99_000), (25_000, 1, false, false));
    }

    #[test]
    fn a_console_that_falls_silent_in_focus_flags_the_figure() {
        let mut view = FocusView::default();
        focus(&mut view, "ada", 1, 0);
        feed(
            &mut view,
            90_000,
            AgentDisconnected {
                agent: AgentId::new("ada"),
                last_heartbeat_at: Some(Timestamp::from_millis(20_000)),
            },
        );
        assert_eq!(figures(&view, 1, 99_000), (20_000, 0, true, false));

        // A console that says goodbye ends the focus then, without an anomaly.
        focus(&mut view, "bo", 3, 0);
        feed(
            &mut view,
            7_000,
            AgentDisconnected {
                agent: AgentId::new("bo"),
                last_heartbeat_at: None,
            },
        );
        assert_eq!(figures(&view, 3, 99_000), (7_000, 0, false, false));
    }
}
