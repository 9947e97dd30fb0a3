//! Importing the accounts the council already runs, through the binary's
//! `import` subcommand and the `importRegistrations` mutation: a dry run, a
//! real run, a re-run that changes nothing, a malformed file, a refused
//! row, and 500 rows at once.

use blackbox_tests::council::{self, act, as_, people::*};
use blackbox_tests::{run_with, Api, Service};
use event_store::testing::TestDatabase;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const VAULT: [(&str, &str); 1] = [(
    "REGISTRY_VAULT_KEY",
    "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
)];

const HEADER: &str = "platform,account,level,service_area,contact_subject,contact_name,contact_email,permanent_id,information_types,consultation_topic,opens_on,closes_on,officer_subject,officer_name,officer_email,job_role,line_manager_subject,line_manager_name,topics,senior_officer_subject,senior_officer_name,councillor_name,councillor_id";

/// One row: the named columns set, every other column empty.
fn row(fields: &[(&str, &str)]) -> String {
    HEADER
        .split(',')
        .map(|column| {
            let v = fields
                .iter()
                .find(|(c, _)| *c == column)
                .map_or("", |(_, v)| *v);
            if v.contains(',') {
                format!("\"{v}\"")
            } else {
                v.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

const CONTACT_FIELDS: [(&str, &str); 3] = [
    ("contact_subject", "u-contact"),
    ("contact_name", "Casey Contact"),
    ("contact_email", "u-contact@north.gov.uk"),
];

fn with_contact(fields: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut v = CONTACT_FIELDS.to_vec();
    v.extend_from_slice(fields);
    v
}

fn level1(handle: &str) -> String {
    let mut fields = with_contact(&[
        ("platform", "x"),
        ("level", "1"),
        ("service_area", "libraries"),
        ("information_types", "Opening hours;Events"),
    ]);
    fields.push(("account", handle));
    row(&fields)
}

fn sample_file() -> String {
    [
        HEADER.to_owned(),
        level1("@NorthImportOne"),
        row(&with_contact(&[
            ("platform", "facebook"),
            ("account", "facebook.com/NorthImportConsult"),
            ("level", "2"),
            ("service_area", "libraries"),
            ("consultation_topic", "Library opening hours"),
            ("opens_on", "2026-12-01"),
            ("closes_on", "2027-01-31"),
        ])),
        row(&with_contact(&[
            ("platform", "instagram"),
            ("account", "instagram.com/north_import_youth"),
            ("level", "3"),
            ("service_area", "youth"),
            ("permanent_id", "555000111"),
            ("officer_subject", "u-officer"),
            ("officer_name", "Officer, Olivia"),
            ("officer_email", "u-officer@north.gov.uk"),
            ("job_role", "youth-worker"),
            ("line_manager_subject", "u-manager"),
            ("line_manager_name", "Morgan Manager"),
        ])),
        row(&with_contact(&[
            ("platform", "x"),
            ("account", "@NorthDebateImp"),
            ("level", "4"),
            ("service_area", "libraries"),
            ("topics", "parks"),
            ("senior_officer_subject", "u-senior"),
            ("senior_officer_name", "Sam Senior"),
            ("councillor_name", "Cllr Chris Council"),
            ("councillor_id", "cllr-chris-council"),
        ])),
        level1("@NorthAlready"),
    ]
    .join("\n")
        + "\n"
}

async fn log_head(api: &Api) -> i64 {
    api.ok(Some(&as_(AUDITOR)), "{ logHead { position } }", json!({}))
        .await["logHead"]["position"]
        .as_i64()
        .unwrap()
}

fn outcomes(report: &Value) -> Vec<String> {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_import_command_reports_a_dry_run_imports_once_changes_nothing_on_a_rerun_and_refuses_a_malformed_file(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &VAULT);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let already = council::submit_and_approve_asset(&api, "@NorthAlready").await;
    act(&api, COMMS, "approveRegistration", &already, "").await;
    act(&api, COMMS, "publishRegistration", &already, "").await;

    let dir = std::env::temp_dir().join(format!("import-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("existing-accounts.csv");
    let file = sample_file();
    std::fs::write(&path, &file).unwrap();
    let path_s = path.to_str().unwrap();
    let import = |extra: &[&str]| {
        let mut args = vec!["import", path_s, "--by", "u-comms"];
        args.extend_from_slice(extra);
        run_with(&db.url(), &args, &VAULT)
    };

    // A dry run reports every row and appends nothing.
    let before = log_head(&api).await;
    let dry = import(&["--dry-run"]);
    assert!(
        dry.status.success(),
        "{}{}",
        String::from_utf8_lossy(&dry.stderr),
        String::from_utf8_lossy(&dry.stdout)
    );
    let report: Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(
        outcomes(&report),
        [
            "would_import",
            "would_import",
            "would_import",
            "would_import",
            "already_registered"
        ]
    );
    assert_eq!(
        report["rows"][4]["detail"]["registration"],
        already.as_str()
    );
    assert_eq!(report["rows"][2]["line"], 4);
    assert_eq!(log_head(&api).await, before, "a dry run appends nothing");

    // The real run: each row a published, grandfathered registration.
    let real = import(&[]);
    assert!(
        real.status.success(),
        "{}",
        String::from_utf8_lossy(&real.stderr)
    );
    let report: Value = serde_json::from_slice(&real.stdout).unwrap();
    assert_eq!(
        outcomes(&report),
        [
            "imported",
            "imported",
            "imported",
            "imported",
            "already_registered"
        ]
    );
    let position = report["position"].as_i64().unwrap();
    let sha = hex::encode(Sha256::digest(file.as_bytes()));
    assert_eq!(report["sha256"], sha.as_str());
    let verified = api
        .ok(
            None,
            "query($p: Int) { verifyAccount(input: \"instagram.com/north_import_youth\", atLeastPosition: $p) { status account { level officerSlug permanentId } } }",
            json!({"p": position}),
        )
        .await;
    assert_eq!(verified["verifyAccount"]["status"], "VERIFIED");
    assert_eq!(verified["verifyAccount"]["account"]["level"], "PARTICIPATE");
    assert_eq!(
        verified["verifyAccount"]["account"]["permanentId"],
        "instagram:pid:555000111"
    );
    let id = report["rows"][0]["registrationId"].as_str().unwrap();
    let r = api
        .ok(
            Some(&as_(COMMS)),
            "query($id: UUID!) { registration(id: $id) { status grandfathered { fileName fileSha256 line imported { by } reviewBy } } registrationHistory(id: $id) { eventType } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(r["registration"]["status"], "PUBLISHED");
    let g = &r["registration"]["grandfathered"];
    assert_eq!(g["fileName"], "existing-accounts.csv");
    assert_eq!(g["fileSha256"], sha.as_str());
    assert_eq!(g["line"], 2);
    assert_eq!(g["imported"]["by"], "u-comms");
    assert_eq!(
        r["registrationHistory"][0]["eventType"],
        "RegistrationImported"
    );
    let officer = verified["verifyAccount"]["account"]["officerSlug"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = api
        .client
        .get(format!("{}/officers/{officer}", api.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Officer, Olivia"), "{page}");

    // The same file again changes nothing.
    let head = log_head(&api).await;
    let again = import(&[]);
    assert!(again.status.success());
    let report: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert!(outcomes(&report).iter().all(|o| o == "already_registered"));
    assert_eq!(report["committed"], false);
    assert_eq!(log_head(&api).await, head);

    // A malformed file: refused with line and column, nothing imported.
    let bad = format!(
        "{HEADER}\n{}\n{}\n",
        level1("@NorthGoodRow"),
        level1("@NorthBadRow").replacen(",1,", ",7,", 1)
    );
    std::fs::write(&path, bad).unwrap();
    let refused = import(&[]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("line 3, column 3 (level)"), "{stderr}");
    // A row the rules refuse: named with its field; nothing imported.
    let unknown = format!(
        "{HEADER}\n{}\n{}\n",
        level1("@NorthGoodRow"),
        level1("@NorthBadArea").replace("libraries", "aquarium")
    );
    std::fs::write(&path, unknown).unwrap();
    let refused = import(&[]);
    assert_eq!(refused.status.code(), Some(2));
    let report: Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert_eq!(outcomes(&report), ["would_import", "refused"]);
    assert_eq!(report["rows"][1]["detail"]["field"], "form.serviceArea");
    assert_eq!(log_head(&api).await, head, "nothing imported");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn communications_imports_500_accounts_in_one_run_and_each_is_due_for_its_full_review() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[("REGISTRY_IMPORT_REVIEW_DAYS", "45")]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let mut file = String::from(HEADER);
    for i in 0..500 {
        file.push('\n');
        file.push_str(&level1(&format!("@NorthBulk{i}")));
    }
    let mutation = "mutation($csv: String!, $dry: Boolean) { importRegistrations(csv: $csv, fileName: \"bulk.csv\", dryRun: $dry) { committed imported alreadyRegistered refused position rows { line outcome field problem } } }";
    let refused = api
        .code(
            Some(&as_(APPLICANT)),
            mutation,
            json!({"csv": file, "dry": true}),
        )
        .await;
    assert_eq!(refused, "FORBIDDEN");
    let dry = api
        .ok(
            Some(&as_(COMMS)),
            mutation,
            json!({"csv": file, "dry": true}),
        )
        .await["importRegistrations"]
        .clone();
    assert_eq!(
        (dry["imported"].as_i64(), dry["committed"].as_bool()),
        (Some(500), Some(false))
    );
    let real = api
        .ok(Some(&as_(COMMS)), mutation, json!({"csv": file}))
        .await["importRegistrations"]
        .clone();
    assert_eq!(real["imported"], 500, "{real}");
    assert_eq!(real["committed"], true);
    let position = real["position"].as_i64().unwrap();
    let due = api
        .ok(
            Some(&as_(COMMS)),
            "query($p: Int) { revalidationDue(first: 100, atLeastPosition: $p) { edges { node { accountKey dueOn } } } }",
            json!({"p": position}),
        )
        .await;
    let edges = due["revalidationDue"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 100);
    let expected = (chrono::Utc::now() + chrono::Duration::days(45))
        .format("%Y-%m-%d")
        .to_string();
    assert!(
        edges
            .iter()
            .all(|e| e["node"]["dueOn"] == expected.as_str()),
        "{due}"
    );
    let again = api
        .ok(Some(&as_(COMMS)), mutation, json!({"csv": file}))
        .await["importRegistrations"]
        .clone();
    assert_eq!(
        (
            again["imported"].as_i64(),
            again["alreadyRegistered"].as_i64(),
            again["committed"].as_bool()
        ),
        (Some(0), Some(500), Some(false))
    );
    // A malformed file names the line and column on `csv`.
    let bad = api
        .post(
            Some(&as_(COMMS)),
            mutation,
            json!({"csv": format!("{HEADER}\n{}", row(&with_contact(&[
                ("platform", "x"),
                ("account", "@NorthConsultBad"),
                ("level", "2"),
                ("service_area", "libraries"),
                ("consultation_topic", "Parks"),
                ("opens_on", "2026-13-01"),
                ("closes_on", "2027-01-31"),
            ]))), "dry": true}),
        )
        .await;
    assert_eq!(bad["errors"][0]["extensions"]["field"], "csv", "{bad}");
    assert!(
        bad.to_string().contains("line 2, column 11 (opens_on)"),
        "{bad}"
    );
}
