//! The whole HTTP surface, endpoint by endpoint, driven from the OpenAPI document the server
//! serves: every documented route exists, is in `docs/api.md`, and refuses no key, a wrong role,
//! malformed JSON and unknown ids with the right status, appending nothing; commands out of order
//! are refused likewise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::{ALICE, AUDITOR, Api, SUPERVISOR, Server, WEBSITE};

/// Every operation of the document: method, path template, tag, request body schema, secured.
struct Operation {
    method: String,
    path: String,
    tag: String,
    body: Option<String>,
    secured: bool,
}

async fn operations(server: &Server) -> Vec<Operation> {
    let response = server
        .as_key(None)
        .http
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let mut all = Vec::new();
    for (path, methods) in document["paths"].as_object().unwrap() {
        for (method, operation) in methods.as_object().unwrap() {
            let body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .map(|r| r.rsplit('/').next().unwrap().to_owned());
            all.push(Operation {
                method: method.to_uppercase(),
                path: path.clone(),
                tag: operation["tags"][0].as_str().unwrap().to_owned(),
                body,
                secured: operation.get("security").is_some(),
            });
        }
    }
    all
}

/// The path with its parameters filled in.
fn concrete(path: &str, conversation: &str) -> String {
    path.replace("{conversation}", conversation)
        .replace("{agent}", "alice")
        .replace("{queue}", "support")
        .replace("{connector}", "website")
        .replace("{key}", "demo-auditor")
}

/// A well-formed body of each request schema.
fn sample(schema: &str, conversation: &str) -> Value {
    match schema {
        "AgentBody" | "ImportantBody" => json!({"agent": "alice"}),
        "CloseBody" => json!({"agent": "alice", "status": "resolved"}),
        "HandOverBody" => json!({"agent": "alice", "to_queue": "sales"}),
        "AgentMessageBody" => json!({"agent": "alice", "text": "hello"}),
        "OutboundBody" => {
            json!({"agent": "alice", "connector": "website", "contact": "v-1", "text": "hello"})
        }
        "PauseBody" => json!({"reason": "lunch"}),
        "FocusBody" => json!({"conversation": conversation}),
        "WebchatMessage" => json!({"visitor": "v-9", "message_id": "m-9", "text": "hello"}),
        "WebchatLeft" => json!({"visitor": "v-9"}),
        "WebchatPresence" => json!({"visitor": "v-9", "online": false}),
        "Dispatch" => json!({"outcome": "sent", "provider_message_id": "out-9"}),
        "NewKey" => json!({"name": "another", "role": "auditor"}),
        "AnonymiseContact" => json!({"connector": "website", "handle": "v-1"}),
        other => panic!("no sample body for {other}: add one"),
    }
}

async fn call(api: &Api, op: &Operation, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = match op.method.as_str() {
        "GET" => api.http.get(api.url(path)),
        "POST" => api.http.post(api.url(path)),
        "DELETE" => api.http.delete(api.url(path)),
        other => panic!("{other}"),
    };
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    if kind == "text/event-stream" {
        return (status, Value::Null);
    }
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn kind(answer: &Value) -> &str {
    answer["type"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches("urn:switchboard:problem:")
}

#[tokio::test]
async fn every_documented_route_is_served_and_documented_in_the_guide() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let ops = operations(&server).await;
    assert!(ops.len() >= 45, "{} operations", ops.len());
    let guide = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/api.md"),
    )
    .unwrap();
    let unknown = uuid::Uuid::now_v7().to_string();
    let nobody = server.as_key(None);
    let head = server.head().await;
    for op in &ops {
        // Documented for people too: `| `METHOD /path…` in docs/api.md.
        assert!(
            guide.contains(&format!("`{} {}", op.method, op.path)),
            "{} {} is missing from docs/api.md",
            op.method,
            op.path
        );
        // Served: without a key, a secured route says 401 (never 404), an open one answers.
        let path = concrete(&op.path, &unknown);
        let (status, answer) = call(&nobody, op, &path, None).await;
        if op.secured {
            assert_eq!(status, 401, "{} {path}: {answer}", op.method);
            assert_eq!(kind(&answer), "unauthenticated");
        } else if op.path.ends_with("/webhook") {
            // A provider's webhook takes no key; a web-chat connector has none.
            assert_eq!(status, 403, "{} {path}: {answer}", op.method);
            assert_eq!(kind(&answer), "webhook-not-configured");
        } else {
            assert_eq!(status, 200, "{} {path}: {answer}", op.method);
        }
    }
    assert_eq!(server.head().await, head, "nothing was appended");
}

#[tokio::test]
async fn every_endpoint_refuses_a_role_it_is_not_for_and_appends_nothing() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let ops = operations(&server).await;
    let conversation = uuid::Uuid::now_v7().to_string();
    let (connector, supervisor, auditor, alice) = (
        server.as_key(Some(WEBSITE)),
        server.as_key(Some(SUPERVISOR)),
        server.as_key(Some(AUDITOR)),
        server.as_key(Some(ALICE)),
    );
    let head = server.head().await;
    let mut checked = 0;
    for op in ops.iter().filter(|op| op.secured && op.path != "/v1/me") {
        // Who may not call it: commands are not for supervisors (nor connectors, save their
        // own), reads not for connectors, keys only for admins, the log not for agents.
        let wrong: Vec<&Api> = match (op.tag.as_str(), op.path.as_str()) {
            (_, p) if p.starts_with("/v1/webchat/") => vec![&supervisor, &alice],
            ("commands", _) => vec![&supervisor, &auditor, &connector],
            ("keys", _) => vec![&auditor, &supervisor, &alice],
            ("connectors", _) => vec![&auditor, &supervisor, &alice],
            ("audit", _) => vec![&connector, &supervisor, &alice],
            ("privacy", _) => vec![&connector, &auditor, &supervisor, &alice],
            (_, "/v1/log") => vec![&connector, &alice, &supervisor],
            _ => vec![&connector],
        };
        let path = concrete(&op.path, &conversation);
        for api in wrong {
            let body = op.body.as_deref().map(|s| sample(s, &conversation));
            let (status, answer) = call(api, op, &path, body).await;
            assert_eq!(status, 403, "{} {path}: {answer}", op.method);
            assert_eq!(
                kind(&answer),
                "wrong-role",
                "{} {path}: {answer}",
                op.method
            );
            checked += 1;
        }
    }
    assert!(checked > 60, "{checked}");
    assert_eq!(server.head().await, head, "nothing was appended");
}

#[tokio::test]
async fn malformed_bodies_and_unknown_ids_are_refused_and_append_nothing() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let ops = operations(&server).await;
    let unknown = uuid::Uuid::now_v7().to_string();
    let head = server.head().await;
    for op in ops.iter().filter(|op| op.body.is_some()) {
        let path = concrete(&op.path, &unknown);
        let (status, kind_of, answer) = server.post_raw(&path, "{not json").await;
        assert_eq!(status, 400, "{path}: {answer}");
        assert_eq!(kind_of, "application/problem+json");
        assert_eq!(kind(&answer), "unreadable-request", "{path}");
        // A field the endpoint does not know is refused too, not ignored.
        let mut body = sample(op.body.as_deref().unwrap(), &unknown);
        body["colour"] = json!("blue");
        let (status, answer) = server.post(&path, body).await;
        assert_eq!(status, 422, "{path}: {answer}");
        assert!(
            answer["detail"].as_str().unwrap().contains("colour"),
            "{path}: {answer}"
        );
    }
    // Unknown ids, in the path: a conversation that is not open is a conflict for a command
    // (the log cannot tell "never" from "no longer"), a 404 for a query; an unknown agent,
    // queue, connector or key is a 404.
    for op in &ops {
        let unknown_path = op
            .path
            .replace("{conversation}", &unknown)
            .replace("{agent}", "nobody")
            .replace("{queue}", "nowhere")
            .replace("{connector}", "nothing")
            .replace("{key}", "nobody");
        if unknown_path == op.path || op.path.contains("{agent}/queues/{queue}") {
            continue;
        }
        let body = op.body.as_deref().map(|s| sample(s, &unknown));
        let (status, answer) = call(
            &server.as_key(Some(support::ADMIN)),
            op,
            &unknown_path,
            body,
        )
        .await;
        let expected = if op.tag == "commands" && op.path.contains("{conversation}") {
            (409, "conversation-not-open")
        } else if op.path.contains("{connector}") {
            (404, "unknown-connector")
        } else if op.path.contains("{key}") {
            (404, "unknown-key")
        } else if op.tag == "commands" {
            (404, "unknown-agent")
        } else {
            (404, "not-found")
        };
        assert_eq!(
            (status, kind(&answer)),
            expected,
            "{} {unknown_path}: {answer}",
            op.method
        );
    }
    for path in [
        "/v1/agents/nobody/queues/support/login",
        "/v1/agents/alice/queues/nowhere/login",
    ] {
        let (status, answer) = server.post(path, json!(null)).await;
        assert_eq!(status, 404, "{path}: {answer}");
    }
    assert_eq!(server.head().await, head, "nothing was appended");
}

#[tokio::test]
async fn commands_out_of_order_are_conflicts_and_append_nothing() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let (status, sent) = server
        .as_key(Some(WEBSITE))
        .post(
            "/v1/webchat/website/messages",
            json!({"visitor": "v-1", "message_id": "m-1", "text": "Hello"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let c = sent["conversation"].as_str().unwrap().to_owned();
    let alice = server.as_key(Some(ALICE));
    let head = server.head().await;
    let refusals = [
        (
            format!("/v1/conversations/{c}/accept"),
            json!({"agent": "alice"}),
            "not-offered-to-agent",
        ),
        (
            format!("/v1/conversations/{c}/close"),
            json!({"agent": "alice", "status": "resolved"}),
            "agent-not-in-conversation",
        ),
        (
            format!("/v1/conversations/{c}/messages"),
            json!({"agent": "alice", "text": "hi"}),
            "agent-not-in-conversation",
        ),
        (
            format!("/v1/conversations/{c}/resume"),
            json!({"agent": "alice"}),
            "agent-not-in-conversation",
        ),
        (
            format!("/v1/conversations/{c}/leave"),
            json!({"agent": "alice"}),
            "agent-not-in-conversation",
        ),
        (
            format!("/v1/conversations/{c}/grab"),
            json!({"agent": "alice"}),
            "not-a-team-queue",
        ),
        (
            "/v1/agents/alice/queues/support/logout".to_owned(),
            json!(null),
            "not-logged-in",
        ),
    ];
    for (path, body, expected) in &refusals {
        let (status, answer) = alice.post(path, body.clone()).await;
        assert_eq!(status, 409, "{path}: {answer}");
        assert_eq!(kind(&answer), *expected, "{path}: {answer}");
    }
    assert_eq!(server.head().await, head, "nothing was appended");
    // In order, the same commands go through.
    let steps = [
        (
            "/v1/agents/alice/queues/support/login".to_owned(),
            json!(null),
        ),
        ("/v1/agents/alice/ready".to_owned(), json!(null)),
        (
            format!("/v1/conversations/{c}/accept"),
            json!({"agent": "alice"}),
        ),
        (
            format!("/v1/conversations/{c}/messages"),
            json!({"agent": "alice", "text": "hi"}),
        ),
    ];
    for (path, body) in &steps {
        let (status, answer) = alice.post(path, body.clone()).await;
        assert_eq!(status, 200, "{path}: {answer}");
    }
    // Only the centre's close statuses and pause reasons are taken.
    let head = server.head().await;
    let (status, answer) = alice
        .post(
            &format!("/v1/conversations/{c}/close"),
            json!({"agent": "alice", "status": "done"}),
        )
        .await;
    assert_eq!(
        (status, kind(&answer)),
        (422, "unknown-close-status"),
        "{answer}"
    );
    assert!(
        answer["detail"]
            .as_str()
            .unwrap()
            .contains("resolved, follow_up"),
        "the refusal names the statuses: {answer}"
    );
    let (status, answer) = alice
        .post(
            "/v1/agents/alice/pause",
            json!({"reason": "nap", "paid": false}),
        )
        .await;
    assert_eq!(
        (status, kind(&answer)),
        (422, "unknown-pause-reason"),
        "{answer}"
    );
    assert_eq!(server.head().await, head, "nothing was appended");
    let (status, answer) = alice
        .post(
            &format!("/v1/conversations/{c}/close"),
            json!({"agent": "alice", "status": "resolved"}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = alice.post("/v1/agents/alice/ready", json!(null)).await;
    assert_eq!((status, kind(&answer)), (409, "already-ready"), "{answer}");
}
