//! The staff app's team pages (issue 16) over real HTTP: communications'
//! work, the consultation team's listings, the auditor's pages, insight,
//! and data protection's subject access and erasure. Registrations are
//! made through the API as the test council's people; the pages are read
//! by the demonstration people who hold the same roles.

use blackbox_tests::council::{self, as_, people};
use blackbox_tests::staff::{Browser, Page};
use blackbox_tests::{Api, Service};
use event_store::testing::TestDatabase;
use reqwest::StatusCode;
use serde_json::json;

/// The part of `html` from `marker` to the end of its table.
fn table_after<'a>(html: &'a str, marker: &str) -> &'a str {
    let start = html.find(marker).unwrap_or_else(|| panic!("no {marker}"));
    let rest = &html[start..];
    &rest[..rest.find("</table>").unwrap_or(rest.len())]
}

fn csrf_of(page: &Page) -> String {
    page.csrf()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn communications_sees_its_queues_by_kind_and_the_consultation_team_lists_a_consultation_from_its_page(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let broadcast = council::submit(&api, council::form(1, "X", "@NorthWorkOne")).await;
    let consult = council::submit(&api, council::form(2, "X", "@NorthWorkTwo")).await;
    let participate = council::submit(&api, council::form(3, "X", "@NorthWorkThree")).await;
    council::sign_and_publish_level3(&api, &participate).await;
    let position = api.position().await;

    let mut chris = Browser::new(&service.base_url);
    chris.dev_sign_in("demo-chris").await;
    let work = chris
        .get(&format!("/staff/communications?after={position}"))
        .await;
    assert_eq!(work.status, StatusCode::OK, "{}", work.html);
    let to_approve = table_after(&work.html, "To approve");
    assert!(to_approve.contains(&format!("/staff/registrations/{broadcast}")));
    assert!(!to_approve.contains(&participate));
    let link_backs = table_after(&work.html, "check the officer's profile");
    assert!(
        link_backs.contains(&format!("/staff/registrations/{participate}")),
        "{link_backs}"
    );
    assert!(work.html.contains("Re-validations overdue (0)"));

    // Communications records the link-back from the registration's page;
    // the check leaves the queue.
    let page = chris
        .get(&format!("/staff/registrations/{participate}"))
        .await;
    assert!(page.html.contains("Record that the profile links back"));
    let done = chris
        .post(
            &format!("/staff/registrations/{participate}/act"),
            &[
                ("csrf", csrf_of(&page).as_str()),
                ("action", "record_link_back"),
                ("profile_url", "https://x.com/NorthWorkThree"),
                ("return_to", "/staff/communications"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.html);
    assert!(done.path.starts_with("/staff/communications?after="));
    assert!(!table_after(&done.html, "check the officer's profile").contains(&participate));
    let page = chris
        .get(&format!("/staff/registrations/{participate}"))
        .await;
    assert!(page.html.contains("Officer's profile links back"));
    assert!(!page.html.contains("Record that the profile links back"));

    // The consultation team's page lists the level-2 consultation with its
    // form; a blank reference is refused and changes nothing.
    let mut priya = Browser::new(&service.base_url);
    priya.dev_sign_in("demo-priya").await;
    let listings = priya.get("/staff/consultation").await;
    assert_eq!(listings.status, StatusCode::OK, "{}", listings.html);
    assert!(listings.html.contains("Library opening hours"));
    assert!(listings.html.contains(&format!("consultation-{consult}")));
    let csrf = listings.csrf();
    let before = api.position().await;
    let refused = priya
        .post(
            &format!("/staff/registrations/{consult}/act"),
            &[
                ("csrf", csrf.as_str()),
                ("action", "consultation_listing"),
                ("finder_reference", ""),
                ("return_to", "/staff/consultation"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert!(refused.html.contains("That was not done"));
    assert_eq!(api.position().await, before);
    let listed = priya
        .post(
            &format!("/staff/registrations/{consult}/act"),
            &[
                ("csrf", csrf.as_str()),
                ("action", "consultation_listing"),
                ("finder_reference", "CF-2026-041"),
                ("return_to", "/staff/consultation"),
            ],
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(
        listed.html.contains("No consultation waits for a listing."),
        "{}",
        listed.html
    );

    // A member of staff without the roles is refused both pages.
    let mut alex = Browser::new(&service.base_url);
    alex.dev_sign_in("demo-alex").await;
    for path in ["/staff/communications", "/staff/consultation"] {
        let page = alex.get(path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(!page.html.contains("NorthWork"), "{path}");
    }
    service.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_verifies_the_chain_signs_a_head_reads_a_history_and_the_registry_on_a_date_and_downloads_the_log(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let id = council::submit(&api, council::form(3, "X", "@NorthAudited")).await;
    council::sign_and_publish_level3(&api, &id).await;

    let mut ada = Browser::new(&service.base_url);
    ada.dev_sign_in("demo-ada").await;
    // After Ada's sign-in, which lists her in the people directory.
    let head = api.position().await;
    let overview = ada.get("/staff/audit").await;
    assert_eq!(overview.status, StatusCode::OK, "{}", overview.html);
    assert!(overview.html.contains("No head has been signed yet."));
    let verified = ada.get("/staff/audit?verify=1").await;
    assert!(
        verified.html.contains("The chain is intact"),
        "{}",
        verified.html
    );
    assert!(verified
        .html
        .contains(&format!("Positions 1 to {head}: {head} events verified")));
    let range = ada.get("/staff/audit?verify=1&from=2&to=3").await;
    assert!(range.html.contains("Positions 2 to 3: 2 events verified"));
    let bad = ada.get("/staff/audit?verify=1&from=two&to=1").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad
        .html
        .contains("The first position must be a whole number, 1 or more"));
    assert!(!bad.html.contains("The chain is intact"));

    // Signing a head lists it, at the head's position.
    let signed = ada
        .post(
            "/staff/audit/sign-head",
            &[("csrf", overview.csrf().as_str())],
        )
        .await;
    assert_eq!(signed.status, StatusCode::OK);
    assert!(!signed.html.contains("No head has been signed yet."));
    assert!(table_after(&signed.html, "Newest first").contains(&format!(">{head}</td>")));

    // A registration's history names who did each step, in which role.
    let history = ada.get(&format!("/staff/audit/registrations/{id}")).await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.html);
    for step in [
        "Registration submitted",
        "Risk assessment recorded",
        "Risk assessment signed",
        "Registration approved",
        "Registration published",
    ] {
        assert!(history.html.contains(step), "{step}");
    }
    assert!(history.html.contains("u-manager") && history.html.contains("line_manager"));

    // The registry on a date: today has it, long ago had nothing, and a
    // date that is not one is refused in words.
    let today = chrono::Utc::now().date_naive().to_string();
    let now = ada
        .get(&format!("/staff/audit/registry?date={today}"))
        .await;
    assert_eq!(now.status, StatusCode::OK, "{}", now.html);
    assert!(now
        .html
        .contains(&format!("/staff/audit/registrations/{id}")));
    let then = ada.get("/staff/audit/registry?date=2020-01-01").await;
    assert!(
        then.html.contains("At the end of 2020-01-01: 0"),
        "{}",
        then.html
    );
    let bad = ada.get("/staff/audit/registry?date=31%2F12%2F2025").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.html.contains("Enter the date as year-month-day"));

    // The export is the whole log, one line per event, as a download.
    let export = ada.get("/staff/audit/events.ndjson").await;
    assert_eq!(export.status, StatusCode::OK);
    let lines: Vec<&str> = export.html.lines().collect();
    assert!(lines.len() as i64 >= head, "{} lines", lines.len());
    assert!(lines[0].starts_with('{'));

    // Staff are refused every one of these.
    let mut alex = Browser::new(&service.base_url);
    alex.dev_sign_in("demo-alex").await;
    for path in [
        "/staff/audit".to_owned(),
        format!("/staff/audit/registrations/{id}"),
        "/staff/audit/registry".to_owned(),
        "/staff/audit/events.ndjson".to_owned(),
    ] {
        let page = alex.get(&path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(!page.html.contains("NorthAudited"), "{path}");
    }
    service.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insight_counts_accounts_by_level_status_platform_and_service_and_times_publication_for_communications_and_auditors_only(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let published = council::submit(&api, council::form(3, "X", "@NorthInsight")).await;
    council::sign_and_publish_level3(&api, &published).await;
    council::submit(&api, council::form(1, "INSTAGRAM", "@northinsightone")).await;
    council::submit(&api, council::form(1, "X", "@NorthInsightTwo")).await;
    let position = api.position().await;

    let query = "query($p: Int) { insight(atLeastPosition: $p) { byStatus { status count } byLevel { level count } byPlatform { platform count } byServiceArea { serviceArea count } publicationTimes { level published medianHours p90Hours } overdueRevalidations openFakeReports } }";
    let data = api
        .ok(Some(&as_(people::AUDITOR)), query, json!({"p": position}))
        .await;
    let i = &data["insight"];
    assert_eq!(
        i["byStatus"],
        json!([{"status": "SUBMITTED", "count": 2}, {"status": "PUBLISHED", "count": 1}])
    );
    assert_eq!(i["byLevel"], json!([{"level": "PARTICIPATE", "count": 1}]));
    assert_eq!(i["byPlatform"], json!([{"platform": "X", "count": 1}]));
    assert_eq!(
        i["byServiceArea"],
        json!([{"serviceArea": "youth", "count": 1}])
    );
    let times = i["publicationTimes"].as_array().unwrap();
    assert_eq!(times.len(), 1);
    assert_eq!(times[0]["level"], "PARTICIPATE");
    assert_eq!(times[0]["published"], 1);
    assert!(times[0]["p90Hours"].as_f64().unwrap() >= times[0]["medianHours"].as_f64().unwrap());
    assert_eq!(i["overdueRevalidations"], 0);
    assert_eq!(i["openFakeReports"], 0);
    assert_eq!(
        api.code(Some(&as_(people::APPLICANT)), query, json!({}))
            .await,
        "FORBIDDEN"
    );

    let mut chris = Browser::new(&service.base_url);
    chris.dev_sign_in("demo-chris").await;
    let page = chris.get("/staff/insight").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    // Each chart is an SVG hidden from screen readers, with its table.
    assert_eq!(page.html.matches("<svg").count(), 5, "{}", page.html);
    assert_eq!(
        page.html
            .matches(r#"aria-hidden="true" focusable="false""#)
            .count(),
        5
    );
    let by_level = table_after(&page.html, r#"id="by-level""#);
    assert!(by_level.contains(r#"Level 3: Participate</th><td class="govuk-table__cell govuk-table__cell--numeric">1</td>"#), "{by_level}");
    let by_status = table_after(&page.html, r#"id="by-status""#);
    assert!(by_status.contains(
        r#"Submitted</th><td class="govuk-table__cell govuk-table__cell--numeric">2</td>"#
    ));
    let by_service = table_after(&page.html, r#"id="by-service""#);
    assert!(by_service.contains("Youth Services"), "{by_service}");

    let mut alex = Browser::new(&service.base_url);
    alex.dev_sign_in("demo-alex").await;
    assert_eq!(
        alex.get("/staff/insight").await.status,
        StatusCode::FORBIDDEN
    );
    service.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_protection_finds_what_is_held_about_a_person_and_erases_it_only_after_confirming_with_a_reason(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let id = council::submit(&api, council::form(3, "X", "@NorthHeld")).await;
    // Subject access reads the read models: wait until they hold the form.
    let position = api.position().await;
    api.ok(
        Some(&as_(people::COMMS)),
        "query($p: Int) { registrations(first: 1, atLeastPosition: $p) { nodes { id } } }",
        json!({"p": position}),
    )
    .await;

    let mut dana = Browser::new(&service.base_url);
    dana.dev_sign_in("demo-dana").await;
    let start = dana.get("/staff/privacy").await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.html);
    let csrf = start.csrf();
    let blank = dana
        .post(
            "/staff/privacy",
            &[
                ("csrf", csrf.as_str()),
                ("subject", ""),
                ("councillor_name", ""),
            ],
        )
        .await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST);
    assert!(blank
        .html
        .contains("Enter the member of staff's id, or a councillor's name"));

    let held = dana
        .post(
            "/staff/privacy",
            &[
                ("csrf", csrf.as_str()),
                ("subject", "u-officer"),
                ("councillor_name", ""),
            ],
        )
        .await;
    assert_eq!(held.status, StatusCode::OK, "{}", held.html);
    assert!(held.html.contains("Olivia Officer"), "{}", held.html);
    assert!(
        !held.html.contains(r#"id="directory-listing""#),
        "never signed in, so not listed"
    );
    // Dana herself is listed from her sign-in: her own request shows it.
    let own = dana
        .post(
            "/staff/privacy",
            &[
                ("csrf", csrf.as_str()),
                ("subject", "demo-dana"),
                ("councillor_name", ""),
            ],
        )
        .await;
    let listing = &own.html[own.html.find(r#"id="directory-listing""#).expect("listed")..];
    assert!(listing.contains("Dana Protection") && listing.contains("Data Protection Officer"));
    assert!(held.html.contains(&format!("/staff/registrations/{id}")));

    // Erasure asks first; without a reason and the confirmation it changes
    // nothing and says what is missing.
    let confirm = dana
        .post(
            "/staff/privacy/erase",
            &[
                ("csrf", csrf.as_str()),
                ("step", "confirm"),
                ("subject", "u-officer"),
                ("councillor_name", ""),
            ],
        )
        .await;
    assert!(confirm.html.contains("Erase for good"), "{}", confirm.html);
    let before = api.position().await;
    let refused = dana
        .post(
            "/staff/privacy/erase",
            &[
                ("csrf", csrf.as_str()),
                ("step", "erase"),
                ("subject", "u-officer"),
                ("councillor_name", ""),
                ("reason", " "),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.html.contains("Say why the data is erased"));
    assert!(refused
        .html
        .contains("Confirm that you understand the data will be erased for good"));
    assert_eq!(api.position().await, before);

    let erased = dana
        .post(
            "/staff/privacy/erase",
            &[
                ("csrf", csrf.as_str()),
                ("step", "erase"),
                ("subject", "u-officer"),
                ("councillor_name", ""),
                ("reason", "Subject's request DP-2026-114"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.html);
    assert!(erased.html.contains("Personal data erased"));
    assert!(api.position().await > before);
    let after = dana
        .post(
            "/staff/privacy",
            &[
                ("csrf", csrf.as_str()),
                ("subject", "u-officer"),
                ("councillor_name", ""),
            ],
        )
        .await;
    assert!(after.html.contains("has been erased"), "{}", after.html);
    assert!(!after.html.contains("Olivia Officer"));
    assert!(!after.html.contains("Erase this person"));

    // Nobody else may look.
    let mut ada = Browser::new(&service.base_url);
    ada.dev_sign_in("demo-ada").await;
    assert_eq!(
        ada.get("/staff/privacy").await.status,
        StatusCode::FORBIDDEN
    );
    service.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_keeps_the_reference_data_from_its_pages_and_a_refused_change_says_which_answer_and_changes_nothing(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let mut ari = Browser::new(&service.base_url);
    ari.dev_sign_in("demo-ari").await;
    let index = ari.get("/staff/admin").await;
    assert_eq!(index.status, StatusCode::OK, "{}", index.html);
    assert!(
        index.html.contains("Organisational units</a> (2)"),
        "{}",
        index.html
    );
    let csrf = index.csrf();

    // A unit without a name is refused beside its field; nothing changes.
    let before = api.position().await;
    let refused = ari
        .post(
            "/staff/admin/units",
            &[
                ("csrf", csrf.as_str()),
                ("action", "add"),
                ("code", "parks"),
                ("name", ""),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert!(
        refused.html.contains(r##"<a href="#name">The name "##),
        "{}",
        refused.html
    );
    assert!(refused.html.contains(r#"id="name-error""#));
    assert!(
        refused.html.contains(r#"value="parks""#),
        "the answer is kept"
    );
    assert_eq!(api.position().await, before);
    let added = ari
        .post(
            "/staff/admin/units",
            &[
                ("csrf", csrf.as_str()),
                ("action", "add"),
                ("code", "parks"),
                ("name", "Parks and Countryside"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::OK);
    assert!(added.html.contains("Parks and Countryside"));
    let retired = ari
        .post(
            "/staff/admin/units",
            &[
                ("csrf", csrf.as_str()),
                ("action", "retire"),
                ("code", "parks"),
            ],
        )
        .await;
    let row = &retired.html[retired.html.find("Parks and Countryside").unwrap()..];
    assert!(row[..200].contains("Retired"), "{row}");

    // Job roles and topics.
    let roles = ari
        .post(
            "/staff/admin/job-roles",
            &[
                ("csrf", csrf.as_str()),
                ("action", "add"),
                ("code", "librarian"),
                ("title", "Librarian"),
            ],
        )
        .await;
    assert!(roles.html.contains("Librarian"));
    let topics = ari
        .post(
            "/staff/admin/topics",
            &[
                ("csrf", csrf.as_str()),
                ("action", "add"),
                ("code", "housing"),
                ("name", "Housing"),
            ],
        )
        .await;
    assert!(topics.html.contains("Housing"));

    // Speaking authority: granted, then revoked.
    let granted = ari
        .post(
            "/staff/admin/speaking-authority",
            &[
                ("csrf", csrf.as_str()),
                ("action", "grant"),
                ("subject", "u-housing-lead"),
                ("topic", "housing"),
            ],
        )
        .await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.html);
    assert!(granted.html.contains("u-housing-lead"));
    let revoked = ari
        .post(
            "/staff/admin/speaking-authority",
            &[
                ("csrf", csrf.as_str()),
                ("action", "revoke"),
                ("subject", "u-housing-lead"),
                ("topic", "housing"),
            ],
        )
        .await;
    assert!(!revoked.html.contains("u-housing-lead"));

    // A platform closes only with a reason, and opens again.
    let before = api.position().await;
    let refused = ari
        .post(
            "/staff/admin/platforms",
            &[
                ("csrf", csrf.as_str()),
                ("action", "disable"),
                ("platform", "TIKTOK"),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert!(
        refused
            .html
            .contains(r##"<a href="#reason-TIKTOK">The reason "##),
        "{}",
        refused.html
    );
    assert_eq!(api.position().await, before);
    let closed = ari
        .post(
            "/staff/admin/platforms",
            &[
                ("csrf", csrf.as_str()),
                ("action", "disable"),
                ("platform", "TIKTOK"),
                ("reason", "Under review by the security team"),
            ],
        )
        .await;
    assert!(closed.html.contains("Under review by the security team"));
    let platforms = api
        .ok(None, "{ platforms { platform enabled } }", json!({}))
        .await;
    let tiktok = platforms["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["platform"] == "TIKTOK")
        .unwrap()
        .clone();
    assert_eq!(tiktok["enabled"], false);
    let opened = ari
        .post(
            "/staff/admin/platforms",
            &[
                ("csrf", csrf.as_str()),
                ("action", "enable"),
                ("platform", "TIKTOK"),
            ],
        )
        .await;
    assert!(!opened.html.contains("Under review by the security team"));

    // A policy version with a date that is not one is refused before the
    // API; a good one becomes the current version.
    let bad = ari
        .post(
            "/staff/admin/policy",
            &[
                ("csrf", csrf.as_str()),
                ("action", "publish"),
                ("version", "2027.1"),
                ("published_on", "15/01/2027"),
                ("summary", "Adds Bluesky"),
                ("url", "https://intranet.north.gov.uk/social-media-policy"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.html.contains("Enter the date as year-month-day"));
    let published = ari
        .post(
            "/staff/admin/policy",
            &[
                ("csrf", csrf.as_str()),
                ("action", "publish"),
                ("version", "2027.1"),
                ("published_on", "2027-01-15"),
                ("summary", "Adds Bluesky"),
                ("url", "https://intranet.north.gov.uk/social-media-policy"),
            ],
        )
        .await;
    assert_eq!(published.status, StatusCode::OK, "{}", published.html);
    let current = &published.html[published.html.find("2027.1</a>").expect("listed")..];
    assert!(current[..120].contains("Current"), "{current}");

    // The people directory: a file with a bad row lists nobody and says
    // where; a good one lists everyone in it.
    let people = ari.get("/staff/admin/people").await;
    assert_eq!(people.status, StatusCode::OK, "{}", people.html);
    let before = api.position().await;
    let bad = ari
        .post(
            "/staff/admin/people",
            &[
                ("csrf", csrf.as_str()),
                ("action", "import"),
                ("file_name", "hr.csv"),
                ("csv", "subject,name,email\nu-kim,Kim Keeper,kim@north.gov.uk\nu-lee,Lee Ranger,lee-at-north\n"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.html);
    assert!(bad
        .html
        .contains("Line 3, column email: must be an email address such as name@council.gov.uk"));
    assert!(
        bad.html.contains("u-kim,Kim Keeper"),
        "the file is kept to fix"
    );
    assert_eq!(api.position().await, before);
    let good = ari
        .post(
            "/staff/admin/people",
            &[
                ("csrf", csrf.as_str()),
                ("action", "import"),
                ("file_name", "hr.csv"),
                ("csv", "subject,name,email\nu-kim,Kim Keeper,kim@north.gov.uk\nu-lee,Lee Ranger,lee@north.gov.uk\n"),
            ],
        )
        .await;
    assert_eq!(good.status, StatusCode::OK, "{}", good.html);
    assert!(good
        .html
        .contains("2 listed, 0 already listed as the file says"));

    // Only admins.
    let mut chris = Browser::new(&service.base_url);
    chris.dev_sign_in("demo-chris").await;
    assert_eq!(
        chris.get("/staff/admin").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        chris.get("/staff/admin/units").await.status,
        StatusCode::FORBIDDEN
    );
    service.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_home_pages_socket_signs_in_with_the_session_cookie_from_the_site_itself_and_never_from_another_origin(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let mut chris = Browser::new(&service.base_url);
    let home = chris.dev_sign_in("demo-chris").await;
    assert!(home.html.contains(r#"data-live="yes""#), "{}", home.html);
    let cookie = chris.cookie().expect("a session").to_owned();
    let from = api.position().await;
    let query = "subscription($p: Int) { approvalActivity(role: COMMUNICATIONS, fromPosition: $p) { position accountKey } }";

    // From the site itself: the socket is Chris's, and hears of a submission.
    let own = service.base_url.clone();
    let mut ws = blackbox_tests::Ws::connect_with(
        &service.base_url,
        None,
        false,
        &[("cookie", cookie.as_str()), ("origin", own.as_str())],
    )
    .await
    .expect("acknowledged");
    ws.subscribe("1", query, json!({"p": from})).await;
    council::submit(&api, council::form(1, "X", "@NorthLiveHome")).await;
    let heard = ws
        .next(std::time::Duration::from_secs(10))
        .await
        .expect("a message");
    assert_eq!(
        heard["data"]["approvalActivity"]["accountKey"], "x:northlivehome",
        "{heard}"
    );

    // The home page's own subscription: anything that may change Chris's
    // queue, a resident's fake-account report included.
    let after = api.position().await;
    let mut queue = blackbox_tests::Ws::connect_with(
        &service.base_url,
        None,
        false,
        &[("cookie", cookie.as_str()), ("origin", own.as_str())],
    )
    .await
    .expect("acknowledged");
    queue
        .subscribe(
            "1",
            "subscription($p: Int) { myQueueChanged(fromPosition: $p) }",
            json!({"p": after}),
        )
        .await;
    api.client
        .post(format!("{}/report", api.base))
        .form(&[("account", "@NorthFakeLive"), ("details", "")])
        .send()
        .await
        .unwrap();
    let changed = queue
        .next(std::time::Duration::from_secs(10))
        .await
        .expect("a message");
    assert!(
        changed["data"]["myQueueChanged"].as_i64().unwrap_or(0) > after,
        "{changed}"
    );

    // From another site, the same cookie signs nobody in.
    let mut foreign = blackbox_tests::Ws::connect_with(
        &service.base_url,
        None,
        false,
        &[
            ("cookie", cookie.as_str()),
            ("origin", "https://evil.example"),
        ],
    )
    .await
    .expect("acknowledged, as nobody");
    foreign.subscribe("1", query, json!({"p": from})).await;
    let refused = foreign
        .next(std::time::Duration::from_secs(10))
        .await
        .expect("an error");
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{refused}"
    );

    // Signing out closes the page's open socket (4401), and a new one
    // signs nobody in.
    chris
        .post("/staff/sign-out", &[("csrf", home.csrf().as_str())])
        .await;
    assert_eq!(
        queue.close_code(std::time::Duration::from_secs(20)).await,
        Some(4401),
        "the open socket closes once its session ends"
    );
    let mut after = blackbox_tests::Ws::connect_with(
        &service.base_url,
        None,
        false,
        &[("cookie", cookie.as_str()), ("origin", own.as_str())],
    )
    .await
    .expect("acknowledged, as nobody");
    after.subscribe("1", query, json!({"p": from})).await;
    let refused = after
        .next(std::time::Duration::from_secs(10))
        .await
        .expect("an error");
    assert_eq!(
        refused["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    service.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_usage_form_names_the_business_contact_by_finding_them_by_name_and_stores_their_id_without_javascript(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    // Chris is in the directory from signing in once.
    Browser::new(&service.base_url)
        .dev_sign_in("demo-chris")
        .await;
    let mut alex = Browser::new(&service.base_url);
    alex.dev_sign_in("demo-alex").await;
    let form = alex.get("/staff/new/1").await;
    assert!(
        form.html.contains("Business contact: search by name"),
        "{}",
        form.html
    );
    let csrf = form.csrf();
    let answers = |step: &'static str, extra: Vec<(&'static str, &'static str)>| {
        let mut a = vec![
            ("step", step),
            ("platform", "X"),
            ("account", "https://x.com/NorthPicked"),
            ("service_area", "libraries"),
            ("information_types", "Events"),
            ("policy_acknowledged", "yes"),
            ("corporate_identity_acknowledged", "yes"),
        ];
        a.extend(extra);
        a
    };
    let post = |alex: &mut Browser, fields: Vec<(&'static str, &'static str)>| {
        let mut fields: Vec<(&str, &str)> = fields;
        fields.push(("csrf", csrf.as_str()));
        let fields: Vec<(String, String)> = fields
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let mut alex = alex.clone();
        async move {
            let refs: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            alex.post("/staff/new/1", &refs).await
        }
    };

    // One letter is not a search.
    let short = post(
        &mut alex,
        answers("find-contact", vec![("contact_search", "c")]),
    )
    .await;
    assert!(short.html.contains("Type at least 2 letters of their name"));
    // "Find" lists who matches; the other answers are kept.
    let found = post(
        &mut alex,
        answers("find-contact", vec![("contact_search", "chr")]),
    )
    .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.html);
    assert!(
        found
            .html
            .contains(r#"name="contact_pick" type="radio" value="demo-chris""#),
        "{}",
        found.html
    );
    assert!(found.html.contains("Communications Officer"));
    assert!(found.html.contains(r#"value="https://x.com/NorthPicked""#));
    // Choosing stores the id and shows the name.
    let chosen = post(
        &mut alex,
        answers(
            "choose-contact",
            vec![("contact_search", "chr"), ("contact_pick", "demo-chris")],
        ),
    )
    .await;
    assert!(
        chosen.html.contains("<strong>Chris Comms</strong>"),
        "{}",
        chosen.html
    );
    assert!(chosen
        .html
        .contains(r#"name="contact_subject" value="demo-chris""#));
    assert!(chosen.html.contains("Choose someone else"));

    // Without a business contact the form says so at the picker.
    let missing = post(&mut alex, answers("check", vec![])).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(missing.html.contains(
        r##"<a href="#contact-subject">Business contact: find them by name and choose them</a>"##
    ));

    // Submitted, the registration names Chris by id.
    let picked = vec![
        ("contact_subject", "demo-chris"),
        ("contact_name", "Chris Comms"),
        ("contact_email", "demo-chris@council.example"),
    ];
    let done = post(&mut alex, answers("submit", picked)).await;
    assert!(
        done.path.starts_with("/staff/registrations/"),
        "{}",
        done.html
    );
    let id = done
        .path
        .trim_start_matches("/staff/registrations/")
        .to_owned();
    let r = api
        .ok(
            Some(&as_(people::COMMS)),
            "query($id: UUID!) { registration(id: $id) { businessContact { subject name } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        r["registration"]["businessContact"],
        json!({"subject": "demo-chris", "name": "Chris Comms"})
    );

    // The live search answers with the same list, and only to the form's session.
    let live = alex
        .post(
            "/staff/people",
            &[
                ("csrf", csrf.as_str()),
                ("for", "contact"),
                ("search", "chris"),
            ],
        )
        .await;
    assert_eq!(live.status, StatusCode::OK);
    assert!(live.html.contains(r#"value="demo-chris""#) && !live.html.contains("<html"));
    let forged = alex
        .post(
            "/staff/people",
            &[("csrf", "forged"), ("for", "contact"), ("search", "chris")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    service.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_registration_gets_a_change_proposed_from_its_page_with_its_form_filled_in_and_a_reason(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let id = council::submit(&api, council::form(1, "X", "@NorthToChange")).await;
    for (who, mutation, extra) in [
        (
            people::COMMS,
            "approveBrandingAsset",
            r#", assetId: "summer-logo""#,
        ),
        (people::COMMS, "approveRegistration", ""),
        (people::COMMS, "publishRegistration", ""),
    ] {
        council::act(&api, who, mutation, &id, extra).await;
    }
    let position = api.position().await;
    let mut chris = Browser::new(&service.base_url);
    chris.dev_sign_in("demo-chris").await;
    api.ok(
        Some(&as_(people::COMMS)),
        "query($p: Int) { registrations(first: 1, atLeastPosition: $p) { nodes { id } } }",
        json!({"p": position}),
    )
    .await;
    let page = chris.get(&format!("/staff/registrations/{id}")).await;
    assert!(
        page.html
            .contains(&format!(r#"href="/staff/registrations/{id}/change""#)),
        "{}",
        page.html
    );
    // The form as it stands: its answers and its people already there.
    let form = chris
        .get(&format!("/staff/registrations/{id}/change"))
        .await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.html);
    assert!(
        form.html.contains(r#"value="@NorthToChange""#),
        "{}",
        form.html
    );
    assert!(form.html.contains("<strong>Casey Contact</strong>"));
    assert!(form.html.contains("Opening hours, Events"));
    assert!(form.html.contains("Propose the change"));
    let csrf = form.csrf();
    let answers = |reason: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("step", "check".to_owned()),
            ("platform", "X".to_owned()),
            ("account", "@NorthToChange".to_owned()),
            ("service_area", "libraries".to_owned()),
            ("contact_subject", "u-contact".to_owned()),
            ("contact_name", "Casey Contact".to_owned()),
            ("contact_email", "u-contact@north.gov.uk".to_owned()),
            ("contact_chosen", "yes".to_owned()),
            (
                "information_types",
                "Opening hours, Events, Closures".to_owned(),
            ),
            ("logo_description", "Summer reading logo".to_owned()),
            ("logo_reference", "DAM-17".to_owned()),
            ("policy_acknowledged", "yes".to_owned()),
            ("corporate_identity_acknowledged", "yes".to_owned()),
            ("reason", reason.to_owned()),
        ]
    };
    let before = api.position().await;
    let post = |fields: Vec<(&'static str, String)>| {
        let mut chris = chris.clone();
        let path = format!("/staff/registrations/{id}/change");
        async move {
            let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            chris.post(&path, &refs).await
        }
    };
    let refused = post(answers(" ")).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.html.contains("Say why it changes"));
    assert_eq!(api.position().await, before);
    let proposed = post(answers("Closures are announced here too")).await;
    assert_eq!(proposed.status, StatusCode::OK, "{}", proposed.html);
    assert_eq!(proposed.path, format!("/staff/registrations/{id}"));
    assert!(
        proposed.html.contains("A change is proposed"),
        "{}",
        proposed.html
    );
    assert!(proposed.html.contains("Closures are announced here too"));
    assert!(
        !proposed.html.contains("Propose a change</a>"),
        "one pending change at a time"
    );
    let r = api
        .ok(
            Some(&as_(people::COMMS)),
            "query($id: UUID!) { registration(id: $id) { status pendingChange { reason } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(r["registration"]["status"], "PUBLISHED");
    assert_eq!(
        r["registration"]["pendingChange"]["reason"],
        "Closures are announced here too"
    );
    service.terminate();
}
