//! The built binary against a real PostgreSQL, over real HTTP.

use blackbox_tests::{run, token, Service};
use event_store::testing::TestDatabase;
use event_store::{EventStore, ExpectedVersion, NewEvent};
use serde_json::{json, Value};

async fn log_head(client: &reqwest::Client, base: &str) -> Value {
    let response = client
        .post(format!("{base}/graphql"))
        .bearer_auth(token("auditor-1", &["auditor"]))
        .json(&json!({ "query": "{ logHead { position hash } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-correlation-id"));
    let body: Value = response.json().await.unwrap();
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["logHead"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_migrates_an_empty_database_reports_ready_and_serves_the_log_head() {
    let db = TestDatabase::unmigrated().await;
    let service = Service::start(&db.url(), &[]);
    let client = reqwest::Client::new();

    let health = client
        .get(format!("{}/healthz", service.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = client
        .get(format!("{}/readyz", service.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(
        (&ready["status"], &ready["database"], &ready["migrations"]),
        (&json!("ready"), &json!("ok"), &json!("applied"))
    );

    let empty = log_head(&client, &service.base_url).await;
    assert_eq!(empty, json!({"position": 0, "hash": "0".repeat(64)}));

    let store = EventStore::new(db.owner.clone());
    for i in 0..3 {
        store
            .append(
                "thing-1",
                ExpectedVersion::Any,
                &[NewEvent::new("ThingNoted", 1, json!({"n": i}))],
                &json!({}),
                None,
            )
            .await
            .unwrap();
    }
    let head = store.head().await.unwrap();
    let served = log_head(&client, &service.base_url).await;
    assert_eq!(served, json!({"position": 3, "hash": hex(&head.hash)}));

    // The instance's projector catches up with the three events.
    let caught_up = wait_for(|| async {
        let r: Value = reqwest::get(format!("{}/readyz", service.base_url))
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let projections = r["projections"].as_object()?.clone();
        (projections.len() == 7 && projections.values().all(|p| p["lag"] == 0)).then_some(r)
    })
    .await;
    assert_eq!(caught_up["status"], "ready");

    let status = service.terminate();
    assert!(
        status.success(),
        "SIGTERM ends the service cleanly: {status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_while_migrations_are_pending() {
    let db = TestDatabase::unmigrated().await;
    let service = Service::start(&db.url(), &[("REGISTRY_MIGRATE_ON_START", "false")]);
    let ready = reqwest::get(format!("{}/readyz", service.base_url))
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["database"], "ok");
    assert_ne!(body["migrations"], "applied");
    let live = reqwest::get(format!("{}/healthz", service.base_url))
        .await
        .unwrap();
    assert_eq!(
        live.status(),
        200,
        "liveness does not depend on the database"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_supplied_correlation_id_comes_back_and_an_oversized_body_is_refused() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[("REGISTRY_MAX_BODY_BYTES", "2048")]);
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/graphql", service.base_url))
        .header("x-correlation-id", "audit-trail-42")
        .json(&json!({ "query": "{ platforms { name } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-correlation-id"], "audit-trail-42");

    let padding = " ".repeat(4096);
    let response = client
        .post(format!("{}/graphql", service.base_url))
        .header("content-type", "application/json")
        .body(format!(
            "{{\"query\": \"{{ logHead {{ position }} }}{padding}\"}}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

#[tokio::test]
async fn verify_chain_passes_on_an_intact_log_and_fails_naming_the_position_after_tampering() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.runtime.clone());
    for i in 0..20 {
        store
            .append(
                "thing-1",
                ExpectedVersion::Any,
                &[NewEvent::new("ThingNoted", 1, json!({"n": i}))],
                &json!({}),
                None,
            )
            .await
            .unwrap();
    }
    let ok = run(&db.url(), &["verify-chain"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let report: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(
        (report["status"].as_str(), report["count"].as_u64()),
        (Some("verified"), Some(20))
    );

    let ranged = run(&db.url(), &["verify-chain", "--from", "5", "--to", "9"]);
    let report: Value = serde_json::from_slice(&ranged.stdout).unwrap();
    assert_eq!(report["count"], 5);

    sqlx::query("alter table events disable trigger events_no_update_or_delete")
        .execute(&db.owner)
        .await
        .unwrap();
    sqlx::query("update events set payload = '{\"n\": 99}' where position = 12")
        .execute(&db.owner)
        .await
        .unwrap();
    let bad = run(&db.url(), &["verify-chain"]);
    assert!(!bad.status.success());
    let report: Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!(
        (report["status"].as_str(), report["position"].as_i64()),
        (Some("broken"), Some(12))
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("position 12"));
}

#[test]
fn print_schema_prints_the_committed_schema() {
    let out = std::process::Command::new(blackbox_tests::binary())
        .arg("print-schema")
        .output()
        .unwrap();
    assert!(out.status.success());
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../schema/registry.graphql"
    ))
    .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), committed);
}

/// Poll `probe` until it returns something (bounded at 30 s).
async fn wait_for<T, F, Fut>(probe: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..300 {
        if let Some(v) = probe().await {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("condition not reached within 30 s");
}

#[tokio::test]
async fn rebuild_projections_rebuilds_and_swaps_in_every_read_model() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.runtime.clone());
    for i in 0..5 {
        let e = NewEvent::new(
            "OrganisationalUnitAdded",
            1,
            json!({"code": format!("unit-{i}"), "name": format!("Unit {i}")}),
        );
        store
            .append(
                "reference-org_units",
                ExpectedVersion::Any,
                &[e],
                &json!({}),
                None,
            )
            .await
            .unwrap();
    }
    let out = run(&db.url(), &["rebuild-projections"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("up to position 5"), "{stderr}");
    let units: i64 = sqlx::query_scalar("select count(*) from read_models.org_units")
        .fetch_one(&db.owner)
        .await
        .unwrap();
    assert_eq!(units, 5);
    let checkpoint: i64 = sqlx::query_scalar(
        "select position from read_models.checkpoints where projection = 'reference'",
    )
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!(checkpoint, 5);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
