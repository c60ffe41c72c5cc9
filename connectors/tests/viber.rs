//! Viber bot callbacks, from fixtures in the documented format, read into whole deliveries.

use connectors::viber::parse;
use connectors::{Delivery, Item, MalformedBody, Refused};
use routing_core::{Attachment, DeliveryStatus, MessageKind, ReceiptFor};

const USER: &str = "01234567890A=";

fn one(item: Result<Item, Refused>) -> Result<Delivery, MalformedBody> {
    Ok(Delivery {
        items: vec![item],
        accounts: vec![None],
    })
}

fn message(
    token: &str,
    kind: MessageKind,
    text: &str,
    attachments: Vec<Attachment>,
) -> Result<Delivery, MalformedBody> {
    one(Ok(Item::Message {
        contact: USER.into(),
        contact_name: Some("John McClane".into()),
        message_id: token.into(),
        text: text.into(),
        kind,
        attachments,
    }))
}

fn attachment(kind: &str, reference: &str) -> Vec<Attachment> {
    vec![Attachment {
        kind: kind.into(),
        reference: reference.into(),
        mime_type: None,
    }]
}

fn receipt(status: DeliveryStatus) -> Result<Delivery, MalformedBody> {
    one(Ok(Item::Receipt {
        receipt: ReceiptFor::Message("4912661846655238145".into()),
        status,
    }))
}

fn noted(what: &str) -> Result<Delivery, MalformedBody> {
    one(Ok(Item::Noted { what: what.into() }))
}

#[test]
fn a_text_message_is_its_token_as_a_decimal_string() {
    assert_eq!(
        parse(include_bytes!("fixtures/viber/text.json")),
        message(
            "4912661846655238145",
            MessageKind::Text,
            "a message to the service",
            vec![]
        )
    );
}

#[test]
fn tokens_up_to_two_to_the_63_and_tokens_sent_as_strings_keep_every_digit() {
    assert_eq!(
        parse(include_bytes!("fixtures/viber/big_token.json")),
        message(
            "9223372036854775808",
            MessageKind::Text,
            "the largest token",
            vec![]
        )
    );
    assert_eq!(
        parse(include_bytes!("fixtures/viber/string_token.json")),
        message(
            "5741311803571721087",
            MessageKind::Text,
            "a token sent as a string",
            vec![]
        )
    );
}

#[test]
fn a_picture_is_an_image_by_its_url_with_its_description_as_text() {
    assert_eq!(
        parse(include_bytes!("fixtures/viber/picture.json")),
        message(
            "4912661846655238146",
            MessageKind::Image,
            "the broken hinge",
            attachment(
                "picture",
                "https://dl-media.viber.com/1/share/2/long/vibes/icon/image/0x0/95e0/5688fdffdaa81b7d5ba5b6bc57c3b8bbd8f8a3e13ce06d6d35d5e5a9a6b5ae30.jpg"
            ),
        )
    );
}

#[test]
fn videos_files_and_stickers_are_attachments() {
    assert_eq!(
        parse(include_bytes!("fixtures/viber/video.json")),
        message(
            "4912661846655238147",
            MessageKind::Video,
            "",
            attachment(
                "video",
                "https://dl-media.viber.com/5/media/2/short/any/sig/video/0x0/unboxing.mp4"
            ),
        )
    );
    assert_eq!(
        parse(include_bytes!("fixtures/viber/file.json")),
        message(
            "4912661846655238148",
            MessageKind::File,
            "invoice-4471.pdf",
            attachment(
                "file",
                "https://dl-media.viber.com/5/share/2/long/any/sig/file/invoice-4471.pdf"
            ),
        )
    );
    assert_eq!(
        parse(include_bytes!("fixtures/viber/sticker.json")),
        message(
            "4912661846655238149",
            MessageKind::Sticker,
            "",
            attachment("sticker", "46105"),
        )
    );
}

#[test]
fn locations_contacts_and_urls_are_rendered_as_text() {
    assert_eq!(
        parse(include_bytes!("fixtures/viber/location.json")),
        message(
            "4912661846655238150",
            MessageKind::Location,
            "50.76891, 6.11499",
            vec![]
        )
    );
    assert_eq!(
        parse(include_bytes!("fixtures/viber/contact.json")),
        message(
            "4912661846655238151",
            MessageKind::Contact,
            "Itamar (+972511123123)",
            vec![]
        )
    );
    assert_eq!(
        parse(include_bytes!("fixtures/viber/url.json")),
        message(
            "4912661846655238152",
            MessageKind::Text,
            "http://www.website.com/go_here",
            vec![]
        )
    );
}

#[test]
fn an_unknown_message_type_is_kept_under_vibers_name() {
    assert_eq!(
        parse(include_bytes!("fixtures/viber/unsupported.json")),
        message(
            "4912661846655238153",
            MessageKind::Unsupported("rich_media".into()),
            "",
            vec![]
        )
    );
}

#[test]
fn delivered_seen_and_failed_are_receipts_by_token() {
    assert_eq!(
        parse(include_bytes!("fixtures/viber/delivered.json")),
        receipt(DeliveryStatus::Delivered)
    );
    assert_eq!(
        parse(include_bytes!("fixtures/viber/seen.json")),
        receipt(DeliveryStatus::Read)
    );
    assert_eq!(
        parse(include_bytes!("fixtures/viber/failed.json")),
        receipt(DeliveryStatus::Failed)
    );
}

#[test]
fn unsubscribing_is_leaving_and_the_other_events_are_noted() {
    assert_eq!(
        parse(include_bytes!("fixtures/viber/unsubscribed.json")),
        one(Ok(Item::Left {
            contact: USER.into()
        }))
    );
    assert_eq!(
        parse(include_bytes!("fixtures/viber/subscribed.json")),
        noted("subscribed by 01234567890A=")
    );
    assert_eq!(
        parse(include_bytes!("fixtures/viber/conversation_started.json")),
        noted("conversation_started by 01234567890A=")
    );
    assert_eq!(
        parse(include_bytes!("fixtures/viber/webhook.json")),
        noted("webhook set")
    );
    assert_eq!(
        parse(br#"{"event":"client_status","timestamp":1457764197627}"#),
        noted("event client_status")
    );
}

#[test]
fn a_message_missing_what_it_needs_is_refused_at_index_0() {
    let refused = |reason: &str| {
        one(Err(Refused {
            index: 0,
            reason: reason.into(),
        }))
    };
    assert_eq!(
        parse(include_bytes!("fixtures/viber/bad_message.json")),
        refused("`message_token` is missing or not an integer")
    );
    assert_eq!(
        parse(br#"{"event":"message","message_token":1,"message":{"type":"text","text":"hi"}}"#),
        refused("`sender.id` is missing or not a non-empty string")
    );
    assert_eq!(
        parse(br#"{"event":"message","message_token":1,"sender":{"id":"u"},"message":{}}"#),
        refused("`message.type` is missing or not a non-empty string")
    );
    assert_eq!(
        parse(
            br#"{"event":"message","message_token":1.5,"sender":{"id":"u"},"message":{"type":"text","text":"hi"}}"#
        ),
        refused("`message_token` is missing or not an integer")
    );
    assert_eq!(
        parse(
            br#"{"event":"message","message_token":1,"sender":{"id":"u"},"message":{"type":"picture"}}"#
        ),
        refused("`message.media` is missing or not a non-empty string")
    );
    assert_eq!(
        parse(br#"{"event":"unsubscribed","timestamp":1457764197627}"#),
        refused("`user_id` is missing or not a non-empty string")
    );
}

#[test]
fn a_body_that_is_not_a_viber_callback_is_malformed() {
    assert_eq!(
        parse(br#"{"timestamp":1457764197627}"#),
        Err(MalformedBody(
            "`event` is missing or not a non-empty string".into()
        ))
    );
    assert_eq!(
        parse(br#"{"event":7}"#),
        Err(MalformedBody(
            "`event` is missing or not a non-empty string".into()
        ))
    );
    assert_eq!(
        parse(b"null"),
        Err(MalformedBody("the body is not a JSON object".into()))
    );
    assert!(
        matches!(parse(b"\xff\xfe"), Err(MalformedBody(m)) if m.starts_with("the body is not JSON: "))
    );
}
