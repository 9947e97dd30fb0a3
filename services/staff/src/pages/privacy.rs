//! Data protection's pages: a subject access request (everything held
//! about one person) and erasure, with a confirmation step.
//!
//! The person is named in a POSTed form, never in a URL: a name in a query
//! string would reach access logs and browser history, where erasure cannot.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde_json::{json, Value};

use super::{checkbox, error_summary, input, refusal_page, text};
use crate::api;
use crate::session::Session;
use crate::{page, require, require_form, StaffState};

/// Who the request is about: a member of staff's id or a councillor's name.
struct Who {
    subject: String,
    councillor: String,
}

impl Who {
    fn from(form: &HashMap<String, String>) -> Who {
        let get = |k: &str| form.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
        Who {
            subject: get("subject"),
            councillor: get("councillor_name"),
        }
    }

    fn variables(&self) -> Value {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        json!({"subject": opt(&self.subject), "councillorName": opt(&self.councillor)})
    }

    fn problem(&self) -> Option<(String, String)> {
        match (self.subject.is_empty(), self.councillor.is_empty()) {
            (true, true) => Some((
                "subject".into(),
                "Enter the member of staff's id, or a councillor's name".into(),
            )),
            (false, false) => Some((
                "subject".into(),
                "Enter a member of staff's id or a councillor's name, not both".into(),
            )),
            _ => None,
        }
    }

    fn hidden(&self) -> Markup {
        html! {
            input type="hidden" name="subject" value=(self.subject);
            input type="hidden" name="councillor_name" value=(self.councillor);
        }
    }

    fn described(&self) -> String {
        if self.subject.is_empty() {
            format!("councillor {}", self.councillor)
        } else {
            format!("member of staff {}", self.subject)
        }
    }
}

fn lookup_form(session: &Session, who: &Who, error: Option<&str>) -> Markup {
    html! {
        form method="post" action="/staff/privacy" novalidate {
            input type="hidden" name="csrf" value=(session.csrf);
            (input("subject", "Member of staff's id", "Their id in the council's directory, as on the forms", &who.subject, error))
            (input("councillor_name", "Or a councillor's name", "As written on level 4 forms", &who.councillor, None))
            button type="submit" class="govuk-button" data-module="govuk-button" { "Find what is held" }
        }
    }
}

fn privacy_page(
    state: &StaffState,
    session: &Session,
    status: StatusCode,
    body: Markup,
) -> Response {
    page(
        state,
        Some(session),
        status,
        "Subject access and erasure",
        body,
    )
}

/// `GET /staff/privacy`: the lookup form.
pub(crate) async fn start(State(state): State<StaffState>, headers: HeaderMap) -> Response {
    let session = match require(&state, &headers, "/staff/privacy").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !session.actor.has(domain::Role::DataProtection) {
        return refusal_page(
            &state,
            &session,
            "Subject access and erasure",
            &[api::Refusal {
                code: "FORBIDDEN".into(),
                message: "This needs the data protection role.".into(),
                field: None,
            }],
        );
    }
    let who = Who {
        subject: String::new(),
        councillor: String::new(),
    };
    let body = html! {
        h1 class="govuk-heading-xl" { "Subject access and erasure" }
        p class="govuk-body" { "Find everything the registry holds about one person, to answer a subject access request or to erase it." }
        (lookup_form(&session, &who, None))
    };
    privacy_page(&state, &session, StatusCode::OK, body)
}

/// `POST /staff/privacy`: what is held about the person.
pub(crate) async fn lookup(
    State(state): State<StaffState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let session = match require_form(&state, &headers, "/staff/privacy", &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let who = Who::from(&form);
    if let Some((field, message)) = who.problem() {
        let body = html! {
            (error_summary(&[(field, message.clone())]))
            h1 class="govuk-heading-xl" { "Subject access and erasure" }
            (lookup_form(&session, &who, Some(&message)))
        };
        return privacy_page(&state, &session, StatusCode::BAD_REQUEST, body);
    }
    let data = match api::run(&state.schema, &session, "SubjectAccess", who.variables()).await {
        Ok(d) => d,
        Err(r) => return refusal_page(&state, &session, "Subject access and erasure", &r),
    };
    let held = &data["personalDataHeldFor"];
    let holdings = held["holdings"].as_array().cloned().unwrap_or_default();
    let erased = held["erased"] == true;
    let body = html! {
        span class="govuk-caption-l" { "Subject access" }
        h1 class="govuk-heading-xl" { "What is held about " (who.described()) }
        @if erased {
            div class="govuk-inset-text" { "This person's personal data has been erased. What remains is the record that each step happened, without their data." }
        }
        p class="govuk-body" { "They took " (held["eventsAsActor"]) " recorded actions themselves (signing in is not one)." }
        @let listing = &held["directoryListing"];
        @if listing.is_object() {
            h2 class="govuk-heading-m" { "The people directory" }
            dl class="govuk-summary-list" id="directory-listing" {
                @for (label, key) in [("Name", "name"), ("Work email", "email"), ("Job title", "jobTitle"), ("Unit", "unit")] {
                    div class="govuk-summary-list__row" {
                        dt class="govuk-summary-list__key" { (label) }
                        dd class="govuk-summary-list__value" { @match listing[key].as_str() { Some(v) => (v), None => em { @if erased { "Erased" } @else { "Not listed" } } } }
                    }
                }
            }
        }
        h2 class="govuk-heading-m" { "Registrations" }
        @if holdings.is_empty() {
            p class="govuk-body" id="holdings-empty" { "No registration holds personal data about them." }
        } @else {
            table class="govuk-table" id="holdings" {
                caption class="govuk-table__caption govuk-table__caption--m" { (holdings.len()) " values held" }
                thead class="govuk-table__head" { tr class="govuk-table__row" {
                    th scope="col" class="govuk-table__header" { "Registration" }
                    th scope="col" class="govuk-table__header" { "Where" }
                    th scope="col" class="govuk-table__header" { "Value" }
                } }
                tbody class="govuk-table__body" {
                    @for h in &holdings {
                        tr class="govuk-table__row" {
                            td class="govuk-table__cell" { a class="govuk-link" href={ "/staff/registrations/" (text(&h["registrationId"])) } { (text(&h["accountKey"])) } br; span class="govuk-hint" { (text(&h["status"])) } }
                            td class="govuk-table__cell" { (text(&h["field"])) }
                            td class="govuk-table__cell" { @match h["value"].as_str() { Some(v) => (v), None => em { "Erased" } } }
                        }
                    }
                }
            }
        }
        @if !erased {
            h2 class="govuk-heading-m" { "Erase" }
            p class="govuk-body" { "Erasing deletes the key that unlocks this person's data. Every page, list and export then shows it as erased. It cannot be undone." }
            form method="post" action="/staff/privacy/erase" {
                input type="hidden" name="csrf" value=(session.csrf);
                input type="hidden" name="step" value="confirm";
                (who.hidden())
                button type="submit" class="govuk-button govuk-button--warning" data-module="govuk-button" { "Erase this person's personal data" }
            }
        }
        p class="govuk-body" { a class="govuk-link" href="/staff/privacy" { "Look up someone else" } }
    };
    privacy_page(&state, &session, StatusCode::OK, body)
}

fn confirm_page(
    state: &StaffState,
    session: &Session,
    who: &Who,
    reason: &str,
    errors: &[(String, String)],
) -> Response {
    let error = |f: &str| errors.iter().find(|(k, _)| k == f).map(|(_, m)| m.as_str());
    let body = html! {
        (error_summary(errors))
        span class="govuk-caption-l" { "Erasure" }
        h1 class="govuk-heading-xl" { "Erase the personal data of " (who.described()) "?" }
        div class="govuk-warning-text" {
            span class="govuk-warning-text__icon" aria-hidden="true" { "!" }
            strong class="govuk-warning-text__text" { span class="govuk-visually-hidden" { "Warning" } "This cannot be undone. The record of each step stays; the person's name, email and other details do not." }
        }
        form method="post" action="/staff/privacy/erase" novalidate {
            input type="hidden" name="csrf" value=(session.csrf);
            input type="hidden" name="step" value="erase";
            (who.hidden())
            div class={ "govuk-form-group" @if error("reason").is_some() { " govuk-form-group--error" } } {
                label class="govuk-label govuk-label--s" for="reason" { "Why" }
                div class="govuk-hint" id="reason-hint" { "Say which request or rule, for example: subject's request DP-2026-114" }
                @if let Some(e) = error("reason") { p class="govuk-error-message" id="reason-error" { span class="govuk-visually-hidden" { "Error:" } " " (e) } }
                textarea class={ "govuk-textarea" @if error("reason").is_some() { " govuk-textarea--error" } } id="reason" name="reason" rows="3"
                    aria-describedby={ "reason-hint" @if error("reason").is_some() { " reason-error" } } { (reason) }
            }
            (checkbox("confirm", "I understand this person's personal data will be erased for good", false, error("confirm")))
            div class="govuk-button-group" {
                button type="submit" class="govuk-button govuk-button--warning" data-module="govuk-button" { "Erase for good" }
                a class="govuk-link" href="/staff/privacy" { "Cancel" }
            }
        }
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    privacy_page(state, session, status, body)
}

/// `POST /staff/privacy/erase`: `step=confirm` asks; `step=erase` does it.
pub(crate) async fn erase(
    State(state): State<StaffState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let session = match require_form(&state, &headers, "/staff/privacy", &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let who = Who::from(&form);
    if let Some((field, message)) = who.problem() {
        return refusal_page(
            &state,
            &session,
            "Subject access and erasure",
            &[api::Refusal {
                code: "BAD_USER_INPUT".into(),
                message,
                field: Some(field),
            }],
        );
    }
    let reason = form
        .get("reason")
        .map(|r| r.trim().to_owned())
        .unwrap_or_default();
    if form.get("step").map(String::as_str) != Some("erase") {
        return confirm_page(&state, &session, &who, "", &[]);
    }
    let mut errors = Vec::new();
    if reason.is_empty() {
        errors.push(("reason".to_owned(), "Say why the data is erased".to_owned()));
    }
    if form.get("confirm").map(String::as_str) != Some("yes") {
        errors.push((
            "confirm".to_owned(),
            "Confirm that you understand the data will be erased for good".to_owned(),
        ));
    }
    if !errors.is_empty() {
        return confirm_page(&state, &session, &who, &reason, &errors);
    }
    let mut vars = who.variables();
    vars["reason"] = json!(reason);
    match api::run(&state.schema, &session, "ErasePersonalData", vars).await {
        Ok(data) => {
            let body = html! {
                div class="govuk-panel govuk-panel--confirmation" {
                    h1 class="govuk-panel__title" { "Personal data erased" }
                    div class="govuk-panel__body" { "Recorded at log position " (data["erasePersonalData"]["position"]) }
                }
                p class="govuk-body" { "Every page, list and export now shows their data as erased." }
                p class="govuk-body" { a class="govuk-link" href="/staff/privacy" { "Look up someone else" } }
            };
            privacy_page(&state, &session, StatusCode::OK, body)
        }
        Err(r) => refusal_page(&state, &session, "The data was not erased", &r),
    }
}
