//! Rebuild equals incremental; crash safety; failover.

mod common;

use std::time::Duration;

use common::*;
use event_store::testing::TestDatabase;
use event_store::{EventStore, LogNotifier};
use projections::{rebuild, Projector, ProjectorConfig};

const BATCH: i64 = 200;
const REVIEW: i64 = 365;

fn config() -> ProjectorConfig {
    ProjectorConfig {
        batch_size: BATCH,
        review_period_days: REVIEW,
        lock_retry: Duration::from_millis(200),
        ..ProjectorConfig::default()
    }
}

/// Rebuild every model into `read_models_next` and compare it, row by row,
/// with what the live projector left in `read_models`.
async fn assert_rebuild_equals_live(db: &TestDatabase) {
    rebuild::prepare(&db.owner).await.unwrap();
    rebuild::fill(&db.owner, BATCH, REVIEW, |_, _, _| {})
        .await
        .unwrap();
    assert_same(
        &snapshot(&db.owner, "read_models_next").await,
        &snapshot(&db.owner, "read_models").await,
    );
}

/// Every index of a schema's tables (constraints' included), as defined,
/// with the schema's name taken out.
async fn indexes(pool: &sqlx::PgPool, schema: &str) -> Vec<String> {
    let defs: Vec<String> = sqlx::query_scalar(
        "select indexdef from pg_indexes where schemaname = $1 order by indexname",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .unwrap();
    defs.into_iter()
        .map(|d| d.replace(&format!(" {schema}."), " "))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rebuilding_from_zero_gives_exactly_what_incremental_projection_gave() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.runtime.clone());
    let notifier = LogNotifier::start(db.runtime.clone(), Duration::from_millis(200))
        .await
        .unwrap();
    let projector = Projector::new(db.runtime.clone(), notifier.wake(), config()).spawn();

    let history = generate(&store, 2_000, 42).await;
    assert!(history.events >= 8_000, "{history:?}");
    assert!(history.refused > 0 && history.erasures > 0, "{history:?}");
    for status in ["Published", "Withdrawn", "Rejected"] {
        assert!(
            history.statuses.get(status).copied().unwrap_or(0) > 0,
            "{status} in {history:?}"
        );
    }
    for kind in [
        "ChangeProposed",
        "ChangeApproved",
        "ChangePublished",
        "ChangeRefused",
        "ChangeWithdrawn",
        "OfficerLinkBackChecked",
        "PolicyAcknowledged",
        "PermanentIdRecorded",
        "RegistrationImported",
    ] {
        assert!(
            history.event_types.get(kind).copied().unwrap_or(0) > 0,
            "{kind} in {history:?}"
        );
    }
    caught_up(&db.runtime).await;
    projector.stop().await;

    rebuild::prepare(&db.owner).await.unwrap();
    let report = rebuild::fill(&db.owner, BATCH, REVIEW, |_, _, _| {})
        .await
        .unwrap();
    assert_eq!(report.position, store.head().await.unwrap().position);
    let live = snapshot(&db.owner, "read_models").await;
    let rebuilt = snapshot(&db.owner, "read_models_next").await;
    assert!(live["registrations"].len() == 2_000);
    assert!(!live["officers"].is_empty() && !live["approval_queue"].is_empty());
    assert!(
        live["officers"]
            .iter()
            .any(|r| r.contains("\"erased\": true")),
        "erasures show in the officers' pages"
    );
    assert_same(&live, &rebuilt);
    assert_eq!(
        indexes(&db.owner, "read_models_next").await,
        indexes(&db.owner, "read_models").await,
        "the rebuilt tables have every index and constraint of the live ones"
    );

    // Swapping in is atomic and leaves the same rows live.
    rebuild::swap(&db.owner).await.unwrap();
    assert_same(&rebuilt, &snapshot(&db.owner, "read_models").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_projector_killed_between_and_inside_batches_ends_equal_to_a_rebuild() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.runtime.clone());
    let notifier = LogNotifier::start(db.runtime.clone(), Duration::from_millis(200))
        .await
        .unwrap();
    let writer = {
        let store = store.clone();
        tokio::spawn(async move { generate(&store, 400, 7).await })
    };
    let mut kills = 0;
    while !writer.is_finished() {
        let projector = Projector::new(db.runtime.clone(), notifier.wake(), config()).spawn();
        tokio::time::sleep(Duration::from_millis(150 + 50 * (kills % 4))).await;
        if kills % 2 == 0 {
            // Mid-batch: every connection of the runtime role is cut.
            sqlx::query(
                "select pg_terminate_backend(pid) from pg_stat_activity \
                 where datname = current_database() and pid <> pg_backend_pid() and usename = current_user \
                 and query not like '%LISTEN%'",
            )
            .execute(&db.owner)
            .await
            .ok();
        }
        projector.abort();
        kills += 1;
    }
    writer.await.unwrap();
    assert!(kills >= 3, "the projector was killed {kills} times");
    let projector = Projector::new(db.runtime.clone(), notifier.wake(), config()).spawn();
    caught_up(&db.runtime).await;
    projector.stop().await;

    assert_rebuild_equals_live(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_projectors_only_one_writes_and_the_other_takes_over_when_it_stops() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.runtime.clone());
    let notifier = LogNotifier::start(db.runtime.clone(), Duration::from_millis(200))
        .await
        .unwrap();
    let first = Projector::new(db.runtime.clone(), notifier.wake(), config()).spawn();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = Projector::new(db.runtime.clone(), notifier.wake(), config()).spawn();

    generate(&store, 150, 3).await;
    caught_up(&db.runtime).await;
    assert!(first.stats.is_leader() && !second.stats.is_leader());
    assert!(first.stats.batches() > 0);
    assert_eq!(second.stats.batches(), 0, "the standby never writes");

    let applied_by_first = first.stats.events();
    first.stop().await;
    generate(&store, 150, 4).await;
    caught_up(&db.runtime).await;
    assert!(second.stats.is_leader(), "the standby took over");
    let total: i64 = store.head().await.unwrap().position;
    // Every event was applied once, by one or the other: no batch overlap.
    assert_eq!(applied_by_first + second.stats.events(), total as u64);
    second.stop().await;

    assert_rebuild_equals_live(&db).await;
}
