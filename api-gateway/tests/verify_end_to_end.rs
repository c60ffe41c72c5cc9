//! The log's hash chain through the real binary: `switchboard verify` and the auditor's
//! endpoint find the chain whole, and, after one stored event is altered behind the server's
//! back (a byte of its payload, in the embedded database file or in a PostgreSQL row), name the
//! position of that event.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use redb::ReadableTable;
use serde_json::{Value, json};
use std::process::Command;
use support::{AUDITOR, Server, WEBSITE};

/// Runs `switchboard verify` with `args`; its exit success and what it printed.
fn verify(args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("verify")
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// A visitor's message; the position of its `CustomerMessageReceived` event.
async fn a_message(server: &Server, text: &str) -> u64 {
    let (status, sent) = server
        .as_key(Some(WEBSITE))
        .post(
            "/v1/webchat/website/messages",
            json!({"visitor": "v-9", "message_id": format!("m-{text}"), "text": text}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    sent["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "CustomerMessageReceived")
        .map(|e| e["position"].as_u64().unwrap())
        .unwrap()
}

/// `bytes` with the first occurrence of `from` replaced by `to` (of the same length).
fn altered(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("the text is in the stored bytes");
    let mut out = bytes.to_vec();
    out[at..at + from.len()].copy_from_slice(to);
    out
}

#[tokio::test]
async fn an_event_altered_in_the_embedded_file_is_named_by_verify() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    a_message(&server, "first words").await;
    let target = a_message(&server, "Please refund order 1234").await;
    a_message(&server, "last words").await;
    let (status, report) = server.as_key(Some(AUDITOR)).get("/v1/audit/verify").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["first_break"], Value::Null, "{report}");
    assert!(server.stop().success());

    let store = data.path().to_str().unwrap().to_owned();
    let checkpoints = data.path().join("checkpoints.jsonl");
    let (ok, out) = verify(&["--store", &store, "--export", checkpoints.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(out.contains("the chain holds"), "{out}");

    // Someone with the file changes the record: its message id, 1234 becomes 9234 (the text
    // itself is sealed, and a change to it would not open; the chain names both).
    {
        let db = redb::Database::open(data.path().join("events.redb")).unwrap();
        let table: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("events");
        let txn = db.begin_write().unwrap();
        {
            let mut events = txn.open_table(table).unwrap();
            let record = events.get(target).unwrap().unwrap().value().to_vec();
            let changed = altered(&record, b"order 1234", b"order 9234");
            events.insert(target, changed.as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }
    let (ok, out) = verify(&["--store", &store]);
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!("breaks at position {target}")),
        "{out}"
    );
    let (ok, out) = verify(&[
        "--store",
        &store,
        "--checkpoints",
        checkpoints.to_str().unwrap(),
    ]);
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("position {target}")), "{out}");
}

#[tokio::test]
async fn an_event_altered_in_a_postgresql_row_is_named_by_verify_and_the_auditor() {
    let Some(store) = support::postgres_store("the PostgreSQL tamper test") else {
        return;
    };
    let schema = store.split("schema=").nth(1).unwrap().to_owned();
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with(&support::example_config(), &store);
    let target = a_message(&server, "Please refund order 1234").await;
    a_message(&server, "more words").await;
    let auditor = server.as_key(Some(AUDITOR));
    let (status, report) = auditor.get("/v1/audit/verify").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["first_break"], Value::Null, "{report}");

    let url = std::env::var("SWITCHBOARD_TEST_POSTGRES").unwrap();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .execute(
            &format!(
                "UPDATE {schema}.events SET payload = \
                 convert_to(replace(convert_from(payload, 'UTF8'), 'order 1234', 'order 9234'), 'UTF8') \
                 WHERE position = $1"
            ),
            &[&i64::try_from(target).unwrap()],
        )
        .await
        .unwrap();
    let (status, report) = auditor.get("/v1/audit/verify").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["first_break"], target, "{report}");
    let (ok, out) = verify(&["--store", &store]);
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!("breaks at position {target}")),
        "{out}"
    );
    drop(server);
    let _ = client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await;
    drop(data);
}

#[test]
fn verify_refuses_a_directory_without_a_log_and_creates_nothing() {
    let data = tempfile::tempdir().unwrap();
    let missing = data.path().join("no-such-log");
    let (ok, out) = verify(&["--store", missing.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(out.contains("there is no embedded log"), "{out}");
    assert!(!missing.exists(), "verify created {}", missing.display());
}
