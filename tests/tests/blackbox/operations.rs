//! Operations: `/metrics` moves by exactly a known workload; two instances
//! on one database behave as one service; shutdown closes subscriptions
//! with "going away" and loses nothing acknowledged.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use blackbox_tests::council::{self, as_, people::*, FIELDS};
use blackbox_tests::{Api, Service, Ws};
use event_store::testing::TestDatabase;
use serde_json::json;

fn delta(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>, key: &str) -> f64 {
    after.get(key).copied().unwrap_or(0.0) - before.get(key).copied().unwrap_or(0.0)
}

const SUBMIT: &str =
    "mutation Submit($f: RegistrationFormInput!) { submitRegistration(form: $f) { position } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_by_exactly_the_workload() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let before = service.metrics().await;
    for i in 0..3 {
        api.ok(
            Some(&as_(APPLICANT)),
            SUBMIT,
            json!({"f": council::form(1, "X", &format!("@NorthMetric{i}"))}),
        )
        .await;
    }
    let refused = api
        .post(
            Some(&as_(AUDITOR)),
            SUBMIT,
            json!({"f": council::form(1, "X", "@NorthMetricX")}),
        )
        .await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let after = service.metrics().await;
    let cases = [
        ("events_appended_total{type=\"RegistrationSubmitted\"}", 3.0),
        ("events_appended_total{type=\"AccountClaimed\"}", 3.0),
        (
            "graphql_operations_total{operation=\"Submit\",outcome=\"ok\"}",
            3.0,
        ),
        (
            "graphql_operations_total{operation=\"Submit\",outcome=\"error\"}",
            1.0,
        ),
        (
            "http_requests_total{route=\"/graphql\",method=\"POST\",status=\"200\"}",
            4.0,
        ),
        (
            "http_request_duration_seconds_count{route=\"/graphql\"}",
            4.0,
        ),
        ("event_append_duration_seconds_count", 3.0),
        // Each level-1 form seals the contact's name, email and telephone,
        // and the applicant's display name goes into the metadata sealed.
        ("vault_operations_total{operation=\"seal\"}", 12.0),
    ];
    for (key, expected) in cases {
        assert_eq!(delta(&before, &after, key), expected, "{key}");
    }
    assert!(after.contains_key("db_pool_connections{state=\"idle\"}"));
    // Once the projector has applied the workload, each model's batch time is there.
    let head = api.position().await;
    api.ok(
        Some(&as_(AUDITOR)),
        "query($p: Int) { registrations(atLeastPosition: $p) { edges { cursor } } }",
        json!({"p": head}),
    )
    .await;
    let projected = service.metrics().await;
    for model in ["registrations", "directory", "approval_queues", "all"] {
        let key = format!("projection_batch_duration_seconds_count{{projection=\"{model}\"}}");
        assert!(projected.get(&key).is_some_and(|n| *n >= 1.0), "{key}");
    }
    assert!(after.contains_key("projection_lag_events{projection=\"registrations\"}"));
    assert_eq!(
        leader(&[&service]).await,
        0,
        "a lone instance leads the projector"
    );
}

async fn leader(services: &[&Service]) -> usize {
    for _ in 0..100 {
        for (i, s) in services.iter().enumerate() {
            if s.metrics().await.get("projector_leader") == Some(&1.0) {
                return i;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no instance leads the projector");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_behave_as_one_service_and_the_survivor_takes_over_the_projector() {
    let db = TestDatabase::new().await;
    // Instances of one service share their secrets.
    let secrets = [
        (
            "REGISTRY_VAULT_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        ),
        (
            "REGISTRY_SIGNING_KEY",
            "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=",
        ),
    ];
    let a = Service::start(&db.url(), &secrets);
    let b = Service::start(&db.url(), &secrets);
    let (api_a, api_b) = (Api::new(&a), Api::new(&b));
    council::reference_data(&api_a).await;

    // A mutation on one instance reaches a subscriber on the other.
    let from = api_b.position().await;
    let mut watcher = Ws::connect(&b.base_url, Some(&as_(COMMS)), false)
        .await
        .unwrap();
    watcher
        .subscribe(
            "1",
            "subscription($p: Int) { approvalActivity(role: COMMUNICATIONS, fromPosition: $p) { eventType accountKey } }",
            json!({"p": from}),
        )
        .await;
    let started = Instant::now();
    api_a
        .ok(
            Some(&as_(APPLICANT)),
            SUBMIT,
            json!({"f": council::form(1, "X", "@NorthTwoA")}),
        )
        .await;
    let seen = watcher
        .next(Duration::from_secs(10))
        .await
        .expect("the other instance's subscriber sees it");
    eprintln!(
        "cross-instance: the subscriber on B saw A's mutation {:?} after it returned",
        started.elapsed()
    );
    assert_eq!(
        seen["data"]["approvalActivity"]["accountKey"],
        "x:northtwoa"
    );

    // Exactly one leads; kill it; the other takes over.
    let first = leader(&[&a, &b]).await;
    let (dead, survivor, survivor_api) = if first == 0 {
        (a, b, api_b)
    } else {
        (b, a, api_a)
    };
    assert_eq!(
        survivor.metrics().await.get("projector_leader"),
        Some(&0.0),
        "only one leads"
    );
    dead.kill();
    let p = survivor_api
        .ok(
            Some(&as_(APPLICANT)),
            SUBMIT,
            json!({"f": council::form(1, "X", "@NorthTwoB")}),
        )
        .await["submitRegistration"]["position"]
        .clone();
    assert_eq!(leader(&[&survivor]).await, 0);
    let listed = survivor_api
        .ok(Some(&as_(COMMS)), "query($p: Int) { registrations(atLeastPosition: $p) { edges { node { accountKey } } } }", json!({"p": p}))
        .await;
    let keys: Vec<&str> = listed["registrations"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["accountKey"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"x:northtwob"),
        "the survivor projects: {keys:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_subscriptions_with_going_away_and_loses_no_acknowledged_mutation() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[("REGISTRY_SHUTDOWN_GRACE_SECONDS", "10")]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let mut ws = Ws::connect(&service.base_url, Some(&as_(AUDITOR)), false)
        .await
        .unwrap();
    ws.subscribe(
        "e",
        "subscription { events(fromPosition: 0) { position } }",
        json!({}),
    )
    .await;
    assert!(ws.next(Duration::from_secs(10)).await.is_some());

    // Writers keep submitting while the instance is told to stop.
    let writer = {
        let api = api.clone();
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0..200 {
                let body = api
                    .client
                    .post(format!("{}/graphql", api.base))
                    .bearer_auth(as_(APPLICANT))
                    .json(&json!({"query": format!("mutation($f: RegistrationFormInput!) {{ submitRegistration(form: $f) {{ registration {{ {FIELDS} }} }} }}"),
                                 "variables": {"f": council::form(1, "X", &format!("@NorthStop{i}"))}}))
                    .send()
                    .await;
                match body {
                    Ok(r) => match r.json::<serde_json::Value>().await {
                        Ok(v) if v["data"]["submitRegistration"].is_object() => {
                            acknowledged.push(
                                v["data"]["submitRegistration"]["registration"]["id"]
                                    .as_str()
                                    .unwrap()
                                    .to_owned(),
                            );
                        }
                        _ => break,
                    },
                    Err(_) => break,
                }
            }
            acknowledged
        })
    };
    // Stop while writes are under way (some already acknowledged).
    for _ in 0..300 {
        let n: i64 = sqlx::query_scalar(
            "select count(*) from events where event_type = 'RegistrationSubmitted'",
        )
        .fetch_one(&db.owner)
        .await
        .unwrap();
        if n >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    service.signal_term();
    let code = ws.close_code(Duration::from_secs(10)).await;
    assert_eq!(code, Some(1001), "subscriptions end with 1001 going away");
    let acknowledged = writer.await.unwrap();
    let status = service.wait_exit();
    assert!(status.success(), "{status:?}");
    assert!(
        !acknowledged.is_empty(),
        "some mutations were acknowledged before the stop"
    );
    let stored: Vec<String> = sqlx::query_scalar(
        "select stream_id from events where event_type = 'RegistrationSubmitted'",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    for id in &acknowledged {
        assert!(
            stored.contains(&format!("registration-{id}")),
            "acknowledged {id} is in the log"
        );
    }
    eprintln!(
        "shutdown: {} mutations acknowledged before the stop, all in the log",
        acknowledged.len()
    );
}
