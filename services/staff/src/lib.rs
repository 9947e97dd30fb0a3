//! The staff web app, under `/staff`: signing in with the council's
//! identity provider (OpenID Connect with PKCE; in development a page of
//! the demo people), sessions by cookie, and the pages the framework's
//! people work in. Every page is a GraphQL client of the API, in-process
//! and as the signed-in person ([`api`]): the app can do nothing the API
//! would refuse. Forms work without JavaScript; every form that changes
//! something carries the session's CSRF token. The look is the GOV.UK
//! Design System's (`govuk-frontend`, vendored, served from the binary),
//! branded with the council's name.

pub mod api;
pub mod oidc;
mod pages;
pub mod session;

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use app::state::AppState;
use graphql::RegistrySchema;
use session::{Session, SessionSettings};

/// What the staff app needs.
#[derive(Clone)]
pub struct StaffState {
    /// The service's shared state.
    pub app: AppState,
    /// The API, executed in-process.
    pub schema: RegistrySchema,
    /// The council's name, for the header.
    pub council_name: String,
    /// Sessions.
    pub sessions: SessionSettings,
    /// The identity provider, when one is configured.
    pub oidc: Option<Arc<oidc::Oidc>>,
    /// Development: the demo people may sign in from a list. Never in
    /// production.
    pub dev_sign_in: bool,
}

/// The staff app's routes.
pub fn router(state: StaffState) -> Router {
    Router::new()
        .route("/staff", get(pages::home))
        .route("/staff/sign-in", get(sign_in_page))
        .route("/staff/sign-in/start", get(sign_in_start))
        .route("/staff/callback", get(callback))
        .route("/staff/dev-sign-in", post(dev_sign_in))
        .route("/staff/sign-out", post(sign_out))
        .route("/staff/registrations", get(pages::my_registrations))
        .route("/staff/registrations/{id}", get(pages::registration))
        .route("/staff/registrations/{id}/act", post(pages::act))
        .route(
            "/staff/registrations/{id}/change",
            get(pages::change::start).post(pages::change::submit),
        )
        .route("/staff/communications", get(pages::communications))
        .route("/staff/consultation", get(pages::consultation))
        .route("/staff/audit", get(pages::audit::overview))
        .route("/staff/audit/sign-head", post(pages::audit::sign_head))
        .route(
            "/staff/audit/registrations/{id}",
            get(pages::audit::history),
        )
        .route("/staff/audit/registry", get(pages::audit::registry_at))
        .route("/staff/audit/events.ndjson", get(pages::audit::export))
        .route("/staff/insight", get(pages::insight::insight))
        .route(
            "/staff/privacy",
            get(pages::privacy::start).post(pages::privacy::lookup),
        )
        .route("/staff/privacy/erase", post(pages::privacy::erase))
        .route("/staff/admin", get(pages::admin::index))
        .route(
            "/staff/admin/{area}",
            get(pages::admin::show).post(pages::admin::change),
        )
        .route("/staff/people", post(pages::picker::live))
        .route("/staff/reports", get(pages::reports))
        .route("/staff/reports/{id}/close", post(pages::close_report))
        .route("/staff/new", get(pages::choose_level))
        .route(
            "/staff/new/{level}",
            get(pages::new_form).post(pages::new_submit),
        )
        .route("/staff/assets/govuk-frontend.min.css", get(govuk_css))
        .route("/staff/assets/govuk-frontend.min.js", get(govuk_js))
        .route("/staff/assets/staff.css", get(staff_css))
        .route("/staff/assets/staff.js", get(staff_js))
        .with_state(state)
}

/// The Content-Security-Policy of every staff page: the public pages' own.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

async fn govuk_css() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../assets/govuk/govuk-frontend.min.css"),
    )
}

async fn govuk_js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../assets/govuk/govuk-frontend.min.js"),
    )
}

async fn staff_css() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../assets/staff.css"),
    )
}

async fn staff_js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../assets/staff.js"),
    )
}

/// The menu's links for the roles a person holds, beyond the ones everyone has.
fn menu(actor: &domain::Actor) -> Vec<(&'static str, &'static str)> {
    use domain::Role::*;
    let mut links = Vec::new();
    if actor.has(Communications) {
        links.push(("/staff/communications", "Communications"));
    }
    if actor.has(Consultation) {
        links.push(("/staff/consultation", "Consultations"));
    }
    if actor.has(Communications) || actor.has(Auditor) {
        links.push(("/staff/reports", "Fake account reports"));
    }
    if actor.has(Communications) || actor.has(Auditor) {
        links.push(("/staff/insight", "Insight"));
    }
    if actor.has(Auditor) {
        links.push(("/staff/audit", "Audit"));
    }
    if actor.has(Admin) {
        links.push(("/staff/admin", "Reference data"));
    }
    if actor.has(DataProtection) {
        links.push(("/staff/privacy", "Subject access and erasure"));
    }
    links
}

/// A whole page in the GOV.UK layout, branded with the council's name.
pub(crate) fn page(
    state: &StaffState,
    session: Option<&Session>,
    status: StatusCode,
    title: &str,
    body: Markup,
) -> Response {
    let council = state.council_name.as_str();
    let markup = html! {
        (DOCTYPE)
        html lang="en-GB" class="govuk-template" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover";
                title { (title) " – " (council) " social media registry" }
                link rel="stylesheet" href="/staff/assets/govuk-frontend.min.css";
                link rel="stylesheet" href="/staff/assets/staff.css";
                link rel="icon" href="data:,";
            }
            body class="govuk-template__body" {
                script type="module" src="/staff/assets/staff.js" {}
                a href="#main-content" class="govuk-skip-link" data-module="govuk-skip-link" { "Skip to main content" }
                header class="govuk-header" data-module="govuk-header" {
                    div class="govuk-header__container govuk-width-container" {
                        div class="govuk-header__logo" {
                            a href="/staff" class="govuk-header__homepage-link" {
                                span class="govuk-header__product-name staff-council" { (council) }
                            }
                        }
                    }
                }
                @if let Some(s) = session {
                    section aria-label="Service menu" class="govuk-service-navigation" data-module="govuk-service-navigation" {
                        div class="govuk-width-container" { div class="govuk-service-navigation__container" {
                            span class="govuk-service-navigation__service-name" {
                                a href="/staff" class="govuk-service-navigation__link" { "Social media registry" }
                            }
                            nav aria-label="Menu" class="govuk-service-navigation__wrapper" {
                                ul class="govuk-service-navigation__list" {
                                    li class="govuk-service-navigation__item" { a class="govuk-service-navigation__link" href="/staff" { "What waits for me" } }
                                    li class="govuk-service-navigation__item" { a class="govuk-service-navigation__link" href="/staff/registrations" { "My registrations" } }
                                    li class="govuk-service-navigation__item" { a class="govuk-service-navigation__link" href="/staff/new" { "Register an account" } }
                                    @for (href, label) in menu(&s.actor) {
                                        li class="govuk-service-navigation__item" { a class="govuk-service-navigation__link" href=(href) { (label) } }
                                    }
                                    li class="govuk-service-navigation__item" {
                                        form method="post" action="/staff/sign-out" class="staff-inline-form" {
                                            input type="hidden" name="csrf" value=(s.csrf);
                                            button type="submit" class="staff-link-button govuk-service-navigation__link" {
                                                "Sign out"
                                                @if let Some(name) = &s.name { span class="govuk-visually-hidden" { " " (name) } }
                                            }
                                        }
                                    }
                                }
                            }
                        } }
                    }
                }
                div class="govuk-width-container" {
                    main class="govuk-main-wrapper" id="main-content" { (body) }
                }
                footer class="govuk-footer" {
                    div class="govuk-width-container" { div class="govuk-footer__meta" {
                        div class="govuk-footer__meta-item govuk-footer__meta-item--grow" {
                            p class="govuk-body-s" { (council) "'s register of its official social media accounts. "
                                a class="govuk-footer__link" href="/verify" { "Public checker" } }
                        }
                    } }
                }
            }
        }
    };
    let mut response = (status, Html(markup.into_string())).into_response();
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
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The page for an internal failure: a reference, nothing else.
pub(crate) fn failure(
    state: &StaffState,
    session: Option<&Session>,
    error: &dyn std::fmt::Display,
) -> Response {
    let id = uuid::Uuid::new_v4();
    tracing::error!(%error, reference = %id, "staff page failed");
    page(
        state,
        session,
        StatusCode::INTERNAL_SERVER_ERROR,
        "Sorry, there is a problem with the service",
        html! {
            h1 class="govuk-heading-l" { "Sorry, there is a problem with the service" }
            p class="govuk-body" { "Try again later. If it keeps happening, quote reference " (id) "." }
        },
    )
}

/// The session of the request, or the redirect to sign in.
pub(crate) async fn require(
    state: &StaffState,
    headers: &HeaderMap,
    here: &str,
) -> Result<Session, Response> {
    match session::load(&state.app.pool, &state.app.vault, headers, &state.sessions).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(Redirect::to(&format!(
            "/staff/sign-in?return_to={}",
            url::form_urlencoded::byte_serialize(here.as_bytes()).collect::<String>()
        ))
        .into_response()),
        Err(e) => Err(failure(state, None, &e)),
    }
}

/// A WebSocket signed in by a staff session: who, and how to ask whether
/// the session is still open (the socket closes once it is not).
pub struct WsSession {
    /// The signed-in person.
    pub principal: app::context::Principal,
    /// Whether the session is still open; asked every few seconds.
    pub still_open:
        std::sync::Arc<dyn Fn() -> futures::future::BoxFuture<'static, bool> + Send + Sync>,
}

/// The signed-in person of a WebSocket upgrade from one of the app's own
/// pages: the session cookie, accepted only when the `Origin` is this
/// site's (a page elsewhere cannot open a socket with the cookie). The
/// socket closes when the session's absolute timeout comes.
pub async fn ws_principal(state: &StaffState, headers: &HeaderMap) -> Option<WsSession> {
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let same_site = origin == format!("https://{host}")
        || (origin == format!("http://{host}") && !state.sessions.secure_cookie);
    if !same_site {
        return None;
    }
    let id_hash = session::cookie_hash(headers)?;
    match session::load(&state.app.pool, &state.app.vault, headers, &state.sessions).await {
        Ok(Some(s)) => {
            let (pool, settings) = (state.app.pool.clone(), state.sessions.clone());
            Some(WsSession {
                principal: app::context::Principal {
                    actor: s.actor,
                    name: s.name,
                    expires_at: Some(s.expires_at),
                },
                still_open: std::sync::Arc::new(move || {
                    let (pool, settings, id_hash) =
                        (pool.clone(), settings.clone(), id_hash.clone());
                    Box::pin(async move { session::is_open(&pool, &id_hash, &settings).await })
                }),
            })
        }
        Ok(None) => None,
        Err(error) => {
            tracing::warn!(%error, "could not read a WebSocket's session");
            None
        }
    }
}

/// The session of a request that posts `form`, its CSRF token checked; or
/// the answer that refuses it (sign in first, or the form has expired).
pub(crate) async fn require_form(
    state: &StaffState,
    headers: &HeaderMap,
    here: &str,
    form: &std::collections::HashMap<String, String>,
) -> Result<Session, Response> {
    let session = require(state, headers, here).await?;
    if !session::csrf_ok(
        &session,
        form.get("csrf").map(String::as_str).unwrap_or_default(),
    ) {
        return Err(csrf_refused(state, &session));
    }
    Ok(session)
}

/// Refuse a form whose CSRF token is not the session's.
pub(crate) fn csrf_refused(state: &StaffState, session: &Session) -> Response {
    page(
        state,
        Some(session),
        StatusCode::FORBIDDEN,
        "This form has expired",
        html! {
            h1 class="govuk-heading-l" { "This form has expired" }
            p class="govuk-body" { "Nothing was changed. Go back, reload the page and try again." }
        },
    )
}

pub(crate) fn safe_return(to: Option<&str>) -> String {
    // Only paths of this app: never another site.
    match to {
        Some(t) if t.starts_with("/staff") && !t.starts_with("//") && !t.contains("://") => {
            t.to_owned()
        }
        _ => "/staff".to_owned(),
    }
}

#[derive(Deserialize)]
struct ReturnTo {
    return_to: Option<String>,
}

async fn sign_in_page(State(state): State<StaffState>, Query(q): Query<ReturnTo>) -> Response {
    let to = safe_return(q.return_to.as_deref());
    let body = html! {
        h1 class="govuk-heading-xl" { "Sign in to the social media registry" }
        @if state.oidc.is_some() {
            p class="govuk-body" { "Sign in with your council account, as you do for email." }
            a class="govuk-button govuk-button--start" role="button" draggable="false"
              href={ "/staff/sign-in/start?return_to=" (url::form_urlencoded::byte_serialize(to.as_bytes()).collect::<String>()) } {
                "Sign in with your council account"
            }
        } @else if !state.dev_sign_in {
            p class="govuk-body" { "Sign-in is not set up yet: the registry's administrators must configure the council's identity provider (REGISTRY_STAFF_OIDC_CLIENT_ID)." }
        }
        @if state.dev_sign_in {
            div class="govuk-warning-text" {
                span class="govuk-warning-text__icon" aria-hidden="true" { "!" }
                strong class="govuk-warning-text__text" {
                    span class="govuk-visually-hidden" { "Warning" }
                    "Development only: sign in as one of the demonstration council's people. Production refuses this."
                }
            }
            table class="govuk-table" {
                caption class="govuk-table__caption govuk-table__caption--m" { "Demonstration people" }
                thead class="govuk-table__head" { tr class="govuk-table__row" {
                    th scope="col" class="govuk-table__header" { "Name" }
                    th scope="col" class="govuk-table__header" { "Roles" }
                    th scope="col" class="govuk-table__header" { span class="govuk-visually-hidden" { "Sign in" } }
                } }
                tbody class="govuk-table__body" {
                    @for (subject, name, roles) in app::demo::PEOPLE {
                        tr class="govuk-table__row" {
                            td class="govuk-table__cell" { (name) }
                            td class="govuk-table__cell" { (roles.iter().map(|r| pages::role_name(*r)).collect::<Vec<_>>().join(", ")) }
                            td class="govuk-table__cell" {
                                form method="post" action="/staff/dev-sign-in" {
                                    input type="hidden" name="subject" value=(subject);
                                    input type="hidden" name="return_to" value=(to);
                                    button type="submit" class="govuk-button govuk-button--secondary staff-table-button" {
                                        "Sign in" span class="govuk-visually-hidden" { " as " (name) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page(&state, None, StatusCode::OK, "Sign in", body)
}

async fn sign_in_start(State(state): State<StaffState>, Query(q): Query<ReturnTo>) -> Response {
    let Some(oidc) = &state.oidc else {
        return Redirect::to("/staff/sign-in").into_response();
    };
    match oidc
        .begin(&state.app.pool, &safe_return(q.return_to.as_deref()))
        .await
    {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(e) => sign_in_failed(&state, &e),
    }
}

fn sign_in_failed(state: &StaffState, e: &oidc::SignInError) -> Response {
    let status = match e {
        oidc::SignInError::NoRole => StatusCode::FORBIDDEN,
        oidc::SignInError::Stale | oidc::SignInError::Refused => StatusCode::BAD_REQUEST,
        _ => StatusCode::BAD_GATEWAY,
    };
    page(
        state,
        None,
        status,
        "You could not be signed in",
        html! {
            h1 class="govuk-heading-l" { "You could not be signed in" }
            p class="govuk-body" { "Because " (e.to_string()) "." }
            p class="govuk-body" { a class="govuk-link" href="/staff/sign-in" { "Start again" } }
        },
    )
}

#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn callback(State(state): State<StaffState>, Query(q): Query<Callback>) -> Response {
    let Some(oidc) = &state.oidc else {
        return Redirect::to("/staff/sign-in").into_response();
    };
    let (Some(code), Some(st)) = (q.code, q.state) else {
        let e = if q.error.is_some() {
            oidc::SignInError::Refused
        } else {
            oidc::SignInError::Stale
        };
        return sign_in_failed(&state, &e);
    };
    match oidc.finish(&state.app.pool, &code, &st).await {
        Ok(who) => {
            list_in_directory(
                &state,
                &who.actor,
                who.name.as_deref(),
                who.email,
                who.job_title,
                who.unit,
            )
            .await;
            start_session(&state, &who.actor, who.name.as_deref(), &who.return_to).await
        }
        Err(e) => sign_in_failed(&state, &e),
    }
}

/// List the person signing in in the people directory, from their claims
/// (nothing is appended when the directory already says the same). A
/// failure here does not stop the sign-in: it is logged, without the
/// person's details, and the next sign-in tries again.
async fn list_in_directory(
    state: &StaffState,
    actor: &domain::Actor,
    name: Option<&str>,
    email: Option<String>,
    job_title: Option<String>,
    unit: Option<String>,
) {
    let Some(name) = name.filter(|n| !n.trim().is_empty()) else {
        return;
    };
    let details = domain::directory::PersonDetails {
        subject: actor.subject.clone(),
        name: name.to_owned(),
        email,
        job_title,
        unit,
    };
    let meta = app::commands::RequestMeta {
        actor: actor.clone(),
        display_name: Some(name.to_owned()),
        correlation_id: format!("staff-sign-in-{}", uuid::Uuid::new_v4()),
        idempotency_key: None,
        expected_version: None,
        trace_id: None,
    };
    let listed = state
        .app
        .handler
        .list_person(details, domain::directory::Source::SignIn, &meta)
        .await;
    if let Err(error) = listed {
        tracing::warn!(
            rule = error_rule(&error),
            "could not list a person signing in in the directory"
        );
    }
}

/// A refusal's rule or kind, for a log line that must not carry values.
fn error_rule(e: &app::commands::HandleError) -> &'static str {
    match e {
        app::commands::HandleError::Domain(d) => d.rule(),
        _ => "internal",
    }
}

async fn start_session(
    state: &StaffState,
    actor: &domain::Actor,
    name: Option<&str>,
    to: &str,
) -> Response {
    match session::create(&state.app.pool, &state.app.vault, actor, name).await {
        Ok(value) => {
            let mut response = Redirect::to(&safe_return(Some(to))).into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                session::set_cookie(&value, &state.sessions),
            );
            // No subject: some providers make it a user name.
            tracing::info!(roles = actor.roles.len(), "staff signed in");
            response
        }
        Err(e) => failure(state, None, &e),
    }
}

#[derive(Deserialize)]
struct DevSignIn {
    subject: String,
    return_to: Option<String>,
}

async fn dev_sign_in(State(state): State<StaffState>, Form(f): Form<DevSignIn>) -> Response {
    if !state.dev_sign_in {
        return page(
            &state,
            None,
            StatusCode::FORBIDDEN,
            "Not available",
            html! {
                h1 class="govuk-heading-l" { "Not available" }
                p class="govuk-body" { "Signing in from a list of people is for development only." }
            },
        );
    }
    let Some((subject, name, roles)) = app::demo::PEOPLE.iter().find(|(s, _, _)| *s == f.subject)
    else {
        return Redirect::to("/staff/sign-in").into_response();
    };
    let actor = domain::Actor::new(*subject, roles.iter().copied());
    let (job_title, unit) = app::demo::job_of(subject);
    list_in_directory(
        &state,
        &actor,
        Some(name),
        Some(format!("{subject}@council.example")),
        job_title.map(str::to_owned),
        unit.map(str::to_owned),
    )
    .await;
    start_session(
        &state,
        &actor,
        Some(name),
        f.return_to.as_deref().unwrap_or("/staff"),
    )
    .await
}

#[derive(Deserialize)]
struct CsrfOnly {
    csrf: String,
}

async fn sign_out(
    State(state): State<StaffState>,
    headers: HeaderMap,
    Form(f): Form<CsrfOnly>,
) -> Response {
    let session = match require(&state, &headers, "/staff").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !session::csrf_ok(&session, &f.csrf) {
        return csrf_refused(&state, &session);
    }
    if let Err(e) = session::end(&state.app.pool, &headers).await {
        return failure(&state, Some(&session), &e);
    }
    let mut response = page(
        &state,
        None,
        StatusCode::OK,
        "You are signed out",
        html! {
            h1 class="govuk-heading-l" { "You are signed out" }
            p class="govuk-body" { a class="govuk-link" href="/staff/sign-in" { "Sign in again" } }
        },
    );
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::clear_cookie(&state.sessions));
    response
}
