//! What the core remembers about messages to customers once they leave a conversation: which
//! agent messages wait in a connector's outbox, what the provider calls each one it took, how far
//! each got, and whether a web-chat visitor is online to read a reply.
//!
//! It outlives conversations on purpose: an agent often replies and closes at once, and the
//! outbox and the receipts for that reply arrive after the close. It decides nothing; the
//! commands' rules are in `execute`.

use crate::content::DeliveryStatus;
use crate::ids::{ConnectorId, ConversationId, ExternalContactId, MessageId};
use crate::time::Timestamp;
use std::collections::BTreeMap;

/// An agent message not yet confirmed as sent or failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub connector: ConnectorId,
    pub conversation: ConversationId,
    pub contact: ExternalContactId,
}

/// A message the provider took, under the provider's id for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub conversation: ConversationId,
    pub message_id: MessageId,
    pub contact: ExternalContactId,
    pub at: Timestamp,
    pub status: DeliveryStatus,
}

/// A web-chat visitor's presence, as their widget last reported it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VisitorPresence {
    pub online: bool,
    pub email: Option<String>,
}

// Provider and contact ids come from outside: ordered maps, so no crafted id slows a lookup.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Deliveries {
    pending: BTreeMap<MessageId, Pending>,
    /// Per connector, by the provider's message id.
    sent: BTreeMap<ConnectorId, BTreeMap<String, Sent>>,
    /// Per connector and contact, the provider ids of what was sent, oldest first: watermark
    /// receipts ("everything up to then") walk these.
    sent_to: BTreeMap<ConnectorId, BTreeMap<ExternalContactId, Vec<String>>>,
    /// Each sent message's connector and provider id, by its own id.
    provider_ids: BTreeMap<MessageId, (ConnectorId, String)>,
    presence: BTreeMap<ConnectorId, BTreeMap<ExternalContactId, VisitorPresence>>,
}

impl Deliveries {
    pub fn pending(&self, message: &MessageId) -> Option<&Pending> {
        self.pending.get(message)
    }

    pub fn sent(&self, connector: &ConnectorId, provider_message_id: &str) -> Option<&Sent> {
        self.sent.get(connector)?.get(provider_message_id)
    }

    /// What was sent to the contact at or before `at`, oldest first.
    pub fn sent_up_to<'a>(
        &'a self,
        connector: &ConnectorId,
        contact: &ExternalContactId,
        at: Timestamp,
    ) -> impl Iterator<Item = &'a Sent> + 'a {
        let sent = self.sent.get(connector);
        self.sent_to
            .get(connector)
            .and_then(|contacts| contacts.get(contact))
            .into_iter()
            .flatten()
            .filter_map(move |id| sent.and_then(|s| s.get(id)))
            .filter(move |message| message.at <= at)
    }

    pub fn presence(
        &self,
        connector: &ConnectorId,
        contact: &ExternalContactId,
    ) -> Option<&VisitorPresence> {
        self.presence.get(connector)?.get(contact)
    }

    pub(super) fn queued(&mut self, message: MessageId, pending: Pending) {
        self.pending.insert(message, pending);
    }

    pub(super) fn dispatched(
        &mut self,
        message: &MessageId,
        provider_message_id: &str,
        at: Timestamp,
    ) {
        let Some(pending) = self.pending.remove(message) else {
            return;
        };
        self.sent_to
            .entry(pending.connector.clone())
            .or_default()
            .entry(pending.contact.clone())
            .or_default()
            .push(provider_message_id.to_owned());
        self.provider_ids.insert(
            message.clone(),
            (pending.connector.clone(), provider_message_id.to_owned()),
        );
        self.sent.entry(pending.connector).or_default().insert(
            provider_message_id.to_owned(),
            Sent {
                conversation: pending.conversation,
                message_id: message.clone(),
                contact: pending.contact,
                at,
                status: DeliveryStatus::Sent,
            },
        );
    }

    pub(super) fn failed(&mut self, message: &MessageId) {
        self.pending.remove(message);
    }

    /// A receipt moved a sent message on.
    pub(super) fn status(&mut self, message: &MessageId, status: DeliveryStatus) {
        let Some((connector, provider_id)) = self.provider_ids.get(message) else {
            return;
        };
        if let Some(entry) = self
            .sent
            .get_mut(connector)
            .and_then(|sent| sent.get_mut(provider_id))
        {
            entry.status = status;
        }
    }

    pub(super) fn presence_changed(
        &mut self,
        connector: &ConnectorId,
        contact: &ExternalContactId,
        online: bool,
        email: Option<String>,
    ) {
        self.presence
            .entry(connector.clone())
            .or_default()
            .insert(contact.clone(), VisitorPresence { online, email });
    }
}
