//! One batch: read events after the lowest healthy checkpoint, apply them to
//! each read model in its own savepoint, move each checkpoint by
//! compare-and-set, commit once.

use std::collections::{BTreeMap, BTreeSet};

use event_store::{EventStore, LogEvent, StoreError};
use sqlx::pool::PoolConnection;
use sqlx::{Acquire, PgConnection, PgPool, Postgres};
use uuid::Uuid;

use crate::apply::{Item, ModelRun};
use crate::decode::{Decoded, Decoder, StateCache};
use crate::models::ReadModel;
use crate::tables::Mode;

/// Why a batch did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The database failed (connection lost, …): retry later.
    #[error("projection database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Reading the log failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another projector moved a checkpoint first; this batch was not applied.
    #[error("checkpoint of {0} moved under this projector")]
    LostRace(&'static str),
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Events read.
    pub events: usize,
    /// The highest position any model reached.
    pub position: i64,
    /// Models that stopped on an event in this batch: (model, position, error).
    pub failures: Vec<(&'static str, i64, String)>,
    /// Time each model took to apply the batch.
    pub timings: Vec<(&'static str, std::time::Duration)>,
    /// Time each phase of the batch took: reading the log, decoding and
    /// folding it, writing every model, committing.
    pub phases: Vec<(&'static str, std::time::Duration)>,
}

impl BatchOutcome {
    /// Nothing was there to apply.
    pub fn is_idle(&self) -> bool {
        self.events == 0
    }
}

struct Checkpoint {
    position: i64,
    failed: bool,
}

/// Apply the next batch of at most `batch_size` events to every healthy read
/// model in `schema`.
#[tracing::instrument(name = "projection.batch", skip_all, fields(schema, events))]
pub async fn run_batch(
    pool: &PgPool,
    schema: &str,
    batch_size: i64,
    review_period_days: i64,
) -> Result<BatchOutcome, ProjectionError> {
    run_batch_cached(
        pool,
        schema,
        batch_size,
        review_period_days,
        &mut StateCache::default(),
    )
    .await
}

/// [`run_batch`], keeping folded registration states in `cache` from one
/// batch to the next.
pub async fn run_batch_cached(
    pool: &PgPool,
    schema: &str,
    batch_size: i64,
    review_period_days: i64,
    cache: &mut StateCache,
) -> Result<BatchOutcome, ProjectionError> {
    let checkpoints = load_checkpoints(pool, schema).await?;
    let healthy: Vec<(ReadModel, i64)> = ReadModel::ALL
        .iter()
        .filter_map(|m| {
            checkpoints
                .get(m.name())
                .filter(|c| !c.failed)
                .map(|c| (*m, c.position))
        })
        .collect();
    let Some(from) = healthy.iter().map(|(_, p)| *p).min() else {
        return Ok(BatchOutcome::default());
    };
    let store = EventStore::new(pool.clone());
    let mut clock = std::time::Instant::now();
    let mut phases = Vec::new();
    let mut phase = |name: &'static str| {
        phases.push((name, clock.elapsed()));
        clock = std::time::Instant::now();
    };
    let events = store.read_log(from, batch_size).await?;
    phase("read");
    tracing::Span::current().record("events", events.len());
    if events.is_empty() {
        return Ok(BatchOutcome {
            position: from,
            ..BatchOutcome::default()
        });
    }
    let mut decoder = Decoder::new(&store, cache);
    decoder.prefetch(&events).await?;
    let mut decoded = Vec::with_capacity(events.len());
    for e in &events {
        decoded.push(decoder.decode(e).await?);
    }
    let erased_before = erased_up_to(pool, from).await?;
    phase("decode");

    let mut conn = Guarded(Some(pool.acquire().await?));
    let mut tx = conn.get().begin().await?;
    // The batch's statements take arrays of keys whose length varies, on
    // tables that grow from nothing: a plan cached while a table was small
    // (a scan of the whole table) must not outlive that.
    sqlx::query("set local plan_cache_mode = force_custom_plan")
        .execute(&mut *tx)
        .await?;
    let mut outcome = BatchOutcome {
        events: events.len(),
        ..BatchOutcome::default()
    };
    let batch = Batch {
        schema,
        events: &events,
        decoded: &decoded,
        erased_before: &erased_before,
        review_period_days,
    };
    for (model, start) in healthy {
        let started = std::time::Instant::now();
        let (reached, failure) = batch.apply(&mut tx, model, start).await?;
        if let Some((position, error)) = failure {
            tracing::error!(projection = model.name(), position, %error, "projection stopped: cannot apply event");
            outcome
                .failures
                .push((model.name(), position, error.clone()));
            record_failure(&mut tx, schema, model, position, &error).await?;
        }
        outcome.timings.push((model.name(), started.elapsed()));
        if reached > start {
            move_checkpoint(&mut tx, schema, model, start, reached).await?;
        }
        outcome.position = outcome.position.max(reached);
    }
    phase("write");
    tx.commit().await?;
    conn.release();
    phase("commit");
    outcome.phases = phases;
    Ok(outcome)
}

/// A pooled connection that is closed, not returned to the pool, if the
/// batch using it is cancelled (the projector's task aborted, say). A COPY
/// cut short leaves the connection with a reply it does not expect, which
/// would break the next statement of whoever took it from the pool next.
struct Guarded(Option<PoolConnection<Postgres>>);

impl Guarded {
    fn get(&mut self) -> &mut PgConnection {
        self.0
            .as_mut()
            .expect("the connection is held until released")
    }

    /// The batch ended normally: back to the pool.
    fn release(mut self) {
        self.0.take();
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if let Some(mut conn) = self.0.take() {
            conn.close_on_drop();
        }
    }
}

/// Store that `model` stopped at `position`, and why.
pub(crate) async fn record_failure(
    conn: &mut PgConnection,
    schema: &str,
    model: ReadModel,
    position: i64,
    error: &str,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "update {schema}.checkpoints set failed_at_position = $2, error = $3, updated_at = now() where projection = $1"
    );
    sqlx::query(&sql)
        .bind(model.name())
        .bind(position)
        .bind(error)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn move_checkpoint(
    conn: &mut PgConnection,
    schema: &str,
    model: ReadModel,
    from: i64,
    to: i64,
) -> Result<(), ProjectionError> {
    let sql = format!(
        "update {schema}.checkpoints set position = $3, updated_at = now() where projection = $1 and position = $2"
    );
    let moved = sqlx::query(&sql)
        .bind(model.name())
        .bind(from)
        .bind(to)
        .execute(&mut *conn)
        .await?;
    if moved.rows_affected() != 1 {
        return Err(ProjectionError::LostRace(model.name()));
    }
    Ok(())
}

/// One batch's events, decoded, and what applying them needs.
struct Batch<'a> {
    schema: &'a str,
    events: &'a [LogEvent],
    decoded: &'a [Decoded],
    erased_before: &'a BTreeSet<Uuid>,
    review_period_days: i64,
}

impl Batch<'_> {
    /// Apply the events after `start` to one model, up to the first event
    /// it cannot read: the position reached, and the event it stopped at.
    /// The run is written at once; if the database refuses that write, the
    /// events are replayed one by one (each in a savepoint) to name the
    /// event at fault, keeping those before it.
    async fn apply(
        &self,
        conn: &mut PgConnection,
        model: ReadModel,
        start: i64,
    ) -> Result<(i64, Option<(i64, String)>), ProjectionError> {
        let mut erased = self.erased_before.clone();
        let mut items = Vec::new();
        let mut broken = None;
        for (e, d) in self.events.iter().zip(self.decoded) {
            if e.position <= start {
                if let Decoded::Erasure(person) = d {
                    erased.insert(*person);
                }
                continue;
            }
            if let Decoded::Broken(problem) = d {
                if touches(model, &e.stream_id) {
                    broken = Some((
                        e.position,
                        format!("{} at position {}: {problem}", e.event_type, e.position),
                    ));
                    break;
                }
            }
            items.push(Item {
                position: e.position,
                at: e.recorded_at,
                decoded: d,
            });
        }
        let Some(last) = items.last().map(|i| i.position) else {
            return Ok((start, broken));
        };
        match self.write(conn, model, &items, &erased).await {
            Ok(()) => return Ok((last, broken)),
            Err(error) if is_transient(&error) => return Err(error.into()),
            Err(sqlx::Error::Database(_)) => {}
            Err(error) => return Err(error.into()),
        }
        // Find the event at fault, keeping the ones before it.
        let mut reached = start;
        for item in &items {
            match self
                .write(conn, model, std::slice::from_ref(item), &erased)
                .await
            {
                Ok(()) => {
                    reached = item.position;
                    if let Decoded::Erasure(person) = item.decoded {
                        erased.insert(*person);
                    }
                }
                Err(error) if is_transient(&error) => return Err(error.into()),
                Err(error @ sqlx::Error::Database(_)) => {
                    let e = self
                        .events
                        .iter()
                        .find(|e| e.position == item.position)
                        .expect("item comes from the batch");
                    let at_fault = (
                        e.position,
                        format!("{} at position {}: {error}", e.event_type, e.position),
                    );
                    return Ok((reached, Some(at_fault)));
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok((reached, broken))
    }

    /// Load, apply and write `items` for one model, in a savepoint: all of
    /// it or nothing.
    async fn write(
        &self,
        conn: &mut PgConnection,
        model: ReadModel,
        items: &[Item<'_>],
        erased: &BTreeSet<Uuid>,
    ) -> Result<(), sqlx::Error> {
        let mut sp = conn.begin().await?;
        let mut run = ModelRun::new(model, erased, Mode::Replace);
        let result = async {
            run.load(&mut sp, self.schema, items).await?;
            for item in items {
                run.apply(item);
            }
            run.write(&mut sp, self.schema, Mode::Replace, self.review_period_days)
                .await
        }
        .await;
        match result {
            Ok(()) => sp.commit().await,
            Err(error) => {
                if !is_transient(&error) {
                    sp.rollback().await?;
                }
                Err(error)
            }
        }
    }
}

/// True for a database error that says nothing about the event being
/// applied: lost connections, a shutdown or restart, serialisation failures
/// and deadlocks, exhausted resources, cancelled statements. The batch is
/// retried with backoff; only an error about the data itself (a constraint,
/// a bad value) stops the model at its event.
pub fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(e) => e.code().is_some_and(|code| {
            let code = code.as_ref();
            ["08", "40", "53", "57", "58"]
                .iter()
                .any(|class| code.starts_with(class))
                || code == "55P03"
                || code == "55006"
        }),
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        _ => false,
    }
}

/// Whether an unreadable event concerns this model: reference events only
/// the reference model, everything else every other model.
pub(crate) fn touches(model: ReadModel, stream_id: &str) -> bool {
    (model == ReadModel::Reference) == stream_id.starts_with(domain::streams::REFERENCE)
}

async fn load_checkpoints(
    pool: &PgPool,
    schema: &str,
) -> Result<BTreeMap<String, Checkpoint>, sqlx::Error> {
    let names: Vec<&str> = ReadModel::ALL.iter().map(|m| m.name()).collect();
    let sql = format!("insert into {schema}.checkpoints (projection) select unnest($1::text[]) on conflict do nothing");
    sqlx::query(&sql).bind(&names).execute(pool).await?;
    let sql = format!("select projection, position, error is not null from {schema}.checkpoints");
    let rows: Vec<(String, i64, bool)> = sqlx::query_as(&sql).fetch_all(pool).await?;
    Ok(rows
        .into_iter()
        .map(|(n, position, failed)| (n, Checkpoint { position, failed }))
        .collect())
}

async fn erased_up_to(pool: &PgPool, position: i64) -> Result<BTreeSet<Uuid>, sqlx::Error> {
    let people: Vec<String> = sqlx::query_scalar(
        "select payload->>'person' from events where event_type = 'PersonalDataErased' and position <= $1",
    )
    .bind(position)
    .fetch_all(pool)
    .await?;
    Ok(people.iter().filter_map(|p| p.parse().ok()).collect())
}
