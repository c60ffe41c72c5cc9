//! The provider-neutral shape of a webhook delivery, and its translation into core commands.

use routing_core::ids::{ExternalContactId, MessageId};
use routing_core::{
    Attachment, Channel, Command, ConnectorId, DeliveryStatus, MessageKind, ReceiptFor,
};
use thiserror::Error;

/// One thing a provider told us in a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A customer's message. `message_id` is the provider's, and so the idempotency key.
    Message {
        contact: String,
        contact_name: Option<String>,
        message_id: String,
        text: String,
        kind: MessageKind,
        attachments: Vec<Attachment>,
    },
    /// A receipt for messages we sent: delivered, read, failed.
    Receipt {
        receipt: ReceiptFor,
        status: DeliveryStatus,
    },
    /// The contact ended the chat on the provider's side (Viber's `unsubscribed`).
    Left { contact: String },
    /// Something the provider reports that stores nothing (Viber's `subscribed`,
    /// `conversation_started`, `webhook`; WhatsApp's `sent` status): acknowledged and named in
    /// the answer, so that it is never dropped silently.
    Noted { what: String },
}

/// An item of a delivery that could not be read, by its position among the delivery's items
/// (in the provider's order) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub index: usize,
    pub reason: String,
}

/// Everything one webhook call carried, in the provider's order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Delivery {
    pub items: Vec<Result<Item, Refused>>,
    /// For each item, the provider account it was addressed to, where the format says: the
    /// WhatsApp number's `phone_number_id`, the Facebook page's or Instagram account's id. One
    /// app secret signs the calls for every number and page of a Meta app, so this, not the
    /// signature, tells one connector's customers from another's.
    pub accounts: Vec<Option<String>>,
}

impl Delivery {
    /// The items with the account each was addressed to.
    pub fn addressed(self) -> impl Iterator<Item = (Result<Item, Refused>, Option<String>)> {
        let accounts = self.accounts.into_iter().chain(std::iter::repeat(None));
        self.items.into_iter().zip(accounts)
    }
}

/// A body that is not the provider's format at all: not JSON, or not the object it sends.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct MalformedBody(pub String);

/// A delivery's items as a parser reads them, each refusal numbered by its position among them,
/// and the account each was addressed to.
#[derive(Default)]
pub(crate) struct Items {
    items: Vec<Result<Item, Refused>>,
    accounts: Vec<Option<String>>,
    /// The account the items being read now were addressed to.
    pub(crate) account: Option<String>,
}

impl Items {
    pub(crate) fn push(&mut self, item: Result<Item, String>) {
        let index = self.items.len();
        self.items
            .push(item.map_err(|reason| Refused { index, reason }));
        self.accounts.push(self.account.clone());
    }

    pub(crate) fn refuse(&mut self, reason: String) {
        self.push(Err(reason));
    }

    pub(crate) fn note(&mut self, what: String) {
        self.push(Ok(Item::Noted { what }));
    }

    pub(crate) fn into_delivery(self) -> Delivery {
        Delivery {
            items: self.items,
            accounts: self.accounts,
        }
    }
}

/// A webhook body as JSON: every provider posts one object.
pub(crate) fn json_object(body: &[u8]) -> Result<serde_json::Value, MalformedBody> {
    let root: serde_json::Value = serde_json::from_slice(body)
        .map_err(|error| MalformedBody(format!("the body is not JSON: {error}")))?;
    if !root.is_object() {
        return Err(MalformedBody("the body is not a JSON object".into()));
    }
    Ok(root)
}

/// Meta's `entry` array (WhatsApp, Messenger and Instagram share the envelope).
pub(crate) fn entries(root: &serde_json::Value) -> Result<&[serde_json::Value], MalformedBody> {
    root.get("entry")
        .and_then(serde_json::Value::as_array)
        .map(Vec::as_slice)
        .ok_or_else(|| MalformedBody("`entry` is missing or not an array".into()))
}

/// Reads a delivery in the format of the connector's channel. Web chat has no provider format
/// (its widget speaks Switchboard's own JSON) and is refused here.
pub fn parse(channel: Channel, body: &[u8]) -> Result<Delivery, MalformedBody> {
    match channel {
        Channel::Whatsapp => crate::whatsapp::parse(body),
        Channel::Messenger => crate::meta::parse(body, crate::meta::Object::Page),
        Channel::InstagramDm => crate::meta::parse(body, crate::meta::Object::Instagram),
        Channel::Viber => crate::viber::parse(body),
        Channel::Webchat => Err(MalformedBody(
            "web chat posts Switchboard's own JSON to /v1/webchat/{connector}/messages".into(),
        )),
    }
}

/// The core command an item asks for, if it asks for one.
pub fn command(connector: &ConnectorId, channel: Channel, item: Item) -> Option<Command> {
    match item {
        Item::Message {
            contact,
            contact_name,
            message_id,
            text,
            kind,
            attachments,
        } => Some(Command::ReceiveCustomerMessage {
            handle: None,
            connector: connector.clone(),
            channel,
            contact: ExternalContactId::new(contact),
            contact_name,
            message_id: MessageId::new(message_id),
            text,
            kind,
            attachments,
        }),
        Item::Receipt { receipt, status } => Some(Command::RecordReceipt {
            connector: connector.clone(),
            receipt,
            status,
        }),
        Item::Left { contact } => Some(Command::CustomerLeft {
            connector: connector.clone(),
            contact: ExternalContactId::new(contact),
        }),
        Item::Noted { .. } => None,
    }
}
