//! The pages.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use domain::level::Level;
use domain::platform::Platform;
use serde::Deserialize;

use super::{client_ip, esc, failure, page, url_encode, WebState};
use app::commands::Handler;
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
    let mut platform_options = String::from(r#"<option value="">All platforms</option>"#);
    for p in Platform::ALL {
        let selected = if Some(p) == platform { " selected" } else { "" };
        platform_options.push_str(&format!(
            r#"<option value="{}"{selected}>{}</option>"#,
            p.code(),
            esc(p.display_name())
        ));
    }
    let mut services_sorted: Vec<(&String, &String)> = services.iter().collect();
    services_sorted.sort_by(|a, b| a.1.cmp(b.1));
    let mut service_options = String::from(r#"<option value="">All services</option>"#);
    for (code, name) in services_sorted {
        let selected = if service.as_deref() == Some(code.as_str()) {
            " selected"
        } else {
            ""
        };
        service_options.push_str(&format!(
            r#"<option value="{}"{selected}>{}</option>"#,
            esc(code),
            esc(name)
        ));
    }
    let has_more = rows.len() as i64 > PAGE_SIZE;
    let mut table = String::new();
    for row in rows.iter().take(PAGE_SIZE as usize) {
        let officer = match &row.officer_slug {
            Some(slug) => format!(r#"<a href="/officers/{}">Officer's page</a>"#, esc(slug)),
            None => String::new(),
        };
        table.push_str(&format!(
            r#"<tr><td><a href="{url}" rel="noopener">{url_text}</a></td><td>{platform}</td><td>{service}</td><td>{level}</td><td>{since}</td><td>{officer}</td></tr>"#,
            url = esc(&row.account_url),
            url_text = esc(&row.account_url),
            platform = esc(row.platform.display_name()),
            service = esc(row.service_name.as_deref().unwrap_or(&row.service_area)),
            level = esc(&level_text(row.level)),
            since = date(row.published_at),
        ));
    }
    let results = if table.is_empty() {
        "<p>No official accounts match. Try fewer words, or all platforms and services.</p>"
            .to_owned()
    } else {
        format!(
            r#"<div class="table-wrap" role="region" aria-label="Official accounts" tabindex="0"><table>
<caption>Official accounts{which}</caption>
<thead><tr><th scope="col">Account</th><th scope="col">Platform</th><th scope="col">Service</th><th scope="col">Level</th><th scope="col">Official since</th><th scope="col">Officer</th></tr></thead>
<tbody>{table}</tbody></table></div>"#,
            which = if query.after.is_some() {
                " (continued)"
            } else {
                ""
            },
        )
    };
    let next = if has_more {
        let last = rows[PAGE_SIZE as usize - 1].account_key.clone();
        format!(
            r#"<p><a href="/directory?q={}&amp;platform={}&amp;service={}&amp;after={}">Next page of accounts</a></p>"#,
            url_encode(&q),
            url_encode(params.platform.as_deref().unwrap_or("")),
            url_encode(params.service.as_deref().unwrap_or("")),
            url_encode(&last)
        )
    } else {
        String::new()
    };
    let body = format!(
        r#"<h1>Official social media accounts</h1>
<p>Every social media account the council runs is listed here. If an account claiming to be the council is not listed, it is not official: <a href="/verify">check an account</a> or <a href="/report">report it</a>.</p>
<form method="get" action="/directory" class="filters" role="search">
<div><label for="q">Search</label><input type="search" id="q" name="q" value="{q}"></div>
<div><label for="platform">Platform</label><select id="platform" name="platform">{platform_options}</select></div>
<div><label for="service">Service</label><select id="service" name="service">{service_options}</select></div>
<div><button type="submit">Show accounts</button></div>
</form>
{results}
{next}"#,
        q = esc(&q),
    );
    page(
        &state,
        StatusCode::OK,
        "Official social media accounts",
        &body,
    )
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct VerifyParams {
    account: Option<String>,
}

fn account_facts(state: &WebState, a: &Account) -> String {
    let officer = match &a.officer_slug {
        Some(slug) => format!(
            r#"<dt>Officer</dt><dd><a href="/officers/{}">See the officer's page</a></dd>"#,
            esc(slug)
        ),
        None => String::new(),
    };
    format!(
        r#"<dl>
<dt>Account</dt><dd><a href="{url}" rel="noopener">{url}</a></dd>
<dt>Platform</dt><dd>{platform}</dd>
<dt>Run by</dt><dd>{council}, {service}</dd>
<dt>Level</dt><dd>{level}</dd>
<dt>Official since</dt><dd>{since}</dd>
{officer}
</dl>"#,
        url = esc(&a.account_url),
        platform = esc(a.platform.display_name()),
        council = esc(&state.council_name),
        service = esc(a.service_name.as_deref().unwrap_or(&a.service_area)),
        level = esc(&level_text(a.level)),
        since = date(a.verified_since),
    )
}

pub(super) async fn verify(
    State(state): State<WebState>,
    Query(params): Query<VerifyParams>,
) -> Response {
    if let Some(refused) = super::refuse_nul(&state, &[("account", params.account.as_deref())]) {
        return refused;
    }
    let input = params.account.clone().unwrap_or_default();
    let trimmed = input.trim();
    let mut result = String::new();
    let mut status = StatusCode::OK;
    if params.account.is_some() && trimmed.is_empty() {
        status = StatusCode::BAD_REQUEST;
        result = r##"<div class="error-summary" role="alert"><h2>There is a problem</h2><p class="error"><a href="#account">Enter the account's web address or handle</a></p></div>"##.into();
    } else if trimmed.chars().count() > 2000 {
        status = StatusCode::BAD_REQUEST;
        result = r##"<div class="error-summary" role="alert"><h2>There is a problem</h2><p class="error"><a href="#account">The address must be at most 2000 characters</a></p></div>"##.into();
    } else if !trimmed.is_empty() {
        let (_, found) = match public::verify(&state.app.pool, trimmed).await {
            Ok(x) => x,
            Err(e) => return failure(&state, &e),
        };
        let council = esc(&state.council_name);
        result = match found {
            Some(a) if a.verified => format!(
                r#"<div class="result verified" id="result" data-status="verified"><h2><span class="badge verified">Verified</span> This is an official {council} account</h2>{facts}</div>"#,
                facts = account_facts(&state, &a)
            ),
            Some(a) => format!(
                r#"<div class="result withdrawn" id="result" data-status="withdrawn"><h2><span class="badge withdrawn">Withdrawn</span> This account is no longer an official council account</h2>
<p>It was an official {council} account until {until}. Anything it has posted since does not speak for the council.</p>{facts}</div>"#,
                until = a.withdrawn_at.map(date).unwrap_or_default(),
                facts = account_facts(&state, &a)
            ),
            None => format!(
                r#"<div class="result unknown" id="result" data-status="unknown"><h2>We have no record of this account</h2>
<p>It may not be official. The council's official accounts are all in the <a href="/directory">directory</a>.</p>
<p><a href="/report?account={}">Report this account as a possible fake</a></p></div>"#,
                url_encode(trimmed)
            ),
        };
    }
    let body = format!(
        r#"<h1>Is this account genuine?</h1>
<form method="get" action="/verify">
<label for="account">The account's web address or handle</label>
<p class="hint" id="account-hint">Paste it as you have it, for example https://x.com/NorthCouncil or @NorthCouncil</p>
<input type="text" id="account" name="account" value="{value}" aria-describedby="account-hint" autocomplete="off" spellcheck="false">
<button type="submit">Check</button>
</form>
{result}"#,
        value = esc(&input),
    );
    page(&state, status, "Is this account genuine?", &body)
}

pub(super) async fn officer(State(state): State<WebState>, Path(slug): Path<String>) -> Response {
    if let Some(refused) = super::refuse_nul(&state, &[("slug", Some(&slug))]) {
        return refused;
    }
    let found = if slug.len() > 100 {
        None
    } else {
        match public::officer(&state.app.pool, &state.app.vault, &slug).await {
            Ok(x) => x,
            Err(e) => return failure(&state, &e),
        }
    };
    let Some(o) = found else {
        return page(
            &state,
            StatusCode::NOT_FOUND,
            "Officer not found",
            r#"<h1>Officer not found</h1><p>There is no officer page at this address. Check the link, or <a href="/verify">check an account</a> instead.</p>"#,
        );
    };
    let name = o.name.clone().unwrap_or_else(|| "Name withheld".to_owned());
    let mut accounts = String::new();
    for a in &o.accounts {
        let status = if a.verified {
            r#"<span class="badge verified">Verified</span>"#.to_owned()
        } else {
            format!(
                r#"<span class="badge withdrawn">Withdrawn</span> on {}"#,
                a.withdrawn_at.map(date).unwrap_or_default()
            )
        };
        accounts.push_str(&format!(
            r#"<li><a href="{url}" rel="noopener">{url}</a> ({platform}) – {status}</li>"#,
            url = esc(&a.account_url),
            platform = esc(a.platform.display_name()),
        ));
    }
    let body = format!(
        r#"<h1>{name}</h1>
<p>{name} is an officer of {council} who talks with the public on social media as part of their job. The accounts below are theirs, and their profiles link back to this page.</p>
<dl>
<dt>Job role</dt><dd>{job}</dd>
<dt>Service</dt><dd>{service}</dd>
<dt>Published since</dt><dd>{since}</dd>
</dl>
<h2>Accounts</h2>
<ul>{accounts}</ul>"#,
        name = esc(&name),
        council = esc(&state.council_name),
        job = esc(&o.job_title),
        service = esc(o.service_name.as_deref().unwrap_or(&o.service_area)),
        since = date(o.published_since),
    );
    page(&state, StatusCode::OK, &name, &body)
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct ReportParams {
    account: Option<String>,
}

fn report_body(account: &str, details: &str, problem: Option<(&str, &str)>) -> String {
    let summary = match problem {
        Some((field, message)) => format!(
            r##"<div class="error-summary" role="alert"><h2>There is a problem</h2><p class="error"><a href="#{field}">{}</a></p></div>"##,
            esc(message)
        ),
        None => String::new(),
    };
    format!(
        r#"<h1>Report a fake account</h1>
<p>Tell us about an account that pretends to be the council, a council service or one of our officers. Do not include your own personal details.</p>
{summary}
<form method="post" action="/report">
<label for="account">The account's web address or handle</label>
<input type="text" id="account" name="account" value="{account}" autocomplete="off" spellcheck="false">
<label for="details">What made you think it is not genuine? (optional)</label>
<textarea id="details" name="details">{details}</textarea>
<div class="hp" aria-hidden="true"><label for="website">Leave this field empty</label><input type="text" id="website" name="website" tabindex="-1" autocomplete="off"></div>
<button type="submit">Send report</button>
</form>"#,
        account = esc(account),
        details = esc(details),
    )
}

pub(super) async fn report_form(
    State(state): State<WebState>,
    Query(params): Query<ReportParams>,
) -> Response {
    if let Some(refused) = super::refuse_nul(&state, &[("account", params.account.as_deref())]) {
        return refused;
    }
    let body = report_body(params.account.as_deref().unwrap_or(""), "", None);
    page(&state, StatusCode::OK, "Report a fake account", &body)
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
    let body = format!(
        r#"<h1>Thank you: we have your report</h1>
<div class="result verified"><h2>Your reference is <strong id="reference">{reference}</strong></h2>
<p>The communications team looks at every report. Quote the reference if you contact us about it.</p></div>
<p><a href="/directory">See the council's official accounts</a></p>"#,
        reference = esc(reference)
    );
    page(state, StatusCode::OK, "Report received", &body)
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
            &body,
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
            &body,
        );
    }
    let client = client_ip(&state, &headers, peer.map(|axum::Extension(c)| c));
    if !state.reports.allow(&client) {
        return page(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            "Too many reports",
            "<h1>Too many reports</h1><p>We have had several reports from you recently. Please try again in an hour.</p>",
        );
    }
    let handler = Handler::new(state.app.store.clone(), state.app.vault.clone());
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
                &body,
            )
        }
        Err(e) => failure(&state, &e),
    }
}

pub(super) async fn dashboard(State(state): State<WebState>) -> Response {
    let body = r#"<h1>Approvals dashboard</h1>
<noscript><p class="error">The dashboard needs JavaScript: it updates live as approvals happen.</p></noscript>
<section id="signin" aria-labelledby="signin-heading">
<h2 id="signin-heading">Sign in</h2>
<p id="notice" class="error" role="alert" hidden></p>
<form id="signin-form">
<label for="token">Access token</label>
<p class="hint" id="token-hint">Paste the bearer token from the council's sign-in (in development: <code>social-registry dev-token --sub you --roles staff,communications</code>). It stays in this browser tab only.</p>
<textarea id="token" name="token" aria-describedby="token-hint" spellcheck="false" autocomplete="off"></textarea>
<button type="submit">Sign in</button>
</form>
</section>
<section id="queue" hidden aria-labelledby="queue-heading">
<h2 id="queue-heading">Waiting for you</h2>
<p id="who"></p>
<p id="live" role="status" aria-live="polite"></p>
<div class="table-wrap" role="region" aria-label="Waiting for you" tabindex="0">
<table>
<caption>Items waiting, longest first</caption>
<thead><tr><th scope="col">Account</th><th scope="col">Step</th><th scope="col">Role</th><th scope="col">Level</th><th scope="col">Waiting</th></tr></thead>
<tbody id="items"></tbody>
</table>
</div>
<button type="button" id="signout">Sign out</button>
</section>
<script src="/assets/dashboard.js" defer></script>"#;
    page(&state, StatusCode::OK, "Approvals dashboard", body)
}
