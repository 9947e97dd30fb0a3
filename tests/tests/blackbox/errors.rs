//! Bad requests get the right code, name the field where there is one, and
//! change nothing.

use blackbox_tests::council::{self, as_, people::*, submit, FIELDS};
use blackbox_tests::{error_code, Api, Service};
use event_store::testing::TestDatabase;
use serde_json::{json, Value};

async fn raw(api: &Api, body: String, token: Option<&str>) -> (u16, Value) {
    let mut request = api
        .client
        .post(format!("{}/graphql", api.base))
        .header("content-type", "application/json")
        .body(body);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_mistyped_oversized_too_deep_and_unknown_requests_get_codes_and_change_nothing() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[("REGISTRY_MAX_BODY_BYTES", "65536")]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let id = submit(&api, council::form(1, "X", "@NorthErrors")).await;
    let before = api.position().await;
    let staff = as_(APPLICANT);
    let comms = as_(COMMS);

    // The schema itself has no cycles; introspection does.
    let mut nested = String::from("name");
    for _ in 0..14 {
        nested = format!("ofType {{ {nested} }}");
    }
    let aliases: String = (0..40)
        .map(|i| format!("a{i}: platforms {{ name }} "))
        .collect();
    let cases: Vec<(&str, String, Option<&str>, &str, u16)> = vec![
        ("a syntax error", json!({"query": "{ platforms { name "}).to_string(), None, "BAD_USER_INPUT", 200),
        ("an unknown field", json!({"query": "{ platforms { colour } }"}).to_string(), None, "BAD_USER_INPUT", 200),
        ("an argument of the wrong type", json!({"query": "{ directory(first: \"ten\") { edges { cursor } } }"}).to_string(), None, "BAD_USER_INPUT", 200),
        ("a variable of the wrong type", json!({"query": "query($id: UUID!) { registration(id: $id) { id } }", "variables": {"id": 42}}).to_string(), Some(&staff), "BAD_USER_INPUT", 200),
        ("a malformed UUID", json!({"query": format!("mutation {{ approveRegistration(id: \"not-a-uuid\") {{ position }} }}")}).to_string(), Some(&comms), "BAD_USER_INPUT", 200),
        ("a query nested too deeply", json!({"query": format!("{{ __schema {{ types {{ fields {{ type {{ {nested} }} }} }} }} }}")}).to_string(), None, "BAD_USER_INPUT", 200),
        ("too many aliases", json!({"query": format!("{{ {aliases} }}")}).to_string(), None, "BAD_USER_INPUT", 200),
        ("a page too large", json!({"query": "{ directory(first: 1000) { edges { cursor } } }"}).to_string(), None, "BAD_USER_INPUT", 200),
        ("a body that is not JSON", "query=platforms".into(), None, "BAD_USER_INPUT", 400),
        ("an oversized body", json!({"query": format!("{{ platforms {{ name }} }}{}", " ".repeat(70_000))}).to_string(), None, "BAD_USER_INPUT", 413),
        ("a position beyond the log", json!({"query": "{ directory(atLeastPosition: 999999) { edges { cursor } } }"}).to_string(), None, "BAD_USER_INPUT", 200),
    ];
    // Each twice: the second time the service may hold the document
    // parsed, and must refuse it the same.
    for (what, body, token, code, status) in cases.iter().chain(&cases) {
        let (got_status, got) = raw(&api, body.clone(), *token).await;
        assert_eq!(got_status, *status, "{what}: {got}");
        assert_eq!(error_code(&got).as_deref(), Some(*code), "{what}: {got}");
        assert!(
            got["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{what}"
        );
    }
    // One document with other variables answers for those variables.
    let query = "query($i: String!) { verifyAccount(input: $i) { interpretedAs } }";
    for handle in ["NorthErrors", "SouthErrors", "NorthErrors"] {
        let (_, got) = raw(
            &api,
            json!({"query": query, "variables": {"i": format!("@{handle}")}}).to_string(),
            None,
        )
        .await;
        assert_eq!(
            got["data"]["verifyAccount"]["interpretedAs"][0],
            format!("x:{}", handle.to_lowercase()),
            "{got}"
        );
    }
    let (_, deep) = raw(
        &api,
        json!({"query": format!("{{ __schema {{ types {{ fields {{ type {{ {nested} }} }} }} }} }}")}).to_string(),
        None,
    )
    .await;
    assert!(
        deep["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nested too deep"),
        "{deep}"
    );
    let (_, many) = raw(
        &api,
        json!({"query": format!("{{ {aliases} }}")}).to_string(),
        None,
    )
    .await;
    assert_eq!(
        many["errors"][0]["extensions"]["limit"], "aliases",
        "{many}"
    );
    let (_, page) = raw(
        &api,
        json!({"query": "{ directory(first: 1000) { edges { cursor } } }"}).to_string(),
        None,
    )
    .await;
    assert_eq!(page["errors"][0]["extensions"]["field"], "first");

    // A form with a bad field names it, as the client wrote it.
    let mut form = council::form(3, "X", "@NorthBadForm");
    form["details"]["participate"]["officer"]["email"] = json!("not an email");
    let body = api
        .post(
            Some(&staff),
            &format!("mutation($f: RegistrationFormInput!) {{ submitRegistration(form: $f) {{ registration {{ {FIELDS} }} }} }}"),
            json!({"f": form}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["field"],
        "form.details.participate.officer.email"
    );

    // Mutations over GET are refused; queries over GET work.
    let get = api
        .client
        .get(format!("{}/graphql", api.base))
        .query(&[(
            "query",
            format!("mutation {{ approveRegistration(id: \"{id}\") {{ position }} }}"),
        )])
        .bearer_auth(&comms)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405);
    let get: Value = api
        .client
        .get(format!("{}/graphql", api.base))
        .query(&[("query", "{ platforms { name } }")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(get["data"]["platforms"][0]["name"], "X (Twitter)");

    assert_eq!(
        api.position().await,
        before,
        "no refused request appended anything"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_expected_version_is_a_conflict_with_the_current_version_and_a_retried_key_appends_once(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let id = submit(&api, council::form(1, "X", "@NorthConflict")).await;
    let comms = as_(COMMS);
    let approve_asset = "mutation($id: UUID!, $v: Int, $k: String) { approveBrandingAsset(id: $id, assetId: \"summer-logo\", expectedVersion: $v, idempotencyKey: $k) { registration { version } position deduplicated } }";
    let first = api
        .ok(
            Some(&comms),
            approve_asset,
            json!({"id": id, "v": 1, "k": "key-1"}),
        )
        .await;
    assert_eq!(first["approveBrandingAsset"]["registration"]["version"], 2);
    let retried = api
        .ok(
            Some(&comms),
            approve_asset,
            json!({"id": id, "v": 1, "k": "key-1"}),
        )
        .await;
    assert_eq!(retried["approveBrandingAsset"]["deduplicated"], true);
    assert_eq!(
        retried["approveBrandingAsset"]["position"],
        first["approveBrandingAsset"]["position"]
    );

    let stale = api
        .post(
            Some(&comms),
            "mutation($id: UUID!) { approveRegistration(id: $id, expectedVersion: 1) { position } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        stale["errors"][0]["extensions"]["code"], "CONFLICT",
        "{stale}"
    );
    assert_eq!(stale["errors"][0]["extensions"]["currentVersion"], 2);

    let own = api
        .post(
            Some(&as_(APPLICANT)),
            "mutation($id: UUID!) { withdrawRegistration(id: $id, reason: \"  \") { position } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        own["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{own}"
    );
    assert_eq!(own["errors"][0]["extensions"]["field"], "reason");

    let missing = api
        .post(
            Some(&comms),
            "mutation($id: UUID!) { approveRegistration(id: $id) { position } }",
            json!({"id": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_eq!(
        missing["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{missing}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_correlation_id_of_a_request_is_recorded_in_the_events_it_appends_and_cors_answers_configured_origins(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(
        &db.url(),
        &[(
            "REGISTRY_CORS_ORIGINS",
            "https://registry.north-county.example",
        )],
    );
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let response = api
        .client
        .post(format!("{}/graphql", api.base))
        .header("x-correlation-id", "ticket-4711")
        .bearer_auth(as_(APPLICANT))
        .json(&json!({
            "query": format!("mutation($f: RegistrationFormInput!) {{ submitRegistration(form: $f) {{ registration {{ {FIELDS} }} position }} }}"),
            "variables": {"f": council::form(1, "X", "@NorthTraced")},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-correlation-id"], "ticket-4711");
    let body: Value = response.json().await.unwrap();
    let position = body["data"]["submitRegistration"]["position"]
        .as_i64()
        .unwrap();
    let events = api
        .ok(
            Some(&as_(AUDITOR)),
            "query($a: String) { events(after: $a, first: 1) { edges { node { position metadata } } } }",
            json!({"a": (position - 1).to_string()}),
        )
        .await;
    let metadata = &events["events"]["edges"][0]["node"]["metadata"];
    assert_eq!(metadata["correlationId"], "ticket-4711");
    assert_eq!(metadata["actor"]["subject"], "u-applicant");
    assert_eq!(metadata["actor"]["roles"], json!(["staff"]));
    assert!(
        metadata["actor"]["displayName"]["sealed"].is_string(),
        "the display name is sealed: {metadata}"
    );

    let preflight = api
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/graphql", api.base))
        .header("origin", "https://registry.north-county.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://registry.north-county.example"
    );
    let elsewhere = api
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/graphql", api.base))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(elsewhere
        .headers()
        .get("access-control-allow-origin")
        .is_none());

    let graphiql = api
        .client
        .get(format!("{}/", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(graphiql.status(), 200);
    assert!(graphiql.text().await.unwrap().contains("graphiql"));
}
