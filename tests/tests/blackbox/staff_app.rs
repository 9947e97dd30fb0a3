//! The staff web app (issue 16) over real HTTP, as a browser without
//! JavaScript uses it: signing in (development's list of people), the
//! usage form with its errors and "check your answers", a registration's
//! page and its actions, CSRF, sign-out and the idle timeout.

use std::time::Duration;

use blackbox_tests::council;
use blackbox_tests::staff::Browser;
use blackbox_tests::{Api, Service};
use event_store::testing::TestDatabase;
use reqwest::StatusCode;

async fn head(api: &Api) -> i64 {
    api.position().await
}

fn level1_answers<'a>(csrf: &'a str, step: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("step", step),
        ("platform", "X"),
        ("account", "https://x.com/NorthStaffApp"),
        ("service_area", "libraries"),
        ("contact_subject", "demo-alex"),
        ("contact_name", "Alex Applicant"),
        ("contact_email", "alex@north.example"),
        ("information_types", "Opening hours, Events"),
        ("logo_description", "Summer reading logo"),
        ("logo_reference", "DAM-17"),
        ("policy_acknowledged", "yes"),
        ("corporate_identity_acknowledged", "yes"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_of_staff_registers_a_level_1_account_through_the_pages_and_communications_approves_and_publishes_it(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(
        &db.url(),
        &[("REGISTRY_COUNCIL_NAME", "North County Council")],
    );
    let api = Api::new(&service);
    council::reference_data(&api).await;

    // Not signed in: every page sends people to sign in, and back after.
    let mut alex = Browser::new(&service.base_url);
    let page = alex.get("/staff/new/1").await;
    assert!(page.path.starts_with("/staff/sign-in"), "{}", page.path);
    assert!(page.html.contains(" as Alex Applicant"), "{}", page.html);

    let home = alex.dev_sign_in("demo-alex").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.html.contains("What waits for you"), "{}", home.html);
    assert!(home.html.contains("North County Council"));

    // The level's guidance, then its questions.
    let levels = alex.get("/staff/new").await;
    assert!(levels.html.contains("To re-use existing content via RSS"));
    let form = alex.get("/staff/new/1").await;
    assert!(form.html.contains("Level 1: Broadcast"));
    assert!(
        form.html.contains("Libraries and Archives"),
        "services are a list to choose from"
    );
    let csrf = form.csrf();

    // Missing answers: an error summary and each error by its field, in
    // words; nothing is recorded.
    let before = head(&api).await;
    let refused = alex
        .post(
            "/staff/new/1",
            &[
                ("csrf", csrf.as_str()),
                ("step", "check"),
                ("platform", "X"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.html.contains("There is a problem"));
    assert!(
        refused.html.contains(r##"href="#account""##),
        "the summary links to the field"
    );
    assert!(refused
        .html
        .contains("Confirm you have read and will follow the social media policy"));
    assert!(
        !refused.html.contains("form.details"),
        "no API paths shown to people"
    );
    assert_eq!(head(&api).await, before);

    // An answer the API refuses comes back beside its field, in words.
    let mut bad = level1_answers(&csrf, "submit");
    bad[3] = ("account", "not an account at all!");
    let refused = alex.post("/staff/new/1", &bad).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert!(
        refused.html.contains("The account&#39;s address")
            || refused.html.contains("The account's address"),
        "{}",
        refused.html
    );
    assert_eq!(head(&api).await, before);

    // Check your answers, then submit.
    let check = alex
        .post("/staff/new/1", &level1_answers(&csrf, "check"))
        .await;
    assert_eq!(check.status, StatusCode::OK);
    assert!(check.html.contains("Check your answers before submitting"));
    assert!(check.html.contains("X (Twitter)") && check.html.contains("Libraries and Archives"));
    // The business contact is one row, by name, not an id.
    assert!(check.html.contains(r#"<dt class="govuk-summary-list__key">Business contact</dt><dd class="govuk-summary-list__value">Alex Applicant<br><span class="govuk-hint">alex@north.example</span>"#), "{}", check.html);
    assert!(!check.html.contains(">demo-alex<"));
    let submitted = alex
        .post("/staff/new/1", &level1_answers(&csrf, "submit"))
        .await;
    assert_eq!(submitted.status, StatusCode::OK, "{}", submitted.html);
    assert!(
        submitted.path.starts_with("/staff/registrations/"),
        "{}",
        submitted.path
    );
    let page_path = submitted.path.clone();
    assert!(submitted.html.contains("Submitted"));
    assert!(submitted.html.contains("It waits for"));
    // And from whom.
    assert!(
        submitted
            .html
            .contains("Approve a logo or branding asset: <strong>the communications team</strong>"),
        "{}",
        submitted.html
    );

    // The applicant may not approve: the API's reason is shown, nothing recorded.
    let before = head(&api).await;
    let version = "1";
    let act = format!("{page_path}/act");
    let refused = alex
        .post(
            &act,
            &[
                ("csrf", csrf.as_str()),
                ("action", "approve"),
                ("version", version),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.html.contains("That was not done"));
    assert_eq!(head(&api).await, before);

    // A form without this session's token is refused, and changes nothing.
    let mut chris = Browser::new(&service.base_url);
    chris.dev_sign_in("demo-chris").await;
    // (Chris's first sign-in lists them in the people directory.)
    let before = head(&api).await;
    let comms_page = chris.get(&page_path).await;
    assert!(
        comms_page.html.contains("Approve the logo"),
        "{}",
        comms_page.html
    );
    let forged = chris
        .post(
            &act,
            &[
                ("csrf", "forged"),
                ("action", "approve_branding"),
                ("asset_id", "logo-1"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.html.contains("This form has expired"));
    let stolen = chris
        .post(
            &act,
            &[
                ("csrf", csrf.as_str()),
                ("action", "approve_branding"),
                ("asset_id", "logo-1"),
            ],
        )
        .await;
    assert_eq!(
        stolen.status,
        StatusCode::FORBIDDEN,
        "another session's token is no good either"
    );
    assert_eq!(head(&api).await, before);

    // Communications approves the logo, approves, publishes.
    let token = comms_page.csrf();
    for (action, extra) in [
        ("approve_branding", Some(("asset_id", "logo-1"))),
        ("approve", None),
        ("publish", None),
    ] {
        let mut fields = vec![("csrf", token.as_str()), ("action", action)];
        fields.extend(extra);
        let after = chris.post(&act, &fields).await;
        assert_eq!(after.status, StatusCode::OK, "{action}: {}", after.html);
        assert!(
            !after.html.contains("That was not done"),
            "{action}: {}",
            after.html
        );
    }
    let published = chris.get(&page_path).await;
    assert!(published.html.contains("Published"));
    assert!(
        published.html.contains("Approved by communications"),
        "the history says who did what"
    );

    // The public page shows the account as the council's.
    let public = reqwest::get(format!(
        "{}/verify?account=https://x.com/NorthStaffApp",
        service.base_url
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(public.to_lowercase().contains("official"), "{public}");

    // Signing out ends the session: the old cookie opens nothing.
    let home = alex.get("/staff").await;
    let signed_out = alex
        .post("/staff/sign-out", &[("csrf", home.csrf().as_str())])
        .await;
    assert!(signed_out.html.contains("You are signed out"));
    let after = alex.get("/staff").await;
    assert!(after.path.starts_with("/staff/sign-in"), "{}", after.path);
    service.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_left_idle_for_longer_than_the_idle_timeout_is_over() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[("REGISTRY_SESSION_IDLE_SECONDS", "1")]);
    let mut dana = Browser::new(&service.base_url);
    let home = dana.dev_sign_in("demo-dana").await;
    assert!(home.html.contains("What waits for you"));
    // Activity keeps it open.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(dana.get("/staff").await.html.contains("What waits for you"));
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let after = dana.get("/staff").await;
    assert!(after.path.starts_with("/staff/sign-in"), "{}", after.path);
    service.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn communications_closes_a_fake_account_report_from_its_page_and_others_may_not_see_the_reports(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    api.client
        .post(format!("{}/report", api.base))
        .form(&[
            ("account", "@NorthFakeStaff"),
            ("details", "Asks for bank details"),
        ])
        .send()
        .await
        .unwrap();
    let mut chris = Browser::new(&service.base_url);
    // The report waits in communications' queue, linked to its page.
    let mut home = chris.dev_sign_in("demo-chris").await;
    for _ in 0..100 {
        if home.html.contains("A reported fake account") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        home = chris.get("/staff").await;
    }
    assert!(
        home.html.contains("/staff/reports#report-"),
        "{}",
        home.html
    );
    let reports = chris.get("/staff/reports").await;
    assert!(
        reports.html.contains("@NorthFakeStaff") && reports.html.contains("Asks for bank details")
    );
    let marker = "/staff/reports/";
    let start = reports
        .html
        .find(&format!(r#"action="{marker}"#))
        .expect("a close form")
        + 8;
    let action: String = reports.html[start..].split('"').next().unwrap().to_owned();
    let csrf = reports.csrf();

    // Closing needs to say what was done; nothing changes without it.
    let before = head(&api).await;
    let refused = chris
        .post(&action, &[("csrf", csrf.as_str()), ("outcome", "")])
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert!(refused.html.contains("Say what was done about the report"));
    assert_eq!(head(&api).await, before);
    let closed = chris
        .post(
            &action,
            &[
                ("csrf", csrf.as_str()),
                ("outcome", "Reported to the platform as impersonation"),
            ],
        )
        .await;
    assert_eq!(closed.status, StatusCode::OK);
    assert!(
        closed.html.contains("Open (0)") && closed.html.contains("Closed (1)"),
        "{}",
        closed.html
    );
    assert!(closed
        .html
        .contains("Reported to the platform as impersonation"));

    // A member of staff without the role is refused the page.
    let mut alex = Browser::new(&service.base_url);
    alex.dev_sign_in("demo-alex").await;
    let refused = alex.get("/staff/reports").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(!refused.html.contains("@NorthFakeStaff"));
    service.terminate();
}
