//! Catch-up subscriptions: history, then live, with no gap and no duplicate.

use std::time::Duration;

use event_store::testing::TestDatabase;
use event_store::{EventStore, ExpectedVersion, LogNotifier, NewEvent};
use futures::StreamExt;
use serde_json::json;
use sqlx::Executor;

/// Append `count` events one at a time, retrying (with the same idempotency
/// key) through connection loss, as a careful client would.
async fn append_steadily(store: EventStore, start: usize, count: usize) {
    for i in start..start + count {
        let key = format!("append-{i}");
        loop {
            let e = NewEvent::new("ThingNoted", 1, json!({ "n": i }));
            match store
                .append(
                    &format!("thing-{}", i % 5),
                    ExpectedVersion::Any,
                    &[e],
                    &json!({}),
                    Some(&key),
                )
                .await
            {
                Ok(_) => break,
                Err(err) if err.is_transient() => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                Err(err) => panic!("append {i}: {err}"),
            }
        }
        if i % 10 == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

async fn collect_until(
    stream: impl futures::Stream<Item = Result<event_store::RecordedEvent, event_store::StoreError>>,
    last: i64,
) -> Vec<i64> {
    let mut stream = std::pin::pin!(stream);
    let mut seen = Vec::new();
    let bound = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(item) = stream.next().await {
            let e = item.expect("subscription item");
            seen.push(e.position);
            if e.position >= last {
                break;
            }
        }
    });
    bound
        .await
        .unwrap_or_else(|_| panic!("subscription stalled after {:?}", seen.last()));
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscriber_from_p_gets_exactly_the_events_after_p_while_appends_continue() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.runtime.clone());
    append_steadily(store.clone(), 0, 100).await;
    let notifier = LogNotifier::start(db.runtime.clone(), Duration::from_secs(1))
        .await
        .unwrap();

    let writer = tokio::spawn(append_steadily(store.clone(), 100, 400));
    let seen = collect_until(store.subscribe(40, notifier.wake()), 500).await;
    writer.await.unwrap();

    assert_eq!(
        seen,
        (41..=500).collect::<Vec<_>>(),
        "in order, no gap, no duplicate"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscriber_continues_without_gap_after_its_connections_are_killed() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.runtime.clone());
    append_steadily(store.clone(), 0, 50).await;
    let notifier = LogNotifier::start(db.runtime.clone(), Duration::from_millis(500))
        .await
        .unwrap();

    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            append_steadily(store.clone(), 50, 150).await;
            // Every connection of the service to this database, the
            // listener's included, is terminated mid-stream.
            let mut admin = db.owner.acquire().await.unwrap();
            let killed: i64 = sqlx::query_scalar(
                "select count(pg_terminate_backend(pid)) from pg_stat_activity \
                 where datname = current_database() and pid <> pg_backend_pid()",
            )
            .fetch_one(&mut *admin)
            .await
            .unwrap();
            assert!(killed >= 1, "the listener at least was connected");
            admin.execute("select 1").await.unwrap();
            append_steadily(store, 200, 200).await;
            db
        })
    };
    let seen = collect_until(store.subscribe(0, notifier.wake()), 400).await;
    let _db = writer.await.unwrap();
    assert_eq!(seen, (1..=400).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_subscriber_that_starts_at_the_head_waits_for_new_events() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.runtime.clone());
    append_steadily(store.clone(), 0, 3).await;
    let notifier = LogNotifier::start(db.runtime.clone(), Duration::from_secs(30))
        .await
        .unwrap();
    let subscription = store.subscribe(3, notifier.wake());
    let appender = {
        let store = store.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            append_steadily(store, 3, 2).await;
        })
    };
    // The poll interval is 30 s, so delivery within the bound below proves
    // the notification woke the subscriber.
    let seen = tokio::time::timeout(Duration::from_secs(20), collect_until(subscription, 5))
        .await
        .expect("woken by NOTIFY");
    appender.await.unwrap();
    assert_eq!(seen, vec![4, 5]);
    // The subscriber reads the log itself, so it can see position 5 (woken by
    // the notification of 4) before the listener has handled the notification
    // of 5; wait for that one too rather than race it.
    let mut wake = notifier.wake();
    tokio::time::timeout(Duration::from_secs(20), async {
        while notifier.last_announced() < 5 {
            wake.wait_at_most(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the notification of position 5 arrives");
    assert_eq!(notifier.last_announced(), 5);
}
