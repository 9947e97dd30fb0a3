//! The HTTP surface: GraphQL, health and readiness, correlation ids, limits.

use std::time::{Duration, Instant};

use async_graphql::http::{playground_source, GraphQLPlaygroundConfig};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::json;
use tower_http::limit::RequestBodyLimitLayer;
use tracing::Instrument;

use crate::graphql::{CorrelationId, RegistrySchema};
use crate::state::AppState;

/// The header that carries the correlation id in and out.
pub static CORRELATION_HEADER: HeaderName = HeaderName::from_static("x-correlation-id");

#[derive(Clone)]
struct HttpState {
    app: AppState,
    schema: RegistrySchema,
}

/// The router of the service.
pub fn router(app: AppState, schema: RegistrySchema, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/graphql", get(playground).post(graphql))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(HttpState { app, schema })
        .layer(RequestBodyLimitLayer::new(max_body_bytes))
        .layer(middleware::from_fn(correlate))
}

async fn graphql(
    State(state): State<HttpState>,
    Extension(cid): Extension<CorrelationId>,
    request: GraphQLRequest,
) -> GraphQLResponse {
    state
        .schema
        .execute(request.into_inner().data(cid))
        .await
        .into()
}

async fn playground() -> Html<String> {
    Html(playground_source(GraphQLPlaygroundConfig::new("/graphql")))
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

/// Take the caller's correlation id when it is sane, or make one; put it in
/// the request's span, its extensions and the response header.
async fn correlate(mut request: Request, next: Next) -> Response {
    let cid = request
        .headers()
        .get(&CORRELATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_sane_correlation_id(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    request.extensions_mut().insert(CorrelationId(cid.clone()));
    let span = tracing::info_span!(
        "http.request",
        http.method = %request.method(),
        http.route = %request.uri().path(),
        correlation_id = %cid,
    );
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            http.status = response.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request finished"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&cid) {
        response
            .headers_mut()
            .insert(CORRELATION_HEADER.clone(), value);
    }
    response
}

fn is_sane_correlation_id(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}
