//! Erasure through the real binary, on each backend: a conversation full of personal data is
//! stored sealed (no byte of it in the log), read back opened while the key exists, and after
//! the contact is anonymised nothing of it can be read from the log, the read models, the
//! exports or any endpoint, across a restart, while the metrics stay as they were, the chain
//! still verifies and a rebuild still equals the live read models.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::{ALICE, AUDITOR, SUPERVISOR, Server, WEBSITE};

const NAME: &str = "Jana Nováková";
const HANDLE: &str = "v-jana-4207";
const TEXT: &str = "My card is 4111 1111 1111 1111";
const ATTACHMENT: &str = "https://media.example/passport-scan-88.jpg";
const REPLY: &str = "We will call you back on +420 777 123 456";
const EMAIL: &str = "jana.novakova@example.com";
const SECRETS: [&str; 6] = [NAME, HANDLE, TEXT, ATTACHMENT, REPLY, EMAIL];

/// Another customer, who must keep everything.
const OTHER: &str = "v-petr-1";
const OTHER_TEXT: &str = "Petr asks about his order";

fn leaks(text: &str) -> Vec<&'static str> {
    SECRETS
        .into_iter()
        .filter(|secret| text.contains(secret))
        .collect()
}

async fn text_of(api: &support::Api, path: &str) -> String {
    let (status, body) = api.get(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    match body {
        Value::String(text) => text,
        other => other.to_string(),
    }
}

/// What the metrics say about the conversation: everything but who it was with.
/// Read once the read models include log position `after`.
async fn metrics(server: &Server, conversation: &str, after: u64) -> Value {
    let (_, mut list) = server
        .get(&format!(
            "/v1/interactions?from=2000-01-01T00:00:00Z&to=2999-01-01T00:00:00Z&after={after}"
        ))
        .await;
    let rows: Vec<Value> = list["interactions"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .filter(|row| row["conversation"] == conversation)
        .map(|row| {
            let row = row.as_object_mut().unwrap();
            for personal in ["contact", "external_contact", "title"] {
                row.remove(personal);
            }
            Value::Object(row.clone())
        })
        .collect();
    // The longest wait is of what waits now (Petr, still waiting): it grows by itself.
    let (_, mut queues) = server
        .get(&format!(
            "/v1/queues?since=2000-01-01T00:00:00Z&after={after}"
        ))
        .await;
    for queue in queues["queues"].as_array_mut().unwrap() {
        queue.as_object_mut().unwrap().remove("longest_wait_ms");
    }
    let (_, focus) = server
        .get(&format!(
            "/v1/conversations/{conversation}/focus?after={after}"
        ))
        .await;
    // Where the read models stood, which the erasure itself moved on.
    let (mut queues, mut focus) = (queues, focus);
    for answer in [&mut queues, &mut focus] {
        answer.as_object_mut().unwrap().remove("position");
    }
    let (_, mut summary) = server
        .get(&format!("/v1/conversations/{conversation}?after={after}"))
        .await;
    let summary = summary.as_object_mut().unwrap();
    for personal in ["contact_name", "handle"] {
        summary.remove(personal);
    }
    json!({"interactions": rows, "queues": queues, "focus": focus, "summary": summary})
}

/// Every byte the store holds outside the key vault: the embedded directory's files, or the
/// PostgreSQL schema's events (payloads, streams, idempotency keys).
async fn stored_bytes(store: &str) -> String {
    if event_store::is_postgres(store) {
        let url = std::env::var("SWITCHBOARD_TEST_POSTGRES").unwrap();
        let schema = store.split("schema=").nth(1).unwrap();
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let rows = client
            .query(
                &format!(
                    "SELECT convert_from(payload, 'UTF8') || stream || coalesce(idempotency_key, '') \
                     FROM {schema}.events"
                ),
                &[],
            )
            .await
            .unwrap();
        rows.iter().map(|row| row.get::<_, String>(0)).collect()
    } else {
        let mut all = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from(store)];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.file_name().unwrap() != event_store::vault::FILE_NAME {
                    all.extend(std::fs::read(path).unwrap());
                }
            }
        }
        String::from_utf8_lossy(&all).into_owned()
    }
}

async fn a_contact_is_erased_and_the_metrics_stay(store: &str) {
    let server = Server::start_with(&support::example_config(), store);
    let website = server.as_key(Some(WEBSITE));
    let auditor = server.as_key(Some(AUDITOR));

    // Jana leaves her address, writes with a picture, is answered while offline, and the
    // conversation is closed. Petr writes too.
    let (status, answer) = website
        .post(
            "/v1/webchat/website/presence",
            json!({"visitor": HANDLE, "online": true, "email": EMAIL}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let head = server.head().await;
    let (status, sent) = website
        .post(
            "/v1/webchat/website/messages",
            json!({"visitor": HANDLE, "name": NAME, "message_id": "m-1", "text": TEXT,
                   "kind": "image", "attachments": [{"kind": "image", "reference": ATTACHMENT}]}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let conversation = sent["conversation"].as_str().unwrap().to_owned();
    server.agent_takes("alice", &conversation, head).await;
    let alice = server.as_key(Some(ALICE));
    let (status, answer) = alice
        .post(
            "/v1/agents/alice/focus",
            json!({"conversation": conversation}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    website
        .post(
            "/v1/webchat/website/presence",
            json!({"visitor": HANDLE, "online": false}),
        )
        .await;
    let (status, answer) = alice
        .post(
            &format!("/v1/conversations/{conversation}/messages"),
            json!({"agent": "alice", "text": REPLY}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let (status, other) = website
        .post(
            "/v1/webchat/website/messages",
            json!({"visitor": OTHER, "name": "Petr", "message_id": "m-2", "text": OTHER_TEXT}),
        )
        .await;
    assert_eq!(status, 201, "{other}");
    let other = other["conversation"].as_str().unwrap().to_owned();

    // Nobody is erased while someone may still be answering them.
    let head = server.head().await;
    let (status, refused) = server
        .post(
            &format!("/v1/interactions/{conversation}/anonymise"),
            json!(null),
        )
        .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(
        refused["type"],
        "urn:switchboard:problem:contact-has-open-conversation"
    );
    assert_eq!(server.head().await, head, "nothing appended");
    let (status, answer) = alice
        .post(
            &format!("/v1/conversations/{conversation}/close"),
            json!({"agent": "alice", "status": "resolved"}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");

    // Before: readable to those who may read it, and never stored in plaintext.
    let history_path = format!("/v1/conversations/{conversation}/history");
    let history = text_of(&auditor, &history_path).await;
    assert_eq!(leaks(&history), SECRETS, "{history}");
    let export_path =
        "/v1/interactions/export?format=csv&from=2000-01-01T00:00:00Z&to=2999-01-01T00:00:00Z";
    let export = text_of(&server.as_key(Some(SUPERVISOR)), export_path).await;
    assert!(export.contains(NAME) && export.contains(HANDLE), "{export}");
    assert!(
        leaks(&stored_bytes(store).await).is_empty(),
        "personal data stored in plaintext"
    );
    let closed_at = answer["position"].as_u64().unwrap();
    let before = metrics(&server, &conversation, closed_at).await;

    // Only an admin erases.
    let (status, refused) = server
        .as_key(Some(SUPERVISOR))
        .post(
            &format!("/v1/interactions/{conversation}/anonymise"),
            json!(null),
        )
        .await;
    assert_eq!(status, 403, "{refused}");
    let (status, erased) = server
        .post(
            &format!("/v1/interactions/{conversation}/anonymise"),
            json!(null),
        )
        .await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(
        support::event_types(&erased["events"]),
        ["ContactAnonymised"]
    );
    let position = erased["position"].as_u64().unwrap();

    // After: nothing of Jana anywhere, Petr untouched.
    let (_, log) = auditor
        .get(&format!("/v1/log?after={}", position - 1))
        .await;
    let record = &log["events"][0];
    assert_eq!(record["type"], "ContactAnonymised");
    assert_eq!(record["payload"]["by"], "demo-admin");
    assert_eq!(record["payload"]["interaction"], conversation);
    let mut everywhere = vec![
        history_path.clone(),
        "/v1/log?limit=1000".to_owned(),
        format!("/v1/audit/conversations/{conversation}"),
        format!(
            "/v1/audit/conversations/{conversation}?position={}",
            position - 1
        ),
        format!("/v1/conversations/{conversation}"),
        "/v1/interactions?from=2000-01-01T00:00:00Z&to=2999-01-01T00:00:00Z".to_owned(),
        export_path.to_owned(),
        "/v1/missed?contacted_back=true".to_owned(),
        "/v1/board?status=closed".to_owned(),
        "/v1/connectors/website/outbox".to_owned(),
    ];
    for view in [
        "conversations",
        "interactions",
        "missed",
        "outbox",
        "waiting",
    ] {
        everywhere.push(format!("/v1/audit/views/{view}"));
    }
    let check = async |server: &Server| {
        let auditor = server.as_key(Some(AUDITOR));
        for path in &everywhere {
            let text = text_of(&server.as_key(Some(support::ADMIN)), path).await;
            assert!(leaks(&text).is_empty(), "{path} shows {:?}", leaks(&text));
        }
        let history = text_of(&auditor, &history_path).await;
        assert!(history.contains("[anonymised]"), "{history}");
        let other_history = text_of(&auditor, &format!("/v1/conversations/{other}/history")).await;
        assert!(other_history.contains(OTHER_TEXT), "{other_history}");
        assert_eq!(metrics(server, &conversation, position).await, before);
        let (_, report) = auditor.get("/v1/audit/verify").await;
        assert_eq!(report["first_break"], Value::Null, "{report}");
        let (status, rebuilt) = auditor.post("/v1/audit/rebuild", json!(null)).await;
        assert_eq!(status, 200, "{rebuilt}");
        assert_eq!(rebuilt["all_match"], true, "{rebuilt}");
    };
    check(&server).await;

    // The handle is nobody now: erasing it again finds no one, and writing again from it is
    // someone new.
    let (status, gone) = server
        .post(
            "/v1/contacts/anonymise",
            json!({"connector": "website", "handle": HANDLE}),
        )
        .await;
    assert_eq!(status, 404, "{gone}");

    // Across a restart: the same, from the log and the vault alone.
    assert!(server.stop().success());
    let server = Server::start_with(&support::example_config(), store);
    let auditor = server.as_key(Some(AUDITOR));
    check(&server).await;
    if !event_store::is_postgres(store) {
        assert!(
            leaks(&stored_bytes(store).await).is_empty(),
            "snapshot or log"
        );
    }

    // Erasing by handle: Petr, whose conversation waits, once it is closed.
    let (status, refused) = server
        .post(
            "/v1/contacts/anonymise",
            json!({"connector": "website", "handle": OTHER}),
        )
        .await;
    assert_eq!(status, 409, "{refused}");
    let (status, left) = server
        .as_key(Some(WEBSITE))
        .post("/v1/webchat/website/left", json!({"visitor": OTHER}))
        .await;
    assert_eq!(status, 200, "{left}");
    let (status, erased) = server
        .post(
            "/v1/contacts/anonymise",
            json!({"connector": "website", "handle": OTHER}),
        )
        .await;
    assert_eq!(status, 200, "{erased}");
    let other_history = text_of(&auditor, &format!("/v1/conversations/{other}/history")).await;
    assert!(!other_history.contains(OTHER_TEXT), "{other_history}");

    let (status, again) = server
        .as_key(Some(WEBSITE))
        .post(
            "/v1/webchat/website/messages",
            json!({"visitor": HANDLE, "message_id": "m-3", "text": "Hello again"}),
        )
        .await;
    assert_eq!(status, 201, "{again}");
    let fresh = again["conversation"].as_str().unwrap();
    let after = again["position"].as_u64().unwrap();
    let (_, old) = server
        .get(&format!("/v1/conversations/{conversation}?after={after}"))
        .await;
    let (status, new) = server
        .get(&format!("/v1/conversations/{fresh}?after={after}"))
        .await;
    assert_eq!(status, 200, "{new}");
    assert_ne!(old["contact"], new["contact"], "a new pseudonym");
    assert_eq!(new["handle"], HANDLE);
}

#[tokio::test]
async fn an_embedded_contact_is_erased_and_the_metrics_stay() {
    let data = tempfile::tempdir().unwrap();
    a_contact_is_erased_and_the_metrics_stay(data.path().to_str().unwrap()).await;
}

#[tokio::test]
async fn a_postgresql_contact_is_erased_and_the_metrics_stay() {
    let Some(store) = support::postgres_store("the PostgreSQL erasure test") else {
        return;
    };
    a_contact_is_erased_and_the_metrics_stay(&store).await;
    let schema = store.split("schema=").nth(1).unwrap().to_owned();
    let url = std::env::var("SWITCHBOARD_TEST_POSTGRES").unwrap();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let _ = client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await;
}
