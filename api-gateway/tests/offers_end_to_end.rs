//! Offers through the real binary: an unanswered offer times out on the engine's own timer and the
//! agent is paused; a rejected offer moves on; an agent takes a conversation from the waiting list;
//! deadlines and a changed configuration take effect after a restart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::{Server, write_config};

const CENTRE: &str = r#"
[[queues]]
id = "support"
channels = ["webchat"]
offer_timeout_s = 1
pause_on_missed_offer = true

[[agents]]
id = "alice"
queues = ["support"]
capacity = { webchat = 1 }

[[agents]]
id = "bob"
queues = ["support"]
capacity = { webchat = 1 }

[[agents]]
id = "carol"
queues = ["support"]
capacity = { webchat = 1 }

[[connectors]]
id = "website"
channel = "webchat"
queue = "support"
"#;

async fn ready_in_support(server: &Server, agents: &[&str]) -> u64 {
    let mut position = 0;
    for agent in agents {
        let (status, body) = server
            .post(
                &format!("/v1/agents/{agent}/queues/support/login"),
                json!(null),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = server
            .post(&format!("/v1/agents/{agent}/ready"), json!(null))
            .await;
        assert_eq!(status, 200, "{body}");
        position = body["position"].as_u64().unwrap();
    }
    position
}

async fn customer_writes(server: &Server, visitor: &str, message_id: &str) -> Value {
    let (status, sent) = server
        .post(
            "/v1/webchat/website/messages",
            json!({"visitor": visitor, "message_id": message_id, "text": "Hello?"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    sent
}

fn offered_agent(events: &[Value], conversation: &str) -> Option<String> {
    events
        .iter()
        .rev()
        .find(|e| {
            e["type"] == "ConversationOffered" && e["payload"]["conversation"] == conversation
        })
        .map(|e| e["payload"]["agent"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn an_unanswered_offer_times_out_the_agent_is_paused_and_the_next_agent_is_offered() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), CENTRE);
    let server = Server::start_with(&config, dir.path().join("data"));
    ready_in_support(&server, &["alice", "bob"]).await;
    let sent = customer_writes(&server, "v-1", "m-1").await;
    let conversation = sent["conversation"].as_str().unwrap();
    let start = sent["position"].as_u64().unwrap();
    let (_, log) = server.get("/v1/log?after=0").await;
    let first = offered_agent(log["events"].as_array().unwrap(), conversation).unwrap();

    let (timed_out, seen) = server
        .wait_for_event(start, "OfferTimedOut", conversation)
        .await;
    assert_eq!(timed_out["payload"]["agent"], first.as_str());
    let (_, after) = server
        .wait_for_event(
            timed_out["position"].as_u64().unwrap(),
            "ConversationOffered",
            conversation,
        )
        .await;
    let all: Vec<Value> = seen.into_iter().chain(after).collect();
    let paused = all
        .iter()
        .find(|e| e["type"] == "AgentPaused" && e["payload"]["agent"] == first.as_str())
        .expect("the agent who missed the offer is paused");
    assert_eq!(paused["payload"]["paid"], false);
    assert_eq!(paused["payload"]["automatic"], true);
    assert_eq!(paused["payload"]["reason"], "missed offer");
    let second = offered_agent(&all, conversation).unwrap();
    assert_ne!(
        second, first,
        "never straight back to the agent who missed it"
    );

    let (_, agent) = server
        .get(&format!("/v1/agents/{first}?after={}", server.head().await))
        .await;
    assert_eq!(agent["presence"]["state"], "paused", "{agent}");
}

#[tokio::test]
async fn a_rejected_offer_moves_to_the_next_agent() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &CENTRE.replace("offer_timeout_s = 1", "offer_timeout_s = 600"),
    );
    let server = Server::start_with(&config, dir.path().join("data"));
    ready_in_support(&server, &["alice", "bob"]).await;
    let sent = customer_writes(&server, "v-1", "m-1").await;
    let conversation = sent["conversation"].as_str().unwrap();
    let (_, log) = server.get("/v1/log?after=0").await;
    let first = offered_agent(log["events"].as_array().unwrap(), conversation).unwrap();

    let (status, rejected) = server
        .post(
            &format!("/v1/conversations/{conversation}/reject"),
            json!({"agent": first}),
        )
        .await;
    assert_eq!(status, 200, "{rejected}");
    let types: Vec<&str> = rejected["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["OfferRejected", "ConversationOffered"]);
    let (_, log) = server.get("/v1/log?after=0").await;
    let second = offered_agent(log["events"].as_array().unwrap(), conversation).unwrap();
    assert_ne!(second, first);

    // The agent who rejected it can no longer accept it.
    let (status, body) = server
        .post(
            &format!("/v1/conversations/{conversation}/accept"),
            json!({"agent": first}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
}

#[tokio::test]
async fn an_agent_logged_out_of_the_queue_takes_a_conversation_from_the_waiting_list() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), CENTRE);
    let server = Server::start_with(&config, dir.path().join("data"));
    let sent = customer_writes(&server, "v-1", "m-1").await;
    let conversation = sent["conversation"].as_str().unwrap();
    let (status, taken) = server
        .post(
            &format!("/v1/conversations/{conversation}/accept-from-waiting"),
            json!({"agent": "carol"}),
        )
        .await;
    assert_eq!(status, 200, "{taken}");
    assert_eq!(taken["events"][0]["type"], "AcceptedFromWaiting");
    let (_, waiting) = server
        .get(&format!("/v1/waiting?after={}", taken["position"]))
        .await;
    assert_eq!(waiting["waiting"], json!([]));
    let (status, body) = server
        .post(
            &format!("/v1/conversations/{conversation}/accept-from-waiting"),
            json!({"agent": "bob"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        body["type"],
        "urn:switchboard:problem:conversation-not-waiting"
    );
}

#[tokio::test]
async fn an_offer_deadline_survives_a_crash_and_fires_once_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &CENTRE.replace("offer_timeout_s = 1", "offer_timeout_s = 2"),
    );
    let data = dir.path().join("data");
    let server = Server::start_with(&config, &data);
    ready_in_support(&server, &["alice"]).await;
    let sent = customer_writes(&server, "v-1", "m-1").await;
    let conversation = sent["conversation"].as_str().unwrap().to_owned();
    server.kill();

    let server = Server::start_with(&config, &data);
    let (timed_out, _) = server
        .wait_for_event(0, "OfferTimedOut", &conversation)
        .await;
    assert_eq!(timed_out["payload"]["agent"], "alice");
    let (_, log) = server.get("/v1/log?after=0").await;
    let count = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "OfferTimedOut")
        .count();
    assert_eq!(count, 1, "{log}");
}

#[tokio::test]
async fn more_capacity_in_the_configuration_takes_effect_at_restart() {
    let dir = tempfile::tempdir().unwrap();
    let slow = CENTRE.replace("offer_timeout_s = 1", "offer_timeout_s = 600");
    let config = write_config(dir.path(), &slow);
    let data = dir.path().join("data");
    let server = Server::start_with(&config, &data);
    ready_in_support(&server, &["alice"]).await;
    customer_writes(&server, "v-1", "m-1").await;
    let waiting = customer_writes(&server, "v-2", "m-2").await;
    let second = waiting["conversation"].as_str().unwrap().to_owned();
    assert!(server.stop().success());

    // Alice now takes two web chats at once: the waiting conversation is offered at start-up.
    write_config(
        dir.path(),
        &slow.replacen(
            "capacity = { webchat = 1 }",
            "capacity = { webchat = 2 }",
            1,
        ),
    );
    let server = Server::start_with(&config, &data);
    let (offered, _) = server
        .wait_for_event(0, "ConversationOffered", &second)
        .await;
    assert_eq!(offered["payload"]["agent"], "alice");
}

#[tokio::test]
async fn wrong_methods_media_types_and_sizes_are_problems_too() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path().join("data"));
    let response = server
        .http
        .delete(server.url("/v1/waiting"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );

    let response = server
        .http
        .post(server.url("/v1/webchat/website/messages"))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );

    let huge = format!(
        r#"{{"visitor":"v","message_id":"m","text":"{}"}}"#,
        "x".repeat(100 * 1024)
    );
    let response = server
        .http
        .post(server.url("/v1/webchat/website/messages"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(server.head().await, 0);
}

#[tokio::test]
async fn a_colleague_may_decline_a_transfer_and_an_invited_colleague_continues_after_the_first_closes()
 {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &CENTRE.replace("offer_timeout_s = 1", "offer_timeout_s = 600"),
    );
    let server = Server::start_with(&config, dir.path().join("data"));
    ready_in_support(&server, &["alice"]).await;
    let sent = customer_writes(&server, "v-1", "m-1").await;
    let conversation = sent["conversation"].as_str().unwrap().to_owned();
    let (status, body) = server
        .post(
            &format!("/v1/conversations/{conversation}/accept"),
            json!({"agent": "alice"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    ready_in_support(&server, &["bob"]).await;

    // Bob declines the transfer: the conversation stays with Alice.
    let (status, body) = server
        .post(
            &format!("/v1/conversations/{conversation}/transfer"),
            json!({"agent": "alice", "to_agent": "bob"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["events"][0]["type"], "TransferOffered");
    let (status, body) = server
        .post(
            &format!("/v1/conversations/{conversation}/reject"),
            json!({"agent": "bob"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, summary) = server
        .get(&format!(
            "/v1/conversations/{conversation}?after={}",
            body["position"]
        ))
        .await;
    assert_eq!(summary["agents"], json!(["alice"]));

    // Bob accepts an invitation; Alice closes her part; the customer continues with Bob.
    let (status, body) = server
        .post(
            &format!("/v1/conversations/{conversation}/invite"),
            json!({"agent": "alice", "to_agent": "bob"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    server
        .post(
            &format!("/v1/conversations/{conversation}/accept"),
            json!({"agent": "bob"}),
        )
        .await;
    let (status, body) = server
        .post(
            &format!("/v1/conversations/{conversation}/close"),
            json!({"agent": "alice", "status": "follow_up"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["events"][0]["type"], "AgentLeft");
    let (_, summary) = server
        .get(&format!(
            "/v1/conversations/{conversation}?after={}",
            body["position"]
        ))
        .await;
    assert_eq!(summary["status"], "active");
    assert_eq!(summary["agents"], json!(["bob"]));

    let (status, body) = server
        .post(
            &format!("/v1/conversations/{conversation}/transfer"),
            json!({"agent": "bob", "to_agent": "alice", "to_queue": "support"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
}
