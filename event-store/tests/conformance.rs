//! The guarantees every backend must give, written once against the `EventStore` trait and run
//! against each backend: the embedded one always (as configured by default, and flushing every few
//! events), PostgreSQL when `SWITCHBOARD_TEST_POSTGRES` names a server (CI sets it; elsewhere
//! those tests print why they skip).

// Test helpers outside `#[test]` functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod backends;

use backends::Backend;
use event_store::{
    AppendError, AppendOutcome, AppendRequest, EventStore, ExpectedVersion, NewEvent, Position,
    StoreError, Subscription, WriterEpoch,
};
use uuid::Uuid;

fn event(stream: &str, n: u64, key: Option<&str>) -> NewEvent {
    NewEvent {
        event_id: Uuid::from_u64_pair(0, n),
        stream: stream.to_owned(),
        event_type: "Tested".to_owned(),
        schema_version: 1,
        recorded_at_ms: 1_700_000_000_000 + i64::try_from(n).unwrap(),
        correlation_id: Uuid::from_u64_pair(1, n),
        causation_id: Uuid::from_u64_pair(2, n),
        payload: format!("{{\"n\":{n}}}").into_bytes(),
        idempotency_key: key.map(str::to_owned),
    }
}

fn request(events: Vec<NewEvent>) -> AppendRequest {
    AppendRequest {
        events,
        ..AppendRequest::default()
    }
}

async fn appends_a_batch_to_several_streams_atomically<B: Backend>(backend: &mut B) {
    let store = backend.store();
    let outcome = store
        .append(request(vec![
            event("a", 1, None),
            event("b", 2, None),
            event("a", 3, None),
        ]))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        AppendOutcome::Appended {
            first: Position(1),
            last: Position(3)
        }
    );
    let all = store.read_all(Position(0), 100).await.unwrap();
    let shape: Vec<_> = all
        .iter()
        .map(|e| (e.position.0, e.stream.as_str(), e.stream_version))
        .collect();
    assert_eq!(shape, vec![(1, "a", 1), (2, "b", 1), (3, "a", 2)]);
    let a = store.read_stream("a", 0, 100).await.unwrap();
    assert_eq!(
        a.iter().map(|e| e.payload.clone()).collect::<Vec<_>>(),
        vec![b"{\"n\":1}".to_vec(), b"{\"n\":3}".to_vec()]
    );
    assert_eq!(store.read_stream("a", 1, 100).await.unwrap().len(), 1);
    assert_eq!(store.read_all(Position(2), 100).await.unwrap().len(), 1);
    assert_eq!(*store.head().borrow(), Position(3));
    let first = &all[0];
    assert_eq!(first.event_id, Uuid::from_u64_pair(0, 1));
    assert_eq!(first.correlation_id, Uuid::from_u64_pair(1, 1));
    assert_eq!(first.causation_id, Uuid::from_u64_pair(2, 1));
    assert_eq!(first.recorded_at_ms, 1_700_000_000_001);
    assert_eq!(first.event_type, "Tested");
    assert_eq!(first.schema_version, 1);
}

async fn a_wrong_expected_version_appends_nothing<B: Backend>(backend: &mut B) {
    let store = backend.store();
    store
        .append(request(vec![event("a", 1, None)]))
        .await
        .unwrap();
    let error = store
        .append(AppendRequest {
            events: vec![event("a", 2, None), event("b", 3, None)],
            expectations: vec![("a".into(), ExpectedVersion::NoStream)],
            writer: None,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(error, AppendError::WrongExpectedVersion { ref stream, actual: 1, .. } if stream == "a"),
        "{error:?}"
    );
    assert_eq!(store.read_all(Position(0), 100).await.unwrap().len(), 1);
    let ok = store
        .append(AppendRequest {
            events: vec![event("a", 2, None)],
            expectations: vec![("a".into(), ExpectedVersion::Exact(1))],
            writer: None,
        })
        .await
        .unwrap();
    assert!(matches!(ok, AppendOutcome::Appended { .. }));
}

async fn an_idempotency_key_is_stored_once<B: Backend>(backend: &mut B) {
    let store = backend.store();
    let first = store
        .append(request(vec![event("a", 1, Some("wamid.1"))]))
        .await
        .unwrap();
    assert_eq!(
        first,
        AppendOutcome::Appended {
            first: Position(1),
            last: Position(1)
        }
    );
    store
        .append(request(vec![event("a", 2, None)]))
        .await
        .unwrap();
    let again = store
        .append(AppendRequest {
            events: vec![event("a", 3, Some("wamid.1"))],
            expectations: vec![("a".into(), ExpectedVersion::Exact(0))],
            writer: None,
        })
        .await
        .unwrap();
    assert_eq!(
        again,
        AppendOutcome::AlreadyAppended {
            position: Position(1)
        }
    );
    assert_eq!(store.read_all(Position(0), 100).await.unwrap().len(), 2);
    assert_eq!(
        store.find_idempotency_key("wamid.1").await.unwrap(),
        Some(Position(1))
    );
    assert_eq!(store.find_idempotency_key("wamid.2").await.unwrap(), None);
    // Many at once: one answer per key, in the order asked.
    let keys = ["wamid.2", "wamid.1", "wamid.1", "unknown"].map(str::to_owned);
    assert_eq!(
        store.find_idempotency_keys(&keys).await.unwrap(),
        [None, Some(Position(1)), Some(Position(1)), None]
    );
    assert_eq!(store.find_idempotency_keys(&[]).await.unwrap(), []);
}

async fn concurrent_appenders_get_distinct_gapless_positions<B: Backend>(backend: &mut B) {
    let store = backend.store();
    let mut tasks = Vec::new();
    for appender in 0..16u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..20u64 {
                let key = format!("k-{appender}-{n}");
                store
                    .append(request(vec![event(
                        &format!("s{appender}"),
                        appender * 100 + n,
                        Some(&key),
                    )]))
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let all = store.read_all(Position(0), 1000).await.unwrap();
    let positions: Vec<u64> = all.iter().map(|e| e.position.0).collect();
    assert_eq!(positions, (1..=320).collect::<Vec<_>>());
    for appender in 0..16u64 {
        let stream = store
            .read_stream(&format!("s{appender}"), 0, 100)
            .await
            .unwrap();
        let versions: Vec<u64> = stream.iter().map(|e| e.stream_version).collect();
        assert_eq!(versions, (1..=20).collect::<Vec<_>>());
    }
}

/// Every event links to the one before it, across concurrent appenders, groups and a restart,
/// and the whole chain checks; a checkpoint taken earlier still matches.
async fn the_log_is_a_hash_chain_that_checks_across_a_restart<B: Backend>(backend: &mut B) {
    let store = backend.store();
    let mut tasks = Vec::new();
    for appender in 0..8u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..10u64 {
                store
                    .append(request(vec![
                        event(&format!("s{appender}"), appender * 100 + n, None),
                        event("shared", 10_000 + appender * 100 + n, None),
                    ]))
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let before = event_store::chain::verify(store, Vec::new()).await.unwrap();
    assert_eq!(before.first_break, None, "{before:?}");
    assert_eq!(before.checked, 160);
    let all = store.read_all(Position(0), 1000).await.unwrap();
    let mut previous = event_store::chain::ChainHash::GENESIS;
    for stored in &all {
        let expected =
            event_store::chain::link(&previous, &event_store::chain::Linked::from(stored));
        assert_eq!(
            stored.chain,
            Some(expected),
            "position {}",
            stored.position.0
        );
        previous = expected;
    }
    assert_eq!(before.head.chain, previous);
    backend.reopen().await;
    backend
        .store()
        .append(request(vec![event("after", 1, None)]))
        .await
        .unwrap();
    let after = event_store::chain::verify(backend.store(), vec![before.head])
        .await
        .unwrap();
    assert_eq!(after.first_break, None, "{after:?}");
    assert_eq!(after.checked, 161);
    // A checkpoint beyond the log's end means events were removed.
    let mut ahead = after.head;
    ahead.position += 5;
    let truncated = event_store::chain::verify(backend.store(), vec![ahead])
        .await
        .unwrap();
    assert_eq!(truncated.first_break, Some(162), "{truncated:?}");
}

async fn empty_and_oversized_appends_are_refused<B: Backend>(backend: &mut B) {
    let store = backend.store();
    assert!(matches!(
        store.append(request(Vec::new())).await,
        Err(AppendError::Empty)
    ));
    let too_many = (0..=event_store::MAX_EVENTS_PER_APPEND as u64)
        .map(|n| event("a", n, None))
        .collect();
    assert!(matches!(
        store.append(request(too_many)).await,
        Err(AppendError::TooLarge { .. })
    ));
    assert!(store.read_all(Position(0), 10).await.unwrap().is_empty());
}

async fn an_idempotency_key_is_remembered_after_a_restart<B: Backend>(backend: &mut B) {
    backend
        .store()
        .append(request(vec![
            event("a", 1, Some("m-1")),
            event("b", 2, None),
        ]))
        .await
        .unwrap();
    backend.reopen().await;
    let store = backend.store();
    assert_eq!(*store.head().borrow(), Position(2));
    let again = store
        .append(request(vec![event("a", 3, Some("m-1"))]))
        .await
        .unwrap();
    assert_eq!(
        again,
        AppendOutcome::AlreadyAppended {
            position: Position(1)
        }
    );
    let next = store
        .append(request(vec![event("a", 4, None)]))
        .await
        .unwrap();
    assert_eq!(
        next,
        AppendOutcome::Appended {
            first: Position(3),
            last: Position(3)
        }
    );
    let a = store.read_stream("a", 0, 10).await.unwrap();
    assert_eq!(
        a.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        vec![1, 2]
    );
}

async fn reads_a_stream_from_a_version_and_the_log_from_a_position_in_order<B: Backend>(
    backend: &mut B,
) {
    let store = backend.store();
    for n in 1..=30u64 {
        let stream = if n % 3 == 0 { "c-3" } else { "c-other" };
        store
            .append(request(vec![event(stream, n, None)]))
            .await
            .unwrap();
    }
    let from_ten = store.read_all(Position(10), 5).await.unwrap();
    assert_eq!(
        from_ten.iter().map(|e| e.position.0).collect::<Vec<_>>(),
        vec![11, 12, 13, 14, 15]
    );
    let stream = store.read_stream("c-3", 4, 100).await.unwrap();
    assert_eq!(
        stream.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        (5..=10).collect::<Vec<_>>()
    );
    assert_eq!(
        stream.iter().map(|e| e.position.0).collect::<Vec<_>>(),
        vec![15, 18, 21, 24, 27, 30]
    );
    assert!(store.read_stream("nobody", 0, 10).await.unwrap().is_empty());
    assert!(store.read_all(Position(30), 10).await.unwrap().is_empty());
}

async fn every_event_keeps_its_whole_envelope<B: Backend>(backend: &mut B) {
    let event_id = Uuid::now_v7();
    let sent = NewEvent {
        event_id,
        stream: "conversation-7".into(),
        event_type: "CustomerMessageReceived".into(),
        schema_version: 3,
        recorded_at_ms: 1_763_900_000_123,
        correlation_id: Uuid::now_v7(),
        causation_id: Uuid::now_v7(),
        payload: vec![0, 159, 146, 150, b'{', b'}'],
        idempotency_key: Some("wamid.HBgLMzE2".into()),
    };
    backend
        .store()
        .append(request(vec![sent.clone()]))
        .await
        .unwrap();
    backend.reopen().await;
    let got = backend.store().read_all(Position(0), 1).await.unwrap();
    let got = &got[0];
    assert_eq!(got.position, Position(1));
    assert_eq!(got.stream_version, 1);
    assert_eq!(got.event_id, sent.event_id);
    assert_eq!(got.event_id.get_version_num(), 7);
    assert_eq!(got.stream, sent.stream);
    assert_eq!(got.event_type, sent.event_type);
    assert_eq!(got.schema_version, sent.schema_version);
    assert_eq!(got.recorded_at_ms, sent.recorded_at_ms);
    assert_eq!(got.correlation_id, sent.correlation_id);
    assert_eq!(got.causation_id, sent.causation_id);
    assert_eq!(got.payload, sent.payload);
    assert_eq!(got.idempotency_key, sent.idempotency_key);
}

async fn a_subscriber_catches_up_then_follows_live_appends_without_a_gap_or_a_repeat<B: Backend>(
    backend: &mut B,
) {
    const APPENDERS: u64 = 16;
    const EACH: u64 = 40;
    let store = backend.store().clone();
    // Some history to catch up on first.
    for n in 0..25 {
        store
            .append(request(vec![event("history", n, None)]))
            .await
            .unwrap();
    }
    let total = 25 + APPENDERS * EACH * 2;
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut subscription = Subscription::new(store, Position(0));
            let mut expected = 1;
            while expected <= total {
                let batch = subscription.next_batch(64).await.unwrap();
                assert!(!batch.is_empty(), "the store closed under a subscriber");
                for event in batch {
                    assert_eq!(event.position.0, expected, "skipped or repeated a position");
                    expected += 1;
                }
            }
            subscription.position()
        })
    };
    let mut appenders = Vec::new();
    for appender in 0..APPENDERS {
        let store = store.clone();
        appenders.push(tokio::spawn(async move {
            for n in 0..EACH {
                // Two events per append, to two streams: batches interleave with single appends.
                store
                    .append(request(vec![
                        event(&format!("live-{appender}"), n, None),
                        event("shared", n, None),
                    ]))
                    .await
                    .unwrap();
            }
        }));
    }
    for appender in appenders {
        appender.await.unwrap();
    }
    let reached = tokio::time::timeout(std::time::Duration::from_secs(60), reader)
        .await
        .expect("the subscriber reaches the last position")
        .unwrap();
    assert_eq!(reached, Position(total));
    // Live: one more append after the subscriber caught up is delivered too.
    let mut subscription = Subscription::new(store.clone(), Position(total));
    let waiting = tokio::spawn(async move { subscription.next().await.unwrap() });
    store
        .append(request(vec![event("late", 1, None)]))
        .await
        .unwrap();
    let late = waiting.await.unwrap().expect("an event");
    assert_eq!(late.position, Position(total + 1));
}

async fn a_superseded_writer_is_fenced_and_appends_nothing<B: Backend>(backend: &mut B) {
    let store = backend.store().clone();
    // Before anyone claims the log, plain appends are accepted (tools, tests, imports).
    store
        .append(request(vec![event("a", 1, None)]))
        .await
        .unwrap();
    let first = store.claim_writer().await.unwrap();
    let with = |epoch: Option<WriterEpoch>, n| AppendRequest {
        events: vec![event("a", n, None)],
        writer: epoch,
        ..AppendRequest::default()
    };
    store.append(with(Some(first), 2)).await.unwrap();
    // Another server starts on the same log and claims it.
    let other = backend.second_handle().await;
    let second = match &other {
        Some(other) => other.claim_writer().await.unwrap(),
        None => store.claim_writer().await.unwrap(),
    };
    assert!(second > first);
    let refused = store.append(with(Some(first), 3)).await.unwrap_err();
    assert!(
        matches!(refused, AppendError::Fenced { presented: Some(p), current } if p == first && current == second.0),
        "{refused:?}"
    );
    let unclaimed = store.append(with(None, 4)).await.unwrap_err();
    assert!(matches!(
        unclaimed,
        AppendError::Fenced {
            presented: None,
            ..
        }
    ));
    assert_eq!(store.read_all(Position(0), 10).await.unwrap().len(), 2);
    match &other {
        Some(other) => other.append(with(Some(second), 5)).await.unwrap(),
        None => store.append(with(Some(second), 5)).await.unwrap(),
    };
    drop(other);
    drop(store);
    // The claim outlives a restart: the next one is higher still, the old one stays fenced.
    backend.reopen().await;
    let store = backend.store();
    let third = store.claim_writer().await.unwrap();
    assert!(third > second);
    assert!(matches!(
        store.append(with(Some(second), 6)).await,
        Err(AppendError::Fenced { .. })
    ));
    store.append(with(Some(third), 7)).await.unwrap();
    assert_eq!(store.read_all(Position(0), 10).await.unwrap().len(), 4);
}

/// Enough events that any lookup table written in bulk (the embedded store writes its stream
/// index and keys every few thousand events) has been written, with a tail that has not.
async fn a_long_log_reads_back_by_stream_and_key_across_a_restart<B: Backend>(backend: &mut B) {
    const TOTAL: u64 = 10_000;
    const STREAMS: u64 = 7;
    let store = backend.store().clone();
    let mut n = 0;
    while n < TOTAL {
        let events = (n..(n + 500).min(TOTAL))
            .map(|i| {
                let key = format!("msg-{i}");
                event(&format!("s-{}", i % STREAMS), i, Some(&key))
            })
            .collect();
        store.append(request(events)).await.unwrap();
        n += 500;
    }
    drop(store);
    for round in 0..2 {
        let store = backend.store();
        for stream in 0..STREAMS {
            let name = format!("s-{stream}");
            let mut versions = Vec::new();
            let mut after = 0;
            loop {
                let page = store.read_stream(&name, after, 333).await.unwrap();
                let Some(last) = page.last() else { break };
                after = last.stream_version;
                // (Round 1 also finds the event round 0 appended after the bulk.)
                for e in page.iter().filter(|e| e.position.0 <= TOTAL) {
                    assert_eq!(e.stream, name);
                    // Stream versions follow the log's order: event i is version i / 7 + 1.
                    assert_eq!(e.position.0 - 1, (e.stream_version - 1) * STREAMS + stream);
                    versions.push(e.stream_version);
                }
            }
            let expected = (TOTAL - stream).div_ceil(STREAMS);
            assert_eq!(
                versions,
                (1..=expected).collect::<Vec<_>>(),
                "round {round}"
            );
        }
        for i in [0, 4_095, 4_096, 8_191, 9_999] {
            assert_eq!(
                store
                    .find_idempotency_key(&format!("msg-{i}"))
                    .await
                    .unwrap(),
                Some(Position(i + 1)),
                "round {round}"
            );
        }
        let again = store
            .append(request(vec![event("s-0", 1, Some("msg-9999"))]))
            .await
            .unwrap();
        assert_eq!(
            again,
            AppendOutcome::AlreadyAppended {
                position: Position(TOTAL)
            }
        );
        let next = store
            .append(AppendRequest {
                events: vec![event("s-3", 1, None)],
                expectations: vec![(
                    "s-3".into(),
                    ExpectedVersion::Exact((TOTAL - 3).div_ceil(STREAMS) + round),
                )],
                writer: None,
            })
            .await
            .unwrap();
        assert!(
            matches!(next, AppendOutcome::Appended { .. }),
            "round {round}"
        );
        backend.reopen().await;
    }
}

/// Declares, for one backend, a test per guarantee above.
macro_rules! conformance {
    ($backend:ty; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let Some(mut backend) = <$backend as Backend>::fresh().await else {
                    return;
                };
                super::$name(&mut backend).await;
                backend.cleanup().await;
            }
        )*
    };
}

macro_rules! every_guarantee {
    ($backend:ty) => {
        conformance!($backend;
            appends_a_batch_to_several_streams_atomically,
            a_wrong_expected_version_appends_nothing,
            an_idempotency_key_is_stored_once,
            an_idempotency_key_is_remembered_after_a_restart,
            concurrent_appenders_get_distinct_gapless_positions,
            empty_and_oversized_appends_are_refused,
            reads_a_stream_from_a_version_and_the_log_from_a_position_in_order,
            every_event_keeps_its_whole_envelope,
            a_subscriber_catches_up_then_follows_live_appends_without_a_gap_or_a_repeat,
            a_superseded_writer_is_fenced_and_appends_nothing,
            a_long_log_reads_back_by_stream_and_key_across_a_restart,
            the_log_is_a_hash_chain_that_checks_across_a_restart,
        );
    };
}

mod embedded {
    use super::*;

    every_guarantee!(backends::Embedded);

    #[tokio::test]
    async fn a_second_process_cannot_open_a_log_in_use() {
        let backend = backends::Embedded::fresh().await.unwrap();
        let error =
            event_store::embedded::EmbeddedStore::open(backend.store().path().parent().unwrap())
                .err()
                .expect("second open must fail");
        assert!(matches!(error, StoreError::InUse { .. }), "{error}");
    }
}

/// The same guarantees with flushes into redb and write-ahead segment changes every few events.
mod embedded_flushing {
    use super::*;

    every_guarantee!(backends::EmbeddedFlushing);
}

mod postgres {
    use super::*;

    every_guarantee!(backends::Postgres);

    /// A schema version PostgreSQL's integer column cannot hold is refused, not stored as another
    /// number than the one its chain link covers.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_schema_version_beyond_the_column_is_refused() {
        let Some(backend) = backends::Postgres::fresh().await else {
            return;
        };
        let mut huge = event("a", 1, None);
        huge.schema_version = u32::MAX;
        let refused = backend.store().append(request(vec![huge])).await;
        assert!(matches!(refused, Err(AppendError::Store(_))), "{refused:?}");
        assert!(
            backend
                .store()
                .read_all(Position(0), 10)
                .await
                .unwrap()
                .is_empty()
        );
        backend.cleanup().await;
    }

    /// The schema is brought up to date at start-up, and a schema from a newer build is refused
    /// rather than written by a build that does not know it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_schema_is_migrated_at_start_up_and_a_newer_one_is_refused() {
        let Some(mut backend) = backends::Postgres::fresh().await else {
            return;
        };
        backend
            .store()
            .append(request(vec![event("a", 1, None)]))
            .await
            .unwrap();
        let schema = backend.schema().to_owned();
        let raw = backend.raw_client().await;
        // Put the schema back as the first release left it: no chain, a streams table.
        raw.batch_execute(&format!(
            "CREATE TABLE {schema}.streams (stream text PRIMARY KEY, version bigint NOT NULL);
             ALTER TABLE {schema}.events DROP COLUMN chain;
             ALTER TABLE {schema}.log_head DROP COLUMN chain;
             UPDATE {schema}.schema_version SET version = 1;"
        ))
        .await
        .unwrap();
        backend.reopen().await;
        let version: i32 = raw
            .query_one(&format!("SELECT version FROM {schema}.schema_version"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(version, 3);
        // The event from before the chain has no link; the next append links to its computed
        // one, and the whole chain checks.
        backend
            .store()
            .append(request(vec![event("a", 2, None)]))
            .await
            .unwrap();
        let events = backend.store().read_all(Position(0), 10).await.unwrap();
        assert_eq!(events[0].chain, None);
        assert!(events[1].chain.is_some());
        let checked = event_store::chain::verify(backend.store(), Vec::new())
            .await
            .unwrap();
        assert_eq!(checked.first_break, None, "{checked:?}");
        assert_eq!(checked.checked, 2);
        let streams_left: i64 = raw
            .query_one(
                "SELECT count(*) FROM information_schema.tables \
                 WHERE table_schema = $1 AND table_name = 'streams'",
                &[&schema],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(streams_left, 0);
        assert_eq!(
            backend
                .store()
                .read_all(Position(0), 10)
                .await
                .unwrap()
                .len(),
            2
        );

        raw.batch_execute(&format!("UPDATE {schema}.schema_version SET version = 99"))
            .await
            .unwrap();
        let location =
            event_store::postgres::Location::parse(&std::env::var(backends::POSTGRES_ENV).unwrap())
                .unwrap()
                .with_schema(&schema)
                .unwrap();
        let refused = event_store::postgres::PostgresStore::connect(location)
            .await
            .err()
            .expect("a newer schema is refused");
        assert!(
            refused.to_string().contains("newer than this build knows"),
            "{refused}"
        );
        backend.cleanup().await;
    }

    /// A reader in another process (here: another connection) is woken by `NOTIFY` when a
    /// writer elsewhere commits, and reads what was committed from the table.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_subscriber_on_another_connection_is_woken_by_the_writers_commit() {
        let Some(backend) = backends::Postgres::fresh().await else {
            return;
        };
        let writer = backend.store().clone();
        let reader = backend.second_handle().await.unwrap();
        let mut subscription = Subscription::new(reader.clone(), Position(0));
        let next = tokio::spawn(async move { subscription.next().await.unwrap().unwrap() });
        writer
            .append(request(vec![event("elsewhere", 1, None)]))
            .await
            .unwrap();
        let delivered = tokio::time::timeout(std::time::Duration::from_secs(30), next)
            .await
            .expect("woken by the commit's notification")
            .unwrap();
        assert_eq!(delivered.position, Position(1));
        assert_eq!(delivered.stream, "elsewhere");
        assert_eq!(*reader.head().borrow(), Position(1));
        drop(reader);
        backend.cleanup().await;
    }

    /// The bug every sequence-based store shipped: a transaction takes position N, another takes
    /// N+1 and commits first, and a reader that saw N+1 never sees N. Here a transaction outside
    /// the store (another process, say) holds position 2 uncommitted; the store's own append must
    /// wait for it rather than take 3 and commit first, and a subscriber delivers 2 then 3.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_transaction_holding_an_earlier_position_holds_back_every_later_one() {
        let Some(backend) = backends::Postgres::fresh().await else {
            return;
        };
        let store = backend.store().clone();
        store
            .append(request(vec![event("a", 1, None)]))
            .await
            .unwrap();
        let schema = backend.schema().to_owned();
        let mut raw = backend.raw_client().await;
        let slow = raw.transaction().await.unwrap();
        let head: i64 = slow
            .query_one(
                &format!("SELECT position FROM {schema}.log_head FOR UPDATE"),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(head, 1);
        slow.batch_execute(&format!(
            "INSERT INTO {schema}.events VALUES (2, 'slow', 1, gen_random_uuid(), 'Tested', 1, 0,
                 gen_random_uuid(), gen_random_uuid(), '\\x7b7d', NULL);
             UPDATE {schema}.log_head SET position = 2;"
        ))
        .await
        .unwrap();

        let later = tokio::spawn({
            let store = store.clone();
            async move {
                store
                    .append(request(vec![event("later", 3, None)]))
                    .await
                    .unwrap()
            }
        });
        let mut subscription = Subscription::new(store.clone(), Position(1));
        let delivered = tokio::spawn(async move {
            let first = subscription.next().await.unwrap().unwrap();
            let second = subscription.next().await.unwrap().unwrap();
            [
                (first.position, first.stream),
                (second.position, second.stream),
            ]
        });
        // Give a broken store every chance to commit position 3 first.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(
            !later.is_finished(),
            "an append overtook an uncommitted earlier one"
        );
        assert!(!delivered.is_finished());
        assert!(store.read_all(Position(1), 10).await.unwrap().is_empty());

        slow.commit().await.unwrap();
        assert_eq!(
            later.await.unwrap(),
            AppendOutcome::Appended {
                first: Position(3),
                last: Position(3)
            }
        );
        assert_eq!(
            delivered.await.unwrap(),
            [
                (Position(2), "slow".to_owned()),
                (Position(3), "later".to_owned())
            ]
        );
        backend.cleanup().await;
    }
}
