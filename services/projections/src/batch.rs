//! One batch: read events after the lowest healthy checkpoint, apply them to
//! each read model in its own savepoint, move each checkpoint by
//! compare-and-set, commit once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use event_store::{EventStore, RecordedEvent, StoreError};
use sqlx::{Acquire, PgPool};
use uuid::Uuid;

use crate::decode::{Decoded, Decoder, StateCache};
use crate::models::{apply_items, digest, Digest, Item, ReadModel};

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
    let events = store.read_all(from, batch_size).await?;
    tracing::Span::current().record("events", events.len());
    if events.is_empty() {
        return Ok(BatchOutcome {
            position: from,
            ..BatchOutcome::default()
        });
    }
    let mut decoder = Decoder::new(&store, cache);
    let mut decoded = Vec::with_capacity(events.len());
    for e in &events {
        decoded.push(decoder.decode(e).await?);
    }
    let erased_before = erased_up_to(pool, from).await?;

    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    let mut outcome = BatchOutcome {
        events: events.len(),
        ..BatchOutcome::default()
    };
    let batch = Batch {
        digests: Mutex::new(HashMap::new()),
        schema,
        events: &events,
        decoded: &decoded,
        erased_before: &erased_before,
        review_period_days,
    };
    for (model, start) in healthy {
        let started = std::time::Instant::now();
        let mut sp = tx.begin().await?;
        let (mut reached, failure) = batch.apply(&mut sp, model, start, i64::MAX).await?;
        match failure {
            None => sp.commit().await?,
            Some((position, error)) => {
                // Keep everything before the bad event, and stop there.
                sp.rollback().await?;
                let mut sp = tx.begin().await?;
                reached = batch.apply(&mut sp, model, start, position).await?.0;
                sp.commit().await?;
                tracing::error!(projection = model.name(), position, %error, "projection stopped: cannot apply event");
                outcome
                    .failures
                    .push((model.name(), position, error.clone()));
                let sql = format!(
                    "update {schema}.checkpoints set failed_at_position = $2, error = $3, updated_at = now() where projection = $1"
                );
                sqlx::query(&sql)
                    .bind(model.name())
                    .bind(position)
                    .bind(&error)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        outcome.timings.push((model.name(), started.elapsed()));
        if reached > start {
            let sql = format!(
                "update {schema}.checkpoints set position = $3, updated_at = now() where projection = $1 and position = $2"
            );
            let moved = sqlx::query(&sql)
                .bind(model.name())
                .bind(start)
                .bind(reached)
                .execute(&mut *tx)
                .await?;
            if moved.rows_affected() != 1 {
                return Err(ProjectionError::LostRace(model.name()));
            }
        }
        outcome.position = outcome.position.max(reached);
    }
    tx.commit().await?;
    Ok(outcome)
}

/// One batch's events, decoded, and what applying them needs.
struct Batch<'a> {
    digests: Mutex<HashMap<(i64, i64), Arc<Digest<'a>>>>,
    schema: &'a str,
    events: &'a [RecordedEvent],
    decoded: &'a [Decoded],
    erased_before: &'a BTreeSet<Uuid>,
    review_period_days: i64,
}

impl<'a> Batch<'a> {
    /// The digest of the events in `(start, last]`: models that start at the
    /// same checkpoint (the usual case) share one.
    fn digest(
        &self,
        start: i64,
        last: i64,
        items: &[Item<'a>],
        erased_before: &BTreeSet<Uuid>,
    ) -> Arc<Digest<'a>> {
        let mut cache = self.digests.lock().expect("digest cache lock");
        cache
            .entry((start, last))
            .or_insert_with(|| Arc::new(digest(items, erased_before)))
            .clone()
    }

    /// Apply the events after `start` and before `until` to one model: the
    /// position reached, and the first event it could not apply. The run is
    /// written in bulk; if the bulk write fails, the events are replayed one
    /// by one (each in a savepoint) to name the event at fault.
    async fn apply(
        &self,
        conn: &mut sqlx::PgConnection,
        model: ReadModel,
        start: i64,
        until: i64,
    ) -> Result<(i64, Option<(i64, String)>), ProjectionError> {
        let mut erased_before = self.erased_before.clone();
        let mut items = Vec::new();
        let mut broken = None;
        for (e, d) in self.events.iter().zip(self.decoded) {
            if e.position >= until {
                break;
            }
            if e.position <= start {
                if let Decoded::Erasure(person) = d {
                    erased_before.insert(*person);
                }
                continue;
            }
            if let Decoded::Broken(problem) = d {
                if touches(model, e) {
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
        let mut sp = conn.begin().await?;
        let digested = self.digest(start, last, &items, &erased_before);
        match apply_items(
            model,
            &mut sp,
            self.schema,
            &digested,
            self.review_period_days,
        )
        .await
        {
            Ok(()) => {
                sp.commit().await?;
                return Ok((last, broken));
            }
            Err(error) if is_transient(&error) => return Err(error.into()),
            Err(sqlx::Error::Database(_)) => sp.rollback().await?,
            Err(error) => return Err(error.into()),
        }
        // Find the event at fault, keeping the ones before it.
        let mut reached = start;
        let mut erased = erased_before;
        for (i, item) in items.iter().enumerate() {
            let mut sp = conn.begin().await?;
            let one = digest(std::slice::from_ref(item), &erased);
            match apply_items(model, &mut sp, self.schema, &one, self.review_period_days).await {
                Ok(()) => {
                    sp.commit().await?;
                    reached = item.position;
                    if let Decoded::Erasure(person) = item.decoded {
                        erased.insert(*person);
                    }
                }
                Err(error) if is_transient(&error) => return Err(error.into()),
                Err(error @ sqlx::Error::Database(_)) => {
                    sp.rollback().await?;
                    let e = self
                        .events
                        .iter()
                        .find(|e| e.position == items[i].position)
                        .expect("item comes from the batch");
                    return Ok((
                        reached,
                        Some((
                            e.position,
                            format!("{} at position {}: {error}", e.event_type, e.position),
                        )),
                    ));
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok((reached, broken))
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
fn touches(model: ReadModel, e: &RecordedEvent) -> bool {
    (model == ReadModel::Reference) == e.stream_id.starts_with(domain::streams::REFERENCE)
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
