//! The auditor's pages: the log's head and signed heads, the chain's
//! verification, any registration's full history with its actors, the
//! registry as it stood on a date, and the log's export as a download.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde_json::{json, Value};

use super::{date, error_summary, level_name, refusal_page, service_name, status_tag, text};
use crate::api;
use crate::{page, require, require_form, StaffState};
use domain::Role;

#[derive(serde::Deserialize, Default)]
pub(crate) struct VerifyRange {
    verify: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// A number field of a GET form: absent or blank is "not given"; anything
/// else must be a whole number of at least 1.
fn position_field(v: &Option<String>, words: &str) -> Result<Option<i64>, String> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n >= 1 => Ok(Some(n)),
            _ => Err(format!("{words} must be a whole number, 1 or more")),
        },
    }
}

fn number_input(id: &str, label: &str, value: &Option<String>, error: Option<&String>) -> Markup {
    html! {
        div class={ "govuk-form-group" @if error.is_some() { " govuk-form-group--error" } } {
            label class="govuk-label" for=(id) { (label) }
            @if let Some(e) = error { p class="govuk-error-message" id={ (id) "-error" } { span class="govuk-visually-hidden" { "Error: " } (e) } }
            input class={ "govuk-input govuk-input--width-10" @if error.is_some() { " govuk-input--error" } } id=(id) name=(id) type="text" inputmode="numeric" value=(value.clone().unwrap_or_default())
                aria-describedby=[error.map(|_| format!("{id}-error"))];
        }
    }
}

/// An event type in words: `RiskAssessmentSigned` → `Risk assessment signed`.
fn words(event_type: &str) -> String {
    let mut out = String::new();
    for (i, c) in event_type.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push(' ');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The start of a long hex value: enough to compare by eye with a copy
/// kept elsewhere (the whole value is in the API and the export).
fn short(hex: &str) -> String {
    if hex.len() > 16 {
        format!("{}…", &hex[..16])
    } else {
        hex.to_owned()
    }
}

/// `/staff/audit`: the head, signed heads, verification on request.
pub(crate) async fn overview(
    State(state): State<StaffState>,
    headers: HeaderMap,
    Query(q): Query<VerifyRange>,
) -> Response {
    let session = match require(&state, &headers, "/staff/audit").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut errors = Vec::new();
    let from = position_field(&q.from, "The first position").unwrap_or_else(|e| {
        errors.push(("from".to_owned(), e));
        None
    });
    let to = position_field(&q.to, "The last position").unwrap_or_else(|e| {
        errors.push(("to".to_owned(), e));
        None
    });
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            errors.push((
                "to".to_owned(),
                "The last position must not be before the first".to_owned(),
            ));
        }
    }
    let verify = q.verify.is_some() && errors.is_empty();
    let vars = json!({"verify": verify, "from": from, "to": to});
    let data = match api::run(&state.schema, &session, "AuditOverview", vars).await {
        Ok(d) => d,
        Err(r) => return refusal_page(&state, &session, "Audit", &r),
    };
    let head = &data["logHead"];
    let heads = data["signedHeads"].as_array().cloned().unwrap_or_default();
    let check = &data["verifyChain"];
    let error_for = |f: &str| errors.iter().find(|(k, _)| k == f).map(|(_, m)| m);
    let body = html! {
        (error_summary(&errors))
        h1 class="govuk-heading-xl" { "Audit" }
        p class="govuk-body" {
            "Every registration, sign-off, publication and withdrawal is an event in one append-only log. Each event's hash covers the one before it, so changing or removing any event breaks the chain from there on."
        }
        h2 class="govuk-heading-m" { "The log" }
        dl class="govuk-summary-list" {
            div class="govuk-summary-list__row" { dt class="govuk-summary-list__key" { "Events" } dd class="govuk-summary-list__value" { (head["position"]) } }
            div class="govuk-summary-list__row" { dt class="govuk-summary-list__key" { "Head hash" } dd class="govuk-summary-list__value staff-hash" { (text(&head["hash"])) } }
        }
        @if check.is_object() {
            @if check["verified"] == true {
                div class="govuk-panel govuk-panel--confirmation staff-panel" id="chain-result" {
                    h2 class="govuk-panel__title" { "The chain is intact" }
                    div class="govuk-panel__body" { "Positions " (check["from"]) " to " (check["to"]) ": " (check["count"]) " events verified" }
                }
            } @else {
                div class="govuk-error-summary" id="chain-result" {
                    div role="alert" {
                        h2 class="govuk-error-summary__title" { "The chain is broken at position " (check["brokenAt"]) }
                        div class="govuk-error-summary__body" { p class="govuk-body" { (text(&check["reason"])) } }
                    }
                }
            }
        }
        form method="get" action="/staff/audit" novalidate {
            input type="hidden" name="verify" value="1";
            fieldset class="govuk-fieldset" {
                legend class="govuk-fieldset__legend govuk-fieldset__legend--m" { h2 class="govuk-fieldset__heading" { "Verify the chain" } }
                div class="govuk-hint" { "Leave both empty to verify the whole log." }
                div class="staff-inline-fields" {
                    (number_input("from", "First position", &q.from, error_for("from")))
                    (number_input("to", "Last position", &q.to, error_for("to")))
                }
            }
            button type="submit" class="govuk-button" data-module="govuk-button" { "Verify" }
        }
        h2 class="govuk-heading-m" { "Signed heads" }
        p class="govuk-body" { "A signed head is the log's position and hash, signed with the registry's key: a copy kept elsewhere proves later that nothing before it was changed." }
        @if heads.is_empty() {
            p class="govuk-body" { "No head has been signed yet." }
        } @else {
            table class="govuk-table" {
                caption class="govuk-table__caption govuk-table__caption--s" { "Newest first (hashes and keys shortened to their first 16 characters)" }
                thead class="govuk-table__head" { tr class="govuk-table__row" {
                    th scope="col" class="govuk-table__header" { "Position" }
                    th scope="col" class="govuk-table__header" { "Signed" }
                    th scope="col" class="govuk-table__header" { "Key" }
                    th scope="col" class="govuk-table__header" { "Hash" }
                } }
                tbody class="govuk-table__body" {
                    @for h in &heads {
                        tr class="govuk-table__row" {
                            td class="govuk-table__cell" { (h["position"]) }
                            td class="govuk-table__cell" { (date(&h["signedAt"])) }
                            td class="govuk-table__cell staff-hash" { (short(text(&h["keyId"]))) }
                            td class="govuk-table__cell staff-hash" { (short(text(&h["hash"]))) }
                        }
                    }
                }
            }
        }
        form method="post" action="/staff/audit/sign-head" {
            input type="hidden" name="csrf" value=(session.csrf);
            button type="submit" class="govuk-button govuk-button--secondary" data-module="govuk-button" { "Sign the current head now" }
        }
        h2 class="govuk-heading-m" { "More" }
        ul class="govuk-list" {
            li { a class="govuk-link" href="/staff/audit/registry" { "The registry as it stood on a date" } }
            li { a class="govuk-link" href="/staff/audit/events.ndjson" download="registry-events.ndjson" { "Download the whole log (NDJSON, verifiable offline with social-registry verify-export)" } }
            li { a class="govuk-link" href="/staff/registrations" { "Every registration" } ", each with its full history" }
        }
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    page(&state, Some(&session), status, "Audit", body)
}

/// Sign the head now (auditors), then back to the overview.
pub(crate) async fn sign_head(
    State(state): State<StaffState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let session = match require_form(&state, &headers, "/staff/audit", &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match api::run(&state.schema, &session, "SignLogHead", json!({})).await {
        Ok(_) => Redirect::to("/staff/audit").into_response(),
        Err(r) => refusal_page(&state, &session, "The head was not signed", &r),
    }
}

/// `/staff/audit/registrations/{id}`: every step, with its actor.
pub(crate) async fn history(
    State(state): State<StaffState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let here = format!("/staff/audit/registrations/{id}");
    let session = match require(&state, &headers, &here).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let data = match api::run(&state.schema, &session, "AuditHistory", json!({"id": id})).await {
        Ok(d) => d,
        Err(r) => return refusal_page(&state, &session, "This history cannot be shown", &r),
    };
    let r = &data["registration"];
    let entries = data["registrationHistory"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let title = format!("History of {}", text(&r["accountKey"]));
    let body = html! {
        span class="govuk-caption-l" { (level_name(text(&r["level"]))) " · " (status_tag(text(&r["status"]))) }
        h1 class="govuk-heading-xl" { (title) }
        p class="govuk-body" { a class="govuk-link" href={ "/staff/registrations/" (id) } { "The registration's page" } }
        table class="govuk-table staff-history" {
            caption class="govuk-table__caption govuk-table__caption--m" { (entries.len()) " events, oldest first" }
            thead class="govuk-table__head" { tr class="govuk-table__row" {
                th scope="col" class="govuk-table__header" { abbr title="Position in the log" { "#" } }
                th scope="col" class="govuk-table__header" { "What" }
                th scope="col" class="govuk-table__header" { "Who, as" }
                th scope="col" class="govuk-table__header" { "When" }
                th scope="col" class="govuk-table__header" { "Status after" }
            } }
            tbody class="govuk-table__body" {
                @for e in &entries {
                    tr class="govuk-table__row" {
                        td class="govuk-table__cell" { (e["position"]) }
                        td class="govuk-table__cell" {
                            (words(text(&e["eventType"])))
                            details class="govuk-details staff-compact-details" {
                                summary class="govuk-details__summary" { span class="govuk-details__summary-text" { "Details" span class="govuk-visually-hidden" { " of event " (e["position"]) } } }
                                div class="govuk-details__text" {
                                    p class="govuk-body-s" { "Event type: " code { (text(&e["eventType"])) } br; "Command: " (text(&e["command"])) br; "Correlation id: " (text(&e["correlationId"])) }
                                    pre class="staff-json" { (serde_json::to_string_pretty(&e["payload"]).unwrap_or_default()) }
                                }
                            }
                        }
                        td class="govuk-table__cell" {
                            (e["actorName"].as_str().or(e["actorSubject"].as_str()).unwrap_or("The registry"))
                            br;
                            span class="govuk-hint" { (e["actorRoles"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default()) }
                        }
                        td class="govuk-table__cell" { (date(&e["recordedAt"])) }
                        td class="govuk-table__cell" { (status_tag(text(&e["status"]))) }
                    }
                }
            }
        }
    };
    page(&state, Some(&session), StatusCode::OK, &title, body)
}

#[derive(serde::Deserialize, Default)]
pub(crate) struct AsOf {
    date: Option<String>,
    after: Option<String>,
}

/// `/staff/audit/registry?date=YYYY-MM-DD`: the registry at the end of that
/// day, rebuilt from the log.
pub(crate) async fn registry_at(
    State(state): State<StaffState>,
    headers: HeaderMap,
    Query(q): Query<AsOf>,
) -> Response {
    let session = match require(&state, &headers, "/staff/audit/registry").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let given = q.date.as_deref().map(str::trim).unwrap_or_default();
    let mut error = None;
    let at = if given.is_empty() {
        None
    } else {
        match chrono::NaiveDate::parse_from_str(given, "%Y-%m-%d") {
            Ok(d) if d <= chrono::Utc::now().date_naive() => {
                d.and_hms_opt(23, 59, 59).map(|t| t.and_utc().to_rfc3339())
            }
            Ok(_) => {
                error = Some("The date must be today or in the past".to_owned());
                None
            }
            Err(_) => {
                error = Some("Enter the date as year-month-day, for example 2026-06-30".to_owned());
                None
            }
        }
    };
    let data = match &at {
        Some(at) => match api::run(
            &state.schema,
            &session,
            "RegistryAt",
            json!({"at": at, "after": q.after}),
        )
        .await
        {
            Ok(d) => Some(d),
            Err(r) => return refusal_page(&state, &session, "The registry on a date", &r),
        },
        // Only auditors may rebuild the registry: refuse others before a
        // date is given, as the API would.
        None if !session.actor.has(Role::Auditor) => {
            return refusal_page(
                &state,
                &session,
                "The registry on a date",
                &[api::Refusal {
                    code: "FORBIDDEN".into(),
                    message: "This needs the auditor role.".into(),
                    field: None,
                }],
            )
        }
        None => None,
    };
    let errors: Vec<(String, String)> = error
        .iter()
        .map(|e| ("date".to_owned(), e.clone()))
        .collect();
    let body = html! {
        (error_summary(&errors))
        h1 class="govuk-heading-xl" { "The registry on a date" }
        p class="govuk-body" { "Rebuilt from the log as it stood at the end of the day, not from today's lists. Personal data erased since shows as erased." }
        form method="get" action="/staff/audit/registry" novalidate {
            div class={ "govuk-form-group" @if error.is_some() { " govuk-form-group--error" } } {
                label class="govuk-label govuk-label--s" for="date" { "Date" }
                div class="govuk-hint" id="date-hint" { "For example, 2026-06-30" }
                @if let Some(e) = &error { p class="govuk-error-message" id="date-error" { span class="govuk-visually-hidden" { "Error: " } (e) } }
                input class={ "govuk-input govuk-input--width-10" @if error.is_some() { " govuk-input--error" } } id="date" name="date" type="text" value=(given)
                    aria-describedby={ "date-hint" @if error.is_some() { " date-error" } };
            }
            button type="submit" class="govuk-button" data-module="govuk-button" { "Show the registry" }
        }
        @if let Some(data) = &data {
            @let nodes = data["registryAt"]["nodes"].as_array().cloned().unwrap_or_default();
            table class="govuk-table" id="registry-at" {
                caption class="govuk-table__caption govuk-table__caption--m" { "At the end of " (given) ": " (nodes.len()) @if data["registryAt"]["pageInfo"]["hasNextPage"] == true { " (first page)" } " registrations" }
                thead class="govuk-table__head" { tr class="govuk-table__row" {
                    th scope="col" class="govuk-table__header" { "Account" }
                    th scope="col" class="govuk-table__header" { "Level" }
                    th scope="col" class="govuk-table__header" { "Service" }
                    th scope="col" class="govuk-table__header" { "Status then" }
                } }
                tbody class="govuk-table__body" {
                    @for r in &nodes {
                        tr class="govuk-table__row" {
                            td class="govuk-table__cell" { a class="govuk-link" href={ "/staff/audit/registrations/" (text(&r["id"])) } { (text(&r["accountKey"])) } }
                            td class="govuk-table__cell" { (level_name(text(&r["level"]))) }
                            td class="govuk-table__cell" { (service_name(data, text(&r["serviceArea"]))) }
                            td class="govuk-table__cell" { (status_tag(text(&r["status"]))) }
                        }
                    }
                }
            }
            @if data["registryAt"]["pageInfo"]["hasNextPage"] == true {
                a class="govuk-link" href={ "/staff/audit/registry?date=" (given) "&after=" (text(&data["registryAt"]["pageInfo"]["endCursor"])) } { "Next page" }
            }
        }
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    page(
        &state,
        Some(&session),
        status,
        "The registry on a date",
        body,
    )
}

/// The log as NDJSON (auditors), the same lines as the API's export.
pub(crate) async fn export(State(state): State<StaffState>, headers: HeaderMap) -> Response {
    use futures::StreamExt;
    let session = match require(&state, &headers, "/staff/audit").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !session.actor.has(Role::Auditor) {
        return refusal_page(
            &state,
            &session,
            "The log cannot be downloaded",
            &[api::Refusal {
                code: "FORBIDDEN".into(),
                message: "This needs the auditor role.".into(),
                field: None,
            }],
        );
    }
    let lines = state.app.store.export_lines(0, None).map(|line| {
        line.map(axum::body::Bytes::from)
            .map_err(std::io::Error::other)
    });
    (
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"registry-events.ndjson\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(lines),
    )
        .into_response()
}
