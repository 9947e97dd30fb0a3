//! Proving the log: tamper drills against a real PostgreSQL, signed heads,
//! offline verification of an export, and the registry at past positions.

use std::path::{Path, PathBuf};

use blackbox_tests::council::{self, act, as_, people::*, submit};
use blackbox_tests::{run_with, Api, Service};
use event_store::canonical::{chain_hash, EventFields};
use event_store::testing::TestDatabase;
use event_store::{EventStore, ExpectedVersion, NewEvent, RecordedEvent};
use serde_json::{json, Value};

const SIGNING_KEY: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
const ENV: [(&str, &str); 1] = [("REGISTRY_SIGNING_KEY", SIGNING_KEY)];
const VAULT: [(&str, &str); 1] = [(
    "REGISTRY_VAULT_KEY",
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
)];

async fn log_of(db: &TestDatabase, n: usize) {
    let store = EventStore::new(db.runtime.clone());
    for i in 0..n {
        store
            .append(
                &format!("thing-{}", i % 4),
                ExpectedVersion::Any,
                &[NewEvent::new(
                    "ThingNoted",
                    1,
                    json!({"n": i, "note": format!("note {i}")}),
                )],
                &json!({"actor": {"subject": "tester"}}),
                None,
            )
            .await
            .unwrap();
    }
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("registry-audit-{}-{name}", uuid::Uuid::new_v4()))
}

/// Sign the head with the binary; the head file.
fn sign_head(db: &TestDatabase) -> PathBuf {
    let out = run_with(&db.url(), &["sign-head"], &ENV);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = temp("head.json");
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

/// Run verify-chain (optionally with heads); (success, report).
fn verify(db: &TestDatabase, heads: &[&Path]) -> (bool, Value) {
    let mut args = vec!["verify-chain".to_owned()];
    for h in heads {
        args.push("--head".into());
        args.push(h.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_with(&db.url(), &args, &ENV);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("a JSON report: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.success(), report)
}

async fn tamper(db: &TestDatabase, sql: &str) {
    sqlx::query("alter table events disable trigger user")
        .execute(&db.owner)
        .await
        .unwrap();
    for statement in sql.split(';').filter(|s| !s.trim().is_empty()) {
        sqlx::query(statement).execute(&db.owner).await.unwrap();
    }
    sqlx::query("alter table events enable trigger user")
        .execute(&db.owner)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_changed_byte_a_deleted_row_and_a_reordered_pair_are_each_found_by_verify_chain_at_their_position(
) {
    for (what, sql, position, reason) in [
        (
            "a changed payload byte",
            "update events set payload = jsonb_set(payload, '{note}', '\"note X\"') where position = 12",
            12,
            "hash_mismatch",
        ),
        ("a deleted row", "delete from events where position = 15", 15, "missing"),
        (
            "a reordered pair",
            "update events set position = 100000 where position = 10; \
             update events set position = 10 where position = 11; \
             update events set position = 11 where position = 100000",
            10,
            "previous_hash_mismatch",
        ),
    ] {
        let db = TestDatabase::new().await;
        log_of(&db, 30).await;
        assert!(verify(&db, &[]).0, "{what}: intact before");
        tamper(&db, sql).await;
        let (ok, report) = verify(&db, &[]);
        assert!(!ok, "{what}: not detected: {report}");
        assert_eq!(report["position"], position, "{what}: {report}");
        assert_eq!(report["reason"], reason, "{what}: {report}");
    }
}

#[tokio::test]
async fn a_truncated_tail_and_a_rehashed_rewrite_pass_the_chain_alone_but_not_a_signed_head() {
    // Truncated tail: the chain of what is left still verifies.
    let db = TestDatabase::new().await;
    log_of(&db, 30).await;
    let head = sign_head(&db);
    assert!(verify(&db, &[&head]).0);
    tamper(&db, "delete from events where position > 27").await;
    assert!(verify(&db, &[]).0, "the remaining chain alone verifies");
    let (ok, report) = verify(&db, &[&head]);
    assert!(!ok);
    assert_eq!(
        report["heads"][0]["verdict"],
        json!({"status": "beyond_log", "log_ends_at": 27})
    );
    assert!(
        report["problem"]
            .as_str()
            .unwrap()
            .contains("covers position 30"),
        "{report}"
    );

    // A superuser rewrites position 12 and re-hashes everything after it,
    // but cannot sign.
    let db = TestDatabase::new().await;
    log_of(&db, 30).await;
    let early = sign_head(&db);
    log_of(&db, 10).await;
    let late = sign_head(&db);
    let (ok, report) = verify(&db, &[&early, &late]);
    assert!(
        ok,
        "a later head proves the earlier log is its prefix: {report}"
    );
    let store = EventStore::new(db.owner.clone());
    let mut events: Vec<RecordedEvent> = store.read_range(1, 40, 100).await.unwrap();
    events[11].payload = json!({"n": 11, "note": "rewritten"});
    let mut prev = events[10].hash.clone();
    let mut sql = String::new();
    for e in events.iter_mut().skip(11) {
        e.prev_hash = prev.clone();
        e.hash = chain_hash(&e.prev_hash, EventFields::from(&*e)).to_vec();
        sql.push_str(&format!(
            "update events set payload = '{}', prev_hash = '\\x{}', hash = '\\x{}' where position = {};",
            e.payload,
            hex::encode(&e.prev_hash),
            hex::encode(&e.hash),
            e.position
        ));
        prev = e.hash.clone();
    }
    tamper(&db, &sql).await;
    assert!(verify(&db, &[]).0, "the re-hashed chain alone verifies");
    let (ok, report) = verify(&db, &[&early, &late]);
    assert!(!ok);
    assert_eq!(report["heads"][0]["position"], 30);
    assert_eq!(
        report["heads"][0]["verdict"]["status"], "differs",
        "{report}"
    );
    assert!(
        report["problem"].as_str().unwrap().contains("position 30"),
        "{report}"
    );

    // A head whose signature was edited is refused too.
    let mut forged: Value = serde_json::from_str(&std::fs::read_to_string(&late).unwrap()).unwrap();
    forged["hash"] = json!(hex::encode(&events[39].hash));
    let forged_path = temp("forged.json");
    std::fs::write(&forged_path, forged.to_string()).unwrap();
    let (ok, report) = verify(&db, &[&forged_path]);
    assert!(!ok);
    assert_eq!(
        report["heads"][0]["verdict"]["status"], "signature_invalid",
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_verifies_offline_after_the_database_is_dropped_and_a_one_byte_edit_fails() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &ENV);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    for i in 0..5 {
        let id = submit(&api, council::form(3, "X", &format!("@NorthExport{i}"))).await;
        act(
            &api,
            APPLICANT,
            "recordRiskAssessment",
            &id,
            council::RISK_ASSESSMENT,
        )
        .await;
    }
    let signed = api
        .ok(
            Some(&as_(AUDITOR)),
            "mutation { signLogHead { position document } }",
            json!({}),
        )
        .await;
    let head_path = temp("head.json");
    std::fs::write(&head_path, signed["signLogHead"]["document"].to_string()).unwrap();
    let key: Value = api
        .client
        .get(format!("{}/.well-known/registry-signing-key", api.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let public_key = key["publicKey"].as_str().unwrap().to_owned();

    // Streamed over HTTP to an auditor; the subcommand writes the same.
    let http = api
        .client
        .get(format!("{}/audit/events.ndjson", api.base))
        .bearer_auth(as_(AUDITOR))
        .send()
        .await
        .unwrap();
    assert_eq!(http.status(), 200);
    let http = http.text().await.unwrap();
    let refused = api
        .client
        .get(format!("{}/audit/events.ndjson", api.base))
        .bearer_auth(as_(COMMS))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let exported = run_with(&db.url(), &["export-events"], &ENV);
    assert!(exported.status.success());
    assert_eq!(String::from_utf8(exported.stdout.clone()).unwrap(), http);
    let export_path = temp("events.ndjson");
    std::fs::write(&export_path, &exported.stdout).unwrap();
    drop(service);

    // No database from here on.
    sqlx::query(&format!("drop database {} with (force)", db.name))
        .execute(&{
            let admin =
                event_store::db::connect_options(&std::env::var("DATABASE_URL").unwrap()).unwrap();
            sqlx::PgPool::connect_with(admin.database("postgres"))
                .await
                .unwrap()
        })
        .await
        .unwrap();
    let offline = |file: &Path| {
        let out = std::process::Command::new(blackbox_tests::binary())
            .args([
                "verify-export",
                &file.display().to_string(),
                "--head",
                &head_path.display().to_string(),
                "--public-key",
                &public_key,
            ])
            .env_clear()
            .output()
            .unwrap();
        (
            out.status.success(),
            serde_json::from_slice::<Value>(&out.stdout).unwrap_or_default(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, report, stderr) = offline(&export_path);
    assert!(ok, "{stderr} {report}");
    assert_eq!(report["heads"][0]["verdict"]["status"], "matches");

    // One byte changed anywhere: a digit of a stream version, a letter of a
    // reference, a hex digit of a hash.
    let text = std::fs::read(&export_path).unwrap();
    for needle in ["RA-2026-031", "\"stream_version\":2", "\"hash\":\""] {
        let at = text
            .windows(needle.len())
            .position(|w| w == needle.as_bytes())
            .unwrap_or_else(|| panic!("{needle} in the export"))
            + needle.len()
            - 1;
        let mut edited = text.clone();
        edited[at] = if edited[at] == b'1' { b'3' } else { b'1' };
        let edited_path = temp("edited.ndjson");
        std::fs::write(&edited_path, &edited).unwrap();
        let (ok, report, _) = offline(&edited_path);
        assert!(!ok, "editing {needle} went unnoticed: {report}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_reconstructed_at_twenty_past_positions_equals_what_the_projections_showed_then(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &VAULT);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let auditor = as_(AUDITOR);
    let fields = "id version status level accountKey outstandingSteps updatedAt businessContact { name } details { __typename }";
    let snapshot_query = format!(
        "query($p: Int) {{ registrations(first: 100, atLeastPosition: $p) {{ edges {{ node {{ {fields} }} }} }} }}"
    );
    let mut snapshots: Vec<(i64, Value)> = Vec::new();
    let mut step = 0;
    let mut events = 0;
    for i in 0..95 {
        let level = (i % 4) + 1;
        let id = submit(
            &api,
            council::form(level as u8, "X", &format!("@NorthTime{i}")),
        )
        .await;
        let mut payloads = Vec::new();
        match level {
            1 => {
                payloads.push(
                    act(
                        &api,
                        COMMS,
                        "approveBrandingAsset",
                        &id,
                        r#", assetId: "summer-logo""#,
                    )
                    .await,
                );
                payloads.push(act(&api, COMMS, "approveRegistration", &id, "").await);
            }
            2 => payloads.push(
                act(
                    &api,
                    CONSULTATION,
                    "recordConsultationListing",
                    &id,
                    r#", finderReference: "CF-9""#,
                )
                .await,
            ),
            3 => {
                payloads.push(
                    act(
                        &api,
                        APPLICANT,
                        "recordRiskAssessment",
                        &id,
                        council::RISK_ASSESSMENT,
                    )
                    .await,
                );
                payloads.push(act(&api, MANAGER, "signRiskAssessment", &id, "").await);
            }
            _ => payloads.push(act(&api, SENIOR, "signOffAsSeniorOfficer", &id, "").await),
        }
        if i % 3 == 0 {
            payloads.push(
                act(
                    &api,
                    COMMS,
                    if level == 1 {
                        "publishRegistration"
                    } else {
                        "approveRegistration"
                    },
                    &id,
                    "",
                )
                .await,
            );
        }
        if i % 7 == 0 {
            payloads.push(
                act(
                    &api,
                    APPLICANT,
                    "withdrawRegistration",
                    &id,
                    r#", reason: "No longer needed""#,
                )
                .await,
            );
        }
        events += 1 + payloads.len();
        step += 1;
        if step % 4 == 0 && snapshots.len() < 20 {
            let position = payloads.last().unwrap()["position"].as_i64().unwrap();
            let seen = api
                .ok(Some(&auditor), &snapshot_query, json!({"p": position}))
                .await;
            snapshots.push((position, seen["registrations"].clone()));
        }
    }
    assert!(events > 250, "several hundred events ({events})");
    assert_eq!(snapshots.len(), 20);
    let at_query = format!(
        "query($p: Int) {{ registryAt(position: $p, first: 100) {{ edges {{ node {{ {fields} }} }} }} }}"
    );
    for (position, seen) in &snapshots {
        let then = api
            .ok(Some(&auditor), &at_query, json!({"p": position}))
            .await;
        assert_eq!(&then["registryAt"], seen, "at position {position}");
    }
    // The subcommand prints the same registry, personal data opened.
    let (position, seen) = &snapshots[7];
    let printed = run_with(
        &db.url(),
        &["registry-at", "--position", &position.to_string()],
        &VAULT,
    );
    assert!(
        printed.status.success(),
        "{}",
        String::from_utf8_lossy(&printed.stderr)
    );
    let v: Value = serde_json::from_slice(&printed.stdout).unwrap();
    let ids: Vec<&Value> = v["registrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["id"])
        .collect();
    let seen_ids: Vec<&Value> = seen["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"]["id"])
        .collect();
    assert_eq!(ids, seen_ids);
    assert_eq!(
        v["registrations"][0]["form"]["businessContact"]["name"]["value"],
        "Casey Contact"
    );
}

/// The registry now and the registry at a position filter by the same rule:
/// a search finds a service by its name in both (it did in one only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_and_the_registry_at_a_position_filter_alike() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let library = council::submit(&api, council::form(1, "X", "@NFiltLib")).await;
    council::submit(&api, council::form(3, "X", "@NFiltYouth")).await;
    let position = api.position().await;
    let ids = |data: &serde_json::Value, field: &str| -> Vec<String> {
        data[field]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    for words in ["archives", "LIBRARIES", "nfiltlib"] {
        let now = api
            .ok(
                Some(&as_(AUDITOR)),
                "query($p: Int, $s: String) { registrations(atLeastPosition: $p, filter: { search: $s }) { edges { node { id } } } }",
                serde_json::json!({"p": position, "s": words}),
            )
            .await;
        let then = api
            .ok(
                Some(&as_(AUDITOR)),
                "query($p: Int, $s: String) { registryAt(position: $p, filter: { search: $s }) { edges { node { id } } } }",
                serde_json::json!({"p": position, "s": words}),
            )
            .await;
        assert_eq!(
            ids(&now, "registrations"),
            std::slice::from_ref(&library),
            "{words}"
        );
        assert_eq!(
            ids(&then, "registryAt"),
            std::slice::from_ref(&library),
            "{words}"
        );
    }
}
