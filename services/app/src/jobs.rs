//! Scheduled work of the service: signing the log head, the retention
//! job, reminders and the projections watchdog. Each run takes a transaction-scoped advisory lock, so with several
//! instances only one does the work at a time.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::state::AppState;

const SIGN_LOCK: i64 = 0x5349_474e; // "SIGN"
const RETENTION_LOCK: i64 = 0x5245_544e; // "RETN"
const REMIND_LOCK: i64 = 0x524d_4e44; // "RMND"

/// The running jobs; aborted on shutdown.
pub struct Jobs(Vec<JoinHandle<()>>);

impl Jobs {
    /// Stop every job.
    pub fn abort(self) {
        for j in self.0 {
            j.abort();
        }
    }
}

/// How often the jobs run.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// Head signing interval (zero: never).
    pub head_sign_interval: Duration,
    /// Retention job interval (zero: never).
    pub retention_interval: Duration,
    /// Years after withdrawal or rejection that personal data is kept.
    pub retention_years: i64,
    /// How often reminders are decided (zero: never).
    pub reminder_interval: Duration,
    /// The review period, for re-validation reminders.
    pub review_period_days: i64,
    /// How long the read models may stand still behind the log before
    /// operations is told (zero: never).
    pub projection_stall: Duration,
}

/// Start the jobs the settings ask for.
pub fn spawn(state: &AppState, settings: &JobSettings) -> Jobs {
    let mut jobs = Vec::new();
    if !settings.head_sign_interval.is_zero() {
        let state = state.clone();
        let every = settings.head_sign_interval;
        jobs.push(tokio::spawn(async move {
            // The first run comes soon after start (not a whole interval
            // later), and signs only when the newest signed head is older
            // than the interval or the log has moved since.
            let mut wait = Duration::from_secs(2).min(every);
            loop {
                tokio::time::sleep(wait).await;
                wait = every;
                let result = exclusively(&state.pool, SIGN_LOCK, || async {
                    let newest = state.store.signed_heads(1).await?.into_iter().next();
                    let log = state.store.head().await?;
                    if log.position == 0 {
                        return Ok(());
                    }
                    if let Some(newest) = newest {
                        let age = chrono::Utc::now() - newest.signed_at;
                        let fresh = age.to_std().is_ok_and(|age| age < every);
                        if newest.position == log.position || fresh {
                            return Ok(());
                        }
                    }
                    let head = state.store.sign_head(&state.signer).await?;
                    tracing::info!(position = head.position, key_id = %head.key_id, "signed the log head");
                    Ok(())
                })
                .await;
                if let Err(error) = result {
                    tracing::warn!(%error, "could not sign the log head; retrying at the next interval");
                }
            }
        }));
    }
    if !settings.retention_interval.is_zero() {
        let state = state.clone();
        let every = settings.retention_interval;
        let years = settings.retention_years;
        jobs.push(tokio::spawn(async move {
            // First run soon after start, then at the interval.
            let mut wait = Duration::from_secs(60).min(every);
            loop {
                tokio::time::sleep(wait).await;
                wait = every;
                let handler = state.handler.clone();
                let result = exclusively(&state.pool, RETENTION_LOCK, || async {
                    let plan = crate::privacy::retention_plan(&state.pool, &handler, chrono::Utc::now(), years).await?;
                    let cid = format!("retention-{}", uuid::Uuid::new_v4());
                    let n = crate::privacy::apply_retention(&handler, &plan, years, &cid).await?;
                    tracing::info!(erased = n, correlation_id = %cid, "retention job ran");
                    Ok(())
                })
                .await;
                if let Err(error) = result {
                    tracing::warn!(%error, "the retention job failed; retrying at the next interval");
                }
            }
        }));
    }
    if !settings.reminder_interval.is_zero() {
        let state = state.clone();
        let every = settings.reminder_interval;
        let review_period_days = settings.review_period_days;
        jobs.push(tokio::spawn(async move {
            let mut wait = Duration::from_secs(1).min(every);
            loop {
                tokio::time::sleep(wait).await;
                wait = every;
                let result = exclusively(&state.pool, REMIND_LOCK, || async {
                    let today = chrono::Utc::now().date_naive();
                    let added = crate::reminders::remind(&state.pool, &state.handler, today, review_period_days).await?;
                    if added > 0 {
                        tracing::info!(reminders = added, "reminders queued");
                    }
                    Ok(())
                })
                .await;
                if let Err(error) = result {
                    tracing::warn!(%error, "the reminder job failed; retrying at the next interval");
                }
            }
        }));
    }
    if !settings.projection_stall.is_zero() {
        let state = state.clone();
        let stall = settings.projection_stall;
        let stall_chrono = chrono::Duration::from_std(stall).unwrap_or(chrono::Duration::MAX);
        jobs.push(tokio::spawn(async move {
            let mut watchdog = crate::reminders::Watchdog::default();
            let every = (stall / 4).clamp(Duration::from_millis(200), Duration::from_secs(30));
            loop {
                tokio::time::sleep(every).await;
                if let Err(error) = watchdog
                    .check(&state.pool, chrono::Utc::now(), stall_chrono)
                    .await
                {
                    tracing::warn!(%error, "the projections watchdog could not look; retrying");
                }
            }
        }));
    }
    Jobs(jobs)
}

/// Run `work` while holding a transaction-scoped advisory lock; skip it
/// when another instance holds the lock.
async fn exclusively<F, Fut>(pool: &sqlx::PgPool, key: i64, work: F) -> anyhow::Result<()>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut tx = pool.begin().await?;
    let got: bool = sqlx::query_scalar("select pg_try_advisory_xact_lock($1)")
        .bind(key)
        .fetch_one(&mut *tx)
        .await?;
    if !got {
        return Ok(());
    }
    let result = work().await;
    tx.commit().await?;
    result
}
