//! The teams' work pages: communications (the approvals queue, publication,
//! officer link-back checks, overdue re-validations and policy
//! acknowledgements, fake-account reports) and the consultation team
//! (consultations waiting for their Consultation Finder listing).

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{html, Markup};
use serde_json::{json, Value};

use super::{date, level_name, refusal_page, service_name, step_name, text, After};
use crate::api;
use crate::session::Session;
use crate::{page, require, StaffState};

/// A table of queue items: what, account, service, waiting since.
fn queue_table(caption: &str, items: &[&Value], data: &Value) -> Markup {
    html! {
        table class="govuk-table" {
            caption class="govuk-table__caption govuk-table__caption--m" { (caption) " (" (items.len()) ")" }
            @if items.is_empty() {
                tbody class="govuk-table__body" { tr class="govuk-table__row" { td class="govuk-table__cell" { "Nothing waits." } } }
            } @else {
                thead class="govuk-table__head" { tr class="govuk-table__row" {
                    th scope="col" class="govuk-table__header" { "What" }
                    th scope="col" class="govuk-table__header" { "Account" }
                    th scope="col" class="govuk-table__header" { "Service" }
                    th scope="col" class="govuk-table__header" { "Waiting since" }
                } }
                tbody class="govuk-table__body" {
                    @for item in items {
                        @let id = text(&item["registrationId"]);
                        tr class="govuk-table__row" {
                            td class="govuk-table__cell" {
                                @if text(&item["step"]) == "fake_account_report" {
                                    a class="govuk-link" href={ "/staff/reports#report-" (id) } { (step_name(text(&item["step"]))) }
                                } @else {
                                    a class="govuk-link" href={ "/staff/registrations/" (id) } { (step_name(text(&item["step"]))) }
                                }
                            }
                            td class="govuk-table__cell" { (text(&item["accountKey"])) br; span class="govuk-hint" { (level_name(text(&item["level"]))) } }
                            td class="govuk-table__cell" { (service_name(data, text(&item["serviceArea"]))) }
                            td class="govuk-table__cell" { (date(&item["waitingSince"])) }
                        }
                    }
                }
            }
        }
    }
}

fn page_for(state: &StaffState, session: &Session, title: &str, body: Markup) -> Response {
    page(state, Some(session), StatusCode::OK, title, body)
}

/// `/staff/communications`: everything waiting for the communications team.
pub(crate) async fn communications(
    State(state): State<StaffState>,
    headers: HeaderMap,
    Query(q): Query<After>,
) -> Response {
    let session = match require(&state, &headers, "/staff/communications").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let vars = json!({"atLeastPosition": q.after});
    let data = match api::run(&state.schema, &session, "CommunicationsWork", vars).await {
        Ok(d) => d,
        Err(r) => return refusal_page(&state, &session, "Communications", &r),
    };
    let queue: Vec<&Value> = data["approvalQueue"]["nodes"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let of = |pred: &dyn Fn(&str) -> bool| -> Vec<&Value> {
        queue
            .iter()
            .copied()
            .filter(|i| pred(text(&i["step"])))
            .collect()
    };
    let approvals = of(&|s| s == "approval" || s.starts_with("branding"));
    let publication = of(&|s| s == "publication");
    let link_backs = of(&|s| s == "link_back_check");
    let reports = of(&|s| s == "fake_account_report");
    let revalidations = data["revalidationDue"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let policy = data["policyAcknowledgementsDue"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let body = html! {
        h1 class="govuk-heading-xl" { "Communications" }
        p class="govuk-body" { "What waits for the communications team, longest waiting first. Open a registration to act on it." }
        (queue_table("To approve (the registration or a logo)", &approvals, &data))
        (queue_table("Approved, to publish", &publication, &data))
        (queue_table("Level 3: check the officer's profile links to their page", &link_backs, &data))
        table class="govuk-table" id="revalidations" {
            caption class="govuk-table__caption govuk-table__caption--m" { "Re-validations overdue (" (revalidations.len()) ")" }
            @if revalidations.is_empty() {
                tbody class="govuk-table__body" { tr class="govuk-table__row" { td class="govuk-table__cell" { "None is overdue." } } }
            } @else {
                thead class="govuk-table__head" { tr class="govuk-table__row" {
                    th scope="col" class="govuk-table__header" { "Account" }
                    th scope="col" class="govuk-table__header" { "Service" }
                    th scope="col" class="govuk-table__header" { "Last confirmed" }
                    th scope="col" class="govuk-table__header" { "Was due" }
                } }
                tbody class="govuk-table__body" {
                    @for r in &revalidations {
                        tr class="govuk-table__row" {
                            td class="govuk-table__cell" { a class="govuk-link" href={ "/staff/registrations/" (text(&r["registrationId"])) } { (text(&r["accountKey"])) } }
                            td class="govuk-table__cell" { (service_name(&data, text(&r["serviceArea"]))) }
                            td class="govuk-table__cell" { (date(&r["lastValidatedAt"])) }
                            td class="govuk-table__cell" { strong class="govuk-tag govuk-tag--red" { (text(&r["dueOn"])) } }
                        }
                    }
                }
            }
        }
        table class="govuk-table" id="policy-acknowledgements" {
            caption class="govuk-table__caption govuk-table__caption--m" { "Policy acknowledgements overdue (" (policy.len()) ")" }
            @if policy.is_empty() {
                tbody class="govuk-table__body" { tr class="govuk-table__row" { td class="govuk-table__cell" { "None is overdue." } } }
            } @else {
                thead class="govuk-table__head" { tr class="govuk-table__row" {
                    th scope="col" class="govuk-table__header" { "Account" }
                    th scope="col" class="govuk-table__header" { "Acknowledged" }
                    th scope="col" class="govuk-table__header" { "Current policy" }
                    th scope="col" class="govuk-table__header" { "Was due" }
                } }
                tbody class="govuk-table__body" {
                    @for r in &policy {
                        tr class="govuk-table__row" {
                            td class="govuk-table__cell" { a class="govuk-link" href={ "/staff/registrations/" (text(&r["registrationId"])) } { (text(&r["accountKey"])) } }
                            td class="govuk-table__cell" { "Version " (text(&r["acknowledgedVersion"])) }
                            td class="govuk-table__cell" { "Version " (text(&r["currentVersion"])) }
                            td class="govuk-table__cell" { (text(&r["dueOn"])) }
                        }
                    }
                }
            }
        }
        h2 class="govuk-heading-m" { "Fake account reports" }
        p class="govuk-body" {
            (reports.len()) " open. "
            a class="govuk-link" href="/staff/reports" { "See and close the reports" }
        }
    };
    page_for(&state, &session, "Communications", body)
}

/// `/staff/consultation`: consultations waiting for their Finder listing,
/// each with the form that records it.
pub(crate) async fn consultation(
    State(state): State<StaffState>,
    headers: HeaderMap,
    Query(q): Query<After>,
) -> Response {
    let session = match require(&state, &headers, "/staff/consultation").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let vars = json!({"atLeastPosition": q.after});
    let data = match api::run(&state.schema, &session, "ConsultationWork", vars).await {
        Ok(d) => d,
        Err(r) => return refusal_page(&state, &session, "Consultations to list", &r),
    };
    let items = data["consultations"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let waiting: Vec<&Value> = items
        .iter()
        .filter(|c| {
            matches!(
                text(&c["status"]),
                "SUBMITTED" | "CHANGES_REQUESTED" | "APPROVED"
            )
        })
        .collect();
    let body = html! {
        h1 class="govuk-heading-xl" { "Consultations to list" }
        p class="govuk-body" { "Level 2 accounts consult the public. Each consultation is listed in Consultation Finder before the account is approved. Soonest closing first." }
        @if waiting.is_empty() {
            p class="govuk-body" id="consultations-empty" { "No consultation waits for a listing." }
        }
        @for c in &waiting {
            @let id = text(&c["registrationId"]);
            div class="govuk-summary-card" id={ "consultation-" (id) } {
                div class="govuk-summary-card__title-wrapper" {
                    h2 class="govuk-summary-card__title" { (text(&c["topic"])) }
                }
                div class="govuk-summary-card__content" {
                    dl class="govuk-summary-list" {
                        div class="govuk-summary-list__row" { dt class="govuk-summary-list__key" { "Account" } dd class="govuk-summary-list__value" { a class="govuk-link" href={ "/staff/registrations/" (id) } { (text(&c["accountKey"])) } } }
                        div class="govuk-summary-list__row" { dt class="govuk-summary-list__key" { "Service" } dd class="govuk-summary-list__value" { (service_name(&data, text(&c["serviceArea"]))) } }
                        div class="govuk-summary-list__row" { dt class="govuk-summary-list__key" { "Open" } dd class="govuk-summary-list__value" { (text(&c["opensOn"])) " to " (text(&c["closesOn"])) } }
                    }
                    form method="post" action={ "/staff/registrations/" (id) "/act" } {
                        input type="hidden" name="csrf" value=(session.csrf);
                        input type="hidden" name="action" value="consultation_listing";
                        input type="hidden" name="return_to" value="/staff/consultation";
                        div class="govuk-form-group" {
                            label class="govuk-label govuk-label--s" for={ "finder-" (id) } { "Consultation Finder reference" }
                            div class="govuk-hint" id={ "finder-" (id) "-hint" } { "For example, CF-2026-041" }
                            input class="govuk-input govuk-input--width-20" id={ "finder-" (id) } name="finder_reference" type="text" aria-describedby={ "finder-" (id) "-hint" };
                        }
                        button type="submit" class="govuk-button" data-module="govuk-button" { "Record the listing" }
                    }
                }
            }
        }
    };
    page_for(&state, &session, "Consultations to list", body)
}
