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
use std::collections::{BTreeMap, BTreeSet};

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
    /// Per connector, how many of its messages wait for their dispatch to be confirmed.
    in_flight: BTreeMap<ConnectorId, usize>,
    /// Receipts that came before the confirmation of the message they name, with when.
    held: BTreeMap<(ConnectorId, String), (DeliveryStatus, Timestamp)>,
    /// The same, oldest first, so that expired ones go without a scan.
    held_since: BTreeSet<(Timestamp, ConnectorId, String)>,
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

    /// Whether some of the connector's messages wait for their dispatch to be confirmed.
    pub fn has_in_flight(&self, connector: &ConnectorId) -> bool {
        self.in_flight.get(connector).is_some_and(|n| *n > 0)
    }

    /// The receipt held for a provider id not confirmed yet, if one is, and when it came.
    pub fn held(
        &self,
        connector: &ConnectorId,
        provider_message_id: &str,
    ) -> Option<(DeliveryStatus, Timestamp)> {
        self.held
            .get(&(connector.clone(), provider_message_id.to_owned()))
            .copied()
    }

    pub fn presence(
        &self,
        connector: &ConnectorId,
        contact: &ExternalContactId,
    ) -> Option<&VisitorPresence> {
        self.presence.get(connector)?.get(contact)
    }

    pub(super) fn queued(&mut self, message: MessageId, pending: Pending) {
        *self.in_flight.entry(pending.connector.clone()).or_default() += 1;
        if let Some(replaced) = self.pending.insert(message, pending) {
            self.landed(&replaced.connector);
        }
    }

    /// One of the connector's messages left the outbox.
    fn landed(&mut self, connector: &ConnectorId) {
        if let Some(n) = self.in_flight.get_mut(connector) {
            *n = n.saturating_sub(1);
        }
    }

    /// A receipt came before its message's confirmation; receipts held longer than `keep` are
    /// dropped first (they named something this connector never sent).
    pub(super) fn hold(
        &mut self,
        connector: &ConnectorId,
        provider_message_id: &str,
        status: DeliveryStatus,
        at: Timestamp,
        keep: u64,
    ) {
        while let Some(oldest) = self.held_since.first().cloned() {
            if at.millis_since(oldest.0) <= keep {
                break;
            }
            self.held_since.remove(&oldest);
            self.held.remove(&(oldest.1, oldest.2));
        }
        let key = (connector.clone(), provider_message_id.to_owned());
        if let Some((_, since)) = self.held.insert(key, (status, at)) {
            self.held_since
                .remove(&(since, connector.clone(), provider_message_id.to_owned()));
        }
        self.held_since
            .insert((at, connector.clone(), provider_message_id.to_owned()));
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
        self.landed(&pending.connector);
        let key = (pending.connector.clone(), provider_message_id.to_owned());
        if let Some((_, since)) = self.held.remove(&key) {
            self.held_since.remove(&(since, key.0, key.1));
        }
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
        if let Some(pending) = self.pending.remove(message) {
            self.landed(&pending.connector);
        }
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

    /// Forgets what is known of an anonymised contact: their presence and address, and the
    /// list their watermark receipts walk. Sent messages keep their statuses (those are metrics).
    pub(super) fn forget_contact(&mut self, connector: &ConnectorId, contact: &ExternalContactId) {
        if let Some(contacts) = self.sent_to.get_mut(connector) {
            contacts.remove(contact);
        }
        if let Some(contacts) = self.presence.get_mut(connector) {
            contacts.remove(contact);
        }
    }
}
