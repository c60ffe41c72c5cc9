//! Starting the real `switchboard` binary on a loopback port, and talking HTTP to it.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The example configuration shipped at the repository's root, which the README walks through.
pub fn example_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../switchboard.toml")
}

/// The demo keys of the example configuration (their secrets are in the README).
pub const ADMIN: &str = "sb_demo_admin";
pub const ALICE: &str = "sb_demo_alice";
pub const BOB: &str = "sb_demo_bob";
pub const WEBSITE: &str = "sb_demo_website";
pub const SUPERVISOR: &str = "sb_demo_supervisor";
pub const AUDITOR: &str = "sb_demo_auditor";

/// The `type` of each event of a history or log page's `events`, in order.
pub fn event_types(events: &Value) -> Vec<String> {
    events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

/// The configuration entry of the demo admin key, which every test configuration gets.
const ADMIN_KEY_ENTRY: &str = "\n[[api_keys]]\nid = \"demo-admin\"\nrole = \"admin\"\nsecret_sha256 = \"268dc68b38427163badfac353a447f88eacf56b478e7224e349474a7a41a6b71\"\n";

/// Writes a configuration file into `dir` (with the demo admin key added, unless it has keys of
/// its own) and returns its path.
pub fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("centre.toml");
    let admin = if text.contains("[[api_keys]]") {
        ""
    } else {
        ADMIN_KEY_ENTRY
    };
    std::fs::write(&path, format!("{text}{admin}")).unwrap();
    path
}

/// An HTTP client of the server that sends one API key (or none) with every request.
pub struct Api {
    base: String,
    pub http: reqwest::Client,
}

impl Api {
    fn new(base: &str, key: Option<&str>) -> Api {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(key) = key {
            headers.insert(
                reqwest::header::AUTHORIZATION,
                format!("Bearer {key}").parse().unwrap(),
            );
        }
        Api {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .default_headers(headers)
                .build()
                .unwrap(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(self.url(path)).send().await.unwrap();
        read(response).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        read(response).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        let response = self.http.delete(self.url(path)).send().await.unwrap();
        read(response).await
    }

    /// Posts `body` as it is (malformed JSON included); answers the status, the content type
    /// and the body.
    pub async fn post_raw(&self, path: &str, body: &'static str) -> (u16, String, Value) {
        let response = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let (status, body) = read(response).await;
        (status, content_type, body)
    }
}

/// A running server process; killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    /// The admin's client; [`Server::as_key`] gives others.
    admin: Api,
    pub http: reqwest::Client,
    /// Where a server on PostgreSQL keeps its read-model snapshots (the default would be the
    /// working directory); an embedded store keeps them beside its log.
    _snapshots: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts `switchboard serve` on an ephemeral port with its log in `store`.
    pub fn start(store: impl AsRef<std::ffi::OsStr>) -> Server {
        Self::start_with(&example_config(), store)
    }

    /// `store` is a directory (embedded) or a `postgres://` URL.
    pub fn start_with(config: &Path, store: impl AsRef<std::ffi::OsStr>) -> Server {
        let store = store.as_ref();
        let snapshots = store
            .to_str()
            .is_some_and(event_store::is_postgres)
            .then(|| tempfile::tempdir().expect("a temporary directory"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .arg("--store")
            .arg(store);
        if let Some(dir) = &snapshots {
            command.arg("--snapshots").arg(dir.path());
        }
        let mut child = command
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the switchboard binary starts");
        let stdout = child.stdout.take().unwrap();
        let (found, address) = mpsc::channel();
        // The server prints the address it bound; keep draining stdout afterwards so it never
        // blocks on a full pipe.
        std::thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("switchboard listening on ")
                    && let Some(found) = found.take()
                {
                    let _ = found.send(url.to_owned());
                }
            }
        });
        let base = address
            .recv_timeout(Duration::from_secs(60))
            .expect("the server prints its address");
        let admin = Api::new(&base, Some(ADMIN));
        Server {
            child,
            http: admin.http.clone(),
            admin,
            base,
            _snapshots: snapshots,
        }
    }

    /// A client that sends `key` (`None`: no key at all).
    pub fn as_key(&self, key: Option<&str>) -> Api {
        Api::new(&self.base, key)
    }

    pub fn url(&self, path: &str) -> String {
        self.admin.url(path)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.admin.get(path).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.admin.post(path, body).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.admin.delete(path).await
    }

    pub async fn post_raw(&self, path: &str, body: &'static str) -> (u16, String, Value) {
        self.admin.post_raw(path, body).await
    }

    /// Reads the global log after `after` until an event of type `event_type` about
    /// `conversation` appears (long-polling the log, never sleeping), and returns it with every
    /// event read on the way.
    pub async fn wait_for_event(
        &self,
        after: u64,
        event_type: &str,
        conversation: &str,
    ) -> (Value, Vec<Value>) {
        let mut after = after;
        let mut seen = Vec::new();
        let give_up = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < give_up {
            let (status, page) = self
                .get(&format!("/v1/log?after={after}&wait_ms=5000"))
                .await;
            assert_eq!(status, 200, "{page}");
            for event in page["events"].as_array().unwrap() {
                seen.push(event.clone());
                if event["type"] == event_type && event["payload"]["conversation"] == conversation {
                    return (event.clone(), seen);
                }
            }
            after = page["next_after"].as_u64().unwrap();
        }
        panic!("no {event_type} for {conversation} within 30 s; saw {seen:?}");
    }

    /// The agent logs in to support and goes ready, is offered `conversation` (which must
    /// have arrived after log position `since`) and accepts it; the accept's answer.
    pub async fn agent_takes(&self, agent: &str, conversation: &str, since: u64) -> Value {
        for path in [
            format!("/v1/agents/{agent}/queues/support/login"),
            format!("/v1/agents/{agent}/ready"),
        ] {
            let (status, answer) = self.post(&path, serde_json::json!(null)).await;
            assert_eq!(status, 200, "{path}: {answer}");
        }
        self.wait_for_event(since, "ConversationOffered", conversation)
            .await;
        let (status, accepted) = self
            .post(
                &format!("/v1/conversations/{conversation}/accept"),
                serde_json::json!({ "agent": agent }),
            )
            .await;
        assert_eq!(status, 200, "{accepted}");
        accepted
    }

    /// The id of the first conversation started after log position `since`.
    pub async fn conversation_started_after(&self, since: u64) -> String {
        let (status, log) = self.get(&format!("/v1/log?after={since}")).await;
        assert_eq!(status, 200, "{log}");
        log["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == "ConversationStarted")
            .map(|e| e["payload"]["conversation"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no conversation started after {since}: {log}"))
    }

    /// The log's newest position.
    pub async fn head(&self) -> u64 {
        let (status, page) = self.get("/v1/log?limit=1").await;
        assert_eq!(status, 200, "{page}");
        page["head"].as_u64().unwrap()
    }

    /// Stops the server as an operator would (SIGTERM) and waits for it to exit.
    pub fn stop(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let signalled = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(signalled.success());
        self.child.wait().unwrap()
    }

    /// Waits for the server to exit on its own (at most `limit`); `None` if it is still running.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let give_up = std::time::Instant::now() + limit;
        while std::time::Instant::now() < give_up {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Kills the server with SIGKILL: no chance to flush anything.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

/// The PostgreSQL server the tests may use, with a schema of the test's own; `None` (after
/// printing why) when `SWITCHBOARD_TEST_POSTGRES` is not set.
pub fn postgres_store(test: &str) -> Option<String> {
    let Ok(url) = std::env::var("SWITCHBOARD_TEST_POSTGRES") else {
        eprintln!("skipping {test}: SWITCHBOARD_TEST_POSTGRES is not set");
        return None;
    };
    let schema = format!("e2e_{}", uuid::Uuid::now_v7().simple());
    let separator = if url.contains('?') { '&' } else { '?' };
    Some(format!("{url}{separator}schema={schema}"))
}

/// One Server-Sent Events message.
#[derive(Debug, Clone, Default)]
pub struct SseMessage {
    pub id: Option<String>,
    pub event: String,
    pub data: Value,
}

/// Reads Server-Sent Events from a streaming response, one message at a time.
pub struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    /// Opens `path` with `key`, sending `Last-Event-ID` if given; panics unless it is a 200 stream.
    pub async fn open(api: &Api, path: &str, last_event_id: Option<u64>) -> SseReader {
        let mut request = api.http.get(api.url(path));
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        SseReader {
            response,
            buffer: String::new(),
        }
    }

    /// The next message (keep-alive comments skipped); panics after 10 s without one.
    pub async fn next(&mut self) -> SseMessage {
        let give_up = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut message = SseMessage::default();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(id) = line.strip_prefix("id:") {
                        message.id = Some(id.trim().to_owned());
                    } else if let Some(event) = line.strip_prefix("event:") {
                        message.event = event.trim().to_owned();
                    } else if let Some(more) = line.strip_prefix("data:") {
                        data.push_str(more.trim_start());
                    }
                }
                if message.event.is_empty() && data.is_empty() {
                    continue;
                }
                message.data = serde_json::from_str(&data).unwrap_or(Value::String(data));
                return message;
            }
            let chunk = tokio::time::timeout_at(give_up, self.response.chunk())
                .await
                .expect("a message within 10 s")
                .unwrap()
                .expect("the stream is still open");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The first bytes the server sends (kept for `next` to read as well).
    pub async fn first_bytes(&mut self) -> String {
        let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
            .await
            .expect("bytes within 10 s")
            .unwrap()
            .expect("the stream is still open");
        let text = std::str::from_utf8(&chunk).unwrap().to_owned();
        self.buffer.push_str(&text);
        text
    }

    /// Waits (at most 10 s) for the server to end the stream, dropping whatever else comes.
    pub async fn ended(mut self) -> bool {
        let give_up = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(give_up, self.response.chunk()).await {
                Ok(Ok(Some(_))) => continue,
                Ok(Ok(None)) | Ok(Err(_)) => return true,
                Err(_) => return false,
            }
        }
    }

    /// Reads until a message of `event` arrives and returns it with every message read on the way.
    pub async fn until(&mut self, event: &str) -> (SseMessage, Vec<SseMessage>) {
        let mut seen = Vec::new();
        loop {
            let message = self.next().await;
            if message.event == event {
                return (message, seen);
            }
            seen.push(message);
        }
    }
}
