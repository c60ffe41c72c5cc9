//! One web-chat conversation's whole life through the real binary: routed, offered, accepted,
//! answered, refused a close without a status, closed, read back, and still there after a restart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::Server;

fn types(history: &Value) -> Vec<String> {
    support::event_types(&history["events"])
}

#[tokio::test]
async fn a_web_chat_conversation_is_routed_answered_closed_and_survives_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());

    // A visitor writes before any agent is ready: the conversation waits in its queue.
    let (status, sent) = server
        .post(
            "/v1/webchat/website/messages",
            json!({"visitor": "v-42", "name": "Jana", "message_id": "m-1", "text": "My order is late"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let conversation = sent["conversation"].as_str().unwrap().to_owned();
    assert!(
        data.path().join("events.redb").exists(),
        "the log is on disk in the data directory"
    );
    let position = sent["position"].as_u64().unwrap();
    let (status, waiting) = server.get(&format!("/v1/waiting?after={position}")).await;
    assert_eq!(status, 200, "{waiting}");
    let rows = waiting["waiting"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{waiting}");
    assert_eq!(rows[0]["conversation"], conversation.as_str());
    assert_eq!(rows[0]["queue"], "support");
    assert_eq!(rows[0]["handle"], "v-42");
    assert!(
        uuid::Uuid::parse_str(rows[0]["contact"].as_str().unwrap()).is_ok(),
        "routed on a pseudonym: {waiting}"
    );
    assert_eq!(rows[0]["contact_name"], "Jana");
    assert!(rows[0]["time_in_queue_ms"].is_u64(), "{waiting}");
    assert_eq!(rows[0]["offered_to"], Value::Null);
    assert_eq!(rows[0]["position"], 1);

    // Alice logs in to the queue and goes ready: the conversation is offered to her.
    let (status, login) = server
        .post("/v1/agents/alice/queues/support/login", json!(null))
        .await;
    assert_eq!(status, 200, "{login}");
    let (status, ready) = server.post("/v1/agents/alice/ready", json!(null)).await;
    assert_eq!(status, 200, "{ready}");
    let ready_types: Vec<&str> = ready["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(ready_types, ["AgentBecameReady", "ConversationOffered"]);
    let position = ready["position"].as_u64().unwrap();
    let (_, summary) = server
        .get(&format!(
            "/v1/conversations/{conversation}?after={position}"
        ))
        .await;
    assert_eq!(
        summary["status"], "waiting",
        "offered, not yet taken: {summary}"
    );
    assert_eq!(summary["offered_to"], "alice");
    let (_, waiting) = server.get(&format!("/v1/waiting?after={position}")).await;
    assert_eq!(
        waiting["waiting"][0]["offered_to"], "alice",
        "an offered conversation still waits until accepted: {waiting}"
    );

    // She accepts: it leaves the waiting view.
    let (status, accepted) = server
        .post(
            &format!("/v1/conversations/{conversation}/accept"),
            json!({"agent": "alice"}),
        )
        .await;
    assert_eq!(status, 200, "{accepted}");
    let position = accepted["position"].as_u64().unwrap();
    let (_, waiting) = server.get(&format!("/v1/waiting?after={position}")).await;
    assert_eq!(waiting["waiting"], json!([]));

    // They exchange messages; a redelivered customer message is stored once.
    let (status, reply) = server
        .post(
            &format!("/v1/conversations/{conversation}/messages"),
            json!({"agent": "alice", "text": "Sorry to hear that, Jana. Let me check."}),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    let (status, answer) = server
        .post(
            "/v1/webchat/website/messages",
            json!({"visitor": "v-42", "message_id": "m-2", "text": "Order 1234"}),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["conversation"], conversation.as_str());
    let head = server.head().await;
    let (status, again) = server
        .post(
            "/v1/webchat/website/messages",
            json!({"visitor": "v-42", "message_id": "m-2", "text": "Order 1234"}),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["conversation"], conversation.as_str());
    assert_eq!(server.head().await, head, "a redelivery appends nothing");

    // Closing without a status is refused with a precise problem and changes nothing.
    let (status, content_type, refused) = server
        .post_raw(
            &format!("/v1/conversations/{conversation}/close"),
            r#"{"agent": "alice"}"#,
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(
        refused["detail"],
        "a status is required to close a conversation"
    );
    assert_eq!(server.head().await, head, "a refused close appends nothing");
    let (_, summary) = server
        .get(&format!("/v1/conversations/{conversation}"))
        .await;
    assert_eq!(summary["status"], "active");

    let (status, closed) = server
        .post(
            &format!("/v1/conversations/{conversation}/close"),
            json!({"agent": "alice", "status": "resolved"}),
        )
        .await;
    assert_eq!(status, 200, "{closed}");
    let position = closed["position"].as_u64().unwrap();
    let (_, summary) = server
        .get(&format!(
            "/v1/conversations/{conversation}?after={position}"
        ))
        .await;
    assert_eq!(summary["status"], "closed");
    assert_eq!(summary["close_status"], "resolved");
    assert_eq!(summary["closed_by"], "alice");

    // The whole history, in order, with position, type, time and payload.
    let (status, history) = server
        .get(&format!("/v1/conversations/{conversation}/history"))
        .await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(
        types(&history),
        [
            "ConversationStarted",
            "CustomerMessageReceived",
            "ConversationEnqueued",
            "ConversationOffered",
            "OfferAccepted",
            "AgentMessageSent",
            "CustomerMessageReceived",
            "ConversationClosed",
        ]
    );
    let events = history["events"].as_array().unwrap();
    let positions: Vec<u64> = events
        .iter()
        .map(|e| e["position"].as_u64().unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    for event in events {
        let time = event["time"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(time).is_ok(),
            "time is RFC 3339: {time}"
        );
        assert!(event["payload"].is_object(), "{event}");
    }
    assert_eq!(events[1]["payload"]["text"], "My order is late");
    assert_eq!(events[3]["payload"]["agent"], "alice");
    assert_eq!(events[3]["payload"]["strategy"], "longest_idle");
    assert_eq!(
        events[5]["payload"]["text"],
        "Sorry to hear that, Jana. Let me check."
    );
    assert_eq!(events[7]["payload"]["status"], "resolved");

    // Stopped and started again on the same data directory: everything is still there.
    let exit = server.stop();
    assert!(exit.success(), "a graceful stop exits cleanly: {exit:?}");
    let server = Server::start(data.path());
    let (_, history_after) = server
        .get(&format!("/v1/conversations/{conversation}/history"))
        .await;
    assert_eq!(history_after, history);
    let head = server.head().await;
    let (_, summary) = server
        .get(&format!("/v1/conversations/{conversation}?after={head}"))
        .await;
    assert_eq!(summary["status"], "closed");
    assert_eq!(summary["close_status"], "resolved");
    let (_, alice) = server.get(&format!("/v1/agents/alice?after={head}")).await;
    assert_eq!(alice["presence"]["state"], "ready", "{alice}");
    assert_eq!(alice["queues"], json!(["support"]));
    assert_eq!(alice["conversations"], json!([]));
    assert_eq!(alice["load"], json!({}));

    // The routing state came back too: after a close the customer's next message starts a new
    // conversation, offered at once to Alice, still ready and logged in.
    let (status, next) = server
        .post(
            "/v1/webchat/website/messages",
            json!({"visitor": "v-42", "message_id": "m-3", "text": "One more thing"}),
        )
        .await;
    assert_eq!(status, 201, "{next}");
    assert_ne!(next["conversation"], conversation.as_str());
    let next_types: Vec<&str> = next["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        next_types,
        [
            "ConversationStarted",
            "CustomerMessageReceived",
            "ConversationEnqueued",
            "ConversationOffered"
        ]
    );
}

#[tokio::test]
async fn an_acknowledged_message_survives_a_kill_9() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let (status, sent) = server
        .post(
            "/v1/webchat/website/messages",
            json!({"visitor": "v-7", "message_id": "k-1", "text": "Are you there?"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let conversation = sent["conversation"].as_str().unwrap().to_owned();
    server.kill();

    let server = Server::start(data.path());
    let (status, history) = server
        .get(&format!("/v1/conversations/{conversation}/history"))
        .await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(
        types(&history),
        [
            "ConversationStarted",
            "CustomerMessageReceived",
            "ConversationEnqueued"
        ]
    );
    // The contact's key was durable before the events sealed under it: they still open.
    assert_eq!(history["events"][1]["payload"]["text"], "Are you there?");
    assert_eq!(history["events"][0]["payload"]["handle"], "v-7");
    let (_, waiting) = server
        .get(&format!("/v1/waiting?after={}", sent["position"]))
        .await;
    assert_eq!(waiting["waiting"][0]["conversation"], conversation.as_str());
    assert_eq!(waiting["waiting"][0]["handle"], "v-7");
}

#[tokio::test]
async fn bad_input_is_a_problem_and_appends_nothing() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let head = server.head().await;

    let (status, content_type, body) = server
        .post_raw("/v1/webchat/website/messages", r#"{"visitor": "v-1", "#)
        .await;
    assert_eq!(
        (status, content_type.as_str()),
        (400, "application/problem+json")
    );
    assert!(body["detail"].as_str().unwrap().contains("JSON"), "{body}");

    let (status, _, body) = server
        .post_raw(
            "/v1/webchat/nowhere/messages",
            r#"{"visitor": "v-1", "message_id": "x", "text": "hi"}"#,
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["detail"], "connector 'nowhere' is not configured");

    let (status, _, body) = server
        .post_raw(
            "/v1/webchat/website/messages",
            r#"{"visitor": "v-1", "message_id": "x", "text": "   "}"#,
        )
        .await;
    assert_eq!(status, 422, "{body}");

    let (status, body) = server
        .post("/v1/agents/bob/queues/sales/login", json!(null))
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["detail"], "agent 'bob' has no rights to queue 'sales'");

    let (status, body) = server
        .post(
            "/v1/conversations/01a207a8-31e4-7314-9a5f-ff883494488e/accept",
            json!({"agent": "alice"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");

    let (status, body) = server
        .post(
            "/v1/conversations/not-a-uuid/accept",
            json!({"agent": "alice"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");

    let (status, body) = server.get("/v1/no/such/route").await;
    assert_eq!(status, 404, "{body}");

    assert_eq!(server.head().await, head, "nothing was appended");
}

#[test]
fn an_invalid_configuration_file_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("centre.toml");
    std::fs::write(
        &config,
        "[[queues]]\nid = \"support\"\nchannels = [\"webchat\"]\n\n[[agents]]\nid = \"alice\"\nqueues = [\"sales\"]\n",
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--store")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "configuration file {}, line 7, column 11: agent 'alice' names queue 'sales', which is not defined",
            config.display()
        )),
        "{stderr}"
    );

    let missing = dir.path().join("missing.toml");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&missing.display().to_string()), "{stderr}");
}
