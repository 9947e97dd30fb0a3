//! The full life of one registration at each level, driven only through
//! GraphQL over real HTTP by tokens of the right people: submission, the
//! level's sign-offs, approval, publication, verification through several
//! pasted forms of the account, and withdrawal.

use blackbox_tests::council::{self, act, as_, people::*, submit};
use blackbox_tests::{error_code, Api, Service};
use event_store::testing::TestDatabase;
use serde_json::{json, Value};

const VERIFY: &str = "query($i: String!, $p: Int) { verifyAccount(input: $i, atLeastPosition: $p) { status interpretedAs account { organisation accountKey accountUrl level serviceName officerSlug verifiedSince withdrawnAt } } }";

async fn verify(api: &Api, input: &str, position: i64) -> Value {
    api.ok(None, VERIFY, json!({"i": input, "p": position}))
        .await["verifyAccount"]
        .clone()
}

async fn publish_and_verify(api: &Api, id: &str, pasted: &[&str]) -> i64 {
    let approved = act(api, COMMS, "approveRegistration", id, "").await;
    assert_eq!(approved["registration"]["status"], "APPROVED");
    let published = act(api, COMMS, "publishRegistration", id, "").await;
    assert_eq!(published["registration"]["status"], "PUBLISHED");
    assert_eq!(published["registration"]["outstandingSteps"], json!([]));
    let position = published["position"].as_i64().unwrap();
    for input in pasted {
        let v = verify(api, input, position).await;
        assert_eq!(v["status"], "VERIFIED", "{input}: {v:#}");
        assert_eq!(v["account"]["organisation"], "North County Council");
    }
    position
}

async fn withdraw_and_verify(api: &Api, id: &str, who: (&str, &[&str]), pasted: &str) {
    let withdrawn = act(
        api,
        who,
        "withdrawRegistration",
        id,
        r#", reason: "Account closed""#,
    )
    .await;
    assert_eq!(withdrawn["registration"]["status"], "WITHDRAWN");
    let v = verify(api, pasted, withdrawn["position"].as_i64().unwrap()).await;
    assert_eq!(v["status"], "WITHDRAWN", "{v:#}");
    assert!(v["account"]["withdrawnAt"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_at_each_level_goes_from_submission_through_publication_and_verification_to_withdrawal(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(
        &db.url(),
        &[("REGISTRY_COUNCIL_NAME", "North County Council")],
    );
    let api = Api::new(&service);
    council::reference_data(&api).await;

    // Level 1, Broadcast: a branding asset needs its own approval first.
    let id = submit(
        &api,
        council::form(1, "X", "https://twitter.com/NorthLibraries"),
    )
    .await;
    let payload = act(
        &api,
        COMMS,
        "approveBrandingAsset",
        &id,
        r#", assetId: "summer-logo""#,
    )
    .await;
    assert_eq!(
        payload["registration"]["outstandingSteps"],
        json!(["approval"])
    );
    publish_and_verify(
        &api,
        &id,
        &[
            "https://twitter.com/NorthLibraries",
            "x.com/northlibraries?s=20",
            "@NorthLibraries",
            "https://mobile.twitter.com/NORTHLIBRARIES/",
        ],
    )
    .await;
    withdraw_and_verify(&api, &id, APPLICANT, "https://x.com/NorthLibraries").await;

    // Level 2, Consult: the consultation team lists it in Consultation Finder.
    let id = submit(
        &api,
        council::form(2, "FACEBOOK", "https://www.facebook.com/NorthHaveYourSay/"),
    )
    .await;
    let early = api
        .code(
            Some(&as_(COMMS)),
            "mutation($id: UUID!) { approveRegistration(id: $id) { position } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(early, "INVALID_TRANSITION");
    act(
        &api,
        CONSULTATION,
        "recordConsultationListing",
        &id,
        r#", finderReference: "CF-2026-118""#,
    )
    .await;
    publish_and_verify(
        &api,
        &id,
        &[
            "facebook.com/NorthHaveYourSay",
            "https://m.facebook.com/northhaveyoursay?ref=bookmarks",
        ],
    )
    .await;
    withdraw_and_verify(&api, &id, COMMS, "https://facebook.com/NorthHaveYourSay").await;

    // Level 3, Participate: risk assessment, the named line manager signs,
    // and publication publishes the officer's verification page.
    let id = submit(
        &api,
        council::form(3, "INSTAGRAM", "https://www.instagram.com/north.youthwork/"),
    )
    .await;
    act(
        &api,
        APPLICANT,
        "recordRiskAssessment",
        &id,
        council::RISK_ASSESSMENT,
    )
    .await;
    let signed = act(&api, MANAGER, "signRiskAssessment", &id, "").await;
    assert_eq!(
        signed["registration"]["outstandingSteps"],
        json!(["approval"])
    );
    let position = publish_and_verify(
        &api,
        &id,
        &["@north.youthwork", "instagram.com/North.YouthWork"],
    )
    .await;
    let v = verify(&api, "https://instagram.com/north.youthwork", position).await;
    let slug = v["account"]["officerSlug"]
        .as_str()
        .expect("a level-3 account names its officer page")
        .to_owned();
    let officer = api
        .ok(
            None,
            "query($s: String!) { officer(slug: $s) { slug name jobRole serviceName accounts { accountKey status } } }",
            json!({"s": slug}),
        )
        .await;
    assert_eq!(
        officer["officer"],
        json!({"slug": slug, "name": "Olivia Officer", "jobRole": "Youth Worker", "serviceName": "Youth Services",
               "accounts": [{"accountKey": "instagram:north.youthwork", "status": "VERIFIED"}]})
    );
    withdraw_and_verify(&api, &id, APPLICANT, "@north.youthwork").await;

    // Level 4, Engage: the named senior officer, who holds speaking
    // authority for the topic, signs off.
    let id = submit(
        &api,
        council::form(4, "YOUTUBE", "https://www.youtube.com/@NorthDebates"),
    )
    .await;
    act(&api, SENIOR, "signOffAsSeniorOfficer", &id, "").await;
    publish_and_verify(
        &api,
        &id,
        &[
            "youtube.com/@northdebates",
            "https://m.youtube.com/@NorthDebates/videos",
        ],
    )
    .await;
    withdraw_and_verify(&api, &id, COMMS, "https://www.youtube.com/@NorthDebates").await;

    // Something never registered is unknown, which is an answer, not an error.
    let v = verify(&api, "https://x.com/NotTheCouncil", 0).await;
    assert_eq!(
        (v["status"].as_str(), v["account"].is_null()),
        (Some("UNKNOWN"), true)
    );

    // Auditors read each step with who did it and in which role.
    let history = api
        .ok(
            Some(&as_(AUDITOR)),
            "query($id: UUID!) { registrationHistory(id: $id) { eventType actorSubject actorRoles actorName status } }",
            json!({"id": id}),
        )
        .await;
    let steps: Vec<(&str, &str)> = history["registrationHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["eventType"].as_str().unwrap(),
                h["actorSubject"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("RegistrationSubmitted", "u-applicant"),
            ("SeniorOfficerSignedOff", "u-senior"),
            ("RegistrationApproved", "u-comms"),
            ("RegistrationPublished", "u-comms"),
            ("RegistrationWithdrawn", "u-comms"),
        ]
    );
    assert_eq!(
        history["registrationHistory"][0]["actorName"],
        "Name of u-applicant"
    );

    // Staff find registrations by words of the account or the service.
    let head = api.position().await;
    let search = |words: &'static str| {
        let api = api.clone();
        async move {
            let found = api
                .ok(
                    Some(&as_(COMMS)),
                    "query($s: String, $p: Int) { registrations(filter: {search: $s}, atLeastPosition: $p) { edges { node { accountKey } } } }",
                    json!({"s": words, "p": head}),
                )
                .await;
            let mut keys: Vec<String> = found["registrations"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["accountKey"].as_str().unwrap().to_owned())
                .collect();
            keys.sort();
            keys
        }
    };
    assert_eq!(search("YouthWork").await, ["instagram:north.youthwork"]);
    assert_eq!(
        search("youth services").await,
        ["instagram:north.youthwork"],
        "by the service's name"
    );
    assert_eq!(
        search("libraries").await.len(),
        3,
        "by the service's code and account"
    );
    assert!(
        search("100%_").await.is_empty(),
        "LIKE characters are taken literally"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_policy_version_must_be_acknowledged_by_new_forms_and_by_each_published_accounts_contact_who_then_leaves_the_overdue_queue(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[("REGISTRY_POLICY_ACKNOWLEDGEMENT_DAYS", "30")]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let id = council::submit_and_approve_asset(&api, "@NorthPolicyAck").await;
    act(&api, COMMS, "approveRegistration", &id, "").await;
    act(&api, COMMS, "publishRegistration", &id, "").await;

    let published = api
        .ok(
            Some(&as_(ADMIN)),
            "mutation { publishPolicyVersion(version: \"2026.2\", publishedOn: \"2026-11-30\", summary: \"Direct messages answered within two working days\", url: \"https://intranet.north.gov.uk/policies/social-media\") { position } }",
            json!({}),
        )
        .await;
    let p = published["publishPolicyVersion"]["position"]
        .as_i64()
        .unwrap();
    // A new form naming the old version is refused, naming the field.
    let refused = api
        .post(
            Some(&as_(APPLICANT)),
            "mutation($f: RegistrationFormInput!) { submitRegistration(form: $f) { position } }",
            json!({"f": council::form(1, "X", "@NorthPolicyNew")}),
        )
        .await;
    assert_eq!(error_code(&refused).as_deref(), Some("BAD_USER_INPUT"));
    assert!(refused.to_string().contains("policyVersion"), "{refused}");
    assert!(refused.to_string().contains("2026.2"), "{refused}");

    let due = "query($o: Boolean, $p: Int) { policyAcknowledgementsDue(overdueOnly: $o, atLeastPosition: $p) { edges { node { registrationId acknowledgedVersion currentVersion dueOn overdue } } } }";
    let for_comms = api.ok(Some(&as_(COMMS)), due, json!({"p": p})).await;
    let edges = &for_comms["policyAcknowledgementsDue"]["edges"];
    assert_eq!(edges.as_array().unwrap().len(), 1, "{for_comms}");
    assert_eq!(edges[0]["node"]["registrationId"], id.as_str());
    assert_eq!(edges[0]["node"]["acknowledgedVersion"], "2026.1");
    assert_eq!(edges[0]["node"]["currentVersion"], "2026.2");
    assert_eq!(edges[0]["node"]["overdue"], false);
    let for_contact = api.ok(Some(&as_(CONTACT)), due, json!({"p": p})).await;
    assert_eq!(
        for_contact["policyAcknowledgementsDue"],
        for_comms["policyAcknowledgementsDue"]
    );
    let for_stranger = api.ok(Some(&as_(STRANGER)), due, json!({"p": p})).await;
    assert_eq!(
        for_stranger["policyAcknowledgementsDue"]["edges"],
        json!([])
    );

    // Thirty-one days on (aged in the read model: there is no test clock),
    // it is overdue in communications' queue.
    sqlx::query("update read_models.policy_versions set published_at = now() - interval '31 days'")
        .execute(&db.owner)
        .await
        .unwrap();
    let overdue = api.ok(Some(&as_(COMMS)), due, json!({"o": true})).await;
    let edges = &overdue["policyAcknowledgementsDue"]["edges"];
    assert_eq!(edges.as_array().unwrap().len(), 1, "{overdue}");
    assert_eq!(edges[0]["node"]["overdue"], true);
    // It waits in the contact's and in communications' own queues.
    let mine = "{ myApprovals { registrationId role step assignee } }";
    for (who, role) in [(CONTACT, "STAFF"), (COMMS, "COMMUNICATIONS")] {
        let items = api.ok(Some(&as_(who)), mine, json!({})).await;
        assert!(
            items["myApprovals"].as_array().unwrap().contains(&json!({
                "registrationId": id, "role": role, "step": "policy_acknowledgement", "assignee": "u-contact"
            })),
            "{items}"
        );
    }

    // Only the contact acknowledges, and only the current version.
    let wrong = api
        .post(
            Some(&as_(COMMS)),
            "mutation($id: UUID!) { acknowledgePolicy(id: $id, version: \"2026.2\") { position } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(error_code(&wrong).as_deref(), Some("FORBIDDEN"));
    let acked = act(
        &api,
        CONTACT,
        "acknowledgePolicy",
        &id,
        r#", version: "2026.2""#,
    )
    .await;
    let p = acked["position"].as_i64().unwrap();
    let items = api
        .ok(
            Some(&as_(CONTACT)),
            "query($p: Int) { myApprovals(atLeastPosition: $p) { step } }",
            json!({"p": p}),
        )
        .await;
    assert!(
        !items.to_string().contains("policy_acknowledgement"),
        "{items}"
    );
    let after = api.ok(Some(&as_(COMMS)), due, json!({"p": p})).await;
    assert_eq!(
        after["policyAcknowledgementsDue"]["edges"],
        json!([]),
        "{after}"
    );
    let r = api
        .ok(
            Some(&as_(COMMS)),
            "query($id: UUID!) { registration(id: $id) { policyAcknowledgement { version by } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        r["registration"]["policyAcknowledgement"],
        json!({"version": "2026.2", "by": "u-contact"})
    );
    let mut form = council::form(1, "X", "@NorthPolicyNew");
    form["policyVersion"] = json!("2026.2");
    submit(&api, form).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_level_4_form_needs_the_named_councillors_speaking_authority_for_its_topic_codes_or_an_explicit_no_councillor(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let submit_q =
        "mutation($f: RegistrationFormInput!) { submitRegistration(form: $f) { position } }";
    let refused_field = |body: &Value| body["errors"][0]["extensions"]["field"].clone();

    let mut free_text = council::form(4, "X", "@NorthDebate1");
    free_text["details"]["engage"]["topics"] = json!(["Parks"]);
    let body = api
        .post(Some(&as_(APPLICANT)), submit_q, json!({"f": free_text}))
        .await;
    assert_eq!(
        refused_field(&body),
        "form.details.engage.topics[0]",
        "{body}"
    );

    let mut no_authority = council::form(4, "X", "@NorthDebate2");
    no_authority["details"]["engage"]["councillorId"] = json!("cllr-someone-else");
    let body = api
        .post(Some(&as_(APPLICANT)), submit_q, json!({"f": no_authority}))
        .await;
    assert_eq!(
        refused_field(&body),
        "form.details.engage.councillorId",
        "{body}"
    );

    let mut unsaid = council::form(4, "X", "@NorthDebate3");
    unsaid["details"]["engage"]["councillor"] = Value::Null;
    unsaid["details"]["engage"]["councillorId"] = Value::Null;
    let body = api
        .post(
            Some(&as_(APPLICANT)),
            submit_q,
            json!({"f": unsaid.clone()}),
        )
        .await;
    assert_eq!(
        refused_field(&body),
        "form.details.engage.councillor",
        "{body}"
    );

    unsaid["details"]["engage"]["noCouncillor"] = json!(true);
    submit(&api, unsaid).await;
    submit(&api, council::form(4, "X", "@NorthDebate4")).await;
    let register = api
        .ok(
            Some(&as_(COMMS)),
            "{ speakingAuthorities { subject councillor topics } topics { code name } }",
            json!({}),
        )
        .await;
    assert!(register["speakingAuthorities"]
        .as_array()
        .unwrap()
        .contains(
            &json!({"subject": "cllr-chris-council", "councillor": true, "topics": ["parks"]})
        ));
    assert_eq!(
        register["topics"],
        json!([{"code": "parks", "name": "Parks and open spaces"}])
    );
}
