//! The binary on PostgreSQL (`--store postgres://…`): a conversation routed and answered, the
//! state rebuilt from the database after a restart, a second server on the same log taking over
//! while the first is fenced off, and the connection string's password never in the output.
//! Skipped, with the reason printed, where `SWITCHBOARD_TEST_POSTGRES` is not set; CI sets it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::{Server, postgres_store};

/// Drops the test's schema when the test ends, passed or not.
struct Schema(String);

impl Drop for Schema {
    fn drop(&mut self) {
        let Some(schema) = self.0.split("schema=").nth(1).map(str::to_owned) else {
            return;
        };
        let url = std::env::var("SWITCHBOARD_TEST_POSTGRES").unwrap();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok((client, connection)) =
                    tokio_postgres::connect(&url, tokio_postgres::NoTls).await
                {
                    tokio::spawn(connection);
                    let _ = client
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .await;
                }
            });
        })
        .join();
    }
}

#[tokio::test]
async fn a_conversation_on_postgres_is_routed_answered_and_survives_a_restart() {
    let Some(store) = postgres_store("the PostgreSQL end-to-end test") else {
        return;
    };
    let _schema = Schema(store.clone());
    let server = Server::start(&store);
    let (status, sent) = server
        .post(
            "/v1/webchat/website/messages",
            json!({"visitor": "v-7", "name": "Petr", "message_id": "m-1", "text": "Hello"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let conversation = sent["conversation"].as_str().unwrap().to_owned();
    // The provider retries: nothing new is stored.
    let (status, again) = server
        .post(
            "/v1/webchat/website/messages",
            json!({"visitor": "v-7", "name": "Petr", "message_id": "m-1", "text": "Hello"}),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["duplicate"], true, "{again}");

    let (status, _) = server
        .post("/v1/agents/alice/queues/support/login", json!(null))
        .await;
    assert_eq!(status, 200);
    let (status, ready) = server.post("/v1/agents/alice/ready", json!(null)).await;
    assert_eq!(status, 200, "{ready}");
    let (status, accepted) = server
        .post(
            &format!("/v1/conversations/{conversation}/accept"),
            json!({"agent": "alice"}),
        )
        .await;
    assert_eq!(status, 200, "{accepted}");
    let head = server.head().await;
    assert!(server.stop().success());

    // A new process rebuilds the state from the database: the conversation is Alice's.
    let server = Server::start(&store);
    assert_eq!(server.head().await, head);
    let (status, summary) = server
        .get(&format!("/v1/conversations/{conversation}?after={head}"))
        .await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["status"], "active", "{summary}");
    let (status, reply) = server
        .post(
            &format!("/v1/conversations/{conversation}/messages"),
            json!({"agent": "alice", "text": "Hello Petr"}),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
}

#[tokio::test]
async fn a_second_server_on_the_same_log_takes_over_and_the_first_stops_routing() {
    let Some(store) = postgres_store("the PostgreSQL fencing test") else {
        return;
    };
    let _schema = Schema(store.clone());
    let mut first = Server::start(&store);
    let (status, _) = first
        .post("/v1/agents/alice/queues/support/login", json!(null))
        .await;
    assert_eq!(status, 200);

    let second = Server::start(&store);
    // The first server's next command is refused by the log, and it stops rather than route.
    let (status, body) = first.post("/v1/agents/alice/ready", json!(null)).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["type"], "urn:switchboard:problem:fenced", "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("another server has taken over routing"),
        "{body}"
    );
    let exited = first.wait_exit(Duration::from_secs(30));
    assert!(
        exited.is_some_and(|s| !s.success()),
        "the fenced server exits with an error: {exited:?}"
    );
    // The second routes; the refused command left nothing behind.
    let (status, ready) = second.post("/v1/agents/alice/ready", json!(null)).await;
    assert_eq!(status, 200, "{ready}");
    let (_, log) = second.get("/v1/log?after=0&limit=100").await;
    let types: Vec<&str> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types.iter().filter(|t| **t == "AgentBecameReady").count(),
        1,
        "{types:?}"
    );
}

#[test]
fn the_connection_strings_password_never_appears_in_the_output() {
    let Some(store) = postgres_store("the PostgreSQL password test") else {
        return;
    };
    let _schema = Schema(store.clone());
    // Trust authentication ignores the password, so the server starts with it.
    let with_password = match store.split_once('@') {
        Some((user, rest)) => format!("{user}:pw-never-shown@{rest}"),
        None => store.replacen("://", "://postgres:pw-never-shown@", 1),
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(support::example_config())
        .args(["--store", &with_password])
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = String::new();
    let mut buffer = [0u8; 4096];
    while !seen.contains("switchboard listening on") {
        let read = stdout.read(&mut buffer).unwrap();
        assert!(read > 0, "the server exited early: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buffer[..read]));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("event store open"), "{stderr}");
    assert!(!stderr.contains("pw-never-shown"), "{stderr}");
    assert!(!seen.contains("pw-never-shown"), "{seen}");
}
