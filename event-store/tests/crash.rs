//! Durability under a crash: a child process appends under load and prints each acknowledgement;
//! the parent kills it with SIGKILL at a random moment, reopens the log and checks that every
//! acknowledged event is there, in order, that positions run without a gap, and that nothing
//! half-written is visible. Several rounds run on the same log, so recovery itself is recovered
//! from. Runs on the embedded store, and on PostgreSQL where `SWITCHBOARD_TEST_POSTGRES` is set.
//!
//! The child is this test binary run again with `CRASH_CHILD_STORE` set: the
//! `child_appender` test then appends until killed. On the embedded store the child flushes into
//! redb and changes write-ahead segment every few hundred events, so that kills land in the middle
//! of those too; the parent reopens with the defaults.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod backends;

use event_store::embedded::{EmbeddedOptions, EmbeddedStore};
use event_store::{
    AppendOutcome, AppendRequest, EventStore, NewEvent, Position, Store, is_postgres,
};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};
use uuid::Uuid;

const CHILD_ENV: &str = "CRASH_CHILD_STORE";
const APPENDERS: u64 = 16;
const ROUNDS: u64 = 4;

fn event(appender: u64, n: u64, part: u64) -> NewEvent {
    NewEvent {
        event_id: Uuid::now_v7(),
        stream: format!("appender-{appender}"),
        event_type: "Crashed".into(),
        schema_version: 1,
        recorded_at_ms: 0,
        correlation_id: Uuid::nil(),
        causation_id: Uuid::nil(),
        // Big enough that a torn write would show.
        payload: format!(
            "{{\"appender\":{appender},\"n\":{n},\"part\":{part},\"pad\":\"{}\"}}",
            "x".repeat(300)
        )
        .into_bytes(),
        idempotency_key: (part == 0).then(|| format!("key-{appender}-{n}")),
    }
}

/// The child: appends from many tasks until killed, printing `ack <key> <first> <last>` after
/// each acknowledged append.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_appender() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return; // Only a child does anything here.
    };
    let round: u64 = std::env::var("CRASH_CHILD_ROUND").unwrap().parse().unwrap();
    let store = if is_postgres(&spec) {
        Store::open(&spec).await.unwrap()
    } else {
        // Small, so that flushes and segment changes happen all the time.
        let options = EmbeddedOptions {
            flush_every: 300,
            segment_bytes: 256 * 1024,
        };
        Store::Embedded(EmbeddedStore::open_with(&spec, options).unwrap())
    };
    let (acks, mut printed) = tokio::sync::mpsc::unbounded_channel::<String>();
    for appender in 0..APPENDERS {
        let store = store.clone();
        let acks = acks.clone();
        tokio::spawn(async move {
            for n in (round * 1_000_000).. {
                // One to three events per append: batches must land whole or not at all.
                let parts = 1 + (n + appender) % 3;
                let events = (0..parts).map(|part| event(appender, n, part)).collect();
                let outcome = store
                    .append(AppendRequest {
                        events,
                        ..AppendRequest::default()
                    })
                    .await
                    .unwrap();
                let AppendOutcome::Appended { first, last } = outcome else {
                    panic!("a fresh key was already stored: {outcome:?}");
                };
                acks.send(format!("ack key-{appender}-{n} {first} {last}"))
                    .unwrap();
            }
        });
    }
    drop(acks);
    let mut stdout = std::io::stdout().lock();
    while let Some(line) = printed.recv().await {
        use std::io::Write;
        writeln!(stdout, "{line}").unwrap();
        stdout.flush().unwrap();
    }
}

/// A well-spread pseudo-random number from a seed (SplitMix64), so that a failing seed replays.
fn splitmix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Runs rounds of append-and-kill against `spec`, then checks the log.
async fn crash_rounds(spec: &str) {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    eprintln!("crash test seed {seed}");
    let mut acknowledged: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for round in 0..ROUNDS {
        // Kill after a pseudo-random number of acknowledgements (between 50 and about 2,000).
        let kill_after = 50 + splitmix(seed.wrapping_add(round)) % 2_000;
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "child_appender",
                "--exact",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD_ENV, spec)
            .env("CRASH_CHILD_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut seen = 0;
        for line in stdout.lines() {
            let Ok(line) = line else { break };
            let Some(rest) = line.strip_prefix("ack ") else {
                continue;
            };
            let mut fields = rest.split(' ');
            let key = fields.next().unwrap().to_owned();
            let first: u64 = fields.next().unwrap().parse().unwrap();
            let last: u64 = fields.next().unwrap().parse().unwrap();
            acknowledged.insert(key, (first, last));
            seen += 1;
            if seen == kill_after {
                child.kill().unwrap(); // SIGKILL: no flush, no destructor.
                break;
            }
        }
        child.wait().unwrap();
        assert!(
            seen >= kill_after,
            "round {round}: the child stopped before it was killed"
        );

        let store = Store::open(spec).await.unwrap();
        let head = store.head().borrow().0;
        let mut all = Vec::new();
        let mut after = Position(0);
        loop {
            let page = store.read_all(after, 4096).await.unwrap();
            let Some(last) = page.last() else { break };
            after = last.position;
            all.extend(page);
        }
        // Gapless from 1, ending at the head: nothing half-written, nothing missing.
        assert_eq!(all.len() as u64, head, "round {round}");
        for (n, stored) in all.iter().enumerate() {
            assert_eq!(stored.position.0, n as u64 + 1, "round {round}: a gap");
            let text = std::str::from_utf8(&stored.payload).unwrap();
            assert!(
                text.ends_with("\"}"),
                "round {round}: a torn payload at {}",
                stored.position
            );
        }
        // Every acknowledged append is there, whole, at the positions it was told.
        for (key, (first, last)) in &acknowledged {
            let position = store.find_idempotency_key(key).await.unwrap();
            assert_eq!(
                position,
                Some(Position(*first)),
                "round {round}: {key} lost"
            );
            let batch = &all[(*first - 1) as usize..*last as usize];
            let appender = &batch[0].stream;
            assert!(
                batch.iter().all(|e| &e.stream == appender),
                "round {round}: {key} torn"
            );
            assert_eq!(batch[0].idempotency_key.as_deref(), Some(key.as_str()));
        }
        // A batch is whole or absent: every stored batch starts with its keyed event and has as
        // many parts as its number says.
        let mut at = 0;
        while at < all.len() {
            let head_event = &all[at];
            let key = head_event
                .idempotency_key
                .clone()
                .expect("a batch starts with its keyed event");
            let (appender, n) = key.trim_start_matches("key-").split_once('-').unwrap();
            let (appender, n): (u64, u64) = (appender.parse().unwrap(), n.parse().unwrap());
            let parts = (1 + (n + appender) % 3) as usize;
            assert!(
                at + parts <= all.len(),
                "round {round}: batch {key} cut short"
            );
            assert!(
                all[at + 1..at + parts]
                    .iter()
                    .all(|e| e.idempotency_key.is_none())
            );
            at += parts;
        }
        // The hash chain survives the kill and the recovery: every event recovered from the
        // write-ahead file links to the one before it, and the next round's appends link on.
        let chain = event_store::chain::verify(&store, Vec::new())
            .await
            .unwrap();
        assert_eq!(chain.first_break, None, "round {round}: {chain:?}");
        assert_eq!(chain.unlinked, 0, "round {round}");
        eprintln!("round {round}: killed after {seen} acknowledgements; {head} events intact");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_append_survives_sigkill_on_the_embedded_store() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    crash_rounds(dir.path().to_str().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_append_survives_sigkill_on_postgres() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let Some(location) = backends::Postgres::location() else {
        return;
    };
    let url = std::env::var(backends::POSTGRES_ENV).unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    crash_rounds(&format!("{url}{separator}schema={}", location.schema())).await;
    let client = backends::raw_client().await;
    client
        .batch_execute(&format!("DROP SCHEMA {} CASCADE", location.schema()))
        .await
        .unwrap();
}
