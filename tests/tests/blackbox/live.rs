//! The process's one log tail (`app::live`) through real WebSockets: the
//! seam between the log and the broadcast, subscribers that fall behind it,
//! and what idle subscribers cost the database.

use std::time::Duration;

use blackbox_tests::council::{self, as_, people::*, submit};
use blackbox_tests::{Api, Service, Ws};
use event_store::testing::TestDatabase;
use serde_json::json;

/// A liveness bound, not a speed claim.
const PATIENCE: Duration = Duration::from_secs(20);

const EVENTS: &str =
    "subscription($p: Int!) { events(fromPosition: $p) { position streamId eventType } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_that_fall_behind_the_tails_buffer_read_the_log_and_miss_nothing() {
    let db = TestDatabase::new().await;
    // A buffer of one event: every burst leaves the subscribers behind it.
    let service = Service::start(&db.url(), &[("REGISTRY_LIVE_BUFFER", "1")]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let from = api.position().await;
    let auditor = as_(AUDITOR);
    let mut watchers = Vec::new();
    for _ in 0..3 {
        let mut ws = Ws::connect(&service.base_url, Some(&auditor), false)
            .await
            .unwrap();
        ws.subscribe("e", EVENTS, json!({"p": from})).await;
        watchers.push(ws);
    }
    // Four writers at once, so the tail publishes in bursts.
    let mut writers = Vec::new();
    for w in 0..4 {
        let api = api.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..10 {
                council::submit_and_approve_asset(&api, &format!("@NorthLag{w}x{i}")).await;
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let end = api.position().await;
    assert!(
        end - from >= 120,
        "the writers appended ({} events)",
        end - from
    );
    let expected: Vec<i64> = (from + 1..=end).collect();
    for ws in &mut watchers {
        let mut received = Vec::new();
        while received.last().is_none_or(|last| *last < end) {
            let got = ws.next(PATIENCE).await.expect("an event");
            received.push(got["data"]["events"]["position"].as_i64().unwrap());
        }
        assert_eq!(
            received, expected,
            "every event after {from}, once, in order"
        );
    }
    let metrics = service.metrics().await;
    let lagged = metrics
        .get("live_subscriber_lagged_total")
        .copied()
        .unwrap_or(0.0);
    println!("subscribers fell behind the one-event buffer {lagged} times");
    assert!(lagged > 0.0, "the test exercised the path it is about");
}

/// Commits of the test's database, as PostgreSQL counts them.
async fn commits(db: &TestDatabase) -> i64 {
    sqlx::query_scalar(
        "select xact_commit from pg_stat_database where datname = current_database()",
    )
    .fetch_one(&db.owner)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_subscribers_cost_the_database_nothing() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let window = Duration::from_secs(3);

    // The instance alone (its projector polls once a second), once the
    // start-up work (projecting the reference data, the first signed head)
    // is done.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = commits(&db).await;
    tokio::time::sleep(window).await;
    let alone = commits(&db).await - before;

    // The same with 100 subscribers, each proven live by one event.
    let from = api.position().await;
    let mut watchers = Vec::new();
    for i in 0..100 {
        let mut ws = Ws::connect(&service.base_url, Some(&as_(AUDITOR)), false)
            .await
            .unwrap();
        let query = if i % 2 == 0 {
            EVENTS
        } else {
            "subscription($p: Int) { approvalActivity(role: COMMUNICATIONS, fromPosition: $p) { position } }"
        };
        ws.subscribe("s", query, json!({"p": from})).await;
        watchers.push(ws);
    }
    submit(&api, council::form(1, "X", "@NorthIdle")).await;
    for ws in &mut watchers {
        ws.next(PATIENCE).await.expect("the first event");
    }
    // Let the projector apply that event, and let the backends report
    // the subscribers' catch-up reads: a backend that has gone idle reports
    // its statistics to pg_stat_database up to 10 s later
    // (PGSTAT_IDLE_INTERVAL), which landed 100 of them in the window once.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let before = commits(&db).await;
    tokio::time::sleep(window).await;
    let with_subscribers = commits(&db).await - before;
    println!(
        "database commits in {window:?}: {alone} with no subscriber, {with_subscribers} with 100 idle ones"
    );
    // Each idle subscriber polling once a second would add 300; the
    // margin covers the instance's own work varying under a loaded machine.
    assert!(
        with_subscribers <= alone + 100,
        "{with_subscribers} commits with 100 idle subscribers, {alone} without"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_tail_survives_the_database_dropping_every_connection_and_subscribers_miss_nothing()
{
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let from = api.position().await;
    let mut ws = Ws::connect(&service.base_url, Some(&as_(AUDITOR)), false)
        .await
        .unwrap();
    ws.subscribe("e", EVENTS, json!({"p": from})).await;
    for i in 0..5 {
        submit(&api, council::form(1, "X", &format!("@NorthDrop{i}"))).await;
    }
    // Every connection of the service, the listener's included, is cut.
    let cut: i64 = sqlx::query_scalar(
        "select count(*) from (select pg_terminate_backend(pid) from pg_stat_activity \
         where datname = current_database() and pid <> pg_backend_pid()) t",
    )
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert!(cut >= 2, "the service's connections were cut ({cut})");
    // Writes go on once the pool has reconnected (a request may fail while
    // it does; the client retries).
    for i in 0..5 {
        let query =
            "mutation($f: RegistrationFormInput!) { submitRegistration(form: $f) { position } }";
        let variables = json!({"f": council::form(1, "X", &format!("@NorthAfter{i}"))});
        let mut tries = 0;
        loop {
            tries += 1;
            let response = api
                .post(Some(&as_(APPLICANT)), query, variables.clone())
                .await;
            if response["errors"].is_null() {
                break;
            }
            assert!(tries < 50, "the service did not recover: {response}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let end = api.position().await;
    let mut received = Vec::new();
    while received.last().is_none_or(|last| *last < end) {
        let got = ws.next(PATIENCE).await.expect("an event");
        received.push(got["data"]["events"]["position"].as_i64().unwrap());
    }
    let expected: Vec<i64> = (from + 1..=end).collect();
    assert_eq!(
        received, expected,
        "every event after {from}, once, in order"
    );
}
