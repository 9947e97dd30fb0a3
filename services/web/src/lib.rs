//! Public pages for people, next to the API for programs: the directory,
//! "is this account genuine?", officers' pages, reporting a fake account,
//! and open-data feeds. (The approvals dashboard for signed-in staff is the
//! staff app's home now; `/dashboard` leads there.)
//!
//! Server-rendered HTML that works without JavaScript, written as maud
//! templates: every value is escaped by construction, and markup can only
//! come from a template.
//! Pages show only what the public read models publish (`projections::public`).

mod feeds;
mod pages;
mod ratelimit;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup, DOCTYPE};

use app::state::AppState;

pub use ratelimit::RateLimiter;

/// What the pages need.
#[derive(Clone)]
pub struct WebState {
    /// The service's shared state.
    pub app: AppState,
    /// The organisation's name.
    pub council_name: String,
    /// Reports per client.
    pub reports: Arc<RateLimiter>,
    /// How many proxies in front of the service append to
    /// `X-Forwarded-For` (0: the peer address is the client's).
    pub trusted_proxies: usize,
}

/// The pages' routes.
pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/directory", get(pages::directory))
        .route("/verify", get(pages::verify))
        .route("/officers/{slug}", get(pages::officer))
        .route(
            "/report",
            get(pages::report_form).post(pages::report_submit),
        )
        .route(
            "/dashboard",
            get(|| async { axum::response::Redirect::permanent("/staff") }),
        )
        .route("/directory.csv", get(feeds::csv))
        .route("/directory.json", get(feeds::json))
        .route("/directory.atom", get(feeds::atom))
        .route("/assets/site.css", get(site_css))
        .with_state(state)
}

/// Percent-encode a query-string value.
pub fn url_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// A whole page: layout, title, main content.
pub fn page(state: &WebState, status: StatusCode, title: &str, body: Markup) -> Response {
    let council = state.council_name.as_str();
    let html = html! {
        (DOCTYPE)
        html lang="en-GB" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " – " (council) " social media registry" }
                link rel="stylesheet" href="/assets/site.css";
            }
            body {
                a.skip href="#main" { "Skip to main content" }
                header.site { div.wrap {
                    a.brand href="/directory" { (council) " social media registry" }
                    nav aria-label="Main" { ul {
                        li { a href="/verify" { "Check an account" } }
                        li { a href="/directory" { "Directory of official accounts" } }
                        li { a href="/report" { "Report a fake account" } }
                    } }
                } }
                main #main .wrap { (body) }
                footer.site { div.wrap { p {
                    "Open data: " a href="/directory.csv" { "directory as CSV" }
                    " · " a href="/directory.json" { "as JSON" }
                    " · " a href="/directory.atom" { "publications, withdrawals and renames (Atom feed)" }
                } } }
            }
        }
    };
    let mut response = (status, Html(html.into_string())).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// The "There is a problem" box: one message, linked to its field.
pub fn problem(field: &str, message: &str) -> Markup {
    html! {
        div.error-summary role="alert" {
            h2 { "There is a problem" }
            p.error { a href={ "#" (field) } { (message) } }
        }
    }
}

/// The page for an internal failure: the correlation id, nothing else.
pub fn failure(state: &WebState, error: &dyn std::fmt::Display) -> Response {
    let id = uuid::Uuid::new_v4();
    tracing::error!(%error, reference = %id, "public page failed");
    page(
        state,
        StatusCode::INTERNAL_SERVER_ERROR,
        "Sorry, something went wrong",
        html! {
            h1 { "Sorry, something went wrong" }
            p { "Please try again in a few minutes. If it keeps happening, quote reference " (id) "." }
        },
    )
}

/// The client's address for rate limiting.
///
/// With `trusted_proxies` = N proxies in front of the service, each appends
/// the address it received from to `X-Forwarded-For`, so the N-th entry from
/// the right is the first one no client could have written (entries further
/// left are whatever the client sent). With fewer entries than that, the
/// header was not set by our proxies and the peer address is used.
pub fn client_ip(
    state: &WebState,
    headers: &HeaderMap,
    peer: Option<ConnectInfo<SocketAddr>>,
) -> String {
    let peer = peer.map(|ConnectInfo(addr)| addr.ip().to_string());
    forwarded_client(state.trusted_proxies, headers)
        .or(peer)
        .unwrap_or_else(|| "unknown".into())
}

fn forwarded_client(trusted_proxies: usize, headers: &HeaderMap) -> Option<String> {
    if trusted_proxies == 0 {
        return None;
    }
    // Several headers count as one list, in order.
    let hops: Vec<String> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .collect();
    let index = hops.len().checked_sub(trusted_proxies)?;
    let hop = hops[index].parse::<std::net::IpAddr>().ok()?;
    Some(hop.to_string())
}

/// A 400 page when a query or form value holds a NUL character (PostgreSQL
/// text cannot hold one, and no address or name needs one).
pub fn refuse_nul(state: &WebState, fields: &[(&str, Option<&str>)]) -> Option<Response> {
    let (field, _) = fields
        .iter()
        .find(|(_, value)| value.is_some_and(|v| v.contains('\0')))?;
    Some(page(
        state,
        StatusCode::BAD_REQUEST,
        "There is a problem",
        html! {
            div.error-summary role="alert" {
                h2 { "There is a problem" }
                p.error {
                    "The field " code { (field) }
                    " contains a character that is not allowed (NUL). Remove it and try again."
                }
            }
        },
    ))
}

#[cfg(test)]
mod proxy_tests {
    use super::*;

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_client_is_the_rightmost_hop_our_proxies_did_not_write() {
        // The client forged "1.1.1.1"; our one proxy appended the real peer.
        let h = xff(&["1.1.1.1, 203.0.113.9"]);
        assert_eq!(forwarded_client(1, &h).as_deref(), Some("203.0.113.9"));
        // Two proxies: a CDN then the ingress.
        let h = xff(&["1.1.1.1, 203.0.113.9", "10.0.0.5"]);
        assert_eq!(forwarded_client(2, &h).as_deref(), Some("203.0.113.9"));
        assert_eq!(forwarded_client(1, &h).as_deref(), Some("10.0.0.5"));
    }

    #[test]
    fn too_few_hops_or_garbage_fall_back_to_the_peer() {
        assert_eq!(forwarded_client(2, &xff(&["203.0.113.9"])), None);
        assert_eq!(forwarded_client(1, &xff(&["not-an-address"])), None);
        assert_eq!(forwarded_client(0, &xff(&["203.0.113.9"])), None);
        assert_eq!(forwarded_client(1, &HeaderMap::new()), None);
    }
}

async fn site_css() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../assets/site.css"),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_values_is_escaped() {
        let value = r#"<script>alert("x")</script> & 'y'"#;
        assert_eq!(
            problem(value, value).into_string(),
            "<div class=\"error-summary\" role=\"alert\"><h2>There is a problem</h2>\
             <p class=\"error\"><a href=\"#&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; 'y'\">\
             &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; 'y'</a></p></div>"
        );
        assert_eq!(
            url_encode("https://x.com/a?b=c&d"),
            "https%3A%2F%2Fx.com%2Fa%3Fb%3Dc%26d"
        );
    }
}
