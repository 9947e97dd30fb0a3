//! The authorisation matrix: every mutation and every non-public query,
//! called by the public, by each role, and by the right role but the wrong
//! person. Exactly the allowed calls succeed; the others are refused with
//! `UNAUTHENTICATED` (no token) or `FORBIDDEN`, and change nothing.

use blackbox_tests::council::{self, act, as_, people::*, submit, FIELDS, RISK_ASSESSMENT};
use blackbox_tests::{error_code, Api, Service};
use event_store::testing::TestDatabase;
use serde_json::{json, Value};

type Person = (&'static str, &'static [&'static str]);

/// Everyone the matrix calls as, by name; `None` is the public.
const CALLERS: [(&str, Option<Person>); 14] = [
    ("public", None),
    ("applicant", Some(APPLICANT)),
    ("stranger", Some(STRANGER)),
    ("contact", Some(CONTACT)),
    ("officer", Some(OFFICER)),
    ("named line manager", Some(MANAGER)),
    ("other line manager", Some(OTHER_MANAGER)),
    ("named senior officer", Some(SENIOR)),
    ("other senior officer", Some(OTHER_SENIOR)),
    ("communications", Some(COMMS)),
    ("consultation", Some(CONSULTATION)),
    ("auditor", Some(AUDITOR)),
    ("admin", Some(ADMIN)),
    ("data protection", Some(DPO)),
];

/// What state a mutation needs its registration in.
#[derive(Clone, Copy)]
enum Given {
    Nothing,
    Level1,
    Level1BrandingApproved,
    Level1Approved,
    Level1Published,
    Level1ChangePending,
    Level2,
    Level3,
    Level3Assessed,
    Level3Published,
    Level4,
    /// Level 1, published; then a new policy version is out.
    Level1PolicyDue,
}

struct Fixture {
    api: Api,
    accounts: std::sync::atomic::AtomicUsize,
}

impl Fixture {
    fn account(&self) -> String {
        let n = self
            .accounts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("https://x.com/NorthMatrix{n}")
    }

    async fn given(&self, given: Given) -> String {
        let api = &self.api;
        let form = |level| council::form(level, "X", &self.account());
        match given {
            Given::Nothing => String::new(),
            Given::Level1 => submit(api, form(1)).await,
            Given::Level1ChangePending => {
                let id = Box::pin(self.given(Given::Level1Published)).await;
                council::propose_change(api, APPLICANT, &id, form(1), "Renamed").await;
                id
            }
            Given::Level1BrandingApproved | Given::Level1Approved | Given::Level1Published => {
                let id = submit(api, form(1)).await;
                act(
                    api,
                    COMMS,
                    "approveBrandingAsset",
                    &id,
                    r#", assetId: "summer-logo""#,
                )
                .await;
                if !matches!(given, Given::Level1BrandingApproved) {
                    act(api, COMMS, "approveRegistration", &id, "").await;
                }
                if matches!(given, Given::Level1Published) {
                    act(api, COMMS, "publishRegistration", &id, "").await;
                }
                id
            }
            Given::Level2 => submit(api, form(2)).await,
            Given::Level3 | Given::Level3Assessed | Given::Level3Published => {
                let id = submit(api, form(3)).await;
                match given {
                    Given::Level3Assessed => {
                        act(api, APPLICANT, "recordRiskAssessment", &id, RISK_ASSESSMENT).await;
                    }
                    Given::Level3Published => {
                        council::sign_and_publish_level3(api, &id).await;
                    }
                    _ => {}
                }
                id
            }
            Given::Level4 => submit(api, form(4)).await,
            Given::Level1PolicyDue => {
                let current = current_policy(api).await;
                let mut f = form(1);
                f["policyVersion"] = json!(current);
                let id = submit(api, f).await;
                act(
                    api,
                    COMMS,
                    "approveBrandingAsset",
                    &id,
                    r#", assetId: "summer-logo""#,
                )
                .await;
                act(api, COMMS, "approveRegistration", &id, "").await;
                act(api, COMMS, "publishRegistration", &id, "").await;
                let n = self.accounts.load(std::sync::atomic::Ordering::Relaxed);
                let published = api.ok(
                    Some(&as_(ADMIN)),
                    "mutation($v: String!) { publishPolicyVersion(version: $v, publishedOn: \"2027-01-01\", summary: \"Revised\", url: \"https://intranet.north.gov.uk/policy\") { position } }",
                    json!({"v": format!("2027.{n}")}),
                )
                .await;
                // Read your write: the next form must name this version.
                api.ok(
                    Some(&as_(COMMS)),
                    "query($p: Int) { policyVersions(atLeastPosition: $p) { version } }",
                    json!({"p": published["publishPolicyVersion"]["position"]}),
                )
                .await;
                id
            }
        }
    }
}

struct MutationCase {
    name: &'static str,
    given: Given,
    allowed: &'static [&'static str],
}

const STAFF: &[&str] = &[
    "applicant",
    "stranger",
    "contact",
    "officer",
    "named line manager",
    "other line manager",
    "named senior officer",
    "other senior officer",
    "communications",
    "consultation",
];

const MUTATIONS: &[MutationCase] = &[
    MutationCase {
        name: "submitRegistration",
        given: Given::Nothing,
        allowed: STAFF,
    },
    MutationCase {
        name: "amendRegistration",
        given: Given::Level1,
        allowed: &["applicant"],
    },
    MutationCase {
        name: "recordRiskAssessment",
        given: Given::Level3,
        allowed: &["applicant", "officer", "named line manager"],
    },
    MutationCase {
        name: "signRiskAssessment",
        given: Given::Level3Assessed,
        allowed: &["named line manager"],
    },
    MutationCase {
        name: "signOffAsSeniorOfficer",
        given: Given::Level4,
        allowed: &["named senior officer"],
    },
    MutationCase {
        name: "recordConsultationListing",
        given: Given::Level2,
        allowed: &["consultation"],
    },
    MutationCase {
        name: "approveBrandingAsset",
        given: Given::Level1,
        allowed: &["communications"],
    },
    MutationCase {
        name: "approveRegistration",
        given: Given::Level1BrandingApproved,
        allowed: &["communications"],
    },
    MutationCase {
        name: "requestChanges",
        given: Given::Level3Assessed,
        allowed: &["named line manager", "communications"],
    },
    MutationCase {
        name: "rejectRegistration",
        given: Given::Level4,
        allowed: &["named senior officer", "communications"],
    },
    MutationCase {
        name: "publishRegistration",
        given: Given::Level1Approved,
        allowed: &["communications"],
    },
    MutationCase {
        name: "withdrawRegistration",
        given: Given::Level1,
        allowed: &["applicant", "communications"],
    },
    MutationCase {
        name: "revalidateRegistration",
        given: Given::Level1Published,
        allowed: &["contact", "communications"],
    },
    MutationCase {
        name: "proposeChange",
        given: Given::Level1Published,
        allowed: &["applicant", "contact", "communications"],
    },
    MutationCase {
        name: "withdrawChange",
        given: Given::Level1ChangePending,
        allowed: &["applicant", "communications"],
    },
    MutationCase {
        name: "importRegistrations",
        given: Given::Nothing,
        allowed: &["communications"],
    },
    MutationCase {
        name: "recordPermanentId",
        given: Given::Level1,
        allowed: &["communications"],
    },
    MutationCase {
        name: "recordOfficerLinkBack",
        given: Given::Level3Published,
        allowed: &["communications"],
    },
    MutationCase {
        name: "acceptJobRole",
        given: Given::Nothing,
        allowed: &["admin"],
    },
    MutationCase {
        name: "signLogHead",
        given: Given::Nothing,
        allowed: &["auditor"],
    },
    MutationCase {
        name: "erasePersonalData",
        given: Given::Nothing,
        allowed: &["data protection"],
    },
    MutationCase {
        name: "disablePlatform",
        given: Given::Nothing,
        allowed: &["admin", "communications"],
    },
    // Last: publishing a policy version changes what every later form must
    // acknowledge (this one publishes the version the fixtures' forms name).
    MutationCase {
        name: "publishPolicyVersion",
        given: Given::Nothing,
        allowed: &["admin"],
    },
    MutationCase {
        name: "acknowledgePolicy",
        given: Given::Level1PolicyDue,
        allowed: &["contact"],
    },
];

/// The current policy version (the fixtures' own before any is published).
async fn current_policy(api: &Api) -> String {
    let v = api
        .ok(
            Some(&as_(COMMS)),
            "{ policyVersions { version } }",
            json!({}),
        )
        .await;
    v["policyVersions"][0]["version"]
        .as_str()
        .unwrap_or("2026.1")
        .to_owned()
}

/// The mutation as a document and its variables, for `id` (and a fresh
/// account or code where the call creates something).
fn call(fx: &Fixture, name: &str, id: &str, n: usize) -> (String, Value) {
    let payload = format!("{{ registration {{ {FIELDS} }} position }}");
    let by_id = |args: &str| {
        (
            format!("mutation($id: UUID!) {{ {name}(id: $id{args}) {payload} }}"),
            json!({"id": id}),
        )
    };
    match name {
        "submitRegistration" => (
            format!("mutation($f: RegistrationFormInput!) {{ submitRegistration(form: $f) {payload} }}"),
            json!({"f": council::form(1, "X", &fx.account())}),
        ),
        "amendRegistration" => {
            let mut form = council::form(1, "X", &format!("https://x.com/NorthAmended{n}"));
            form["policyVersion"] = json!("2026.2");
            (
                format!("mutation($id: UUID!, $f: RegistrationFormInput!) {{ amendRegistration(id: $id, form: $f) {payload} }}"),
                json!({"id": id, "f": form}),
            )
        }
        "recordRiskAssessment" => by_id(RISK_ASSESSMENT),
        "recordConsultationListing" => by_id(r#", finderReference: "CF-1""#),
        "approveBrandingAsset" => by_id(r#", assetId: "summer-logo""#),
        "importRegistrations" => (
            "mutation($csv: String!) { importRegistrations(csv: $csv, fileName: \"matrix.csv\", dryRun: true) { imported } }".into(),
            json!({"csv": format!(
                "platform,account,level,service_area,contact_subject,contact_name,contact_email,information_types\nx,{},1,libraries,u-contact,Casey Contact,u-contact@north.gov.uk,Events\n",
                fx.account()
            )}),
        ),
        "recordPermanentId" => (
            format!("mutation($id: UUID!, $p: String!) {{ recordPermanentId(id: $id, permanentId: $p) {payload} }}"),
            json!({"id": id, "p": format!("1000{n}")}),
        ),
        "publishPolicyVersion" => (
            "mutation { publishPolicyVersion(version: \"2026.1\", publishedOn: \"2026-01-01\", summary: \"The first\", url: \"https://intranet.north.gov.uk/policy\") { position } }".into(),
            json!({}),
        ),
        "acknowledgePolicy" => (
            format!("mutation($id: UUID!, $version: String!) {{ acknowledgePolicy(id: $id, version: $version) {payload} }}"),
            json!({"id": id}),
        ),
        "recordOfficerLinkBack" => (
            format!("mutation($id: UUID!, $url: String!) {{ recordOfficerLinkBack(id: $id, profileUrl: $url) {payload} }}"),
            json!({"id": id}),
        ),
        "proposeChange" => (
            format!("mutation($id: UUID!, $f: RegistrationFormInput!) {{ proposeChange(id: $id, form: $f, reason: \"Renamed\") {payload} }}"),
            json!({"id": id, "f": council::form(1, "X", &fx.account())}),
        ),
        "requestChanges" | "rejectRegistration" | "withdrawRegistration" | "withdrawChange" => {
            by_id(r#", reason: "A reason""#)
        }
        "signLogHead" => ("mutation { signLogHead { position } }".into(), json!({})),
        "erasePersonalData" => (
            "mutation($s: String) { erasePersonalData(subject: $s, reason: \"Request\") { position } }".into(),
            json!({"s": format!("u-leaver-{n}")}),
        ),
        "acceptJobRole" => (
            "mutation($c: String!) { acceptJobRole(code: $c, title: \"Community Librarian\") { position } }".into(),
            json!({"c": format!("librarian-{n}")}),
        ),
        "disablePlatform" => {
            // A different platform per caller: disabling one twice is a conflict.
            const OTHERS: [&str; 13] = [
                "FACEBOOK", "INSTAGRAM", "YOUTUBE", "LINKEDIN", "TIKTOK", "THREADS", "BLUESKY",
                "MASTODON", "FLICKR", "PINTEREST", "NEXTDOOR", "WHATSAPP", "WEBSITE",
            ];
            (
                "mutation($p: Platform!) { disablePlatform(platform: $p, reason: \"Not used\") { position } }".into(),
                json!({"p": OTHERS[n % OTHERS.len()]}),
            )
        }
        _ => by_id(""),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_the_allowed_people_may_call_each_mutation() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let fx = Fixture {
        api: Api::new(&service),
        accounts: Default::default(),
    };
    council::reference_data(&fx.api).await;
    let mut wrong = Vec::new();
    let mut n = 0;
    for case in MUTATIONS {
        for (who, person) in CALLERS {
            n += 1;
            let id = fx.given(case.given).await;
            if case.name == "erasePersonalData" {
                // Only someone the vault holds data for can be erased.
                let mut form = council::form(1, "X", &fx.account());
                form["businessContact"]["subject"] = json!(format!("u-leaver-{n}"));
                submit(&fx.api, form).await;
            }
            let head_before = log_head(&fx.api).await;
            let (query, mut vars) = call(&fx, case.name, &id, n);
            if case.name == "acknowledgePolicy" {
                vars["version"] = json!(current_policy(&fx.api).await);
            }
            if case.name == "recordOfficerLinkBack" {
                // The profile checked is the registration's own account.
                let r = fx
                    .api
                    .ok(
                        Some(&as_(COMMS)),
                        "query($id: UUID!) { registration(id: $id) { accountUrl } }",
                        json!({"id": id}),
                    )
                    .await;
                vars["url"] = r["registration"]["accountUrl"].clone();
            }
            let token = person.map(as_);
            let body = fx.api.post(token.as_deref(), &query, vars).await;
            let code = error_code(&body);
            let allowed = case.allowed.contains(&who);
            let expected = match (allowed, person) {
                (true, _) => None,
                (false, None) => Some("UNAUTHENTICATED".to_owned()),
                (false, Some(_)) => Some("FORBIDDEN".to_owned()),
            };
            if code != expected {
                wrong.push(format!(
                    "{} by {who}: expected {expected:?}, got {body}",
                    case.name
                ));
            }
            if expected.is_some() && log_head(&fx.api).await != head_before {
                wrong.push(format!(
                    "{} by {who} was refused but appended events",
                    case.name
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

async fn log_head(api: &Api) -> i64 {
    api.ok(Some(&as_(AUDITOR)), "{ logHead { position } }", json!({}))
        .await["logHead"]["position"]
        .as_i64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_the_allowed_people_may_read_each_non_public_query_and_the_public_reads_only_public_ones(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let fx = Fixture {
        api: Api::new(&service),
        accounts: Default::default(),
    };
    council::reference_data(&fx.api).await;
    let id = fx.given(Given::Level3).await;
    let everyone_signed_in: Vec<&str> = CALLERS.iter().skip(1).map(|c| c.0).collect();
    let queries: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "registration",
            format!("{{ registration(id: \"{id}\") {{ id }} }}"),
            vec![
                "applicant",
                "contact",
                "officer",
                "named line manager",
                "communications",
                "auditor",
                "data protection",
            ],
        ),
        (
            "registrations",
            "{ registrations { edges { node { id } } } }".into(),
            everyone_signed_in.clone(),
        ),
        (
            "consultations",
            "{ consultations { edges { node { topic } } } }".into(),
            vec!["communications", "consultation", "auditor"],
        ),
        (
            "approvalQueue",
            "{ approvalQueue(role: COMMUNICATIONS) { edges { node { step } } } }".into(),
            vec!["communications", "auditor"],
        ),
        (
            "approvalQueue as line manager",
            "{ approvalQueue(role: LINE_MANAGER) { edges { node { step } } } }".into(),
            vec!["named line manager", "other line manager", "auditor"],
        ),
        (
            "myApprovals",
            "{ myApprovals { step } }".into(),
            everyone_signed_in.clone(),
        ),
        (
            "revalidationDue",
            "{ revalidationDue { edges { node { dueOn } } } }".into(),
            everyone_signed_in.clone(),
        ),
        (
            "policyAcknowledgementsDue",
            "{ policyAcknowledgementsDue { edges { node { dueOn } } } }".into(),
            everyone_signed_in.clone(),
        ),
        (
            "policyVersions",
            "{ policyVersions { version } }".into(),
            everyone_signed_in.clone(),
        ),
        (
            "events",
            "{ events(first: 5) { edges { node { position } } } }".into(),
            vec!["auditor"],
        ),
        (
            "registrationHistory",
            format!("{{ registrationHistory(id: \"{id}\") {{ eventType }} }}"),
            vec!["communications", "auditor"],
        ),
        (
            "logHead",
            "{ logHead { position hash } }".into(),
            vec!["auditor"],
        ),
        (
            "verifyChain",
            "{ verifyChain { verified count } }".into(),
            vec!["auditor"],
        ),
        (
            "signedHeads",
            "{ signedHeads { position } }".into(),
            vec!["auditor"],
        ),
        (
            "registryAt",
            "{ registryAt { edges { node { id } } } }".into(),
            vec!["auditor"],
        ),
        (
            "personalDataHeldFor",
            "{ personalDataHeldFor(subject: \"u-officer\") { erased } }".into(),
            vec!["data protection"],
        ),
        (
            "speakingAuthorities",
            "{ speakingAuthorities { subject } }".into(),
            everyone_signed_in.clone(),
        ),
        (
            "me",
            "{ me { subject roles } }".into(),
            everyone_signed_in.clone(),
        ),
        (
            "directory",
            "{ directory { edges { node { accountKey } } } }".into(),
            CALLERS.iter().map(|c| c.0).collect(),
        ),
        (
            "verifyAccount",
            "{ verifyAccount(input: \"@north\") { status } }".into(),
            CALLERS.iter().map(|c| c.0).collect(),
        ),
        (
            "officer",
            "{ officer(slug: \"officer-000000000000\") { name } }".into(),
            CALLERS.iter().map(|c| c.0).collect(),
        ),
        (
            "reference data",
            "{ jobRoles { code } organisationalUnits { code } platforms { name } }".into(),
            CALLERS.iter().map(|c| c.0).collect(),
        ),
    ];
    let mut wrong = Vec::new();
    for (name, query, allowed) in &queries {
        for (who, person) in CALLERS {
            let token = person.map(as_);
            let body = fx.api.post(token.as_deref(), query, json!({})).await;
            let code = error_code(&body);
            let expected = match (allowed.contains(&who), person) {
                (true, _) => None,
                (false, None) => Some("UNAUTHENTICATED".to_owned()),
                (false, Some(_)) => Some("FORBIDDEN".to_owned()),
            };
            if code != expected {
                wrong.push(format!(
                    "{name} by {who}: expected {expected:?}, got {body}"
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // A member of staff's list holds only what they are involved in.
    let listed = |who| {
        let api = fx.api.clone();
        async move {
            api.ok(
                Some(&as_(who)),
                "{ registrations { edges { node { id } } } }",
                json!({}),
            )
            .await["registrations"]["edges"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    let head = log_head(&fx.api).await;
    fx.api
        .ok(
            Some(&as_(AUDITOR)),
            "query($p: Int) { registrations(atLeastPosition: $p) { edges { node { id } } } }",
            json!({"p": head}),
        )
        .await;
    assert_eq!(listed(APPLICANT).await, 1);
    assert_eq!(listed(MANAGER).await, 1);
    assert_eq!(listed(STRANGER).await, 0);
    assert_eq!(listed(OTHER_MANAGER).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_details_are_withheld_from_named_staff_who_may_read_only_names() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let id = submit(&api, council::form(3, "X", "@NorthYouthCon")).await;
    let query = "query($id: UUID!) { registration(id: $id) { details { ... on ParticipateDetails { officer { name email phone } } } } }";
    let manager = api
        .post(Some(&as_(MANAGER)), query, json!({"id": id}))
        .await;
    let officer = &manager["data"]["registration"]["details"]["officer"];
    assert_eq!(officer["name"], "Olivia Officer");
    assert!(
        officer["email"].is_null() && officer["phone"].is_null(),
        "{manager:#}"
    );
    let codes: Vec<&str> = manager["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["extensions"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["FORBIDDEN", "FORBIDDEN"]);
    for who in [APPLICANT, OFFICER, COMMS, AUDITOR] {
        let data = api.ok(Some(&as_(who)), query, json!({"id": id})).await;
        assert_eq!(
            data["registration"]["details"]["officer"]["email"],
            "u-officer@north.gov.uk"
        );
    }
}
