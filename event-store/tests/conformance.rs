//! The guarantees every backend must give, written once against the `EventStore` trait and run
//! against each backend.

// Test helpers outside `#[test]` functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use event_store::embedded::EmbeddedStore;
use event_store::{
    AppendError, AppendOutcome, AppendRequest, EventStore, ExpectedVersion, NewEvent, Position,
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
        expectations: Vec::new(),
    }
}

async fn appends_a_batch_to_several_streams_atomically(store: &impl EventStore) {
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

async fn a_wrong_expected_version_appends_nothing(store: &impl EventStore) {
    store
        .append(request(vec![event("a", 1, None)]))
        .await
        .unwrap();
    let error = store
        .append(AppendRequest {
            events: vec![event("a", 2, None), event("b", 3, None)],
            expectations: vec![("a".into(), ExpectedVersion::NoStream)],
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
        })
        .await
        .unwrap();
    assert!(matches!(ok, AppendOutcome::Appended { .. }));
}

async fn an_idempotency_key_is_stored_once(store: &impl EventStore) {
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
}

async fn concurrent_appenders_get_distinct_gapless_positions(store: &(impl EventStore + Clone)) {
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

async fn empty_and_oversized_appends_are_refused(store: &impl EventStore) {
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

mod embedded {
    use super::*;

    fn open() -> (tempfile::TempDir, EmbeddedStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn appends_a_batch_to_several_streams_atomically() {
        let (_dir, store) = open();
        super::appends_a_batch_to_several_streams_atomically(&store).await;
    }

    #[tokio::test]
    async fn a_wrong_expected_version_appends_nothing() {
        let (_dir, store) = open();
        super::a_wrong_expected_version_appends_nothing(&store).await;
    }

    #[tokio::test]
    async fn an_idempotency_key_is_stored_once() {
        let (_dir, store) = open();
        super::an_idempotency_key_is_stored_once(&store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_appenders_get_distinct_gapless_positions() {
        let (_dir, store) = open();
        super::concurrent_appenders_get_distinct_gapless_positions(&store).await;
    }

    #[tokio::test]
    async fn empty_and_oversized_appends_are_refused() {
        let (_dir, store) = open();
        super::empty_and_oversized_appends_are_refused(&store).await;
    }

    #[tokio::test]
    async fn what_was_acknowledged_is_there_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = EmbeddedStore::open(dir.path()).unwrap();
            store
                .append(request(vec![
                    event("a", 1, Some("m-1")),
                    event("b", 2, None),
                ]))
                .await
                .unwrap();
        }
        let store = EmbeddedStore::open(dir.path()).unwrap();
        assert_eq!(*store.head().borrow(), Position(2));
        assert_eq!(store.read_all(Position(0), 10).await.unwrap().len(), 2);
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
        assert_eq!(
            store
                .read_stream("a", 0, 10)
                .await
                .unwrap()
                .last()
                .unwrap()
                .stream_version,
            2
        );
    }

    #[tokio::test]
    async fn a_second_process_cannot_open_a_log_in_use() {
        let (dir, _store) = open();
        let error = EmbeddedStore::open(dir.path())
            .err()
            .expect("second open must fail");
        assert!(
            matches!(error, event_store::StoreError::InUse { .. }),
            "{error}"
        );
    }
}
