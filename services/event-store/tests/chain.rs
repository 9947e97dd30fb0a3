//! The hash chain: an untouched log verifies; tampering names the first bad position.

use event_store::chain::{BreakReason, ChainReport};
use event_store::testing::TestDatabase;
use event_store::{EventStore, ExpectedVersion, NewEvent};
use serde_json::json;
use sqlx::Executor;

async fn fill(store: &EventStore, events: usize, per_append: usize) {
    let mut n = 0;
    while n < events {
        let batch: Vec<NewEvent> = (n..(n + per_append).min(events))
            .map(|i| {
                NewEvent::new(
                    "ThingNoted",
                    1,
                    json!({ "n": i, "note": format!("note {i}") }),
                )
            })
            .collect();
        let stream = format!("thing-{}", n % 7);
        store
            .append(
                &stream,
                ExpectedVersion::Any,
                &batch,
                &json!({"by": "test"}),
                None,
            )
            .await
            .unwrap();
        n += batch.len();
    }
}

/// As a superuser: switch the append-only trigger off, change exactly one
/// row, switch it back on.
async fn tamper(db: &TestDatabase, sql: &str) {
    let mut conn = db.owner.acquire().await.unwrap();
    conn.execute("alter table events disable trigger events_no_update_or_delete")
        .await
        .unwrap();
    let changed = sqlx::query(sql).execute(&mut *conn).await.unwrap();
    assert_eq!(changed.rows_affected(), 1, "{sql}");
    conn.execute("alter table events enable trigger events_no_update_or_delete")
        .await
        .unwrap();
}

#[tokio::test]
async fn an_untouched_log_of_ten_thousand_events_verifies() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.runtime.clone());
    fill(&store, 10_000, 100).await;
    let report = store.verify_chain(None, None).await.unwrap();
    match report {
        ChainReport::Verified {
            from,
            to,
            count,
            head_hash,
        } => {
            assert_eq!((from, to, count), (1, 10_000, 10_000));
            assert_eq!(head_hash, hex_of(&store.head().await.unwrap().hash));
        }
        broken => panic!("expected the log to verify: {broken:?}"),
    }
    let middle = store.verify_chain(Some(4_000), Some(4_999)).await.unwrap();
    assert!(
        matches!(
            middle,
            ChainReport::Verified {
                from: 4_000,
                to: 4_999,
                count: 1_000,
                ..
            }
        ),
        "{middle:?}"
    );
}

#[tokio::test]
async fn changing_one_byte_of_one_payload_is_found_at_its_position() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.runtime.clone());
    fill(&store, 300, 10).await;
    // "note 137" becomes "note 138": one byte of one payload.
    tamper(&db, "update events set payload = jsonb_set(payload, '{note}', '\"note 138\"') where position = 138").await;

    let report = store.verify_chain(None, None).await.unwrap();
    assert_eq!(
        report,
        ChainReport::Broken {
            position: 138,
            reason: BreakReason::HashMismatch,
            verified_before: 137
        }
    );
    // A range that ends before the change still verifies.
    assert!(store
        .verify_chain(Some(1), Some(137))
        .await
        .unwrap()
        .is_verified());
}

#[tokio::test]
async fn deleting_one_row_is_found_at_its_position() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.runtime.clone());
    fill(&store, 300, 10).await;
    tamper(&db, "delete from events where position = 201").await;

    let report = store.verify_chain(None, None).await.unwrap();
    assert_eq!(
        report,
        ChainReport::Broken {
            position: 201,
            reason: BreakReason::Missing,
            verified_before: 200
        }
    );
}

#[tokio::test]
async fn rewriting_a_row_and_its_own_hash_breaks_the_link_to_the_next_event() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.runtime.clone());
    fill(&store, 50, 5).await;
    let mut tampered = store.read_all(19, 1).await.unwrap().remove(0);
    tampered.payload["note"] = json!("forged");
    let forged_hash = event_store::canonical::chain_hash(&tampered.prev_hash, (&tampered).into());
    let mut conn = db.owner.acquire().await.unwrap();
    conn.execute("alter table events disable trigger events_no_update_or_delete")
        .await
        .unwrap();
    sqlx::query("update events set payload = $1, hash = $2 where position = 20")
        .bind(&tampered.payload)
        .bind(forged_hash.as_slice())
        .execute(&mut *conn)
        .await
        .unwrap();
    conn.execute("alter table events enable trigger events_no_update_or_delete")
        .await
        .unwrap();

    let report = store.verify_chain(None, None).await.unwrap();
    assert_eq!(
        report,
        ChainReport::Broken {
            position: 21,
            reason: BreakReason::PreviousHashMismatch,
            verified_before: 20
        }
    );
}

#[tokio::test]
async fn hashes_survive_the_jsonb_round_trip_for_awkward_json() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.runtime.clone());
    let awkward = json!({
        "z": 1, "a": [1.0, 1e19, 1.5e300, -0.0, 12345678901234567890u64, 0.1],
        "nested": {"b": null, "a": true, "é": "ünïcödé \"quoted\" \\ \t\n", "emoji": "🦀"},
        "": "empty key", "big": i64::MIN
    });
    let meta = json!({"correlation_id": "c-1", "actor": {"subject": "u1", "roles": ["staff"]}});
    store
        .append(
            "thing-1",
            ExpectedVersion::NoStream,
            &[NewEvent::new("ThingNoted", 1, awkward)],
            &meta,
            None,
        )
        .await
        .unwrap();
    let stored = store.read_all(0, 1).await.unwrap().remove(0);
    let recomputed = event_store::canonical::chain_hash(&stored.prev_hash, (&stored).into());
    assert_eq!(recomputed.as_slice(), stored.hash.as_slice());
    assert!(store.verify_chain(None, None).await.unwrap().is_verified());
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
