//! Messages on their way to and from customers: kinds of inbound message beyond text, the
//! outbox's confirmations, providers' receipts, and the e-mail fallback for offline web-chat
//! visitors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use expect_test::expect;
use routing_core::ids::{ExternalContactId, MessageId};
use routing_core::{
    Attachment, Command, ConnectorId, DeliveryStatus, DispatchOutcome, MessageKind, ReceiptFor,
    Timestamp,
};
use support::*;

fn customer_sends(connector: &str, contact: &str, message: &str, kind: MessageKind) -> Command {
    Command::ReceiveCustomerMessage {
        handle: None,
        connector: ConnectorId::new(connector),
        channel: if connector == "wa" {
            routing_core::Channel::Whatsapp
        } else {
            routing_core::Channel::Webchat
        },
        contact: ExternalContactId::new(contact),
        contact_name: None,
        message_id: MessageId::new(message),
        text: String::new(),
        kind,
        attachments: vec![Attachment {
            kind: "image".into(),
            reference: "media-1".into(),
            mime_type: Some("image/jpeg".into()),
        }],
    }
}

fn sent(connector: &str, message: &str, provider_id: &str) -> Command {
    Command::ConfirmDispatch {
        connector: ConnectorId::new(connector),
        message_id: MessageId::new(message),
        outcome: DispatchOutcome::Sent {
            provider_message_id: provider_id.into(),
        },
    }
}

fn receipt(connector: &str, provider_id: &str, status: DeliveryStatus) -> Command {
    Command::RecordReceipt {
        connector: ConnectorId::new(connector),
        receipt: ReceiptFor::Message(provider_id.into()),
        status,
    }
}

fn presence(contact: &str, online: bool, email: Option<&str>) -> Command {
    Command::SetCustomerPresence {
        connector: ConnectorId::new("web"),
        contact: ExternalContactId::new(contact),
        online,
        email: email.map(str::to_owned),
    }
}

/// Alice has accepted conversation 1 from web-chat visitor v-1 and replied with r-1.
fn replied() -> routing_core::State {
    given(vec![
        at(1, log_in("alice", "support")),
        at(2, ready("alice")),
        starting(1, 10, customer_writes("web", "v-1", "m-1")),
        at(11, accept("alice", 1)),
        at(12, reply("alice", 1, "r-1")),
    ])
}

#[test]
fn a_picture_without_a_caption_is_kept_with_its_kind_and_attachment() {
    let mut state = given(vec![]);
    let outcome = when(
        &mut state,
        starting(
            1,
            10,
            customer_sends("web", "v-1", "m-1", MessageKind::Image),
        ),
    );
    expect![[r#"
        10s ConversationStarted {"conversation":"00000000-0000-0000-0000-000000000001","connector":"web","channel":"webchat","contact":"v-1","contact_name":null}
        10s CustomerMessageReceived {"conversation":"00000000-0000-0000-0000-000000000001","message_id":"m-1","text":"","kind":"image","attachments":[{"kind":"image","reference":"media-1","mime_type":"image/jpeg"}]}
        10s ConversationEnqueued {"conversation":"00000000-0000-0000-0000-000000000001","queue":"support","priority":0}
    "#]]
    .assert_eq(&outcome);
}

#[test]
fn a_kind_switchboard_does_not_know_is_kept_under_the_providers_name() {
    let mut state = given(vec![]);
    let outcome = when(
        &mut state,
        starting(
            1,
            10,
            customer_sends("wa", "420777", "m-1", MessageKind::from("order".to_owned())),
        ),
    );
    assert!(outcome.contains(r#""kind":"order""#), "{outcome}");
}

#[test]
fn a_text_message_without_text_is_refused() {
    let mut state = given(vec![]);
    let mut command = customer_sends("web", "v-1", "m-1", MessageKind::Text);
    if let Command::ReceiveCustomerMessage { attachments, .. } = &mut command {
        attachments.clear();
    }
    assert_eq!(
        when(&mut state, starting(1, 10, command)),
        "rejected: a message needs text\n"
    );
}

#[test]
fn a_reply_waits_in_the_outbox_until_confirmed_even_after_the_close() {
    let mut state = replied();
    state
        .execute(close("alice", 1, Some("resolved")), &context(13, 0))
        .unwrap();
    let pending = state
        .deliveries()
        .pending(&MessageId::new("r-1"))
        .expect("the reply waits");
    assert_eq!(pending.connector, ConnectorId::new("web"));
    expect![[r#"
        14s MessageDispatched {"conversation":"00000000-0000-0000-0000-000000000001","message_id":"r-1","provider_message_id":"out-1"}
    "#]]
    .assert_eq(&when(&mut state, at(14, sent("web", "r-1", "out-1"))));
    assert!(state.deliveries().pending(&MessageId::new("r-1")).is_none());
    // Confirmed once; a second confirmation finds nothing waiting.
    assert_eq!(
        when(&mut state, at(15, sent("web", "r-1", "out-1"))),
        "rejected: no message 'r-1' waits in the outbox of connector 'web'\n"
    );
}

#[test]
fn only_the_conversations_connector_confirms_its_messages() {
    let mut state = replied();
    assert_eq!(
        when(&mut state, at(14, sent("wa", "r-1", "out-1"))),
        "rejected: no message 'r-1' waits in the outbox of connector 'wa'\n"
    );
}

#[test]
fn a_failed_send_is_recorded_with_its_reason() {
    let mut state = replied();
    let failed = Command::ConfirmDispatch {
        connector: ConnectorId::new("web"),
        message_id: MessageId::new("r-1"),
        outcome: DispatchOutcome::Failed {
            reason: "visitor's widget gone".into(),
        },
    };
    expect![[r#"
        14s MessageDispatchFailed {"conversation":"00000000-0000-0000-0000-000000000001","message_id":"r-1","reason":"visitor's widget gone"}
    "#]]
    .assert_eq(&when(&mut state, at(14, failed)));
}

#[test]
fn receipts_move_a_message_forward_only() {
    let mut state = replied();
    state
        .execute(sent("web", "r-1", "out-1"), &context(13, 0))
        .unwrap();
    expect![[r#"
        14s MessageStatusChanged {"conversation":"00000000-0000-0000-0000-000000000001","message_id":"r-1","status":"read"}
    "#]]
    .assert_eq(&when(
        &mut state,
        at(14, receipt("web", "out-1", DeliveryStatus::Read)),
    ));
    // The delivery receipt came late: it changes nothing.
    assert_eq!(
        when(
            &mut state,
            at(15, receipt("web", "out-1", DeliveryStatus::Delivered))
        ),
        "rejected: message 'r-1' is already read: a receipt never moves a message back\n"
    );
    assert_eq!(
        when(
            &mut state,
            at(15, receipt("web", "out-1", DeliveryStatus::Failed))
        ),
        "rejected: message 'r-1' is already read: a receipt never moves a message back\n"
    );
    assert_eq!(
        when(
            &mut state,
            at(15, receipt("web", "nope", DeliveryStatus::Read))
        ),
        "rejected: connector 'web' sent no message the provider calls 'nope'\n"
    );
}

#[test]
fn a_watermark_receipt_reads_everything_sent_to_the_contact_up_to_then() {
    let mut state = replied();
    for (second, command) in [
        (13, sent("web", "r-1", "out-1")),
        (14, reply("alice", 1, "r-2")),
        (15, sent("web", "r-2", "out-2")),
        (79, reply("alice", 1, "r-3")),
        // Over a minute after the watermark: not covered by it.
        (80, sent("web", "r-3", "out-3")),
    ] {
        state.execute(command, &context(second, 0)).unwrap();
    }
    let watermark = Command::RecordReceipt {
        connector: ConnectorId::new("web"),
        receipt: ReceiptFor::UpTo {
            contact: ExternalContactId::new("v-1"),
            at: Timestamp::from_millis(15_000),
        },
        status: DeliveryStatus::Read,
    };
    let outcome = when(&mut state, at(81, watermark.clone()));
    assert!(outcome.contains(r#""message_id":"r-1","status":"read""#));
    assert!(outcome.contains(r#""message_id":"r-2","status":"read""#));
    assert!(!outcome.contains("r-3"), "{outcome}");
    assert_eq!(
        when(&mut state, at(82, watermark)),
        "rejected: connector 'web' sent contact 'v-1' no message by then\n"
    );
}

#[test]
fn a_retried_receipt_has_the_same_idempotency_key() {
    let state = replied();
    let key = |status| {
        state
            .idempotency_key(&receipt("web", "out-1", status))
            .unwrap()
            .unwrap()
    };
    assert_eq!(key(DeliveryStatus::Read), key(DeliveryStatus::Read));
    assert_ne!(key(DeliveryStatus::Read), key(DeliveryStatus::Delivered));
    // A connector named like the prefix cannot make an inbound key look like a receipt's.
    assert!(key(DeliveryStatus::Read).contains('/'));
}

#[test]
fn a_reply_to_an_offline_visitor_who_left_an_address_is_marked_for_e_mail() {
    let mut state = replied();
    state
        .execute(
            presence("v-1", false, Some("jana@example.com")),
            &context(13, 0),
        )
        .unwrap();
    let outcome = when(&mut state, at(14, reply("alice", 1, "r-2")));
    assert!(
        outcome.contains(r#""email_fallback":"jana@example.com""#),
        "{outcome}"
    );
    // Back online (without repeating the address): replies go to the widget again, and the
    // address is remembered for the next time.
    state
        .execute(presence("v-1", true, None), &context(15, 0))
        .unwrap();
    assert!(
        when(&mut state, at(16, reply("alice", 1, "r-3"))).contains(r#""email_fallback":null"#)
    );
    state
        .execute(presence("v-1", false, None), &context(17, 0))
        .unwrap();
    assert!(when(&mut state, at(18, reply("alice", 1, "r-4"))).contains("jana@example.com"));
}

#[test]
fn an_offline_visitor_without_an_address_gets_no_e_mail() {
    let mut state = replied();
    state
        .execute(presence("v-1", false, None), &context(13, 0))
        .unwrap();
    assert!(
        when(&mut state, at(14, reply("alice", 1, "r-2"))).contains(r#""email_fallback":null"#)
    );
}

#[test]
fn presence_is_web_chats_and_needs_a_real_address() {
    let mut state = replied();
    assert_eq!(
        when(
            &mut state,
            at(13, presence("v-1", false, Some("not an address")))
        ),
        "rejected: 'not an address' is not an e-mail address\n"
    );
    let on_whatsapp = Command::SetCustomerPresence {
        connector: ConnectorId::new("wa"),
        contact: ExternalContactId::new("420777"),
        online: false,
        email: None,
    };
    assert_eq!(
        when(&mut state, at(13, on_whatsapp)),
        "rejected: connector 'wa' is not a web-chat connector: only web chat reports a visitor's presence\n"
    );
}

#[test]
fn a_reply_written_before_there_was_an_outbox_never_waits_in_it() {
    // A v1 reply, as the log holds it from before the outbox: it was delivered back then.
    let stored = br#"{"conversation":"00000000-0000-0000-0000-000000000001","agent":"alice","message_id":"old-1","text":"Hello"}"#;
    let event = routing_core::codec::decode(
        "AgentMessageSent",
        1,
        stored,
        Timestamp::from_millis(12_000),
    )
    .unwrap();
    let routing_core::EventKind::AgentMessageSent(reply) = &event.kind else {
        panic!("{event:?}");
    };
    assert!(!reply.outbox);
    assert_eq!(reply.email_fallback, None);
    let mut state = given(vec![
        at(1, log_in("alice", "support")),
        at(2, ready("alice")),
        starting(1, 10, customer_writes("web", "v-1", "m-1")),
        at(11, accept("alice", 1)),
    ]);
    state.apply(&event);
    assert!(
        state
            .deliveries()
            .pending(&MessageId::new("old-1"))
            .is_none()
    );
}

#[test]
fn one_provider_id_names_one_message() {
    let mut state = replied();
    state
        .execute(sent("web", "r-1", "out-1"), &context(13, 0))
        .unwrap();
    state
        .execute(reply("alice", 1, "r-2"), &context(14, 0))
        .unwrap();
    assert_eq!(
        when(&mut state, at(15, sent("web", "r-2", "out-1"))),
        "rejected: the provider's id 'out-1' already names message 'r-1': receipts must name one message\n"
    );
}

#[test]
fn a_watermark_covers_a_message_confirmed_just_after_the_providers_stamp() {
    let mut state = replied();
    state
        .execute(sent("web", "r-1", "out-1"), &context(15, 0))
        .unwrap();
    // The provider stamped it at 14.5 s; our worker's confirmation landed at 15 s.
    let watermark = Command::RecordReceipt {
        connector: ConnectorId::new("web"),
        receipt: ReceiptFor::UpTo {
            contact: ExternalContactId::new("v-1"),
            at: Timestamp::from_millis(14_500),
        },
        status: DeliveryStatus::Read,
    };
    assert!(when(&mut state, at(16, watermark)).contains(r#""message_id":"r-1","status":"read""#));
}

#[test]
fn a_kind_must_read_back_as_itself() {
    let mut state = given(vec![]);
    for kind in [
        MessageKind::Unsupported("text".into()),
        MessageKind::Unsupported(String::new()),
        MessageKind::Unsupported("x".repeat(65)),
        MessageKind::Unsupported("two words".into()),
    ] {
        let outcome = when(
            &mut state,
            starting(1, 10, customer_sends("wa", "420777", "m-1", kind)),
        );
        assert!(outcome.contains("is not a message kind"), "{outcome}");
    }
}

#[test]
fn a_receipt_that_outruns_the_workers_confirmation_waits_for_it() {
    let mut state = replied();
    expect![[r#"
        13s ReceiptHeld {"connector":"web","provider_message_id":"out-1","status":"delivered"}
    "#]]
    .assert_eq(&when(
        &mut state,
        at(13, receipt("web", "out-1", DeliveryStatus::Delivered)),
    ));
    expect![[r#"
        14s MessageDispatched {"conversation":"00000000-0000-0000-0000-000000000001","message_id":"r-1","provider_message_id":"out-1"}
        14s MessageStatusChanged {"conversation":"00000000-0000-0000-0000-000000000001","message_id":"r-1","status":"delivered"}
    "#]]
    .assert_eq(&when(&mut state, at(14, sent("web", "r-1", "out-1"))));
}

#[test]
fn a_receipt_is_held_only_while_something_is_in_flight_and_not_for_ever() {
    let mut state = replied();
    state
        .execute(sent("web", "r-1", "out-1"), &context(13, 0))
        .unwrap();
    // Nothing of this connector's waits for confirmation: the receipt names someone else's.
    assert_eq!(
        when(
            &mut state,
            at(14, receipt("web", "elsewhere", DeliveryStatus::Read))
        ),
        "rejected: connector 'web' sent no message the provider calls 'elsewhere'\n"
    );
    // A receipt held for over ten minutes is not applied to a later confirmation.
    state
        .execute(reply("alice", 1, "r-2"), &context(20, 0))
        .unwrap();
    state
        .execute(
            receipt("web", "out-2", DeliveryStatus::Read),
            &context(21, 0),
        )
        .unwrap();
    let late = when(&mut state, at(21 + 601, sent("web", "r-2", "out-2")));
    assert!(late.contains("MessageDispatched"), "{late}");
    assert!(!late.contains("MessageStatusChanged"), "{late}");
}

#[test]
fn a_visitors_presence_repeated_unchanged_appends_nothing() {
    let mut state = replied();
    let first = when(
        &mut state,
        at(13, presence("v-1", false, Some("jana@example.com"))),
    );
    assert!(first.contains("CustomerPresenceChanged"), "{first}");
    assert_eq!(
        when(&mut state, at(14, presence("v-1", false, None))),
        "",
        "the same presence, the address remembered"
    );
    assert!(when(&mut state, at(15, presence("v-1", true, None))).contains("\"online\":true"));
}

fn anonymise(contact: &str) -> Command {
    Command::AnonymiseContact {
        connector: ConnectorId::new("web"),
        contact: ExternalContactId::new(contact),
        by: routing_core::KeyId::new("privacy-officer"),
        interaction: None,
    }
}

/// An erasure waits for the contact's conversation to end; then the contact is forgotten:
/// no address for e-mail, no reply window, no preferred agent. Whoever writes from the handle
/// again is new to the centre.
#[test]
fn an_anonymised_contact_is_forgotten_once_their_conversation_is_over() {
    let mut state = replied();
    state
        .execute(
            presence("v-1", false, Some("jana@example.com")),
            &context(13, 0),
        )
        .unwrap();
    expect![[r#"
        rejected: the contact has open conversation 00000000-0000-0000-0000-000000000001: close it before anonymising them, so that nobody is answering someone whose data is being erased
    "#]]
    .assert_eq(&when(&mut state, at(14, anonymise("v-1"))));
    state
        .execute(close("alice", 1, Some("resolved")), &context(15, 0))
        .unwrap();
    expect![[r#"
        16s ContactAnonymised {"connector":"web","contact":"v-1","by":"privacy-officer","interaction":null}
    "#]]
    .assert_eq(&when(&mut state, at(16, anonymise("v-1"))));
    // Outbound needs a contact who wrote before: they no longer have.
    expect![[r#"
        rejected: contact 'v-1' has never written through connector 'web': outbound messages go only to contacts who have written before
    "#]]
    .assert_eq(&when(
        &mut state,
        at(17, start_outbound("alice", "web", "v-1", None)),
    ));
    // Writing again starts afresh, and a reply to them while offline carries no old address.
    state
        .execute(customer_writes("web", "v-1", "m-9"), &context(18, 2))
        .unwrap();
    state.execute(accept("alice", 2), &context(19, 0)).unwrap();
    state
        .execute(presence("v-1", false, None), &context(20, 0))
        .unwrap();
    assert!(
        when(&mut state, at(21, reply("alice", 2, "r-9"))).contains(r#""email_fallback":null"#)
    );
}
