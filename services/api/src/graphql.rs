//! The GraphQL schema. Transport-free: `http.rs` serves it, `print-schema`
//! exports it to `schema/registry.graphql`.

use async_graphql::extensions::Tracing;
use async_graphql::{
    Context, EmptyMutation, EmptySubscription, Object, Result, Schema, SimpleObject,
};

use crate::errors;
use crate::state::AppState;

/// The schema type served at `/graphql`.
pub type RegistrySchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// Deepest query accepted.
pub const MAX_DEPTH: usize = 12;
/// Most complex query accepted (each field counts 1 unless it says otherwise).
pub const MAX_COMPLEXITY: usize = 1_000;

/// The correlation id of the request being served (from `x-correlation-id`).
#[derive(Debug, Clone)]
pub struct CorrelationId(pub String);

/// Build the schema; `state` is absent only when exporting the SDL.
pub fn build(state: Option<AppState>) -> RegistrySchema {
    let mut builder = Schema::build(Query, EmptyMutation, EmptySubscription)
        .extension(Tracing)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY);
    if let Some(state) = state {
        builder = builder.data(state);
    }
    builder.finish()
}

/// The SDL as committed in `schema/registry.graphql`.
pub fn sdl() -> String {
    build(None).sdl()
}

/// Where the event log ends: the newest position and its chain hash.
/// An auditor who notes this pair can later prove the log up to it unchanged.
#[derive(Debug, Clone, SimpleObject)]
pub struct LogHead {
    /// Position of the newest event (0 when the log is empty). Positions are
    /// gap-free and in commit order.
    pub position: i64,
    /// SHA-256 chain hash of that event, as 64 lower-case hex digits
    /// (all zeros when the log is empty).
    pub hash: String,
}

/// Read-only entry points.
pub struct Query;

/// Everything that can be read. Public fields need no sign-in; the rest say
/// which role they need.
#[Object]
impl Query {
    /// The newest position of the event log and its chain hash.
    async fn log_head(&self, ctx: &Context<'_>) -> Result<LogHead> {
        let state = ctx.data::<AppState>()?;
        let head = state
            .store
            .head()
            .await
            .map_err(|e| errors::from_store(e, &correlation_id(ctx)))?;
        Ok(LogHead {
            position: head.position,
            hash: hex::encode(head.hash),
        })
    }
}

fn correlation_id(ctx: &Context<'_>) -> String {
    ctx.data_opt::<CorrelationId>()
        .map(|c| c.0.clone())
        .unwrap_or_default()
}
