//! The staff pages: what waits for me, my registrations, a registration's
//! page with the actions this person may take now, and the new
//! registration (level with the framework's guidance, the level's
//! questions, acknowledgements, check your answers, submit).

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde_json::{json, Value};

use crate::api::{self, Refusal};
use crate::session::Session;
use crate::{page, require, require_form, safe_return, StaffState};
use domain::Role;

pub(crate) mod admin;
pub(crate) mod audit;
pub(crate) mod change;
pub(crate) mod insight;
pub(crate) mod picker;
pub(crate) mod privacy;
mod work;
pub(crate) use work::{communications, consultation};

/// A role as people name it.
pub(crate) fn role_name(r: Role) -> &'static str {
    match r {
        Role::Staff => "Member of staff",
        Role::LineManager => "Line manager",
        Role::SeniorOfficer => "Senior officer",
        Role::Communications => "Communications team",
        Role::Consultation => "Consultation team",
        Role::Auditor => "Auditor",
        Role::Admin => "Administrator",
        Role::DataProtection => "Data protection",
        Role::Integration => "Integration (another system)",
    }
}

fn role_of_code(code: &str) -> &'static str {
    Role::ALL
        .into_iter()
        .find(|r| {
            r.code().eq_ignore_ascii_case(code)
                || format!("{r:?}").to_ascii_uppercase() == code.replace('_', "")
        })
        .map(role_name)
        .unwrap_or("Someone")
}

/// What a step asks, in words.
fn step_name(step: &str) -> String {
    match step {
        "risk_assessment" => "Record the risk assessment".into(),
        "risk_assessment_signature" => "Sign the risk assessment".into(),
        "senior_officer_sign_off" => "Senior officer's sign-off".into(),
        "consultation_listing" => "List the consultation in Consultation Finder".into(),
        "approval" => "Approve the registration".into(),
        "publication" => "Publish the approved registration".into(),
        "link_back_check" => "Check the officer's profile links to their page".into(),
        "revalidation" | "revalidation_overdue" => {
            "Re-validate: is the account still used and needed?".into()
        }
        "policy_acknowledgement" => "Acknowledge the current social media policy".into(),
        "fake_account_report" => "A reported fake account".into(),
        s if s.starts_with("branding") => "Approve a logo or branding asset".into(),
        other => other.replace('_', " "),
    }
}

fn level_name(level: &str) -> &'static str {
    match level {
        "BROADCAST" => "Level 1: Broadcast",
        "CONSULT" => "Level 2: Consult",
        "PARTICIPATE" => "Level 3: Participate",
        "ENGAGE" => "Level 4: Engage",
        _ => "Unknown level",
    }
}

fn status_tag(status: &str) -> Markup {
    let (text, colour) = match status {
        "SUBMITTED" => ("Submitted", "govuk-tag--blue"),
        "CHANGES_REQUESTED" => ("Changes requested", "govuk-tag--orange"),
        "APPROVED" => ("Approved", "govuk-tag--turquoise"),
        "PUBLISHED" => ("Published", "govuk-tag--green"),
        "WITHDRAWN" => ("Withdrawn", "govuk-tag--grey"),
        "REJECTED" => ("Rejected", "govuk-tag--red"),
        other => (other, "govuk-tag--grey"),
    };
    html! { strong class={ "govuk-tag " (colour) } { (text) } }
}

fn date(v: &Value) -> String {
    v.as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.format("%-d %B %Y at %H:%M").to_string())
        .or_else(|| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// The error summary at the top of a page: each problem links to its field.
fn error_summary(errors: &[(String, String)]) -> Markup {
    html! {
        @if !errors.is_empty() {
            div class="govuk-error-summary" data-module="govuk-error-summary" {
                div role="alert" {
                    h2 class="govuk-error-summary__title" { "There is a problem" }
                    div class="govuk-error-summary__body" { ul class="govuk-list govuk-error-summary__list" {
                        @for (field, message) in errors { li { a href={ "#" (field) } { (message) } } }
                    } }
                }
            }
        }
    }
}

fn refusal_page(
    state: &StaffState,
    session: &Session,
    title: &str,
    refusals: &[Refusal],
) -> Response {
    let status = match refusals.first().map(|r| r.code.as_str()) {
        Some("FORBIDDEN") => StatusCode::FORBIDDEN,
        Some("NOT_FOUND") => StatusCode::NOT_FOUND,
        Some("INTERNAL") | None => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    page(
        state,
        Some(session),
        status,
        title,
        html! {
            h1 class="govuk-heading-l" { (title) }
            @for r in refusals { p class="govuk-body" { (r.message) } }
            p class="govuk-body" { a class="govuk-link" href="/staff" { "Back to what waits for you" } }
        },
    )
}

// --- What waits for me --------------------------------------------------------

pub(crate) async fn home(
    State(state): State<StaffState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<After>,
) -> Response {
    let session = match require(&state, &headers, "/staff").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    // The queue shown reflects at least the head read first: the page's
    // live updates subscribe from that head and miss nothing after it.
    let head = match api::run(&state.schema, &session, "StaffHead", json!({})).await {
        Ok(d) => d["logPosition"]
            .as_i64()
            .unwrap_or(0)
            .max(q.after.unwrap_or(0)),
        Err(r) => return refusal_page(&state, &session, "What waits for you", &r),
    };
    let vars = json!({"atLeastPosition": head});
    let data = match api::run(&state.schema, &session, "StaffHome", vars).await {
        Ok(d) => d,
        Err(r) => return refusal_page(&state, &session, "What waits for you", &r),
    };
    // Someone with only roles that nothing waits for (an integration) has
    // no live list.
    let live = !domain::access::integration_only(&session.actor);
    let items = data["myApprovals"].as_array().cloned().unwrap_or_default();
    let greeting = session
        .name
        .clone()
        .unwrap_or_else(|| session.actor.subject.clone());
    let roles: Vec<&str> = session.actor.roles.iter().map(|r| role_name(*r)).collect();
    let body = html! {
        span class="govuk-caption-l" { (greeting) " · " (roles.join(", ")) }
        h1 class="govuk-heading-xl" { "What waits for you" }
        p class="govuk-body-s staff-live" id="live-status" role="status" {}
        div id="queue-region" data-position=(head) data-live=(if live { "yes" } else { "no" }) {
        @if items.is_empty() {
            p class="govuk-body" id="queue-empty" { "Nothing waits for you. " a class="govuk-link" href="/staff/new" { "Register an account" } }
        } @else {
            table class="govuk-table" id="queue" {
                caption class="govuk-table__caption govuk-table__caption--m" { (items.len()) " waiting, longest waiting first" }
                thead class="govuk-table__head" { tr class="govuk-table__row" {
                    th scope="col" class="govuk-table__header" { "What" }
                    th scope="col" class="govuk-table__header" { "Account" }
                    th scope="col" class="govuk-table__header" { "As" }
                    th scope="col" class="govuk-table__header" { "Waiting since" }
                } }
                tbody class="govuk-table__body" {
                    @for item in &items {
                        @let id = text(&item["registrationId"]);
                        @let step = text(&item["step"]);
                        tr class="govuk-table__row" {
                            td class="govuk-table__cell" {
                                @if step == "fake_account_report" { a class="govuk-link" href={ "/staff/reports#report-" (id) } { (step_name(step)) } }
                                @else { a class="govuk-link" href={ "/staff/registrations/" (id) } { (step_name(step)) } }
                            }
                            td class="govuk-table__cell" { (text(&item["accountKey"])) br; span class="govuk-hint" { (level_name(text(&item["level"]))) } }
                            td class="govuk-table__cell" { (role_of_code(text(&item["role"]))) }
                            td class="govuk-table__cell" { (date(&item["waitingSince"])) }
                        }
                    }
                }
            }
        }
        }
    };
    page(
        &state,
        Some(&session),
        StatusCode::OK,
        "What waits for you",
        body,
    )
}

// --- My registrations -----------------------------------------------------------

pub(crate) async fn my_registrations(
    State(state): State<StaffState>,
    headers: HeaderMap,
) -> Response {
    let session = match require(&state, &headers, "/staff/registrations").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let vars = json!({"subject": session.actor.subject});
    let data = match api::run(&state.schema, &session, "MyRegistrations", vars).await {
        Ok(d) => d,
        Err(r) => return refusal_page(&state, &session, "My registrations", &r),
    };
    let mut rows: BTreeMap<String, Value> = BTreeMap::new();
    for key in ["submitted", "named"] {
        for r in data[key]["nodes"].as_array().into_iter().flatten() {
            rows.insert(
                text(&r["submittedAt"]).to_owned() + text(&r["id"]),
                r.clone(),
            );
        }
    }
    let body = html! {
        h1 class="govuk-heading-xl" { "My registrations" }
        p class="govuk-body" { "Accounts you registered, and those whose forms name you." }
        @if rows.is_empty() {
            p class="govuk-body" { "None yet. " a class="govuk-link" href="/staff/new" { "Register an account" } }
        } @else {
            table class="govuk-table" {
                thead class="govuk-table__head" { tr class="govuk-table__row" {
                    th scope="col" class="govuk-table__header" { "Account" }
                    th scope="col" class="govuk-table__header" { "Level" }
                    th scope="col" class="govuk-table__header" { "Status" }
                    th scope="col" class="govuk-table__header" { "Last change" }
                } }
                tbody class="govuk-table__body" {
                    @for r in rows.values().rev() {
                        tr class="govuk-table__row" {
                            td class="govuk-table__cell" { a class="govuk-link" href={ "/staff/registrations/" (text(&r["id"])) } { (text(&r["accountKey"])) } }
                            td class="govuk-table__cell" { (level_name(text(&r["level"]))) }
                            td class="govuk-table__cell" { (status_tag(text(&r["status"]))) }
                            td class="govuk-table__cell" { (date(&r["updatedAt"])) }
                        }
                    }
                }
            }
        }
    };
    page(
        &state,
        Some(&session),
        StatusCode::OK,
        "My registrations",
        body,
    )
}

// --- Fake account reports ---------------------------------------------------------

#[derive(serde::Deserialize)]
pub(crate) struct After {
    /// The log position of the change just made: the page waits (bounded)
    /// until the read models show it.
    after: Option<i64>,
}

pub(crate) async fn reports(
    State(state): State<StaffState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<After>,
) -> Response {
    let session = match require(&state, &headers, "/staff/reports").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    reports_page(&state, &session, None, q.after).await
}

async fn reports_page(
    state: &StaffState,
    session: &Session,
    refused: Option<(&str, Vec<Refusal>)>,
    after: Option<i64>,
) -> Response {
    let vars = json!({"openOnly": false, "atLeastPosition": after});
    let data = match api::run(&state.schema, session, "FakeAccountReports", vars).await {
        Ok(d) => d,
        Err(r) => return refusal_page(state, session, "Fake account reports", &r),
    };
    let all = data["fakeAccountReports"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let (open, closed): (Vec<&Value>, Vec<&Value>) =
        all.iter().partition(|r| r["closedAt"].is_null());
    let may_close = session.actor.has(Role::Communications);
    let body = html! {
        @if let Some((id, refusals)) = &refused {
            div class="govuk-error-summary" data-module="govuk-error-summary" {
                div role="alert" {
                    h2 class="govuk-error-summary__title" { "That was not done" }
                    div class="govuk-error-summary__body" { ul class="govuk-list govuk-error-summary__list" {
                        @for f in refusals { li { a href={ "#outcome-" (id) } { (f.message) } } }
                    } }
                }
            }
        }
        h1 class="govuk-heading-xl" { "Fake account reports" }
        p class="govuk-body" { "Reports from the public of accounts they think pretend to be the council's, oldest first." }
        h2 class="govuk-heading-l" { "Open (" (open.len()) ")" }
        @if open.is_empty() { p class="govuk-body" { "No report is open." } }
        @for r in &open {
            @let id = text(&r["id"]);
            div class="govuk-summary-card" id={ "report-" (id) } {
                div class="govuk-summary-card__title-wrapper" { h3 class="govuk-summary-card__title" { (text(&r["reference"])) ": " (text(&r["account"])) } }
                div class="govuk-summary-card__content" {
                    dl class="govuk-summary-list" {
                        (summary_row("Reported", html! { (date(&r["reportedAt"])) }))
                        (summary_row("Could be", html! { (r["accountKeys"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default()) }))
                        (summary_row("What they noticed", html! { @if text(&r["details"]).is_empty() { "Nothing written" } @else { (text(&r["details"])) } }))
                    }
                    @if may_close {
                        form method="post" action={ "/staff/reports/" (id) "/close" } {
                            input type="hidden" name="csrf" value=(session.csrf);
                            div class="govuk-form-group" {
                                label class="govuk-label govuk-label--s" for={ "outcome-" (id) } { "What was done" }
                                div class="govuk-hint" id={ "outcome-" (id) "-hint" } { "For example, reported to the platform as impersonation" }
                                textarea class="govuk-textarea" id={ "outcome-" (id) } name="outcome" rows="2" aria-describedby={ "outcome-" (id) "-hint" } {}
                            }
                            button type="submit" class="govuk-button" data-module="govuk-button" { "Close " (text(&r["reference"])) }
                        }
                    }
                }
            }
        }
        h2 class="govuk-heading-l" { "Closed (" (closed.len()) ")" }
        @if !closed.is_empty() {
            table class="govuk-table" {
                thead class="govuk-table__head" { tr class="govuk-table__row" {
                    th scope="col" class="govuk-table__header" { "Report" }
                    th scope="col" class="govuk-table__header" { "Account" }
                    th scope="col" class="govuk-table__header" { "What was done" }
                    th scope="col" class="govuk-table__header" { "Closed" }
                } }
                tbody class="govuk-table__body" {
                    @for r in &closed {
                        tr class="govuk-table__row" {
                            td class="govuk-table__cell" { (text(&r["reference"])) }
                            td class="govuk-table__cell" { (text(&r["account"])) }
                            td class="govuk-table__cell" { (text(&r["outcome"])) }
                            td class="govuk-table__cell" { (date(&r["closedAt"])) " by " (text(&r["closedBy"])) }
                        }
                    }
                }
            }
        }
    };
    let status = if refused.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    page(state, Some(session), status, "Fake account reports", body)
}

pub(crate) async fn close_report(
    State(state): State<StaffState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let session = match require_form(&state, &headers, "/staff/reports", &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let outcome = form
        .get("outcome")
        .map(|o| o.trim().to_owned())
        .unwrap_or_default();
    let vars = json!({"id": id, "outcome": outcome});
    match api::run(&state.schema, &session, "CloseFakeAccountReport", vars).await {
        Ok(data) => Redirect::to(&format!(
            "/staff/reports?after={}",
            data["closeFakeAccountReport"].as_i64().unwrap_or(0)
        ))
        .into_response(),
        Err(refusals) => {
            let refusals: Vec<Refusal> = refusals
                .into_iter()
                .map(|mut r| {
                    if r.field.as_deref() == Some("outcome") || r.message.starts_with("outcome") {
                        r.message = "Say what was done about the report".into();
                    }
                    r
                })
                .collect();
            reports_page(&state, &session, Some((id.as_str(), refusals)), None).await
        }
    }
}

// --- A registration's page --------------------------------------------------------

fn summary_row(key: &str, value: Markup) -> Markup {
    html! {
        div class="govuk-summary-list__row" {
            dt class="govuk-summary-list__key" { (key) }
            dd class="govuk-summary-list__value" { (value) }
        }
    }
}

fn person(p: &Value) -> Markup {
    html! {
        @if p["erased"].as_bool() == Some(true) { "(erased)" }
        @else {
            (p["name"].as_str().unwrap_or("(name not shown)"))
            @if let Some(e) = p["email"].as_str() { br; span class="govuk-hint" { (e) } }
        }
    }
}

/// The actions this person may try now: offered by role and state; the
/// API still decides and says why not.
fn actions(r: &Value, session: &Session) -> Vec<&'static str> {
    let current_policy = text(&r["currentPolicy"]);
    let status = text(&r["status"]);
    let steps: Vec<&str> = r["outstandingSteps"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let me = session.actor.subject.as_str();
    let has = |role| session.actor.has(role);
    let mut out = Vec::new();
    let open = matches!(status, "SUBMITTED" | "CHANGES_REQUESTED" | "APPROVED");
    let waiting = |s: &str| steps.iter().any(|x| x.starts_with(s));
    let step = |s: &str| steps.contains(&s);
    if open && step("risk_assessment") {
        out.push("record_risk_assessment");
    }
    if open
        && step("risk_assessment_signature")
        && !step("risk_assessment")
        && r["details"]["lineManager"]["subject"].as_str() == Some(me)
    {
        out.push("sign_risk_assessment");
    }
    if open
        && step("senior_officer_sign_off")
        && r["details"]["seniorOfficer"]["subject"].as_str() == Some(me)
    {
        out.push("senior_sign_off");
    }
    if open && waiting("consultation_listing") && has(Role::Consultation) {
        out.push("consultation_listing");
    }
    if has(Role::Communications) {
        if open && waiting("branding") {
            out.push("approve_branding");
        }
        if status == "SUBMITTED" {
            out.push("approve");
            out.push("request_changes");
            out.push("reject");
        }
        if status == "APPROVED" {
            out.push("publish");
        }
    }
    if status == "PUBLISHED"
        && (has(Role::Communications) || r["businessContact"]["subject"].as_str() == Some(me))
    {
        out.push("revalidate");
    }
    if status == "PUBLISHED" && has(Role::Communications) {
        if text(&r["details"]["__typename"]) == "ParticipateDetails"
            && r["officerLinkBack"].is_null()
        {
            out.push("record_link_back");
        }
        if r["permanentId"].is_null() {
            out.push("record_permanent_id");
        }
    }
    if status == "PUBLISHED"
        && r["businessContact"]["subject"].as_str() == Some(me)
        && !current_policy.is_empty()
        && text(&r["policyAcknowledgement"]["version"]) != current_policy
    {
        out.push("acknowledge_policy");
    }
    if r["pendingChange"].is_object()
        && (text(&r["pendingChange"]["proposedBy"]) == me || has(Role::Communications))
    {
        out.push("withdraw_change");
    }
    if status == "PUBLISHED"
        && r["pendingChange"].is_null()
        && (text(&r["applicant"]) == me
            || r["businessContact"]["subject"].as_str() == Some(me)
            || has(Role::Communications))
    {
        out.push("propose_change");
    }
    let applicant = text(&r["applicant"]) == me;
    if !matches!(status, "WITHDRAWN" | "REJECTED") && (applicant || has(Role::Communications)) {
        out.push("withdraw");
    }
    out
}

/// What a registration waits for, and from whom: each outstanding step
/// with the person named for it on the form, or the team that does it.
fn waiting_for(r: &Value) -> Vec<(String, String)> {
    let named = |p: &Value, role: &str| match p["name"].as_str() {
        Some(name) => format!("{name}, the {role}"),
        None => format!("the {role}"),
    };
    let mut out: Vec<(String, String)> = r["outstandingSteps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|step| {
            let whom = match step {
                "risk_assessment" => format!(
                    "the applicant or {}",
                    named(&r["details"]["officer"], "officer")
                ),
                "risk_assessment_signature" => named(&r["details"]["lineManager"], "line manager"),
                "senior_officer_sign_off" => {
                    named(&r["details"]["seniorOfficer"], "senior officer")
                }
                "consultation_listing" => "the consultation team".to_owned(),
                _ => "the communications team".to_owned(),
            };
            (step_name(step), whom)
        })
        .collect();
    match text(&r["status"]) {
        "APPROVED" => out.push((
            step_name("publication"),
            "the communications team".to_owned(),
        )),
        "CHANGES_REQUESTED" => {
            out.push(("Changes to the form".to_owned(), "the applicant".to_owned()))
        }
        _ => {}
    }
    out
}

/// A service's name from its code.
fn service_name(data: &Value, code: &str) -> String {
    data["organisationalUnits"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| u["code"] == code)
        .and_then(|u| u["name"].as_str())
        .unwrap_or(code)
        .to_owned()
}

/// A person the history names: by the name the form gives them when it
/// names them (and this reader may see it), else by their staff id.
fn who(r: &Value, subject: &str) -> String {
    let d = &r["details"];
    [
        &r["businessContact"],
        &d["officer"],
        &d["lineManager"],
        &d["seniorOfficer"],
    ]
    .into_iter()
    .find(|p| p["subject"] == subject)
    .and_then(|p| p["name"].as_str())
    .map(|n| format!("{n} ({subject})"))
    .unwrap_or_else(|| subject.to_owned())
}

fn timeline(r: &Value) -> Vec<(String, String, String)> {
    let mut out = vec![(
        text(&r["submittedAt"]).to_owned(),
        "Submitted".to_owned(),
        text(&r["applicant"]).to_owned(),
    )];
    let mut push = |v: &Value, what: &str| {
        if v.is_object() {
            let at = v["at"]
                .as_str()
                .or(v["recordedAt"].as_str())
                .unwrap_or_default();
            let by = v["by"]
                .as_str()
                .or(v["recordedBy"].as_str())
                .unwrap_or_default();
            out.push((at.to_owned(), what.to_owned(), by.to_owned()));
        }
    };
    push(&r["riskAssessment"], "Risk assessment recorded");
    push(
        &r["riskAssessmentSignature"],
        "Risk assessment signed by the line manager",
    );
    push(
        &r["seniorOfficerSignOff"],
        "Signed off by the senior officer",
    );
    push(&r["consultationListing"], "Listed in Consultation Finder");
    for a in r["brandingAssets"].as_array().into_iter().flatten() {
        push(&a["approval"], "Branding asset approved");
    }
    push(&r["changesRequested"], "Changes requested");
    push(&r["approval"], "Approved by communications");
    push(&r["publication"], "Published");
    push(&r["rejection"], "Rejected");
    push(&r["withdrawal"], "Withdrawn");
    push(
        &r["officerLinkBack"]["checked"],
        "Officer's profile link to their page checked",
    );
    if r["lastValidated"]["at"] != r["publication"]["at"] {
        push(&r["lastValidated"], "Re-validated");
    }
    out.sort();
    out
}

fn action_form(id: &str, version: i64, csrf: &str, action: &str, r: &Value) -> Markup {
    let hidden = html! {
        input type="hidden" name="csrf" value=(csrf);
        input type="hidden" name="action" value=(action);
        input type="hidden" name="version" value=(version);
    };
    let url = format!("/staff/registrations/{id}/act");
    let simple = |label: &str, class: &str| {
        html! { form method="post" action=(url) class="staff-action" { (hidden) button type="submit" class={ "govuk-button " (class) } data-module="govuk-button" { (label) } } }
    };
    let reasoned = |label: &str, hint: &str, class: &str| {
        let field = format!("reason-{action}");
        html! {
            form method="post" action=(url) class="staff-action" {
                (hidden)
                div class="govuk-form-group" {
                    label class="govuk-label govuk-label--s" for=(field) { (label) ": reason" }
                    div class="govuk-hint" id={ (field) "-hint" } { (hint) }
                    textarea class="govuk-textarea" id=(field) name="reason" rows="2" aria-describedby={ (field) "-hint" } {}
                }
                button type="submit" class={ "govuk-button " (class) } data-module="govuk-button" { (label) }
            }
        }
    };
    match action {
        "approve" => simple("Approve", ""),
        "publish" => simple("Publish", ""),
        "sign_risk_assessment" => simple("Sign the risk assessment", ""),
        "senior_sign_off" => simple("Sign off as the senior officer", ""),
        "revalidate" => simple(
            "Confirm it is still used and needed",
            "govuk-button--secondary",
        ),
        "request_changes" => reasoned(
            "Ask for changes",
            "Say what the applicant should change.",
            "govuk-button--secondary",
        ),
        "reject" => reasoned(
            "Reject",
            "Say why; the applicant will see this.",
            "govuk-button--warning",
        ),
        "withdraw" => reasoned(
            "Withdraw",
            "Say why it is no longer an official account.",
            "govuk-button--warning",
        ),
        "propose_change" => html! {
            p class="govuk-body" { "Its form as it stands, to change: it stays published as it is while the change is signed off." }
            a href={ "/staff/registrations/" (id) "/change" } role="button" draggable="false" class="govuk-button govuk-button--secondary" data-module="govuk-button" { "Propose a change" }
        },
        "withdraw_change" => reasoned(
            "Withdraw the proposed change",
            "Say why the change is no longer wanted.",
            "govuk-button--secondary",
        ),
        "acknowledge_policy" => {
            let current = text(&r["currentPolicy"]);
            html! {
                form method="post" action=(url) class="staff-action" {
                    (hidden)
                    input type="hidden" name="policy_version" value=(current);
                    p class="govuk-body" { "A new version of the social media policy has been published since this account's contact last acknowledged it." }
                    button type="submit" class="govuk-button" data-module="govuk-button" { "I have read and accept policy version " (current) }
                }
            }
        }
        "record_link_back" => html! {
            form method="post" action=(url) class="staff-action" {
                (hidden)
                div class="govuk-form-group" {
                    label class="govuk-label govuk-label--s" for="profile-url" { "The account's profile address you checked" }
                    div class="govuk-hint" id="profile-url-hint" { "The officer's profile must link to their page on the council's site. For example, https://x.com/NorthYouthSam" }
                    input class="govuk-input" id="profile-url" name="profile_url" type="url" value=(text(&r["accountUrl"])) aria-describedby="profile-url-hint";
                }
                button type="submit" class="govuk-button" data-module="govuk-button" { "Record that the profile links back" }
            }
        },
        "record_permanent_id" => html! {
            form method="post" action=(url) class="staff-action" {
                (hidden)
                div class="govuk-form-group" {
                    label class="govuk-label govuk-label--s" for="permanent-id" { "The platform's permanent id of the account" }
                    div class="govuk-hint" id="permanent-id-hint" { "It stays the same when the account's name changes: the numeric id on X, Instagram or Facebook, the channel id (UC…) on YouTube, the DID on Bluesky" }
                    input class="govuk-input govuk-input--width-20" id="permanent-id" name="permanent_id" type="text" aria-describedby="permanent-id-hint";
                }
                button type="submit" class="govuk-button govuk-button--secondary" data-module="govuk-button" { "Record the permanent id" }
            }
        },
        "consultation_listing" => html! {
            form method="post" action=(url) class="staff-action" {
                (hidden)
                div class="govuk-form-group" {
                    label class="govuk-label govuk-label--s" for="finder-reference" { "Consultation Finder reference" }
                    div class="govuk-hint" id="finder-reference-hint" { "For example, CF-2026-041" }
                    input class="govuk-input govuk-input--width-20" id="finder-reference" name="finder_reference" type="text" aria-describedby="finder-reference-hint";
                }
                button type="submit" class="govuk-button" data-module="govuk-button" { "Record the listing" }
            }
        },
        "approve_branding" => html! {
            @for a in r["brandingAssets"].as_array().into_iter().flatten().filter(|a| a["approval"].is_null()) {
                form method="post" action=(url) class="staff-action" {
                    (hidden)
                    input type="hidden" name="asset_id" value=(text(&a["id"]));
                    button type="submit" class="govuk-button govuk-button--secondary" data-module="govuk-button" {
                        "Approve the logo “" (text(&a["description"])) "”"
                    }
                }
            }
        },
        "record_risk_assessment" => html! {
            form method="post" action=(url) class="staff-action" {
                (hidden)
                h3 class="govuk-heading-s" { "Record the risk assessment" }
                // Usually the officer or their line manager assessed the
                // risks: they are named on the form, so choose one; anyone
                // else is entered by hand.
                @let named: Vec<(&str, &str, &str)> = [("officer", "the officer"), ("lineManager", "the line manager")]
                    .iter()
                    .filter_map(|(k, what)| {
                        let p = &r["details"][*k];
                        Some((p["subject"].as_str()?, p["name"].as_str()?, *what))
                    })
                    .collect();
                div class="govuk-form-group" {
                    fieldset class="govuk-fieldset" {
                        legend class="govuk-fieldset__legend govuk-fieldset__legend--s" { "Who assessed the risks" }
                        div class="govuk-radios" data-module="govuk-radios" {
                            @for (i, (subject, name, what)) in named.iter().enumerate() {
                                div class="govuk-radios__item" {
                                    input class="govuk-radios__input" id={ "assessor-" (i) } name="assessor_choice" type="radio" value=(subject) checked[i == 0];
                                    label class="govuk-label govuk-radios__label" for={ "assessor-" (i) } { (name) " (" (what) ")" }
                                }
                                input type="hidden" name={ "assessor_name_" (subject) } value=(name);
                            }
                            div class="govuk-radios__item" {
                                input class="govuk-radios__input" id="assessor-other" name="assessor_choice" type="radio" value="other" data-aria-controls="assessor-other-details" checked[named.is_empty()];
                                label class="govuk-label govuk-radios__label" for="assessor-other" { "Someone else" }
                            }
                            div class="govuk-radios__conditional govuk-radios__conditional--hidden" id="assessor-other-details" {
                                (input("assessor", "Their full name", "", "", None))
                                (input("assessor_subject", "Their staff id", "As on the council's directory, for example jsmith", "", None))
                            }
                        }
                    }
                }
                (input("assessed_on", "Date of the assessment", "For example, 2026-11-20", "", None))
                (input("risk", "A risk you identified", "For example, messages from young people out of hours", "", None))
                (input("mitigation", "How it is managed", "For example, an automatic reply with office hours", "", None))
                (input("document_reference", "Where the signed document is kept", "For example, RA-2026-031", "", None))
                button type="submit" class="govuk-button" data-module="govuk-button" { "Record the risk assessment" }
            }
        },
        _ => html! {},
    }
}

pub(crate) async fn registration(
    State(state): State<StaffState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let here = format!("/staff/registrations/{id}");
    let session = match require(&state, &headers, &here).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    registration_page(&state, &session, &id, None).await
}

async fn registration_page(
    state: &StaffState,
    session: &Session,
    id: &str,
    refused: Option<(&str, Vec<Refusal>)>,
) -> Response {
    let data = match api::run(
        &state.schema,
        session,
        "StaffRegistration",
        json!({"id": id}),
    )
    .await
    {
        Ok(d) => d,
        Err(r) => return refusal_page(state, session, "This registration cannot be shown", &r),
    };
    let mut r = data["registration"].clone();
    r["currentPolicy"] = data["policyVersions"][0]["version"].clone();
    let r = &r;
    let version = r["version"].as_i64().unwrap_or(0);
    let steps = waiting_for(r);
    let details = &r["details"];
    let body = html! {
        @if let Some((action, refusals)) = &refused {
            div class="govuk-error-summary" data-module="govuk-error-summary" {
                div role="alert" {
                    h2 class="govuk-error-summary__title" { "That was not done" }
                    div class="govuk-error-summary__body" { ul class="govuk-list govuk-error-summary__list" {
                        @for f in refusals { li { a href={ "#action-" (action) } { (f.message) } } }
                    } }
                }
            }
        }
        span class="govuk-caption-l" { (level_name(text(&r["level"]))) }
        h1 class="govuk-heading-xl" { (text(&r["accountKey"])) }
        p class="govuk-body" { (status_tag(text(&r["status"]))) " " a class="govuk-link" href=(text(&r["accountUrl"])) { "Open the account" } }
        @if !steps.is_empty() {
            div class="govuk-inset-text" id="waiting-for" {
                p class="govuk-body" { "It waits for:" }
                ul class="govuk-list govuk-list--bullet" {
                    @for (what, whom) in &steps { li { (what) ": " strong { (whom) } } }
                }
            }
        }
        @if r["pendingChange"].is_object() {
            div class="govuk-notification-banner" role="region" aria-labelledby="pending-change-title" data-module="govuk-notification-banner" {
                div class="govuk-notification-banner__header" { h2 class="govuk-notification-banner__title" id="pending-change-title" { "A change is proposed" } }
                div class="govuk-notification-banner__content" {
                    p class="govuk-body" { "Proposed " (date(&r["pendingChange"]["proposedAt"])) ": " (text(&r["pendingChange"]["reason"])) }
                    p class="govuk-body" { "The account stays published under its current details until the change is signed off and published." }
                }
            }
        }
        h2 class="govuk-heading-m" { "Details" }
        dl class="govuk-summary-list" {
            (summary_row("Service", html! { (service_name(&data, text(&r["serviceArea"]))) }))
            (summary_row("Business contact", person(&r["businessContact"])))
            (summary_row("Social media policy", html! {
                "Version " (r["policyAcknowledgement"]["version"].as_str().unwrap_or(text(&r["policyVersion"]))) " acknowledged"
                @if !text(&r["currentPolicy"]).is_empty() && r["policyAcknowledgement"]["version"].as_str().is_some_and(|v| v != text(&r["currentPolicy"])) {
                    " " strong class="govuk-tag govuk-tag--orange" { "Version " (text(&r["currentPolicy"])) " not yet acknowledged" }
                }
            }))
            @if r["revalidationDue"].is_object() {
                (summary_row("Next re-validation", html! {
                    (text(&r["revalidationDue"]["dueOn"]))
                    @if r["revalidationDue"]["overdue"] == true { " " strong class="govuk-tag govuk-tag--red" { "Overdue" } }
                }))
            }
            @if let Some(pid) = r["permanentId"].as_str() {
                (summary_row("Platform's permanent id", html! { (pid) }))
            }
            @if r["officerLinkBack"].is_object() {
                (summary_row("Officer's profile links back", html! { "Checked " (date(&r["officerLinkBack"]["checked"]["at"])) " at " (text(&r["officerLinkBack"]["profileUrl"])) }))
            }
            @match text(&details["__typename"]) {
                "BroadcastDetails" => {
                    (summary_row("Information it broadcasts", html! { (details["informationTypes"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default()) }))
                }
                "ConsultDetails" => {
                    (summary_row("Consultation topic", html! { (text(&details["topic"])) }))
                    (summary_row("Open", html! { (text(&details["opensOn"])) " to " (text(&details["closesOn"])) }))
                }
                "ParticipateDetails" => {
                    (summary_row("Officer", person(&details["officer"])))
                    (summary_row("Job role", html! { (text(&details["jobRole"])) }))
                    (summary_row("Line manager", person(&details["lineManager"])))
                }
                "EngageDetails" => {
                    (summary_row("Topics", html! { (details["topics"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default()) }))
                    (summary_row("Senior officer", person(&details["seniorOfficer"])))
                    (summary_row("Councillor", html! { (details["councillor"].as_str().unwrap_or("None involved")) }))
                }
                _ => {}
            }
            @for a in r["brandingAssets"].as_array().into_iter().flatten() {
                (summary_row("Logo", html! { (text(&a["description"])) " (" (text(&a["reference"])) ") " @if a["approval"].is_null() { strong class="govuk-tag govuk-tag--yellow" { "Waiting for approval" } } @else { strong class="govuk-tag govuk-tag--green" { "Approved" } } }))
            }
        }
        @let offered = actions(r, session);
        @if !offered.is_empty() {
            h2 class="govuk-heading-m" { "What you can do" }
            @for action in &offered {
                div id={ "action-" (action) } { (action_form(id, version, &session.csrf, action, r)) }
            }
        }
        h2 class="govuk-heading-m" { "History" }
        @if session.actor.has(Role::Auditor) || session.actor.has(Role::Communications) {
            p class="govuk-body" { a class="govuk-link" href={ "/staff/audit/registrations/" (id) } { "Every event, with who did it and in which role" } }
        }
        ol class="govuk-list staff-timeline" {
            @for (at, what, by) in timeline(r) {
                li { strong { (what) } " by " (who(r, &by)) span class="govuk-hint" { " " (date(&Value::String(at))) } }
            }
        }
    };
    let status = if refused.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    page(state, Some(session), status, text(&r["accountKey"]), body)
}

pub(crate) async fn act(
    State(state): State<StaffState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let here = format!("/staff/registrations/{id}");
    let session = match require_form(&state, &headers, &here, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let field = |k: &str| form.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let version: Option<i64> = form.get("version").and_then(|v| v.parse().ok());
    let action = field("action");
    let mut vars = json!({"id": id, "version": version});
    let operation = match action.as_str() {
        "approve" => "ApproveRegistration",
        "publish" => "PublishRegistration",
        "sign_risk_assessment" => "SignRiskAssessment",
        "senior_sign_off" => "SignOffAsSeniorOfficer",
        "revalidate" => "RevalidateRegistration",
        "request_changes" | "reject" | "withdraw" => {
            vars["reason"] = json!(field("reason"));
            match action.as_str() {
                "request_changes" => "RequestChanges",
                "reject" => "RejectRegistration",
                _ => "WithdrawRegistration",
            }
        }
        "consultation_listing" => {
            vars["finderReference"] = json!(field("finder_reference"));
            "RecordConsultationListing"
        }
        "withdraw_change" => {
            vars["reason"] = json!(field("reason"));
            "WithdrawChange"
        }
        "acknowledge_policy" => {
            vars["policyVersion"] = json!(field("policy_version"));
            "AcknowledgePolicy"
        }
        "record_link_back" => {
            vars["profileUrl"] = json!(field("profile_url"));
            "RecordOfficerLinkBack"
        }
        "record_permanent_id" => {
            vars["permanentId"] = json!(field("permanent_id"));
            "RecordPermanentId"
        }
        "approve_branding" => {
            vars["assetId"] = json!(field("asset_id"));
            "ApproveBrandingAsset"
        }
        "record_risk_assessment" => {
            let choice = field("assessor_choice");
            let (assessor, assessor_subject) = match choice.as_str() {
                "" | "other" => (field("assessor"), field("assessor_subject")),
                subject => (
                    field(&format!("assessor_name_{subject}")),
                    subject.to_owned(),
                ),
            };
            vars["assessment"] = json!({
                "assessor": assessor,
                "assessorSubject": assessor_subject,
                "assessedOn": field("assessed_on"),
                "risks": [{"risk": field("risk"), "mitigation": field("mitigation")}],
                "documentReference": field("document_reference"),
            });
            "RecordRiskAssessment"
        }
        _ => return Redirect::to(&here).into_response(),
    };
    match api::run(&state.schema, &session, operation, vars).await {
        // Back to the page (post/redirect/get), which shows what is next,
        // or to the list the form was on, once it shows the change.
        Ok(data) => match form.get("return_to") {
            Some(to) => {
                let position = data
                    .as_object()
                    .and_then(|o| o.values().next())
                    .and_then(|p| p["position"].as_i64())
                    .unwrap_or(0);
                Redirect::to(&format!("{}?after={position}", safe_return(Some(to)))).into_response()
            }
            None => Redirect::to(&here).into_response(),
        },
        Err(refusals) => {
            let refusals = refusals.into_iter().map(plain).collect();
            registration_page(&state, &session, &id, Some((action.as_str(), refusals))).await
        }
    }
}

/// The API's refusals of a form, each at the form field it names (the
/// account when it names none), in words for the person.
fn form_errors(refusals: Vec<Refusal>) -> Vec<(String, String)> {
    refusals
        .into_iter()
        .map(|r| {
            let field = r
                .field
                .as_deref()
                .and_then(form_field)
                .unwrap_or("account")
                .to_owned();
            (field, plain(r).message)
        })
        .collect()
}

/// An API refusal in words for the person who met it.
fn plain(mut r: Refusal) -> Refusal {
    if r.code == "CONFLICT" && r.message.contains("version") {
        r.message = "Someone else changed this registration while you were looking at it. Nothing was done: look again and try once more.".into();
    }
    if let Some(field) = &r.field {
        if let Some(words) = field_words(field) {
            let problem = r
                .message
                .split_once(": ")
                .map(|(_, p)| p.to_owned())
                .unwrap_or(r.message.clone());
            r.message = format!("{words} {problem}");
        }
    }
    r
}

// --- New registration -----------------------------------------------------------

const LEVELS: [(&str, &str, &str, &str); 4] = [
    (
        "1",
        "Level 1: Broadcast",
        "To re-use existing content via RSS, or to provide simple conversational updates.",
        "You tell us the platform, the kind of information you will post, and who the business contact is. The communications team approves and publishes it.",
    ),
    (
        "2",
        "Level 2: Consult",
        "To gather structured feedback using tools such as surveys, blogs, video and podcasts.",
        "As level 1, plus the topic of the consultation and when it runs. The consultation team lists it in Consultation Finder before communications approves it.",
    ),
    (
        "3",
        "Level 3: Participate",
        "Where your job already means talking directly with the public or service users, for example a youth worker.",
        "As level 1, plus the officer who will use it, their job role (it must be on the accepted list) and their line manager. A risk assessment is recorded and signed by the line manager, and the officer's details are published on the council's website.",
    ),
    (
        "4",
        "Level 4: Engage",
        "Where the council needs a formal discussion or debate with people, communities or groups on one or more topics.",
        "As level 1, plus the topics, the senior officer responsible for them (who signs it off), any county councillor involved, and whether the press or media are invited or involved.",
    ),
];

pub(crate) async fn choose_level(State(state): State<StaffState>, headers: HeaderMap) -> Response {
    let session = match require(&state, &headers, "/staff/new").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let body = html! {
        h1 class="govuk-heading-xl" { "Register a social media account" }
        p class="govuk-body-l" { "Every account the council uses officially is registered at one of four levels. Choose the one that fits what the account is for." }
        @for (n, name, definition, asks) in LEVELS {
            div class="govuk-summary-card" {
                div class="govuk-summary-card__title-wrapper" { h2 class="govuk-summary-card__title" { (name) } }
                div class="govuk-summary-card__content" {
                    p class="govuk-body" { (definition) }
                    p class="govuk-body govuk-hint" { (asks) }
                    a class="govuk-button govuk-!-margin-bottom-0" href={ "/staff/new/" (n) } { "Register at " (name.split(':').next().unwrap_or(name).to_lowercase()) }
                }
            }
        }
    };
    page(
        &state,
        Some(&session),
        StatusCode::OK,
        "Register a social media account",
        body,
    )
}

type Fields = HashMap<String, String>;

fn input(name: &str, label: &str, hint: &str, value: &str, error: Option<&str>) -> Markup {
    let id = name.replace('_', "-");
    html! {
        div class={ "govuk-form-group" @if error.is_some() { " govuk-form-group--error" } } {
            label class="govuk-label" for=(id) { (label) }
            @if !hint.is_empty() { div class="govuk-hint" id={ (id) "-hint" } { (hint) } }
            @if let Some(e) = error { p class="govuk-error-message" id={ (id) "-error" } { span class="govuk-visually-hidden" { "Error:" } " " (e) } }
            input class={ "govuk-input" @if error.is_some() { " govuk-input--error" } } id=(id) name=(name) type="text" value=(value)
                aria-describedby={ @if !hint.is_empty() { (id) "-hint " } @if error.is_some() { (id) "-error" } };
        }
    }
}

fn select(
    name: &str,
    label: &str,
    hint: &str,
    options: &[(String, String)],
    value: &str,
    error: Option<&str>,
) -> Markup {
    let id = name.replace('_', "-");
    html! {
        div class={ "govuk-form-group" @if error.is_some() { " govuk-form-group--error" } } {
            label class="govuk-label" for=(id) { (label) }
            @if !hint.is_empty() { div class="govuk-hint" id={ (id) "-hint" } { (hint) } }
            @if let Some(e) = error { p class="govuk-error-message" id={ (id) "-error" } { span class="govuk-visually-hidden" { "Error:" } " " (e) } }
            select class={ "govuk-select" @if error.is_some() { " govuk-select--error" } } id=(id) name=(name)
                aria-describedby={ @if !hint.is_empty() { (id) "-hint " } @if error.is_some() { (id) "-error" } } {
                option value="" selected[value.is_empty()] { "Choose…" }
                @for (code, text) in options {
                    option value=(code) selected[value == code] { (text) }
                }
            }
        }
    }
}

fn checkbox(name: &str, label: &str, checked: bool, error: Option<&str>) -> Markup {
    let id = name.replace('_', "-");
    html! {
        div class={ "govuk-form-group" @if error.is_some() { " govuk-form-group--error" } } {
            @if let Some(e) = error { p class="govuk-error-message" id={ (id) "-error" } { span class="govuk-visually-hidden" { "Error:" } " " (e) } }
            div class="govuk-checkboxes" data-module="govuk-checkboxes" {
                div class="govuk-checkboxes__item" {
                    input class="govuk-checkboxes__input" id=(id) name=(name) type="checkbox" value="yes" checked[checked];
                    label class="govuk-label govuk-checkboxes__label" for=(id) { (label) }
                }
            }
        }
    }
}

/// The form's fields for `level`: name, label, hint.
fn level_fields(level: &str) -> Vec<(&'static str, &'static str, &'static str)> {
    let mut out = vec![
        ("platform", "Social media site", ""),
        (
            "account",
            "The account's address or handle",
            "Paste it from the site, for example https://x.com/NorthLibraries",
        ),
        ("service_area", "Service (business area)", ""),
        (
            "contact_subject",
            "Business contact: staff id",
            "As on the council's directory",
        ),
        ("contact_name", "Business contact: full name", ""),
        ("contact_email", "Business contact: work email", ""),
    ];
    match level {
        "1" => out.extend([
            (
                "information_types",
                "What kind of information it will post",
                "Separate them with commas, for example opening hours, events",
            ),
            (
                "content_sources",
                "Where the content comes from (optional)",
                "RSS feeds or web pages it re-uses, separated by commas",
            ),
        ]),
        "2" => out.extend([
            ("topic", "Topic or theme of the consultation", ""),
            (
                "opens_on",
                "The consultation opens on",
                "For example, 2027-01-04",
            ),
            (
                "closes_on",
                "The consultation closes on",
                "For example, 2027-02-28",
            ),
        ]),
        "3" => out.extend([
            ("officer_subject", "Officer who will use it: staff id", ""),
            ("officer_name", "Officer: full name", ""),
            ("officer_email", "Officer: work email", ""),
            ("job_role", "Officer's job role", ""),
            (
                "manager_subject",
                "Line manager: staff id",
                "They sign the risk assessment",
            ),
            ("manager_name", "Line manager: full name", ""),
            ("manager_email", "Line manager: work email", ""),
        ]),
        _ => out.extend([
            ("topics", "Topics of discussion", ""),
            (
                "senior_subject",
                "Senior officer responsible: staff id",
                "They sign it off, and need speaking authority for every topic",
            ),
            ("senior_name", "Senior officer: full name", ""),
            ("senior_email", "Senior officer: work email", ""),
            (
                "councillor",
                "County councillor involved (optional)",
                "Their name; leave empty when none is involved",
            ),
            (
                "councillor_id",
                "The councillor's member id (optional)",
                "As on the council's register of members",
            ),
            (
                "press_arrangements",
                "Press and media arrangements (optional)",
                "For example, a press release before each debate",
            ),
        ]),
    }
    out
}

/// Which form field an API field path is, and how to name it to a person.
fn form_field(api_field: &str) -> Option<&'static str> {
    let f = api_field.trim_start_matches("form.");
    Some(match f {
        "platform" => "platform",
        "account" => "account",
        "serviceArea" => "service_area",
        "policyVersion" | "policyAcknowledged" => "policy_acknowledged",
        "corporateIdentityAcknowledged" => "corporate_identity_acknowledged",
        _ if f.starts_with("businessContact.name") => "contact_name",
        _ if f.starts_with("businessContact.email") => "contact_email",
        _ if f.starts_with("businessContact") => "contact_subject",
        _ if f.contains("informationTypes") => "information_types",
        _ if f.contains("contentSources") => "content_sources",
        _ if f.contains("topic") && f.contains("consult") => "topic",
        _ if f.contains("opensOn") => "opens_on",
        _ if f.contains("closesOn") => "closes_on",
        _ if f.contains("officer.name") => "officer_name",
        _ if f.contains("officer.email") => "officer_email",
        _ if f.contains("officer") && !f.contains("senior") => "officer_subject",
        _ if f.contains("jobRole") => "job_role",
        _ if f.contains("lineManager.name") => "manager_name",
        _ if f.contains("lineManager.email") => "manager_email",
        _ if f.contains("lineManager") => "manager_subject",
        _ if f.contains("topics") => "topics",
        _ if f.contains("seniorOfficer.name") => "senior_name",
        _ if f.contains("seniorOfficer.email") => "senior_email",
        _ if f.contains("seniorOfficer") => "senior_subject",
        _ if f.contains("councillorId") => "councillor_id",
        _ if f.contains("councillor") => "councillor",
        _ if f.contains("pressMedia") => "press_arrangements",
        _ => return None,
    })
}

fn field_words(api_field: &str) -> Option<&'static str> {
    let f = form_field(api_field)?;
    Some(match f {
        "platform" => "The social media site",
        "account" => "The account's address",
        "service_area" => "The service",
        "contact_subject" | "contact_name" | "contact_email" => "The business contact",
        "officer_subject" | "officer_name" | "officer_email" => "The officer",
        "manager_subject" | "manager_name" | "manager_email" => "The line manager",
        "senior_subject" | "senior_name" | "senior_email" => "The senior officer",
        "job_role" => "The job role",
        "topics" | "topic" => "The topic",
        "opens_on" => "The opening date",
        "closes_on" => "The closing date",
        "information_types" => "The kind of information",
        "content_sources" => "The content sources",
        "councillor" | "councillor_id" => "The councillor",
        "policy_acknowledged" => "The policy acknowledgement",
        "corporate_identity_acknowledged" => "The corporate identity acknowledgement",
        _ => "This answer",
    })
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn staff_input(f: &Fields, prefix: &str) -> Value {
    let get = |k: &str| {
        f.get(&format!("{prefix}_{k}"))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let email = get("email");
    json!({"subject": get("subject"), "name": get("name"), "email": if email.is_empty() { Value::Null } else { json!(email) }})
}

/// The GraphQL form input from the page's fields.
fn form_input(level: &str, f: &Fields, policy: &str) -> Value {
    let get = |k: &str| f.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let details = match level {
        "1" => {
            json!({"broadcast": {"informationTypes": list(&get("information_types")), "contentSources": list(&get("content_sources"))}})
        }
        "2" => {
            json!({"consult": {"topic": get("topic"), "opensOn": get("opens_on"), "closesOn": get("closes_on")}})
        }
        "3" => {
            json!({"participate": {"officer": staff_input(f, "officer"), "jobRole": get("job_role"), "lineManager": staff_input(f, "manager")}})
        }
        _ => {
            let councillor = get("councillor");
            json!({"engage": {
                "topics": list(&get("topics")),
                "seniorOfficer": staff_input(f, "senior"),
                "councillor": if councillor.is_empty() { Value::Null } else { json!(councillor) },
                "councillorId": if get("councillor_id").is_empty() { Value::Null } else { json!(get("councillor_id")) },
                "noCouncillor": councillor.is_empty(),
                "pressMedia": {"invited": f.contains_key("press_invited"), "involved": f.contains_key("press_involved"),
                               "arrangements": if get("press_arrangements").is_empty() { Value::Null } else { json!(get("press_arrangements")) }},
            }})
        }
    };
    let assets: Vec<Value> = if get("logo_description").is_empty() {
        vec![]
    } else {
        vec![
            json!({"id": "logo-1", "description": get("logo_description"), "reference": get("logo_reference")}),
        ]
    };
    json!({
        "platform": get("platform"),
        "account": get("account"),
        "serviceArea": get("service_area"),
        "businessContact": staff_input(f, "contact"),
        "policyVersion": policy,
        "policyAcknowledged": f.contains_key("policy_acknowledged"),
        "corporateIdentityAcknowledged": f.contains_key("corporate_identity_acknowledged"),
        "brandingAssets": assets,
        "details": details,
    })
}

/// What the form's lists offer, and the current policy version.
struct Choices {
    policy: String,
    policy_url: Option<String>,
    platforms: Vec<(String, String)>,
    services: Vec<(String, String)>,
    job_roles: Vec<(String, String)>,
    topics: Vec<(String, String)>,
}

fn pairs(v: &Value, code: &str, name: &str) -> Vec<(String, String)> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter(|x| x["retired"].as_bool() != Some(true) && x["accepted"].as_bool() != Some(false))
        .map(|x| (text(&x[code]).to_owned(), text(&x[name]).to_owned()))
        .collect()
}

async fn choices(state: &StaffState, session: &Session) -> Choices {
    let data = api::run(&state.schema, session, "FormChoices", json!({}))
        .await
        .unwrap_or_default();
    let current = &data["policyVersions"][0];
    Choices {
        policy: current["version"].as_str().unwrap_or("2026.1").to_owned(),
        policy_url: current["url"].as_str().map(str::to_owned),
        platforms: domain::platform::Platform::ALL
            .iter()
            .map(|p| {
                (
                    format!("{p:?}").to_ascii_uppercase(),
                    p.display_name().to_owned(),
                )
            })
            .collect(),
        services: pairs(&data["organisationalUnits"], "code", "name"),
        job_roles: pairs(&data["jobRoles"], "code", "title"),
        topics: pairs(&data["topics"], "code", "name"),
    }
}

/// Where a level's form goes: a new registration, or a change proposed to
/// a published one (which also asks why).
struct FormTarget {
    action: String,
    back: String,
    caption: String,
    reason: bool,
}

impl FormTarget {
    fn new_registration(level: &str) -> FormTarget {
        FormTarget {
            action: format!("/staff/new/{level}"),
            back: "/staff/new".into(),
            caption: "Register a social media account".into(),
            reason: false,
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn form_page(
    state: &StaffState,
    session: &Session,
    level: &str,
    f: &Fields,
    errors: &[(String, String)],
    choices: &Choices,
    search: Option<&picker::Search>,
    target: &FormTarget,
) -> Response {
    let Some((_, name, definition, _)) = LEVELS.iter().find(|(n, ..)| *n == level) else {
        return Redirect::to("/staff/new").into_response();
    };
    let error_for = |field: &str| {
        errors
            .iter()
            .find(|(k, _)| k == field)
            .map(|(_, m)| m.as_str())
    };
    let value = |k: &str| f.get(k).cloned().unwrap_or_default();
    let body = html! {
        a href=(target.back) class="govuk-back-link" { "Back" }
        @if !errors.is_empty() {
            div class="govuk-error-summary" data-module="govuk-error-summary" {
                div role="alert" {
                    h2 class="govuk-error-summary__title" { "There is a problem" }
                    div class="govuk-error-summary__body" { ul class="govuk-list govuk-error-summary__list" {
                        @for (field, message) in errors { li { a href={ "#" (field.replace('_', "-")) } { (message) } } }
                    } }
                }
            }
        }
        span class="govuk-caption-l" { (target.caption) }
        h1 class="govuk-heading-xl" { (name) }
        p class="govuk-body" { (definition) }
        form method="post" action=(target.action) novalidate {
            input type="hidden" name="csrf" value=(session.csrf);
            // Enter in a field continues, as it did before the pickers
            // added buttons of their own above "Continue".
            button type="submit" name="step" value="check" class="staff-default-submit" tabindex="-1" aria-hidden="true" { "Continue" }
            @for (field, label, hint) in level_fields(level) {
                @if let Some(prefix) = picker::is_person_field(field) {
                    @if field.ends_with("_subject") {
                        @let whose = picker::PEOPLE.iter().find(|(p, _)| *p == prefix).map(|(_, w)| *w).unwrap_or_default();
                        @let error = ["_subject", "_name", "_email"].iter().find_map(|s| error_for(&format!("{prefix}{s}")));
                        (picker::picker(prefix, whose, hint, f, error, search))
                    }
                } @else {
                @match field {
                    "platform" => (select(field, label, "", &choices.platforms, &value(field), error_for(field))),
                    "service_area" => (select(field, label, "", &choices.services, &value(field), error_for(field))),
                    "job_role" => (select(field, label, "It must be on the council's list of accepted job roles", &choices.job_roles, &value(field), error_for(field))),
                    "topics" => {
                        div class={ "govuk-form-group" @if error_for(field).is_some() { " govuk-form-group--error" } } {
                            fieldset class="govuk-fieldset" aria-describedby="topics-hint" {
                                legend class="govuk-fieldset__legend govuk-fieldset__legend--s" { (label) }
                                div class="govuk-hint" id="topics-hint" { "Choose every topic it will discuss" }
                                @if let Some(e) = error_for(field) { p class="govuk-error-message" id="topics-error" { span class="govuk-visually-hidden" { "Error:" } " " (e) } }
                                div class="govuk-checkboxes" id="topics" data-module="govuk-checkboxes" {
                                    @for (code, name) in &choices.topics {
                                        @let id = format!("topic-{code}");
                                        div class="govuk-checkboxes__item" {
                                            input class="govuk-checkboxes__input" id=(id) name={ "topic_" (code) } type="checkbox" value="yes" checked[f.contains_key(&format!("topic_{code}"))];
                                            label class="govuk-label govuk-checkboxes__label" for=(id) { (name) }
                                        }
                                    }
                                }
                            }
                        }
                    },
                    _ => (input(field, label, hint, &value(field), error_for(field))),
                }
                }
            }
            @if level == "4" {
                (checkbox("press_invited", "The press or media are invited", f.contains_key("press_invited"), None))
                (checkbox("press_involved", "The press or media are involved", f.contains_key("press_involved"), None))
            }
            h2 class="govuk-heading-m" { "Branding" }
            p class="govuk-body" { "A logo or image other than the council's own needs communications' approval. Leave these empty if there is none." }
            (input("logo_description", "Logo: what it is (optional)", "For example, Summer reading logo", &value("logo_description"), error_for("logo_description")))
            (input("logo_reference", "Logo: where it is kept (optional)", "Its reference in the asset library, for example DAM-17", &value("logo_reference"), None))
            h2 class="govuk-heading-m" { "Before you submit" }
            p class="govuk-body" {
                "The current social media policy is version " (choices.policy) "."
                @if let Some(url) = &choices.policy_url { " " a class="govuk-link" href=(url) { "Read the policy" } }
            }
            (checkbox("policy_acknowledged", &format!("I have read and will follow the social media policy, version {}", choices.policy), f.contains_key("policy_acknowledged"), error_for("policy_acknowledged")))
            (checkbox("corporate_identity_acknowledged", "I will follow the council's corporate identity guidelines", f.contains_key("corporate_identity_acknowledged"), error_for("corporate_identity_acknowledged")))
            @if f.contains_key("checked") {
                input type="hidden" name="checked" value="yes";
            }
            @if target.reason {
                h2 class="govuk-heading-m" { "Why it changes" }
                div class={ "govuk-form-group" @if error_for("reason").is_some() { " govuk-form-group--error" } } {
                    label class="govuk-label" for="reason" { "Say what changes and why" }
                    div class="govuk-hint" id="reason-hint" { "Those who sign it off read this. It stays published as it is until the change is published." }
                    @if let Some(e) = error_for("reason") { p class="govuk-error-message" id="reason-error" { span class="govuk-visually-hidden" { "Error:" } " " (e) } }
                    textarea class={ "govuk-textarea" @if error_for("reason").is_some() { " govuk-textarea--error" } } id="reason" name="reason" rows="3"
                        aria-describedby={ "reason-hint" @if error_for("reason").is_some() { " reason-error" } } { (value("reason")) }
                }
            }
            div class="govuk-button-group" {
                button type="submit" name="step" value="check" class="govuk-button" data-module="govuk-button" {
                    @if target.reason { "Propose the change" } @else { "Continue" }
                }
            }
        }
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    page(state, Some(session), status, name, body)
}

pub(crate) async fn new_form(
    State(state): State<StaffState>,
    headers: HeaderMap,
    Path(level): Path<String>,
) -> Response {
    let session = match require(&state, &headers, &format!("/staff/new/{level}")).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let choices = choices(&state, &session).await;
    form_page(
        &state,
        &session,
        &level,
        &Fields::new(),
        &[],
        &choices,
        None,
        &FormTarget::new_registration(&level),
    )
}

fn check_answers(
    state: &StaffState,
    session: &Session,
    level: &str,
    f: &Fields,
    choices: &Choices,
) -> Response {
    let named = |field: &str, v: &str| -> String {
        let list = match field {
            "platform" => &choices.platforms,
            "service_area" => &choices.services,
            "job_role" => &choices.job_roles,
            "topics" => {
                return list(v)
                    .iter()
                    .map(|c| {
                        choices
                            .topics
                            .iter()
                            .find(|(k, _)| k == c)
                            .map_or(c.clone(), |(_, n)| n.clone())
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            }
            _ => return v.to_owned(),
        };
        list.iter()
            .find(|(k, _)| k == v)
            .map_or(v.to_owned(), |(_, n)| n.clone())
    };
    let name = LEVELS
        .iter()
        .find(|(n, ..)| *n == level)
        .map(|l| l.1)
        .unwrap_or_default();
    let body = html! {
        span class="govuk-caption-l" { (name) }
        h1 class="govuk-heading-xl" { "Check your answers before submitting" }
        dl class="govuk-summary-list" {
            @for (field, label, _) in level_fields(level) {
                @let v = f.get(field).map(|v| v.trim()).unwrap_or_default();
                @if let Some(prefix) = picker::is_person_field(field) {
                    // One row per person: their name, and email when given.
                    @if field.ends_with("_subject") && !v.is_empty() {
                        @let whose = picker::PEOPLE.iter().find(|(p, _)| *p == prefix).map(|(_, w)| *w).unwrap_or_default();
                        @let get = |k: &str| f.get(&format!("{prefix}_{k}")).map(|v| v.trim().to_owned()).unwrap_or_default();
                        (summary_row(whose, html! {
                            (get("name"))
                            @if !get("email").is_empty() { br; span class="govuk-hint" { (get("email")) } }
                        }))
                    }
                } @else if !v.is_empty() {
                    (summary_row(label, html! { (named(field, v)) }))
                }
            }
            @if let Some(logo) = f.get("logo_description").filter(|v| !v.trim().is_empty()) {
                (summary_row("Logo", html! { (logo) }))
            }
            (summary_row("Social media policy", html! { "Acknowledged" }))
            (summary_row("Corporate identity", html! { "Acknowledged" }))
        }
        form method="post" action={ "/staff/new/" (level) } {
            @for (k, v) in f.iter().filter(|(k, _)| k.as_str() != "step" && k.as_str() != "csrf") {
                input type="hidden" name=(k) value=(v);
            }
            input type="hidden" name="csrf" value=(session.csrf);
            div class="govuk-button-group" {
                button type="submit" name="step" value="submit" class="govuk-button" data-module="govuk-button" { "Submit the registration" }
                button type="submit" name="step" value="change" class="govuk-button govuk-button--secondary" data-module="govuk-button" { "Change your answers" }
            }
        }
    };
    page(
        state,
        Some(session),
        StatusCode::OK,
        "Check your answers",
        body,
    )
}

/// The fields a person must fill in before their answers are checked.
fn missing(level: &str, f: &Fields) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (field, label, _) in level_fields(level) {
        let optional = label.contains("(optional)") || field.ends_with("_email");
        if !optional && f.get(field).is_none_or(|v| v.trim().is_empty()) {
            if let Some(prefix) = picker::is_person_field(field) {
                // One message per person, at their picker.
                if field.ends_with("_subject") {
                    let whose = picker::PEOPLE
                        .iter()
                        .find(|(p, _)| *p == prefix)
                        .map(|(_, w)| *w)
                        .unwrap_or_default();
                    out.push((
                        field.to_owned(),
                        format!("{whose}: find them by name and choose them"),
                    ));
                } else if f
                    .get(&format!("{prefix}_subject"))
                    .is_some_and(|v| !v.trim().is_empty())
                {
                    let what = label.split(':').next_back().unwrap_or(label).trim();
                    out.push((
                        format!("{prefix}_subject"),
                        format!(
                            "{}: enter their {}",
                            label.split(':').next().unwrap_or_default(),
                            what.to_lowercase()
                        ),
                    ));
                }
                continue;
            }
            let what = label.split(':').next_back().unwrap_or(label).trim();
            let whose = label
                .split_once(':')
                .map(|(w, _)| format!("{w}: "))
                .unwrap_or_default();
            out.push((
                field.to_owned(),
                format!("{whose}enter {}", what.to_lowercase()),
            ));
        }
    }
    if !f.contains_key("policy_acknowledged") {
        out.push((
            "policy_acknowledged".into(),
            "Confirm you have read and will follow the social media policy".into(),
        ));
    }
    if !f.contains_key("corporate_identity_acknowledged") {
        out.push((
            "corporate_identity_acknowledged".into(),
            "Confirm you will follow the corporate identity guidelines".into(),
        ));
    }
    out
}

/// Topics arrive as one checkbox each: the form's `topics`, by code.
fn topics_from_checkboxes(mut f: Fields) -> Fields {
    let mut topics: Vec<String> = f
        .keys()
        .filter_map(|k| k.strip_prefix("topic_").map(str::to_owned))
        .collect();
    if !topics.is_empty() {
        topics.sort();
        f.insert("topics".into(), topics.join(", "));
    }
    f
}

pub(crate) async fn new_submit(
    State(state): State<StaffState>,
    headers: HeaderMap,
    Path(level): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    let session = match require_form(&state, &headers, &format!("/staff/new/{level}"), &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let choices = choices(&state, &session).await;
    let mut f = topics_from_checkboxes(f);
    let step = f.get("step").cloned().unwrap_or_default();
    if picker::is_step(&step) {
        let search = picker::step(&state, &session, &step, &mut f).await;
        return form_page(
            &state,
            &session,
            &level,
            &f,
            &[],
            &choices,
            search.as_ref(),
            &FormTarget::new_registration(&level),
        );
    }
    if step == "change" {
        return form_page(
            &state,
            &session,
            &level,
            &f,
            &[],
            &choices,
            None,
            &FormTarget::new_registration(&level),
        );
    }
    let errors = missing(&level, &f);
    if !errors.is_empty() {
        return form_page(
            &state,
            &session,
            &level,
            &f,
            &errors,
            &choices,
            None,
            &FormTarget::new_registration(&level),
        );
    }
    if step != "submit" {
        return check_answers(&state, &session, &level, &f, &choices);
    }
    let vars = json!({"form": form_input(&level, &f, &choices.policy), "id": uuid::Uuid::new_v4()});
    match api::run(&state.schema, &session, "SubmitRegistration", vars).await {
        Ok(data) => {
            let id = text(&data["submitRegistration"]["registration"]["id"]).to_owned();
            Redirect::to(&format!("/staff/registrations/{id}")).into_response()
        }
        Err(refusals) => {
            let errors = form_errors(refusals);
            form_page(
                &state,
                &session,
                &level,
                &f,
                &errors,
                &choices,
                None,
                &FormTarget::new_registration(&level),
            )
        }
    }
}
