//! The person picker: every form field that names a colleague (business
//! contact, officer, line manager, senior officer) searches the people
//! directory by name, stores the chosen person's `sub` and shows their
//! name. Without JavaScript, "Find" and "Choose" are buttons that post the
//! form back; with it, the results appear as the person types (the same
//! server-rendered list, fetched). Someone not in the directory can still
//! be entered by hand.
//!
//! Searches travel in POSTed forms, never URLs: a colleague's name in a
//! query string would reach access logs.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use maud::{html, Markup};
use serde_json::{json, Value};

use super::{text, Fields};
use crate::api;
use crate::session::{self, Session};
use crate::{require, StaffState};

/// The fields that name a person: (prefix, whose).
pub(super) const PEOPLE: [(&str, &str); 4] = [
    ("contact", "Business contact"),
    ("officer", "Officer who will use it"),
    ("manager", "Line manager"),
    ("senior", "Senior officer responsible"),
];

/// Whether a form field belongs to a person picker (rendered by it).
pub(super) fn is_person_field(field: &str) -> Option<&'static str> {
    PEOPLE.iter().find_map(|(prefix, _)| {
        ["_subject", "_name", "_email"]
            .iter()
            .any(|s| field == format!("{prefix}{s}"))
            .then_some(*prefix)
    })
}

/// The search under way in one picker: its prefix and what it found.
pub(super) struct Search {
    pub prefix: String,
    pub found: Result<Vec<Value>, String>,
}

/// People whose names hold every word of `words`, as the signed-in person
/// may see them; or a refusal in words.
pub(super) async fn find(
    state: &StaffState,
    session: &Session,
    words: &str,
) -> Result<Vec<Value>, String> {
    if words.chars().filter(|c| c.is_alphanumeric()).count() < 2 {
        return Err("Type at least 2 letters of their name".into());
    }
    match api::run(
        &state.schema,
        session,
        "FindPeople",
        json!({"search": words}),
    )
    .await
    {
        Ok(d) => Ok(d["people"].as_array().cloned().unwrap_or_default()),
        Err(r) => Err(r
            .first()
            .map(|r| {
                r.message
                    .split_once(": ")
                    .map_or(r.message.clone(), |(_, p)| p.to_owned())
            })
            .unwrap_or_default()),
    }
}

fn describe(p: &Value) -> String {
    [text(&p["jobTitle"]), text(&p["unit"]), text(&p["email"])]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The results of a search, as radios to choose from with a button.
pub(super) fn results(prefix: &str, whose: &str, found: &Result<Vec<Value>, String>) -> Markup {
    html! {
        @match found {
            Err(problem) => { p class="govuk-error-message" { span class="govuk-visually-hidden" { "Error:" } " " (problem) } }
            Ok(people) if people.is_empty() => {
                p class="govuk-body" { "No one in the directory has that name. Check the spelling, or enter their details below." }
            }
            Ok(people) => {
                div class="govuk-radios govuk-radios--small staff-picker-results" data-module="govuk-radios" {
                    @for (i, p) in people.iter().enumerate() {
                        @let id = format!("{prefix}-pick-{i}");
                        div class="govuk-radios__item" {
                            input class="govuk-radios__input" id=(id) name={ (prefix) "_pick" } type="radio" value=(text(&p["subject"])) aria-describedby={ (id) "-hint" } checked[i == 0 && people.len() == 1];
                            label class="govuk-label govuk-radios__label" for=(id) { (p["name"].as_str().unwrap_or("Erased")) }
                            div class="govuk-hint govuk-radios__hint" id={ (id) "-hint" } { (describe(p)) }
                        }
                    }
                }
                button type="submit" name="step" value={ "choose-" (prefix) } class="govuk-button" data-module="govuk-button" {
                    "Choose" span class="govuk-visually-hidden" { " the " (whose.to_lowercase()) }
                }
            }
        }
    }
}

/// One picker: the chosen person, or a search (with its results, when
/// this picker was searched) and a way to enter someone by hand.
pub(super) fn picker(
    prefix: &str,
    whose: &str,
    hint: &str,
    f: &Fields,
    error: Option<&str>,
    search: Option<&Search>,
) -> Markup {
    let value = |k: &str| {
        f.get(&format!("{prefix}_{k}"))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    // Chosen from the directory (not typed by hand): shown by name.
    let chosen = !value("subject").is_empty()
        && !value("name").is_empty()
        && f.contains_key(&format!("{prefix}_chosen"));
    let searched = search.filter(|s| s.prefix == prefix);
    html! {
        div class={ "govuk-form-group staff-picker" @if error.is_some() { " govuk-form-group--error" } } data-person-picker=(prefix) {
            fieldset class="govuk-fieldset" aria-describedby={ (prefix) "-picker-hint" @if error.is_some() { " " (prefix) "-picker-error" } } {
                legend class="govuk-fieldset__legend govuk-fieldset__legend--s" { (whose) }
                div class="govuk-hint" id={ (prefix) "-picker-hint" } { @if hint.is_empty() { "Find them by name in the council's directory" } @else { (hint) } }
                @if let Some(e) = error { p class="govuk-error-message" id={ (prefix) "-picker-error" } { span class="govuk-visually-hidden" { "Error:" } " " (e) } }
                @if chosen {
                    p class="govuk-body staff-chosen" {
                        strong { (value("name")) }
                        @if !value("email").is_empty() { " (" (value("email")) ")" }
                    }
                    input type="hidden" name={ (prefix) "_subject" } value=(value("subject"));
                    input type="hidden" name={ (prefix) "_name" } value=(value("name"));
                    input type="hidden" name={ (prefix) "_email" } value=(value("email"));
                    input type="hidden" name={ (prefix) "_chosen" } value="yes";
                    button type="submit" name="step" value={ "clear-" (prefix) } id={ (prefix) "-subject" } class="govuk-button govuk-button--secondary" data-module="govuk-button" {
                        "Choose someone else" span class="govuk-visually-hidden" { " as " (whose.to_lowercase()) }
                    }
                } @else {
                    label class="govuk-label" for={ (prefix) "-subject" } { (whose) ": search by name" }
                    div class="staff-picker-search" {
                        input class="govuk-input govuk-input--width-20" id={ (prefix) "-subject" } name={ (prefix) "_search" } type="text" autocomplete="off" spellcheck="false" value=(value("search")) data-picker-search aria-controls={ (prefix) "-results" };
                        " "
                        button type="submit" name="step" value={ "find-" (prefix) } class="govuk-button govuk-button--secondary staff-picker-find" data-module="govuk-button" {
                            "Find" span class="govuk-visually-hidden" { " the " (whose.to_lowercase()) }
                        }
                    }
                    div id={ (prefix) "-results" } data-picker-results aria-live="polite" {
                        @if let Some(s) = searched { (results(prefix, whose, &s.found)) }
                    }
                    details class="govuk-details" open[!value("subject").is_empty() || !value("name").is_empty()] {
                        summary class="govuk-details__summary" { span class="govuk-details__summary-text" { "They are not in the directory" } }
                        div class="govuk-details__text" {
                            @for (k, label) in [("subject", "staff id"), ("name", "full name"), ("email", "work email")] {
                                @let id = format!("{prefix}-manual-{k}");
                                div class="govuk-form-group" {
                                    label class="govuk-label" for=(id) { (whose_short(whose)) ": " (label) }
                                    input class="govuk-input" id=(id) name={ (prefix) "_" (k) } type="text" value=(value(k));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// "Officer who will use it" → "Officer", for the hand-entry labels.
fn whose_short(whose: &str) -> &str {
    match whose {
        "Officer who will use it" => "Officer",
        "Senior officer responsible" => "Senior officer",
        w => w,
    }
}

/// Whether a form's `step` is one of a picker's (find, choose, clear).
pub(super) fn is_step(step: &str) -> bool {
    ["find-", "choose-", "clear-"]
        .iter()
        .any(|p| step.starts_with(p))
}

/// What a picker step did to the form: the search to show, if any.
pub(super) async fn step(
    state: &StaffState,
    session: &Session,
    step: &str,
    f: &mut Fields,
) -> Option<Search> {
    let (action, prefix) = step.split_once('-')?;
    PEOPLE.iter().find(|(p, _)| *p == prefix)?;
    let key = |k: &str| format!("{prefix}_{k}");
    match action {
        "clear" => {
            for k in ["subject", "name", "email", "chosen", "pick"] {
                f.remove(&key(k));
            }
            None
        }
        "find" => {
            let words = f.get(&key("search")).cloned().unwrap_or_default();
            Some(Search {
                prefix: prefix.to_owned(),
                found: find(state, session, &words).await,
            })
        }
        "choose" => {
            let words = f.get(&key("search")).cloned().unwrap_or_default();
            let found = find(state, session, &words).await;
            let pick = f.get(&key("pick")).cloned().unwrap_or_default();
            let person = found
                .as_ref()
                .ok()
                .and_then(|people| people.iter().find(|p| text(&p["subject"]) == pick))
                .cloned();
            match person {
                Some(p) => {
                    f.insert(key("subject"), text(&p["subject"]).to_owned());
                    f.insert(key("name"), text(&p["name"]).to_owned());
                    f.insert(key("email"), text(&p["email"]).to_owned());
                    f.insert(key("chosen"), "yes".to_owned());
                    for k in ["search", "pick"] {
                        f.remove(&key(k));
                    }
                    None
                }
                None => Some(Search {
                    prefix: prefix.to_owned(),
                    found: match found {
                        Ok(people) if !people.is_empty() => {
                            Err("Choose one of the people found".into())
                        }
                        other => other,
                    },
                }),
            }
        }
        _ => None,
    }
}

/// `POST /staff/people`: a picker's results as HTML, for its live search.
pub(crate) async fn live(
    State(state): State<StaffState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let session = match require(&state, &headers, "/staff").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !session::csrf_ok(
        &session,
        form.get("csrf").map(String::as_str).unwrap_or_default(),
    ) {
        return (StatusCode::FORBIDDEN, "the form has expired").into_response();
    }
    let prefix = form.get("for").map(String::as_str).unwrap_or_default();
    let Some((prefix, whose)) = PEOPLE.iter().find(|(p, _)| *p == prefix) else {
        return (StatusCode::BAD_REQUEST, "for: not a person field").into_response();
    };
    let words = form.get("search").map(String::as_str).unwrap_or_default();
    let found = find(&state, &session, words).await;
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        results(prefix, whose, &found).into_string(),
    )
        .into_response()
}
