//! The admin's pages: the reference data every form chooses from.
//! Organisational units, job roles accepted for level 3, topics, the
//! speaking-authority register, platforms and policy versions; each a
//! list with what can be done to each entry, and a form to add one.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde_json::{json, Value};

use super::{error_summary, input, refusal_page, text};
use crate::api::{self, Refusal};
use crate::session::Session;
use crate::{page, require, require_form, StaffState};

/// The areas, by path: (path, title, what it is for).
const AREAS: [(&str, &str, &str); 7] = [
    (
        "units",
        "Organisational units",
        "The services that run accounts. Every registration names one.",
    ),
    (
        "job-roles",
        "Job roles for level 3",
        "Level 3 accounts are run by named officers in these roles only.",
    ),
    (
        "topics",
        "Topics",
        "What level 4 accounts discuss, and what speaking authority is granted for.",
    ),
    (
        "speaking-authority",
        "Speaking authority",
        "Who may speak for the council on a topic: senior officers and councillors named on level 4 forms.",
    ),
    (
        "platforms",
        "Platforms",
        "The social media sites accounts may be registered on. A closed platform takes no new registrations.",
    ),
    (
        "policy",
        "Social media policy versions",
        "Every form acknowledges the current version; publishing a new one asks each business contact to acknowledge it.",
    ),
    (
        "people",
        "People directory",
        "Who each staff id is, for the forms' person picker. People are listed when they sign in; import a file to list everyone else.",
    ),
];

fn area(path: &str) -> Option<(&'static str, &'static str, &'static str)> {
    AREAS.iter().copied().find(|a| a.0 == path)
}

/// What the person typed, to show again beside a refusal.
type Values = HashMap<String, String>;

fn value<'a>(values: &'a Values, k: &str) -> &'a str {
    values.get(k).map(String::as_str).unwrap_or_default()
}

/// One hidden-field form with a single button: retire, withdraw, revoke…
fn button_form(
    area: &str,
    csrf: &str,
    action: &str,
    fields: &[(&str, &str)],
    label: Markup,
) -> Markup {
    html! {
        form method="post" action={ "/staff/admin/" (area) } class="staff-inline-form" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="action" value=(action);
            @for (k, v) in fields { input type="hidden" name=(k) value=(v); }
            button type="submit" class="govuk-button govuk-button--secondary staff-table-button" data-module="govuk-button" { (label) }
        }
    }
}

fn add_form(
    area: &str,
    csrf: &str,
    action: &str,
    legend: &str,
    fields: Markup,
    button: &str,
) -> Markup {
    html! {
        form method="post" action={ "/staff/admin/" (area) } novalidate id="add" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="action" value=(action);
            fieldset class="govuk-fieldset" {
                legend class="govuk-fieldset__legend govuk-fieldset__legend--m" { h2 class="govuk-fieldset__heading" { (legend) } }
                (fields)
            }
            button type="submit" class="govuk-button" data-module="govuk-button" { (button) }
        }
    }
}

fn area_body(
    path: &str,
    data: &Value,
    session: &Session,
    values: &Values,
    errors: &[(String, String)],
) -> Markup {
    let csrf = session.csrf.as_str();
    let err = |f: &str| errors.iter().find(|(k, _)| k == f).map(|(_, m)| m.as_str());
    let code_hint = "Lower case letters, digits and hyphens, for example youth-services. It cannot change later.";
    match path {
        "units" => html! {
            table class="govuk-table" {
                caption class="govuk-table__caption govuk-table__caption--m" { "Units" }
                thead class="govuk-table__head" { tr class="govuk-table__row" {
                    th scope="col" class="govuk-table__header" { "Name" }
                    th scope="col" class="govuk-table__header" { "Code" }
                    th scope="col" class="govuk-table__header" { span class="govuk-visually-hidden" { "Action" } }
                } }
                tbody class="govuk-table__body" {
                    @for u in data["organisationalUnits"].as_array().into_iter().flatten() {
                        tr class="govuk-table__row" {
                            td class="govuk-table__cell" { (text(&u["name"])) @if u["retired"] == true { " " strong class="govuk-tag govuk-tag--grey" { "Retired" } } }
                            td class="govuk-table__cell" { code { (text(&u["code"])) } }
                            td class="govuk-table__cell" {
                                @if u["retired"] != true {
                                    (button_form(path, csrf, "retire", &[("code", text(&u["code"]))], html! { "Retire" span class="govuk-visually-hidden" { " " (text(&u["name"])) } }))
                                }
                            }
                        }
                    }
                }
            }
            (add_form(path, csrf, "add", "Add a unit, or rename one", html! {
                (input("code", "Code", code_hint, value(values, "code"), err("code")))
                (input("name", "Name", "As staff and the public know it, for example Youth Services", value(values, "name"), err("name")))
            }, "Save the unit"))
        },
        "job-roles" => html! {
            table class="govuk-table" {
                caption class="govuk-table__caption govuk-table__caption--m" { "Job roles" }
                thead class="govuk-table__head" { tr class="govuk-table__row" {
                    th scope="col" class="govuk-table__header" { "Title" }
                    th scope="col" class="govuk-table__header" { "Code" }
                    th scope="col" class="govuk-table__header" { span class="govuk-visually-hidden" { "Action" } }
                } }
                tbody class="govuk-table__body" {
                    @for r in data["jobRoles"].as_array().into_iter().flatten() {
                        tr class="govuk-table__row" {
                            td class="govuk-table__cell" { (text(&r["title"])) @if r["accepted"] != true { " " strong class="govuk-tag govuk-tag--grey" { "Taken off the list" } } }
                            td class="govuk-table__cell" { code { (text(&r["code"])) } }
                            td class="govuk-table__cell" {
                                @if r["accepted"] == true {
                                    (button_form(path, csrf, "withdraw", &[("code", text(&r["code"]))], html! { "Take off the list" span class="govuk-visually-hidden" { " " (text(&r["title"])) } }))
                                }
                            }
                        }
                    }
                }
            }
            (add_form(path, csrf, "add", "Accept a job role for level 3", html! {
                (input("code", "Code", code_hint, value(values, "code"), err("code")))
                (input("title", "Title", "For example, Youth Worker", value(values, "title"), err("title")))
            }, "Accept the job role"))
        },
        "topics" => html! {
            table class="govuk-table" {
                caption class="govuk-table__caption govuk-table__caption--m" { "Topics in use" }
                thead class="govuk-table__head" { tr class="govuk-table__row" {
                    th scope="col" class="govuk-table__header" { "Name" }
                    th scope="col" class="govuk-table__header" { "Code" }
                    th scope="col" class="govuk-table__header" { span class="govuk-visually-hidden" { "Action" } }
                } }
                tbody class="govuk-table__body" {
                    @for t in data["topics"].as_array().into_iter().flatten() {
                        tr class="govuk-table__row" {
                            td class="govuk-table__cell" { (text(&t["name"])) }
                            td class="govuk-table__cell" { code { (text(&t["code"])) } }
                            td class="govuk-table__cell" {
                                (button_form(path, csrf, "retire", &[("code", text(&t["code"]))], html! { "Retire" span class="govuk-visually-hidden" { " " (text(&t["name"])) } }))
                            }
                        }
                    }
                }
            }
            (add_form(path, csrf, "add", "Add a topic, or rename one", html! {
                (input("code", "Code", code_hint, value(values, "code"), err("code")))
                (input("name", "Name", "For example, Parks and open spaces", value(values, "name"), err("name")))
            }, "Save the topic"))
        },
        "speaking-authority" => {
            let topics: Vec<(String, String)> = data["topics"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| (text(&t["code"]).to_owned(), text(&t["name"]).to_owned()))
                .collect();
            let topic_name = |c: &str| {
                topics
                    .iter()
                    .find(|t| t.0 == c)
                    .map(|t| t.1.clone())
                    .unwrap_or_else(|| c.to_owned())
            };
            html! {
                table class="govuk-table" {
                    caption class="govuk-table__caption govuk-table__caption--m" { "The register" }
                    thead class="govuk-table__head" { tr class="govuk-table__row" {
                        th scope="col" class="govuk-table__header" { "Who" }
                        th scope="col" class="govuk-table__header" { "Topic" }
                        th scope="col" class="govuk-table__header" { span class="govuk-visually-hidden" { "Action" } }
                    } }
                    tbody class="govuk-table__body" {
                        @for a in data["speakingAuthorities"].as_array().into_iter().flatten() {
                            @for t in a["topics"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                                tr class="govuk-table__row" {
                                    td class="govuk-table__cell" { (text(&a["subject"])) @if a["councillor"] == true { " " strong class="govuk-tag govuk-tag--purple" { "Councillor" } } }
                                    td class="govuk-table__cell" { (topic_name(t)) }
                                    td class="govuk-table__cell" {
                                        (button_form(path, csrf, "revoke", &[("subject", text(&a["subject"])), ("topic", t)], html! { "Revoke" span class="govuk-visually-hidden" { " " (text(&a["subject"])) " on " (topic_name(t)) } }))
                                    }
                                }
                            }
                        }
                    }
                }
                (add_form(path, csrf, "grant", "Grant speaking authority", html! {
                    (input("subject", "Who", "Their staff id, or for a councillor the id on level 4 forms", value(values, "subject"), err("subject")))
                    div class={ "govuk-form-group" @if err("topic").is_some() { " govuk-form-group--error" } } {
                        label class="govuk-label" for="topic" { "Topic" }
                        @if let Some(e) = err("topic") { p class="govuk-error-message" id="topic-error" { span class="govuk-visually-hidden" { "Error:" } " " (e) } }
                        select class="govuk-select" id="topic" name="topic" {
                            @for (c, n) in &topics { option value=(c) selected[value(values, "topic") == c] { (n) } }
                        }
                    }
                    (super::checkbox("councillor", "They are a councillor (a member of the council)", value(values, "councillor") == "yes", None))
                }, "Grant"))
            }
        }
        "platforms" => html! {
            table class="govuk-table" {
                caption class="govuk-table__caption govuk-table__caption--m" { "Platforms" }
                thead class="govuk-table__head" { tr class="govuk-table__row" {
                    th scope="col" class="govuk-table__header" { "Platform" }
                    th scope="col" class="govuk-table__header" { "New registrations" }
                    th scope="col" class="govuk-table__header" { span class="govuk-visually-hidden" { "Action" } }
                } }
                tbody class="govuk-table__body" {
                    @for p in data["platforms"].as_array().into_iter().flatten() {
                        @let code = text(&p["platform"]);
                        tr class="govuk-table__row" {
                            td class="govuk-table__cell" { (text(&p["name"])) }
                            td class="govuk-table__cell" {
                                @if p["enabled"] == true { strong class="govuk-tag govuk-tag--green" { "Open" } }
                                @else { strong class="govuk-tag govuk-tag--grey" { "Closed" } br; span class="govuk-hint" { (text(&p["disabledReason"])) } }
                            }
                            td class="govuk-table__cell" {
                                @if p["enabled"] == true {
                                    form method="post" action={ "/staff/admin/" (path) } class="staff-platform-close" {
                                        input type="hidden" name="csrf" value=(csrf);
                                        input type="hidden" name="action" value="disable";
                                        input type="hidden" name="platform" value=(code);
                                        @let id = format!("reason-{code}");
                                        label class="govuk-label govuk-label--s" for=(id) { "Why close " (text(&p["name"])) }
                                        @if let Some(e) = err(&id) { p class="govuk-error-message" id={ (id) "-error" } { span class="govuk-visually-hidden" { "Error:" } " " (e) } }
                                        input class={ "govuk-input govuk-input--width-20" @if err(&id).is_some() { " govuk-input--error" } } id=(id) name="reason" type="text";
                                        " "
                                        button type="submit" class="govuk-button govuk-button--secondary staff-table-button" data-module="govuk-button" { "Close" span class="govuk-visually-hidden" { " " (text(&p["name"])) } }
                                    }
                                } @else {
                                    (button_form(path, csrf, "enable", &[("platform", code)], html! { "Open again" span class="govuk-visually-hidden" { " " (text(&p["name"])) } }))
                                }
                            }
                        }
                    }
                }
            }
        },
        "people" => html! {
            @if let Some((listed, unchanged)) = imported(values) {
                div class="govuk-notification-banner govuk-notification-banner--success" role="alert" aria-labelledby="imported-title" data-module="govuk-notification-banner" {
                    div class="govuk-notification-banner__header" { h2 class="govuk-notification-banner__title" id="imported-title" { "Imported" } }
                    div class="govuk-notification-banner__content" {
                        p class="govuk-notification-banner__heading" { (listed) " listed, " (unchanged) " already listed as the file says" }
                    }
                }
            }
            h2 class="govuk-heading-m" { "The file" }
            p class="govuk-body" { "A CSV file whose first line names the columns, in any order:" }
            ul class="govuk-list govuk-list--bullet" {
                li { code { "subject" } ": their id at the council's sign-in (required)" }
                li { code { "name" } ": their full name (required)" }
                li { code { "email" } ", " code { "job_title" } ", " code { "unit" } " (optional)" }
            }
            p class="govuk-body" { "Every row is checked first: if any is wrong, nobody is listed and each problem is shown by line and column. Importing the same file again changes nothing." }
            form method="post" action={ "/staff/admin/" (path) } novalidate id="add" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="action" value="import";
                (input("file_name", "File name", "Recorded with each person it lists, for example hr-export-2026-12.csv", value(values, "file_name"), err("file_name")))
                div class={ "govuk-form-group" @if err("csv").is_some() { " govuk-form-group--error" } } {
                    label class="govuk-label" for="csv" { "The file's contents" }
                    div class="govuk-hint" id="csv-hint" { "Open the file in a text editor and paste it here" }
                    @if let Some(e) = err("csv") { p class="govuk-error-message" id="csv-error" { span class="govuk-visually-hidden" { "Error:" } " " (e) } }
                    textarea class={ "govuk-textarea staff-csv" @if err("csv").is_some() { " govuk-textarea--error" } } id="csv" name="csv" rows="10" spellcheck="false"
                        aria-describedby={ "csv-hint" @if err("csv").is_some() { " csv-error" } } { (value(values, "csv")) }
                }
                button type="submit" class="govuk-button" data-module="govuk-button" { "Import" }
            }
        },
        _ => {
            let versions: Vec<&Value> = data["policyVersions"]
                .as_array()
                .into_iter()
                .flatten()
                .collect();
            html! {
                table class="govuk-table" {
                    caption class="govuk-table__caption govuk-table__caption--m" { "Published versions, the current one first" }
                    thead class="govuk-table__head" { tr class="govuk-table__row" {
                        th scope="col" class="govuk-table__header" { "Version" }
                        th scope="col" class="govuk-table__header" { "Dated" }
                        th scope="col" class="govuk-table__header" { "What changed" }
                    } }
                    tbody class="govuk-table__body" {
                        @for (i, v) in versions.iter().enumerate() {
                            tr class="govuk-table__row" {
                                td class="govuk-table__cell" { a class="govuk-link" href=(text(&v["url"])) { (text(&v["version"])) } @if i == 0 { " " strong class="govuk-tag govuk-tag--green" { "Current" } } }
                                td class="govuk-table__cell" { (text(&v["publishedOn"])) }
                                td class="govuk-table__cell" { (text(&v["summary"])) }
                            }
                        }
                    }
                }
                (add_form(path, csrf, "publish", "Publish a new version", html! {
                    (input("version", "Version", "Newer than the current one, for example 2027.1", value(values, "version"), err("version")))
                    (input("published_on", "Date on the policy", "For example, 2027-01-15", value(values, "published_on"), err("published_on")))
                    (input("summary", "What changed", "One or two sentences for business contacts", value(values, "summary"), err("summary")))
                    (input("url", "Where staff read it", "An https:// address on the intranet", value(values, "url"), err("url")))
                }, "Publish the version"))
            }
        }
    }
}

async fn reference(
    state: &StaffState,
    session: &Session,
    after: Option<i64>,
) -> Result<Value, Vec<Refusal>> {
    if after.is_some() {
        api::run(
            &state.schema,
            session,
            "AdminWait",
            json!({"atLeastPosition": after}),
        )
        .await?;
    }
    api::run(&state.schema, session, "AdminReference", json!({})).await
}

fn forbidden(state: &StaffState, session: &Session) -> Response {
    refusal_page(
        state,
        session,
        "Reference data",
        &[Refusal {
            code: "FORBIDDEN".into(),
            message: "This needs the admin role.".into(),
            field: None,
        }],
    )
}

/// `/staff/admin`: the areas, with how many entries each has.
pub(crate) async fn index(State(state): State<StaffState>, headers: HeaderMap) -> Response {
    let session = match require(&state, &headers, "/staff/admin").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !session.actor.has(domain::Role::Admin) {
        return forbidden(&state, &session);
    }
    let data = match reference(&state, &session, None).await {
        Ok(d) => d,
        Err(r) => return refusal_page(&state, &session, "Reference data", &r),
    };
    let count = |k: &str| data[k].as_array().map(Vec::len).unwrap_or(0);
    let counts = [
        count("organisationalUnits"),
        count("jobRoles"),
        count("topics"),
        count("speakingAuthorities"),
        count("platforms"),
        count("policyVersions"),
        usize::MAX,
    ];
    let body = html! {
        h1 class="govuk-heading-xl" { "Reference data" }
        p class="govuk-body" { "What the usage form chooses from. Every change is recorded, with who made it." }
        ul class="govuk-list" {
            @for ((path, title, what), n) in AREAS.iter().zip(counts) {
                li class="govuk-!-margin-bottom-4" {
                    a class="govuk-link govuk-!-font-weight-bold" href={ "/staff/admin/" (path) } { (title) }
                    @if n != usize::MAX { " (" (n) ")" }
                    br; span class="govuk-hint" { (what) }
                }
            }
        }
    };
    page(
        &state,
        Some(&session),
        StatusCode::OK,
        "Reference data",
        body,
    )
}

fn area_page(
    state: &StaffState,
    session: &Session,
    path: &str,
    data: &Value,
    values: &Values,
    errors: &[(String, String)],
) -> Response {
    let Some((_, title, what)) = area(path) else {
        return refusal_page(
            state,
            session,
            "Not found",
            &[Refusal {
                code: "NOT_FOUND".into(),
                message: "There is no such page.".into(),
                field: None,
            }],
        );
    };
    let body = html! {
        a class="govuk-back-link" href="/staff/admin" { "Reference data" }
        (error_summary(errors))
        h1 class="govuk-heading-xl" { (title) }
        p class="govuk-body" { (what) }
        (area_body(path, data, session, values, errors))
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    page(state, Some(session), status, title, body)
}

/// `GET /staff/admin/{area}`.
/// What an area's page is asked: wait for a change, and an import's counts.
#[derive(serde::Deserialize)]
pub(crate) struct Shown {
    after: Option<i64>,
    listed: Option<usize>,
    unchanged: Option<usize>,
}

/// The counts of an import just made, from the page's address.
fn imported(values: &Values) -> Option<(usize, usize)> {
    Some((
        values.get("listed")?.parse().ok()?,
        values.get("unchanged")?.parse().ok()?,
    ))
}

pub(crate) async fn show(
    State(state): State<StaffState>,
    headers: HeaderMap,
    Path(path): Path<String>,
    Query(q): Query<Shown>,
) -> Response {
    let session = match require(&state, &headers, &format!("/staff/admin/{path}")).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !session.actor.has(domain::Role::Admin) {
        return forbidden(&state, &session);
    }
    let mut values = Values::new();
    if let (Some(l), Some(u)) = (q.listed, q.unchanged) {
        values.insert("listed".into(), l.to_string());
        values.insert("unchanged".into(), u.to_string());
    }
    match reference(&state, &session, q.after).await {
        Ok(data) => area_page(&state, &session, &path, &data, &values, &[]),
        Err(r) => refusal_page(&state, &session, "Reference data", &r),
    }
}

/// The form's field for an API argument (`publishedOn` → `published_on`).
fn form_field(api: &str) -> String {
    let mut out = String::new();
    for c in api.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A field's name in words, for the start of its error.
fn field_label(field: &str) -> &'static str {
    match field {
        "code" => "The code",
        "name" => "The name",
        "title" => "The title",
        "subject" => "Who",
        "topic" => "The topic",
        "version" => "The version",
        "published_on" => "The date",
        "summary" => "What changed",
        "url" => "The address",
        "reason" => "The reason",
        _ => "This answer",
    }
}

/// `POST /staff/admin/{area}`: one change, then back to the list.
pub(crate) async fn change(
    State(state): State<StaffState>,
    headers: HeaderMap,
    Path(path): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let here = format!("/staff/admin/{path}");
    let session = match require_form(&state, &headers, &here, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let f = |k: &str| form.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let action = f("action");
    let (operation, vars) = match (path.as_str(), action.as_str()) {
        ("units", "add") => (
            "AddOrganisationalUnit",
            json!({"code": f("code"), "name": f("name")}),
        ),
        ("units", "retire") => ("RetireOrganisationalUnit", json!({"code": f("code")})),
        ("job-roles", "add") => (
            "AcceptJobRole",
            json!({"code": f("code"), "title": f("title")}),
        ),
        ("job-roles", "withdraw") => ("WithdrawJobRole", json!({"code": f("code")})),
        ("topics", "add") => ("AddTopic", json!({"code": f("code"), "name": f("name")})),
        ("topics", "retire") => ("RetireTopic", json!({"code": f("code")})),
        ("speaking-authority", "grant") => (
            "GrantSpeakingAuthority",
            json!({"subject": f("subject"), "topic": f("topic"), "councillor": f("councillor") == "yes"}),
        ),
        ("speaking-authority", "revoke") => (
            "RevokeSpeakingAuthority",
            json!({"subject": f("subject"), "topic": f("topic")}),
        ),
        ("platforms", "disable") => (
            "DisablePlatform",
            json!({"platform": f("platform"), "reason": f("reason")}),
        ),
        ("platforms", "enable") => ("EnablePlatform", json!({"platform": f("platform")})),
        ("policy", "publish") => {
            let date = f("published_on");
            if chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d").is_err() {
                let errors = vec![(
                    "published_on".to_owned(),
                    "Enter the date as year-month-day, for example 2027-01-15".to_owned(),
                )];
                return match reference(&state, &session, None).await {
                    Ok(data) => area_page(&state, &session, &path, &data, &form, &errors),
                    Err(r) => refusal_page(&state, &session, "Reference data", &r),
                };
            }
            (
                "PublishPolicyVersion",
                json!({"version": f("version"), "publishedOn": date, "summary": f("summary"), "url": f("url")}),
            )
        }
        ("people", "import") => {
            let file_name = f("file_name");
            let vars =
                json!({"csv": form.get("csv").cloned().unwrap_or_default(), "fileName": file_name});
            let mut errors = Vec::new();
            if file_name.is_empty() {
                errors.push(("file_name".to_owned(), "Enter the file's name".to_owned()));
            }
            if f("csv").is_empty() {
                errors.push(("csv".to_owned(), "Paste the file's contents".to_owned()));
            }
            if errors.is_empty() {
                match api::run(&state.schema, &session, "ImportPeople", vars).await {
                    Ok(data) => {
                        let r = &data["importPeople"];
                        let problems = r["problems"].as_array().cloned().unwrap_or_default();
                        if problems.is_empty() {
                            return Redirect::to(&format!(
                                "{here}?after={}&listed={}&unchanged={}",
                                r["position"].as_i64().unwrap_or(0),
                                r["listed"].as_i64().unwrap_or(0),
                                r["unchanged"].as_i64().unwrap_or(0)
                            ))
                            .into_response();
                        }
                        for p in problems {
                            let at = match p["column"].as_str() {
                                Some(c) => format!("Line {}, column {c}", p["line"]),
                                None => format!("Line {}", p["line"]),
                            };
                            errors
                                .push(("csv".to_owned(), format!("{at}: {}", text(&p["problem"]))));
                        }
                    }
                    Err(r) => {
                        errors.extend(r.into_iter().map(|r| ("csv".to_owned(), r.message)));
                    }
                }
            }
            return match reference(&state, &session, None).await {
                Ok(data) => area_page(&state, &session, &path, &data, &form, &errors),
                Err(r) => refusal_page(&state, &session, "Reference data", &r),
            };
        }
        _ => return Redirect::to(&here).into_response(),
    };
    match api::run(&state.schema, &session, operation, vars).await {
        Ok(data) => {
            let position = data
                .as_object()
                .and_then(|o| o.values().next())
                .and_then(|p| p["position"].as_i64())
                .unwrap_or(0);
            Redirect::to(&format!("{here}?after={position}")).into_response()
        }
        Err(refusals) => {
            let errors: Vec<(String, String)> = refusals
                .into_iter()
                .map(|r| {
                    let field = r
                        .field
                        .as_deref()
                        .map(form_field)
                        .unwrap_or_else(|| "add".to_owned());
                    // The platform's reason field is one per row.
                    let field = if path == "platforms" && field == "reason" {
                        format!("reason-{}", f("platform"))
                    } else {
                        field
                    };
                    let problem = r
                        .message
                        .split_once(": ")
                        .map(|(_, p)| p.to_owned())
                        .unwrap_or(r.message.clone());
                    let label = field_label(field.split('-').next().unwrap_or_default());
                    let message = if r.field.is_some() {
                        format!("{label} {problem}")
                    } else {
                        problem
                    };
                    (field, message)
                })
                .collect();
            match reference(&state, &session, None).await {
                Ok(data) => area_page(&state, &session, &path, &data, &form, &errors),
                Err(r) => refusal_page(&state, &session, "Reference data", &r),
            }
        }
    }
}
