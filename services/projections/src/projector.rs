//! The projector: one active per database, elected with a session-level
//! advisory lock held on a dedicated connection. The others wait and take
//! over within `lock_retry` when the leader's connection dies.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use event_store::Wake;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::batch::{run_batch_cached, ProjectionError};
use crate::decode::StateCache;
use crate::LIVE_SCHEMA;

const PROJECTOR_LOCK: i64 = 0x534d_5231_5052_4f4a; // "SMR1PROJ"

/// Called after each applied batch with what it did (per-model timings
/// included) and how long the whole batch took.
pub type BatchObserver = std::sync::Arc<dyn Fn(&crate::BatchOutcome, Duration) + Send + Sync>;

/// Projector settings.
#[derive(Clone)]
pub struct ProjectorConfig {
    /// Most events per batch.
    pub batch_size: i64,
    /// Days from the last validation until review is due.
    pub review_period_days: i64,
    /// How often a waiting instance tries to become the leader.
    pub lock_retry: Duration,
    /// The schema to project into (the live one except in tests).
    pub schema: String,
    /// How long an idle projector waits for a notification before looking
    /// at the log anyway. Notifications are sent in the appending
    /// transaction and the listener wakes everyone after a reconnect, so
    /// this only covers the unforeseen: an idle projector costs the
    /// database nothing in between.
    pub idle_poll: Duration,
    /// Told of every applied batch (for metrics).
    pub on_batch: Option<BatchObserver>,
}

impl std::fmt::Debug for ProjectorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectorConfig")
            .field("batch_size", &self.batch_size)
            .field("review_period_days", &self.review_period_days)
            .field("lock_retry", &self.lock_retry)
            .field("schema", &self.schema)
            .field("idle_poll", &self.idle_poll)
            .finish()
    }
}

impl Default for ProjectorConfig {
    fn default() -> Self {
        ProjectorConfig {
            batch_size: 5000,
            review_period_days: domain::registration::DEFAULT_REVIEW_PERIOD_DAYS,
            lock_retry: Duration::from_secs(2),
            schema: LIVE_SCHEMA.to_owned(),
            idle_poll: Duration::from_secs(30),
            on_batch: None,
        }
    }
}

/// What the running projector reports.
#[derive(Debug, Default)]
pub struct ProjectorStats {
    leader: AtomicBool,
    batches: AtomicU64,
    events: AtomicU64,
}

impl ProjectorStats {
    /// True while this instance holds the projector lock.
    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::SeqCst)
    }
    /// Batches this instance has applied.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::SeqCst)
    }
    /// Events this instance has applied.
    pub fn events(&self) -> u64 {
        self.events.load(Ordering::SeqCst)
    }
}

/// A projector ready to run.
pub struct Projector {
    pool: PgPool,
    wake: Wake,
    config: ProjectorConfig,
}

/// A running projector.
pub struct ProjectorHandle {
    /// Its counters.
    pub stats: Arc<ProjectorStats>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl ProjectorHandle {
    /// Stop it and wait; its lock connection closes, so another takes over.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Kill it without ceremony (a crash): the task is aborted mid-batch.
    pub fn abort(self) {
        self.task.abort();
    }
}

impl Projector {
    /// A projector over `pool`, woken by `wake` when events are appended.
    pub fn new(pool: PgPool, wake: Wake, config: ProjectorConfig) -> Self {
        Projector { pool, wake, config }
    }

    /// Start it in the background.
    pub fn spawn(self) -> ProjectorHandle {
        let stats = Arc::new(ProjectorStats::default());
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run(self, stats.clone(), stop_rx));
        ProjectorHandle { stats, stop, task }
    }
}

async fn run(p: Projector, stats: Arc<ProjectorStats>, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        match try_lead(&p.pool).await {
            Ok(Some(lock)) => {
                tracing::info!("projector: this instance is the leader");
                stats.leader.store(true, Ordering::SeqCst);
                lead(&p, lock, &stats, &mut stop).await;
                stats.leader.store(false, Ordering::SeqCst);
                tracing::info!("projector: stepped down");
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%error, "projector: cannot reach the database to elect a leader")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(p.config.lock_retry) => {}
            _ = stop.changed() => {}
        }
    }
}

/// The lock lives on a connection taken out of the pool, so that however
/// this instance ends (crash, abort, lost network) the connection closes and
/// the lock is released with it.
async fn try_lead(pool: &PgPool) -> Result<Option<PgConnection>, sqlx::Error> {
    let mut conn = pool.acquire().await?.detach();
    let got: bool = sqlx::query_scalar("select pg_try_advisory_lock($1)")
        .bind(PROJECTOR_LOCK)
        .fetch_one(&mut conn)
        .await?;
    if got {
        Ok(Some(conn))
    } else {
        Ok(None)
    }
}

async fn lead(
    p: &Projector,
    mut lock: PgConnection,
    stats: &ProjectorStats,
    stop: &mut watch::Receiver<bool>,
) {
    let mut wake = p.wake.clone();
    let mut backoff = Duration::from_millis(100);
    let mut cache = StateCache::default();
    loop {
        if *stop.borrow() {
            break;
        }
        // Leadership lasts as long as the lock's connection.
        if sqlx::query("select 1").execute(&mut lock).await.is_err() {
            tracing::warn!("projector: lost the lock connection");
            return;
        }
        wake.mark_seen();
        let started = std::time::Instant::now();
        match run_batch_cached(
            &p.pool,
            &p.config.schema,
            p.config.batch_size,
            p.config.review_period_days,
            &mut cache,
        )
        .await
        {
            Ok(outcome) if outcome.is_idle() => {
                backoff = Duration::from_millis(100);
                tokio::select! {
                    _ = wake.wait_at_most(p.config.idle_poll) => {}
                    _ = stop.changed() => {}
                }
            }
            Ok(outcome) => {
                backoff = Duration::from_millis(100);
                stats.batches.fetch_add(1, Ordering::SeqCst);
                if let Some(observe) = &p.config.on_batch {
                    observe(&outcome, started.elapsed());
                }
                stats
                    .events
                    .fetch_add(outcome.events as u64, Ordering::SeqCst);
            }
            Err(ProjectionError::LostRace(model)) => {
                tracing::warn!(
                    projection = model,
                    "projector: another projector moved a checkpoint; stepping down"
                );
                return;
            }
            Err(error) => {
                tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "projector: batch failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    let _ = lock.close().await;
}
