//! Rebuilding every read model from position 0 into fresh tables, then
//! swapping them in atomically, so readers never see a half-built model.

use std::time::Instant;

use sqlx::{Connection, Executor, PgConnection, PgPool};

use crate::batch::run_batch_cached;
use crate::decode::StateCache;
use crate::models::all_tables;
use crate::{LIVE_SCHEMA, NEXT_SCHEMA};

/// How a rebuild went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    /// Events applied.
    pub events: u64,
    /// The position the rebuilt models reached.
    pub position: i64,
    /// Wall time in milliseconds.
    pub millis: u128,
}

/// Create `read_models_next` as an empty copy of the live schema's tables.
/// Needs the owner's connection (it creates a schema).
pub async fn prepare(owner: &PgPool) -> Result<(), sqlx::Error> {
    let mut conn = owner.acquire().await?;
    let mut tx = conn.begin().await?;
    tx.execute(format!("drop schema if exists {NEXT_SCHEMA} cascade").as_str())
        .await?;
    tx.execute(format!("create schema {NEXT_SCHEMA}").as_str())
        .await?;
    for table in all_tables() {
        tx.execute(
            format!(
                "create table {NEXT_SCHEMA}.{table} (like {LIVE_SCHEMA}.{table} including all)"
            )
            .as_str(),
        )
        .await?;
    }
    tx.execute(format!("grant usage on schema {NEXT_SCHEMA} to registry_app").as_str())
        .await?;
    tx.execute(
        format!("grant select, insert, update, delete on all tables in schema {NEXT_SCHEMA} to registry_app").as_str(),
    )
    .await?;
    tx.commit().await
}

/// Project the whole log into `read_models_next`, calling `progress` after
/// each batch with (events so far, position reached, log head).
pub async fn fill(
    pool: &PgPool,
    batch_size: i64,
    review_period_days: i64,
    mut progress: impl FnMut(u64, i64, i64),
) -> Result<RebuildReport, crate::ProjectionError> {
    let started = Instant::now();
    let mut events = 0u64;
    let mut position = 0;
    let mut cache = StateCache::default();
    loop {
        let head: i64 = sqlx::query_scalar("select coalesce(max(position), 0) from events")
            .fetch_one(pool)
            .await?;
        let outcome = run_batch_cached(
            pool,
            NEXT_SCHEMA,
            batch_size,
            review_period_days,
            &mut cache,
        )
        .await?;
        if let Some((model, at, error)) = outcome.failures.first() {
            tracing::error!(projection = model, position = at, %error, "rebuild: a projection cannot apply an event");
        }
        if outcome.is_idle() {
            break;
        }
        events += outcome.events as u64;
        position = outcome.position;
        progress(events, position, head);
    }
    Ok(RebuildReport {
        events,
        position,
        millis: started.elapsed().as_millis(),
    })
}

/// Swap the rebuilt schema in, in one transaction, and drop the old one.
pub async fn swap(owner: &PgPool) -> Result<(), sqlx::Error> {
    let mut conn: sqlx::pool::PoolConnection<sqlx::Postgres> = owner.acquire().await?;
    let c: &mut PgConnection = &mut conn;
    let mut tx = c.begin().await?;
    tx.execute("set local lock_timeout = '10s'").await?;
    tx.execute(format!("alter schema {LIVE_SCHEMA} rename to read_models_old").as_str())
        .await?;
    tx.execute(format!("alter schema {NEXT_SCHEMA} rename to {LIVE_SCHEMA}").as_str())
        .await?;
    tx.execute("drop schema read_models_old cascade").await?;
    tx.commit().await
}

/// Rebuild every read model and swap it in. `owner` must be able to create
/// schemas; it also runs the projection (the rebuild's tables are its own).
pub async fn rebuild(
    owner: &PgPool,
    batch_size: i64,
    review_period_days: i64,
    progress: impl FnMut(u64, i64, i64),
) -> Result<RebuildReport, crate::ProjectionError> {
    prepare(owner).await?;
    let report = fill(owner, batch_size, review_period_days, progress).await?;
    swap(owner).await?;
    Ok(report)
}
