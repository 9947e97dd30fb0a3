//! The pages.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use domain::level::Level;
use domain::platform::Platform;
use serde::Deserialize;

use super::{client_ip, failure, page, problem, url_encode, WebState};
use maud::{html, Markup};
use projections::public::{self, Account, DirectoryQuery};

const PAGE_SIZE: i64 = 50;

fn date(at: DateTime<Utc>) -> String {
    at.format("%-d %B %Y").to_string()
}

fn level_text(level: Level) -> String {
    format!("Level {} – {}", level.number(), level.name())
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct DirectoryParams {
    q: Option<String>,
    platform: Option<String>,
    service: Option<String>,
    after: Option<String>,
}

pub(super) async fn directory(
    State(state): State<WebState>,
    Query(params): Query<DirectoryParams>,
) -> Response {
    if let Some(refused) = super::refuse_nul(
        &state,
        &[
            ("q", params.q.as_deref()),
            ("platform", params.platform.as_deref()),
            ("service", params.service.as_deref()),
            ("after", params.after.as_deref()),
        ],
    ) {
        return refused;
    }
    let pool = &state.app.pool;
    let platform = params
        .platform
        .as_deref()
        .filter(|p| !p.is_empty())
        .and_then(Platform::from_code);
    let service = params.service.clone().filter(|s| !s.is_empty());
    let query = DirectoryQuery {
        platform,
        service_area: service.clone(),
        level: None,
        search: params.q.clone(),
        after: params.after.clone().filter(|a| !a.is_empty()),
        limit: PAGE_SIZE,
    };
    let (rows, services) =
        match tokio::try_join!(public::directory(pool, &query), public::service_names(pool)) {
            Ok(x) => x,
            Err(e) => return failure(&state, &e),
        };
    let q = params.q.clone().unwrap_or_default();
    let mut services_sorted: Vec<(&String, &String)> = services.iter().collect();
    services_sorted.sort_by(|a, b| a.1.cmp(b.1));
    let has_more = rows.len() as i64 > PAGE_SIZE;
    let shown = &rows[..rows.len().min(PAGE_SIZE as usize)];
    let next = has_more.then(|| {
        format!(
            "/directory?q={}&platform={}&service={}&after={}",
            url_encode(&q),
            url_encode(params.platform.as_deref().unwrap_or("")),
            url_encode(params.service.as_deref().unwrap_or("")),
            url_encode(&rows[PAGE_SIZE as usize - 1].account_key)
        )
    });
    let body = html! {
        h1 { "Official social media accounts" }
        p {
            "Every social media account the council runs is listed here. If an account claiming to be the council is not listed, it is not official: "
            a href="/verify" { "check an account" } " or " a href="/report" { "report it" } "."
        }
        form.filters method="get" action="/directory" role="search" {
            div { label for="q" { "Search" } input type="search" #q name="q" value=(q); }
            div {
                label for="platform" { "Platform" }
                select #platform name="platform" {
                    option value="" { "All platforms" }
                    @for p in Platform::ALL {
                        option value=(p.code()) selected[Some(p) == platform] { (p.display_name()) }
                    }
                }
            }
            div {
                label for="service" { "Service" }
                select #service name="service" {
                    option value="" { "All services" }
                    @for (code, name) in &services_sorted {
                        option value=(code) selected[service.as_deref() == Some(code.as_str())] { (name) }
                    }
                }
            }
            div { button type="submit" { "Show accounts" } }
        }
        @if shown.is_empty() {
            p { "No official accounts match. Try fewer words, or all platforms and services." }
        } @else {
            div.table-wrap role="region" aria-label="Official accounts" tabindex="0" {
                table {
                    caption { "Official accounts" @if query.after.is_some() { " (continued)" } }
                    thead { tr {
                        th scope="col" { "Account" } th scope="col" { "Platform" }
                        th scope="col" { "Service" } th scope="col" { "Level" }
                        th scope="col" { "Official since" } th scope="col" { "Officer" }
                    } }
                    tbody {
                        @for row in shown {
                            tr {
                                td { a href=(row.account_url) rel="noopener" { (row.account_url) } }
                                td { (row.platform.display_name()) }
                                td { (row.service_name.as_deref().unwrap_or(&row.service_area)) }
                                td { (level_text(row.level)) }
                                td { (date(row.published_at)) }
                                td { @if let Some(slug) = &row.officer_slug {
                                    a href={ "/officers/" (slug) } { "Officer's page" }
                                } }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(next) = next {
            p { a href=(next) { "Next page of accounts" } }
        }
    };
    page(
        &state,
        StatusCode::OK,
        "Official social media accounts",
        body,
    )
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct VerifyParams {
    account: Option<String>,
    /// The platform's permanent id of the account, when the visitor has it.
    id: Option<String>,
}

fn account_facts(state: &WebState, a: &Account) -> Markup {
    html! {
        dl {
            dt { "Account" } dd { a href=(a.account_url) rel="noopener" { (a.account_url) } }
            dt { "Platform" } dd { (a.platform.display_name()) }
            dt { "Run by" } dd { (state.council_name) ", " (a.service_name.as_deref().unwrap_or(&a.service_area)) }
            dt { "Level" } dd { (level_text(a.level)) }
            dt { "Official since" } dd { (date(a.verified_since)) }
            @if a.verified {
                dt { "Last confirmed" } dd { (date(a.last_confirmed_at)) }
            }
            @if let Some(slug) = &a.officer_slug {
                dt { "Officer" } dd { a href={ "/officers/" (slug) } { "See the officer's page" } }
            }
        }
    }
}

pub(super) async fn verify(
    State(state): State<WebState>,
    headers: HeaderMap,
    Query(params): Query<VerifyParams>,
) -> Response {
    if let Some(refused) = super::refuse_nul(
        &state,
        &[
            ("account", params.account.as_deref()),
            ("id", params.id.as_deref()),
        ],
    ) {
        return refused;
    }
    let version = IndexVersion::now(&state);
    if version.matches(&headers) {
        return version.not_modified();
    }
    let input = params.account.clone().unwrap_or_default();
    let trimmed = input.trim();
    let given_id = params
        .id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let mut result = html! {};
    let mut status = StatusCode::OK;
    if params.account.is_some() && trimmed.is_empty() {
        status = StatusCode::BAD_REQUEST;
        result = problem("account", "Enter the account's web address or handle");
    } else if trimmed.chars().count() > 2000 {
        status = StatusCode::BAD_REQUEST;
        result = problem("account", "The address must be at most 2000 characters");
    } else if given_id.is_some_and(|id| id.chars().count() > 500) {
        status = StatusCode::BAD_REQUEST;
        result = problem("id", "The account id must be at most 500 characters");
    } else if !trimmed.is_empty() {
        let verdict = state.app.public.snapshot().verify_with(trimmed, given_id);
        let council = state.council_name.as_str();
        let different = verdict.permanent == projections::public::PermanentCheck::Different;
        result = match verdict.account {
            Some(a) if a.verified && different => html! {
                div.result.withdrawn #result data-status="not-the-councils" {
                    h2 { span.badge.withdrawn { "Not the council's" } " This is not the account the council registered" }
                    p {
                        "The council registered " (a.account_url) ", but the account id you gave belongs to a different account: the name may now be used by someone else. That account does not speak for " (council) "."
                    }
                    p { a href={ "/report?account=" (url_encode(trimmed)) } { "Report this account as a possible fake" } }
                }
            },
            Some(a) if a.verified => {
                let overdue = a.confirmation_overdue(state.app.public.policy(), chrono::Utc::now());
                html! {
                    div.result.verified #result data-status="verified" {
                        h2 { span.badge.verified { "Verified" } " This is an official " (council) " account" }
                        @if overdue {
                            p.overdue #overdue {
                                "The council has not re-confirmed this account since "
                                (date(a.last_confirmed_at))
                                ", and that confirmation is now overdue. It is still registered as official; if something it posts looks wrong, "
                                a href={ "/report?account=" (url_encode(trimmed)) } { "tell the council" } "."
                            }
                        }
                        (account_facts(&state, &a))
                    }
                }
            }
            Some(Account {
                renamed: Some(r), ..
            }) => html! {
                div.result.withdrawn #result data-status="renamed" {
                    h2 { span.badge.withdrawn { "Renamed" } " This is no longer the name of a council account" }
                    p {
                        "This was an official " (council) " account, and since "
                        (date(r.at))
                        " it is called "
                        a href=(r.account_url) rel="noopener" { (r.account_url) }
                        ". Whoever uses the old name now does not speak for the council."
                    }
                    p { a href={ "/verify?account=" (url_encode(&r.account_url)) } { "Check the account it was renamed to" } }
                }
            },
            Some(a) => html! {
                div.result.withdrawn #result data-status="withdrawn" {
                    h2 { span.badge.withdrawn { "Withdrawn" } " This account is no longer an official council account" }
                    p {
                        "It was an official " (council) " account until "
                        (a.withdrawn_at.map(date).unwrap_or_default())
                        ". Anything it has posted since does not speak for the council."
                    }
                    (account_facts(&state, &a))
                }
            },
            None => html! {
                div.result.unknown #result data-status="unknown" {
                    h2 { "We have no record of this account" }
                    p { "It may not be official. The council's official accounts are all in the " a href="/directory" { "directory" } "." }
                    p { a href={ "/report?account=" (url_encode(trimmed)) } { "Report this account as a possible fake" } }
                }
            },
        };
    }
    let body = html! {
        h1 { "Is this account genuine?" }
        form method="get" action="/verify" {
            label for="account" { "The account's web address or handle" }
            p.hint #account-hint { "Paste it as you have it, for example https://x.com/NorthCouncil or @NorthCouncil" }
            input type="text" #account name="account" value=(input) aria-describedby="account-hint" autocomplete="off" spellcheck="false";
            details open[given_id.is_some()] {
                summary { "I also have the account's id (optional)" }
                label for="id" { "The account's permanent id" }
                p.hint #id-hint { "Some platforms show a number or code that never changes, even when the name does: an X, Instagram or Facebook id, a YouTube channel id (UC…), a Bluesky DID or a Mastodon account URI." }
                input type="text" #id name="id" value=(given_id.unwrap_or_default()) aria-describedby="id-hint" autocomplete="off" spellcheck="false";
            }
            button type="submit" { "Check" }
        }
        (result)
    };
    version.tag(page(&state, status, "Is this account genuine?", body))
}

pub(super) async fn officer(
    State(state): State<WebState>,
    headers: HeaderMap,
    Path(slug): Path<String>,
) -> Response {
    if let Some(refused) = super::refuse_nul(&state, &[("slug", Some(&slug))]) {
        return refused;
    }
    let version = IndexVersion::now(&state);
    if version.matches(&headers) {
        return version.not_modified();
    }
    let found = if slug.len() > 100 {
        None
    } else {
        match state.app.public.officer_page(&state.app.vault, &slug).await {
            Ok(x) => x,
            Err(e) => return failure(&state, &e),
        }
    };
    let Some(o) = found else {
        return page(
            &state,
            StatusCode::NOT_FOUND,
            "Officer not found",
            html! {
                h1 { "Officer not found" }
                p { "There is no officer page at this address. Check the link, or " a href="/verify" { "check an account" } " instead." }
            },
        );
    };
    let name = o.name.clone().unwrap_or_else(|| "Name withheld".to_owned());
    let body = html! {
        h1 { (name) }
        @if o.accounts.is_empty() {
            p { (name) " no longer uses a social media account for " (state.council_name) ". Any account that claims to be this officer's is not the council's." }
        } @else {
            p { (name) " is an officer of " (state.council_name) " who talks with the public on social media as part of their job. The accounts below are theirs. If an account claims to be this officer's and is not listed here, it is not the council's." }
        }
        dl {
            dt { "Job role" } dd { (o.job_title) }
            dt { "Service" } dd { (o.service_name.as_deref().unwrap_or(&o.service_area)) }
            dt { "Published since" } dd { (date(o.published_since)) }
        }
        h2 { "Accounts" }
        ul {
            @for a in &o.accounts {
                li {
                    a href=(a.account_url) rel="noopener" { (a.account_url) }
                    " (" (a.platform.display_name()) ") – "
                    @if a.verified {
                        span.badge.verified { "Verified" }
                        @if let Some(at) = a.link_back_checked_at {
                            " – its profile links to this page (checked by the council on " (date(at)) ")"
                        }
                    } @else {
                        span.badge.withdrawn { "Withdrawn" } " on " (a.withdrawn_at.map(date).unwrap_or_default())
                    }
                }
            }
        }
    };
    version.tag(page(&state, StatusCode::OK, &name, body))
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct ReportParams {
    account: Option<String>,
}

fn report_body(account: &str, details: &str, error: Option<(&str, &str)>) -> Markup {
    html! {
        h1 { "Report a fake account" }
        p { "Tell us about an account that pretends to be the council, a council service or one of our officers. Do not include your own personal details." }
        @if let Some((field, message)) = error { (problem(field, message)) }
        form method="post" action="/report" {
            label for="account" { "The account's web address or handle" }
            input type="text" #account name="account" value=(account) autocomplete="off" spellcheck="false";
            label for="details" { "What made you think it is not genuine? (optional)" }
            textarea #details name="details" { (details) }
            div.hp aria-hidden="true" {
                label for="website" { "Leave this field empty" }
                input type="text" #website name="website" tabindex="-1" autocomplete="off";
            }
            button type="submit" { "Send report" }
        }
    }
}

pub(super) async fn report_form(
    State(state): State<WebState>,
    Query(params): Query<ReportParams>,
) -> Response {
    if let Some(refused) = super::refuse_nul(&state, &[("account", params.account.as_deref())]) {
        return refused;
    }
    let body = report_body(params.account.as_deref().unwrap_or(""), "", None);
    page(&state, StatusCode::OK, "Report a fake account", body)
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct ReportForm {
    #[serde(default)]
    account: String,
    #[serde(default)]
    details: String,
    #[serde(default)]
    website: String,
}

fn thanks(state: &WebState, reference: &str) -> Response {
    let body = html! {
        h1 { "Thank you: we have your report" }
        div.result.verified {
            h2 { "Your reference is " strong #reference { (reference) } }
            p { "The communications team looks at every report. Quote the reference if you contact us about it." }
        }
        p { a href="/directory" { "See the council's official accounts" } }
    };
    page(state, StatusCode::OK, "Report received", body)
}

pub(super) async fn report_submit(
    State(state): State<WebState>,
    headers: HeaderMap,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Form(form): Form<ReportForm>,
) -> Response {
    if let Some(refused) = super::refuse_nul(
        &state,
        &[
            ("account", Some(&form.account)),
            ("details", Some(&form.details)),
        ],
    ) {
        return refused;
    }
    if !form.website.is_empty() {
        // A bot filled the hidden field: look the same, record nothing.
        tracing::info!("ignored a report that filled the honeypot field");
        return thanks(&state, &domain::report::reference(uuid::Uuid::new_v4()));
    }
    let account = form.account.trim();
    if account.is_empty() || account.chars().count() > 500 {
        let message = if account.is_empty() {
            "Enter the account's web address or handle"
        } else {
            "The address must be at most 500 characters"
        };
        let body = report_body(&form.account, &form.details, Some(("account", message)));
        return page(
            &state,
            StatusCode::BAD_REQUEST,
            "Report a fake account",
            body,
        );
    }
    if form.details.chars().count() > 2000 {
        let body = report_body(
            &form.account,
            &form.details,
            Some((
                "details",
                "Keep the description to 2000 characters or fewer",
            )),
        );
        return page(
            &state,
            StatusCode::BAD_REQUEST,
            "Report a fake account",
            body,
        );
    }
    let client = client_ip(&state, &headers, peer.map(|axum::Extension(c)| c));
    if !state.reports.allow(&client) {
        return page(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            "Too many reports",
            html! {
                h1 { "Too many reports" }
                p { "We have had several reports from you recently. Please try again in an hour." }
            },
        );
    }
    let handler = state.app.handler.clone();
    let correlation = uuid::Uuid::new_v4().to_string();
    match handler
        .report_fake_account(account, &form.details, &correlation)
        .await
    {
        Ok((_, reference, _)) => thanks(&state, &reference),
        Err(app::commands::HandleError::Domain(domain::DomainError::Invalid {
            field,
            problem,
        })) => {
            let body = report_body(
                &form.account,
                &form.details,
                Some((&field, &format!("{field}: {problem}"))),
            );
            page(
                &state,
                StatusCode::BAD_REQUEST,
                "Report a fake account",
                body,
            )
        }
        Err(e) => failure(&state, &e),
    }
}

/// The version of the public answers a page shows: the log position the
/// in-memory index reflects. A page is the same while it is, so a browser
/// (or a proxy) that revalidates gets `304 Not Modified` without a render.
struct IndexVersion(String);

impl IndexVersion {
    /// The index's position and today's date: whether a confirmation is
    /// overdue changes with the date, not only with the registry.
    fn now(state: &WebState) -> Self {
        IndexVersion(format!(
            "\"index-{}-{}\"",
            state.app.public.position(),
            chrono::Utc::now().format("%Y%m%d")
        ))
    }

    fn matches(&self, headers: &HeaderMap) -> bool {
        headers
            .get(axum::http::header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == self.0))
    }

    fn not_modified(&self) -> Response {
        self.tag(axum::response::IntoResponse::into_response(
            StatusCode::NOT_MODIFIED,
        ))
    }

    /// ETag it, and ask caches to revalidate each time (answers change
    /// when the registry does).
    fn tag(&self, mut response: Response) -> Response {
        use axum::http::{header, HeaderValue};
        if let Ok(v) = HeaderValue::from_str(&self.0) {
            response.headers_mut().insert(header::ETAG, v);
        }
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    }
}
