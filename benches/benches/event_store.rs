//! The event store's durable append rate and replay rate, each beside a baseline measured in the
//! same run on the same machine.
//!
//! Run: `cargo bench -p switchboard-benches --bench event_store` (add `-- embedded` or
//! `-- postgres` for one backend). PostgreSQL is the server named by `SWITCHBOARD_BENCH_POSTGRES`
//! (default `postgres://postgres@127.0.0.1:5432/test`); the bench works in a schema of its own and
//! drops it afterwards.
//!
//! - *append*: 1, 16 and 64 concurrent appenders, each appending one ~200-byte event and waiting
//!   for it to be durable before the next. Events per second, p50 and p99 latency.
//!   Baselines: on the embedded side, the same appenders each committing one plain redb write
//!   transaction per event (`Durability::Immediate`); on PostgreSQL, one plain `INSERT` per
//!   transaction into a table with a `bigserial` key, a connection per appender.
//! - *replay*: the whole global log (1,000,000 events) read back through `read_all` in the
//!   engine's page size. Baselines: a raw scan of the redb table; `SELECT … ORDER BY` streamed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use event_store::embedded::EmbeddedStore;
use event_store::postgres::{Location, PostgresStore};
use event_store::{AppendRequest, EventStore, NewEvent, Position};
use futures_util::StreamExt;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use uuid::Uuid;

const RUN: Duration = Duration::from_secs(3);
const APPENDERS: [usize; 3] = [1, 16, 64];
const REPLAY_EVENTS: u64 = 1_000_000;
/// The engine's replay page (api-gateway's `REPLAY_PAGE`).
const PAGE: usize = 4096;
const PLAIN: TableDefinition<u64, &[u8]> = TableDefinition::new("plain");

fn payload() -> Vec<u8> {
    let mut text = String::from("{\"conversation\":\"0196b3c2-7f00-7000-8000-000000000001\",");
    text.push_str("\"message_id\":\"wamid.HBgLMzE2MTIzNDU2NzgVAgASGBQzQTQ\",\"text\":\"");
    while text.len() < 196 {
        text.push('x');
    }
    text.push_str("\"}");
    text.into_bytes()
}

/// One payload made once: the appenders should spend their time appending, not formatting.
static PAYLOAD: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(payload);

fn event(stream: usize) -> NewEvent {
    NewEvent {
        event_id: Uuid::now_v7(),
        stream: format!("conversation-{stream}"),
        event_type: "CustomerMessageReceived".into(),
        schema_version: 1,
        recorded_at_ms: 1_763_900_000_000,
        correlation_id: Uuid::now_v7(),
        causation_id: Uuid::now_v7(),
        payload: PAYLOAD.clone(),
        idempotency_key: None,
    }
}

/// Throughput and latency of one workload.
struct Figure {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

impl Figure {
    fn from(latencies: &mut [Duration], elapsed: Duration) -> Self {
        latencies.sort_unstable();
        let at = |q: f64| {
            latencies
                .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        Figure {
            per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
            p50: at(0.50),
            p99: at(0.99),
        }
    }
}

fn print_append(backend: &str, appenders: usize, store: &Figure, baseline: &Figure, base: &str) {
    println!(
        "{backend:<9} {appenders:>3}  {:>10.0}/s  p50 {:>8.2} ms  p99 {:>8.2} ms  | {base}: {:>8.0}/s  p50 {:>8.2} ms  p99 {:>8.2} ms  | {:>5.1}x",
        store.per_second,
        ms(store.p50),
        ms(store.p99),
        baseline.per_second,
        ms(baseline.p50),
        ms(baseline.p99),
        store.per_second / baseline.per_second
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `appenders` tasks appending one event at a time to `store` for [`RUN`].
async fn append_load<S: EventStore + Clone>(store: &S, appenders: usize) -> Figure {
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let tasks: Vec<_> = (0..appenders)
        .map(|n| {
            let store = store.clone();
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let began = Instant::now();
                    store
                        .append(AppendRequest {
                            events: vec![event(n)],
                            ..AppendRequest::default()
                        })
                        .await
                        .unwrap();
                    latencies.push(began.elapsed());
                }
                latencies
            })
        })
        .collect();
    tokio::time::sleep(RUN).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    Figure::from(&mut latencies, start.elapsed())
}

/// The embedded baseline: each appender its own plain redb write transaction per event.
fn raw_redb_load(dir: &std::path::Path, appenders: usize) -> Figure {
    let db = Arc::new(Database::create(dir.join("plain.redb")).unwrap());
    let txn = db.begin_write().unwrap();
    txn.open_table(PLAIN).unwrap();
    txn.commit().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let threads: Vec<_> = (0..appenders)
        .map(|_| {
            let db = Arc::clone(&db);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let bytes = payload();
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let began = Instant::now();
                    let txn = db.begin_write().unwrap();
                    {
                        let mut table = txn.open_table(PLAIN).unwrap();
                        let next = table.last().unwrap().map_or(1, |(k, _)| k.value() + 1);
                        table.insert(next, bytes.as_slice()).unwrap();
                    }
                    txn.commit().unwrap();
                    latencies.push(began.elapsed());
                }
                latencies
            })
        })
        .collect();
    std::thread::sleep(RUN);
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for thread in threads {
        latencies.extend(thread.join().unwrap());
    }
    Figure::from(&mut latencies, start.elapsed())
}

/// Appends `total` events quickly (large batches from a few tasks), to have a log to replay.
async fn fill<S: EventStore + Clone>(store: &S, total: u64) {
    let tasks: Vec<_> = (0..4u64)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut written = 0;
                while written < total / 4 {
                    let count = (total / 4 - written).min(1024);
                    let events = (0..count)
                        .map(|i| event((n * 1000 + i % 100) as usize))
                        .collect();
                    store
                        .append(AppendRequest {
                            events,
                            ..AppendRequest::default()
                        })
                        .await
                        .unwrap();
                    written += count;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

/// Events per second reading the whole log through `read_all`, as the engine replays it: from a
/// task of the runtime, as the engine does.
async fn replay_rate<S: EventStore + Clone>(store: &S) -> (u64, f64) {
    let store = store.clone();
    tokio::spawn(async move { replay_in_task(&store).await })
        .await
        .unwrap()
}

async fn replay_in_task<S: EventStore>(store: &S) -> (u64, f64) {
    let start = Instant::now();
    let mut after = Position(0);
    let mut count = 0u64;
    loop {
        let page = store.read_all(after, PAGE).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.position;
        count += page.len() as u64;
        std::hint::black_box(&page);
    }
    (count, count as f64 / start.elapsed().as_secs_f64())
}

async fn embedded(appender_counts: &[usize], replay: bool) {
    println!("embedded (write-ahead file synced per group, then redb; group commit)");
    for &appenders in appender_counts {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let ours = append_load(&store, appenders).await;
        drop(store);
        let raw_dir = tempfile::tempdir().unwrap();
        let path = raw_dir.path().to_owned();
        let baseline = tokio::task::spawn_blocking(move || raw_redb_load(&path, appenders))
            .await
            .unwrap();
        print_append("embedded", appenders, &ours, &baseline, "redb txn/event");
    }
    if !replay {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    fill(&store, REPLAY_EVENTS).await;
    let (count, rate) = replay_rate(&store).await;
    drop(store);
    // Baseline: the raw table scan of the same file, nothing decoded.
    let file = dir.path().join(event_store::embedded::FILE_NAME);
    let raw = tokio::task::spawn_blocking(move || {
        let db = Database::open(file).unwrap();
        let txn = db.begin_read().unwrap();
        let table = txn
            .open_table(TableDefinition::<u64, &[u8]>::new("events"))
            .unwrap();
        let start = Instant::now();
        let mut n = 0u64;
        for entry in table.iter().unwrap() {
            std::hint::black_box(entry.unwrap().1.value().len());
            n += 1;
        }
        n as f64 / start.elapsed().as_secs_f64()
    })
    .await
    .unwrap();
    println!(
        "embedded  replay {count} events: {rate:>10.0}/s  | raw redb scan: {raw:>10.0}/s  | {:>5.2}x",
        rate / raw
    );
}

async fn connect(url: &str) -> Option<tokio_postgres::Client> {
    match tokio_postgres::connect(url, tokio_postgres::NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            Some(client)
        }
        Err(error) => {
            println!("postgres: skipped, cannot connect ({error})");
            None
        }
    }
}

/// The PostgreSQL baseline: a connection per appender, one plain INSERT per transaction.
async fn plain_insert_load(url: &str, table: &str, appenders: usize) -> Figure {
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..appenders {
        clients.push(connect(url).await.unwrap());
    }
    let start = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|client| {
            let stop = Arc::clone(&stop);
            let sql = format!("INSERT INTO {table} (payload) VALUES ($1)");
            tokio::spawn(async move {
                let statement = client.prepare(&sql).await.unwrap();
                let bytes = payload();
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let began = Instant::now();
                    client.execute(&statement, &[&bytes]).await.unwrap();
                    latencies.push(began.elapsed());
                }
                latencies
            })
        })
        .collect();
    tokio::time::sleep(RUN).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    Figure::from(&mut latencies, start.elapsed())
}

async fn postgres(appender_counts: &[usize], replay: bool) {
    let url = std::env::var("SWITCHBOARD_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let Some(admin) = connect(&url).await else {
        return;
    };
    println!("postgres (synchronous_commit as configured, group commit through one writer)");
    let scratch = format!("bench_{}", Uuid::now_v7().simple());
    admin
        .batch_execute(&format!(
            "CREATE SCHEMA {scratch};
             CREATE TABLE {scratch}.plain (id bigserial PRIMARY KEY, payload bytea NOT NULL);"
        ))
        .await
        .unwrap();
    for &appenders in appender_counts {
        let schema = format!("{scratch}_{appenders}");
        let location = Location::parse(&url).unwrap().with_schema(&schema).unwrap();
        let store = PostgresStore::connect(location).await.unwrap();
        let ours = append_load(&store, appenders).await;
        drop(store);
        let baseline = plain_insert_load(&url, &format!("{scratch}.plain"), appenders).await;
        print_append("postgres", appenders, &ours, &baseline, "INSERT bigserial");
        admin
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .unwrap();
    }
    if !replay {
        admin
            .batch_execute(&format!("DROP SCHEMA {scratch} CASCADE"))
            .await
            .unwrap();
        return;
    }
    let schema = format!("{scratch}_replay");
    let location = Location::parse(&url).unwrap().with_schema(&schema).unwrap();
    let store = PostgresStore::connect(location).await.unwrap();
    fill(&store, REPLAY_EVENTS).await;
    let (count, rate) = replay_rate(&store).await;
    drop(store);
    // Baseline: every column of the same table streamed in one plain query.
    let start = Instant::now();
    let rows = admin
        .query_raw(
            &format!("SELECT * FROM {schema}.events ORDER BY position"),
            std::iter::empty::<i64>(),
        )
        .await
        .unwrap();
    let mut rows = std::pin::pin!(rows);
    let mut n = 0u64;
    while let Some(row) = rows.next().await {
        std::hint::black_box(row.unwrap());
        n += 1;
    }
    let raw = n as f64 / start.elapsed().as_secs_f64();
    println!(
        "postgres  replay {count} events: {rate:>10.0}/s  | streamed SELECT: {raw:>10.0}/s  | {:>5.2}x",
        rate / raw
    );
    admin
        .batch_execute(&format!(
            "DROP SCHEMA {schema} CASCADE; DROP SCHEMA {scratch} CASCADE;"
        ))
        .await
        .unwrap();
}

/// `cargo bench … -- [embedded|postgres][/N|/replay]`: one backend, and optionally one appender
/// count (then without the replay) or only the replay, e.g. `embedded/64` to profile one case.
fn main() {
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let (backend, count) = match only
        .as_deref()
        .map(|o| o.split_once('/').unwrap_or((o, "")))
    {
        Some((backend, count)) => (Some(backend.to_owned()), count.parse::<usize>().ok()),
        None => (None, None),
    };
    let replay_only = only.as_deref().is_some_and(|o| o.ends_with("/replay"));
    let counts: Vec<usize> = match count {
        Some(n) => vec![n],
        None if replay_only => Vec::new(),
        None => APPENDERS.to_vec(),
    };
    let replay = count.is_none();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        if backend.as_deref().is_none_or(|b| b == "embedded") {
            embedded(&counts, replay).await;
        }
        if backend.as_deref().is_none_or(|b| b == "postgres") {
            postgres(&counts, replay).await;
        }
    });
}
