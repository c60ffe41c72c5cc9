//! Viber REST bot API callbacks, read into [`Item`]s: one event per call, so one item, at
//! index 0.
//!
//! `message` is a customer's message; `delivered`, `seen` and `failed` are receipts for ours, by
//! `message_token`; `unsubscribed` means the customer left. `subscribed`,
//! `conversation_started`, `webhook` and events Viber adds later are noted.
//!
//! It must never drop what a customer sent: a message type it does not know is kept as
//! [`MessageKind::Unsupported`] under Viber's name, and a message it cannot read is refused with
//! why. It never fetches media: a URL or sticker id is an opaque reference.

use crate::fields::{id, optional, required};
use crate::inbound::{Delivery, Item, MalformedBody, Refused, json_object};
use routing_core::{Attachment, DeliveryStatus, MessageKind, ReceiptFor};
use serde_json::Value;

/// Reads one callback. Only a body that is not a Viber callback at all is an error.
pub fn parse(body: &[u8]) -> Result<Delivery, MalformedBody> {
    let root = json_object(body)?;
    let event = optional(&root, "/event")
        .ok_or_else(|| MalformedBody("`event` is missing or not a non-empty string".into()))?;
    let item = match event {
        "message" => read_message(&root),
        "delivered" => receipt(&root, DeliveryStatus::Delivered),
        "seen" => receipt(&root, DeliveryStatus::Read),
        "failed" => receipt(&root, DeliveryStatus::Failed),
        "unsubscribed" => required(&root, "/user_id").map(|contact| Item::Left {
            contact: contact.to_owned(),
        }),
        // A subscription or an opened conversation is not a message: the conversation starts
        // with the customer's first message.
        "subscribed" | "conversation_started" => Ok(Item::Noted {
            what: format!(
                "{event} by {}",
                optional(&root, "/user/id").unwrap_or("an unnamed user")
            ),
        }),
        "webhook" => Ok(Item::Noted {
            what: "webhook set".into(),
        }),
        other => Ok(Item::Noted {
            what: format!("event {other}"),
        }),
    };
    // A Viber bot has one token, and so one connector: the signature names the account.
    Ok(Delivery {
        items: vec![item.map_err(|reason| Refused { index: 0, reason })],
        accounts: vec![None],
    })
}

fn read_message(root: &Value) -> Result<Item, String> {
    let sender = required(root, "/sender/id")?;
    let message_id = token(root)?;
    let kind_name = required(root, "/message/type")?;
    let text = |pointer: &str| optional(root, pointer).unwrap_or_default().to_owned();
    let attachment = |reference: String| {
        vec![Attachment {
            kind: kind_name.to_owned(),
            reference,
            mime_type: None,
        }]
    };
    let media = || required(root, "/message/media").map(str::to_owned);

    let (kind, text, attachments) = match kind_name {
        "text" => (
            MessageKind::Text,
            required(root, "/message/text")?.to_owned(),
            Vec::new(),
        ),
        "picture" => (
            MessageKind::Image,
            text("/message/text"),
            attachment(media()?),
        ),
        "video" => (
            MessageKind::Video,
            text("/message/text"),
            attachment(media()?),
        ),
        // The file's name is all an agent sees of it before opening it.
        "file" => (
            MessageKind::File,
            text("/message/file_name"),
            attachment(media()?),
        ),
        "sticker" => {
            let sticker = id(root.pointer("/message/sticker_id"))
                .ok_or("`message.sticker_id` is missing or not an id")?;
            (MessageKind::Sticker, String::new(), attachment(sticker))
        }
        "location" => (MessageKind::Location, location(root)?, Vec::new()),
        "contact" => (MessageKind::Contact, shared_contact(root), Vec::new()),
        "url" => (MessageKind::Text, media()?, Vec::new()),
        other => (
            MessageKind::from(other.to_owned()),
            String::new(),
            Vec::new(),
        ),
    };
    Ok(Item::Message {
        contact: sender.to_owned(),
        contact_name: optional(root, "/sender/name").map(Into::into),
        message_id,
        text,
        kind,
        attachments,
    })
}

fn receipt(root: &Value, status: DeliveryStatus) -> Result<Item, String> {
    Ok(Item::Receipt {
        receipt: ReceiptFor::Message(token(root)?),
        status,
    })
}

/// The message token as a decimal string: the id Viber gave the message when it was sent.
fn token(root: &Value) -> Result<String, String> {
    id(root.get("message_token"))
        .ok_or_else(|| "`message_token` is missing or not an integer".into())
}

fn location(root: &Value) -> Result<String, String> {
    let coordinate = |pointer: &str| {
        root.pointer(pointer)
            .filter(|value| value.is_number())
            .map(Value::to_string)
            .ok_or_else(|| {
                format!(
                    "`{}` is missing or not a number",
                    pointer.trim_start_matches('/').replace('/', ".")
                )
            })
    };
    Ok(format!(
        "{}, {}",
        coordinate("/message/location/lat")?,
        coordinate("/message/location/lon")?
    ))
}

/// The shared contact's name and number: the number is what an agent needs.
fn shared_contact(root: &Value) -> String {
    let name = optional(root, "/message/contact/name");
    let phone = optional(root, "/message/contact/phone_number");
    match (name, phone) {
        (Some(name), Some(phone)) => format!("{name} ({phone})"),
        (Some(only), None) | (None, Some(only)) => only.to_owned(),
        (None, None) => String::new(),
    }
}
