//! WhatsApp Cloud API deliveries, from fixtures in the documented format, read into whole
//! deliveries.

use connectors::{Delivery, Item, MalformedBody, Refused};
use routing_core::{Attachment, DeliveryStatus, MessageKind, ReceiptFor};

const SHEENA: &str = "16505551234";
const PABLO: &str = "5215512345678";

fn name_of(contact: &str) -> Option<String> {
    match contact {
        SHEENA => Some("Sheena Nelson".into()),
        PABLO => Some("Pablo Morales".into()),
        _ => None,
    }
}

fn message(
    contact: &str,
    id: &str,
    kind: MessageKind,
    text: &str,
    attachments: Vec<Attachment>,
) -> Result<Item, Refused> {
    Ok(Item::Message {
        contact: contact.into(),
        contact_name: name_of(contact),
        message_id: id.into(),
        text: text.into(),
        kind,
        attachments,
    })
}

fn media(kind: &str, reference: &str, mime_type: &str) -> Vec<Attachment> {
    vec![Attachment {
        kind: kind.into(),
        reference: reference.into(),
        mime_type: Some(mime_type.into()),
    }]
}

fn receipt(id: &str, status: DeliveryStatus) -> Result<Item, Refused> {
    Ok(Item::Receipt {
        receipt: ReceiptFor::Message(id.into()),
        status,
    })
}

fn noted(what: &str) -> Result<Item, Refused> {
    Ok(Item::Noted { what: what.into() })
}

/// The delivery's items; which number each was for is checked on its own below.
fn parse(body: &[u8]) -> Result<Delivery, MalformedBody> {
    connectors::whatsapp::parse(body).map(|d| Delivery {
        accounts: vec![None; d.items.len()],
        ..d
    })
}

#[test]
fn each_item_names_the_business_number_it_was_for() {
    let delivery = connectors::whatsapp::parse(include_bytes!("fixtures/whatsapp/text.json"));
    let delivery = delivery.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(delivery.accounts.len(), delivery.items.len());
    assert!(
        delivery.accounts.iter().all(Option::is_some),
        "{delivery:?}"
    );
}

fn delivery(items: Vec<Result<Item, Refused>>) -> Result<Delivery, MalformedBody> {
    Ok(Delivery {
        accounts: vec![None; items.len()],
        items,
    })
}

#[test]
fn a_text_message_comes_with_its_senders_profile_name() {
    assert_eq!(
        parse(include_bytes!("fixtures/whatsapp/text.json")),
        delivery(vec![message(
            SHEENA,
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
            MessageKind::Text,
            "Does it come in another color?",
            vec![],
        )])
    );
}

#[test]
fn an_image_is_its_media_id_with_the_caption_as_text() {
    assert_eq!(
        parse(include_bytes!("fixtures/whatsapp/image.json")),
        delivery(vec![message(
            SHEENA,
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUM3QkY0NjYwNUQxMzk0MjAzNQA=",
            MessageKind::Image,
            "The broken hinge",
            media("image", "1003383421387256", "image/jpeg"),
        )])
    );
}

#[test]
fn an_unsupported_message_is_kept_under_whatsapps_name() {
    assert_eq!(
        parse(include_bytes!("fixtures/whatsapp/unsupported.json")),
        delivery(vec![message(
            SHEENA,
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQjZBNDM2RDgwNkQwNjE5NkY0MwA=",
            MessageKind::Unsupported("unsupported".into()),
            "",
            vec![],
        )])
    );
}

#[test]
fn statuses_are_receipts_except_sent_which_is_noted() {
    let sent = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MTE5MjY5QzlBQzg0OTQ4NjgA";
    let failed = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI1RjE0NzQ4MjhCOEI4RDVEMDAA";
    assert_eq!(
        parse(include_bytes!("fixtures/whatsapp/statuses.json")),
        delivery(vec![
            noted(&format!("status sent for {sent}")),
            receipt(sent, DeliveryStatus::Delivered),
            receipt(sent, DeliveryStatus::Read),
            receipt(failed, DeliveryStatus::Failed),
        ])
    );
}

#[test]
fn several_messages_of_every_type_come_out_in_document_order() {
    assert_eq!(
        parse(include_bytes!("fixtures/whatsapp/several.json")),
        delivery(vec![
            message(
                SHEENA,
                "wamid.S1",
                MessageKind::Text,
                "Hi, my order arrived damaged",
                vec![],
            ),
            message(
                PABLO,
                "wamid.P1",
                MessageKind::File,
                "invoice-4471.pdf",
                media("document", "1071228131382290", "application/pdf"),
            ),
            message(
                SHEENA,
                "wamid.S2",
                MessageKind::Location,
                "Meta Headquarters, 1 Hacker Way, Menlo Park, CA 94025 (37.483307, -122.148981)",
                vec![],
            ),
            message(
                PABLO,
                "wamid.P2",
                MessageKind::Contact,
                "Barbara J. Johnson (+1 (940) 555-1234, +1 (650) 555-1234); Lucky Shrub Support",
                vec![],
            ),
            message(
                SHEENA,
                "wamid.S3",
                MessageKind::Reaction,
                "\u{1f44d}",
                vec![],
            ),
            message(
                SHEENA,
                "wamid.S4",
                MessageKind::from("button".to_owned()),
                "Yes, return it",
                vec![],
            ),
            message(
                PABLO,
                "wamid.P3",
                MessageKind::from("interactive".to_owned()),
                "Talk to an agent",
                vec![],
            ),
            message(
                PABLO,
                "wamid.P4",
                MessageKind::from("interactive".to_owned()),
                "Refund",
                vec![],
            ),
            message(
                SHEENA,
                "wamid.S5",
                MessageKind::Audio,
                "",
                media("audio", "1193407312295474", "audio/ogg; codecs=opus"),
            ),
            message(
                SHEENA,
                "wamid.S6",
                MessageKind::Sticker,
                "",
                media("sticker", "1365373414717596", "image/webp"),
            ),
            message(
                PABLO,
                "wamid.P5",
                MessageKind::Video,
                "Unboxing",
                media("video", "1298451721406215", "video/mp4"),
            ),
            message(
                SHEENA,
                "wamid.S7",
                MessageKind::Unsupported("order".into()),
                "",
                vec![],
            ),
            message(
                SHEENA,
                "wamid.S8",
                MessageKind::Unsupported("system".into()),
                "",
                vec![],
            ),
            receipt(
                "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCQUY5OUFGNkI1QjY0MTU5OEQA",
                DeliveryStatus::Read,
            ),
            noted("entry[1].changes[0]: change of field \"account_update\""),
            message(PABLO, "wamid.P6", MessageKind::Text, "Thanks!", vec![]),
        ])
    );
}

#[test]
fn a_bad_message_or_status_is_refused_alone_by_its_index() {
    assert_eq!(
        parse(include_bytes!("fixtures/whatsapp/mixed.json")),
        delivery(vec![
            Err(Refused {
                index: 0,
                reason: "entry[0].changes[0].messages[0]: `from` is missing or not a non-empty \
                         string"
                    .into(),
            }),
            message(
                SHEENA,
                "wamid.GOOD",
                MessageKind::Text,
                "Is anyone there?",
                vec![],
            ),
            Err(Refused {
                index: 2,
                reason: "entry[0].changes[0].statuses[0]: `id` is missing or not a non-empty \
                         string"
                    .into(),
            }),
        ])
    );
}

fn wrapped(value: &str) -> Vec<u8> {
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{value}}}]}}]}}"#
    )
    .into_bytes()
}

#[test]
fn a_lone_contact_names_the_sender_even_when_its_wa_id_is_written_differently() {
    let body = wrapped(
        r#"{"contacts":[{"profile":{"name":"Ana"},"wa_id":"5215512345678"}],
            "messages":[{"from":"525512345678","id":"wamid.A","type":"text","text":{"body":"hola"}}]}"#,
    );
    assert_eq!(
        parse(&body),
        delivery(vec![Ok(Item::Message {
            contact: "525512345678".into(),
            contact_name: Some("Ana".into()),
            message_id: "wamid.A".into(),
            text: "hola".into(),
            kind: MessageKind::Text,
            attachments: vec![],
        })])
    );
}

#[test]
fn a_message_missing_what_its_type_needs_is_refused_with_why() {
    let body = wrapped(
        r#"{"messages":[
            {"from":"1","id":"wamid.1","type":"text","text":{}},
            {"from":"1","id":"wamid.2","type":"image","image":{"mime_type":"image/png"}},
            {"from":"1","id":"wamid.3","type":"location","location":{"latitude":"north"}},
            {"from":"1","id":"wamid.4"},
            {"from":"1","id":"wamid.5","type":"reaction","reaction":{"message_id":"wamid.0"}}]}"#,
    );
    let refused = |index: usize, why: &str| {
        Err(Refused {
            index,
            reason: format!("entry[0].changes[0].messages[{index}]: {why}"),
        })
    };
    assert_eq!(
        parse(&body),
        delivery(vec![
            refused(0, "`text.body` is missing or not a non-empty string"),
            refused(1, "`image.id` is missing or not a non-empty string"),
            refused(2, "`location.latitude` is missing or not a number"),
            refused(3, "`type` is missing or not a non-empty string"),
            // A removed reaction has no emoji, and is still the customer's.
            Ok(Item::Message {
                contact: "1".into(),
                contact_name: None,
                message_id: "wamid.5".into(),
                text: String::new(),
                kind: MessageKind::Reaction,
                attachments: vec![],
            }),
        ])
    );
}

#[test]
fn a_change_with_nothing_in_it_is_noted() {
    assert_eq!(
        parse(&wrapped(
            r#"{"messaging_product":"whatsapp","errors":[{"code":131000}]}"#
        )),
        delivery(vec![noted(
            "entry[0].changes[0]: messages change with neither messages nor statuses \
             (keys: errors, messaging_product)"
        )])
    );
}

#[test]
fn a_body_that_is_not_a_whatsapp_delivery_is_malformed() {
    let malformed = |message: &str| Err(MalformedBody(message.into()));
    assert_eq!(
        parse(br#"{"object":"page","entry":[]}"#),
        malformed("`object` is \"page\", expected \"whatsapp_business_account\"")
    );
    assert_eq!(
        parse(br#"{"entry":[]}"#),
        malformed("`object` is missing or not a string, expected \"whatsapp_business_account\"")
    );
    assert_eq!(
        parse(br#"{"object":"whatsapp_business_account","entry":{}}"#),
        malformed("`entry` is missing or not an array")
    );
    assert_eq!(parse(b"[1,2]"), malformed("the body is not a JSON object"));
    assert!(
        matches!(parse(b"{\"object\":"), Err(MalformedBody(m)) if m.starts_with("the body is not JSON: "))
    );
    assert_eq!(
        parse(br#"{"object":"whatsapp_business_account","entry":[]}"#),
        delivery(vec![])
    );
}
