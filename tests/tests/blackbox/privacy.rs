//! Erasure, retention and subject access (UK GDPR), against the running
//! service, its subcommands and the raw bytes of everything it keeps.

use std::time::Duration;

use blackbox_tests::council::{self, act, as_, people::*, submit};
use blackbox_tests::{run_with, Api, Service, Ws};
use event_store::testing::TestDatabase;
use serde_json::{json, Value};

const VAULT: [(&str, &str); 1] = [(
    "REGISTRY_VAULT_KEY",
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
)];
const SECRETS: [&str; 3] = ["Olivia", "u-officer@north.gov.uk", "07700 900123"];

const REGISTRATION: &str = "query($id: UUID!) { registration(id: $id) { status details { ... on ParticipateDetails { officer { name email phone erased } lineManager { name } } } } }";
const SUBJECT_ACCESS: &str = "query($s: String) { personalDataHeldFor(subject: $s) { person erased eventsAsActor holdings { registrationId field value } } }";

/// Every row of every read model, as text.
async fn read_models_text(db: &TestDatabase) -> String {
    let tables: Vec<String> = sqlx::query_scalar(
        "select table_name::text from information_schema.tables where table_schema = 'read_models'",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    let mut all = String::new();
    for t in tables {
        let text: Option<String> = sqlx::query_scalar(&format!(
            "select string_agg(t::text, E'\\n') from read_models.{t} t"
        ))
        .fetch_one(&db.owner)
        .await
        .unwrap();
        all.push_str(&text.unwrap_or_default());
    }
    all
}

fn assert_absent(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "`{secret}` found in {what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_erasure_no_read_model_query_subscription_export_or_log_line_holds_the_persons_data_and_the_chain_verifies(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &VAULT);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let mut form = council::form(3, "X", "@NorthErase");
    form["details"]["participate"]["officer"]["phone"] = json!("07700 900123");
    let id = submit(&api, form).await;
    act(
        &api,
        APPLICANT,
        "recordRiskAssessment",
        &id,
        council::RISK_ASSESSMENT,
    )
    .await;
    act(&api, MANAGER, "signRiskAssessment", &id, "").await;
    act(&api, COMMS, "approveRegistration", &id, "").await;
    let published = act(&api, COMMS, "publishRegistration", &id, "").await;
    let slug_query = "query($p: Int) { verifyAccount(input: \"@NorthErase\", atLeastPosition: $p) { account { officerSlug } } }";
    let slug = api
        .ok(None, slug_query, json!({"p": published["position"]}))
        .await["verifyAccount"]["account"]["officerSlug"]
        .as_str()
        .unwrap()
        .to_owned();

    // Before: the data is there, so the searches below can fail.
    let before = api
        .ok(Some(&as_(COMMS)), REGISTRATION, json!({"id": id}))
        .await;
    assert_eq!(
        before["registration"]["details"]["officer"]["name"],
        "Olivia Officer"
    );
    let access = api
        .ok(Some(&as_(DPO)), SUBJECT_ACCESS, json!({"s": "u-officer"}))
        .await;
    let held: Vec<(&str, &str)> = access["personalDataHeldFor"]["holdings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["field"].as_str().unwrap(), h["value"].as_str().unwrap()))
        .collect();
    assert_eq!(
        held,
        [
            ("form.details.officer.name", "Olivia Officer"),
            ("form.details.officer.email", "u-officer@north.gov.uk"),
            ("form.details.officer.phone", "07700 900123"),
        ]
    );
    assert_eq!(
        api.code(
            Some(&as_(AUDITOR)),
            SUBJECT_ACCESS,
            json!({"s": "u-officer"})
        )
        .await,
        "FORBIDDEN"
    );

    let from = api.position().await;
    let mut watcher = Ws::connect(&service.base_url, Some(&as_(COMMS)), false)
        .await
        .unwrap();
    watcher
        .subscribe(
            "w",
            "subscription($id: UUID!, $p: Int) { registrationChanged(id: $id, fromPosition: $p) { status details { ... on ParticipateDetails { officer { name email erased } } } } }",
            json!({"id": id, "p": from}),
        )
        .await;

    let erase = "mutation($s: String, $r: String!) { erasePersonalData(subject: $s, reason: $r) { person position } }";
    assert_eq!(
        api.code(
            Some(&as_(COMMS)),
            erase,
            json!({"s": "u-officer", "r": "SAR-17"})
        )
        .await,
        "FORBIDDEN"
    );
    let erased = api
        .ok(
            Some(&as_(DPO)),
            erase,
            json!({"s": "u-officer", "r": "Erasure request SAR-2026-17"}),
        )
        .await;
    let again = api
        .ok(
            Some(&as_(DPO)),
            erase,
            json!({"s": "u-officer", "r": "Erasure request SAR-2026-17"}),
        )
        .await;
    assert_eq!(
        again["erasePersonalData"]["position"], erased["erasePersonalData"]["position"],
        "erasing twice records once"
    );
    let withdrawn = act(
        &api,
        COMMS,
        "withdrawRegistration",
        &id,
        r#", reason: "Officer left""#,
    )
    .await;
    let position = withdrawn["position"].as_i64().unwrap();

    // The subscription payload after erasure.
    let pushed = watcher
        .next(Duration::from_secs(10))
        .await
        .expect("a change");
    assert_eq!(
        pushed["data"]["registrationChanged"]["details"]["officer"]["erased"], true,
        "{pushed}"
    );
    assert_absent("the subscription payload", &pushed.to_string());

    // Queries.
    let after = api
        .ok(Some(&as_(COMMS)), REGISTRATION, json!({"id": id}))
        .await;
    let officer = &after["registration"]["details"]["officer"];
    assert_eq!(
        (officer["name"].is_null(), officer["erased"].as_bool()),
        (true, Some(true))
    );
    assert_eq!(
        after["registration"]["details"]["lineManager"]["name"], "Morgan Manager",
        "others are untouched"
    );
    let page = api
        .ok(None, "query($s: String!, $p: Int) { officer(slug: $s, atLeastPosition: $p) { name jobRole } }", json!({"s": slug, "p": position}))
        .await;
    assert_eq!(
        page["officer"],
        json!({"name": null, "jobRole": "Youth Worker"})
    );
    let history = api
        .ok(
            Some(&as_(AUDITOR)),
            "query($id: UUID!) { registrationHistory(id: $id) { eventType personalData } }",
            json!({"id": id}),
        )
        .await;
    assert!(history.to_string().contains("\"erased\":true"));
    let access = api
        .ok(Some(&as_(DPO)), SUBJECT_ACCESS, json!({"s": "u-officer"}))
        .await;
    assert_eq!(access["personalDataHeldFor"]["erased"], true);
    assert!(access["personalDataHeldFor"]["holdings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["value"].is_null()));
    let erasures = api
        .ok(Some(&as_(AUDITOR)), "{ events(first: 100, filter: {eventTypes: [\"PersonalDataErased\"]}) { edges { node { payload metadata } } } }", json!({}))
        .await;
    let edges = erasures["events"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0]["node"]["metadata"]["actor"]["subject"], "u-dpo");
    for (what, text) in [
        ("the registration query", after.to_string()),
        ("the officer page", page.to_string()),
        ("the history", history.to_string()),
        ("subject access", access.to_string()),
        ("the erasure event", erasures.to_string()),
    ] {
        assert_absent(what, &text);
    }

    // Raw bytes of every read model, the export, and every log line.
    assert_absent("the read models", &read_models_text(&db).await);
    let export = run_with(&db.url(), &["export-events"], &VAULT);
    assert!(export.status.success());
    assert_absent("the export", &String::from_utf8_lossy(&export.stdout));
    let logs = service.logs.lock().unwrap().join("\n");
    assert!(!logs.is_empty());
    assert_absent("the service's logs", &logs);

    let verified = run_with(&db.url(), &["verify-chain"], &VAULT);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
}

fn retiring_form() -> Value {
    let mut form = council::form(3, "X", "@NorthRetired");
    form["details"]["participate"]["officer"] = json!({
        "subject": "u-retired", "name": "Rita Retired", "email": "rita@north.gov.uk"
    });
    form
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_erases_only_people_held_solely_on_registrations_closed_longer_ago_than_the_period_and_a_dry_run_changes_nothing(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &VAULT);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let old = submit(&api, retiring_form()).await;
    act(
        &api,
        APPLICANT,
        "withdrawRegistration",
        &old,
        r#", reason: "Project ended""#,
    )
    .await;
    let live = submit(&api, council::form(3, "X", "@NorthLive")).await;
    let head = api
        .ok(Some(&as_(AUDITOR)), "{ logHead { position } }", json!({}))
        .await["logHead"]["position"]
        .clone();
    // Let the projections reach the head: retention reads them.
    api.ok(
        Some(&as_(AUDITOR)),
        "query($p: Int) { registrations(atLeastPosition: $p) { edges { cursor } } }",
        json!({"p": head}),
    )
    .await;

    let seven_years_on = (chrono::Utc::now() + chrono::Duration::days(7 * 366)).to_rfc3339();
    let today = run_with(&db.url(), &["retention", "--dry-run"], &VAULT);
    assert!(
        today.status.success(),
        "{}",
        String::from_utf8_lossy(&today.stderr)
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&today.stdout).unwrap(),
        json!([]),
        "nothing is old enough today"
    );

    let dry = run_with(
        &db.url(),
        &["retention", "--dry-run", "--as-of", &seven_years_on],
        &VAULT,
    );
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let plan: Value = serde_json::from_slice(&dry.stdout).unwrap();
    let plan = plan.as_array().unwrap();
    assert_eq!(plan.len(), 1, "only the retired officer: the contact and line manager are on a live registration: {plan:?}");
    assert_eq!(plan[0]["registrations"], json!([old]));
    assert_eq!(
        plan[0]["fields"],
        json!(["form.details.officer.email", "form.details.officer.name"])
    );
    let access = api
        .ok(Some(&as_(DPO)), SUBJECT_ACCESS, json!({"s": "u-retired"}))
        .await;
    assert_eq!(
        access["personalDataHeldFor"]["erased"], false,
        "a dry run erases nothing"
    );

    let real = run_with(
        &db.url(),
        &["retention", "--as-of", &seven_years_on],
        &VAULT,
    );
    assert!(
        real.status.success(),
        "{}",
        String::from_utf8_lossy(&real.stderr)
    );
    let access = api
        .ok(Some(&as_(DPO)), SUBJECT_ACCESS, json!({"s": "u-retired"}))
        .await;
    assert_eq!(access["personalDataHeldFor"]["erased"], true);
    let kept = api
        .ok(Some(&as_(COMMS)), REGISTRATION, json!({"id": live}))
        .await;
    assert_eq!(
        kept["registration"]["details"]["officer"]["name"],
        "Olivia Officer"
    );
    let erasures = api
        .ok(Some(&as_(AUDITOR)), "{ events(first: 10, filter: {eventTypes: [\"PersonalDataErased\"]}) { edges { node { metadata payload } } } }", json!({}))
        .await;
    let edges = erasures["events"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1);
    assert_eq!(
        edges[0]["node"]["metadata"]["actor"]["subject"],
        "system:retention"
    );
    assert!(
        edges[0]["node"]["payload"]
            .to_string()
            .contains("retention"),
        "{erasures}"
    );
    let again = run_with(
        &db.url(),
        &["retention", "--as-of", &seven_years_on],
        &VAULT,
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&again.stdout).unwrap(),
        json!([]),
        "an erased person is not planned again"
    );
}
