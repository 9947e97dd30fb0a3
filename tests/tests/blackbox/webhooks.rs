//! Webhooks (issue 17): other systems are told of the registry's public
//! facts, signed so that a Standard Webhooks library verifies them, retried
//! through failures, kept as dead letters when they never get through,
//! replayed on request, and stopped for an endpoint that keeps failing.
//! Each test runs the real binary against PostgreSQL and a real HTTP
//! receiver.

use std::time::Duration;

use blackbox_tests::council::{self, people::*, submit};
use blackbox_tests::webhook::{Answer, Hit, Receiver};
use blackbox_tests::{error_code, token, Api, Service};
use event_store::testing::TestDatabase;
use serde_json::{json, Value};
use sqlx::PgPool;

/// One vault key for both lives of the service (the secret is sealed).
const VAULT: (&str, &str) = (
    "REGISTRY_VAULT_KEY",
    "d2ViaG9va3MtdGVzdC12YXVsdC1rZXktMzItYnl0ZSE=",
);

fn integration() -> String {
    token("svc-website", &["integration"])
}

async fn register(api: &Api, url: &str, kinds: &str) -> (String, String) {
    let data = api
        .ok(
            Some(&council::as_(ADMIN)),
            &format!("mutation($u: String!) {{ registerWebhookEndpoint(url: $u, kinds: [{kinds}], description: \"Council website\") {{ id secret position }} }}"),
            json!({"u": url}),
        )
        .await;
    let p = &data["registerWebhookEndpoint"];
    (
        p["id"].as_str().expect("an id").to_owned(),
        p["secret"]
            .as_str()
            .expect("a secret, shown once")
            .to_owned(),
    )
}

/// Wait until the notifier has decided everything in the log.
async fn settled(pool: &PgPool) {
    let mut seen = (0, 0);
    for _ in 0..400 {
        let (checkpoint, head): (i64, i64) = sqlx::query_as(
            "select (select position from notifications.checkpoint), (select coalesce(max(position), 0) from events)",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if checkpoint == head {
            return;
        }
        seen = (checkpoint, head);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the notifier did not reach the head: at {seen:?}");
}

async fn deliveries(api: &Api, endpoint: &str, status: Option<&str>) -> Vec<Value> {
    let filter = status.map(|s| format!(", status: {s}")).unwrap_or_default();
    let data = api
        .ok(
            Some(&integration()),
            &format!("query($e: UUID!) {{ webhookDeliveries(endpoint: $e{filter}) {{ id kind position payload status attempts lastStatus lastError lastResponse attemptLog {{ attempt status error response durationMs }} }} }}"),
            json!({"e": endpoint}),
        )
        .await;
    data["webhookDeliveries"].as_array().unwrap().clone()
}

async fn publish_level1(api: &Api, handle: &str) -> String {
    let id = council::submit_and_approve_asset(api, handle).await;
    council::act(api, COMMS, "approveRegistration", &id, "").await;
    council::act(api, COMMS, "publishRegistration", &id, "").await;
    id
}

/// Every personal value the council's test forms hold.
const PERSONAL: [&str; 12] = [
    "Olivia Officer",
    "Morgan Manager",
    "Casey Contact",
    "Alex Applicant",
    "@north.gov.uk",
    "01234 567890",
    "u-officer",
    "u-manager",
    "u-contact",
    "u-applicant",
    "u-comms",
    "Auto-reply",
];

fn assert_no_personal_data(hit: &Hit) {
    let text = String::from_utf8_lossy(&hit.body);
    for value in PERSONAL {
        assert!(!text.contains(value), "a delivery holds `{value}`: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publication_reaches_the_endpoint_signed_through_500s_and_a_timeout_with_one_webhook_id_and_no_personal_data(
) {
    let receiver = Receiver::start().await;
    receiver.script(
        &[
            Answer::Status(500),
            Answer::Hang(Duration::from_secs(5)),
            Answer::Status(503),
        ],
        Answer::Status(204),
    );
    let db = TestDatabase::new().await;
    let service = Service::start(
        &db.url(),
        &[
            ("REGISTRY_WEBHOOK_TIMEOUT_SECONDS", "1"),
            ("REGISTRY_WEBHOOK_FIRST_RETRY_SECONDS", "0.2"),
        ],
    );
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let (endpoint, secret) =
        register(&api, &receiver.url, "ACCOUNT_PUBLISHED, ACCOUNT_WITHDRAWN").await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    receiver.set_secret(&secret);

    let id = submit(&api, council::form(3, "X", "@NorthHooked")).await;
    let published = council::sign_and_publish_level3(&api, &id).await;
    let position = published["position"].as_i64().unwrap();

    let hits = receiver
        .wait_until("a delivery accepted", |h| {
            h.iter().any(|h| h.answer == Answer::Status(204))
        })
        .await;
    assert_eq!(
        hits.len(),
        4,
        "500, no answer, 503, then accepted: {hits:?}"
    );
    assert!(
        hits.iter().all(|h| h.verified),
        "every attempt verifies with the Standard Webhooks library"
    );
    assert!(
        hits.iter().all(|h| h.id == hits[0].id),
        "one webhook-id across retries"
    );
    assert!(hits.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    for hit in &hits {
        assert_no_personal_data(hit);
    }
    let body: Value = serde_json::from_slice(&hits[3].body).unwrap();
    assert_eq!(body["type"], "account.published");
    assert_eq!(body["position"], position);
    assert_eq!(body["data"]["registrationId"], id.as_str());
    assert_eq!(body["data"]["accountKey"], "x:northhooked");
    assert_eq!(body["data"]["level"], 3);
    assert_eq!(body["data"]["status"], "published");
    assert!(body["data"]["officerPage"]
        .as_str()
        .unwrap()
        .starts_with("/officers/officer-"));

    // The delivery log, as the integration reads it: every attempt.
    let mut log = Vec::new();
    for _ in 0..100 {
        log = deliveries(&api, &endpoint, None).await;
        if log.first().is_some_and(|d| d["status"] == "DELIVERED") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["status"], "DELIVERED");
    assert_eq!(log[0]["id"], hits[0].id.as_str());
    let statuses: Vec<Value> = log[0]["attemptLog"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        vec![json!(500), Value::Null, json!(503), json!(204)]
    );
    assert_eq!(log[0]["attemptLog"][1]["error"], "timed out");
    assert_eq!(log[0]["attemptLog"][0]["response"], "receiver answered 500");

    // A withdrawal is the next fact; a level-1 publication too. An
    // endpoint that asked only for these kinds is told nothing else (the
    // re-validation below).
    council::act(
        &api,
        COMMS,
        "withdrawRegistration",
        &id,
        r#", reason: "Service closed""#,
    )
    .await;
    council::act(
        &api,
        CONTACT,
        "revalidateRegistration",
        &publish_level1(&api, "@NorthHookedTwo").await,
        "",
    )
    .await;
    let hits = receiver
        .wait_until("the withdrawal and the second publication", |h| {
            h.len() >= 6
        })
        .await;
    let kinds: Vec<String> = hits[4..]
        .iter()
        .map(|h| {
            serde_json::from_slice::<Value>(&h.body).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(kinds, vec!["account.withdrawn", "account.published"]);
    for hit in &hits {
        assert_no_personal_data(hit);
    }

    // Replaying the log from the start decides nothing new and sends nothing.
    settled(&db.owner).await;
    let before: i64 = sqlx::query_scalar("select count(*) from notifications.webhook_deliveries")
        .fetch_one(&db.owner)
        .await
        .unwrap();
    sqlx::query("update notifications.checkpoint set position = 0")
        .execute(&db.owner)
        .await
        .unwrap();
    // The next event wakes the notifier, which reads the log from the start.
    submit(&api, council::form(1, "X", "@NorthQuiet")).await;
    settled(&db.owner).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after: i64 = sqlx::query_scalar("select count(*) from notifications.webhook_deliveries")
        .fetch_one(&db.owner)
        .await
        .unwrap();
    assert_eq!(after, before, "a replay adds no delivery");
    assert_eq!(receiver.hits().len(), hits.len(), "and sends nothing");

    // The integration reads public facts and deliveries, and nothing else.
    for query in [
        "{ registrations(first: 5) { edges { node { id } } } }",
        "{ myApprovals { registrationId } }",
    ] {
        let refused = api.post(Some(&integration()), query, json!({})).await;
        assert_eq!(
            error_code(&refused).as_deref(),
            Some("FORBIDDEN"),
            "{query}: {refused}"
        );
    }
    let public = api
        .ok(
            Some(&integration()),
            "{ verifyAccount(input: \"https://x.com/NorthHookedTwo\") { status } }",
            json!({}),
        )
        .await;
    assert_eq!(public["verifyAccount"]["status"], "VERIFIED");
    service.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_that_never_gets_through_becomes_a_dead_letter_an_admin_replays_it_and_an_endpoint_failing_continuously_is_disabled_and_admins_told(
) {
    let receiver = Receiver::start().await;
    receiver.script(&[], Answer::Status(500));
    let db = TestDatabase::new().await;
    let service = Service::start(
        &db.url(),
        &[
            VAULT,
            ("REGISTRY_WEBHOOK_FIRST_RETRY_SECONDS", "0.1"),
            ("REGISTRY_WEBHOOK_MAX_RETRY_GAP_SECONDS", "0.3"),
            ("REGISTRY_WEBHOOK_RETRY_WINDOW_SECONDS", "1.5"),
        ],
    );
    let api = Api::new(&service);
    council::reference_data(&api).await;

    // Refusals name the field, and change nothing.
    let admin = council::as_(ADMIN);
    let bad = api
        .post(
            Some(&admin),
            "mutation { registerWebhookEndpoint(url: \"http://www.example.com/hook\", kinds: [ACCOUNT_PUBLISHED], description: \"x\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&bad).as_deref(), Some("BAD_USER_INPUT"), "{bad}");
    assert_eq!(bad["errors"][0]["extensions"]["field"], "url", "{bad}");
    let bad = api
        .post(
            Some(&council::as_(COMMS)),
            "mutation { registerWebhookEndpoint(url: \"https://www.example.com/hook\", kinds: [ACCOUNT_PUBLISHED], description: \"x\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&bad).as_deref(), Some("FORBIDDEN"), "{bad}");

    let (endpoint, secret) = register(&api, &receiver.url, "ACCOUNT_PUBLISHED").await;
    receiver.set_secret(&secret);
    publish_level1(&api, "@NorthDead").await;

    // Retried with backoff until the window is over: then a dead letter
    // with its last response.
    let mut dead = Vec::new();
    for _ in 0..200 {
        dead = deliveries(&api, &endpoint, Some("DEAD")).await;
        if !dead.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(dead.len(), 1, "a dead letter");
    assert_eq!(dead[0]["lastStatus"], 500);
    assert_eq!(dead[0]["lastResponse"], "receiver answered 500");
    let attempts = dead[0]["attempts"].as_i64().unwrap();
    assert!(attempts >= 3, "retried before giving up: {attempts}");
    let tried = receiver.hits().len();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.hits().len(), tried, "a dead letter is not retried");

    // An admin replays it once the receiver answers: the same webhook-id.
    receiver.script(&[], Answer::Status(200));
    let delivery = dead[0]["id"].as_str().unwrap().to_owned();
    api.ok(
        Some(&admin),
        "mutation($d: UUID!) { replayWebhookDelivery(delivery: $d) { id position } }",
        json!({"d": delivery}),
    )
    .await;
    let hits = receiver
        .wait_until("the replay", |h| {
            h.iter().any(|h| h.answer == Answer::Status(200))
        })
        .await;
    let last = hits.last().unwrap();
    assert_eq!(last.id, delivery);
    assert!(last.verified);
    let mut log = Vec::new();
    for _ in 0..100 {
        log = deliveries(&api, &endpoint, None).await;
        if log.first().is_some_and(|d| d["status"] == "DELIVERED") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(log[0]["status"], "DELIVERED");

    // Failing again, for longer than the disable period (short here, and
    // shorter than the retry window): disabled by the sender (an event),
    // and the admins are told.
    service.terminate();
    let service = Service::start(
        &db.url(),
        &[
            VAULT,
            ("REGISTRY_WEBHOOK_FIRST_RETRY_SECONDS", "0.1"),
            ("REGISTRY_WEBHOOK_MAX_RETRY_GAP_SECONDS", "0.3"),
            ("REGISTRY_WEBHOOK_DISABLE_AFTER_SECONDS", "1.5"),
        ],
    );
    let api = Api::new(&service);
    receiver.script(&[], Answer::Status(502));
    publish_level1(&api, "@NorthDeadTwo").await;
    let mut endpoints = Value::Null;
    for _ in 0..200 {
        endpoints = api
            .ok(
                Some(&admin),
                "{ webhookEndpoints { id enabled disabledReason dead } }",
                json!({}),
            )
            .await["webhookEndpoints"]
            .clone();
        if endpoints[0]["enabled"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(endpoints[0]["enabled"], false, "{endpoints}");
    assert!(endpoints[0]["disabledReason"]
        .as_str()
        .unwrap()
        .contains("failed continuously"));
    let by: String = sqlx::query_scalar(
        "select metadata->'actor'->>'subject' from events where event_type = 'WebhookEndpointDisabled'",
    )
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!(by, "system:webhooks");
    settled(&db.owner).await;
    let told: Vec<(String, String)> = sqlx::query_as(
        "select kind, recipient from notifications.outbox where kind = 'webhook_endpoint_disabled'",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    assert_eq!(
        told,
        vec![(
            "webhook_endpoint_disabled".to_owned(),
            "role:admin".to_owned()
        )]
    );

    // While disabled, nothing is delivered to it, and nothing is queued.
    let hits_before = receiver.hits().len();
    publish_level1(&api, "@NorthDeadThree").await;
    settled(&db.owner).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(receiver.hits().len(), hits_before);
    let queued: i64 = sqlx::query_scalar("select count(*) from notifications.webhook_deliveries")
        .fetch_one(&db.owner)
        .await
        .unwrap();
    assert_eq!(queued, 2, "the first and second publications only");

    // Enabled again, what was still pending goes out.
    receiver.script(&[], Answer::Status(200));
    api.ok(
        Some(&admin),
        "mutation($e: UUID!) { enableWebhookEndpoint(id: $e) { position } }",
        json!({"e": endpoint}),
    )
    .await;
    let hits = receiver
        .wait_until("the pending delivery after enabling", |h| {
            h.iter().filter(|h| h.answer == Answer::Status(200)).count() == 2
        })
        .await;
    let body: Value = serde_json::from_slice(&hits.last().unwrap().body).unwrap();
    assert_eq!(body["data"]["accountKey"], "x:northdeadtwo");
    let metrics = service.metrics().await;
    assert!(
        metrics.contains_key("webhook_deliveries_pending"),
        "{metrics:?}"
    );
    assert!(metrics.contains_key("webhook_dead_letters"));
    service.terminate();
}
