//! What a message holds beyond its text, and what became of a message sent to a customer.
//!
//! Providers deliver more than text: pictures, voice notes, stickers, locations, reactions. The
//! core keeps each message's kind and attachment references as data, so that nothing a customer
//! sent is dropped, even a kind no console renders. It never fetches or inspects an attachment:
//! a reference is the provider's handle (a media id or URL), opaque here.

use crate::ids::ExternalContactId;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What kind of message a customer sent. `Unsupported` keeps a kind Switchboard does not know,
/// under the provider's own name for it. Stored as one string: a known kind's name, or the
/// provider's name for an unknown one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum MessageKind {
    Text,
    Image,
    Video,
    Audio,
    File,
    Sticker,
    Location,
    Contact,
    Reaction,
    Unsupported(String),
}

impl MessageKind {
    /// Whether a message of this kind must have text: only a text message is nothing without it.
    pub fn needs_text(&self) -> bool {
        matches!(self, MessageKind::Text)
    }

    /// The stored name: a known kind's own, or the provider's for an unsupported one.
    pub fn as_str(&self) -> &str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Image => "image",
            MessageKind::Video => "video",
            MessageKind::Audio => "audio",
            MessageKind::File => "file",
            MessageKind::Sticker => "sticker",
            MessageKind::Location => "location",
            MessageKind::Contact => "contact",
            MessageKind::Reaction => "reaction",
            MessageKind::Unsupported(name) => name,
        }
    }
}

impl From<String> for MessageKind {
    fn from(name: String) -> Self {
        match name.as_str() {
            "text" => MessageKind::Text,
            "image" => MessageKind::Image,
            "video" => MessageKind::Video,
            "audio" => MessageKind::Audio,
            "file" => MessageKind::File,
            "sticker" => MessageKind::Sticker,
            "location" => MessageKind::Location,
            "contact" => MessageKind::Contact,
            "reaction" => MessageKind::Reaction,
            _ => MessageKind::Unsupported(name),
        }
    }
}

impl From<MessageKind> for String {
    fn from(kind: MessageKind) -> Self {
        kind.as_str().to_owned()
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A file the customer sent, by the provider's reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// `image`, `video`, `audio`, `file`, `sticker`, … as the provider names it.
    pub kind: String,
    /// The provider's media id or URL.
    pub reference: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
}

/// How far a message sent to a customer got, in the order it gets there. A later state never
/// gives way to an earlier one: a delivery receipt arriving after the read receipt changes
/// nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Handed to the provider, which accepted it.
    Sent,
    Delivered,
    Read,
    /// The provider could not deliver it.
    Failed,
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Failed => "failed",
        })
    }
}

/// How long a receipt that came before its message's confirmation is kept for it: a provider's
/// webhook outruns the worker by seconds; a receipt still unclaimed after this named a message
/// sent by something else.
pub const HELD_RECEIPT_MS: u64 = 10 * 60 * 1000;

/// Which sent messages a provider's receipt speaks of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptFor {
    /// One message, by the id the provider gave it when it was sent.
    Message(String),
    /// Every message sent to the contact up to a moment (Messenger's and Instagram's
    /// watermarks).
    UpTo {
        contact: ExternalContactId,
        at: Timestamp,
    },
}

/// What the delivery worker (or an external connector) reports about one outbox message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DispatchOutcome {
    /// The provider took it and gave it this id.
    Sent { provider_message_id: String },
    /// It could not be sent; the reason is the provider's or the worker's.
    Failed { reason: String },
}
