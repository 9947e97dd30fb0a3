//! The people directory (issue 16): listed from staff sign-ins and an
//! admin's CSV import, in its own events with personal values in the vault;
//! searched by the start of the words of a name through `people(search:)`;
//! its index holds no name, and an erasure takes the person out of it.

use blackbox_tests::council::{as_, people};
use blackbox_tests::staff::Browser;
use blackbox_tests::{token, Api, Service};
use event_store::testing::TestDatabase;
use serde_json::{json, Value};

const SEARCH: &str = "query($s: String!, $p: Int) { people(search: $s, atLeastPosition: $p) { subject name email jobTitle unit } }";
const IMPORT: &str = "mutation($csv: String!, $f: String!) { importPeople(csv: $csv, fileName: $f) { listed unchanged position problems { line column problem } } }";

async fn search(api: &Api, words: &str) -> Vec<Value> {
    let p = api.position().await;
    api.ok(
        Some(&as_(people::APPLICANT)),
        SEARCH,
        json!({"s": words, "p": p}),
    )
    .await["people"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn subjects(found: &[Value]) -> Vec<&str> {
    found.iter().filter_map(|p| p["subject"].as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_are_listed_from_their_sign_in_and_an_admins_import_found_by_the_start_of_their_names_and_gone_from_search_once_erased(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);

    // A sign-in lists the person from what the provider says of them.
    let mut morgan = Browser::new(&service.base_url);
    morgan.dev_sign_in("demo-morgan").await;
    let found = search(&api, "mor").await;
    assert_eq!(
        found,
        [json!({"subject": "demo-morgan", "name": "Morgan Manager",
                "email": "demo-morgan@council.example",
                "jobTitle": "Youth Services Manager", "unit": "Youth Services"})]
    );
    // Signing in again with the same claims appends nothing.
    let before = api.position().await;
    morgan.dev_sign_in("demo-morgan").await;
    assert_eq!(api.position().await, before);

    // An import with a bad row lists nobody and says which line and
    // column, never the value.
    let admin = as_(people::ADMIN);
    let bad = "subject,name,email,job_title,unit\n\
               u-olivia,Olivia Officer,olivia@north.gov.uk,Youth Worker,Youth Services\n\
               u-sam,Sam Senior,sam-at-north,Head of Parks,Environment\n";
    let report = api
        .ok(Some(&admin), IMPORT, json!({"csv": bad, "f": "staff.csv"}))
        .await["importPeople"]
        .clone();
    assert_eq!(report["listed"], 0);
    assert_eq!(
        report["problems"],
        json!([{"line": 3, "column": "email", "problem": "must be an email address such as name@council.gov.uk"}])
    );
    assert!(!report.to_string().contains("sam-at-north"));
    assert_eq!(api.position().await, before);

    let good = "subject,name,email,job_title,unit\n\
                u-olivia,Olivia Officer,olivia@north.gov.uk,Youth Worker,Youth Services\n\
                u-sam,Sam Senior,sam@north.gov.uk,Head of Parks,Environment\n";
    let report = api
        .ok(Some(&admin), IMPORT, json!({"csv": good, "f": "staff.csv"}))
        .await["importPeople"]
        .clone();
    assert_eq!(
        (report["listed"].as_i64(), report["unchanged"].as_i64()),
        (Some(2), Some(0))
    );
    let again = api
        .ok(Some(&admin), IMPORT, json!({"csv": good, "f": "staff.csv"}))
        .await["importPeople"]
        .clone();
    assert_eq!(
        (again["listed"].as_i64(), again["unchanged"].as_i64()),
        (Some(0), Some(2))
    );

    // Every word must start a word of the name.
    assert_eq!(subjects(&search(&api, "oli off").await), ["u-olivia"]);
    assert_eq!(subjects(&search(&api, "SENIOR").await), ["u-sam"]);
    assert!(search(&api, "olivia senior").await.is_empty());
    assert!(search(&api, "livia").await.is_empty());

    // Refusals name the field; the import is the admin's, and integration
    // clients are not staff.
    assert_eq!(
        api.code(Some(&as_(people::APPLICANT)), SEARCH, json!({"s": "m"}))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        api.code(
            Some(&as_(people::APPLICANT)),
            IMPORT,
            json!({"csv": good, "f": "x.csv"})
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(
        api.code(
            Some(&token("u-integration", &["integration"])),
            SEARCH,
            json!({"s": "oli"})
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(
        api.code(None, SEARCH, json!({"s": "oli"})).await,
        "UNAUTHENTICATED"
    );

    // The index holds no name, email or job title.
    let rows: Vec<String> = sqlx::query_scalar("select row_to_json(p)::text from staff.people p")
        .fetch_all(&db.owner)
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    for row in &rows {
        // (Subjects are ids and may look like names: `u-olivia`.)
        for word in [
            "officer",
            "manager",
            "senior",
            "north.gov.uk",
            "council.example",
            "youth worker",
            "head of parks",
        ] {
            assert!(!row.to_lowercase().contains(word), "{word} in {row}");
        }
    }

    // Erased, Olivia is found no more; the log still says she was listed.
    api.ok(
        Some(&as_(people::DPO)),
        "mutation($s: String, $r: String!) { erasePersonalData(subject: $s, reason: $r) { position } }",
        json!({"s": "u-olivia", "r": "Subject's request DP-2026-201"}),
    )
    .await;
    assert!(search(&api, "oli").await.is_empty());
    assert_eq!(subjects(&search(&api, "sam").await), ["u-sam"]);
    service.terminate();
}
