//! Each connector's outbox: the agent messages its delivery worker has yet to send, in the order
//! they were written, and how far every message sent got (sent, delivered, read, failed).
//!
//! The channel rules (length, the 24-hour window, contacts who wrote before) were applied by
//! the core before a message was stored, so everything here may be sent as it stands. This view
//! only reports; confirming a message is a command to the core.

use crate::conversations::ConversationsView;
use crate::rfc3339;
use routing_core::ids::{ExternalContactId, MessageId};
use routing_core::{
    AgentId, Channel, ConnectorId, ConversationId, DeliveryStatus, Event, EventKind, Timestamp,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Why a message that waited for a contact who was then anonymised was never sent.
pub const ANONYMISED: &str = "the contact was anonymised before it was sent";

/// An agent message waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxItem {
    /// Where the message is in the log: the outbox's order and its paging cursor.
    pub position: u64,
    pub message_id: MessageId,
    pub conversation: ConversationId,
    pub channel: Channel,
    /// The customer's handle on the channel: whom to send it to.
    pub contact: ExternalContactId,
    pub agent: AgentId,
    pub text: String,
    /// The approved template to send instead of free text (WhatsApp and Messenger, outside the
    /// 24-hour window).
    pub template: Option<String>,
    /// Send by e-mail to this address instead: the web-chat visitor was offline and left it.
    pub email_fallback: Option<String>,
    #[serde(with = "rfc3339")]
    pub written_at: Timestamp,
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// In the outbox.
    Pending,
    Sent,
    Delivered,
    Read,
    Failed,
}

impl From<DeliveryStatus> for MessageStatus {
    fn from(status: DeliveryStatus) -> Self {
        match status {
            DeliveryStatus::Sent => MessageStatus::Sent,
            DeliveryStatus::Delivered => MessageStatus::Delivered,
            DeliveryStatus::Read => MessageStatus::Read,
            DeliveryStatus::Failed => MessageStatus::Failed,
        }
    }
}

/// An agent message's fate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageState {
    pub message_id: MessageId,
    /// Where the message is in the log.
    pub position: u64,
    pub connector: ConnectorId,
    pub conversation: ConversationId,
    pub status: MessageStatus,
    /// The provider's id for it, once sent.
    pub provider_message_id: Option<String>,
    /// Why it failed, if it did.
    pub failure: Option<String>,
    #[serde(with = "rfc3339")]
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxView {
    /// Per connector, by log position.
    pending: BTreeMap<ConnectorId, BTreeMap<u64, OutboxItem>>,
    states: BTreeMap<MessageId, MessageState>,
}

impl OutboxView {
    /// Applies the event at `position`; `conversations` already holds it.
    pub fn apply(&mut self, position: u64, event: &Event, conversations: &ConversationsView) {
        match &event.kind {
            // Replies from before there was an outbox were delivered then.
            EventKind::AgentMessageSent(e) if e.outbox => {
                let Some(summary) = conversations.get(&e.conversation) else {
                    return;
                };
                self.pending
                    .entry(summary.connector.clone())
                    .or_default()
                    .insert(
                        position,
                        OutboxItem {
                            position,
                            message_id: e.message_id.clone(),
                            conversation: e.conversation,
                            channel: summary.channel,
                            contact: summary
                                .handle
                                .as_ref()
                                .map_or_else(|| summary.contact.clone(), ExternalContactId::new),
                            agent: e.agent.clone(),
                            text: e.text.clone(),
                            template: e.template.clone(),
                            email_fallback: e.email_fallback.clone(),
                            written_at: event.at,
                        },
                    );
                self.states.insert(
                    e.message_id.clone(),
                    MessageState {
                        message_id: e.message_id.clone(),
                        position,
                        connector: summary.connector.clone(),
                        conversation: e.conversation,
                        status: MessageStatus::Pending,
                        provider_message_id: None,
                        failure: None,
                        updated_at: event.at,
                    },
                );
            }
            // Nothing more goes to someone erased: what waited for them is dropped, and says so.
            EventKind::ContactAnonymised(e) => {
                let Some(pending) = self.pending.get_mut(&e.connector) else {
                    return;
                };
                let theirs: Vec<u64> = pending
                    .iter()
                    .filter(|(_, item)| {
                        conversations
                            .get(&item.conversation)
                            .is_some_and(|summary| summary.contact == e.contact)
                    })
                    .map(|(position, _)| *position)
                    .collect();
                for position in theirs {
                    if let Some(item) = pending.remove(&position)
                        && let Some(state) = self.states.get_mut(&item.message_id)
                    {
                        state.status = MessageStatus::Failed;
                        state.failure = Some(ANONYMISED.to_owned());
                        state.updated_at = event.at;
                    }
                }
                if pending.is_empty() {
                    self.pending.remove(&e.connector);
                }
            }
            EventKind::MessageDispatched(e) => {
                if let Some(state) = self.take(&e.message_id) {
                    state.status = MessageStatus::Sent;
                    state.provider_message_id = Some(e.provider_message_id.clone());
                    state.updated_at = event.at;
                }
            }
            EventKind::MessageDispatchFailed(e) => {
                if let Some(state) = self.take(&e.message_id) {
                    state.status = MessageStatus::Failed;
                    state.failure = Some(e.reason.clone());
                    state.updated_at = event.at;
                }
            }
            EventKind::MessageStatusChanged(e) => {
                if let Some(state) = self.states.get_mut(&e.message_id) {
                    state.status = e.status.into();
                    state.updated_at = event.at;
                }
            }
            _ => {}
        }
    }

    /// Takes the message out of its connector's pending list; its state, to update.
    fn take(&mut self, message: &MessageId) -> Option<&mut MessageState> {
        let state = self.states.get_mut(message)?;
        if let Some(pending) = self.pending.get_mut(&state.connector) {
            pending.remove(&state.position);
        }
        Some(state)
    }

    /// Up to `limit` messages waiting in the connector's outbox after log position `after`,
    /// oldest first, and whether more wait.
    pub fn pending(
        &self,
        connector: &ConnectorId,
        after: u64,
        limit: usize,
    ) -> (Vec<&OutboxItem>, bool) {
        let Some(pending) = self.pending.get(connector) else {
            return (Vec::new(), false);
        };
        let mut items = pending
            .range(after.saturating_add(1)..)
            .map(|(_, item)| item);
        let page: Vec<&OutboxItem> = items.by_ref().take(limit).collect();
        let more = items.next().is_some();
        (page, more)
    }

    /// Where an agent message stands.
    pub fn state(&self, message: &MessageId) -> Option<&MessageState> {
        self.states.get(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReadModels;
    use crate::testing::{arrival, at, id};
    use routing_core::event::{
        AgentMessageSent, ConversationClosed, MessageDispatchFailed, MessageDispatched,
        MessageStatusChanged,
    };

    fn reply(n: u128, message: &str, email: Option<&str>) -> AgentMessageSent {
        AgentMessageSent {
            conversation: id(n),
            agent: AgentId::new("ada"),
            message_id: MessageId::new(message),
            text: format!("text of {message}"),
            template: None,
            outbox: true,
            email_fallback: email.map(str::to_owned),
        }
    }

    #[test]
    fn a_message_waits_in_order_until_confirmed_and_then_follows_its_receipts() {
        let mut models = ReadModels::new([AgentId::new("ada")]);
        let mut position = 0;
        let mut feed = |models: &mut ReadModels, event: Event| {
            position += 1;
            models.apply(position, &event);
        };
        let [started, enqueued] = arrival(1, "support", 0);
        feed(&mut models, started);
        feed(&mut models, enqueued);
        feed(&mut models, at(10, reply(1, "r-1", None)));
        feed(
            &mut models,
            at(11, reply(1, "r-2", Some("jana@example.com"))),
        );
        // The reply and the close come together; the outbox does not care.
        feed(
            &mut models,
            at(
                12,
                ConversationClosed {
                    conversation: id(1),
                    agent: AgentId::new("ada"),
                    status: "resolved".into(),
                },
            ),
        );
        let web = ConnectorId::new("web");
        let (page, more) = models.outbox.pending(&web, 0, 1);
        assert_eq!(page.len(), 1);
        assert!(more);
        assert_eq!(page[0].message_id, MessageId::new("r-1"));
        assert_eq!(page[0].contact, ExternalContactId::new("v-1"));
        let (rest, more) = models.outbox.pending(&web, page[0].position, 10);
        assert_eq!(rest.len(), 1);
        assert!(!more);
        assert_eq!(rest[0].email_fallback.as_deref(), Some("jana@example.com"));

        feed(
            &mut models,
            at(
                13,
                MessageDispatched {
                    conversation: id(1),
                    message_id: MessageId::new("r-1"),
                    provider_message_id: "out-1".into(),
                },
            ),
        );
        feed(
            &mut models,
            at(
                14,
                MessageDispatchFailed {
                    conversation: id(1),
                    message_id: MessageId::new("r-2"),
                    reason: "no such visitor".into(),
                },
            ),
        );
        assert_eq!(models.outbox.pending(&web, 0, 10).0.len(), 0);
        feed(
            &mut models,
            at(
                15,
                MessageStatusChanged {
                    conversation: id(1),
                    message_id: MessageId::new("r-1"),
                    status: DeliveryStatus::Read,
                },
            ),
        );
        let read = models.outbox.state(&MessageId::new("r-1"));
        assert_eq!(read.map(|s| s.status), Some(MessageStatus::Read));
        assert_eq!(
            read.and_then(|s| s.provider_message_id.as_deref()),
            Some("out-1")
        );
        let failed = models.outbox.state(&MessageId::new("r-2"));
        assert_eq!(failed.map(|s| s.status), Some(MessageStatus::Failed));
        assert_eq!(
            failed.and_then(|s| s.failure.as_deref()),
            Some("no such visitor")
        );
    }
}
