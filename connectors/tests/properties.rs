//! Whatever a caller posts, the parsers answer without panicking, and what they answer holds
//! together: every message has a contact and an id, a text message has text, an attachment a
//! reference, and a refusal's index is its position in the delivery.
//!
//! Three kinds of input: arbitrary bytes; arbitrary JSON; and JSON shaped like each provider's
//! deliveries, every field present or not, its value either plausible or arbitrary, so that the
//! search reaches deep into the parsers rather than stopping at the envelope.

use connectors::meta::{self, Object};
use connectors::{Delivery, Item, MalformedBody, viber, whatsapp};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Map, Value};

/// Field names and values the providers use, so that arbitrary JSON often hits a real key.
const WORDS: &[&str] = &[
    "object",
    "entry",
    "changes",
    "field",
    "value",
    "messages",
    "statuses",
    "contacts",
    "from",
    "id",
    "type",
    "text",
    "body",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "reaction",
    "button",
    "interactive",
    "status",
    "messaging",
    "sender",
    "recipient",
    "message",
    "mid",
    "attachments",
    "payload",
    "url",
    "delivery",
    "mids",
    "watermark",
    "read",
    "postback",
    "title",
    "is_echo",
    "event",
    "message_token",
    "media",
    "user_id",
    "user",
    "name",
    "whatsapp_business_account",
    "page",
    "instagram",
    "delivered",
    "sent",
    "failed",
    "seen",
];

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(WORDS).prop_map(str::to_owned)
}

fn leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        word().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ]
    .boxed()
}

fn json() -> BoxedStrategy<Value> {
    let key = prop_oneof![word(), "[a-z_]{0,8}"];
    leaf()
        .prop_recursive(4, 64, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner), 0..6)
                    .prop_map(|fields| Value::Object(fields.into_iter().collect())),
            ]
        })
        .boxed()
}

/// Usually the plausible value, sometimes anything at all.
fn or_anything(plausible: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop_oneof![12 => plausible, 1 => json()].boxed()
}

/// A field of a shaped object: its name, how often it is there, and its value.
type Field = (&'static str, f64, BoxedStrategy<Value>);

/// A field the provider always sends: now and then missing, to reach the refusals.
fn always(name: &'static str, value: BoxedStrategy<Value>) -> Field {
    (name, 0.95, value)
}

/// A field the provider sends only for some events or types.
fn sometimes(name: &'static str, value: BoxedStrategy<Value>) -> Field {
    (name, 0.5, value)
}

fn object(fields: Vec<Field>) -> BoxedStrategy<Value> {
    let (names, values): (Vec<_>, Vec<_>) = fields
        .into_iter()
        .map(|(name, presence, value)| (name, prop::option::weighted(presence, or_anything(value))))
        .unzip();
    values
        .prop_map(move |values| {
            let fields: Map<String, Value> = names
                .iter()
                .zip(values)
                .filter_map(|(name, value)| Some(((*name).to_owned(), value?)))
                .collect();
            Value::Object(fields)
        })
        .boxed()
}

fn list(item: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop::collection::vec(item, 0..4)
        .prop_map(Value::Array)
        .boxed()
}

fn one_of(names: &'static [&'static str]) -> BoxedStrategy<Value> {
    prop_oneof![
        8 => prop::sample::select(names).prop_map(Value::from),
        1 => "[a-z_]{0,8}".prop_map(Value::from),
    ]
    .boxed()
}

/// An id as providers send them (strings, or numbers where a string is due), or an empty one.
fn id() -> BoxedStrategy<Value> {
    prop_oneof![
        1 => Just(Value::from("")),
        8 => "[A-Za-z0-9_.=:-]{1,12}".prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
    ]
    .boxed()
}

fn text() -> BoxedStrategy<Value> {
    prop_oneof![1 => Just(Value::from("")), 6 => ".{1,12}".prop_map(Value::from)].boxed()
}

fn number() -> BoxedStrategy<Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        (-180.0..180.0f64).prop_map(Value::from),
    ]
    .boxed()
}

/// A marker that, when set, makes a message something else (an echo, an unsend).
fn flag() -> BoxedStrategy<Value> {
    any::<bool>().prop_map(Value::from).boxed()
}

fn whatsapp_body() -> BoxedStrategy<Value> {
    let media = || {
        object(vec![
            always("id", id()),
            always("mime_type", text()),
            sometimes("caption", text()),
            sometimes("filename", text()),
        ])
    };
    // Every type's payload is there or not whatever the type, so that each type meets both.
    let message = object(vec![
        always("from", id()),
        always("id", id()),
        always(
            "type",
            one_of(&[
                "text",
                "image",
                "video",
                "audio",
                "document",
                "sticker",
                "location",
                "contacts",
                "reaction",
                "button",
                "interactive",
                "unsupported",
                "order",
                "system",
                "file",
                "contact",
            ]),
        ),
        always("text", object(vec![always("body", text())])),
        always("image", media()),
        always("video", media()),
        always("audio", media()),
        always("document", media()),
        always("sticker", media()),
        always(
            "location",
            object(vec![
                always("latitude", number()),
                always("longitude", number()),
                sometimes("name", text()),
                sometimes("address", text()),
            ]),
        ),
        always(
            "contacts",
            list(object(vec![
                always("name", object(vec![always("formatted_name", text())])),
                sometimes("phones", list(object(vec![always("phone", text())]))),
            ])),
        ),
        always(
            "reaction",
            object(vec![sometimes("emoji", text()), always("message_id", id())]),
        ),
        always(
            "button",
            object(vec![always("text", text()), always("payload", text())]),
        ),
        always(
            "interactive",
            object(vec![
                sometimes("button_reply", object(vec![always("title", text())])),
                sometimes("list_reply", object(vec![always("title", text())])),
            ]),
        ),
    ]);
    let status = object(vec![
        always("id", id()),
        always(
            "status",
            one_of(&["sent", "delivered", "read", "failed", "deleted"]),
        ),
        always("recipient_id", id()),
    ]);
    let contact = object(vec![
        always("profile", object(vec![always("name", text())])),
        always("wa_id", id()),
    ]);
    let value = object(vec![
        sometimes("contacts", list(contact)),
        sometimes("messages", list(message)),
        sometimes("statuses", list(status)),
    ]);
    let change = object(vec![
        always("field", one_of(&["messages", "messages", "account_update"])),
        always("value", value),
    ]);
    let entry = object(vec![always("id", id()), always("changes", list(change))]);
    object(vec![
        always("object", one_of(&["whatsapp_business_account"])),
        always("entry", list(entry)),
    ])
}

/// A Messenger or Instagram delivery: events of every kind, one or more in each event.
fn meta_body(object_name: &'static [&'static str]) -> BoxedStrategy<Value> {
    let party = || object(vec![always("id", id())]);
    let attachment = object(vec![
        always(
            "type",
            one_of(&[
                "image", "video", "audio", "file", "location", "template", "fallback", "sticker",
            ]),
        ),
        always(
            "payload",
            object(vec![
                sometimes("url", text()),
                sometimes("sticker_id", id()),
                sometimes("title", text()),
            ]),
        ),
        sometimes("title", text()),
        sometimes("url", text()),
    ]);
    let message = object(vec![
        always("mid", id()),
        sometimes("text", text()),
        sometimes("attachments", list(attachment)),
        ("is_echo", 0.15, flag()),
        ("is_deleted", 0.15, flag()),
        ("is_unsupported", 0.15, flag()),
    ]);
    let event = object(vec![
        always("sender", party()),
        always("recipient", party()),
        always("timestamp", number()),
        sometimes("message", message),
        (
            "delivery",
            0.2,
            object(vec![
                sometimes("mids", list(id())),
                always("watermark", number()),
            ]),
        ),
        (
            "read",
            0.2,
            object(vec![always("watermark", number()), sometimes("mid", id())]),
        ),
        (
            "reaction",
            0.2,
            object(vec![
                always("mid", id()),
                always("action", one_of(&["react", "unreact"])),
                sometimes("emoji", text()),
                sometimes("reaction", text()),
            ]),
        ),
        (
            "postback",
            0.2,
            object(vec![
                always("title", text()),
                always("payload", text()),
                sometimes("mid", id()),
            ]),
        ),
    ]);
    let change = object(vec![always("field", text()), always("value", json())]);
    let entry = object(vec![
        always("id", id()),
        always("time", number()),
        always("messaging", list(event)),
        ("changes", 0.2, list(change)),
    ]);
    object(vec![
        always("object", one_of(object_name)),
        always("entry", list(entry)),
    ])
}

fn viber_body() -> BoxedStrategy<Value> {
    let token = prop_oneof![
        4 => any::<u64>().prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(Value::from),
        1 => "[0-9]{0,20}".prop_map(Value::from),
    ]
    .boxed();
    let message = object(vec![
        always(
            "type",
            one_of(&[
                "text",
                "picture",
                "video",
                "file",
                "sticker",
                "contact",
                "url",
                "location",
                "rich_media",
            ]),
        ),
        always("text", text()),
        always("media", text()),
        always(
            "location",
            object(vec![always("lat", number()), always("lon", number())]),
        ),
        always(
            "contact",
            object(vec![
                sometimes("name", text()),
                sometimes("phone_number", text()),
            ]),
        ),
        always("file_name", text()),
        always("sticker_id", id()),
    ]);
    let event = prop_oneof![
        3 => Just(Value::from("message")),
        2 => one_of(&[
            "subscribed",
            "unsubscribed",
            "conversation_started",
            "delivered",
            "seen",
            "failed",
            "webhook",
        ]),
    ]
    .boxed();
    object(vec![
        always("event", event),
        always("timestamp", number()),
        always("message_token", token),
        always(
            "sender",
            object(vec![always("id", id()), always("name", text())]),
        ),
        sometimes("user", object(vec![always("id", id())])),
        sometimes("user_id", id()),
        sometimes("desc", text()),
        always("message", message),
    ])
}

type Parser = fn(&[u8]) -> Result<Delivery, MalformedBody>;

/// The four parsers, by name for failure messages.
fn parsers() -> [(&'static str, Parser); 4] {
    [
        ("whatsapp", whatsapp::parse),
        ("messenger", |body| meta::parse(body, Object::Page)),
        ("instagram", |body| meta::parse(body, Object::Instagram)),
        ("viber", viber::parse),
    ]
}

fn holds_together(
    parser: &str,
    answer: Result<Delivery, MalformedBody>,
) -> Result<(), TestCaseError> {
    let Ok(delivery) = answer else {
        return Ok(());
    };
    prop_assert_eq!(
        delivery.accounts.len(),
        delivery.items.len(),
        "{}: one account (or none) per item",
        parser
    );
    for (position, item) in delivery.items.iter().enumerate() {
        match item {
            Ok(Item::Message {
                contact,
                message_id,
                text,
                kind,
                attachments,
                ..
            }) => {
                prop_assert!(!contact.is_empty(), "{parser}: a message with no contact");
                prop_assert!(!message_id.is_empty(), "{parser}: a message with no id");
                prop_assert!(
                    !kind.needs_text() || !text.is_empty(),
                    "{parser}: a {kind} message with no text"
                );
                for attachment in attachments {
                    prop_assert!(
                        !attachment.reference.is_empty(),
                        "{parser}: an attachment with no reference"
                    );
                }
            }
            Ok(Item::Left { contact }) => {
                prop_assert!(!contact.is_empty(), "{parser}: a leaver with no contact");
            }
            Ok(Item::Receipt { .. } | Item::Noted { .. }) => {}
            Err(refused) => prop_assert_eq!(refused.index, position, "{}", parser),
        }
    }
    Ok(())
}

fn every_parser_holds_together(body: &[u8]) -> Result<(), TestCaseError> {
    for (name, parse) in parsers() {
        holds_together(name, parse(body))?;
    }
    Ok(())
}

fn bytes_of(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        every_parser_holds_together(&body)?;
    }

    #[test]
    fn arbitrary_json_never_panics(value in json()) {
        every_parser_holds_together(&bytes_of(&value))?;
    }

    #[test]
    fn whatsapp_shaped_json_holds_together(value in whatsapp_body()) {
        holds_together("whatsapp", whatsapp::parse(&bytes_of(&value)))?;
    }

    #[test]
    fn messenger_shaped_json_holds_together(value in meta_body(&["page"])) {
        holds_together("messenger", meta::parse(&bytes_of(&value), Object::Page))?;
    }

    #[test]
    fn instagram_shaped_json_holds_together(value in meta_body(&["instagram"])) {
        holds_together("instagram", meta::parse(&bytes_of(&value), Object::Instagram))?;
    }

    #[test]
    fn viber_shaped_json_holds_together(value in viber_body()) {
        holds_together("viber", viber::parse(&bytes_of(&value)))?;
    }
}
