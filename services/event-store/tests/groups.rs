//! Group commit: appends committed together keep their own outcomes, and
//! any number of concurrent writers leave a gap-free, chain-valid log.

use std::collections::HashMap;
use std::sync::Arc;

use event_store::testing::TestDatabase;
use event_store::vault::{MasterKey, Vault, VaultError};
use event_store::{Appending, EventStore, ExpectedVersion, NewEvent, StoreError, StreamAppend};
use serde_json::{json, Value};
use uuid::Uuid;

fn event(n: usize) -> NewEvent {
    NewEvent::new("SomethingHappened", 1, json!({ "n": n }))
}

fn meta() -> Value {
    json!({"actor": "test"})
}

/// Positions 1..=head, no gap; the chain verifies; every event once.
async fn assert_log_whole(store: &EventStore) -> Vec<event_store::RecordedEvent> {
    let head = store.head().await.unwrap().position;
    let log = store.read_all(0, 10_000).await.unwrap();
    let positions: Vec<i64> = log.iter().map(|e| e.position).collect();
    assert_eq!(positions, (1..=head).collect::<Vec<_>>(), "no gap");
    let report = store.verify_chain(None, None).await.unwrap();
    assert!(report.is_verified(), "{report:?}");
    log
}

#[tokio::test]
async fn a_group_with_one_conflicting_append_commits_the_others_and_the_conflict_names_the_actual_version(
) {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.runtime.clone());
    store
        .append(
            "things-a",
            ExpectedVersion::NoStream,
            &[event(1), event(2)],
            &meta(),
            None,
        )
        .await
        .unwrap();
    let (b, stale, c) = ([event(3)], [event(4)], [event(5)]);
    let batches = [
        [StreamAppend {
            stream_id: "things-b",
            expected: ExpectedVersion::NoStream,
            events: &b,
        }],
        [StreamAppend {
            stream_id: "things-a",
            expected: ExpectedVersion::Exactly(1),
            events: &stale,
        }],
        [StreamAppend {
            stream_id: "things-c",
            expected: ExpectedVersion::NoStream,
            events: &c,
        }],
    ];
    let m = meta();
    let appends: Vec<Appending<'_>> = batches
        .iter()
        .map(|batch| Appending {
            batches: batch,
            metadata: &m,
            idempotency_key: None,
            vault_changes: &[],
        })
        .collect();
    let outcomes = store.append_together(&appends).await;
    let first = outcomes[0].as_ref().unwrap();
    assert_eq!((first.first_position, first.stream_version), (3, 1));
    match &outcomes[1] {
        Err(StoreError::Conflict {
            stream_id, actual, ..
        }) => assert_eq!((stream_id.as_str(), *actual), ("things-a", 2)),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let third = outcomes[2].as_ref().unwrap();
    assert_eq!(third.first_position, 4, "the conflict took no position");
    let log = assert_log_whole(&store).await;
    let ids: Vec<Uuid> = log.iter().map(|e| e.event_id).collect();
    assert!(
        !ids.contains(&stale[0].event_id),
        "nothing of the conflict was written"
    );
    assert!(ids.contains(&b[0].event_id) && ids.contains(&c[0].event_id));
}

#[tokio::test]
async fn an_idempotency_key_returns_the_first_outcome_within_a_group_and_in_a_later_one() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.runtime.clone());
    let (first, retry, elsewhere) = ([event(1)], [event(2)], [event(3)]);
    let m = meta();
    let on = |stream, events| {
        [StreamAppend {
            stream_id: stream,
            expected: ExpectedVersion::Any,
            events,
        }]
    };
    let (b1, b2, b3) = (
        on("things-x", &first),
        on("things-x", &retry),
        on("things-y", &elsewhere),
    );
    let keyed = |batches| Appending {
        batches,
        metadata: &m,
        idempotency_key: Some("retry-1"),
        vault_changes: &[],
    };
    let outcomes = store
        .append_together(&[keyed(&b1), keyed(&b2), keyed(&b3)])
        .await;
    let original = outcomes[0].as_ref().unwrap().clone();
    assert!(!original.deduplicated);
    let replayed = outcomes[1].as_ref().unwrap();
    assert!(
        replayed.deduplicated,
        "a retry in the same group appends nothing"
    );
    assert_eq!(
        (
            replayed.first_position,
            replayed.last_position,
            replayed.stream_version
        ),
        (
            original.first_position,
            original.last_position,
            original.stream_version
        )
    );
    assert!(
        matches!(&outcomes[2], Err(StoreError::IdempotencyKeyReused { stream_id, .. }) if stream_id == "things-x"),
        "{:?}",
        outcomes[2]
    );
    // In a later group, the same.
    let later = store
        .append(
            "things-x",
            ExpectedVersion::Any,
            &[event(4)],
            &m,
            Some("retry-1"),
        )
        .await
        .unwrap();
    assert!(later.deduplicated);
    assert_eq!(later.first_position, original.first_position);
    let log = assert_log_whole(&store).await;
    assert_eq!(log.len(), 1, "one append in all");
}

#[tokio::test]
async fn an_append_refused_in_a_group_stores_none_of_its_vault_keys() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.runtime.clone());
    let vault = Vault::new(db.runtime.clone(), MasterKey::generate());
    store
        .append(
            "things-a",
            ExpectedVersion::NoStream,
            &[event(1)],
            &meta(),
            None,
        )
        .await
        .unwrap();
    let (refused_person, kept_person) = (Uuid::new_v4(), Uuid::new_v4());
    let mut sealer = vault.sealer();
    sealer.seal(refused_person, "Refused Person").await.unwrap();
    let (refused_keys, _) = sealer.finish();
    let mut sealer = vault.sealer();
    sealer.seal(kept_person, "Kept Person").await.unwrap();
    let (kept_keys, _) = sealer.finish();
    let (stale, fine) = ([event(2)], [event(3)]);
    let m = meta();
    let refused = [StreamAppend {
        stream_id: "things-a",
        expected: ExpectedVersion::NoStream,
        events: &stale,
    }];
    let kept = [StreamAppend {
        stream_id: "things-b",
        expected: ExpectedVersion::NoStream,
        events: &fine,
    }];
    let outcomes = store
        .append_together(&[
            Appending {
                batches: &refused,
                metadata: &m,
                idempotency_key: None,
                vault_changes: &refused_keys,
            },
            Appending {
                batches: &kept,
                metadata: &m,
                idempotency_key: None,
                vault_changes: &kept_keys,
            },
        ])
        .await;
    assert!(matches!(outcomes[0], Err(StoreError::Conflict { .. })));
    assert!(outcomes[1].is_ok());
    let stored: Vec<Uuid> = sqlx::query_scalar("select person_id from vault_keys")
        .fetch_all(&db.owner)
        .await
        .unwrap();
    assert_eq!(stored, vec![kept_person], "only the committed append's key");
}

#[tokio::test]
async fn two_appends_in_a_group_that_make_a_key_for_one_new_person_leave_one_key() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.runtime.clone());
    let vault = Vault::new(db.runtime.clone(), MasterKey::generate());
    let person = Uuid::new_v4();
    let mut changes = Vec::new();
    for _ in 0..2 {
        let mut sealer = vault.sealer();
        sealer.seal(person, "Same Person").await.unwrap();
        changes.push(sealer.finish().0);
    }
    let (one, two) = ([event(1)], [event(2)]);
    let m = meta();
    let b1 = [StreamAppend {
        stream_id: "things-1",
        expected: ExpectedVersion::NoStream,
        events: &one,
    }];
    let b2 = [StreamAppend {
        stream_id: "things-2",
        expected: ExpectedVersion::NoStream,
        events: &two,
    }];
    let outcomes = store
        .append_together(&[
            Appending {
                batches: &b1,
                metadata: &m,
                idempotency_key: None,
                vault_changes: &changes[0],
            },
            Appending {
                batches: &b2,
                metadata: &m,
                idempotency_key: None,
                vault_changes: &changes[1],
            },
        ])
        .await;
    assert!(outcomes[0].is_ok());
    assert!(
        matches!(&outcomes[1], Err(StoreError::Vault(VaultError::KeyMadeConcurrently(p))) if *p == person),
        "the second learns the key was made meanwhile (and is re-run by its command): {:?}",
        outcomes[1]
    );
    let keys: i64 = sqlx::query_scalar("select count(*) from vault_keys")
        .fetch_one(&db.owner)
        .await
        .unwrap();
    assert_eq!(keys, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_writers_on_eight_streams_leave_a_gap_free_chain_valid_log_with_every_acknowledged_event_once(
) {
    let db = TestDatabase::new().await;
    let store = Arc::new(EventStore::new(db.runtime.clone()));
    let mut tasks = Vec::new();
    for writer in 0..64usize {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let stream = format!("shared-{}", writer % 8);
            let mut acked = Vec::new();
            let mut refused = Vec::new();
            for i in 0..25usize {
                let e = event(writer * 1000 + i);
                let id = e.event_id;
                let version = store.stream_version(&stream).await.unwrap();
                match store
                    .append(
                        &stream,
                        ExpectedVersion::Exactly(version),
                        &[e],
                        &json!({"writer": writer}),
                        None,
                    )
                    .await
                {
                    Ok(outcome) => acked.push((id, outcome.first_position, stream.clone())),
                    Err(StoreError::Conflict { actual, .. }) => {
                        assert!(actual > version, "a conflict reports the newer version");
                        refused.push(id);
                    }
                    Err(other) => panic!("writer {writer}: {other}"),
                }
            }
            (acked, refused)
        }));
    }
    let (mut acked, mut refused) = (Vec::new(), Vec::new());
    for t in tasks {
        let (a, r) = t.await.unwrap();
        acked.extend(a);
        refused.extend(r);
    }
    assert_eq!(acked.len() + refused.len(), 64 * 25);
    let log = assert_log_whole(&store).await;
    assert_eq!(log.len(), acked.len(), "exactly the acknowledged events");
    let stored: HashMap<Uuid, (i64, &str)> = log
        .iter()
        .map(|e| (e.event_id, (e.position, e.stream_id.as_str())))
        .collect();
    for (id, position, stream) in &acked {
        assert_eq!(stored.get(id), Some(&(*position, stream.as_str())));
    }
    for id in &refused {
        assert!(!stored.contains_key(id), "a refused append wrote nothing");
    }
    println!(
        "{} appends acknowledged, {} refused as conflicts",
        acked.len(),
        refused.len()
    );
}
