//! The demonstration council and the development token command.

use blackbox_tests::{run_with, Api, Service, TEST_JWT_SECRET};
use event_store::testing::TestDatabase;
use serde_json::json;

const VAULT_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_demo_loads_a_council_at_every_level_and_state_once_and_dev_token_signs_in_as_its_people(
) {
    let db = TestDatabase::unmigrated().await;
    let env = [
        ("REGISTRY_VAULT_KEY", VAULT_KEY),
        ("REGISTRY_JWT_SECRET", TEST_JWT_SECRET),
    ];
    let seeded = run_with(&db.url(), &["seed-demo"], &env);
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let again = run_with(&db.url(), &["seed-demo"], &env);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds"));

    let token = |sub: &str, roles: &str| {
        let out = run_with(
            &db.url(),
            &["dev-token", "--sub", sub, "--roles", roles],
            &env,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let bad = run_with(
        &db.url(),
        &["dev-token", "--sub", "x", "--roles", "wizard"],
        &env,
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown role `wizard`"));

    let service = Service::start(&db.url(), &[("REGISTRY_VAULT_KEY", VAULT_KEY)]);
    let api = Api::new(&service);
    let auditor = token("demo-ada", "auditor");
    let head = api
        .ok(Some(&auditor), "{ logHead { position } }", json!({}))
        .await["logHead"]["position"]
        .clone();
    // The people directory lists every demonstration person.
    let found = api
        .ok(
            Some(&token("demo-alex", "staff")),
            "query($p: Int) { people(search: \"morgan\", atLeastPosition: $p) { subject jobTitle } }",
            json!({"p": head}),
        )
        .await;
    assert_eq!(
        found["people"],
        json!([{"subject": "demo-morgan", "jobTitle": "Youth Services Manager"}])
    );
    let all = api
        .ok(
            Some(&auditor),
            "query($p: Int) { registrations(first: 100, atLeastPosition: $p) { edges { node { level status } } } }",
            json!({"p": head}),
        )
        .await;
    let mut seen = std::collections::BTreeSet::new();
    for edge in all["registrations"]["edges"].as_array().unwrap() {
        seen.insert((
            edge["node"]["level"].as_str().unwrap().to_owned(),
            edge["node"]["status"].as_str().unwrap().to_owned(),
        ));
    }
    for level in ["BROADCAST", "CONSULT", "PARTICIPATE", "ENGAGE"] {
        assert!(
            seen.contains(&(level.to_owned(), "PUBLISHED".to_owned())),
            "{level} published: {seen:?}"
        );
        assert!(
            seen.contains(&(level.to_owned(), "SUBMITTED".to_owned())),
            "{level} submitted: {seen:?}"
        );
    }
    for status in ["WITHDRAWN", "REJECTED", "APPROVED", "CHANGES_REQUESTED"] {
        assert!(seen.iter().any(|(_, s)| s == status), "{status}: {seen:?}");
    }
    let withdrawn = api
        .ok(
            None,
            // Public answers come from the in-memory index: ask for the
            // position read above, as a client reading its writes does.
            "query($p: Int) { verifyAccount(input: \"@NorthRoads\", atLeastPosition: $p) { status } }",
            json!({"p": head}),
        )
        .await;
    assert_eq!(withdrawn["verifyAccount"]["status"], "WITHDRAWN");
    let officer = api
        .ok(
            None,
            "query($p: Int) { verifyAccount(input: \"x.com/northyouthwork\", atLeastPosition: $p) { status account { officerSlug } } }",
            json!({"p": head}),
        )
        .await;
    let slug = officer["verifyAccount"]["account"]["officerSlug"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = api
        .ok(
            None,
            "query($s: String!) { officer(slug: $s) { name jobRole } }",
            json!({"s": slug}),
        )
        .await;
    assert_eq!(
        page["officer"],
        json!({"name": "Olivia Officer", "jobRole": "Youth Worker"})
    );
    let me = api
        .ok(
            Some(&token("demo-chris", "staff,communications")),
            "{ me { subject roles } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me["me"],
        json!({"subject": "demo-chris", "roles": ["STAFF", "COMMUNICATIONS"]})
    );
}
