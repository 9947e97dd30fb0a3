//! Appending: atomicity, serialisation, optimistic concurrency, idempotency, limits.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use event_store::testing::TestDatabase;
use event_store::{EventStore, ExpectedVersion, NewEvent, StoreError};
use serde_json::json;
use uuid::Uuid;

fn event(n: usize) -> NewEvent {
    NewEvent::new("SomethingHappened", 1, json!({ "n": n }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_writers_lose_nothing_and_leave_no_gap() {
    let db = TestDatabase::new().await;
    let store = Arc::new(EventStore::new(db.runtime.clone()));
    let shared = ["shared-a", "shared-b"];

    let mut tasks = Vec::new();
    for writer in 0..16usize {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let private = format!("private-{writer}");
            let mut private_version = 0;
            let mut acked: Vec<(Uuid, i64, String)> = Vec::new();
            let mut conflicts = 0usize;
            for i in 0..200usize {
                let e = event(writer * 1000 + i);
                let id = e.event_id;
                let (stream, expected) = if i % 2 == 0 {
                    (private.clone(), ExpectedVersion::Exactly(private_version))
                } else {
                    let stream = shared[i % 4 / 2].to_owned();
                    let v = store.stream_version(&stream).await.expect("read version");
                    (stream, ExpectedVersion::Exactly(v))
                };
                match store
                    .append(&stream, expected, &[e], &json!({"writer": writer}), None)
                    .await
                {
                    Ok(outcome) => {
                        assert_eq!(outcome.first_position, outcome.last_position);
                        if stream == private {
                            private_version = outcome.stream_version;
                        }
                        acked.push((id, outcome.first_position, stream));
                    }
                    Err(StoreError::Conflict {
                        actual, expected, ..
                    }) => {
                        assert_ne!(
                            expected,
                            actual.to_string(),
                            "a conflict reports the real version"
                        );
                        conflicts += 1;
                    }
                    Err(other) => panic!("writer {writer}: unexpected error {other}"),
                }
            }
            (acked, conflicts)
        }));
    }
    let mut acked = Vec::new();
    let mut conflicts = 0;
    for t in tasks {
        let (a, c) = t.await.expect("writer task");
        acked.extend(a);
        conflicts += c;
    }
    assert!(
        conflicts > 0,
        "two shared streams and 16 writers must produce conflicts"
    );
    assert_eq!(acked.len() + conflicts, 16 * 200);

    let log = store.read_all(0, 10_000).await.expect("read log");
    let positions: Vec<i64> = log.iter().map(|e| e.position).collect();
    let expected: Vec<i64> = (1..=acked.len() as i64).collect();
    assert_eq!(positions, expected, "positions are 1..N without a gap");

    let stored: HashMap<Uuid, (i64, &str)> = log
        .iter()
        .map(|e| (e.event_id, (e.position, e.stream_id.as_str())))
        .collect();
    assert_eq!(stored.len(), log.len(), "no event is stored twice");
    for (id, position, stream) in &acked {
        assert_eq!(
            stored.get(id),
            Some(&(*position, stream.as_str())),
            "acknowledged event {id} is where we were told"
        );
    }

    let mut versions: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for e in &log {
        versions
            .entry(&e.stream_id)
            .or_default()
            .push(e.stream_version);
    }
    for (stream, v) in versions {
        assert_eq!(
            v,
            (1..=v.len() as i64).collect::<Vec<_>>(),
            "{stream} versions are 1..n in log order"
        );
    }
    assert!(store.verify_chain(None, None).await.unwrap().is_verified());
}

#[tokio::test]
async fn a_wrong_expected_version_is_a_conflict_that_names_the_actual_version_and_writes_nothing() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.runtime.clone());
    store
        .append(
            "thing-1",
            ExpectedVersion::NoStream,
            &[event(1), event(2)],
            &json!({}),
            None,
        )
        .await
        .unwrap();

    let err = store
        .append(
            "thing-1",
            ExpectedVersion::Exactly(1),
            &[event(3)],
            &json!({}),
            None,
        )
        .await
        .unwrap_err();
    match err {
        StoreError::Conflict {
            stream_id,
            expected,
            actual,
        } => {
            assert_eq!(
                (stream_id.as_str(), expected.as_str(), actual),
                ("thing-1", "1", 2)
            );
        }
        other => panic!("expected a conflict, got {other}"),
    }
    let err = store
        .append(
            "thing-1",
            ExpectedVersion::NoStream,
            &[event(3)],
            &json!({}),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { actual: 2, .. }));
    assert_eq!(store.head().await.unwrap().position, 2);

    let ok = store
        .append(
            "thing-1",
            ExpectedVersion::Exactly(2),
            &[event(3)],
            &json!({}),
            None,
        )
        .await
        .unwrap();
    assert_eq!((ok.first_position, ok.stream_version), (3, 3));
}

#[tokio::test]
async fn the_same_idempotency_key_twice_appends_once_and_returns_the_same_positions() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.runtime.clone());
    store
        .append(
            "other-1",
            ExpectedVersion::Any,
            &[event(0)],
            &json!({}),
            None,
        )
        .await
        .unwrap();

    let first = store
        .append(
            "thing-1",
            ExpectedVersion::NoStream,
            &[event(1), event(2)],
            &json!({}),
            Some("cmd-42"),
        )
        .await
        .unwrap();
    // A retry builds its events again (new ids), as a client would.
    let again = store
        .append(
            "thing-1",
            ExpectedVersion::NoStream,
            &[event(1), event(2)],
            &json!({}),
            Some("cmd-42"),
        )
        .await
        .unwrap();
    assert!(!first.deduplicated);
    assert!(again.deduplicated);
    assert_eq!(
        (
            first.first_position,
            first.last_position,
            first.stream_version
        ),
        (
            again.first_position,
            again.last_position,
            again.stream_version
        )
    );
    assert_eq!((first.first_position, first.last_position), (2, 3));
    assert_eq!(store.head().await.unwrap().position, 3);

    let reused = store
        .append(
            "thing-2",
            ExpectedVersion::Any,
            &[event(3)],
            &json!({}),
            Some("cmd-42"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(reused, StoreError::IdempotencyKeyReused { .. }),
        "{reused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_retries_with_one_idempotency_key_append_exactly_once() {
    let db = TestDatabase::new().await;
    let store = Arc::new(EventStore::new(db.runtime.clone()));
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .append(
                    "thing-1",
                    ExpectedVersion::Any,
                    &[event(i)],
                    &json!({}),
                    Some("same-key"),
                )
                .await
                .unwrap()
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| !o.deduplicated).count(), 1);
    assert!(outcomes
        .iter()
        .all(|o| o.first_position == 1 && o.last_position == 1));
    assert_eq!(store.head().await.unwrap().position, 1);
}

/// stream, events, metadata, idempotency key, the field the error must name.
type Case = (
    &'static str,
    Vec<NewEvent>,
    serde_json::Value,
    Option<&'static str>,
    &'static str,
);

#[tokio::test]
async fn invalid_input_is_refused_with_the_field_named_and_writes_nothing() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.runtime.clone());
    let cases: Vec<Case> = vec![
        ("No Category", vec![event(1)], json!({}), None, "stream_id"),
        ("thing-1", vec![], json!({}), None, "events"),
        (
            "thing-1",
            vec![NewEvent::new("bad type", 1, json!({}))],
            json!({}),
            None,
            "events[0].event_type",
        ),
        (
            "thing-1",
            vec![NewEvent::new("Ok", 0, json!({}))],
            json!({}),
            None,
            "events[0].schema_version",
        ),
        (
            "thing-1",
            vec![
                event(1),
                NewEvent::new("Big", 1, json!({"x": "y".repeat(70_000)})),
            ],
            json!({}),
            None,
            "events[1].payload",
        ),
        (
            "thing-1",
            vec![event(1)],
            json!("not an object"),
            None,
            "metadata",
        ),
        (
            "thing-1",
            vec![event(1)],
            json!({}),
            Some(""),
            "idempotency_key",
        ),
        (
            "thing-1",
            vec![NewEvent::new("Ok", 1, json!({"s": "nul\u{0}"}))],
            json!({}),
            None,
            "events[0].payload",
        ),
    ];
    for (stream, events, metadata, key, field) in cases {
        let err = store
            .append(stream, ExpectedVersion::Any, &events, &metadata, key)
            .await
            .unwrap_err();
        match err {
            StoreError::Invalid { field: f, problem } => {
                assert_eq!(f, field, "{problem}");
                assert!(!problem.is_empty());
            }
            other => panic!("{field}: expected Invalid, got {other}"),
        }
    }
    let mut dup = event(1);
    let same_id = dup.event_id;
    store
        .append(
            "thing-1",
            ExpectedVersion::Any,
            &[dup.clone()],
            &json!({}),
            None,
        )
        .await
        .unwrap();
    dup.event_id = same_id;
    let err = store
        .append("thing-2", ExpectedVersion::Any, &[dup], &json!({}), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid { ref field, .. } if field == "event_id"),
        "{err}"
    );
    assert_eq!(
        store.head().await.unwrap().position,
        1,
        "only the one valid append was written"
    );
}

#[tokio::test]
async fn a_stream_reads_back_in_order_and_up_to_a_version_and_the_log_reads_in_pages() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.runtime.clone());
    for i in 0..5 {
        store
            .append("a-1", ExpectedVersion::Any, &[event(i)], &json!({}), None)
            .await
            .unwrap();
        store
            .append(
                "b-1",
                ExpectedVersion::Any,
                &[event(100 + i)],
                &json!({}),
                None,
            )
            .await
            .unwrap();
    }
    let a = store.read_stream("a-1", None).await.unwrap();
    assert_eq!(
        a.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(
        a.iter()
            .map(|e| e.payload["n"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
    assert_eq!(store.read_stream("a-1", Some(3)).await.unwrap().len(), 3);
    assert!(store
        .read_stream("nothing-here", None)
        .await
        .unwrap()
        .is_empty());

    let mut after = 0;
    let mut seen = Vec::new();
    loop {
        let page = store.read_all(after, 3).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 3);
        after = page.last().unwrap().position;
        seen.extend(page.into_iter().map(|e| e.position));
    }
    assert_eq!(seen, (1..=10).collect::<Vec<_>>());
    let head = store.head().await.unwrap();
    assert_eq!(head.position, 10);
    assert_eq!(
        head.hash.to_vec(),
        store.read_all(9, 1).await.unwrap()[0].hash
    );
}

#[tokio::test]
async fn an_append_to_several_streams_is_all_or_nothing() {
    use event_store::StreamAppend;
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.runtime.clone());
    store
        .append(
            "claim-a",
            ExpectedVersion::NoStream,
            &[event(0)],
            &json!({}),
            None,
        )
        .await
        .unwrap();

    let main_events = [event(1), event(2)];
    let claim_events = [event(3)];
    let stale = [
        StreamAppend {
            stream_id: "thing-1",
            expected: ExpectedVersion::NoStream,
            events: &main_events,
        },
        StreamAppend {
            stream_id: "claim-a",
            expected: ExpectedVersion::NoStream,
            events: &claim_events,
        },
    ];
    let err = store
        .append_multi(&stale, &json!({}), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { ref stream_id, actual: 1, .. } if stream_id == "claim-a"),
        "{err}"
    );
    assert_eq!(
        store.head().await.unwrap().position,
        1,
        "the first stream's events were not written either"
    );

    let fresh = [
        StreamAppend {
            stream_id: "thing-1",
            expected: ExpectedVersion::NoStream,
            events: &main_events,
        },
        StreamAppend {
            stream_id: "claim-a",
            expected: ExpectedVersion::Exactly(1),
            events: &claim_events,
        },
    ];
    let out = store.append_multi(&fresh, &json!({}), None).await.unwrap();
    assert_eq!(
        (
            out.stream_id.as_str(),
            out.first_position,
            out.last_position,
            out.stream_version
        ),
        ("thing-1", 2, 4, 2)
    );
    assert_eq!(store.stream_version("claim-a").await.unwrap(), 2);
    assert!(store.verify_chain(None, None).await.unwrap().is_verified());
}

/// An append commits with `synchronous_commit` at least `on`, whatever the
/// session or role says, and keeps a stronger setting.
#[tokio::test]
async fn an_append_pins_synchronous_commit_at_least_on_for_its_transaction() {
    let db = TestDatabase::new().await;
    for (session, expected) in [
        ("off", "on"),
        ("local", "on"),
        ("remote_write", "on"),
        ("on", "on"),
        ("remote_apply", "remote_apply"),
    ] {
        let mut tx = db.runtime.begin().await.unwrap();
        sqlx::query(&format!("set local synchronous_commit = {session}"))
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query(event_store::db::DURABLE_COMMIT)
            .execute(&mut *tx)
            .await
            .unwrap();
        let now: String = sqlx::query_scalar("select current_setting('synchronous_commit')")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(now, expected, "from {session}");
        tx.rollback().await.unwrap();
    }
}
