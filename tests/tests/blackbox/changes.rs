//! Changes to a published registration, end to end over HTTP: proposed,
//! signed off by exactly the steps they touch, and published over the
//! registration, which stays published (and verified under its current
//! details) meanwhile.

use blackbox_tests::council::{self, act, as_, people::*, propose_change, submit};
use blackbox_tests::{Api, Service};
use event_store::testing::TestDatabase;
use serde_json::{json, Value};

const VERIFY: &str = "query($i: String!, $p: Int) { verifyAccount(input: $i, atLeastPosition: $p) { status account { accountKey officerSlug renamedTo renamedToUrl renamedAt } } }";

async fn verify(api: &Api, input: &str, position: i64) -> Value {
    api.ok(None, VERIFY, json!({"i": input, "p": position}))
        .await["verifyAccount"]
        .clone()
}

async fn page(api: &Api, path: &str) -> String {
    api.client
        .get(format!("{}{path}", api.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn position(payload: &Value) -> i64 {
    payload["position"].as_i64().expect("a position")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_handle_is_verified_under_its_old_name_until_the_change_is_published_and_then_answers_renamed(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let id = council::submit_and_approve_asset(&api, "@NorthLibOld").await;
    act(&api, COMMS, "approveRegistration", &id, "").await;
    act(&api, COMMS, "publishRegistration", &id, "").await;

    // The business contact proposes the rename: communications' approval
    // is all it needs (the approved logo is unchanged).
    let proposed = propose_change(
        &api,
        CONTACT,
        &id,
        council::form(1, "X", "https://x.com/NorthLibNew"),
        "The library service renamed its account",
    )
    .await;
    let registration = &proposed["registration"];
    assert_eq!(registration["status"], "PUBLISHED");
    assert_eq!(registration["accountKey"], "x:northlibold");
    let change = &registration["pendingChange"];
    assert_eq!(change["requiredSteps"], json!(["approval"]));
    assert_eq!(change["proposedBy"], "u-contact");
    assert_eq!(change["capacity"], "BUSINESS_CONTACT");
    assert_eq!(change["proposed"]["accountKey"], "x:northlibnew");
    assert_eq!(change["proposed"]["status"], "SUBMITTED");

    // Meanwhile the public answer holds the old details.
    let p = position(&proposed);
    assert_eq!(verify(&api, "@NorthLibOld", p).await["status"], "VERIFIED");
    assert_eq!(verify(&api, "@NorthLibNew", p).await["status"], "UNKNOWN");
    // The new handle is held for the change: nobody else registers it.
    let taken = api
        .code(
            Some(&as_(APPLICANT)),
            "mutation($f: RegistrationFormInput!) { submitRegistration(form: $f) { position } }",
            json!({"f": council::form(1, "X", "@NorthLibNew")}),
        )
        .await;
    assert_eq!(taken, "CONFLICT");
    // Nobody approves a change they proposed; the proposer is not comms
    // here, but the applicant may not publish before approval either.
    let early = api
        .code(
            Some(&as_(COMMS)),
            "mutation($id: UUID!) { publishRegistration(id: $id) { position } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(early, "INVALID_TRANSITION");

    act(&api, COMMS, "approveRegistration", &id, "").await;
    let published = act(&api, COMMS, "publishRegistration", &id, "").await;
    let p = position(&published);
    assert_eq!(published["registration"]["accountKey"], "x:northlibnew");
    assert_eq!(published["registration"]["status"], "PUBLISHED");

    let new = verify(&api, "https://x.com/NorthLibNew", p).await;
    assert_eq!(new["status"], "VERIFIED");
    let old = verify(&api, "@NorthLibOld", p).await;
    assert_eq!(old["status"], "RENAMED", "{old}");
    assert_eq!(old["account"]["renamedTo"], "x:northlibnew");
    assert_eq!(old["account"]["renamedToUrl"], "https://x.com/northlibnew");
    assert!(old["account"]["renamedAt"].is_string());

    let html = page(&api, "/verify?account=%40NorthLibOld").await;
    assert!(html.contains("data-status=\"renamed\""), "{html}");
    assert!(html.contains("https://x.com/northlibnew"), "{html}");
    assert!(!html.contains("data-status=\"verified\""), "{html}");
    let atom = page(&api, "/directory.atom").await;
    assert!(
        atom.contains("Renamed: x:northlibold is now x:northlibnew"),
        "{atom}"
    );

    let former = api
        .ok(
            Some(&as_(COMMS)),
            "query($id: UUID!) { registration(id: $id) { formerAccounts { accountKey renamedTo } pendingChange { reason } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        former["registration"]["formerAccounts"],
        json!([{"accountKey": "x:northlibold", "renamedTo": "x:northlibnew"}])
    );
    assert_eq!(former["registration"]["pendingChange"], Value::Null);

    // The old handle is free to be registered anew: then it is that
    // registration's answer once published, not "renamed".
    let anew = council::submit_and_approve_asset(&api, "@NorthLibOld").await;
    act(&api, COMMS, "approveRegistration", &anew, "").await;
    let p = position(&act(&api, COMMS, "publishRegistration", &anew, "").await);
    assert_eq!(verify(&api, "@NorthLibOld", p).await["status"], "VERIFIED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_officer_needs_a_new_signed_risk_assessment_and_the_officer_page_switches_only_on_publication(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let id = submit(&api, council::form(3, "X", "@NorthYouthChg")).await;
    let p = position(&council::sign_and_publish_level3(&api, &id).await);
    let before = verify(&api, "@NorthYouthChg", p).await;
    let old_slug = before["account"]["officerSlug"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut form = council::form(3, "X", "@NorthYouthChg");
    form["details"]["participate"]["officer"] = json!({
        "subject": "u-officer-2", "name": "Priya Patel",
        "email": "u-officer-2@north.gov.uk", "phone": "01234 567891"
    });
    // Someone not on the registration may not propose it.
    let refused = api
        .code(
            Some(&as_(STRANGER)),
            "mutation($id: UUID!, $f: RegistrationFormInput!) { proposeChange(id: $id, form: $f, reason: \"x\") { position } }",
            json!({"id": id, "f": form}),
        )
        .await;
    assert_eq!(refused, "FORBIDDEN");
    let proposed = propose_change(&api, APPLICANT, &id, form, "Olivia moved to another team").await;
    let change = &proposed["registration"]["pendingChange"];
    assert_eq!(
        change["requiredSteps"],
        json!(["risk_assessment", "risk_assessment_signature", "approval"])
    );
    let refused = api
        .code(
            Some(&as_(COMMS)),
            "mutation($id: UUID!) { approveRegistration(id: $id) { position } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(refused, "INVALID_TRANSITION", "steps outstanding");
    act(
        &api,
        APPLICANT,
        "recordRiskAssessment",
        &id,
        council::RISK_ASSESSMENT,
    )
    .await;
    let signed = act(&api, MANAGER, "signRiskAssessment", &id, "").await;
    // Still the old officer in public until publication.
    let p = position(&signed);
    let during = verify(&api, "@NorthYouthChg", p).await;
    assert_eq!(during["account"]["officerSlug"], old_slug.as_str());
    let old_page = page(&api, &format!("/officers/{old_slug}")).await;
    assert!(old_page.contains("Olivia Officer"), "{old_page}");

    act(&api, COMMS, "approveRegistration", &id, "").await;
    let p = position(&act(&api, COMMS, "publishRegistration", &id, "").await);
    let after = verify(&api, "@NorthYouthChg", p).await;
    assert_eq!(after["status"], "VERIFIED");
    let new_slug = after["account"]["officerSlug"].as_str().unwrap().to_owned();
    assert_ne!(new_slug, old_slug);
    let new_page = page(&api, &format!("/officers/{new_slug}")).await;
    assert!(new_page.contains("Priya Patel"), "{new_page}");
    assert!(
        new_page.contains("https://x.com/northyouthchg"),
        "{new_page}"
    );
    let old_page = page(&api, &format!("/officers/{old_slug}")).await;
    assert!(
        old_page.contains("no longer uses a social media account"),
        "{old_page}"
    );
    assert!(!old_page.contains("northyouthchg"), "{old_page}");
}

const VERIFY_ID: &str = "query($i: String!, $id: String, $p: Int) { verifyAccount(input: $i, permanentId: $id, atLeastPosition: $p) { status matchedByPermanentId permanentIdCheck account { accountKey permanentId } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_matches_the_permanent_id_and_a_handle_held_by_another_id_is_not_the_councils()
{
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let id = council::submit_and_approve_asset(&api, "@NorthPidLib").await;
    act(&api, COMMS, "approveRegistration", &id, "").await;
    act(&api, COMMS, "publishRegistration", &id, "").await;

    // The applicant may not record it; a YouTube id on an X account is
    // refused naming the field; then communications records it.
    let refused = api
        .code(
            Some(&as_(APPLICANT)),
            "mutation($id: UUID!) { recordPermanentId(id: $id, permanentId: \"1234567890\") { position } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(refused, "FORBIDDEN");
    let wrong = api
        .post(
            Some(&as_(COMMS)),
            "mutation($id: UUID!) { recordPermanentId(id: $id, permanentId: \"UCabcdefghijklmnopqrstuv\") { position } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        blackbox_tests::error_code(&wrong).as_deref(),
        Some("BAD_USER_INPUT")
    );
    assert!(wrong.to_string().contains("permanentId"), "{wrong}");
    let p = position(
        &act(
            &api,
            COMMS,
            "recordPermanentId",
            &id,
            r#", permanentId: "1234567890""#,
        )
        .await,
    );

    let check = |input: &'static str, pid: Option<&'static str>, p: i64| {
        let api = &api;
        async move {
            api.ok(None, VERIFY_ID, json!({"i": input, "id": pid, "p": p}))
                .await["verifyAccount"]
                .clone()
        }
    };
    let same = check("@NorthPidLib", Some("1234567890"), p).await;
    assert_eq!(same["status"], "VERIFIED");
    assert_eq!(same["permanentIdCheck"], "MATCHES");
    assert_eq!(same["account"]["permanentId"], "x:pid:1234567890");
    // The handle held by another account now: not the council's.
    let other = check("@NorthPidLib", Some("999"), p).await;
    assert_eq!(other["status"], "NOT_THE_COUNCILS", "{other}");
    assert_eq!(other["permanentIdCheck"], "DIFFERENT");
    // Found by the permanent id alone, under whatever name it has now.
    let by_id = check("1234567890", None, p).await;
    assert_eq!(by_id["status"], "VERIFIED", "{by_id}");
    assert_eq!(by_id["matchedByPermanentId"], true);
    assert_eq!(by_id["account"]["accountKey"], "x:northpidlib");
    let renamed_on_platform = check("@NorthPidRenamed", Some("1234567890"), p).await;
    assert_eq!(renamed_on_platform["status"], "VERIFIED");
    assert_eq!(renamed_on_platform["matchedByPermanentId"], true);

    // The page says so too.
    let html = page(&api, "/verify?account=%40NorthPidLib&id=999").await;
    assert!(html.contains("data-status=\"not-the-councils\""), "{html}");
    let html = page(&api, "/verify?account=%40NorthPidLib&id=1234567890").await;
    assert!(html.contains("data-status=\"verified\""), "{html}");

    // Another registration may not take the same id.
    let second = council::submit_and_approve_asset(&api, "@NorthPidTwo").await;
    let taken = api
        .code(
            Some(&as_(COMMS)),
            "mutation($id: UUID!) { recordPermanentId(id: $id, permanentId: \"1234567890\") { position } }",
            json!({"id": second}),
        )
        .await;
    assert_eq!(taken, "CONFLICT");
}
