//! Messenger (`"object": "page"`) and Instagram DM (`"object": "instagram"`) webhooks, read
//! into [`Item`]s. Both post the same shape: `entry[].messaging[]`, each event one of a
//! `message`, a `delivery` or `read` receipt, a `reaction` or a `postback`.
//!
//! It must never take the page's own messages (echoes) for a customer's, nor drop what a
//! customer sent: an attachment type it does not know is kept as [`MessageKind::Unsupported`],
//! and an event it cannot read is refused on its own, with where it was and why. Events it has
//! no use for are noted, by their keys, never silently skipped. It never fetches attachments.

use crate::fields::{id, keys, list, optional, required};
use crate::inbound::{Delivery, Item, Items, MalformedBody, entries, json_object};
use routing_core::ids::ExternalContactId;
use routing_core::{Attachment, DeliveryStatus, MessageKind, ReceiptFor, Timestamp};
use serde_json::Value;

/// Which of Meta's webhook objects a connector receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    /// Messenger: `"object": "page"`.
    Page,
    /// Instagram DM: `"object": "instagram"`.
    Instagram,
}

impl Object {
    fn name(self) -> &'static str {
        match self {
            Object::Page => "page",
            Object::Instagram => "instagram",
        }
    }
}

/// Reads one webhook call for a connector of `object`'s kind. Only a body that is not such a
/// delivery at all is an error.
pub fn parse(body: &[u8], object: Object) -> Result<Delivery, MalformedBody> {
    let root = json_object(body)?;
    let expected = object.name();
    match root.get("object").and_then(Value::as_str) {
        Some(name) if name == expected => {}
        // Meta posts each object to the webhook subscribed to it: another object here means the
        // connector is wired to the wrong product, which no item of it can fix.
        Some(other) => {
            return Err(MalformedBody(format!(
                "`object` is {other:?}, but this connector reads {expected:?}"
            )));
        }
        None => {
            return Err(MalformedBody(format!(
                "`object` is missing or not a string, expected {expected:?}"
            )));
        }
    }
    let entries = entries(&root)?;

    let mut items = Items::default();
    for (e, entry) in entries.iter().enumerate() {
        // The page (or Instagram account) the entry is for: one Meta app may serve several.
        items.account = id(entry.get("id"));
        if !entry.is_object() {
            items.push(Err(format!("entry[{e}] is not an object")));
        } else if let Some(events) = entry.get("messaging").and_then(Value::as_array) {
            for (m, event) in events.iter().enumerate() {
                read_event(event, &format!("entry[{e}].messaging[{m}]"), &mut items);
            }
        } else if let Some(changes) = entry.get("changes").and_then(Value::as_array) {
            // Instagram reports comments, mentions and the like as `changes`: not messages.
            let fields: Vec<&str> = changes
                .iter()
                .map(|change| optional(change, "/field").unwrap_or("?"))
                .collect();
            items.note(format!(
                "entry[{e}]: changes of fields {}",
                fields.join(", ")
            ));
        } else {
            // `standby` (another app has the thread) among others: acknowledged, not read.
            items.note(format!("entry[{e}]: entry with keys {}", keys(entry)));
        }
    }
    Ok(items.into_delivery())
}

fn read_event(event: &Value, at: &str, items: &mut Items) {
    let refused_at = |why: String| format!("{at}: {why}");
    if !event.is_object() {
        items.push(Err(format!("{at} is not an object")));
    } else if let Some(message) = event.get("message") {
        items.push(read_message(event, message).map_err(refused_at));
    } else if let Some(delivery) = event.get("delivery") {
        let mids = list(delivery, "mids");
        if mids.is_empty() {
            items.push(up_to(event, "delivery", DeliveryStatus::Delivered).map_err(refused_at));
        }
        for (n, mid) in mids.iter().enumerate() {
            let receipt = mid
                .as_str()
                .filter(|mid| !mid.is_empty())
                .map(|mid| Item::Receipt {
                    receipt: ReceiptFor::Message(mid.to_owned()),
                    status: DeliveryStatus::Delivered,
                })
                .ok_or_else(|| format!("`delivery.mids[{n}]` is not a non-empty string"));
            items.push(receipt.map_err(refused_at));
        }
    } else if let Some(read) = event.get("read") {
        // Instagram names the message read; Messenger gives a watermark.
        let receipt = match optional(read, "/mid") {
            Some(mid) => Ok(Item::Receipt {
                receipt: ReceiptFor::Message(mid.to_owned()),
                status: DeliveryStatus::Read,
            }),
            None => up_to(event, "read", DeliveryStatus::Read),
        };
        items.push(receipt.map_err(refused_at));
    } else if let Some(reaction) = event
        .get("reaction")
        .or_else(|| event.get("message_reactions"))
    {
        items.push(read_reaction(event, reaction).map_err(refused_at));
    } else if let Some(postback) = event.get("postback") {
        items.push(read_postback(event, postback).map_err(refused_at));
    } else {
        // Opt-ins, referrals, handovers, edits: nothing the core records.
        items.note(format!("{at}: event with keys {}", keys(event)));
    }
}

fn read_message(event: &Value, message: &Value) -> Result<Item, String> {
    if message.get("is_echo").and_then(Value::as_bool) == Some(true) {
        let mid = optional(message, "/mid").unwrap_or("?");
        return Ok(Item::Noted {
            what: format!("echo of the page's own message {mid}"),
        });
    }
    let sender = required(event, "/sender/id")?;
    let mid = required(event, "/message/mid")?;
    if message.get("is_deleted").and_then(Value::as_bool) == Some(true) {
        // Instagram's unsend: the message stays in the conversation as it was received.
        return Ok(Item::Noted {
            what: format!("message {mid} deleted by {sender}"),
        });
    }
    let text = optional(message, "/text").unwrap_or_default();
    let mut first_kind = None;
    let mut attachments = Vec::new();
    for (n, attachment) in list(message, "attachments").iter().enumerate() {
        let name = required(attachment, "/type")
            .map_err(|why| format!("message.attachments[{n}]: {why}"))?;
        first_kind.get_or_insert_with(|| attachment_kind(name, attachment));
        // An attachment with nothing to fetch it by still counts in the message's kind.
        if let Some(reference) = reference(attachment) {
            attachments.push(Attachment {
                kind: name.to_owned(),
                reference,
                mime_type: None,
            });
        }
    }
    let kind = match first_kind {
        Some(kind) => kind,
        // Instagram's marker for what it cannot show through the API.
        None if message.get("is_unsupported").and_then(Value::as_bool) == Some(true) => {
            MessageKind::from("unsupported".to_owned())
        }
        None if text.is_empty() => {
            return Err("message has neither text nor attachments".into());
        }
        None => MessageKind::Text,
    };
    Ok(Item::Message {
        contact: sender.to_owned(),
        contact_name: None,
        message_id: mid.to_owned(),
        text: text.to_owned(),
        kind,
        attachments,
    })
}

fn attachment_kind(name: &str, attachment: &Value) -> MessageKind {
    match name {
        // Messenger sends stickers (the thumbs-up among them) as images with a sticker id.
        "image" if id(attachment.pointer("/payload/sticker_id")).is_some() => MessageKind::Sticker,
        other => MessageKind::from(other.to_owned()),
    }
}

fn reference(attachment: &Value) -> Option<String> {
    optional(attachment, "/payload/url")
        .map(str::to_owned)
        .or_else(|| id(attachment.pointer("/payload/sticker_id")))
        // Older fallback attachments (shared links) carry their URL beside the payload.
        .or_else(|| optional(attachment, "/url").map(str::to_owned))
        .or_else(|| optional(attachment, "/title").map(str::to_owned))
        .or_else(|| optional(attachment, "/payload/title").map(str::to_owned))
}

/// A receipt for everything sent to the event's sender up to its watermark.
fn up_to(event: &Value, receipt: &str, status: DeliveryStatus) -> Result<Item, String> {
    let contact = required(event, "/sender/id")?;
    let watermark = event
        .get(receipt)
        .and_then(|receipt| receipt.get("watermark"))
        .and_then(Value::as_i64)
        .ok_or_else(|| format!("`{receipt}.watermark` is missing or not an integer"))?;
    Ok(Item::Receipt {
        receipt: ReceiptFor::UpTo {
            contact: ExternalContactId::new(contact),
            at: Timestamp::from_millis(watermark),
        },
        status,
    })
}

/// An id for an item the provider gives none: the same on every retry of the delivery, and
/// holding nothing of the customer in clear (the sender's id is hashed in with the rest), since
/// message ids are stored and compared as they are.
pub fn synthetic_id(kind: &str, parts: &[&str]) -> String {
    use sha2::Digest as _;
    let mut digest = sha2::Sha256::new();
    for part in parts {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part.as_bytes());
    }
    format!("{kind}:{}", hex::encode(digest.finalize()))
}

fn read_reaction(event: &Value, reaction: &Value) -> Result<Item, String> {
    let sender = required(event, "/sender/id")?;
    let mid = required(reaction, "/mid").map_err(|why| format!("reaction: {why}"))?;
    let action = optional(reaction, "/action").unwrap_or("react");
    // An unreact comes without an emoji.
    let emoji = optional(reaction, "/emoji").unwrap_or_default();
    // A reaction has no id of its own; this one is the same on every retry of the delivery,
    // and the event's time tells a reaction apart from the same one given again later.
    let at = id(event.get("timestamp")).unwrap_or_default();
    Ok(Item::Message {
        contact: sender.to_owned(),
        contact_name: None,
        message_id: synthetic_id("reaction", &[mid, sender, action, emoji, &at.to_string()]),
        text: emoji.to_owned(),
        kind: MessageKind::Reaction,
        attachments: Vec::new(),
    })
}

fn read_postback(event: &Value, postback: &Value) -> Result<Item, String> {
    let sender = required(event, "/sender/id")?;
    // The title is what the customer tapped; a button without one still has its payload.
    let text = optional(postback, "/title")
        .or_else(|| optional(postback, "/payload"))
        .ok_or("`postback` has neither `title` nor `payload`")?;
    let message_id = match optional(postback, "/mid") {
        Some(mid) => mid.to_owned(),
        None => {
            let timestamp = id(event.get("timestamp"))
                .ok_or("`postback` has no `mid` and the event no `timestamp`")?;
            synthetic_id("postback", &[sender, &timestamp.to_string()])
        }
    };
    Ok(Item::Message {
        contact: sender.to_owned(),
        contact_name: None,
        message_id,
        text: text.to_owned(),
        kind: MessageKind::from("postback".to_owned()),
        attachments: Vec::new(),
    })
}
