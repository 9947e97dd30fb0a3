//! Rebuilding every read model from position 0 into fresh tables, then
//! swapping them in atomically, so readers never see a half-built model.

use std::collections::BTreeSet;
use std::time::Instant;

use event_store::{EventStore, LogEvent, StoreError};
use futures::{StreamExt, TryStreamExt};
use sqlx::{Acquire, Connection, Executor, PgConnection, PgPool};
use tokio::sync::mpsc;

use crate::apply::{Item, ModelRun};
use crate::batch::{run_batch_cached, touches};
use crate::decode::{parse, Decoded, Decoder, Parsed, StateCache};
use crate::models::{all_tables, ReadModel};
use crate::tables::{Mode, Part};
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
    /// Of which reading and folding the log.
    pub fold_millis: u128,
    /// Of which copying the rows in.
    pub write_millis: u128,
    /// Of which building the secondary indexes.
    pub index_millis: u128,
}

/// Create `read_models_next` as an empty copy of the live schema's tables,
/// with their primary keys and unique constraints but none of their other
/// indexes: [`fill`] builds those once the rows are in, which is faster
/// than keeping them up to date row by row. Needs the owner's connection
/// (it creates a schema).
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
                "create table {NEXT_SCHEMA}.{table} (like {LIVE_SCHEMA}.{table} including all excluding indexes)"
            )
            .as_str(),
        )
        .await?;
    }
    let constraints: Vec<(String, String, String)> = sqlx::query_as(
        "select c.relname::text, k.conname::text, pg_get_constraintdef(k.oid) from pg_constraint k \
           join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace \
         where n.nspname = $1 and k.contype in ('p', 'u') order by 1, 2",
    )
    .bind(LIVE_SCHEMA)
    .fetch_all(&mut *tx)
    .await?;
    for (table, name, definition) in constraints {
        tx.execute(
            format!("alter table {NEXT_SCHEMA}.{table} add constraint {name} {definition}")
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

/// Project the whole log into `read_models_next`: fold every event in
/// memory with the live projector's code (reading the log `page_size`
/// events at a time while the previous page is folded), then copy each
/// model's final rows in with binary `COPY`. `progress` is called after
/// each page with (events so far, position reached, log head).
///
/// A model that meets an event it cannot read stops there, as it would
/// live. If the database refuses a model's rows (a constraint), that model
/// is projected again event by event, which stops it at the event at fault.
pub async fn fill(
    pool: &PgPool,
    page_size: i64,
    review_period_days: i64,
    mut progress: impl FnMut(u64, i64, i64),
) -> Result<RebuildReport, crate::ProjectionError> {
    let started = Instant::now();
    let store = EventStore::new(pool.clone());
    let head = store.head().await?.position;
    let mut pages = read_ahead(store.clone(), page_size);
    let mut cache = StateCache::unbounded();
    let mut runs: Vec<Run> = ReadModel::ALL
        .iter()
        .map(|m| Run {
            model: *m,
            run: ModelRun::new(*m, &BTreeSet::new(), Mode::Fresh),
            reached: 0,
            stopped: None,
        })
        .collect();
    let mut events = 0u64;
    let mut position = 0;
    while let Some(page) = pages.recv().await {
        let page = page?;
        let count = page.len() as u64;
        let mut decoder = Decoder::new(&store, &mut cache);
        for (e, parsed) in page {
            let decoded = decoder.fold(&e, parsed).await?;
            let item = Item {
                position: e.position,
                at: e.recorded_at,
                decoded: &decoded,
            };
            for r in runs.iter_mut().filter(|r| r.stopped.is_none()) {
                if let Decoded::Broken(problem) = &decoded {
                    if touches(r.model, &e.stream_id) {
                        let error =
                            format!("{} at position {}: {problem}", e.event_type, e.position);
                        tracing::error!(projection = r.model.name(), position = e.position, %error, "rebuild: a projection cannot apply an event");
                        r.stopped = Some((e.position, error));
                        continue;
                    }
                }
                r.run.apply(&item);
                r.reached = e.position;
            }
            position = e.position;
        }
        events += count;
        progress(events, position, head.max(position));
    }
    let folded = started.elapsed();
    let again = write(pool, &runs, review_period_days).await?;
    for model in again {
        project_again(pool, model, page_size, review_period_days).await?;
    }
    let written = started.elapsed();
    build_indexes(pool).await?;
    Ok(RebuildReport {
        events,
        position,
        millis: started.elapsed().as_millis(),
        fold_millis: folded.as_millis(),
        write_millis: (written - folded).as_millis(),
        index_millis: (started.elapsed() - written).as_millis(),
    })
}

/// Build the live tables' other indexes on the rebuilt tables, two at a
/// time (one per connection).
async fn build_indexes(pool: &PgPool) -> Result<(), sqlx::Error> {
    let definitions: Vec<String> = sqlx::query_scalar(
        "select pg_get_indexdef(i.indexrelid) from pg_index i \
           join pg_class c on c.oid = i.indrelid join pg_namespace n on n.oid = c.relnamespace \
         where n.nspname = $1 \
           and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid) \
         order by 1",
    )
    .bind(LIVE_SCHEMA)
    .fetch_all(pool)
    .await?;
    let live = format!(" ON {LIVE_SCHEMA}.");
    let next = format!(" ON {NEXT_SCHEMA}.");
    let statements: Vec<String> = definitions
        .iter()
        .map(|d| d.replacen(&live, &next, 1))
        .collect();
    let build = |part: Vec<String>| async move {
        let mut conn = pool.acquire().await?;
        for sql in part {
            conn.execute(sql.as_str()).await?;
        }
        Ok::<(), sqlx::Error>(())
    };
    let half = |parity: usize| -> Vec<String> {
        statements
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == parity)
            .map(|(_, s)| s.clone())
            .collect()
    };
    tokio::try_join!(build(half(0)), build(half(1)))?;
    Ok(())
}

/// One model's rebuild.
struct Run {
    model: ReadModel,
    run: ModelRun,
    reached: i64,
    stopped: Option<(i64, String)>,
}

/// A page of the log, each event read ([`parse`]) but not folded.
type Page = Vec<(LogEvent, Parsed)>;

/// Pages of the log read and parsed by a task of their own, ahead of the
/// folding (on a machine with two cores, reading and parsing the payloads
/// is about as much work as folding them).
fn read_ahead(store: EventStore, page_size: i64) -> mpsc::Receiver<Result<Page, StoreError>> {
    let (tx, rx) = mpsc::channel(2);
    tokio::spawn(async move {
        let mut after = 0;
        loop {
            let page = match store.read_log(after, page_size).await {
                Ok(page) if page.is_empty() => break,
                Ok(page) => page,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    break;
                }
            };
            after = page.last().map_or(after, |e| e.position);
            let parsed = tokio::task::spawn_blocking(move || {
                page.into_iter()
                    .map(|e| {
                        let p = parse(&e);
                        (e, p)
                    })
                    .collect::<Page>()
            })
            .await
            .expect("parsing does not panic");
            if tx.send(Ok(parsed)).await.is_err() {
                break;
            }
        }
    });
    rx
}

/// Copy every model's rows in, two connections at once (the registrations
/// in two parts), each in a transaction of its own; then the checkpoints.
/// The models whose rows the database refused, emptied again, to project
/// again.
async fn write(
    pool: &PgPool,
    runs: &[Run],
    review_period_days: i64,
) -> Result<Vec<ReadModel>, sqlx::Error> {
    const PARTS: u128 = 2;
    let mut parts: Vec<(&Run, Part)> = Vec::new();
    for r in runs {
        let of = if r.model == ReadModel::Registrations {
            PARTS
        } else {
            1
        };
        parts.extend((0..of).map(|index| (r, Part { index, of })));
    }
    let copies = parts.into_iter().map(|(r, part)| async move {
        let mut conn = pool.acquire().await?;
        let mut tx = Connection::begin(&mut *conn).await?;
        match r
            .run
            .write_part(&mut tx, NEXT_SCHEMA, Mode::Fresh, review_period_days, part)
            .await
        {
            Ok(()) => {
                tx.commit().await?;
                Ok(None)
            }
            Err(error @ sqlx::Error::Database(_)) => {
                tracing::warn!(projection = r.model.name(), %error, "rebuild: the bulk load was refused; projecting this model event by event");
                tx.rollback().await?;
                Ok(Some(r.model))
            }
            Err(error) => Err(error),
        }
    });
    let refused: Vec<Option<ReadModel>> = futures::stream::iter(copies)
        .buffer_unordered(2)
        .try_collect()
        .await?;
    let mut again: Vec<ReadModel> = refused.into_iter().flatten().collect();
    again.sort();
    again.dedup();
    let mut conn = pool.acquire().await?;
    let mut tx = Connection::begin(&mut *conn).await?;
    for model in &again {
        for table in model.tables() {
            tx.execute(format!("truncate {NEXT_SCHEMA}.{table}").as_str())
                .await?;
        }
    }
    for r in runs {
        let (position, failed) = if again.contains(&r.model) {
            (0, None)
        } else {
            (r.reached, r.stopped.as_ref())
        };
        let sql = format!(
            "insert into {NEXT_SCHEMA}.checkpoints (projection, position, failed_at_position, error) \
             values ($1, $2, $3, $4)"
        );
        sqlx::query(&sql)
            .bind(r.model.name())
            .bind(position)
            .bind(failed.map(|f| f.0))
            .bind(failed.map(|f| f.1.as_str()))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(again)
}

/// Project one model of `read_models_next` from position 0 as the live
/// projector would, batch by batch (the other models are already at the
/// end, so batches pass them by).
async fn project_again(
    pool: &PgPool,
    model: ReadModel,
    page_size: i64,
    review_period_days: i64,
) -> Result<(), crate::ProjectionError> {
    let mut cache = StateCache::default();
    loop {
        let outcome =
            run_batch_cached(pool, NEXT_SCHEMA, page_size, review_period_days, &mut cache).await?;
        if outcome.is_idle() {
            tracing::info!(
                projection = model.name(),
                "rebuild: projected event by event"
            );
            return Ok(());
        }
    }
}

/// Swap the rebuilt schema in, in one transaction, and drop the old one.
pub async fn swap(owner: &PgPool) -> Result<(), sqlx::Error> {
    let mut conn: sqlx::pool::PoolConnection<sqlx::Postgres> = owner.acquire().await?;
    let c: &mut PgConnection = &mut conn;
    let mut tx = Connection::begin(c).await?;
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
