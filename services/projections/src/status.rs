//! How far each projection is, for `/readyz` and metrics.

use serde::Serialize;
use sqlx::PgPool;

use crate::LIVE_SCHEMA;

/// One projection's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectionStatus {
    /// Its name.
    pub name: String,
    /// The last position it applied.
    pub position: i64,
    /// Log head minus position.
    pub lag: i64,
    /// Where it stopped, and why, when it cannot apply an event.
    pub failed_at_position: Option<i64>,
    /// The error that stopped it.
    pub error: Option<String>,
}

/// Every projection's progress against the log head.
pub async fn projection_status(pool: &PgPool) -> Result<Vec<ProjectionStatus>, sqlx::Error> {
    let head: i64 = sqlx::query_scalar("select coalesce(max(position), 0) from events")
        .fetch_one(pool)
        .await?;
    let sql = format!(
        "select projection, position, failed_at_position, error from {LIVE_SCHEMA}.checkpoints order by projection"
    );
    let rows: Vec<(String, i64, Option<i64>, Option<String>)> =
        sqlx::query_as(&sql).fetch_all(pool).await?;
    Ok(rows
        .into_iter()
        .map(
            |(name, position, failed_at_position, error)| ProjectionStatus {
                name,
                position,
                lag: head - position,
                failed_at_position,
                error,
            },
        )
        .collect())
}
