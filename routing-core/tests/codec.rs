//! The stored shape of events is a compatibility boundary: events written by this version must
//! read back forever. The golden fixture holds one stored event of every kind; it is written once
//! per schema version and never edited.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use routing_core::codec::{self, DecodeError};
use routing_core::{EventKind, Timestamp};
use std::collections::BTreeSet;

const FIXTURE: &str = include_str!("fixtures/events-v1.jsonl");

struct Line {
    event_type: String,
    schema_version: u32,
    payload: String,
}

fn fixture() -> Vec<Line> {
    FIXTURE
        .lines()
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
fn every_stored_event_in_the_golden_fixture_still_decodes_and_is_written_the_same_way() {
    for line in fixture() {
        let event = codec::decode(
            &line.event_type,
            line.schema_version,
            line.payload.as_bytes(),
            Timestamp::from_millis(1),
        )
        .unwrap_or_else(|error| panic!("{}: {error}", line.event_type));
        let again = codec::encode(&event).unwrap();
        assert_eq!(again.event_type, line.event_type);
        let written: serde_json::Value = serde_json::from_slice(&again.payload).unwrap();
        let stored: serde_json::Value = serde_json::from_str(&line.payload).unwrap();
        assert_eq!(
            written, stored,
            "{} changed its stored shape: add a new schema version and an upcaster",
            line.event_type
        );
    }
}

#[test]
fn every_event_kind_has_a_golden_fixture() {
    let covered: BTreeSet<String> = fixture().into_iter().map(|l| l.event_type).collect();
    for name in EventKind::NAMES {
        assert!(covered.contains(*name), "no golden fixture line for {name}");
    }
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
