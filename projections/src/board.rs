//! The status board: every conversation of the team boards as Rep Needed, Pending, Soon to be
//! overdue, Overdue or Closed (the product's Conversations page), with its views: All, Joined (by
//! me), per team, per status.
//!
//! A board status is read off the conversations view, never stored: Overdue and Soon to be overdue
//! come from the core's events (fired at each queue's thresholds); otherwise a conversation whose
//! customer waits for a reply is Rep Needed with nobody in it and Pending with someone; one whose
//! customer was answered is Answered. This module must never apply a threshold itself: the core
//! does, from the configuration.

use crate::conversations::{ConversationStatus, ConversationSummary, ConversationsView, Overdue};
use crate::rights::Visible;
use routing_core::{AgentId, QueueId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoardStatus {
    /// Past the queue's overdue threshold without a reply.
    Overdue,
    /// Past the queue's soon-overdue threshold without a reply.
    SoonOverdue,
    /// The customer wrote and nobody is in the conversation.
    RepNeeded,
    /// The customer wrote and the agents in it have not replied yet.
    Pending,
    /// The customer's newest message has been answered.
    Answered,
    Closed,
}

impl BoardStatus {
    /// The status a conversation shows on the board.
    pub fn of(summary: &ConversationSummary) -> Self {
        if summary.status == ConversationStatus::Closed {
            return BoardStatus::Closed;
        }
        match summary.overdue {
            Overdue::Overdue => BoardStatus::Overdue,
            Overdue::SoonOverdue => BoardStatus::SoonOverdue,
            Overdue::InTime if !summary.awaiting_reply => BoardStatus::Answered,
            Overdue::InTime if summary.agents.is_empty() => BoardStatus::RepNeeded,
            Overdue::InTime => BoardStatus::Pending,
        }
    }
}

/// Which of the board's views to show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BoardFilter {
    /// Joined: only conversations this agent is in.
    pub joined_by: Option<AgentId>,
    /// One team's (queue's) conversations.
    pub team: Option<QueueId>,
    /// One status. Closed conversations are listed only when this asks for them.
    pub status: Option<BoardStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BoardRow {
    pub board_status: BoardStatus,
    #[serde(flatten)]
    pub conversation: ConversationSummary,
}

/// The board rows `visible` allows under `filter`: most urgent first, then the customer who has
/// waited longest.
pub fn board(
    conversations: &ConversationsView,
    visible: &Visible,
    filter: &BoardFilter,
) -> Vec<BoardRow> {
    let wanted = |summary: &ConversationSummary| {
        let status = BoardStatus::of(summary);
        filter.status.is_none_or(|wanted| wanted == status)
            && filter
                .joined_by
                .as_ref()
                .is_none_or(|agent| summary.agents.contains(agent))
            && filter
                .team
                .as_ref()
                .is_none_or(|team| summary.queue.as_ref() == Some(team))
            && visible.sees_conversation(summary)
    };
    let source: Box<dyn Iterator<Item = &ConversationSummary>> =
        if filter.status == Some(BoardStatus::Closed) {
            Box::new(conversations.all())
        } else {
            Box::new(conversations.open())
        };
    let mut rows: Vec<BoardRow> = source
        .filter(|summary| wanted(summary))
        .map(|summary| BoardRow {
            board_status: BoardStatus::of(summary),
            conversation: summary.clone(),
        })
        .collect();
    rows.sort_by(|a, b| {
        (
            a.board_status,
            waited_since(&a.conversation),
            a.conversation.conversation,
        )
            .cmp(&(
                b.board_status,
                waited_since(&b.conversation),
                b.conversation.conversation,
            ))
    });
    rows
}

fn waited_since(summary: &ConversationSummary) -> routing_core::Timestamp {
    summary
        .last_customer_message_at
        .unwrap_or(summary.started_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rights::Scope;
    use crate::testing::{arrival, id};
    use routing_core::event::{
        AgentMessageSent, ConversationClosed, ConversationOverdue, ConversationSoonOverdue,
        CustomerMessageReceived, EventKind, OfferAccepted,
    };
    use routing_core::ids::MessageId;
    use routing_core::{Event, Timestamp};

    fn feed(view: &mut ConversationsView, ms: i64, kind: impl Into<EventKind>) {
        view.apply(&Event {
            at: Timestamp::from_millis(ms),
            kind: kind.into(),
        });
    }

    /// Conversation `n` in `queue`: its customer writes at `ms`; `agent` takes it if given.
    fn conversation(
        view: &mut ConversationsView,
        n: u128,
        queue: &str,
        ms: i64,
        agent: Option<&str>,
    ) {
        for event in arrival(n, queue, ms) {
            view.apply(&event);
        }
        feed(
            view,
            ms,
            CustomerMessageReceived {
                conversation: id(n),
                message_id: MessageId::new(format!("m-{n}")),
                text: "Hello".into(),
                kind: routing_core::MessageKind::Text,
                attachments: Vec::new(),
            },
        );
        if let Some(agent) = agent {
            feed(
                view,
                ms + 1,
                OfferAccepted {
                    conversation: id(n),
                    agent: AgentId::new(agent),
                },
            );
        }
    }

    fn statuses(rows: &[BoardRow]) -> Vec<(u128, BoardStatus)> {
        rows.iter()
            .map(|r| {
                (
                    r.conversation.conversation.as_uuid().as_u128(),
                    r.board_status,
                )
            })
            .collect()
    }

    #[test]
    fn the_board_shows_each_conversation_by_status_most_urgent_first() {
        let mut view = ConversationsView::default();
        conversation(&mut view, 1, "support", 100, None);
        conversation(&mut view, 2, "support", 200, Some("ada"));
        conversation(&mut view, 3, "support", 300, Some("ada"));
        feed(
            &mut view,
            400,
            AgentMessageSent {
                conversation: id(3),
                agent: AgentId::new("ada"),
                message_id: MessageId::new("a-3"),
                text: "Hi".into(),
                template: None,
                outbox: true,
                email_fallback: None,
            },
        );
        conversation(&mut view, 4, "sales", 50, Some("bo"));
        feed(
            &mut view,
            500,
            ConversationSoonOverdue {
                conversation: id(4),
                unanswered_since: Timestamp::from_millis(50),
            },
        );
        conversation(&mut view, 5, "sales", 60, None);
        feed(
            &mut view,
            600,
            ConversationOverdue {
                conversation: id(5),
                unanswered_since: Timestamp::from_millis(60),
            },
        );
        conversation(&mut view, 6, "support", 70, Some("ada"));
        feed(
            &mut view,
            700,
            ConversationClosed {
                conversation: id(6),
                agent: AgentId::new("ada"),
                status: "resolved".into(),
            },
        );
        let everything = Visible::everything();

        // All: every open conversation, most urgent first; the closed one only on request.
        let all = board(&view, &everything, &BoardFilter::default());
        assert_eq!(
            statuses(&all),
            [
                (5, BoardStatus::Overdue),
                (4, BoardStatus::SoonOverdue),
                (1, BoardStatus::RepNeeded),
                (2, BoardStatus::Pending),
                (3, BoardStatus::Answered),
            ]
        );
        let closed = BoardFilter {
            status: Some(BoardStatus::Closed),
            ..BoardFilter::default()
        };
        assert_eq!(
            statuses(&board(&view, &everything, &closed)),
            [(6, BoardStatus::Closed)]
        );

        // Joined by Ada; one team; one status.
        let joined = BoardFilter {
            joined_by: Some(AgentId::new("ada")),
            ..BoardFilter::default()
        };
        assert_eq!(
            statuses(&board(&view, &everything, &joined)),
            [(2, BoardStatus::Pending), (3, BoardStatus::Answered)]
        );
        let sales = BoardFilter {
            team: Some(QueueId::new("sales")),
            ..BoardFilter::default()
        };
        assert_eq!(board(&view, &everything, &sales).len(), 2);
        let rep_needed = BoardFilter {
            status: Some(BoardStatus::RepNeeded),
            ..BoardFilter::default()
        };
        assert_eq!(
            statuses(&board(&view, &everything, &rep_needed)),
            [(1, BoardStatus::RepNeeded)]
        );

        // Without rights to sales, none of its conversations.
        let support_only = Visible {
            users: Scope::All,
            queues: Scope::Only([QueueId::new("support")].into()),
            own: None,
            administers: Default::default(),
        };
        let rows = board(&view, &support_only, &BoardFilter::default());
        assert!(
            rows.iter()
                .all(|r| r.conversation.queue == Some(QueueId::new("support")))
        );
        assert_eq!(rows.len(), 3);
    }
}
