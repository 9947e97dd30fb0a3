use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgPool, Postgres, Row, Transaction};
use tracing::instrument;
use uuid::Uuid;

use crate::canonical::{chain_hash, EventFields, GENESIS_HASH};
use crate::error::StoreError;
use crate::model::{AppendOutcome, ExpectedVersion, LogEvent, LogHead, NewEvent, RecordedEvent};
use crate::validate::{self, Limits};
use crate::vault::VaultChange;

/// The advisory lock every append holds until commit. One number for the
/// whole database: it is what makes positions gap-free and commit-ordered.
const APPEND_LOCK: i64 = 0x534d_5231_4150_5044; // "SMR1APPD"

/// The channel on which each commit announces its last position.
pub const NOTIFY_CHANNEL: &str = "registry_events";

const SELECT_EVENT: &str = "select position, stream_id, stream_version, event_id, event_type, \
     schema_version, payload, metadata, recorded_at, prev_hash, hash from events";

/// One stream's part of an atomic append.
#[derive(Debug, Clone, Copy)]
pub struct StreamAppend<'a> {
    /// The stream.
    pub stream_id: &'a str,
    /// The version it must be at.
    pub expected: ExpectedVersion,
    /// What to append to it.
    pub events: &'a [NewEvent],
}

/// The event store: a pool and the limits it enforces.
#[derive(Debug, Clone)]
pub struct EventStore {
    pool: PgPool,
    limits: Limits,
}

impl EventStore {
    /// A store over `pool` with the default limits.
    pub fn new(pool: PgPool) -> Self {
        Self::with_limits(pool, Limits::default())
    }

    /// A store over `pool` with the given limits.
    pub fn with_limits(pool: PgPool, limits: Limits) -> Self {
        EventStore { pool, limits }
    }

    /// The pool the store reads and writes through.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Append `events` to `stream_id` atomically, if the stream is at
    /// `expected`. With an idempotency key that was seen before, nothing is
    /// appended and the first append's outcome is returned.
    pub async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: &[NewEvent],
        metadata: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<AppendOutcome, StoreError> {
        let batch = StreamAppend {
            stream_id,
            expected,
            events,
        };
        self.append_multi(&[batch], metadata, idempotency_key).await
    }

    /// Append to several streams in one transaction: all or nothing, each
    /// stream checked against its expected version. The outcome describes
    /// the first (primary) stream, with the positions of everything written;
    /// the idempotency key is recorded against the primary stream.
    pub async fn append_multi(
        &self,
        batches: &[StreamAppend<'_>],
        metadata: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<AppendOutcome, StoreError> {
        self.append_sealed(batches, metadata, idempotency_key, &[])
            .await
    }

    /// [`EventStore::append_multi`] with changes to the vault made in the
    /// same transaction: keys made while sealing the events' personal
    /// values, or an erasure. One command is one commit: a refused or failed
    /// append stores no key, and an erasure is never recorded without its
    /// event.
    #[instrument(
        name = "event_store.append",
        skip_all,
        fields(stream.id = batches.first().map(|b| b.stream_id), streams = batches.len(), vault.changes = vault_changes.len(), position.last)
    )]
    pub async fn append_sealed(
        &self,
        batches: &[StreamAppend<'_>],
        metadata: &Value,
        idempotency_key: Option<&str>,
        vault_changes: &[VaultChange],
    ) -> Result<AppendOutcome, StoreError> {
        let Some(primary) = batches.first() else {
            return Err(StoreError::invalid(
                "events",
                "at least one event is required",
            ));
        };
        let mut seen = std::collections::HashSet::new();
        let mut total = 0;
        for b in batches {
            self.limits.check(b.stream_id, b.events, metadata)?;
            if !seen.insert(b.stream_id) {
                return Err(StoreError::invalid(
                    "stream_id",
                    "a stream appears twice in one append",
                ));
            }
            total += b.events.len();
        }
        if total > self.limits.max_events_per_append {
            return Err(StoreError::invalid(
                "events",
                format!(
                    "at most {} events per append",
                    self.limits.max_events_per_append
                ),
            ));
        }
        if let Some(key) = idempotency_key {
            validate::idempotency_key(key)?;
        }
        let all: Vec<NewEvent> = batches
            .iter()
            .flat_map(|b| b.events.iter().cloned())
            .collect();
        check_unique_ids(&all)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(crate::db::DURABLE_COMMIT)
            .execute(&mut *tx)
            .await?;
        let (mut payloads, metadata) = as_stored_json(&mut tx, &all, metadata).await?;
        sqlx::query("select pg_advisory_xact_lock($1)")
            .bind(APPEND_LOCK)
            .execute(&mut *tx)
            .await?;
        if let Some(key) = idempotency_key {
            if let Some(outcome) = earlier_outcome(&mut *tx, key, primary.stream_id).await? {
                tx.rollback().await?;
                return Ok(outcome);
            }
        }
        let mut head = head_in(&mut tx).await?;
        let mut rows = Vec::with_capacity(all.len());
        let mut primary_version = 0;
        for (i, b) in batches.iter().enumerate() {
            let actual = stream_version(&mut tx, b.stream_id).await?;
            if !b.expected.admits(actual) {
                return Err(StoreError::Conflict {
                    stream_id: b.stream_id.to_owned(),
                    expected: b.expected.to_string(),
                    actual,
                });
            }
            let rest = payloads.split_off(b.events.len());
            let batch_rows = chain_rows(head, b.stream_id, actual, b.events, payloads, &metadata);
            payloads = rest;
            let last = batch_rows.last().expect("batches are not empty");
            head = LogHead {
                position: last.position,
                hash: hash32(last.position, last.hash.clone())?,
            };
            if i == 0 {
                primary_version = last.stream_version;
            }
            rows.extend(batch_rows);
        }
        crate::vault::apply_changes(&mut tx, vault_changes).await?;
        insert_rows(&mut tx, &rows).await?;
        let outcome = AppendOutcome {
            stream_id: primary.stream_id.to_owned(),
            first_position: rows[0].position,
            last_position: head.position,
            stream_version: primary_version,
            deduplicated: false,
        };
        if let Some(key) = idempotency_key {
            remember_outcome(&mut tx, key, &outcome).await?;
        }
        sqlx::query("select pg_notify($1, $2)")
            .bind(NOTIFY_CHANNEL)
            .bind(outcome.last_position.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::Span::current().record("position.last", outcome.last_position);
        Ok(outcome)
    }

    /// The events of one stream in order, up to and including `up_to_version`
    /// when given.
    #[instrument(name = "event_store.read_stream", skip(self), fields(events))]
    pub async fn read_stream(
        &self,
        stream_id: &str,
        up_to_version: Option<i64>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "{SELECT_EVENT} where stream_id = $1 and stream_version <= $2 order by stream_version"
        );
        let rows = sqlx::query(&sql)
            .bind(stream_id)
            .bind(up_to_version.unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        tracing::Span::current().record("events", rows.len());
        rows.iter().map(decode_row).collect()
    }

    /// The events of several streams, each up to (and including) a log
    /// position, ordered by position: one query for a page of records.
    pub async fn read_streams_upto(
        &self,
        streams: &[(String, i64)],
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let (ids, upto): (Vec<String>, Vec<i64>) = streams.iter().cloned().unzip();
        let sql = format!(
            "{SELECT_EVENT} join unnest($1::text[], $2::bigint[]) as wanted(wanted_stream, upto) \
               on wanted.wanted_stream = events.stream_id and events.position <= wanted.upto \
             order by position"
        );
        let rows = sqlx::query(&sql)
            .bind(ids)
            .bind(upto)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_row).collect()
    }

    /// Up to `limit` events after `after` matching the filters (each `None`
    /// matches everything), in order.
    pub async fn read_filtered(
        &self,
        after: i64,
        limit: i64,
        stream_id: Option<&str>,
        event_types: Option<&[String]>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "{SELECT_EVENT} where position > $1 and ($2::text is null or events.stream_id = $2) \
               and ($3::text[] is null or event_type = any($3)) order by position limit $4"
        );
        let rows = sqlx::query(&sql)
            .bind(after)
            .bind(stream_id)
            .bind(event_types)
            .bind(limit.clamp(1, 10_000))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_row).collect()
    }

    /// Up to `limit` events after `after` and up to `upto`, of the streams
    /// whose id starts with `prefix`, in order.
    pub async fn read_prefix(
        &self,
        prefix: &str,
        after: i64,
        upto: i64,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "{SELECT_EVENT} where stream_id like $1 || '%' and position > $2 and position <= $3 \
             order by position limit $4"
        );
        let escaped = prefix
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let rows = sqlx::query(&sql)
            .bind(escaped)
            .bind(after)
            .bind(upto)
            .bind(limit.clamp(1, 10_000))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_row).collect()
    }

    /// The last position recorded at or before `at` (0 when none was).
    pub async fn position_at(&self, at: DateTime<Utc>) -> Result<i64, StoreError> {
        let p: Option<i64> =
            sqlx::query_scalar("select max(position) from events where recorded_at <= $1")
                .bind(at)
                .fetch_one(&self.pool)
                .await?;
        Ok(p.unwrap_or(0))
    }

    /// The current version of a stream (0 when it has no events).
    pub async fn stream_version(&self, stream_id: &str) -> Result<i64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let v: Option<i64> =
            sqlx::query_scalar("select max(stream_version) from events where stream_id = $1")
                .bind(stream_id)
                .fetch_one(&mut *conn)
                .await?;
        Ok(v.unwrap_or(0))
    }

    /// Up to `limit` events with a position greater than `after`, in order.
    #[instrument(name = "event_store.read_all", level = "debug", skip(self))]
    pub async fn read_all(&self, after: i64, limit: i64) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!("{SELECT_EVENT} where position > $1 order by position limit $2");
        let rows = sqlx::query(&sql)
            .bind(after)
            .bind(limit.clamp(1, 10_000))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_row).collect()
    }

    /// [`EventStore::read_streams_upto`] as read models fold events
    /// ([`LogEvent`]).
    pub async fn read_log_of_streams(
        &self,
        streams: &[(String, i64)],
    ) -> Result<Vec<LogEvent>, StoreError> {
        let (ids, upto): (Vec<String>, Vec<i64>) = streams.iter().cloned().unzip();
        let rows = sqlx::query(
            "select position, stream_id, stream_version, event_type, schema_version, \
               payload::text as payload, recorded_at \
             from events join unnest($1::text[], $2::bigint[]) as wanted(wanted_stream, upto) \
               on wanted.wanted_stream = events.stream_id and events.position <= wanted.upto \
             order by position",
        )
        .bind(ids)
        .bind(upto)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(log_event).collect()
    }

    /// Up to `limit` events after `after`, in order, as read models fold
    /// them ([`LogEvent`]).
    #[instrument(name = "event_store.read_log", level = "debug", skip(self))]
    pub async fn read_log(&self, after: i64, limit: i64) -> Result<Vec<LogEvent>, StoreError> {
        let rows = sqlx::query(
            "select position, stream_id, stream_version, event_type, schema_version, \
               payload::text as payload, recorded_at \
             from events where position > $1 order by position limit $2",
        )
        .bind(after)
        .bind(limit.clamp(1, 50_000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(log_event).collect()
    }

    /// Events with positions in `from..=to`, in order, at most `limit` of them.
    pub async fn read_range(
        &self,
        from: i64,
        to: i64,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "{SELECT_EVENT} where position >= $1 and position <= $2 order by position limit $3"
        );
        let rows = sqlx::query(&sql)
            .bind(from)
            .bind(to)
            .bind(limit.clamp(1, 10_000))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_row).collect()
    }

    /// How many events name `subject` as the actor (subject access).
    pub async fn count_acted_by(&self, subject: &str) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "select count(*) from events where metadata->'actor'->>'subject' = $1",
        )
        .bind(subject)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Every actor recorded at or after `since` (the retention rule spares
    /// people who still act).
    pub async fn actors_since(&self, since: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "select distinct metadata->'actor'->>'subject' from events \
             where recorded_at >= $1 and metadata->'actor'->>'subject' is not null",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The newest position and its hash.
    #[instrument(name = "event_store.head", level = "debug", skip(self))]
    pub async fn head(&self) -> Result<LogHead, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query("select position, hash from events order by position desc limit 1")
            .fetch_optional(&mut *conn)
            .await?;
        match row {
            None => Ok(LogHead {
                position: 0,
                hash: GENESIS_HASH,
            }),
            Some(row) => Ok(LogHead {
                position: row.try_get("position")?,
                hash: hash32(row.try_get("position")?, row.try_get("hash")?)?,
            }),
        }
    }
}

/// Payloads and metadata as PostgreSQL's `jsonb` will return them, so the
/// hash is computed over exactly what a later read re-encodes.
async fn as_stored_json(
    tx: &mut Transaction<'_, Postgres>,
    events: &[NewEvent],
    metadata: &Value,
) -> Result<(Vec<Value>, Value), StoreError> {
    let mut values: Vec<Value> = events.iter().map(|e| e.payload.clone()).collect();
    values.push(metadata.clone());
    let mut stored: Vec<Value> = sqlx::query_scalar(
        "select v from unnest($1::jsonb[]) with ordinality as t(v, i) order by i",
    )
    .bind(&values)
    .fetch_all(&mut **tx)
    .await?;
    let metadata = stored.pop().expect("metadata was pushed last");
    Ok((stored, metadata))
}

impl EventStore {
    /// What an append with this idempotency key did, if one did: the
    /// outcome to return to a retry. A key recorded for another stream is
    /// [`StoreError::IdempotencyKeyReused`].
    pub async fn idempotent_outcome(
        &self,
        key: &str,
        stream_id: &str,
    ) -> Result<Option<AppendOutcome>, StoreError> {
        earlier_outcome(&self.pool, key, stream_id).await
    }
}

async fn earlier_outcome<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    key: &str,
    stream_id: &str,
) -> Result<Option<AppendOutcome>, StoreError> {
    let row = sqlx::query(
        "select stream_id, first_position, last_position, stream_version \
         from idempotency_keys where key = $1",
    )
    .bind(key)
    .fetch_optional(executor)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let first_stream: String = row.try_get("stream_id")?;
    if first_stream != stream_id {
        return Err(StoreError::IdempotencyKeyReused {
            key: key.to_owned(),
            stream_id: first_stream,
        });
    }
    Ok(Some(AppendOutcome {
        stream_id: first_stream,
        first_position: row.try_get("first_position")?,
        last_position: row.try_get("last_position")?,
        stream_version: row.try_get("stream_version")?,
        deduplicated: true,
    }))
}

async fn remember_outcome(
    tx: &mut Transaction<'_, Postgres>,
    key: &str,
    outcome: &AppendOutcome,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into idempotency_keys (key, stream_id, first_position, last_position, stream_version) \
         values ($1, $2, $3, $4, $5)",
    )
    .bind(key)
    .bind(&outcome.stream_id)
    .bind(outcome.first_position)
    .bind(outcome.last_position)
    .bind(outcome.stream_version)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn stream_version(
    tx: &mut Transaction<'_, Postgres>,
    stream_id: &str,
) -> Result<i64, StoreError> {
    let v: Option<i64> =
        sqlx::query_scalar("select max(stream_version) from events where stream_id = $1")
            .bind(stream_id)
            .fetch_one(&mut **tx)
            .await?;
    Ok(v.unwrap_or(0))
}

async fn head_in(tx: &mut Transaction<'_, Postgres>) -> Result<LogHead, StoreError> {
    let row = sqlx::query("select position, hash from events order by position desc limit 1")
        .fetch_optional(&mut **tx)
        .await?;
    match row {
        None => Ok(LogHead {
            position: 0,
            hash: GENESIS_HASH,
        }),
        Some(row) => {
            let position: i64 = row.try_get("position")?;
            Ok(LogHead {
                position,
                hash: hash32(position, row.try_get("hash")?)?,
            })
        }
    }
}

fn chain_rows(
    head: LogHead,
    stream_id: &str,
    version: i64,
    events: &[NewEvent],
    payloads: Vec<Value>,
    metadata: &Value,
) -> Vec<RecordedEvent> {
    let recorded_at = now_micros();
    let mut prev = head.hash.to_vec();
    let mut rows = Vec::with_capacity(events.len());
    for (i, (event, payload)) in events.iter().zip(payloads).enumerate() {
        let offset = i64::try_from(i).expect("append size is bounded") + 1;
        let mut row = RecordedEvent {
            position: head.position + offset,
            stream_id: stream_id.to_owned(),
            stream_version: version + offset,
            event_id: event.event_id,
            event_type: event.event_type.clone(),
            schema_version: event.schema_version,
            payload,
            metadata: metadata.clone(),
            recorded_at,
            prev_hash: prev.clone(),
            hash: Vec::new(),
        };
        row.hash = chain_hash(&prev, EventFields::from(&row)).to_vec();
        prev.clone_from(&row.hash);
        rows.push(row);
    }
    rows
}

async fn insert_rows(
    tx: &mut Transaction<'_, Postgres>,
    rows: &[RecordedEvent],
) -> Result<(), StoreError> {
    let positions: Vec<i64> = rows.iter().map(|r| r.position).collect();
    let streams: Vec<&str> = rows.iter().map(|r| r.stream_id.as_str()).collect();
    let versions: Vec<i64> = rows.iter().map(|r| r.stream_version).collect();
    let ids: Vec<Uuid> = rows.iter().map(|r| r.event_id).collect();
    let types: Vec<&str> = rows.iter().map(|r| r.event_type.as_str()).collect();
    let schemas: Vec<i32> = rows.iter().map(|r| r.schema_version).collect();
    let payloads: Vec<&Value> = rows.iter().map(|r| &r.payload).collect();
    let metadata: Vec<&Value> = rows.iter().map(|r| &r.metadata).collect();
    let times: Vec<DateTime<Utc>> = rows.iter().map(|r| r.recorded_at).collect();
    let prevs: Vec<&[u8]> = rows.iter().map(|r| r.prev_hash.as_slice()).collect();
    let hashes: Vec<&[u8]> = rows.iter().map(|r| r.hash.as_slice()).collect();
    let result = sqlx::query(
        "insert into events (position, stream_id, stream_version, event_id, event_type, \
           schema_version, payload, metadata, recorded_at, prev_hash, hash) \
         select * from unnest($1::bigint[], $2::text[], $3::bigint[], $4::uuid[], $5::text[], \
           $6::int[], $7::jsonb[], $8::jsonb[], $9::timestamptz[], $10::bytea[], $11::bytea[])",
    )
    .bind(&positions)
    .bind(&streams)
    .bind(&versions)
    .bind(&ids)
    .bind(&types)
    .bind(&schemas)
    .bind(&payloads)
    .bind(&metadata)
    .bind(&times)
    .bind(&prevs)
    .bind(&hashes)
    .execute(&mut **tx)
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(db)) if db.constraint() == Some("events_event_id_key") => Err(
            StoreError::invalid("event_id", "an event with this id is already in the log"),
        ),
        Err(e) => Err(e.into()),
    }
}

fn check_unique_ids(events: &[NewEvent]) -> Result<(), StoreError> {
    let mut seen = std::collections::HashSet::new();
    for (i, e) in events.iter().enumerate() {
        if !seen.insert(e.event_id) {
            return Err(StoreError::invalid(
                format!("events[{i}].event_id"),
                "appears twice in one append",
            ));
        }
    }
    Ok(())
}

fn now_micros() -> DateTime<Utc> {
    let micros = Utc::now().timestamp_micros();
    DateTime::from_timestamp_micros(micros).expect("now is representable")
}

fn hash32(position: i64, bytes: Vec<u8>) -> Result<[u8; 32], StoreError> {
    bytes.try_into().map_err(|_| StoreError::Corrupt {
        position,
        problem: "hash is not 32 bytes".into(),
    })
}

fn log_event(row: &sqlx::postgres::PgRow) -> Result<LogEvent, StoreError> {
    Ok(LogEvent {
        position: row.try_get("position")?,
        stream_id: row.try_get("stream_id")?,
        stream_version: row.try_get("stream_version")?,
        event_type: row.try_get("event_type")?,
        schema_version: row.try_get("schema_version")?,
        payload: row.try_get("payload")?,
        recorded_at: row.try_get("recorded_at")?,
    })
}

pub(crate) fn decode_row(row: &sqlx::postgres::PgRow) -> Result<RecordedEvent, StoreError> {
    Ok(RecordedEvent {
        position: row.try_get("position")?,
        stream_id: row.try_get("stream_id")?,
        stream_version: row.try_get("stream_version")?,
        event_id: row.try_get("event_id")?,
        event_type: row.try_get("event_type")?,
        schema_version: row.try_get("schema_version")?,
        payload: row.try_get("payload")?,
        metadata: row.try_get("metadata")?,
        recorded_at: row.try_get("recorded_at")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}
