//! Messenger and Instagram deliveries, from fixtures in the documented format, read into whole
//! deliveries.

use connectors::meta::{Object, synthetic_id};
use connectors::{Delivery, Item, MalformedBody, Refused};
use routing_core::ids::ExternalContactId;
use routing_core::{Attachment, DeliveryStatus, MessageKind, ReceiptFor, Timestamp};

const PSID: &str = "6945581678823201";
const IGSID: &str = "1914332558729302";

fn message(
    contact: &str,
    id: &str,
    kind: MessageKind,
    text: &str,
    attachments: Vec<Attachment>,
) -> Result<Item, Refused> {
    Ok(Item::Message {
        contact: contact.into(),
        contact_name: None,
        message_id: id.into(),
        text: text.into(),
        kind,
        attachments,
    })
}

fn attachment(kind: &str, reference: &str) -> Attachment {
    Attachment {
        kind: kind.into(),
        reference: reference.into(),
        mime_type: None,
    }
}

fn receipt(id: &str, status: DeliveryStatus) -> Result<Item, Refused> {
    Ok(Item::Receipt {
        receipt: ReceiptFor::Message(id.into()),
        status,
    })
}

fn up_to(contact: &str, millis: i64, status: DeliveryStatus) -> Result<Item, Refused> {
    Ok(Item::Receipt {
        receipt: ReceiptFor::UpTo {
            contact: ExternalContactId::new(contact),
            at: Timestamp::from_millis(millis),
        },
        status,
    })
}

fn noted(what: &str) -> Result<Item, Refused> {
    Ok(Item::Noted { what: what.into() })
}

fn delivery(items: Vec<Result<Item, Refused>>) -> Result<Delivery, MalformedBody> {
    Ok(Delivery {
        accounts: vec![None; items.len()],
        items,
    })
}

/// The delivery's items; which page each was for is checked on its own below.
fn parse(body: &[u8], object: Object) -> Result<Delivery, MalformedBody> {
    connectors::meta::parse(body, object).map(|d| Delivery {
        accounts: vec![None; d.items.len()],
        ..d
    })
}

#[test]
fn each_item_names_the_page_it_was_for() {
    let delivery =
        connectors::meta::parse(include_bytes!("fixtures/messenger/text.json"), Object::Page);
    let delivery = delivery.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(delivery.accounts.len(), delivery.items.len());
    assert!(
        delivery.accounts.iter().all(Option::is_some),
        "{delivery:?}"
    );
}

fn page(body: &[u8]) -> Result<Delivery, MalformedBody> {
    parse(body, Object::Page)
}

fn instagram(body: &[u8]) -> Result<Delivery, MalformedBody> {
    parse(body, Object::Instagram)
}

#[test]
fn messenger_a_text_message() {
    assert_eq!(
        page(include_bytes!("fixtures/messenger/text.json")),
        delivery(vec![message(
            PSID,
            "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P",
            MessageKind::Text,
            "hello, world!",
            vec![],
        )])
    );
}

#[test]
fn messenger_an_image_is_its_url() {
    assert_eq!(
        page(include_bytes!("fixtures/messenger/image.json")),
        delivery(vec![message(
            PSID,
            "m_1457764197618:41d102a3e1ae206a38",
            MessageKind::Image,
            "",
            vec![attachment(
                "image",
                "https://scontent.xx.fbcdn.net/v/t1.15752-9/broken-hinge.jpg"
            )],
        )])
    );
}

#[test]
fn messenger_an_unknown_attachment_type_is_kept_under_its_name() {
    assert_eq!(
        page(include_bytes!("fixtures/messenger/unsupported.json")),
        delivery(vec![message(
            PSID,
            "m_fallback-1",
            MessageKind::Unsupported("fallback".into()),
            "look at this https://developers.facebook.com",
            vec![attachment(
                "fallback",
                "https://l.facebook.com/l.php?u=https%3A%2F%2Fdevelopers.facebook.com%2F"
            )],
        )])
    );
}

#[test]
fn messenger_deliveries_name_their_messages_or_a_watermark_and_reads_a_watermark() {
    assert_eq!(
        page(include_bytes!("fixtures/messenger/receipts.json")),
        delivery(vec![
            receipt("m_sent-1", DeliveryStatus::Delivered),
            receipt("m_sent-2", DeliveryStatus::Delivered),
            up_to(PSID, 1_700_000_003_100, DeliveryStatus::Delivered),
            up_to(PSID, 1_700_000_003_200, DeliveryStatus::Read),
        ])
    );
}

#[test]
fn messenger_several_events_come_out_in_order_and_echoes_are_never_customer_messages() {
    assert_eq!(
        page(include_bytes!("fixtures/messenger/several.json")),
        delivery(vec![
            message(
                PSID,
                "m_quick-1",
                MessageKind::Text,
                "Talk to an agent",
                vec![]
            ),
            message(
                PSID,
                "m_two-pictures",
                MessageKind::Image,
                "both sides",
                vec![
                    attachment("image", "https://scontent.xx.fbcdn.net/v/front.jpg"),
                    attachment("image", "https://scontent.xx.fbcdn.net/v/back.jpg"),
                ],
            ),
            message(
                PSID,
                "m_thumbs-up",
                MessageKind::Sticker,
                "",
                vec![attachment(
                    "image",
                    "https://scontent.xx.fbcdn.net/v/t39.1997-6/851557_369239266556155_759568595_n.png"
                )],
            ),
            message(
                PSID,
                "m_location",
                MessageKind::Location,
                "",
                vec![attachment(
                    "location",
                    "https://l.facebook.com/l.php?u=https%3A%2F%2Fwww.bing.com%2Fmaps%2Fdefault.aspx%3Fv%3D2%26pc%3DFACEBK"
                )],
            ),
            message(
                PSID,
                "m_voice",
                MessageKind::Audio,
                "",
                vec![attachment(
                    "audio",
                    "https://cdn.fbsbx.com/v/t59.3654-21/voice-note.mp4"
                )],
            ),
            message(
                PSID,
                &synthetic_id(
                    "reaction",
                    &[
                        "m_sent-1",
                        PSID,
                        "react",
                        "\u{2764}\u{fe0f}",
                        "1700000004005"
                    ],
                ),
                MessageKind::Reaction,
                "\u{2764}\u{fe0f}",
                vec![],
            ),
            message(
                PSID,
                &synthetic_id("postback", &[PSID, "1700000004006"]),
                MessageKind::from("postback".to_owned()),
                "Track my order",
                vec![],
            ),
            message(
                PSID,
                "m_postback-2",
                MessageKind::from("postback".to_owned()),
                "Get Started",
                vec![]
            ),
            noted("echo of the page's own message m_echo-1"),
            noted("entry[0].messaging[9]: event with keys optin, recipient, sender, timestamp"),
            message(
                "7151893716152947",
                "m_second-customer",
                MessageKind::Text,
                "Do you ship to Canada?",
                vec![],
            ),
        ])
    );
}

#[test]
fn messenger_a_bad_event_is_refused_alone_by_its_index() {
    assert_eq!(
        page(include_bytes!("fixtures/messenger/mixed.json")),
        delivery(vec![
            Err(Refused {
                index: 0,
                reason: "entry[0].messaging[0]: `message.mid` is missing or not a non-empty string"
                    .into(),
            }),
            message(PSID, "m_good", MessageKind::Text, "and one with it", vec![]),
        ])
    );
}

#[test]
fn instagram_a_text_message() {
    assert_eq!(
        instagram(include_bytes!("fixtures/instagram/text.json")),
        delivery(vec![message(
            IGSID,
            "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDA1ODIyMzA0OTE0OjM0MDI4MjM2Njg0MTcxMDMwMTI0NDI1OTk2ODA2MTY2MjcxNzYxMjozMTY2MjU5NzY2MzY3MDE1NDU1NzY0MTk2MzE5MjQ0MDY0MAZDZD",
            MessageKind::Text,
            "Is this still in stock?",
            vec![],
        )])
    );
}

#[test]
fn instagram_an_image_is_its_url() {
    assert_eq!(
        instagram(include_bytes!("fixtures/instagram/image.json")),
        delivery(vec![message(
            IGSID,
            "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDA1ODIyMzA0OTE0OmltYWdl",
            MessageKind::Image,
            "",
            vec![attachment(
                "image",
                "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17952617294757583&signature=AbxyZ"
            )],
        )])
    );
}

#[test]
fn instagram_unsupported_messages_and_attachment_types_are_kept() {
    assert_eq!(
        instagram(include_bytes!("fixtures/instagram/unsupported.json")),
        delivery(vec![
            message(
                IGSID,
                "aWdfZAG1faXRlbToxOnVuc3VwcG9ydGVk",
                MessageKind::Unsupported("unsupported".into()),
                "",
                vec![],
            ),
            message(
                IGSID,
                "aWdfZAG1faXRlbToxOnN0b3J5X21lbnRpb24",
                MessageKind::Unsupported("story_mention".into()),
                "",
                vec![attachment(
                    "story_mention",
                    "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17895695668004550&signature=Abzgf"
                )],
            ),
            message(
                IGSID,
                "aWdfZAG1faXRlbToxOmlnX3JlZWw",
                MessageKind::Unsupported("ig_reel".into()),
                "",
                vec![attachment(
                    "ig_reel",
                    "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=3286544812961287139&signature=AbQ"
                )],
            ),
        ])
    );
}

#[test]
fn instagram_reads_name_their_message_or_give_a_watermark() {
    assert_eq!(
        instagram(include_bytes!("fixtures/instagram/receipts.json")),
        delivery(vec![
            receipt("aWdfZAG1faXRlbToxOnNlbnQtMQ", DeliveryStatus::Delivered),
            receipt("aWdfZAG1faXRlbToxOnNlbnQtMQ", DeliveryStatus::Read),
            up_to(IGSID, 1_700_000_003_150, DeliveryStatus::Read),
        ])
    );
}

#[test]
fn instagram_several_events_with_unreacts_unsends_echoes_and_changes() {
    assert_eq!(
        instagram(include_bytes!("fixtures/instagram/several.json")),
        delivery(vec![
            message(
                IGSID,
                "aWdfZAG1faXRlbToxOnJlcGx5",
                MessageKind::Text,
                "The blue one",
                vec![],
            ),
            message(
                IGSID,
                &synthetic_id(
                    "reaction",
                    &[
                        "aWdfZAG1faXRlbToxOnNlbnQtMQ",
                        IGSID,
                        "unreact",
                        "",
                        "1700000004100"
                    ],
                ),
                MessageKind::Reaction,
                "",
                vec![],
            ),
            message(
                IGSID,
                "aWdfZAG1faXRlbToxOnBvc3RiYWNr",
                MessageKind::from("postback".to_owned()),
                "Order status",
                vec![],
            ),
            noted(&format!(
                "message aWdfZAG1faXRlbToxOnJlcGx5 deleted by {IGSID}"
            )),
            noted("echo of the page's own message aWdfZAG1faXRlbToxOmVjaG8"),
            noted("entry[1]: changes of fields comments"),
        ])
    );
}

#[test]
fn instagram_a_bad_event_is_refused_alone_by_its_index() {
    assert_eq!(
        instagram(include_bytes!("fixtures/instagram/mixed.json")),
        delivery(vec![
            message(
                IGSID,
                "aWdfZAG1faXRlbToxOmdvb2Q",
                MessageKind::Text,
                "first one reads fine",
                vec![],
            ),
            Err(Refused {
                index: 1,
                reason: "entry[0].messaging[1]: `sender.id` is missing or not a non-empty string"
                    .into(),
            }),
        ])
    );
}

#[test]
fn the_other_products_object_is_malformed_for_a_connector() {
    assert_eq!(
        page(include_bytes!("fixtures/instagram/text.json")),
        Err(MalformedBody(
            "`object` is \"instagram\", but this connector reads \"page\"".into()
        ))
    );
    assert_eq!(
        instagram(include_bytes!("fixtures/messenger/text.json")),
        Err(MalformedBody(
            "`object` is \"page\", but this connector reads \"instagram\"".into()
        ))
    );
    assert_eq!(
        page(br#"{"object":"page"}"#),
        Err(MalformedBody("`entry` is missing or not an array".into()))
    );
    assert_eq!(
        page(b"\"page\""),
        Err(MalformedBody("the body is not a JSON object".into()))
    );
    assert!(
        matches!(page(b"object=page"), Err(MalformedBody(m)) if m.starts_with("the body is not JSON: "))
    );
}

#[test]
fn receipts_and_events_missing_what_they_need_are_refused_with_why() {
    let body = br#"{"object":"page","entry":[
        {"id":"1","messaging":[
            {"sender":{"id":"1"},"delivery":{}},
            {"sender":{"id":"1"},"delivery":{"mids":["m_1", 7]}},
            {"sender":{"id":"1"},"read":{"watermark":"soon"}},
            {"sender":{"id":"1"},"reaction":{"action":"react","emoji":"x"}},
            {"sender":{"id":"1"},"postback":{"title":"Hi"}},
            {"sender":{"id":"1"},"message":{"mid":"m_2"}},
            {"sender":{"id":"1"},"message":{"mid":"m_3","attachments":[{"payload":{}}]}}
        ]},
        {"id":"1","standby":[{"sender":{"id":"1"},"message":{"mid":"m_4","text":"hi"}}]},
        {"id":"1","messaging":[7]},
        "entry"
    ]}"#;
    let refused = |index: usize, event: usize, why: &str| {
        Err(Refused {
            index,
            reason: format!("entry[0].messaging[{event}]: {why}"),
        })
    };
    assert_eq!(
        page(body),
        delivery(vec![
            refused(0, 0, "`delivery.watermark` is missing or not an integer"),
            receipt("m_1", DeliveryStatus::Delivered),
            refused(2, 1, "`delivery.mids[1]` is not a non-empty string"),
            refused(3, 2, "`read.watermark` is missing or not an integer"),
            refused(4, 3, "reaction: `mid` is missing or not a non-empty string"),
            refused(5, 4, "`postback` has no `mid` and the event no `timestamp`"),
            refused(6, 5, "message has neither text nor attachments"),
            refused(
                7,
                6,
                "message.attachments[0]: `type` is missing or not a non-empty string"
            ),
            noted("entry[1]: entry with keys id, standby"),
            Err(Refused {
                index: 9,
                reason: "entry[2].messaging[0] is not an object".into(),
            }),
            Err(Refused {
                index: 10,
                reason: "entry[3] is not an object".into(),
            }),
        ])
    );
}
