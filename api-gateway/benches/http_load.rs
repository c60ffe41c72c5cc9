//! Load generator: the release `switchboard` binary on a loopback port, driven over HTTP the way a
//! contact centre drives it. Customers write (each a new web-chat visitor), every agent's console
//! follows its notification stream, and for each offer the agent accepts, the customer writes
//! again, the agent replies and closes. Prints:
//!
//! - the latency from a customer's first message being sent to its offer arriving on the
//!   agent's stream (p50, p99, max), at a fixed 1,000 inbound messages per second;
//! - the most inbound messages per second sustained with many customers writing at once, with
//!   the same latency figures under that load;
//! - as a baseline measured first in the same run, `GET /healthz` round trips per second at the
//!   same concurrency: the HTTP stack's own ceiling on this host at that moment (the host is
//!   shared: figures from different runs differ by 2x and more).
//!
//! Run: `cargo bench -p api-gateway --bench http_load` (`-- --quick` for a short run). The
//! figures are recorded in `docs/performance.md`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

const AGENTS: usize = 100;
/// Chats an agent takes at once (offers included), and works on at once.
const CAPACITY: u32 = 8;
const ADMIN: &str = "sb_load_admin";
const CONNECTOR: &str = "sb_load_connector";

fn config_text() -> String {
    let digest = |secret: &str| api_gateway::access::digest(secret).to_string();
    let mut text = format!(
        "[[queues]]\nid = \"support\"\nchannels = [\"webchat\"]\noffer_timeout_s = 600\n\
         [[connectors]]\nid = \"web\"\nchannel = \"webchat\"\nqueue = \"support\"\n\
         [[api_keys]]\nid = \"admin\"\nrole = \"admin\"\nsecret_sha256 = \"{}\"\n\
         [[api_keys]]\nid = \"web\"\nrole = \"connector\"\nsecret_sha256 = \"{}\"\n",
        digest(ADMIN),
        digest(CONNECTOR)
    );
    for n in 0..AGENTS {
        text.push_str(&format!(
            "[[agents]]\nid = \"a{n}\"\nqueues = [\"support\"]\ncapacity = {{ webchat = {CAPACITY} }}\n"
        ));
    }
    text
}

/// The running server; killed when dropped.
struct Server {
    child: std::process::Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("centre.toml");
    std::fs::write(&config, config_text()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--store")
        .arg(dir.path().join("data"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(url) = line.strip_prefix("switchboard listening on ") {
            break url.to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        base,
        _dir: dir,
    }
}

fn client(key: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {key}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .pool_max_idle_per_host(2048)
        .build()
        .unwrap()
}

/// What the run shares: when each visitor's first message was sent, the latencies measured.
#[derive(Default)]
struct Shared {
    sent: Mutex<HashMap<String, Instant>>,
    latencies_us: Mutex<Vec<u64>>,
    inbound: AtomicU64,
    failures: AtomicU64,
}

async fn post(http: &reqwest::Client, url: String, body: serde_json::Value) -> Option<String> {
    let response = http.post(url).json(&body).send().await.ok()?;
    let ok = response.status().is_success();
    let text = response.text().await.ok()?;
    ok.then_some(text)
}

/// One agent's console: follows its stream and works every offer through to its close, as many
/// at once as the agent's capacity lets them be offered.
async fn console(base: String, agent: String, shared: Arc<Shared>) {
    let admin = client(ADMIN);
    let connector = client(CONNECTOR);
    let mut response = admin
        .get(format!("{base}/v1/agents/{agent}/stream"))
        .send()
        .await
        .unwrap();
    let mut buffer = String::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            if !block.contains("event: ConversationOffered") {
                continue;
            }
            let received = Instant::now();
            let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) else {
                continue;
            };
            let data: serde_json::Value = serde_json::from_str(data).unwrap();
            let visitor = data["conversation"]["handle"].as_str().unwrap().to_owned();
            let conversation = data["payload"]["conversation"].as_str().unwrap().to_owned();
            if let Some(sent) = shared.sent.lock().await.remove(&visitor) {
                let latency = received.duration_since(sent).as_micros() as u64;
                shared.latencies_us.lock().await.push(latency);
            }
            let (admin, connector, base, agent, shared) = (
                admin.clone(),
                connector.clone(),
                base.clone(),
                agent.clone(),
                Arc::clone(&shared),
            );
            tokio::spawn(async move {
                work(
                    &admin,
                    &connector,
                    &base,
                    &agent,
                    &conversation,
                    &visitor,
                    &shared,
                )
                .await;
            });
        }
    }
}

/// Accept, the customer's second message, the reply, the close.
async fn work(
    admin: &reqwest::Client,
    connector: &reqwest::Client,
    base: &str,
    agent: &str,
    conversation: &str,
    visitor: &str,
    shared: &Shared,
) {
    let agent_body = serde_json::json!({ "agent": agent });
    let steps = [
        post(
            admin,
            format!("{base}/v1/conversations/{conversation}/accept"),
            agent_body.clone(),
        )
        .await,
        {
            let sent = post(
                connector,
                format!("{base}/v1/webchat/web/messages"),
                serde_json::json!({"visitor": visitor, "message_id": format!("{visitor}-2"), "text": "order 1234"}),
            )
            .await;
            if sent.is_some() {
                shared.inbound.fetch_add(1, Ordering::Relaxed);
            }
            sent
        },
        post(
            admin,
            format!("{base}/v1/conversations/{conversation}/messages"),
            serde_json::json!({"agent": agent, "text": "Let me check"}),
        )
        .await,
        post(
            admin,
            format!("{base}/v1/conversations/{conversation}/close"),
            serde_json::json!({"agent": agent, "status": "resolved"}),
        )
        .await,
    ];
    let failed = steps.iter().filter(|s| s.is_none()).count() as u64;
    shared.failures.fetch_add(failed, Ordering::Relaxed);
}

/// A customer's first message: a new visitor, a new conversation.
async fn customer(connector: &reqwest::Client, base: &str, visitor: String, shared: &Shared) {
    shared
        .sent
        .lock()
        .await
        .insert(visitor.clone(), Instant::now());
    let sent = post(
        connector,
        format!("{base}/v1/webchat/web/messages"),
        serde_json::json!({"visitor": visitor, "message_id": format!("{visitor}-1"), "text": "hello"}),
    )
    .await;
    match sent {
        Some(_) => shared.inbound.fetch_add(1, Ordering::Relaxed),
        None => shared.failures.fetch_add(1, Ordering::Relaxed),
    };
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank] as f64 / 1000.0
}

async fn latencies(shared: &Shared) -> String {
    let mut all = std::mem::take(&mut *shared.latencies_us.lock().await);
    all.sort_unstable();
    format!(
        "message→offer p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} offers)",
        percentile(&all, 50.0),
        percentile(&all, 99.0),
        all.last().map_or(f64::NAN, |m| *m as f64 / 1000.0),
        all.len()
    )
}

/// Open loop: one new customer every `1 / rate` seconds for `seconds`.
async fn at_rate(base: &str, shared: &Arc<Shared>, rate: u64, seconds: u64, tag: &str) -> String {
    let connector = client(CONNECTOR);
    let interval = Duration::from_micros(1_000_000 / rate);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let before = shared.inbound.load(Ordering::Relaxed);
    let mut tasks = Vec::new();
    for n in 0..rate * seconds {
        ticker.tick().await;
        let (connector, base, shared) = (connector.clone(), base.to_owned(), Arc::clone(shared));
        let visitor = format!("{tag}-{n}");
        tasks.push(tokio::spawn(async move {
            customer(&connector, &base, visitor, &shared).await;
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    // Let the last offers arrive and their conversations close.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let inbound = shared.inbound.load(Ordering::Relaxed) - before;
    format!(
        "{:.0} inbound messages/s offered at {rate}/s; {}",
        inbound as f64 / elapsed,
        latencies(shared).await
    )
}

/// Closed loop: `workers` customers each writing a new conversation as soon as the last was
/// stored, for `seconds`.
async fn flat_out(
    base: &str,
    server: u32,
    shared: &Arc<Shared>,
    workers: usize,
    seconds: u64,
) -> String {
    let connector = client(CONNECTOR);
    let cpu = CpuMeter::start(server);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let before = shared.inbound.load(Ordering::Relaxed);
    let started = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let (connector, base, shared) =
                (connector.clone(), base.to_owned(), Arc::clone(shared));
            tokio::spawn(async move {
                let mut n = 0;
                while Instant::now() < deadline {
                    customer(&connector, &base, format!("max-{w}-{n}"), &shared).await;
                    n += 1;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let inbound = shared.inbound.load(Ordering::Relaxed) - before;
    let rate = inbound as f64 / elapsed;
    let cpu = cpu.per_message(inbound, elapsed);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    format!(
        "{rate:.0} inbound messages/s sustained over {elapsed:.1} s with {workers} customers at once; {}\n  cost: {cpu}",
        latencies(shared).await
    )
}

/// CPU time (user and system) a process has used so far, from `/proc/<pid>/stat`; `None` where
/// there is no procfs. Counted in clock ticks, 100 per second on Linux.
fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(user + system)
}

/// Server's and generator's CPU per inbound message over a phase: what the figure costs, which
/// unlike the rate does not depend on how much of the shared host the run was given.
struct CpuMeter {
    server: String,
    started: (Option<u64>, Option<u64>),
}

impl CpuMeter {
    fn start(server: u32) -> Self {
        let server = server.to_string();
        let started = (cpu_ticks(&server), cpu_ticks("self"));
        Self { server, started }
    }

    fn per_message(&self, inbound: u64, elapsed: f64) -> String {
        let ended = (cpu_ticks(&self.server), cpu_ticks("self"));
        let (Some(s0), Some(g0), Some(s1), Some(g1)) =
            (self.started.0, self.started.1, ended.0, ended.1)
        else {
            return "CPU not measured (no /proc)".to_owned();
        };
        let micros = |ticks: u64| ticks as f64 * 10_000.0 / inbound.max(1) as f64;
        let cores = |ticks: u64| ticks as f64 / 100.0 / elapsed;
        format!(
            "server {:.0} µs CPU per inbound message ({:.2} cores), generator {:.0} µs ({:.2} cores)",
            micros(s1 - s0),
            cores(s1 - s0),
            micros(g1 - g0),
            cores(g1 - g0)
        )
    }
}

/// The baseline: `GET /healthz` round trips per second at the same concurrency.
async fn healthz(base: &str, workers: usize, seconds: u64) -> String {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (http, url, count) = (http.clone(), format!("{base}/healthz"), Arc::clone(&count));
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    if http.get(&url).send().await.is_ok() {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    format!(
        "{:.0} GET /healthz round trips/s with {workers} at once (the HTTP stack's ceiling here)",
        count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
    )
}

/// The engine's batches and appends over the whole run, from `/metrics`.
async fn engine_figures(base: &str) -> String {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let figure = |name: &str| -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };
    let batches = figure("switchboard_engine_batch_commands_count");
    let commands = figure("switchboard_engine_batch_commands_sum");
    let append_s = figure("switchboard_append_duration_seconds_sum");
    // Appends slower than about 25 ms: the histogram's buckets are cumulative.
    let under = |le: &str| -> f64 {
        text.lines()
            .find_map(|line| {
                line.strip_prefix(&format!(
                    "switchboard_append_duration_seconds_bucket{{le=\"{le}\"}} "
                ))
            })
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };
    format!(
        "{commands:.0} commands in {batches:.0} appends ({:.1} per append), {:.2} ms per append on average, {:.0} appends over 25.6 ms",
        commands / batches,
        append_s * 1000.0 / batches,
        batches - under("0.0256")
    )
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let seconds = if quick { 3 } else { 10 };
    // For profiling the server under the heaviest load alone.
    let only_throughput = std::env::args().any(|a| a == "--throughput-only");
    let only_latency = std::env::args().any(|a| a == "--latency-only");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = start();
        let base = server.base.clone();
        let admin = client(ADMIN);
        let shared = Arc::new(Shared::default());
        for n in 0..AGENTS {
            let agent = format!("a{n}");
            post(
                &admin,
                format!("{base}/v1/agents/{agent}/queues/support/login"),
                serde_json::json!(null),
            )
            .await
            .unwrap();
            tokio::spawn(console(base.clone(), agent.clone(), Arc::clone(&shared)));
        }
        // Streams open before anyone is ready, so that no offer goes unheard.
        tokio::time::sleep(Duration::from_millis(300)).await;
        for n in 0..AGENTS {
            post(
                &admin,
                format!("{base}/v1/agents/a{n}/ready"),
                serde_json::json!(null),
            )
            .await
            .unwrap();
        }
        println!("http_load: {AGENTS} agents, each following its stream, capacity {CAPACITY}");
        // First, on the fresh server: the HTTP stack's own ceiling on this host right now.
        println!("  baseline: {}", healthz(&base, 256, 3).await);
        if !only_throughput {
            println!(
                "  warm-up: {}",
                at_rate(&base, &shared, 500, 1, "warm").await
            );
            println!(
                "  latency: {}",
                at_rate(&base, &shared, 1000, seconds, "fixed").await
            );
        }
        if only_latency {
            println!("  engine: {}", engine_figures(&base).await);
            return;
        }
        println!(
            "  throughput: {}",
            flat_out(&base, server.child.id(), &shared, 256, seconds).await
        );
        println!(
            "  failed requests: {}",
            shared.failures.load(Ordering::Relaxed)
        );
        println!("  engine: {}", engine_figures(&base).await);
        drop(server);
    });
}
