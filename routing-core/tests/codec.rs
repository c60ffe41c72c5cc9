//! The stored shape of events is a compatibility boundary: events written by any version must
//! read back forever. Each golden fixture holds stored events as one generation of the engine wrote
//! them; a line, once written, is never edited (new kinds add lines to the newest generation; a
//! changed shape starts a new generation). Older generations are upcast on read.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use routing_core::codec::{self, DecodeError};
use routing_core::{EventKind, Timestamp};

/// Every generation's fixture, oldest first; the last one is what this build writes.
const FIXTURES: [&str; 3] = [
    include_str!("fixtures/events-v1.jsonl"),
    include_str!("fixtures/events-v2.jsonl"),
    include_str!("fixtures/events-v3.jsonl"),
];

struct Line {
    event_type: String,
    schema_version: u32,
    payload: String,
}

fn fixture(text: &str) -> Vec<Line> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            Line {
                event_type: value["type"].as_str().unwrap().to_owned(),
                schema_version: u32::try_from(value["schema_version"].as_u64().unwrap()).unwrap(),
                payload: serde_json::to_string(&value["payload"]).unwrap(),
            }
        })
        .collect()
}

#[test]
fn every_stored_event_of_every_generation_still_decodes() {
    for text in FIXTURES {
        for line in fixture(text) {
            codec::decode(
                &line.event_type,
                line.schema_version,
                line.payload.as_bytes(),
                Timestamp::from_millis(1_795_424_793_060),
            )
            .unwrap_or_else(|error| {
                panic!("{} v{}: {error}", line.event_type, line.schema_version)
            });
        }
    }
}

#[test]
fn the_current_generation_is_written_exactly_as_stored() {
    for line in fixture(FIXTURES[FIXTURES.len() - 1]) {
        let event = codec::decode(
            &line.event_type,
            line.schema_version,
            line.payload.as_bytes(),
            Timestamp::from_millis(1),
        )
        .unwrap_or_else(|error| panic!("{}: {error}", line.event_type));
        let again = codec::encode(&event).unwrap();
        assert_eq!(again.event_type, line.event_type);
        assert_eq!(
            again.schema_version, line.schema_version,
            "{}",
            line.event_type
        );
        let written: serde_json::Value = serde_json::from_slice(&again.payload).unwrap();
        let stored: serde_json::Value = serde_json::from_str(&line.payload).unwrap();
        assert_eq!(
            written, stored,
            "{} changed its stored shape: add a new schema version, an upcaster and a fixture",
            line.event_type
        );
    }
}

#[test]
fn every_event_kind_has_a_golden_fixture_at_its_current_version() {
    let current = fixture(FIXTURES[FIXTURES.len() - 1]);
    for name in EventKind::NAMES {
        assert!(
            current.iter().any(|l| l.event_type == *name),
            "no golden fixture line for {name} in the current generation"
        );
    }
}

#[test]
fn version_1_events_are_upcast_with_the_values_they_implied() {
    let at = Timestamp::from_millis(1_000_000);
    let enqueued = codec::decode(
        "ConversationEnqueued",
        1,
        br#"{"conversation":"01a207a8-31e4-7314-9a5f-ff883494488e","queue":"support"}"#,
        at,
    )
    .unwrap();
    let EventKind::ConversationEnqueued(enqueued) = enqueued.kind else {
        panic!("wrong kind")
    };
    assert_eq!(enqueued.priority, 0);

    let offered = codec::decode(
        "ConversationOffered",
        1,
        br#"{"conversation":"01a207a8-31e4-7314-9a5f-ff883494488e","queue":"support","agent":"alice","strategy":"longest_idle","candidates":["alice","bob"],"tie_break":"idle the longest"}"#,
        at,
    )
    .unwrap();
    let EventKind::ConversationOffered(offered) = offered.kind else {
        panic!("wrong kind")
    };
    assert_eq!(offered.eligible, 2);
    assert_eq!(offered.expires_at, Timestamp::from_millis(1_030_000));

    let paused = codec::decode(
        "AgentPaused",
        1,
        br#"{"agent":"alice","reason":"lunch","paid":false}"#,
        at,
    )
    .unwrap();
    let EventKind::AgentPaused(paused) = paused.kind else {
        panic!("wrong kind")
    };
    assert!(!paused.automatic);
}

#[test]
fn unknown_types_and_versions_from_the_future_are_refused_not_guessed() {
    assert!(matches!(
        codec::decode(
            "ConversationTeleported",
            1,
            b"{}",
            Timestamp::from_millis(0)
        ),
        Err(DecodeError::UnknownType(_))
    ));
    assert!(matches!(
        codec::decode("OfferAccepted", 99, b"{}", Timestamp::from_millis(0)),
        Err(DecodeError::VersionFromTheFuture {
            version: 99,
            known: 1,
            ..
        })
    ));
    assert!(matches!(
        codec::decode(
            "OfferAccepted",
            1,
            b"{\"agent\":3}",
            Timestamp::from_millis(0)
        ),
        Err(DecodeError::Malformed { .. })
    ));
}
