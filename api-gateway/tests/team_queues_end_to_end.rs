//! Team queues and waiting limits through the real binary: a grab race has one winner and the
//! loser is told who won, a team admin joins what was grabbed, a collaboration team joins
//! together, a conversation nobody grabbed overflows on the engine's own timer, and a visitor who
//! leaves while the conversation waits ends it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::{Server, write_config};

const CENTRE: &str = r#"
[[queues]]
id = "support"
channels = ["webchat"]

[[queues]]
id = "grabbers"
channels = ["webchat"]
mode = "grab"
max_wait_s = 600
overflow_to = "support"

[[queues]]
id = "helpers"
channels = ["webchat"]
mode = "collaboration"

[[agents]]
id = "alice"
queues = ["grabbers", "helpers"]
capacity = { webchat = 2 }

[[agents]]
id = "dave"
queues = ["grabbers", "helpers"]
capacity = { webchat = 2 }

[[agents]]
id = "erin"
admin_of = ["grabbers"]
capacity = { webchat = 2 }

[[agents]]
id = "bob"
queues = ["support"]
capacity = { webchat = 1 }

[[connectors]]
id = "grab-site"
channel = "webchat"
queue = "grabbers"

[[connectors]]
id = "help-site"
channel = "webchat"
queue = "helpers"
"#;

async fn ready_in(server: &Server, queue: &str, agents: &[&str]) {
    for agent in agents {
        let (status, body) = server
            .post(
                &format!("/v1/agents/{agent}/queues/{queue}/login"),
                json!(null),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = server
            .post(&format!("/v1/agents/{agent}/ready"), json!(null))
            .await;
        assert!(status == 200 || status == 409, "{body}");
    }
}

async fn customer_writes(server: &Server, connector: &str, visitor: &str) -> Value {
    let (status, sent) = server
        .post(
            &format!("/v1/webchat/{connector}/messages"),
            json!({"visitor": visitor, "message_id": format!("{visitor}-1"), "text": "Hello?"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    sent
}

#[tokio::test]
async fn a_grab_race_has_one_winner_the_loser_is_told_who_won_and_an_admin_joins() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), CENTRE);
    let server = Server::start_with(&config, dir.path().join("data"));
    ready_in(&server, "grabbers", &["alice", "dave"]).await;
    let sent = customer_writes(&server, "grab-site", "v-1").await;
    let conversation = sent["conversation"].as_str().unwrap();
    let types: Vec<&str> = sent["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"TeamNotified"), "{types:?}");
    assert!(!types.contains(&"ConversationOffered"), "{types:?}");

    // Both grab at once: the single writer decides, exactly one wins.
    let grab = |agent: &'static str| {
        let server = &server;
        async move {
            server
                .post(
                    &format!("/v1/conversations/{conversation}/grab"),
                    json!({"agent": agent}),
                )
                .await
        }
    };
    let ((alice_status, alice), (dave_status, dave)) = tokio::join!(grab("alice"), grab("dave"));
    let mut statuses = [alice_status, dave_status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{alice} {dave}");
    let (winner, loser) = if alice_status == 200 {
        ("alice", dave)
    } else {
        ("dave", alice)
    };
    assert_eq!(
        loser["type"], "urn:switchboard:problem:already-grabbed",
        "{loser}"
    );
    assert!(
        loser["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("already grabbed by '{winner}'")),
        "{loser}"
    );
    let (_, log) = server.get("/v1/log?after=0").await;
    let grabs = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "ConversationGrabbed")
        .count();
    assert_eq!(grabs, 1);

    // The team's admin sees it on the board, and who won; the loser, with an agent's key, no
    // longer does.
    let key_for = |agent: &'static str| {
        let server = &server;
        async move {
            let (status, issued) = server
                .post(
                    "/v1/keys",
                    json!({"name": agent, "role": "agent", "agent": agent}),
                )
                .await;
            assert_eq!(status, 201, "{issued}");
            issued["secret"].as_str().unwrap().to_owned()
        }
    };
    let erin_key = key_for("erin").await;
    let loser_name = if winner == "alice" { "dave" } else { "alice" };
    let loser_key = key_for(loser_name).await;
    let head = server.head().await;
    let (status, board) = server
        .as_key(Some(&erin_key))
        .get(&format!("/v1/board?team=grabbers&after={head}"))
        .await;
    assert_eq!(status, 200, "{board}");
    let row = board["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["conversation"] == conversation)
        .unwrap_or_else(|| panic!("the admin sees it: {board}"));
    assert_eq!(row["grabbed_by"], winner, "{board}");
    let (_, theirs) = server
        .as_key(Some(&loser_key))
        .get(&format!("/v1/board?team=grabbers&after={head}"))
        .await;
    assert_eq!(theirs["conversations"], json!([]), "{theirs}");
    let (_, erin) = server.get("/v1/agents/erin").await;
    assert_eq!(erin["admin_of"], json!(["grabbers"]), "{erin}");

    let head = server.head().await;
    let (status, body) = server
        .post(
            &format!("/v1/conversations/{conversation}/grab"),
            json!({"agent": "erin"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(server.head().await, head, "a refused grab appends nothing");
    let (status, body) = server
        .post(
            &format!("/v1/conversations/{conversation}/join"),
            json!({"agent": "erin"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, view) = server
        .get(&format!(
            "/v1/conversations/{conversation}?after={}",
            body["position"]
        ))
        .await;
    let agents: Vec<&str> = view["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(agents, {
        let mut both = vec![winner, "erin"];
        both.sort_unstable();
        both
    });
    assert_eq!(view["grabbed_by"], winner, "{view}");
    // Once the winner leaves, the board no longer says they have it.
    let (status, left) = server
        .post(
            &format!("/v1/conversations/{conversation}/leave"),
            json!({"agent": winner}),
        )
        .await;
    assert_eq!(status, 200, "{left}");
    let (_, view) = server
        .get(&format!(
            "/v1/conversations/{conversation}?after={}",
            left["position"]
        ))
        .await;
    assert_eq!(view["grabbed_by"], Value::Null, "{view}");
    assert_eq!(view["agents"], json!(["erin"]), "{view}");
}

#[tokio::test]
async fn a_collaboration_team_joins_together() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), CENTRE);
    let server = Server::start_with(&config, dir.path().join("data"));
    ready_in(&server, "helpers", &["alice", "dave"]).await;
    let sent = customer_writes(&server, "help-site", "v-2").await;
    let conversation = sent["conversation"].as_str().unwrap();
    for agent in ["alice", "dave"] {
        let (status, body) = server
            .post(
                &format!("/v1/conversations/{conversation}/join"),
                json!({"agent": agent}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = server
        .post(
            &format!("/v1/conversations/{conversation}/join"),
            json!({"agent": "bob"}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["type"], "urn:switchboard:problem:no-rights-to-queue");
}

#[tokio::test]
async fn a_conversation_nobody_grabs_overflows_on_the_engines_timer() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &CENTRE.replace("max_wait_s = 600", "max_wait_s = 1"),
    );
    let server = Server::start_with(&config, dir.path().join("data"));
    ready_in(&server, "support", &["bob"]).await;
    let sent = customer_writes(&server, "grab-site", "v-3").await;
    let conversation = sent["conversation"].as_str().unwrap();
    let start = sent["position"].as_u64().unwrap();
    let (reached, _) = server
        .wait_for_event(start, "WaitLimitReached", conversation)
        .await;
    assert_eq!(reached["payload"]["then"], "overflowed");
    assert_eq!(reached["payload"]["to"], "support");
    let (offered, _) = server
        .wait_for_event(
            reached["position"].as_u64().unwrap(),
            "ConversationOffered",
            conversation,
        )
        .await;
    assert_eq!(offered["payload"]["agent"], "bob");
    assert_eq!(offered["payload"]["queue"], "support");
}

#[tokio::test]
async fn a_visitor_who_leaves_while_waiting_ends_the_conversation_unanswered() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), CENTRE);
    let server = Server::start_with(&config, dir.path().join("data"));
    let sent = customer_writes(&server, "help-site", "v-4").await;
    let conversation = sent["conversation"].as_str().unwrap();
    let (_, waiting) = server
        .get(&format!("/v1/waiting?after={}", sent["position"]))
        .await;
    assert_eq!(waiting["waiting"].as_array().unwrap().len(), 1, "{waiting}");
    let (status, left) = server
        .post("/v1/webchat/help-site/left", json!({"visitor": "v-4"}))
        .await;
    assert_eq!(status, 200, "{left}");
    assert_eq!(left["conversation"], conversation);
    let (_, waiting) = server
        .get(&format!("/v1/waiting?after={}", left["position"]))
        .await;
    assert_eq!(waiting["waiting"].as_array().unwrap().len(), 0, "{waiting}");
    let (_, view) = server
        .get(&format!(
            "/v1/conversations/{conversation}?after={}",
            left["position"]
        ))
        .await;
    assert_eq!(view["status"], "closed", "{view}");

    let head = server.head().await;
    let (status, body) = server
        .post("/v1/webchat/help-site/left", json!({"visitor": "v-4"}))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(server.head().await, head);
}
