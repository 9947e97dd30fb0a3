//! Open data: the directory as CSV and JSON, and an Atom feed of
//! publications and withdrawals. Each answers conditional requests
//! (`If-None-Match`, `If-Modified-Since`) with 304, so the council's website
//! and aggregators can poll cheaply.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{failure, WebState};
use maud::{html, PreEscaped};
use projections::public::{self, Account, DirectoryQuery, DirectoryRow};

/// Everything currently published, for the directory feeds.
async fn published(state: &WebState) -> Result<Vec<DirectoryRow>, sqlx::Error> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let q = DirectoryQuery {
            after: after.clone(),
            limit: 1000,
            ..DirectoryQuery::default()
        };
        let mut page = public::directory(&state.app.pool, &q).await?;
        let more = page.len() > 1000;
        page.truncate(1000);
        after = page.last().map(|r| r.account_key.clone());
        all.extend(page);
        if !more {
            return Ok(all);
        }
    }
}

fn officer_page(row_slug: &Option<String>) -> String {
    row_slug
        .as_ref()
        .map(|s| format!("/officers/{s}"))
        .unwrap_or_default()
}

fn last_modified(accounts: &[Account]) -> Option<DateTime<Utc>> {
    accounts
        .iter()
        .flat_map(|a| {
            [
                Some(a.verified_since),
                a.withdrawn_at,
                a.renamed.as_ref().map(|r| r.at),
            ]
        })
        .flatten()
        .max()
}

/// Answer with `body`, or 304 when the client already has it.
fn conditional(
    headers: &HeaderMap,
    content_type: &'static str,
    body: Vec<u8>,
    modified: Option<DateTime<Utc>>,
) -> Response {
    let digest = Sha256::digest(&body);
    let etag = format!("\"{}\"", hex::encode(&digest[..12]));
    let modified = modified.map(|m| m.format("%a, %d %b %Y %H:%M:%S GMT").to_string());
    let matches_etag = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let not_modified_since = headers.get(header::IF_NONE_MATCH).is_none()
        && match (
            headers
                .get(header::IF_MODIFIED_SINCE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| DateTime::parse_from_rfc2822(v).ok()),
            &modified,
        ) {
            (Some(since), Some(m)) => DateTime::parse_from_rfc2822(m)
                .map(|m| m <= since)
                .unwrap_or(false),
            _ => false,
        };
    let mut response = if matches_etag || not_modified_since {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type)], body).into_response()
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Some(m) = modified.and_then(|m| HeaderValue::from_str(&m).ok()) {
        h.insert(header::LAST_MODIFIED, m);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_owned()
    }
}

pub(super) async fn csv(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let (rows, accounts) =
        match tokio::try_join!(published(&state), public::all_accounts(&state.app.pool)) {
            Ok(x) => x,
            Err(e) => return failure(&state, &e),
        };
    let mut out = String::from(
        "platform,account_key,account_url,level,level_name,service_area,service_name,officer_page,published_at\r\n",
    );
    for r in &rows {
        let fields = [
            r.platform.code().to_owned(),
            r.account_key.clone(),
            r.account_url.clone(),
            r.level.number().to_string(),
            r.level.name().to_owned(),
            r.service_area.clone(),
            r.service_name.clone().unwrap_or_default(),
            officer_page(&r.officer_slug),
            r.published_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    conditional(
        &headers,
        "text/csv; charset=utf-8",
        out.into_bytes(),
        last_modified(&accounts),
    )
}

pub(super) async fn json(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let (rows, accounts) =
        match tokio::try_join!(published(&state), public::all_accounts(&state.app.pool)) {
            Ok(x) => x,
            Err(e) => return failure(&state, &e),
        };
    let list: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            json!({
                "platform": r.platform.code(),
                "platformName": r.platform.display_name(),
                "accountKey": r.account_key,
                "url": r.account_url,
                "level": r.level.number(),
                "levelName": r.level.name(),
                "serviceArea": r.service_area,
                "serviceName": r.service_name,
                "officerPage": r.officer_slug.as_ref().map(|s| format!("/officers/{s}")),
                "publishedAt": r.published_at,
            })
        })
        .collect();
    let body = json!({
        "organisation": state.council_name,
        "count": list.len(),
        "accounts": list,
    });
    conditional(
        &headers,
        "application/json",
        serde_json::to_vec_pretty(&body).unwrap_or_default(),
        last_modified(&accounts),
    )
}

pub(super) async fn atom(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let accounts = match public::all_accounts(&state.app.pool).await {
        Ok(a) => a,
        Err(e) => return failure(&state, &e),
    };
    let mut entries: Vec<(DateTime<Utc>, &str, &Account)> = Vec::new();
    for a in &accounts {
        entries.push((a.verified_since, "published", a));
        if let Some(w) = a.withdrawn_at {
            entries.push((w, "withdrawn", a));
        }
        if let Some(r) = &a.renamed {
            entries.push((r.at, "renamed", a));
        }
    }
    entries.sort_by(|x, y| y.0.cmp(&x.0).then(x.2.account_key.cmp(&y.2.account_key)));
    entries.truncate(200);
    let council = state.council_name.as_str();
    let updated = entries
        .first()
        .map_or_else(Utc::now, |e| e.0)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    // maud escapes every value; each element is closed explicitly (no
    // void elements), so the output is well-formed XML.
    let feed = html! {
        (PreEscaped("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"))
        feed xmlns="http://www.w3.org/2005/Atom" {
            title { (council) ": official social media accounts" }
            subtitle { "Accounts published as official, and accounts withdrawn" }
            id { "urn:social-registry:directory" }
            link rel="self" href="/directory.atom" {}
            link rel="alternate" type="text/html" href="/directory" {}
            updated { (updated) }
            author { name { (council) } }
            @for (at, kind, a) in entries {
                @let when = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                @let published = kind == "published";
                @let service = a.service_name.as_deref().unwrap_or(&a.service_area);
                entry {
                    @if published {
                        title { "Official: " (a.account_key) " on " (a.platform.display_name()) }
                    } @else if let (Some(r), "renamed") = (&a.renamed, kind) {
                        title { "Renamed: " (a.account_key) " is now " (r.account_key) " on " (a.platform.display_name()) }
                    } @else {
                        title { "Withdrawn: " (a.account_key) " on " (a.platform.display_name()) }
                    }
                    id { "urn:social-registry:" (kind) ":" (a.account_key) ":" (when) }
                    updated { (when) }
                    link rel="alternate" href=(a.account_url) {}
                    category term=(kind) {}
                    @if published {
                        summary { (a.account_url) " is an official account of " (council) ", " (service) "." }
                    } @else if let (Some(r), "renamed") = (&a.renamed, kind) {
                        summary { "The official account " (a.account_url) " of " (council) " was renamed to " (r.account_url) ". The old address is no longer the council's." }
                    } @else {
                        summary { (a.account_url) " is no longer an official account of " (council) "." }
                    }
                }
            }
        }
    };
    let xml = feed.into_string();
    conditional(
        &headers,
        "application/atom+xml; charset=utf-8",
        xml.into_bytes(),
        last_modified(&accounts),
    )
}
