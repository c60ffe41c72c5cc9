//! WhatsApp Cloud API webhooks (`"object": "whatsapp_business_account"`), read into [`Item`]s.
//!
//! A delivery nests `entry[].changes[].value`, and a `messages` change carries the customer's
//! `messages[]` (with the senders' profiles in `contacts[]`) and the receipts of what we sent in
//! `statuses[]`. Items come out in document order: each change's messages, then its statuses.
//!
//! It must never drop what a customer sent: a message type it does not know is kept as
//! [`MessageKind::Unsupported`] under WhatsApp's own name, and a message it cannot read is
//! refused on its own, with where it was and why, while the rest of the delivery stands. It never
//! fetches media: a media id is an opaque reference.

use crate::fields::{dotted, keys, list, optional, required};
use crate::inbound::{Delivery, Item, Items, MalformedBody, entries, json_object};
use routing_core::{Attachment, DeliveryStatus, MessageKind, ReceiptFor};
use serde_json::Value;

const OBJECT: &str = "whatsapp_business_account";

/// What a message holds: its kind, its text, its attachments.
type Content = (MessageKind, String, Vec<Attachment>);

/// Reads one webhook call. Only a body that is not a WhatsApp delivery at all is an error.
pub fn parse(body: &[u8]) -> Result<Delivery, MalformedBody> {
    let root = json_object(body)?;
    match root.get("object").and_then(Value::as_str) {
        Some(OBJECT) => {}
        Some(other) => {
            return Err(MalformedBody(format!(
                "`object` is {other:?}, expected {OBJECT:?}"
            )));
        }
        None => {
            return Err(MalformedBody(format!(
                "`object` is missing or not a string, expected {OBJECT:?}"
            )));
        }
    }
    let entries = entries(&root)?;

    let mut items = Items::default();
    for (e, entry) in entries.iter().enumerate() {
        let Some(changes) = entry.get("changes").and_then(Value::as_array) else {
            items.refuse(format!("entry[{e}]: `changes` is missing or not an array"));
            continue;
        };
        for (c, change) in changes.iter().enumerate() {
            items.account = None;
            read_change(change, &format!("entry[{e}].changes[{c}]"), &mut items);
        }
    }
    Ok(items.into_delivery())
}

fn read_change(change: &Value, at: &str, items: &mut Items) {
    match change.get("field").and_then(Value::as_str) {
        Some("messages") => {}
        Some(field) => return items.note(format!("{at}: change of field {field:?}")),
        None => return items.refuse(format!("{at}: `field` is missing or not a string")),
    }
    let Some(value) = change.get("value").filter(|value| value.is_object()) else {
        return items.refuse(format!("{at}: `value` is missing or not an object"));
    };
    // The business number the change is for: one Meta app may serve several.
    items.account = optional(value, "/metadata/phone_number_id").map(str::to_owned);
    let contacts = list(value, "contacts");
    let messages = list(value, "messages");
    let statuses = list(value, "statuses");
    if messages.is_empty() && statuses.is_empty() {
        // WhatsApp also reports errors with the webhook itself this way (`value.errors`):
        // acknowledged and named rather than ignored.
        return items.note(format!(
            "{at}: messages change with neither messages nor statuses (keys: {})",
            keys(value)
        ));
    }
    for (m, message) in messages.iter().enumerate() {
        items.push(
            read_message(message, contacts).map_err(|why| format!("{at}.messages[{m}]: {why}")),
        );
    }
    for (s, status) in statuses.iter().enumerate() {
        items.push(read_status(status).map_err(|why| format!("{at}.statuses[{s}]: {why}")));
    }
}

fn read_message(message: &Value, contacts: &[Value]) -> Result<Item, String> {
    let from = required(message, "/from")?;
    let id = required(message, "/id")?;
    let kind_name = required(message, "/type")?;

    let (kind, text, attachments) = match kind_name {
        "text" => (
            MessageKind::Text,
            required(message, "/text/body")?.to_owned(),
            Vec::new(),
        ),
        "image" => media(message, kind_name, MessageKind::Image)?,
        "video" => media(message, kind_name, MessageKind::Video)?,
        "audio" => media(message, kind_name, MessageKind::Audio)?,
        "document" => media(message, kind_name, MessageKind::File)?,
        "sticker" => media(message, kind_name, MessageKind::Sticker)?,
        "location" => (MessageKind::Location, location(message)?, Vec::new()),
        "contacts" => (MessageKind::Contact, shared_contacts(message), Vec::new()),
        "reaction" => (
            MessageKind::Reaction,
            // A removed reaction comes with no emoji; it is still the customer's act.
            optional(message, "/reaction/emoji")
                .unwrap_or_default()
                .to_owned(),
            Vec::new(),
        ),
        // A tapped button keeps its kind (the console shows the title as its text).
        "button" | "interactive" => (
            MessageKind::from(kind_name.to_owned()),
            visible_choice(message).unwrap_or_default().to_owned(),
            Vec::new(),
        ),
        // `unsupported`, `order`, `system` and whatever WhatsApp adds next: kept, by name.
        other => (
            MessageKind::from(other.to_owned()),
            String::new(),
            Vec::new(),
        ),
    };

    Ok(Item::Message {
        contact: from.to_owned(),
        contact_name: contact_name(contacts, from).map(Into::into),
        message_id: id.to_owned(),
        text,
        kind,
        attachments,
    })
}

/// A media message: the media object under the type's name holds its id and caption.
fn media(message: &Value, name: &str, kind: MessageKind) -> Result<Content, String> {
    let field = |key: &str| format!("/{name}/{key}");
    let attachment = Attachment {
        kind: name.to_owned(),
        reference: required(message, &field("id"))?.to_owned(),
        mime_type: optional(message, &field("mime_type")).map(Into::into),
    };
    // A document sent without a caption would otherwise show the agent nothing about it.
    let text = optional(message, &field("caption"))
        .or_else(|| optional(message, &field("filename")))
        .unwrap_or_default();
    Ok((kind, text.to_owned(), vec![attachment]))
}

fn read_status(status: &Value) -> Result<Item, String> {
    let id = required(status, "/id")?;
    let status_name = required(status, "/status")?;
    let status = match status_name {
        "delivered" => DeliveryStatus::Delivered,
        "read" => DeliveryStatus::Read,
        "failed" => DeliveryStatus::Failed,
        // `sent` is recorded by the core when the outbox is confirmed; a status WhatsApp adds
        // later must not be mistaken for one it knows.
        other => {
            return Ok(Item::Noted {
                what: format!("status {other} for {id}"),
            });
        }
    };
    Ok(Item::Receipt {
        receipt: ReceiptFor::Message(id.to_owned()),
        status,
    })
}

/// "name, address (lat, long)", with whatever of the name and address was sent.
fn location(message: &Value) -> Result<String, String> {
    let coordinate = |pointer: &str| {
        message
            .pointer(pointer)
            .filter(|value| value.is_number())
            .map(Value::to_string)
            .ok_or_else(|| format!("`{}` is missing or not a number", dotted(pointer)))
    };
    let coordinates = format!(
        "{}, {}",
        coordinate("/location/latitude")?,
        coordinate("/location/longitude")?
    );
    let place: Vec<&str> = ["/location/name", "/location/address"]
        .into_iter()
        .filter_map(|pointer| optional(message, pointer))
        .collect();
    Ok(if place.is_empty() {
        coordinates
    } else {
        format!("{} ({coordinates})", place.join(", "))
    })
}

/// The shared contacts' names, each with its phone numbers: the numbers are what an agent needs.
fn shared_contacts(message: &Value) -> String {
    list(message, "contacts")
        .iter()
        .map(|contact| {
            let name = optional(contact, "/name/formatted_name").unwrap_or_default();
            let phones: Vec<&str> = list(contact, "phones")
                .iter()
                .filter_map(|phone| optional(phone, "/phone"))
                .collect();
            match (name.is_empty(), phones.is_empty()) {
                (_, true) => name.to_owned(),
                (true, false) => phones.join(", "),
                (false, false) => format!("{name} ({})", phones.join(", ")),
            }
        })
        .filter(|rendered| !rendered.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// What the customer saw on the button or list row they tapped.
fn visible_choice(message: &Value) -> Option<&str> {
    optional(message, "/button/text")
        .or_else(|| optional(message, "/interactive/button_reply/title"))
        .or_else(|| optional(message, "/interactive/list_reply/title"))
}

fn contact_name<'a>(contacts: &'a [Value], from: &str) -> Option<&'a str> {
    let profile_name = |contact: &'a Value| optional(contact, "/profile/name");
    match contacts {
        // WhatsApp may normalise `wa_id` differently from `from` (some countries' mobile
        // prefixes), so a lone contact is the sender's whatever its `wa_id`.
        [only] => profile_name(only),
        _ => contacts
            .iter()
            .find(|contact| contact.get("wa_id").and_then(Value::as_str) == Some(from))
            .and_then(profile_name),
    }
}
