//! The public pages and open-data feeds over plain HTTP: what they publish
//! (and do not), the feeds' formats, conditional requests, and the report
//! form's defences.

use blackbox_tests::council::{self, act, as_, people::*, submit};
use blackbox_tests::{Api, Service};
use event_store::testing::TestDatabase;
use serde_json::{json, Value};

async fn published_council(api: &Api) -> (String, i64) {
    council::reference_data(api).await;
    let id = submit(api, council::form(3, "X", "@NorthYouthPub")).await;
    act(
        api,
        APPLICANT,
        "recordRiskAssessment",
        &id,
        council::RISK_ASSESSMENT,
    )
    .await;
    act(api, MANAGER, "signRiskAssessment", &id, "").await;
    act(api, COMMS, "approveRegistration", &id, "").await;
    act(api, COMMS, "publishRegistration", &id, "").await;
    let old = submit(
        api,
        council::form(2, "FACEBOOK", "facebook.com/NorthOldConsult"),
    )
    .await;
    act(
        api,
        CONSULTATION,
        "recordConsultationListing",
        &old,
        r#", finderReference: "CF-1""#,
    )
    .await;
    act(api, COMMS, "approveRegistration", &old, "").await;
    act(api, COMMS, "publishRegistration", &old, "").await;
    let last = act(
        api,
        COMMS,
        "withdrawRegistration",
        &old,
        r#", reason: "Consultation closed""#,
    )
    .await;
    let position = last["position"].as_i64().unwrap();
    api.ok(
        None,
        "query($p: Int) { directory(atLeastPosition: $p) { edges { cursor } } }",
        json!({"p": position}),
    )
    .await;
    // The pages answer from the in-memory index: wait for it too.
    api.ok(
        None,
        "query($p: Int) { verifyAccount(input: \"x\", atLeastPosition: $p) { status } }",
        json!({"p": position}),
    )
    .await;
    (id, position)
}

async fn get(api: &Api, path: &str) -> reqwest::Response {
    api.client
        .get(format!("{}{path}", api.base))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_publish_only_what_the_public_models_hold() {
    let db = TestDatabase::new().await;
    let service = Service::start(
        &db.url(),
        &[("REGISTRY_COUNCIL_NAME", "North County Council")],
    );
    let api = Api::new(&service);
    published_council(&api).await;
    // Never public: contact details, other staff, unpublished records.
    let unpublished = submit(&api, council::form(1, "X", "@NorthSecretNew")).await;
    let never = [
        "Casey Contact",
        "north.gov.uk",
        "Morgan Manager",
        "01234 567890",
        "u-officer",
        "RA-2026-031",
        &unpublished,
    ];

    let officer_slug = {
        let v = api
            .ok(
                None,
                "{ verifyAccount(input: \"@NorthYouthPub\") { account { officerSlug } } }",
                json!({}),
            )
            .await;
        v["verifyAccount"]["account"]["officerSlug"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let mut seen = String::new();
    for path in [
        "/directory".to_owned(),
        "/directory?q=youth".to_owned(),
        "/verify?account=%40NorthYouthPub".to_owned(),
        "/verify?account=facebook.com%2FNorthOldConsult".to_owned(),
        "/verify?account=%40NorthSecretNew".to_owned(),
        format!("/officers/{officer_slug}"),
        "/report".to_owned(),
        "/directory.csv".to_owned(),
        "/directory.json".to_owned(),
        "/directory.atom".to_owned(),
    ] {
        let response = get(&api, &path).await;
        assert_eq!(response.status(), 200, "{path}");
        let text = response.text().await.unwrap();
        for secret in never {
            assert!(!text.contains(secret), "{path} shows `{secret}`");
        }
        seen.push_str(&text);
    }
    assert!(
        seen.contains("Olivia Officer"),
        "the officer's published name is shown"
    );
    // Nobody has checked that the officer's profiles link to the page, so
    // the page does not say they do.
    assert!(
        !seen.contains("link back"),
        "an unchecked link-back is not claimed"
    );
    let unknown = get(&api, "/verify?account=%40NorthSecretNew")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        unknown.contains("We have no record of this account"),
        "an unpublished account is unknown to the public"
    );
    let missing = get(&api, "/officers/officer-000000000000").await;
    assert_eq!(missing.status(), 404);
    let empty = get(&api, "/verify?account=").await;
    assert_eq!(empty.status(), 400);
    assert!(empty.text().await.unwrap().contains("Enter the account"));
    let page = get(&api, "/directory").await;
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    let markup = get(&api, "/verify?account=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        .await
        .text()
        .await
        .unwrap();
    assert!(!markup.contains("<script>alert(1)</script>") && markup.contains("&lt;script&gt;"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feeds_parse_as_csv_json_and_atom_and_answer_conditional_requests_with_304() {
    let db = TestDatabase::new().await;
    let service = Service::start(
        &db.url(),
        &[("REGISTRY_COUNCIL_NAME", "North County Council")],
    );
    let api = Api::new(&service);
    published_council(&api).await;

    let csv_text = get(&api, "/directory.csv").await.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        headers,
        [
            "platform",
            "account_key",
            "account_url",
            "level",
            "level_name",
            "service_area",
            "service_name",
            "officer_page",
            "published_at"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1, "only what is published now");
    assert_eq!(&rows[0][1], "x:northyouthpub");
    assert_eq!(&rows[0][6], "Youth Services");
    assert!(rows[0][7].starts_with("/officers/officer-"));

    let json: Value = get(&api, "/directory.json").await.json().await.unwrap();
    assert_eq!(json["organisation"], "North County Council");
    assert_eq!(json["count"], 1);
    let a = &json["accounts"][0];
    for (key, kind) in [
        ("platform", "string"),
        ("accountKey", "string"),
        ("url", "string"),
        ("level", "number"),
        ("levelName", "string"),
        ("serviceArea", "string"),
        ("serviceName", "string"),
        ("officerPage", "string"),
        ("publishedAt", "string"),
    ] {
        let ok = match kind {
            "number" => a[key].is_number(),
            _ => a[key].is_string(),
        };
        assert!(ok, "{key} is a {kind}: {a}");
    }

    let atom = get(&api, "/directory.atom").await;
    assert!(atom.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/atom+xml"));
    let atom = atom.text().await.unwrap();
    let doc = roxmltree::Document::parse(&atom).expect("the feed is well-formed XML");
    let feed = doc.root_element();
    assert_eq!(feed.tag_name().name(), "feed");
    assert_eq!(
        feed.tag_name().namespace(),
        Some("http://www.w3.org/2005/Atom")
    );
    let entries: Vec<_> = feed
        .children()
        .filter(|n| n.has_tag_name(("http://www.w3.org/2005/Atom", "entry")))
        .collect();
    let titles: Vec<String> = entries
        .iter()
        .map(|e| {
            e.children()
                .find(|c| c.has_tag_name(("http://www.w3.org/2005/Atom", "title")))
                .unwrap()
                .text()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        titles.len(),
        3,
        "two publications and one withdrawal: {titles:?}"
    );
    assert!(
        titles[0].starts_with("Withdrawn: facebook:northoldconsult"),
        "newest first: {titles:?}"
    );
    for e in &entries {
        for child in ["id", "updated", "title"] {
            assert!(
                e.children()
                    .any(|c| c.has_tag_name(("http://www.w3.org/2005/Atom", child))),
                "an entry has {child}"
            );
        }
    }

    for path in ["/directory.csv", "/directory.json", "/directory.atom"] {
        let first = get(&api, path).await;
        assert_eq!(first.status(), 200);
        let etag = first.headers()["etag"].to_str().unwrap().to_owned();
        let modified = first.headers()["last-modified"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(first.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age"));
        let again = api
            .client
            .get(format!("{}{path}", api.base))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path} with its ETag");
        assert!(again.bytes().await.unwrap().is_empty());
        let since = api
            .client
            .get(format!("{}{path}", api.base))
            .header("if-modified-since", &modified)
            .send()
            .await
            .unwrap();
        assert_eq!(since.status(), 304, "{path} with its Last-Modified");
    }
    // A change makes a new ETag.
    let before = get(&api, "/directory.json").await.headers()["etag"].clone();
    let id = submit(&api, council::form(1, "X", "@NorthFeedNew")).await;
    act(
        &api,
        COMMS,
        "approveBrandingAsset",
        &id,
        r#", assetId: "summer-logo""#,
    )
    .await;
    act(&api, COMMS, "approveRegistration", &id, "").await;
    let p = act(&api, COMMS, "publishRegistration", &id, "").await;
    api.ok(
        None,
        "query($p: Int) { directory(atLeastPosition: $p) { edges { cursor } } }",
        json!({"p": p["position"]}),
    )
    .await;
    let after = api
        .client
        .get(format!("{}/directory.json", api.base))
        .header("if-none-match", before.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 200);
    assert_ne!(after.headers()["etag"], before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_gets_a_reference_reaches_communications_and_is_rate_limited_and_a_honeypot_records_nothing(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[("REGISTRY_REPORTS_PER_HOUR", "3")]);
    let api = Api::new(&service);
    let post = |fields: Vec<(&'static str, &'static str)>| {
        let api = api.clone();
        async move {
            api.client
                .post(format!("{}/report", api.base))
                .form(&fields)
                .send()
                .await
                .unwrap()
        }
    };
    let bot = post(vec![
        ("account", "@NorthFake"),
        ("details", "x"),
        ("website", "http://spam.example"),
    ])
    .await;
    assert_eq!(bot.status(), 200, "a bot sees nothing unusual");
    let empty = post(vec![("account", " "), ("details", "")]).await;
    assert_eq!(empty.status(), 400);
    assert!(empty.text().await.unwrap().contains("Enter the account"));
    let mut references = Vec::new();
    for _ in 0..3 {
        let page = post(vec![
            ("account", "https://x.com/North_Help"),
            ("details", "Asks for card details"),
        ])
        .await;
        assert_eq!(page.status(), 200);
        let text = page.text().await.unwrap();
        let at = text.find("id=\"reference\">").expect("a reference") + "id=\"reference\">".len();
        references.push(text[at..at + 11].to_owned());
    }
    let limited = post(vec![("account", "@NorthFake"), ("details", "again")]).await;
    assert_eq!(limited.status(), 429);

    let head = api
        .ok(Some(&as_(AUDITOR)), "{ logHead { position } }", json!({}))
        .await["logHead"]["position"]
        .clone();
    assert_eq!(
        head, 3,
        "the honeypot and the refused posts recorded nothing"
    );
    let reports = api
        .ok(
            Some(&as_(COMMS)),
            "query($p: Int) { fakeAccountReports(atLeastPosition: $p) { edges { node { id reference account accountKeys details } } } }",
            json!({"p": head}),
        )
        .await;
    let listed: Vec<&str> = reports["fakeAccountReports"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["reference"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = references.iter().map(String::as_str).collect();
    let mut got = listed.clone();
    expected.sort();
    got.sort();
    assert_eq!(got, expected);
    assert_eq!(
        reports["fakeAccountReports"]["edges"][0]["node"]["accountKeys"],
        json!(["x:north_help"])
    );
    assert_eq!(
        api.code(
            Some(&as_(STRANGER)),
            "{ fakeAccountReports { edges { cursor } } }",
            json!({})
        )
        .await,
        "FORBIDDEN"
    );
    let queue = api
        .ok(
            Some(&as_(COMMS)),
            "{ myApprovals { step registrationId level } }",
            json!({}),
        )
        .await;
    assert_eq!(
        queue["myApprovals"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["step"] == "fake_account_report")
            .count(),
        3
    );
    let id = reports["fakeAccountReports"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let close = "mutation($id: UUID!) { closeFakeAccountReport(id: $id, outcome: \"Reported to X as impersonation\") }";
    assert_eq!(
        api.code(Some(&as_(STAFF_ONLY)), close, json!({"id": id}))
            .await,
        "FORBIDDEN"
    );
    let position =
        api.ok(Some(&as_(COMMS)), close, json!({"id": id})).await["closeFakeAccountReport"].clone();
    let open = api
        .ok(Some(&as_(COMMS)), "query($p: Int) { fakeAccountReports(openOnly: true, atLeastPosition: $p) { edges { cursor } } }", json!({"p": position}))
        .await;
    assert_eq!(
        open["fakeAccountReports"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        api.code(Some(&as_(COMMS)), close, json!({"id": id})).await,
        "CONFLICT",
        "closing twice"
    );
}

const STAFF_ONLY: (&str, &[&str]) = ("u-staff-only", &["staff"]);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verification_page_answers_revalidation_with_304_until_the_registry_changes() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    published_council(&api).await;
    let path = "/verify?account=%40NorthYouthPub";
    let first = get(&api, path).await;
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(first.headers()["cache-control"], "no-cache");
    let revalidate = |tag: String| {
        let api = api.clone();
        async move {
            api.client
                .get(format!("{}{path}", api.base))
                .header("if-none-match", tag)
                .send()
                .await
                .unwrap()
        }
    };
    let again = revalidate(etag.clone()).await;
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    assert!(again.text().await.unwrap().is_empty());

    // Withdrawing the account changes the answer: a fresh page, a new tag.
    let id = api
        .ok(
            Some(&as_(COMMS)),
            "{ registrations(first: 10) { edges { node { id accountKey } } } }",
            json!({}),
        )
        .await["registrations"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["accountKey"] == "x:northyouthpub")
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .expect("the published registration");
    let last = act(
        &api,
        COMMS,
        "withdrawRegistration",
        &id,
        r#", reason: "Service merged""#,
    )
    .await;
    let position = last["position"].as_i64().unwrap();
    api.ok(
        None,
        "query($p: Int) { verifyAccount(input: \"@NorthYouthPub\", atLeastPosition: $p) { status } }",
        json!({"p": position}),
    )
    .await;
    let changed = revalidate(etag.clone()).await;
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);
    let html = changed.text().await.unwrap();
    assert!(html.contains("data-status=\"withdrawn\""), "{html}");
}

/// `verifyAccount`'s confirmation fields for `account`, once the index has
/// reached `position`.
async fn confirmation(api: &Api, account: &str, position: i64) -> Value {
    api.ok(
        None,
        "query($i: String!, $p: Int) { verifyAccount(input: $i, atLeastPosition: $p) { status account { lastConfirmedAt confirmationOverdue } } }",
        json!({"i": account, "p": position}),
    )
    .await["verifyAccount"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_not_reconfirmed_past_its_review_and_grace_is_still_genuine_but_the_public_is_told_it_is_overdue_until_revalidated(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(
        &db.url(),
        &[
            ("REGISTRY_REVIEW_PERIOD_DAYS", "365"),
            ("REGISTRY_CONFIRMATION_GRACE_DAYS", "30"),
        ],
    );
    let api = Api::new(&service);
    let (id, position) = published_council(&api).await;
    let path = "/verify?account=%40NorthYouthPub";

    // Just published: confirmed today, not overdue.
    let fresh = confirmation(&api, "@NorthYouthPub", position).await;
    assert_eq!(fresh["status"], "VERIFIED");
    assert_eq!(fresh["account"]["confirmationOverdue"], false);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(
        fresh["account"]["lastConfirmedAt"]
            .as_str()
            .unwrap()
            .starts_with(&today),
        "{fresh}"
    );
    let html = get(&api, path).await.text().await.unwrap();
    assert!(html.contains("Last confirmed"), "{html}");
    assert!(!html.contains("id=\"overdue\""), "{html}");

    // 396 days on (review 365 + grace 30 + 1): the log's sign-offs carry
    // today's time, so the read model's confirmation is aged instead, as
    // the owner; the next public change reloads the index with it.
    sqlx::query(
        "update read_models.verification_accounts set last_confirmed_at = now() - interval '396 days' \
         where account_key = 'x:northyouthpub'",
    )
    .execute(&db.owner)
    .await
    .unwrap();
    let other = council::submit_and_approve_asset(&api, "@NorthOtherPub").await;
    act(&api, COMMS, "approveRegistration", &other, "").await;
    let p = act(&api, COMMS, "publishRegistration", &other, "").await["position"]
        .as_i64()
        .unwrap();
    let overdue = confirmation(&api, "@NorthYouthPub", p).await;
    assert_eq!(overdue["status"], "VERIFIED", "still the council's account");
    assert_eq!(overdue["account"]["confirmationOverdue"], true);
    let html = get(&api, path).await.text().await.unwrap();
    assert!(html.contains("data-status=\"verified\""), "{html}");
    assert!(html.contains("id=\"overdue\""), "{html}");
    assert!(html.contains("confirmation is now overdue"), "{html}");
    // The overdue re-validation waits in the contact's own queue (the
    // read model is aged too: the log's dates are today's).
    sqlx::query(
        "update read_models.revalidation_due set due_on = current_date - 31 \
         where account_key = 'x:northyouthpub'",
    )
    .execute(&db.owner)
    .await
    .unwrap();
    let items = api
        .ok(
            Some(&as_(CONTACT)),
            "{ myApprovals { registrationId step role } }",
            json!({}),
        )
        .await;
    assert!(
        items["myApprovals"]
            .as_array()
            .unwrap()
            .contains(&json!({"registrationId": id, "step": "revalidation", "role": "STAFF"})),
        "{items}"
    );
    // A newer account is not overdue.
    let newer = confirmation(&api, "@NorthOtherPub", p).await;
    assert_eq!(newer["account"]["confirmationOverdue"], false);

    // The business contact re-validates: confirmed today again.
    let p = act(&api, CONTACT, "revalidateRegistration", &id, "").await["position"]
        .as_i64()
        .unwrap();
    let again = confirmation(&api, "@NorthYouthPub", p).await;
    assert_eq!(again["account"]["confirmationOverdue"], false);
    assert!(again["account"]["lastConfirmedAt"]
        .as_str()
        .unwrap()
        .starts_with(&today));
    let html = get(&api, path).await.text().await.unwrap();
    assert!(!html.contains("id=\"overdue\""), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_officer_page_says_the_profile_links_to_it_only_once_communications_has_checked_and_when(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    let (id, position) = published_council(&api).await;
    let account = api
        .ok(
            None,
            "query($p: Int) { verifyAccount(input: \"@NorthYouthPub\", atLeastPosition: $p) { account { officerSlug linkBackCheckedAt } } }",
            json!({"p": position}),
        )
        .await["verifyAccount"]["account"]
        .clone();
    assert_eq!(account["linkBackCheckedAt"], Value::Null);
    let slug = account["officerSlug"].as_str().unwrap().to_owned();
    let path = format!("/officers/{slug}");
    let before = get(&api, &path).await.text().await.unwrap();
    assert!(!before.contains("links to this page"), "{before}");

    // Communications' queue holds the check until it is done.
    let queue =
        "{ approvalQueue(role: COMMUNICATIONS) { edges { node { registrationId step } } } }";
    let waiting = api.ok(Some(&as_(COMMS)), queue, json!({})).await;
    assert!(waiting.to_string().contains("link_back_check"), "{waiting}");
    // The address checked must be the registration's account.
    let wrong = api
        .post(
            Some(&as_(COMMS)),
            "mutation($id: UUID!) { recordOfficerLinkBack(id: $id, profileUrl: \"https://x.com/SomeoneElse\") { position } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        blackbox_tests::error_code(&wrong).as_deref(),
        Some("BAD_USER_INPUT")
    );
    assert!(wrong.to_string().contains("profileUrl"), "{wrong}");
    let checked = act(
        &api,
        COMMS,
        "recordOfficerLinkBack",
        &id,
        r#", profileUrl: "https://x.com/NorthYouthPub""#,
    )
    .await;
    let p = checked["position"].as_i64().unwrap();
    let account = api
        .ok(
            None,
            "query($p: Int) { verifyAccount(input: \"@NorthYouthPub\", atLeastPosition: $p) { account { linkBackCheckedAt } } }",
            json!({"p": p}),
        )
        .await;
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(
        account["verifyAccount"]["account"]["linkBackCheckedAt"]
            .as_str()
            .unwrap()
            .starts_with(&today),
        "{account}"
    );
    let after = get(&api, &path).await.text().await.unwrap();
    assert!(
        after.contains("its profile links to this page (checked by the council on"),
        "{after}"
    );
    let waiting = api.ok(Some(&as_(COMMS)), queue, json!({})).await;
    assert!(
        !waiting.to_string().contains("link_back_check"),
        "{waiting}"
    );
}
