//! The conversations view: every conversation, open or closed, with its current status.
//!
//! It answers "where is this conversation now" for consoles and auditors; the full history is the
//! log itself.

use routing_core::event::EventKind;
use routing_core::ids::ExternalContactId;
use routing_core::{AgentId, Channel, ConnectorId, ConversationId, Event, QueueId, Timestamp};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    Waiting,
    Offered,
    Active,
    Closed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConversationSummary {
    pub conversation: ConversationId,
    pub connector: ConnectorId,
    pub channel: Channel,
    pub queue: Option<QueueId>,
    pub contact: ExternalContactId,
    pub contact_name: Option<String>,
    pub status: ConversationStatus,
    /// The agent it is offered to, or who is in it, or who closed it.
    pub agent: Option<AgentId>,
    #[serde(with = "crate::rfc3339")]
    pub started_at: Timestamp,
    #[serde(with = "crate::rfc3339::option")]
    pub accepted_at: Option<Timestamp>,
    #[serde(with = "crate::rfc3339::option")]
    pub closed_at: Option<Timestamp>,
    pub close_status: Option<String>,
    pub customer_messages: u32,
    pub agent_messages: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationsView {
    conversations: BTreeMap<ConversationId, ConversationSummary>,
}

impl ConversationsView {
    pub fn apply(&mut self, event: &Event) {
        let at = event.at;
        if let EventKind::ConversationStarted(e) = &event.kind {
            self.conversations.insert(
                e.conversation,
                ConversationSummary {
                    conversation: e.conversation,
                    connector: e.connector.clone(),
                    channel: e.channel,
                    queue: None,
                    contact: e.contact.clone(),
                    contact_name: e.contact_name.clone(),
                    status: ConversationStatus::Waiting,
                    agent: None,
                    started_at: at,
                    accepted_at: None,
                    closed_at: None,
                    close_status: None,
                    customer_messages: 0,
                    agent_messages: 0,
                },
            );
            return;
        }
        let Some(id) = event.kind.conversation() else {
            return;
        };
        let Some(row) = self.conversations.get_mut(&id) else {
            return;
        };
        match &event.kind {
            EventKind::CustomerMessageReceived(_) => row.customer_messages += 1,
            EventKind::AgentMessageSent(_) => row.agent_messages += 1,
            EventKind::ConversationEnqueued(e) => {
                row.queue = Some(e.queue.clone());
                row.status = ConversationStatus::Waiting;
                row.agent = None;
            }
            EventKind::ConversationOffered(e) => {
                row.status = ConversationStatus::Offered;
                row.agent = Some(e.agent.clone());
            }
            EventKind::OfferAccepted(e) => {
                row.status = ConversationStatus::Active;
                row.agent = Some(e.agent.clone());
                row.accepted_at = Some(at);
            }
            EventKind::AcceptedFromWaiting(e) => {
                row.status = ConversationStatus::Active;
                row.agent = Some(e.agent.clone());
                row.accepted_at = Some(at);
            }
            EventKind::OfferRejected(_)
            | EventKind::OfferTimedOut(_)
            | EventKind::OfferRescinded(_) => {
                row.status = ConversationStatus::Waiting;
                row.agent = None;
            }
            EventKind::ConversationClosed(e) => {
                row.status = ConversationStatus::Closed;
                row.agent = Some(e.agent.clone());
                row.closed_at = Some(at);
                row.close_status = Some(e.status.clone());
            }
            _ => {}
        }
    }

    pub fn get(&self, id: &ConversationId) -> Option<&ConversationSummary> {
        self.conversations.get(id)
    }
}
