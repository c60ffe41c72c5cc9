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

/// WhatsApp's and Messenger's customer-service window: free text only this long after the
/// customer last wrote; after it, only an approved template.
pub const REPLY_WINDOW_MS: u64 = 24 * 3_600_000;

/// What an agent may send in a conversation now: the one statement of the channel rules, which
/// the core enforces on every reply and consoles show before the agent types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyRules {
    /// The most characters a message may have, where the channel limits it.
    pub max_chars: Option<usize>,
    /// Free text is refused: only an approved template may be sent.
    pub template_required: bool,
    /// When the reply window closes, where the channel has one and it is open.
    pub window_closes_at: Option<Timestamp>,
}

impl ReplyRules {
    pub fn of(
        channel: crate::Channel,
        customer_wrote_at: Option<Timestamp>,
        now: Timestamp,
    ) -> ReplyRules {
        let closes_at = customer_wrote_at.map(|wrote| {
            Timestamp::from_millis(
                wrote
                    .as_millis()
                    .saturating_add(i64::try_from(REPLY_WINDOW_MS).unwrap_or(i64::MAX)),
            )
        });
        let open = closes_at.is_some_and(|closes| now <= closes);
        ReplyRules {
            max_chars: channel.max_text_chars(),
            template_required: channel.has_reply_window() && !open,
            window_closes_at: closes_at.filter(|_| channel.has_reply_window() && open),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Channel;

    #[test]
    fn reply_rules_follow_the_channel_and_the_customers_last_message() {
        let wrote = Timestamp::from_millis(1_000);
        let later = |ms: u64| Timestamp::from_millis(1_000 + i64::try_from(ms).unwrap_or(0));
        let instagram = ReplyRules::of(Channel::InstagramDm, Some(wrote), later(5));
        assert_eq!(instagram.max_chars, Some(1000));
        assert!(!instagram.template_required);
        assert_eq!(instagram.window_closes_at, None);
        let open = ReplyRules::of(Channel::Whatsapp, Some(wrote), later(REPLY_WINDOW_MS));
        assert!(!open.template_required);
        assert_eq!(open.window_closes_at, Some(later(REPLY_WINDOW_MS)));
        let closed = ReplyRules::of(Channel::Whatsapp, Some(wrote), later(REPLY_WINDOW_MS + 1));
        assert!(closed.template_required);
        assert_eq!(closed.window_closes_at, None);
        assert!(ReplyRules::of(Channel::Messenger, None, later(0)).template_required);
        assert!(!ReplyRules::of(Channel::Webchat, None, later(0)).template_required);
    }
}
