//! The GraphQL schema: queries, mutations, subscriptions, their types and
//! one error mapping. Transport-free: the server crate serves it over HTTP
//! and WebSocket, `print-schema` exports it to `schema/registry.graphql`.
//!
//! - `query`: reads (projections, and the log for auditors);
//! - `mutation`: one mutation per domain command;
//! - `subscription`: live approval activity, registration changes, the log;
//! - `types` / `inputs`: what crosses the wire;

mod audit;
mod documents;
pub mod errors;
mod inputs;
mod insight;
mod limits;
pub mod metrics;
mod mutation;
mod people;
mod pool_share;
mod query;
mod reports;
mod subscription;
mod types;
mod vault_loader;
mod webhooks;

use std::time::Duration;

use async_graphql::{Context, Schema};
use domain::Role;
use errors::Result;

use app::context::Principal;
use app::state::AppState;

pub use subscription::Subscription;

/// Everything that can be read. Public fields (no sign-in): `directory`,
/// `verifyAccount`, `officer`, `jobRoles`, `organisationalUnits`,
/// `platforms`. The rest say which role they need.
#[derive(async_graphql::MergedObject, Default)]
pub struct Query(
    query::RegistryQuery,
    audit::AuditQuery,
    reports::ReportsQuery,
    webhooks::WebhooksQuery,
    insight::InsightQuery,
    people::PeopleQuery,
);

/// Changes. Every mutation needs a sign-in; the domain decides whether your
/// roles and your place on the form allow it, and says which rule refused.
#[derive(async_graphql::MergedObject, Default)]
pub struct Mutation(
    mutation::RegistryMutation,
    audit::AuditMutation,
    reports::ReportsMutation,
    webhooks::WebhooksMutation,
    people::PeopleMutation,
);

/// The schema type served at `/graphql` and `/graphql/ws`.
pub type RegistrySchema = Schema<Query, Mutation, Subscription>;

/// Deepest query accepted.
pub const MAX_DEPTH: usize = 12;
/// Most complex query accepted by async-graphql's own count (each field 1).
pub const MAX_COMPLEXITY: usize = 2_000;
/// Most cost accepted: each field 1, a list's selection once per item
/// asked for (`first`), fragments counted at every spread.
pub const MAX_COST: usize = 5_000;
/// Most aliases in one document, counted at every use.
pub const MAX_ALIASES: usize = 30;
/// Largest page of any connection.
pub const MAX_PAGE: i32 = 100;
/// Page size when `first` is not given.
pub const DEFAULT_PAGE: i32 = 20;

pub use app::context::CorrelationId;

/// Who is calling: a verified token's principal, or nobody (the public).
#[derive(Debug, Clone, Default)]
pub struct Viewer(pub Option<Principal>);

/// Settings the resolvers need.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Longest wait for `atLeastPosition`.
    pub read_wait: Duration,
    /// Review period for re-validation.
    pub review_period_days: i64,
    /// How long a published account has to acknowledge a new policy version.
    pub policy_acknowledgement_days: i64,
    /// How long after an import each imported account's full review is due.
    pub import_review_days: i64,
    /// The organisation verification names (`REGISTRY_COUNCIL_NAME`).
    pub council_name: String,
    /// Most pooled connections one request may hold at once.
    pub connections_per_request: usize,
    /// A query's time budget.
    pub query_timeout: Duration,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            read_wait: Duration::from_secs(5),
            review_period_days: domain::registration::DEFAULT_REVIEW_PERIOD_DAYS,
            policy_acknowledgement_days: projections::staff::DEFAULT_POLICY_ACKNOWLEDGEMENT_DAYS,
            import_review_days: 90,
            council_name: "The Council".into(),
            connections_per_request: 4,
            query_timeout: Duration::from_secs(10),
        }
    }
}

/// Build the schema; `state` is absent only when exporting the SDL.
pub fn build(state: Option<(AppState, ApiSettings)>) -> RegistrySchema {
    let query_timeout = state
        .as_ref()
        .map_or(Duration::from_secs(10), |(_, s)| s.query_timeout);
    let mut builder = Schema::build(Query::default(), Mutation::default(), Subscription)
        .extension(limits::Guard::new(MAX_COST, MAX_ALIASES, query_timeout))
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_recursive_depth(32);
    if let Some((state, settings)) = state {
        builder = builder.data(state).data(settings);
    }
    builder.finish()
}

/// The SDL as committed in `schema/registry.graphql`.
pub fn sdl() -> String {
    build(None).sdl()
}

pub(crate) fn correlation_id(ctx: &Context<'_>) -> String {
    ctx.data_opt::<CorrelationId>()
        .map(|c| c.0.clone())
        .unwrap_or_default()
}

pub(crate) fn app<'a>(ctx: &Context<'a>) -> Result<&'a AppState> {
    ctx.data::<AppState>()
        .map_err(|_| errors::internal_error(&"the schema was built without state"))
}

/// Wait for this request's turn at the database pool (see
/// [`pool_share::PoolShare`]); hold the permit while using a connection.
pub(crate) async fn pool_turn(ctx: &Context<'_>) -> Option<tokio::sync::OwnedSemaphorePermit> {
    match ctx.data_opt::<pool_share::PoolShare>() {
        Some(share) => Some(share.acquire().await),
        None => None,
    }
}

pub(crate) fn settings<'a>(ctx: &Context<'a>) -> &'a ApiSettings {
    static DEFAULT: std::sync::LazyLock<ApiSettings> =
        std::sync::LazyLock::new(ApiSettings::default);
    ctx.data_opt::<ApiSettings>().unwrap_or(&DEFAULT)
}

/// The caller, when signed in.
pub(crate) fn viewer<'a>(ctx: &Context<'a>) -> Option<&'a Principal> {
    ctx.data_opt::<Viewer>().and_then(|v| v.0.as_ref())
}

/// The caller, as a member of staff, or `UNAUTHENTICATED`; `FORBIDDEN`
/// for another system's identity (the `integration` role alone), which
/// reads public facts and webhook deliveries and nothing else.
pub(crate) fn signed_in<'a>(ctx: &Context<'a>) -> Result<&'a Principal> {
    let p = viewer(ctx).ok_or_else(errors::unauthenticated)?;
    if domain::access::integration_only(&p.actor) {
        return Err(errors::forbidden(
            "an integration may read public facts and webhook deliveries only",
        ));
    }
    Ok(p)
}

/// The caller holding at least one of `roles`, or `UNAUTHENTICATED` / `FORBIDDEN`.
pub(crate) fn with_role<'a>(ctx: &Context<'a>, roles: &[Role]) -> Result<&'a Principal> {
    let p = viewer(ctx).ok_or_else(errors::unauthenticated)?;
    if roles.iter().any(|r| p.actor.has(*r)) {
        Ok(p)
    } else {
        let names: Vec<&str> = roles.iter().map(|r| r.code()).collect();
        Err(errors::forbidden(format!(
            "this needs one of the roles: {}",
            names.join(", ")
        )))
    }
}

/// The request context of a command: the caller, their display name, the
/// correlation and trace ids, and the client's concurrency and retry keys
/// (checked here). Built in this one place.
pub(crate) fn request_meta(
    ctx: &Context<'_>,
    expected_version: Option<i64>,
    idempotency_key: Option<String>,
) -> Result<app::commands::RequestMeta> {
    let viewer = signed_in(ctx)?;
    if let Some(v) = expected_version {
        if v < 0 {
            return Err(errors::bad_input("expectedVersion", "must not be negative"));
        }
    }
    if let Some(key) = &idempotency_key {
        let ok = (1..=200).contains(&key.len()) && key.chars().all(|c| c.is_ascii_graphic());
        if !ok {
            return Err(errors::bad_input(
                "idempotencyKey",
                "must be 1 to 200 printable characters without spaces (a UUID is ideal)",
            ));
        }
    }
    Ok(app::commands::RequestMeta {
        actor: viewer.actor.clone(),
        display_name: viewer.name.clone(),
        correlation_id: correlation_id(ctx),
        idempotency_key,
        expected_version,
        trace_id: ctx.data_opt::<app::context::TraceId>().map(|t| t.0.clone()),
    })
}

/// Wait (bounded) until every read model has applied the log up to
/// `position`: read-your-writes after a mutation.
pub(crate) async fn wait_for_position(ctx: &Context<'_>, position: Option<i64>) -> Result<()> {
    let Some(position) = position else {
        return Ok(());
    };
    let app = app(ctx)?;
    if position < 0 {
        return Err(errors::bad_input("atLeastPosition", "must not be negative"));
    }
    let head = app.store.head().await?;
    if position > head.position {
        return Err(errors::bad_input(
            "atLeastPosition",
            format!("the log ends at position {}", head.position),
        ));
    }
    let deadline = tokio::time::Instant::now() + settings(ctx).read_wait;
    loop {
        let reached = projections::staff::projected_position(&app.pool).await?;
        if reached >= position {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(errors::coded(
                errors::Code::Conflict,
                format!(
                    "the read models have reached position {reached}, not yet {position}; retry shortly"
                ),
            )
            .extend_with_position(reached));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

trait ExtendPosition {
    fn extend_with_position(self, reached: i64) -> Self;
}

impl ExtendPosition for errors::ApiError {
    fn extend_with_position(self, reached: i64) -> Self {
        use async_graphql::ErrorExtensions;
        async_graphql::Error::from(self)
            .extend_with(|_, e| {
                e.set("reason", "PROJECTIONS_BEHIND");
                e.set("projectedPosition", reached);
            })
            .into()
    }
}
