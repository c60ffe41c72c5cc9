//! The read models at scale, each figure beside a baseline measured in the same run.
//!
//! Run: `cargo bench -p switchboard-benches --bench projections` (add `-- catch-up`, `-- query` or
//! `-- export` for one part).
//!
//! - *catch-up*: a log of 1,950,000 events (250,000 conversations, eight events each, or four
//!   for the one in twenty that is missed, in an embedded store) read from position 0 into every
//!   read model by the server's own feed (`api_gateway::feed`), as at start-up. Baseline: the
//!   same reads and decoding in the feed's page size, applied to nothing.
//! - *query*: the interaction list over 1,000,000 interactions (30 days, 10 queues, 500 agents):
//!   three queries with a filter and a sort, a page of 50, p50 and p99 over 200 runs each.
//!   Baseline: the same selection done plainly (filter every row, sort them all, take 50).
//! - *export*: 100,000 of those rows to CSV and to XLSX: seconds and the peak memory the export
//!   adds. Baseline: the same rows as the API's JSON.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use event_store::embedded::EmbeddedStore;
use event_store::{AppendRequest, EventStore, NewEvent, Position};
use projections::ReadModels;
use projections::interactions::{Column, Filter, Interaction};
use projections::rights::Visible;
use routing_core::event::{
    AgentMessageSent, ConversationClosed, ConversationEnqueued, ConversationStarted, CustomerLeft,
    CustomerMessageReceived, OfferAccepted,
};
use routing_core::ids::{ExternalContactId, MessageId};
use routing_core::{
    AgentId, Channel, ConnectorId, ConversationId, Event, EventKind, QueueId, Timestamp, codec,
};
use std::time::{Duration, Instant};

const AGENTS: usize = 500;
const QUEUES: usize = 10;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// The first day of the generated month.
const START: i64 = 1_761_955_200_000; // 2025-11-01T00:00:00Z

fn agent(n: usize) -> AgentId {
    AgentId::new(format!("agent-{}", n % AGENTS))
}

fn queue(n: usize) -> QueueId {
    QueueId::new(format!("queue-{}", n % QUEUES))
}

/// The events of conversation `n`, spread over `days` days: one in twenty is missed (the customer
/// leaves); the others are taken by an agent after a wait, answered and closed.
fn conversation(n: usize, total: usize, days: i64) -> Vec<Event> {
    let id = ConversationId::from_uuid(uuid::Uuid::from_u128(n as u128 + 1));
    let start = START + (n as i64 * days * DAY_MS) / total as i64;
    let at = |ms: i64| Timestamp::from_millis(start + ms);
    let wait = 5_000 + (n as i64 * 7_919) % 120_000;
    let who = agent(n * 7);
    let mut events = vec![
        Event {
            at: at(0),
            kind: ConversationStarted {
                handle: None,
                conversation: id,
                connector: ConnectorId::new(format!("wa-{}", n % QUEUES)),
                channel: Channel::Whatsapp,
                contact: ExternalContactId::new(format!("+420{:09}", n % 200_000)),
                contact_name: Some(format!("Customer {}", n % 200_000)),
            }
            .into(),
        },
        Event {
            at: at(0),
            kind: CustomerMessageReceived {
                conversation: id,
                message_id: MessageId::new(format!("wamid.{n}")),
                text: "Hello, I have a question about my order".into(),
                kind: routing_core::MessageKind::Text,
                attachments: Vec::new(),
            }
            .into(),
        },
        Event {
            at: at(0),
            kind: ConversationEnqueued {
                conversation: id,
                queue: queue(n),
                priority: 0,
                skills: Vec::new(),
            }
            .into(),
        },
    ];
    if n.is_multiple_of(20) {
        events.push(Event {
            at: at(wait),
            kind: CustomerLeft {
                conversation: id,
                closed: true,
            }
            .into(),
        });
        return events;
    }
    let reply = |ms: i64, text: &str| Event {
        at: at(ms),
        kind: AgentMessageSent {
            conversation: id,
            agent: who.clone(),
            message_id: MessageId::new(format!("a-{n}-{ms}")),
            text: text.into(),
            template: None,
            outbox: true,
            email_fallback: None,
        }
        .into(),
    };
    events.push(Event {
        at: at(wait),
        kind: OfferAccepted {
            conversation: id,
            agent: who.clone(),
        }
        .into(),
    });
    events.push(reply(wait + 20_000, "Hello, let me have a look."));
    events.push(Event {
        at: at(wait + 60_000),
        kind: CustomerMessageReceived {
            conversation: id,
            message_id: MessageId::new(format!("wamid.{n}.2")),
            text: "Thank you".into(),
            kind: routing_core::MessageKind::Text,
            attachments: Vec::new(),
        }
        .into(),
    });
    events.push(reply(wait + 90_000, "It ships tomorrow."));
    events.push(Event {
        at: at(wait + 120_000),
        kind: ConversationClosed {
            conversation: id,
            agent: who,
            status: "resolved".into(),
        }
        .into(),
    });
    events
}

fn agents() -> Vec<AgentId> {
    (0..AGENTS).map(agent).collect()
}

fn stored(event: &Event) -> NewEvent {
    let encoded = codec::encode(event).unwrap();
    NewEvent {
        event_id: uuid::Uuid::now_v7(),
        stream: encoded.stream,
        event_type: encoded.event_type.to_owned(),
        schema_version: encoded.schema_version,
        recorded_at_ms: event.at.as_millis(),
        correlation_id: uuid::Uuid::nil(),
        causation_id: uuid::Uuid::nil(),
        payload: encoded.payload,
        idempotency_key: None,
    }
}

fn decode(stored: &event_store::StoredEvent) -> Event {
    codec::decode(
        &stored.event_type,
        stored.schema_version,
        &stored.payload,
        Timestamp::from_millis(stored.recorded_at_ms),
    )
    .unwrap()
}

async fn catch_up() {
    const CONVERSATIONS: usize = 250_000;
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let mut batch = Vec::new();
    for n in 0..CONVERSATIONS {
        batch.extend(conversation(n, CONVERSATIONS, 30).iter().map(stored));
        if batch.len() >= 1000 {
            store
                .append(AppendRequest {
                    events: std::mem::take(&mut batch),
                    ..AppendRequest::default()
                })
                .await
                .unwrap();
        }
    }
    if !batch.is_empty() {
        store
            .append(AppendRequest {
                events: batch,
                ..AppendRequest::default()
            })
            .await
            .unwrap();
    }
    let total = store.head().borrow().0;

    // Baseline: the feed's reads and decoding, in its page size, applied to nothing.
    const PAGE: usize = 1024;
    let start = Instant::now();
    let mut after = Position(0);
    loop {
        let page = store.read_all(after, PAGE).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.position;
        for event in &page {
            std::hint::black_box(decode(event));
        }
    }
    let baseline = total as f64 / start.elapsed().as_secs_f64();

    // The server's own feed, from position 0 until it has applied the whole log.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let start = Instant::now();
    let (views, feed) = api_gateway::feed::start(
        store.clone(),
        Default::default(),
        ReadModels::new(agents()),
        None,
        stopping,
    );
    views.caught_up_to(total).await.unwrap();
    let rate = total as f64 / start.elapsed().as_secs_f64();
    stop.send_replace(true);
    feed.await.unwrap().unwrap();
    let models = views
        .read(None, Duration::from_secs(1), Clone::clone)
        .await
        .unwrap();
    let snapshot = Instant::now();
    let bytes = models.snapshot().unwrap();
    let snapshot_s = snapshot.elapsed().as_secs_f64();
    println!(
        "catch-up from 0: {total} events into every read model: {rate:>10.0} events/s  | read + decode only: {baseline:>10.0}/s  | {:>5.2}x",
        rate / baseline
    );
    println!(
        "  snapshot of those read models: {:.1} MB in {snapshot_s:.2} s",
        bytes.len() as f64 / 1e6
    );
}

/// Builds the interaction list of `conversations` conversations over 30 days.
fn month(conversations: usize) -> ReadModels {
    let mut models = ReadModels::new(agents());
    let mut position = 0;
    for n in 0..conversations {
        for event in conversation(n, conversations, 30) {
            // The list needs only these; the message events would only slow the set-up.
            if matches!(
                event.kind,
                EventKind::AgentMessageSent(_) | EventKind::CustomerMessageReceived(_)
            ) {
                continue;
            }
            position += 1;
            models.apply(position, &event);
        }
    }
    models
}

fn filter(from: i64, to: i64) -> Filter {
    Filter::between(Timestamp::from_millis(from), Timestamp::from_millis(to))
}

fn percentile(times: &mut [Duration], q: f64) -> Duration {
    times.sort_unstable();
    times[((times.len() as f64 * q) as usize).min(times.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn query() {
    let build = Instant::now();
    let models = month(1_000_000);
    let rows = models.interactions.len();
    println!(
        "interaction list: {rows} rows built in {:.1} s",
        build.elapsed().as_secs_f64()
    );
    let now = Timestamp::from_millis(START + 31 * DAY_MS);
    let everything = Visible::everything();
    let month_range = || filter(START, START + 31 * DAY_MS);
    let cases: Vec<(&str, Filter)> = vec![
        ("one queue, the month, by wait time desc", {
            let mut f = month_range();
            f.queue = Some(queue(3));
            f.sort = Column::WaitTime;
            f.descending = true;
            f
        }),
        ("one day, by user", {
            let mut f = filter(START + 14 * DAY_MS, START + 15 * DAY_MS);
            f.sort = Column::User;
            f
        }),
        ("missed, the month, newest first", {
            let mut f = month_range();
            f.missed = Some(true);
            f.descending = true;
            f
        }),
    ];
    for (name, filter) in &cases {
        let mut fast = Vec::new();
        let mut plain = Vec::new();
        for _ in 0..200 {
            let start = Instant::now();
            let page = models
                .interactions
                .page(filter, &everything, &models.missed, now, None, 50);
            fast.push(start.elapsed());
            assert_eq!(page.interactions.len(), 50);

            // Baseline: every matching row shown, all sorted, the first 50 kept.
            let start = Instant::now();
            let mut all: Vec<Interaction> =
                models
                    .interactions
                    .all(filter, &everything, &models.missed, now);
            all.truncate(50);
            plain.push(start.elapsed());
            assert_eq!(all.len(), 50);
        }
        let (p50, p99) = (percentile(&mut fast, 0.5), percentile(&mut fast, 0.99));
        let (b50, b99) = (percentile(&mut plain, 0.5), percentile(&mut plain, 0.99));
        println!(
            "  {name:<42} p50 {:>7.2} ms  p99 {:>7.2} ms  | select all + sort: p50 {:>7.2} ms  p99 {:>7.2} ms  | {:>5.1}x",
            ms(p50),
            ms(p99),
            ms(b50),
            ms(b99),
            b99.as_secs_f64() / p99.as_secs_f64()
        );
    }
}

/// The process's peak resident memory, in bytes; `reset` first makes the current size the peak.
fn peak_rss(reset: bool) -> u64 {
    if reset {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn export() {
    // 100,000 rows: a little over three days of a month of 1,000,000.
    let models = month(1_000_000);
    let now = Timestamp::from_millis(START + 31 * DAY_MS);
    let mut selection = filter(START, START + 31 * DAY_MS);
    selection.to = Timestamp::from_millis(START + 3 * DAY_MS + DAY_MS / 10);
    let rows = models
        .interactions
        .all(&selection, &Visible::everything(), &models.missed, now);
    let count = rows.len();
    let measure = |write: &dyn Fn() -> usize| {
        let before = peak_rss(true);
        let start = Instant::now();
        let bytes = write();
        let secs = start.elapsed().as_secs_f64();
        let peak = peak_rss(false).saturating_sub(before);
        (secs, peak as f64 / 1e6, bytes as f64 / 1e6)
    };
    // Each writer runs on memory the process has not held before (smallest first): the figure
    // is how far the resident high-water mark grew, so a writer reusing memory freed by an
    // earlier one would look cheaper than it is.
    let mut figures = Vec::new();
    for (name, write) in [
        (
            "CSV",
            &(|| projections::export::csv(&rows).unwrap().len()) as &dyn Fn() -> usize,
        ),
        ("JSON", &|| serde_json::to_vec(&rows).unwrap().len()),
        ("XLSX", &|| projections::export::xlsx(&rows).unwrap().len()),
    ] {
        figures.push((name, measure(write)));
    }
    let (_, (json_s, json_mb, json_size)) = figures[1];
    for (name, (secs, peak_mb, size)) in [figures[0], figures[2]] {
        println!(
            "export of {count} rows to {name:<4}: {secs:>6.2} s, +{peak_mb:>6.1} MB peak, {size:>6.1} MB file  | the API's JSON: {json_s:>6.2} s, +{json_mb:>6.1} MB peak, {json_size:>6.1} MB"
        );
    }
}

fn main() {
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let wants = |part: &str| only.as_deref().is_none_or(|o| o == part);
    if wants("catch-up") {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(catch_up());
    }
    if wants("query") {
        query();
    }
    if wants("export") {
        export();
    }
}
