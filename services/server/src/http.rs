//! The HTTP surface: GraphQL over POST, GET and WebSocket; GraphiQL in
//! development; health and readiness; bearer authentication; correlation
//! ids; body limits; CORS.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::http::{parse_query_string, GraphiQLSource, ALL_WEBSOCKET_PROTOCOLS};
use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse, Data, ParseRequestError, ServerError};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::json;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::Instrument;

use crate::auth::{Authenticator, Principal};
use app::state::AppState;
use graphql::errors::{self, Code};
use graphql::{CorrelationId, RegistrySchema, Viewer};

pub use app::context::TraceId;

/// The header that carries the correlation id in and out.
pub static CORRELATION_HEADER: HeaderName = HeaderName::from_static("x-correlation-id");
/// Also accepted as the incoming correlation id, and echoed.
pub static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Most operations in one batched POST.
const MAX_BATCH: usize = 10;

/// How the HTTP surface behaves.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Serve GraphiQL at `/` (development only).
    pub graphiql: bool,
    /// Origins allowed by CORS (`*` for any).
    pub cors_origins: Vec<String>,
    /// WebSocket limits.
    pub ws: crate::ws::WsLimits,
    /// Longest an ordinary HTTP request may take.
    pub request_timeout: Duration,
}

/// What every handler reads, behind one `Arc`: axum clones the state for
/// each request, and cloning the fields one by one was 2% of a public
/// read's CPU.
#[derive(Clone)]
struct HttpState(Arc<Shared>);

impl std::ops::Deref for HttpState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

struct Shared {
    app: AppState,
    schema: RegistrySchema,
    auth: Authenticator,
    config: HttpConfig,
    shutdown: tokio::sync::watch::Receiver<bool>,
    ws: Arc<crate::ws::WsCounters>,
    /// The staff app, whose pages sign their sockets in by session.
    staff: Option<staff::StaffState>,
}

/// The schema as WebSocket connections execute it: every response's errors
/// get their `extensions.code`, as over HTTP.
#[derive(Clone)]
struct CodedExecutor {
    schema: RegistrySchema,
    correlation_id: String,
}

impl async_graphql::Executor for CodedExecutor {
    fn execute(
        &self,
        request: async_graphql::Request,
    ) -> impl std::future::Future<Output = async_graphql::Response> + Send {
        let schema = self.schema.clone();
        let cid = self.correlation_id.clone();
        async move {
            let mut response = schema.execute(request).await;
            errors::ensure_codes(&mut response.errors, &cid);
            response
        }
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session_data: Option<std::sync::Arc<Data>>,
    ) -> futures::stream::BoxStream<'static, async_graphql::Response> {
        use futures::StreamExt;
        let cid = self.correlation_id.clone();
        async_graphql::Executor::execute_stream(&self.schema, request, session_data)
            .map(move |mut response| {
                errors::ensure_codes(&mut response.errors, &cid);
                response
            })
            .boxed()
    }
}

/// WebSocket close code sent to subscribers when the instance shuts down
/// (RFC 6455 "going away": reconnect, to another instance).
pub const CLOSE_GOING_AWAY: u16 = crate::ws::close::GOING_AWAY;

/// The router of the service.
pub fn router(
    app: AppState,
    schema: RegistrySchema,
    auth: Authenticator,
    config: HttpConfig,
    web: web::WebState,
    staff: Option<staff::StaffState>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Router {
    let cors = cors(&config.cors_origins);
    let request_timeout = config.request_timeout;
    let mut router = Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphql/ws", get(graphql_ws))
        .route("/.well-known/registry-signing-key", get(signing_key))
        .route("/audit/events.ndjson", get(export_events))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    if config.graphiql {
        router = router.route("/", get(graphiql));
    } else {
        router = router.route("/", get(|| async { Redirect::permanent("/directory") }));
    }
    let router = router.with_state(HttpState(Arc::new(Shared {
        app,
        schema,
        auth,
        config,
        shutdown,
        ws: Arc::new(crate::ws::WsCounters::default()),
        staff: staff.clone(),
    })));
    let router = router.merge(web::router(web));
    let router = match staff {
        Some(staff) => router.merge(staff::router(staff)),
        None => router,
    };
    // Bodies are read inside the handlers, so this bounds a trickled body
    // too; streamed responses and WebSockets are past it once they start.
    let router = router.layer(tower_http::timeout::TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        request_timeout,
    ));
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router.layer(middleware::from_fn(correlate))
}

fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let list: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        AllowOrigin::list(list)
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                CORRELATION_HEADER.clone(),
                REQUEST_ID_HEADER.clone(),
            ])
            .expose_headers([CORRELATION_HEADER.clone(), REQUEST_ID_HEADER.clone()])
            .max_age(Duration::from_secs(600)),
    )
}

/// A response in GraphQL's shape carrying one error.
fn error_response(status: StatusCode, error: impl Into<async_graphql::Error>) -> Response {
    let server: ServerError = error
        .into()
        .into_server_error(async_graphql::Pos::default());
    let mut e = serde_json::to_value(&server).unwrap_or_else(|_| json!({}));
    if let Some(obj) = e.as_object_mut() {
        obj.remove("locations");
    }
    (status, Json(json!({ "data": null, "errors": [e] }))).into_response()
}

/// The caller's principal from `Authorization: Bearer …`; `Ok(None)` when
/// there is no such header; a refused token is an error response.
async fn principal(
    auth: &Authenticator,
    headers: &HeaderMap,
) -> Result<Option<Principal>, Response> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let token = value.to_str().ok().and_then(bearer);
    let Some(token) = token else {
        return Err(error_response(
            StatusCode::UNAUTHORIZED,
            crate::auth::AuthError::Malformed.to_graphql(),
        ));
    };
    match auth.verify(token).await {
        Ok(p) => Ok(Some(p)),
        Err(e) => {
            tracing::info!(reason = e.reason(), "refused a bearer token");
            Err(error_response(StatusCode::UNAUTHORIZED, e.to_graphql()))
        }
    }
}

async fn graphql_post(
    State(state): State<HttpState>,
    Extension(cid): Extension<CorrelationId>,
    Extension(trace): Extension<TraceId>,
    request: Request,
) -> Response {
    let viewer = match principal(&state.auth, request.headers()).await {
        Ok(p) => Viewer(p),
        Err(response) => return response,
    };
    // JSON only: a form or text/plain body could be sent cross-site
    // without a CORS preflight.
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !content_type.starts_with("application/json")
        && !content_type.starts_with("application/graphql-response+json")
    {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            errors::coded(
                Code::BadUserInput,
                "send the request as JSON (Content-Type: application/json)",
            ),
        );
    }
    let limit = state.config.max_body_bytes;
    let batch = match read_batch(request.into_body(), limit).await {
        Ok(batch) => batch,
        Err(e) => return body_error(e, limit),
    };
    if let BatchRequest::Batch(list) = &batch {
        if list.len() > MAX_BATCH {
            return error_response(
                StatusCode::BAD_REQUEST,
                errors::coded(
                    Code::BadUserInput,
                    format!("at most {MAX_BATCH} operations per batch"),
                ),
            );
        }
    }
    let batch = batch.data(cid.clone()).data(viewer).data(trace);
    let response = state.schema.execute_batch(batch).await;
    respond(response, &cid.0)
}

/// A POST body as one GraphQL request or a batch of them, read up to
/// `limit` bytes. (async-graphql's extractor reads the body into an
/// untagged enum, which serde buffers whole before parsing it again: a few
/// percent of a public read's CPU.)
async fn read_batch(body: Body, limit: usize) -> Result<BatchRequest, ParseRequestError> {
    use http_body_util::BodyExt;
    let bytes = match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(ParseRequestError::PayloadTooLarge)
        }
        Err(e) => return Err(ParseRequestError::Io(std::io::Error::other(e.to_string()))),
    };
    let invalid = |e: serde_json::Error| ParseRequestError::InvalidRequest(Box::new(e));
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => {
            let list: Vec<async_graphql::Request> =
                serde_json::from_slice(&bytes).map_err(invalid)?;
            if list.is_empty() {
                use serde::de::Error as _;
                return Err(invalid(serde_json::Error::invalid_length(
                    0,
                    &"a non-empty sequence",
                )));
            }
            Ok(BatchRequest::Batch(list))
        }
        _ => serde_json::from_slice(&bytes)
            .map(BatchRequest::Single)
            .map_err(invalid),
    }
}

/// A body that could not be read as a GraphQL request, as a coded error.
fn body_error(e: ParseRequestError, limit: usize) -> Response {
    match e {
        ParseRequestError::PayloadTooLarge => {}
        other => {
            return error_response(
                StatusCode::BAD_REQUEST,
                errors::coded(
                    Code::BadUserInput,
                    format!("the body is not a GraphQL request: {other}"),
                ),
            )
        }
    }
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        errors::coded(
            Code::BadUserInput,
            format!("the request body is larger than {limit} bytes"),
        ),
    )
}

fn respond(mut response: BatchResponse, cid: &str) -> Response {
    match &mut response {
        BatchResponse::Single(r) => errors::ensure_codes(&mut r.errors, cid),
        BatchResponse::Batch(list) => {
            for r in list {
                errors::ensure_codes(&mut r.errors, cid);
            }
        }
    }
    let body = serde_json::to_vec(&response).unwrap_or_default();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// GET: queries only (a mutation over GET could be triggered by a link).
async fn graphql_get(
    State(state): State<HttpState>,
    Extension(cid): Extension<CorrelationId>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        if state.config.graphiql {
            return Redirect::temporary("/").into_response();
        }
        return error_response(
            StatusCode::BAD_REQUEST,
            errors::bad_input("query", "is required (or POST the request as JSON)"),
        );
    };
    let viewer = match principal(&state.auth, &headers).await {
        Ok(p) => Viewer(p),
        Err(response) => return response,
    };
    let request = match parse_query_string(&query) {
        Ok(r) => r,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                errors::coded(
                    Code::BadUserInput,
                    format!("cannot read the query string: {e}"),
                ),
            )
        }
    };
    if let Ok(doc) = async_graphql::parser::parse_query(&request.query) {
        let writes = doc
            .operations
            .iter()
            .any(|(_, op)| op.node.ty != OperationType::Query);
        if writes {
            return error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                errors::coded(
                    Code::BadUserInput,
                    "mutations and subscriptions cannot be sent with GET; use POST (or /graphql/ws)",
                ),
            );
        }
    }
    let request = request.data(cid.clone()).data(viewer);
    let response = state.schema.execute(request).await;
    respond(BatchResponse::Single(response), &cid.0)
}

/// Subscriptions. The token comes in the `connection_init` payload as
/// `{"authorization": "Bearer …"}` (or `{"token": "…"}`), or in the
/// upgrade request's `Authorization` header; the staff app's own pages
/// sign in with the session cookie instead (same origin only). Limits: see
/// [`crate::ws`].
async fn graphql_ws(
    State(state): State<HttpState>,
    Extension(cid): Extension<CorrelationId>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let from_header = match principal(&state.auth, &headers).await {
        Ok(p) => p,
        Err(response) => return response,
    };
    // The staff app's pages sign their sockets in with the session cookie.
    let (from_header, session_check) = match (from_header, &state.staff) {
        (None, Some(staff)) => match staff::ws_principal(staff, &headers).await {
            Some(s) => (Some(s.principal), Some(s.still_open)),
            None => (None, None),
        },
        (p, _) => (p, None),
    };
    let limits = state.config.ws.clone();
    let Some(slot) = state.ws.try_connect(limits.max_connections) else {
        let mut response = error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            errors::coded(
                Code::BadUserInput,
                "this instance holds as many WebSocket connections as it may; retry shortly",
            ),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return response;
    };
    let schema = state.schema.clone();
    let auth = state.auth.clone();
    let shutdown = state.shutdown.clone();
    let legacy = legacy_protocol(&headers);
    // tungstenite reserves 128 KiB per buffer by default; our messages are small.
    let max = limits.max_message_bytes;
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_write_buffer_size((4 * max).max(1024 * 1024))
        .on_upgrade(move |socket| {
            let span = tracing::info_span!("graphql.ws", correlation_id = %cid.0);
            let executor = CodedExecutor {
                schema,
                correlation_id: cid.0.clone(),
            };
            crate::ws::run(
                socket,
                limits,
                slot,
                legacy,
                shutdown,
                move |incoming, sink, clock| {
                    GraphQLWebSocket::new_with_pair(sink, incoming, executor, protocol)
                        .on_connection_init(move |payload| async move {
                            let (principal, session) = match connection_token(&payload) {
                                Some(token) => (
                                    Some(auth.verify(&token).await.map_err(|e| {
                                        tracing::info!(
                                            reason = e.reason(),
                                            "refused a WebSocket token"
                                        );
                                        e.to_graphql()
                                    })?),
                                    None,
                                ),
                                None => (from_header, session_check),
                            };
                            clock.signed_in(principal.as_ref().and_then(|p| p.expires_at));
                            clock.watch_session(session);
                            let mut data = Data::default();
                            data.insert(Viewer(principal));
                            data.insert(cid);
                            Ok(data)
                        })
                        .serve()
                },
            )
            .instrument(span)
        })
}

/// True when the client chose the legacy `graphql-ws` protocol
/// (subscriptions-transport-ws): the first protocol it offers that we speak,
/// as `GraphQLProtocol` picks it.
fn legacy_protocol(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find(|p| *p == "graphql-ws" || *p == "graphql-transport-ws")
        == Some("graphql-ws")
}

/// The bearer token of a `connection_init` payload.
fn connection_token(payload: &serde_json::Value) -> Option<String> {
    let from_authorization = payload
        .get("authorization")
        .or_else(|| payload.get("Authorization"))
        .and_then(|v| v.as_str())
        .map(|v| bearer(v).unwrap_or(v.trim()).to_owned());
    from_authorization.or_else(|| {
        payload
            .get("token")
            .and_then(|v| v.as_str())
            .map(|t| t.trim().to_owned())
    })
}

/// The token of an `Authorization: Bearer …` value (scheme case-insensitive,
/// RFC 7235).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The public half of the key that signs log heads, for anyone verifying a
/// head they hold.
async fn signing_key(State(state): State<HttpState>) -> Json<serde_json::Value> {
    Json(json!({
        "algorithm": "Ed25519",
        "keyId": state.app.signer.key_id(),
        "publicKey": state.app.signer.public_key(),
        "message": "social-registry/head/v1\\n<position>\\n<hash hex>\\n<signedAt RFC 3339, microseconds, Z>",
    }))
}

#[derive(serde::Deserialize)]
struct ExportRange {
    after: Option<i64>,
    to: Option<i64>,
}

/// The event log as NDJSON, streamed (auditors): the same lines as
/// `social-registry export-events`, verifiable offline with `verify-export`.
async fn export_events(
    State(state): State<HttpState>,
    headers: HeaderMap,
    axum::extract::Query(range): axum::extract::Query<ExportRange>,
) -> Response {
    use futures::StreamExt;
    let viewer = match principal(&state.auth, &headers).await {
        Ok(p) => p,
        Err(response) => return response,
    };
    match viewer {
        None => return error_response(StatusCode::UNAUTHORIZED, errors::unauthenticated()),
        Some(p) if !p.actor.has(domain::Role::Auditor) => {
            return error_response(
                StatusCode::FORBIDDEN,
                errors::forbidden("this needs the `auditor` role"),
            )
        }
        Some(_) => {}
    }
    let lines = state
        .app
        .store
        .export_lines(range.after.unwrap_or(0).max(0), range.to)
        .map(|line| {
            line.map(axum::body::Bytes::from)
                .map_err(std::io::Error::other)
        });
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(lines),
    )
        .into_response()
}

async fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .title("Social Media Registry")
            .finish(),
    )
}

/// Prometheus metrics (text format).
async fn metrics(State(state): State<HttpState>) -> Response {
    crate::prom::refresh(&state.app).await;
    metrics::gauge!("websocket_connections").set(state.ws.connections() as f64);
    metrics::gauge!("websocket_subscriptions").set(state.ws.subscriptions() as f64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::prom::render(),
    )
        .into_response()
}

/// Liveness: the process answers. Nothing else is checked here, so a slow
/// database never gets a healthy instance restarted.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the database answers and every embedded migration is applied.
async fn readyz(State(state): State<HttpState>) -> Response {
    let pool = &state.app.pool;
    let bound = Duration::from_secs(2);
    let database = match tokio::time::timeout(bound, sqlx::query("select 1").execute(pool)).await {
        Ok(Ok(_)) => "ok",
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: database unreachable");
            "unreachable"
        }
        Err(_) => "timeout",
    };
    let migrations =
        match tokio::time::timeout(bound, event_store::db::migrations_applied(pool)).await {
            Ok(Ok(true)) => "applied",
            Ok(Ok(false)) => "pending",
            Ok(Err(error)) => {
                tracing::warn!(%error, "readiness: cannot read the migration table");
                "unknown"
            }
            Err(_) => "timeout",
        };
    let ready = database == "ok" && migrations == "applied";
    let projections = if ready {
        match tokio::time::timeout(bound, projections::projection_status(pool)).await {
            Ok(Ok(list)) => list,
            Ok(Err(error)) => {
                tracing::warn!(%error, "readiness: cannot read projection checkpoints");
                Vec::new()
            }
            Err(_) => Vec::new(),
        }
    } else {
        Vec::new()
    };
    // A stopped projection degrades the service (its read model is stale)
    // but does not take the instance out of rotation: writes and the other
    // read models still work, and every instance would be equally affected.
    let degraded = projections.iter().any(|p| p.error.is_some());
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let projections: serde_json::Map<String, serde_json::Value> = projections
        .iter()
        .map(|p| {
            let detail = json!({
                "position": p.position,
                "lag": p.lag,
                "failedAtPosition": p.failed_at_position,
                "error": p.error,
            });
            (p.name.clone(), detail)
        })
        .collect();
    let body = json!({
        "status": if !ready { "not_ready" } else if degraded { "degraded" } else { "ready" },
        "database": database,
        "migrations": migrations,
        "projections": projections,
    });
    (status, Json(body)).into_response()
}

/// Take the caller's correlation id (`x-correlation-id`, else `x-request-id`)
/// when it is sane, or make one; put it in the request's span, its
/// extensions and both response headers.
async fn correlate(mut request: Request<Body>, next: Next) -> Response {
    let cid = [&CORRELATION_HEADER, &REQUEST_ID_HEADER]
        .into_iter()
        .find_map(|h| {
            request
                .headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .filter(|v| is_sane_correlation_id(v))
                .map(str::to_owned)
        })
        .unwrap_or_else(new_correlation_id);
    request.extensions_mut().insert(CorrelationId(cid.clone()));
    let route = route_label(request.extensions().get::<axum::extract::MatchedPath>());
    let method = method_label(request.method());
    let span = tracing::info_span!(
        "http.request",
        http.method = %request.method(),
        http.route = %request.uri().path(),
        correlation_id = %cid,
        trace_id = tracing::field::Empty,
    );
    {
        use opentelemetry::trace::TraceContextExt;
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        // Continue the caller's trace (W3C traceparent) when it sends one.
        let parent = opentelemetry::global::get_text_map_propagator(|p| {
            p.extract(&crate::telemetry::HeaderExtractor(request.headers()))
        });
        let _ = span.set_parent(parent);
        let trace_id = span.context().span().span_context().trace_id().to_string();
        span.record("trace_id", trace_id.as_str());
        request.extensions_mut().insert(TraceId(trace_id));
    }
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let took = started.elapsed();
    span.in_scope(|| {
        tracing::info!(
            http.status = response.status().as_u16(),
            latency_ms = took.as_secs_f64() * 1000.0,
            "request finished"
        );
    });
    let status = status_label(response.status());
    metrics::counter!("http_requests_total", "route" => route.clone(), "method" => method, "status" => status).increment(1);
    metrics::histogram!("http_request_duration_seconds", "route" => route).record(took);
    if let Ok(value) = HeaderValue::from_str(&cid) {
        response
            .headers_mut()
            .insert(CORRELATION_HEADER.clone(), value.clone());
        response
            .headers_mut()
            .insert(REQUEST_ID_HEADER.clone(), value);
    }
    response
}

/// The route as a metric label: its pattern (never the path a client
/// sent, which could be anything). Patterns are the router's, a fixed set,
/// so each is kept once for the life of the process and borrowed after.
fn route_label(matched: Option<&axum::extract::MatchedPath>) -> metrics::SharedString {
    static SEEN: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let Some(matched) = matched else {
        return metrics::SharedString::const_str("unmatched");
    };
    let mut seen = SEEN.lock().expect("route labels");
    let route = match seen.iter().find(|r| **r == matched.as_str()) {
        Some(route) => *route,
        None => {
            let route: &'static str = Box::leak(matched.as_str().to_owned().into_boxed_str());
            seen.push(route);
            route
        }
    };
    metrics::SharedString::const_str(route)
}

fn method_label(method: &Method) -> metrics::SharedString {
    let name = match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        _ => "other",
    };
    metrics::SharedString::const_str(name)
}

fn status_label(status: StatusCode) -> metrics::SharedString {
    const COMMON: &[(u16, &str)] = &[
        (200, "200"),
        (204, "204"),
        (301, "301"),
        (302, "302"),
        (303, "303"),
        (304, "304"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (405, "405"),
        (408, "408"),
        (413, "413"),
        (415, "415"),
        (429, "429"),
        (500, "500"),
        (503, "503"),
    ];
    match COMMON.iter().find(|(code, _)| *code == status.as_u16()) {
        Some((_, label)) => metrics::SharedString::const_str(label),
        None => metrics::SharedString::from(status.as_u16().to_string()),
    }
}

/// A fresh correlation id: a random (version 4) UUID. Correlation ids
/// need to be unique, not secret, so they come from a generator per thread
/// seeded once from the operating system (a system call per request was a
/// percent of a public read's CPU).
fn new_correlation_id() -> String {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<(u64, u64)> = Cell::new({
            let seed = uuid::Uuid::new_v4().as_u64_pair();
            (seed.0 | 1, seed.1 | 1)
        });
    }
    // xorshift128+
    let (a, b) = STATE.with(|state| {
        let (mut s1, s0) = state.get();
        s1 ^= s1 << 23;
        s1 ^= s1 >> 17;
        s1 ^= s0 ^ (s0 >> 26);
        state.set((s0, s1));
        (s0, s1.wrapping_add(s0))
    });
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_le_bytes());
    bytes[8..].copy_from_slice(&b.to_le_bytes());
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn is_sane_correlation_id(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_correlation_ids_are_distinct_version_4_uuids_that_pass_the_sanity_check() {
        let ids: std::collections::HashSet<String> =
            (0..10_000).map(|_| new_correlation_id()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(100) {
            let uuid = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(uuid.get_version_num(), 4);
            assert!(is_sane_correlation_id(id));
        }
    }
}
