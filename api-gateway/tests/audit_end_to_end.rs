//! An auditor's questions about the past, through the real binary: one conversation and any read
//! model as of a position or a time, and a rebuild of every read model checked against the live
//! ones.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use support::{ALICE, AUDITOR, Server, WEBSITE, event_types as types};

#[tokio::test]
async fn an_auditor_sees_a_conversation_and_the_read_models_as_they_stood() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let auditor = server.as_key(Some(AUDITOR));

    let (status, sent) = server
        .as_key(Some(WEBSITE))
        .post(
            "/v1/webchat/website/messages",
            json!({"visitor": "v-5", "name": "Jana", "message_id": "m-1", "text": "Hello"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let conversation = sent["conversation"].as_str().unwrap().to_owned();
    let waiting_at = sent["position"].as_u64().unwrap();
    let head = server.head().await;
    let accepted = server.agent_takes("alice", &conversation, head).await;
    let active_at = accepted["position"].as_u64().unwrap();
    server
        .post(
            &format!("/v1/conversations/{conversation}/messages"),
            json!({"agent": "alice", "text": "How can I help?"}),
        )
        .await;
    let (status, closed) = server
        .post(
            &format!("/v1/conversations/{conversation}/close"),
            json!({"agent": "alice", "status": "resolved"}),
        )
        .await;
    assert_eq!(status, 200, "{closed}");

    // As of the customer's first message: waiting, nobody in it, one message.
    let (status, then) = auditor
        .get(&format!(
            "/v1/audit/conversations/{conversation}?position={waiting_at}"
        ))
        .await;
    assert_eq!(status, 200, "{then}");
    assert_eq!(then["position"], waiting_at);
    assert_eq!(then["conversation"]["status"], "waiting", "{then}");
    assert_eq!(then["conversation"]["agents"], json!([]));
    assert_eq!(
        types(&then["events"]),
        [
            "ConversationStarted",
            "CustomerMessageReceived",
            "ConversationEnqueued"
        ]
    );
    assert_eq!(then["events"][1]["payload"]["text"], "Hello");

    // As of the accept: Alice in it.
    let (status, then) = auditor
        .get(&format!(
            "/v1/audit/conversations/{conversation}?position={active_at}"
        ))
        .await;
    assert_eq!(status, 200, "{then}");
    assert_eq!(then["conversation"]["status"], "active", "{then}");
    assert_eq!(then["conversation"]["agents"], json!(["alice"]));
    assert!(!types(&then["events"]).contains(&"AgentMessageSent".to_owned()));

    // Now (by time): closed, with the reply.
    let now = chrono::Utc::now().to_rfc3339();
    let (status, now_view) = auditor
        .get(&format!(
            "/v1/audit/conversations/{conversation}?at={}",
            now.replace('+', "%2B")
        ))
        .await;
    assert_eq!(status, 200, "{now_view}");
    assert_eq!(now_view["conversation"]["status"], "closed", "{now_view}");
    assert!(types(&now_view["events"]).contains(&"AgentMessageSent".to_owned()));
    // Before it began, it did not exist.
    let (status, _) = auditor
        .get(&format!(
            "/v1/audit/conversations/{conversation}?at=2001-01-01T00:00:00Z"
        ))
        .await;
    assert_eq!(status, 404);

    // A read model as it stood: the conversation waited then, and waits no more.
    let (status, waiting) = auditor
        .get(&format!("/v1/audit/views/waiting?position={waiting_at}"))
        .await;
    assert_eq!(status, 200, "{waiting}");
    assert!(
        waiting["state"].to_string().contains(&conversation),
        "{waiting}"
    );
    let (status, waiting) = auditor.get("/v1/audit/views/waiting").await;
    assert_eq!(status, 200, "{waiting}");
    assert!(
        !waiting["state"].to_string().contains(&conversation),
        "{waiting}"
    );

    // The live read models say what the log says.
    let (status, report) = auditor.post("/v1/audit/rebuild", json!(null)).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["all_match"], true, "{report}");
    assert!(report["views"].as_array().unwrap().len() >= 10);

    // Refusals: not an auditor, both moments, a moment past the head, a view that does not exist.
    let (status, _) = server
        .as_key(Some(ALICE))
        .get(&format!("/v1/audit/conversations/{conversation}"))
        .await;
    assert_eq!(status, 403);
    let (status, _) = auditor
        .get(&format!(
            "/v1/audit/conversations/{conversation}?position=1&at=2001-01-01T00:00:00Z"
        ))
        .await;
    assert_eq!(status, 400);
    let (status, _) = auditor
        .get(&format!(
            "/v1/audit/conversations/{conversation}?position=999999"
        ))
        .await;
    assert_eq!(status, 400);
    let (status, answer) = auditor.get("/v1/audit/views/everything").await;
    assert_eq!(status, 404, "{answer}");
}
