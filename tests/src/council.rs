//! A small council for the black-box tests: reference data, people, and a
//! form for each level, all through the public GraphQL API.

use serde_json::{json, Value};

use crate::{token, Api};

/// People and their roles.
pub mod people {
    /// Submits registrations.
    pub const APPLICANT: (&str, &[&str]) = ("u-applicant", &["staff"]);
    /// Another member of staff, named on nothing.
    pub const STRANGER: (&str, &[&str]) = ("u-stranger", &["staff"]);
    /// The business contact on every form.
    pub const CONTACT: (&str, &[&str]) = ("u-contact", &["staff"]);
    /// The level-3 officer.
    pub const OFFICER: (&str, &[&str]) = ("u-officer", &["staff"]);
    /// The line manager named on level-3 forms.
    pub const MANAGER: (&str, &[&str]) = ("u-manager", &["staff", "line_manager"]);
    /// A line manager named on nothing.
    pub const OTHER_MANAGER: (&str, &[&str]) = ("u-other-manager", &["staff", "line_manager"]);
    /// The senior officer named on level-4 forms (with speaking authority).
    pub const SENIOR: (&str, &[&str]) = ("u-senior", &["staff", "senior_officer"]);
    /// A senior officer named on nothing.
    pub const OTHER_SENIOR: (&str, &[&str]) = ("u-other-senior", &["staff", "senior_officer"]);
    /// Communications.
    pub const COMMS: (&str, &[&str]) = ("u-comms", &["staff", "communications"]);
    /// The consultation team.
    pub const CONSULTATION: (&str, &[&str]) = ("u-consult", &["staff", "consultation"]);
    /// An auditor.
    pub const AUDITOR: (&str, &[&str]) = ("u-auditor", &["auditor"]);
    /// Reference data.
    pub const ADMIN: (&str, &[&str]) = ("u-admin", &["admin"]);
    /// Data protection.
    pub const DPO: (&str, &[&str]) = ("u-dpo", &["data_protection"]);
}

/// A token for one of `people`.
pub fn as_(person: (&str, &[&str])) -> String {
    token(person.0, person.1)
}

/// The registration fields every test selects.
pub const FIELDS: &str = "id version status level accountKey outstandingSteps";

/// Load the reference data the forms need, as the admin.
pub async fn reference_data(api: &Api) {
    let admin = as_(people::ADMIN);
    for (query, vars) in [
        (
            "mutation($c: String!, $n: String!) { addOrganisationalUnit(code: $c, name: $n) { position } }",
            json!({"c": "libraries", "n": "Libraries and Archives"}),
        ),
        (
            "mutation($c: String!, $n: String!) { addOrganisationalUnit(code: $c, name: $n) { position } }",
            json!({"c": "youth", "n": "Youth Services"}),
        ),
        (
            "mutation($c: String!, $t: String!) { acceptJobRole(code: $c, title: $t) { position } }",
            json!({"c": "youth-worker", "t": "Youth Worker"}),
        ),
        (
            "mutation($c: String!, $n: String!) { addTopic(code: $c, name: $n) { position } }",
            json!({"c": "parks", "n": "Parks and open spaces"}),
        ),
        (
            "mutation($s: String!, $t: String!) { grantSpeakingAuthority(subject: $s, topic: $t) { position } }",
            json!({"s": "u-senior", "t": "parks"}),
        ),
        (
            "mutation($s: String!, $t: String!) { grantSpeakingAuthority(subject: $s, topic: $t, councillor: true) { position } }",
            json!({"s": "cllr-chris-council", "t": "parks"}),
        ),
    ] {
        api.ok(Some(&admin), query, vars).await;
    }
}

fn staff(subject: &str, name: &str) -> Value {
    json!({"subject": subject, "name": name, "email": format!("{subject}@north.gov.uk"), "phone": "01234 567890"})
}

/// A form at `level` (1 to 4) for `account` on `platform`.
pub fn form(level: u8, platform: &str, account: &str) -> Value {
    let details = match level {
        1 => json!({"broadcast": {"informationTypes": ["Opening hours", "Events"],
                                   "contentSources": ["https://north.gov.uk/feeds/libraries.rss"]}}),
        2 => {
            json!({"consult": {"topic": "Library opening hours", "opensOn": "2026-12-01", "closesOn": "2027-01-31"}})
        }
        3 => json!({"participate": {"officer": staff("u-officer", "Olivia Officer"),
                                     "jobRole": "youth-worker",
                                     "lineManager": staff("u-manager", "Morgan Manager")}}),
        _ => {
            json!({"engage": {"topics": ["parks"], "seniorOfficer": staff("u-senior", "Sam Senior"),
                                "councillor": "Cllr Chris Council", "councillorId": "cllr-chris-council",
                                "pressMedia": {"invited": true, "involved": false, "arrangements": "Press release before each debate"}}})
        }
    };
    json!({
        "platform": platform,
        "account": account,
        "serviceArea": if level == 3 { "youth" } else { "libraries" },
        "businessContact": staff("u-contact", "Casey Contact"),
        "policyVersion": "2026.1",
        "policyAcknowledged": true,
        "corporateIdentityAcknowledged": true,
        "brandingAssets": if level == 1 { json!([{"id": "summer-logo", "description": "Summer reading logo", "reference": "DAM-17"}]) } else { json!([]) },
        "details": details,
    })
}

/// Submit a form as the applicant; the registration's id.
pub async fn submit(api: &Api, form: Value) -> String {
    let data = api
        .ok(
            Some(&as_(people::APPLICANT)),
            &format!("mutation($f: RegistrationFormInput!) {{ submitRegistration(form: $f) {{ registration {{ {FIELDS} }} position }} }}"),
            json!({"f": form}),
        )
        .await;
    data["submitRegistration"]["registration"]["id"]
        .as_str()
        .expect("an id")
        .to_owned()
}

/// Run a mutation that takes only `id`, as `who`; the payload.
pub async fn act(api: &Api, who: (&str, &[&str]), mutation: &str, id: &str, extra: &str) -> Value {
    let query = format!(
        "mutation($id: UUID!) {{ {mutation}(id: $id{extra}) {{ registration {{ {FIELDS} }} position deduplicated }} }}"
    );
    api.ok(Some(&as_(who)), &query, json!({"id": id})).await[mutation].clone()
}

/// Submit a level-1 registration of the X account `handle` and have
/// communications approve its branding asset: two events, for tests that
/// need the log to move. The registration's id.
pub async fn submit_and_approve_asset(api: &Api, handle: &str) -> String {
    let id = submit(api, form(1, "X", handle)).await;
    act(
        api,
        people::COMMS,
        "approveBrandingAsset",
        &id,
        r#", assetId: "summer-logo""#,
    )
    .await;
    id
}

/// Take a submitted level-3 registration through its risk assessment, the
/// line manager's signature, approval and publication: the publication's
/// payload.
pub async fn sign_and_publish_level3(api: &Api, id: &str) -> Value {
    act(
        api,
        people::APPLICANT,
        "recordRiskAssessment",
        id,
        RISK_ASSESSMENT,
    )
    .await;
    act(api, people::MANAGER, "signRiskAssessment", id, "").await;
    act(api, people::COMMS, "approveRegistration", id, "").await;
    act(api, people::COMMS, "publishRegistration", id, "").await
}

/// Propose a change to a published registration as `who`: the payload.
pub async fn propose_change(
    api: &Api,
    who: (&str, &[&str]),
    id: &str,
    form: Value,
    reason: &str,
) -> Value {
    let query = format!(
        "mutation($id: UUID!, $f: RegistrationFormInput!, $r: String!) {{ proposeChange(id: $id, form: $f, reason: $r) {{ registration {{ {FIELDS} pendingChange {{ requiredSteps proposedBy capacity proposed {{ status accountKey outstandingSteps }} }} }} position }} }}"
    );
    api.ok(
        Some(&as_(who)),
        &query,
        json!({"id": id, "f": form, "r": reason}),
    )
    .await["proposeChange"]
        .clone()
}

/// The risk assessment argument of `recordRiskAssessment`.
pub const RISK_ASSESSMENT: &str = r#", assessment: {assessor: "Morgan Manager", assessorSubject: "u-manager", assessedOn: "2026-11-20", risks: [{risk: "Messages out of hours", mitigation: "Auto-reply with office hours"}], documentReference: "RA-2026-031"}"#;
