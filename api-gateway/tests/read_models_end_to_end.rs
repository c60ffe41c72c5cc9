//! The read models across restarts of the real binary: their lag is a metric; a graceful stop
//! leaves a snapshot of them at the log's head; the next start resumes from it (and only from a snapshot of this very log);
//! after a SIGKILL the next start resumes from the older snapshot and replays the rest, counting
//! nothing twice.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use std::path::Path;
use support::Server;

const SNAPSHOT: &str = "snapshots/read-models.snapshot";

/// A visitor's message; returns its conversation.
async fn message(server: &Server, visitor: &str, id: &str) -> String {
    let (status, sent) = server
        .post(
            "/v1/webchat/website/messages",
            json!({"visitor": visitor, "message_id": id, "text": "Hello"}),
        )
        .await;
    assert!(status == 201, "{sent}");
    sent["conversation"].as_str().unwrap().to_owned()
}

/// What the read models show, once they have caught up with the log.
async fn views(server: &Server, conversation: &str) -> Value {
    let head = server.head().await;
    let (_, summary) = server
        .get(&format!("/v1/conversations/{conversation}?after={head}"))
        .await;
    let (_, waiting) = server.get(&format!("/v1/waiting?after={head}")).await;
    let (_, alice) = server.get(&format!("/v1/agents/alice?after={head}")).await;
    let mut waiting = waiting["waiting"].clone();
    // Time in queue grows between reads; everything else must be equal.
    for row in waiting.as_array_mut().unwrap() {
        row["time_in_queue_ms"] = Value::Null;
    }
    json!({"summary": summary, "waiting": waiting, "alice": alice})
}

/// The snapshot file: its header line and its body, parsed.
fn read_snapshot(data: &Path) -> (Value, Value) {
    let text = std::fs::read_to_string(data.join(SNAPSHOT)).expect("a snapshot was written");
    let (header, body) = text.split_once('\n').unwrap();
    (
        serde_json::from_str(header).unwrap(),
        serde_json::from_str(body).unwrap(),
    )
}

fn write_snapshot(data: &Path, header: &Value, body: &Value) {
    std::fs::write(data.join(SNAPSHOT), format!("{header}\n{body}")).unwrap();
}

#[tokio::test]
async fn read_models_resume_from_their_snapshot_and_count_nothing_twice() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let conversation = message(&server, "v-1", "m-1").await;
    message(&server, "v-1", "m-2").await;
    message(&server, "v-2", "m-3").await;
    let (status, _) = server
        .post("/v1/agents/alice/queues/support/login", json!(null))
        .await;
    assert_eq!(status, 200);
    let before = views(&server, &conversation).await;
    assert_eq!(before["summary"]["customer_messages"], 2, "{before}");
    let head = server.head().await;

    // Caught up: the server says it is ready.
    let (status, ready) = server.get("/readyz").await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["head"], head);

    // Their lag behind the log is a metric: none, once they have caught up.
    let metrics = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let metrics = metrics.text().await.unwrap();
    let figure = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing from {metrics}"))
            .parse()
            .unwrap()
    };
    assert_eq!(figure("switchboard_log_head"), head);
    assert_eq!(figure("switchboard_read_models_checkpoint"), head);
    assert_eq!(figure("switchboard_read_models_lag_events"), 0);
    // Requests by route template and status, their durations, the engine's appends, and what
    // waits per queue.
    assert!(
        metrics.contains(
            "switchboard_http_requests_total{route=\"/v1/webchat/{connector}/messages\",method=\"POST\",status=\"201\"}"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("switchboard_http_request_duration_seconds_count{route=\"/v1/waiting\""),
        "{metrics}"
    );
    assert!(figure("switchboard_append_duration_seconds_count") > 0);
    assert!(figure("switchboard_engine_batch_commands_count") > 0);
    let waiting: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("switchboard_waiting_conversations{queue=\"support\"} "))
        .unwrap_or_else(|| panic!("{metrics}"))
        .parse()
        .unwrap();
    let (_, listed) = server.get("/v1/waiting?queue=support").await;
    assert_eq!(
        waiting as usize,
        listed["waiting"].as_array().unwrap().len()
    );

    // A graceful stop writes the views at the log's head.
    assert!(server.stop().success());
    let (header, body) = read_snapshot(data.path());
    assert_eq!(header["anchor"]["position"], head, "{header}");
    assert_eq!(body["models"]["checkpoint"], head);

    // The next start shows the same views. That they come from the snapshot, not from a replay,
    // shows once the snapshot says something the log does not: the views then say it too.
    let server = Server::start(data.path());
    assert_eq!(views(&server, &conversation).await, before);
    assert!(server.stop().success());
    let mut marked = body.clone();
    marked["models"]["conversations"]["conversations"][&conversation]["customer_messages"] =
        json!(41);
    write_snapshot(data.path(), &header, &marked);
    let server = Server::start(data.path());
    let resumed = views(&server, &conversation).await;
    assert_eq!(resumed["summary"]["customer_messages"], 41, "{resumed}");
    assert!(server.stop().success());

    // A snapshot of another log (another event at its checkpoint) is not used: rebuilt, the
    // views say what the log says.
    let (header, _) = read_snapshot(data.path());
    let mut foreign = header.clone();
    foreign["anchor"]["event_id"] = json!("0196b3c2-7f00-7000-8000-000000000001");
    write_snapshot(data.path(), &foreign, &marked);
    let server = Server::start(data.path());
    assert_eq!(views(&server, &conversation).await, before);

    // Its graceful stop writes a snapshot of the rebuilt views; the next start resumes from it.
    assert!(server.stop().success());
    let (header, _) = read_snapshot(data.path());
    let snapshot_at = header["anchor"]["position"].as_u64().unwrap();
    assert_eq!(snapshot_at, head);
    let server = Server::start(data.path());

    // More traffic, then a SIGKILL: no new snapshot. The next start resumes from the last one and
    // replays what came after it, counting each message once.
    message(&server, "v-1", "m-4").await;
    message(&server, "v-3", "m-5").await;
    let after = views(&server, &conversation).await;
    assert_eq!(after["summary"]["customer_messages"], 3, "{after}");
    let killed_at = server.head().await;
    server.kill();
    let (header, _) = read_snapshot(data.path());
    assert_eq!(
        header["anchor"]["position"], snapshot_at,
        "no snapshot after the kill"
    );
    assert!(snapshot_at < killed_at);
    let server = Server::start(data.path());
    assert_eq!(views(&server, &conversation).await, after);
    assert!(server.stop().success());
}

#[tokio::test]
async fn missed_conversations_are_listed_until_contacted_back() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    // Nobody is ready; the visitor gives up.
    let missed = message(&server, "v-7", "m-1").await;
    let (status, left) = server
        .post("/v1/webchat/website/left", json!({"visitor": "v-7"}))
        .await;
    assert_eq!(status, 200, "{left}");
    let position = left["position"].as_u64().unwrap();
    let (status, list) = server.get(&format!("/v1/missed?after={position}")).await;
    assert_eq!(status, 200, "{list}");
    let rows = list["missed"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{list}");
    assert_eq!(rows[0]["conversation"], missed.as_str());
    assert_eq!(rows[0]["queue"], "support");
    assert_eq!(rows[0]["handle"], "v-7");
    assert!(rows[0]["missed_at"].is_string() && rows[0]["wait_ms"].is_u64());
    assert_eq!(rows[0]["contacted_back"], Value::Null);
    let (_, other_queue) = server.get("/v1/missed?queue=sales").await;
    assert_eq!(other_queue["missed"], json!([]), "{other_queue}");

    // Alice writes to the visitor: contacted back, no longer listed unless asked for.
    let (status, _) = server
        .post("/v1/agents/alice/queues/support/login", json!(null))
        .await;
    assert_eq!(status, 200);
    let (status, outbound) = server
        .post(
            "/v1/outbound",
            json!({"agent": "alice", "connector": "website", "contact": "v-7", "text": "Sorry we missed you"}),
        )
        .await;
    assert_eq!(status, 201, "{outbound}");
    let position = outbound["position"].as_u64().unwrap();
    let (_, list) = server.get(&format!("/v1/missed?after={position}")).await;
    assert_eq!(list["missed"], json!([]), "{list}");
    let (_, list) = server.get("/v1/missed?contacted_back=true").await;
    let back = &list["missed"][0]["contacted_back"];
    assert_eq!(back["by"], "alice", "{list}");
    assert_eq!(back["conversation"], outbound["conversation"]);

    // Bad queries are refused precisely.
    let (status, problem) = server.get("/v1/missed?queue=nowhere").await;
    assert_eq!(status, 404, "{problem}");
    let (status, problem) = server.get("/v1/missed?sort=up").await;
    assert_eq!(status, 400, "{problem}");
}

#[tokio::test]
async fn an_agents_postponed_list_follows_postpone_and_resume() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let conversation = message(&server, "v-8", "m-1").await;
    server
        .post("/v1/agents/alice/queues/support/login", json!(null))
        .await;
    server.post("/v1/agents/alice/ready", json!(null)).await;
    let (status, accepted) = server
        .post(
            &format!("/v1/conversations/{conversation}/accept"),
            json!({"agent": "alice"}),
        )
        .await;
    assert_eq!(status, 200, "{accepted}");
    let (status, postponed) = server
        .post(
            &format!("/v1/conversations/{conversation}/postpone"),
            json!({"agent": "alice"}),
        )
        .await;
    assert_eq!(status, 200, "{postponed}");
    let position = postponed["position"].as_u64().unwrap();
    let (status, list) = server
        .get(&format!("/v1/agents/alice/postponed?after={position}"))
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["postponed"][0]["conversation"], conversation.as_str());
    assert_eq!(list["postponed"][0]["handle"], "v-8");
    assert!(list["postponed"][0]["postponed_at"].is_string());

    let (status, resumed) = server
        .post(
            &format!("/v1/conversations/{conversation}/resume"),
            json!({"agent": "alice"}),
        )
        .await;
    assert_eq!(status, 200, "{resumed}");
    let position = resumed["position"].as_u64().unwrap();
    let (_, list) = server
        .get(&format!("/v1/agents/alice/postponed?after={position}"))
        .await;
    assert_eq!(list["postponed"], json!([]));
    let (status, problem) = server.get("/v1/agents/nobody/postponed").await;
    assert_eq!(status, 404, "{problem}");
}

#[tokio::test]
async fn the_status_board_shows_rep_needed_pending_and_answered_with_its_views() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let first = message(&server, "v-1", "m-1").await;
    server
        .post("/v1/agents/alice/queues/support/login", json!(null))
        .await;
    server.post("/v1/agents/alice/ready", json!(null)).await;
    server
        .post(
            &format!("/v1/conversations/{first}/accept"),
            json!({"agent": "alice"}),
        )
        .await;
    let second = message(&server, "v-2", "m-2").await;
    let head = server.head().await;

    let (status, board) = server.get(&format!("/v1/board?after={head}")).await;
    assert_eq!(status, 200, "{board}");
    let shown: Vec<(String, String)> = board["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["conversation"].as_str().unwrap().to_owned(),
                row["board_status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            (second.clone(), "rep_needed".to_owned()),
            (first.clone(), "pending".to_owned())
        ],
        "{board}"
    );
    assert_eq!(
        board["thresholds"]["support"]["overdue_after_ms"].as_u64(),
        Some(300_000),
        "{board}"
    );

    // Alice answers: answered. Joined by Alice: only hers. One status: only those.
    let (status, _) = server
        .post(
            &format!("/v1/conversations/{first}/messages"),
            json!({"agent": "alice", "text": "Hello!"}),
        )
        .await;
    assert_eq!(status, 200);
    let head = server.head().await;
    let (_, joined) = server
        .get(&format!("/v1/board?joined_by=alice&after={head}"))
        .await;
    assert_eq!(joined["conversations"].as_array().unwrap().len(), 1);
    assert_eq!(joined["conversations"][0]["board_status"], "answered");
    let (_, rep_needed) = server.get("/v1/board?status=rep_needed").await;
    assert_eq!(
        rep_needed["conversations"][0]["conversation"],
        second.as_str()
    );
    assert_eq!(rep_needed["conversations"].as_array().unwrap().len(), 1);
    let (_, closed) = server.get("/v1/board?status=closed").await;
    assert_eq!(closed["conversations"], json!([]));

    let (status, problem) = server.get("/v1/board?status=late").await;
    assert_eq!(status, 400, "{problem}");
    let (status, problem) = server.get("/v1/board?team=nowhere").await;
    assert_eq!(status, 404, "{problem}");
}

#[tokio::test]
async fn queue_figures_count_todays_answered_and_missed_and_agents_are_listed() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    message(&server, "v-1", "m-1").await;
    let (status, _) = server
        .post("/v1/webchat/website/left", json!({"visitor": "v-1"}))
        .await;
    assert_eq!(status, 200);
    let answered = message(&server, "v-2", "m-2").await;
    server
        .post("/v1/agents/alice/queues/support/login", json!(null))
        .await;
    server.post("/v1/agents/alice/ready", json!(null)).await;
    server
        .post(
            &format!("/v1/conversations/{answered}/accept"),
            json!({"agent": "alice"}),
        )
        .await;
    message(&server, "v-3", "m-3").await;
    let head = server.head().await;

    let (status, list) = server.get(&format!("/v1/queues?after={head}")).await;
    assert_eq!(status, 200, "{list}");
    let support = list["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "support")
        .unwrap();
    assert_eq!(support["answered"], 1, "{list}");
    assert_eq!(support["missed"], 1, "{list}");
    assert_eq!(
        support["waiting"], 1,
        "the third visitor waits, offered, not yet taken: {list}"
    );
    assert!(support["average_wait_ms"].is_u64(), "{list}");
    assert!(
        list["since"].as_str().unwrap().ends_with("T00:00:00.000Z"),
        "{list}"
    );

    // A period that starts in the future has nothing answered or missed yet.
    let (_, later) = server.get("/v1/queues?since=2999-01-01T00:00:00Z").await;
    let support = later["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "support")
        .unwrap();
    assert_eq!(
        (support["answered"].as_u64(), support["missed"].as_u64()),
        (Some(0), Some(0))
    );
    let (status, problem) = server.get("/v1/queues?since=yesterday").await;
    assert_eq!(status, 400, "{problem}");

    // The day interval by interval: from an hour ago, in steps of 10 minutes.
    let hour_ago = (chrono::Utc::now() - chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (status, series) = server
        .get(&format!(
            "/v1/queues/series?since={hour_ago}&step_minutes=10&after={head}"
        ))
        .await;
    assert_eq!(status, 200, "{series}");
    assert_eq!(series["step_minutes"], 10, "{series}");
    let support = series["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "support")
        .unwrap();
    assert_eq!(support["answer_target_ms"], 60_000, "{series}");
    assert_eq!(
        (
            support["answered"].as_u64(),
            support["answered_in_time"].as_u64()
        ),
        (Some(1), Some(1)),
        "{series}"
    );
    let points = support["points"].as_array().unwrap();
    assert_eq!(
        points.len(),
        7,
        "an hour in tens of minutes, on whole minutes: {series}"
    );
    let total = |field: &str| {
        points
            .iter()
            .map(|p| p[field].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(
        (
            total("answered"),
            total("answered_in_time"),
            total("missed")
        ),
        (1, 1, 1),
        "{series}"
    );
    let last = points.last().unwrap();
    assert!(last["waiting"].as_u64().unwrap() >= 1, "{series}");
    for (query, why) in [
        ("step_minutes=0", "between 1 and 1440"),
        (
            "step_minutes=1440&since=2000-01-01T00:00:00Z",
            "older than the 8 days",
        ),
        ("since=2999-01-01T00:00:00Z", "later than now"),
        ("step_minutes=1&since={week_ago}", "at most 1440"),
    ] {
        let week_ago = (chrono::Utc::now() - chrono::Duration::days(7))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let query = query.replace("{week_ago}", &week_ago);
        let (status, problem) = server.get(&format!("/v1/queues/series?{query}")).await;
        assert_eq!(status, 400, "{problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(why),
            "{problem}"
        );
    }

    let (status, agents) = server.get(&format!("/v1/agents?after={head}")).await;
    assert_eq!(status, 200, "{agents}");
    let alice = agents["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == "alice")
        .unwrap();
    assert_eq!(alice["presence"]["state"], "ready", "{agents}");
    // One conversation taken and one offer ringing.
    assert_eq!(alice["load"]["webchat"], 2, "{agents}");
    assert_eq!(alice["offers"].as_array().unwrap().len(), 1, "{agents}");
}

#[tokio::test]
async fn focus_and_blur_from_the_console_become_focus_time_and_disruptions() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let conversation = message(&server, "v-1", "m-1").await;
    let other = message(&server, "v-2", "m-2").await;
    server
        .post("/v1/agents/alice/queues/support/login", json!(null))
        .await;
    server.post("/v1/agents/alice/ready", json!(null)).await;
    server
        .post(
            &format!("/v1/conversations/{conversation}/accept"),
            json!({"agent": "alice"}),
        )
        .await;

    // She cannot focus a conversation she is not in; nothing is appended.
    let head = server.head().await;
    let (status, problem) = server
        .post("/v1/agents/alice/focus", json!({"conversation": other}))
        .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(server.head().await, head);

    let (status, focused) = server
        .post(
            "/v1/agents/alice/focus",
            json!({"conversation": conversation}),
        )
        .await;
    assert_eq!(status, 200, "{focused}");
    let position = focused["position"].as_u64().unwrap();
    let (_, now) = server
        .get(&format!(
            "/v1/conversations/{conversation}/focus?after={position}"
        ))
        .await;
    assert_eq!(now["activities"][0]["agent"], "alice", "{now}");
    assert_eq!(now["activities"][0]["in_focus"], true, "{now}");

    let (status, blurred) = server.post("/v1/agents/alice/blur", json!(null)).await;
    assert_eq!(status, 200, "{blurred}");
    let position = blurred["position"].as_u64().unwrap();
    let (_, after) = server
        .get(&format!(
            "/v1/conversations/{conversation}/focus?after={position}"
        ))
        .await;
    let activity = &after["activities"][0];
    assert_eq!(activity["in_focus"], false, "{after}");
    assert_eq!(activity["disruptions"], 1, "{after}");
    assert_eq!(activity["anomaly"], false, "{after}");
    assert!(activity["focused_ms"].is_u64(), "{after}");

    let (status, problem) = server
        .get("/v1/conversations/00000000-0000-0000-0000-000000000009/focus")
        .await;
    assert_eq!(status, 404, "{problem}");
    let (status, content_type, problem) = server
        .post_raw("/v1/agents/alice/focus", r#"{"conversation": 7}"#)
        .await;
    assert_eq!(
        status, 422,
        "a well-formed body of the wrong shape: {problem}"
    );
    assert_eq!(content_type, "application/problem+json");
}

#[tokio::test]
async fn the_interaction_list_filters_sorts_pages_and_exports() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    message(&server, "v-1", "m-1").await;
    let (status, _) = server
        .post("/v1/webchat/website/left", json!({"visitor": "v-1"}))
        .await;
    assert_eq!(status, 200);
    let answered = message(&server, "v-2", "m-2").await;
    server
        .post("/v1/agents/alice/queues/support/login", json!(null))
        .await;
    server.post("/v1/agents/alice/ready", json!(null)).await;
    server
        .post(
            &format!("/v1/conversations/{answered}/accept"),
            json!({"agent": "alice"}),
        )
        .await;
    let head = server.head().await;

    let (status, list) = server.get(&format!("/v1/interactions?after={head}")).await;
    assert_eq!(status, 200, "{list}");
    let rows = list["interactions"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "today's interactions by default: {list}");
    assert_eq!(rows[0]["answered"], false);
    assert_eq!(rows[0]["missed"], "missed");
    assert_eq!(rows[1]["user"], "alice");
    assert_eq!(rows[1]["conversation"], answered.as_str());
    assert_eq!(list["next"], Value::Null);

    let (_, only) = server
        .get("/v1/interactions?answered=true&user=alice")
        .await;
    assert_eq!(only["interactions"].as_array().unwrap().len(), 1, "{only}");
    let (_, sorted) = server.get("/v1/interactions?sort=user&order=desc").await;
    assert_eq!(
        sorted["interactions"][0]["user"],
        Value::Null,
        "no user sorts last ascending, first descending: {sorted}"
    );

    // A page at a time.
    let (_, first) = server.get("/v1/interactions?limit=1").await;
    let next = first["next"].as_str().unwrap().to_owned();
    let (_, second) = server
        .get(&format!("/v1/interactions?limit=1&cursor={next}"))
        .await;
    assert_eq!(second["interactions"][0]["conversation"], answered.as_str());
    assert_eq!(second["next"], Value::Null);

    // Exports: the same columns and filters.
    let csv = server
        .http
        .get(server.url("/v1/interactions/export?format=csv&answered=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.starts_with("Time,Queue,User,"), "{text}");
    assert!(
        text.lines().nth(1).unwrap().contains(",support,alice,"),
        "{text}"
    );
    let xlsx = server
        .http
        .get(server.url("/v1/interactions/export?format=xlsx"))
        .send()
        .await
        .unwrap();
    assert_eq!(xlsx.status(), 200);
    assert!(xlsx.bytes().await.unwrap().starts_with(b"PK"));

    // Bad queries are refused precisely.
    for bad in [
        "/v1/interactions?sort=colour",
        "/v1/interactions?limit=0",
        "/v1/interactions?cursor=xyz",
        "/v1/interactions?from=yesterday",
        "/v1/interactions?from=2026-02-02T00:00:00Z&to=2026-02-01T00:00:00Z",
        "/v1/interactions/export?format=pdf",
        "/v1/interactions/export?limit=5",
    ] {
        let (status, problem) = server.get(bad).await;
        assert_eq!(status, 400, "{bad}: {problem}");
    }
    let (status, problem) = server.get("/v1/interactions?queue=nowhere").await;
    assert_eq!(status, 404, "{problem}");
}

#[tokio::test]
async fn the_waiting_list_for_an_agent_holds_what_they_may_accept() {
    let data = tempfile::tempdir().unwrap();
    // Bob has rights to support only; a conversation that overflows to sales leaves his list.
    let config = support::write_config(
        data.path(),
        &std::fs::read_to_string(support::example_config())
            .unwrap()
            .replace(
                "queue = \"support\"\npriority = 0",
                "queue = \"sales\"\npriority = 0",
            ),
    );
    let server = Server::start_with(&config, data.path().join("log"));
    let conversation = message(&server, "v-1", "m-1").await;
    let head = server.head().await;
    let (_, all) = server.get(&format!("/v1/waiting?after={head}")).await;
    assert_eq!(
        all["waiting"][0]["conversation"],
        conversation.as_str(),
        "{all}"
    );
    assert_eq!(all["waiting"][0]["queue"], "sales", "{all}");
    let (_, alice) = server.get("/v1/waiting?agent=alice").await;
    assert_eq!(alice["waiting"].as_array().unwrap().len(), 1, "{alice}");
    let (_, bob) = server.get("/v1/waiting?agent=bob").await;
    assert_eq!(bob["waiting"], json!([]), "{bob}");
    let (status, problem) = server.get("/v1/waiting?agent=nobody").await;
    assert_eq!(status, 404, "{problem}");
}

/// Runs `switchboard replay` on `data`; its exit and its report.
fn replay(data: &Path) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["replay", "--config"])
        .arg(support::example_config())
        .arg("--store")
        .arg(data)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn replay_rebuilds_every_read_model_and_names_the_one_that_differs() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let conversation = message(&server, "v-1", "m-1").await;
    server
        .post("/v1/agents/alice/queues/support/login", json!(null))
        .await;
    server.post("/v1/agents/alice/ready", json!(null)).await;
    message(&server, "v-2", "m-2").await;
    assert!(server.stop().success());

    let (ok, report) = replay(data.path());
    assert!(ok, "{report}");
    assert!(report.contains("interactions   matches"), "{report}");
    assert!(!report.contains("DIFFERS"), "{report}");
    assert!(
        data.path()
            .join("snapshots/replay/read-models.snapshot")
            .exists()
    );

    // A live view that says what the log does not: replay names it and fails.
    let (header, body) = read_snapshot(data.path());
    let mut marked = body.clone();
    marked["models"]["conversations"]["conversations"][&conversation]["customer_messages"] =
        json!(41);
    write_snapshot(data.path(), &header, &marked);
    let (ok, report) = replay(data.path());
    assert!(!ok, "{report}");
    assert!(report.contains("conversations  DIFFERS"), "{report}");
    assert!(report.contains("waiting        matches"), "{report}");
}
