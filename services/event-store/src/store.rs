use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgPool, Row};
use tracing::instrument;

use std::sync::{Arc, OnceLock};

use crate::canonical::GENESIS_HASH;
use crate::error::StoreError;
use crate::model::{AppendOutcome, ExpectedVersion, LogEvent, LogHead, NewEvent, RecordedEvent};
use crate::validate::{self, Limits};
use crate::vault::VaultChange;
use crate::writer::{Append, Part, Writer};

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

/// One append, as [`EventStore::append_together`] takes it (what
/// [`EventStore::append_sealed`] takes as arguments).
#[derive(Debug, Clone, Copy)]
pub struct Appending<'a> {
    /// The streams and their events.
    pub batches: &'a [StreamAppend<'a>],
    /// Who, when, why.
    pub metadata: &'a Value,
    /// The client's retry key, recorded against the first stream.
    pub idempotency_key: Option<&'a str>,
    /// Vault keys made while sealing, or an erasure.
    pub vault_changes: &'a [VaultChange],
}

/// The event store: a pool and the limits it enforces.
#[derive(Debug, Clone)]
pub struct EventStore {
    pool: PgPool,
    limits: Limits,
    /// Commits the appends of every clone of this store, in groups.
    writer: Arc<OnceLock<Writer>>,
}

impl EventStore {
    /// A store over `pool` with the default limits.
    pub fn new(pool: PgPool) -> Self {
        Self::with_limits(pool, Limits::default())
    }

    /// A store over `pool` with the given limits.
    pub fn with_limits(pool: PgPool, limits: Limits) -> Self {
        EventStore {
            pool,
            limits,
            writer: Arc::new(OnceLock::new()),
        }
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
        let append = self
            .prepare(&Appending {
                batches,
                metadata,
                idempotency_key,
                vault_changes,
            })
            .await?;
        let outcome = self.writer().append(append).await?;
        tracing::Span::current().record("position.last", outcome.last_position);
        Ok(outcome)
    }

    /// Several appends committed in one transaction (with whatever other
    /// appends wait), each decided as if alone and in order: one that
    /// conflicts fails by itself, the others commit. Each outcome in the
    /// order given.
    pub async fn append_together(
        &self,
        appends: &[Appending<'_>],
    ) -> Vec<Result<AppendOutcome, StoreError>> {
        let mut prepared = Vec::with_capacity(appends.len());
        let mut refused = Vec::with_capacity(appends.len());
        for a in appends {
            match self.prepare(a).await {
                Ok(append) => {
                    prepared.push(append);
                    refused.push(None);
                }
                Err(e) => refused.push(Some(e)),
            }
        }
        let mut outcomes = self.writer().append_together(prepared).await.into_iter();
        refused
            .into_iter()
            .map(|r| match r {
                Some(e) => Err(e),
                None => outcomes.next().unwrap_or(Err(StoreError::WriterStopped)),
            })
            .collect()
    }

    /// Check an append and put its JSON as PostgreSQL's `jsonb` will return
    /// it (the hash covers exactly what a later read re-encodes), before it
    /// goes to the writer.
    async fn prepare(&self, a: &Appending<'_>) -> Result<Append, StoreError> {
        let Appending {
            batches,
            metadata,
            idempotency_key,
            vault_changes,
        } = *a;
        if batches.is_empty() {
            return Err(StoreError::invalid(
                "events",
                "at least one event is required",
            ));
        }
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
        let all: Vec<&NewEvent> = batches.iter().flat_map(|b| b.events.iter()).collect();
        check_unique_ids(&all)?;
        let mut values: Vec<Value> = all.iter().map(|e| e.payload.clone()).collect();
        values.push(metadata.clone());
        let mut values = self.as_stored(values).await?;
        let metadata = values.pop().expect("metadata was pushed last");
        let mut values = values.into_iter();
        let parts = batches
            .iter()
            .map(|b| Part {
                stream_id: b.stream_id.to_owned(),
                expected: b.expected,
                events: b
                    .events
                    .iter()
                    .map(|e| NewEvent {
                        payload: values.next().expect("one value per event"),
                        ..e.clone()
                    })
                    .collect(),
            })
            .collect();
        Ok(Append {
            parts,
            metadata,
            idempotency_key: idempotency_key.map(str::to_owned),
            vault_changes: vault_changes.to_vec(),
        })
    }

    /// The store's writer, started on first use.
    fn writer(&self) -> &Writer {
        self.writer.get_or_init(|| Writer::spawn(self.pool.clone()))
    }

    /// `values` as PostgreSQL's `jsonb` returns them. Values without
    /// fractional or exponent numbers come back unchanged (strings, keys,
    /// integers and their order are kept; canonical JSON sorts keys; NUL
    /// characters were refused by the limits), so only values holding such
    /// numbers make the round trip.
    async fn as_stored(&self, values: Vec<Value>) -> Result<Vec<Value>, StoreError> {
        let unchanged = !values.iter().any(holds_float);
        if unchanged {
            return Ok(values);
        }
        Ok(sqlx::query_scalar(
            "select v from unnest($1::jsonb[]) with ordinality as t(v, i) order by i",
        )
        .bind(&values)
        .fetch_all(&self.pool)
        .await?)
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

    /// The events of each stream after the version given for it, ordered
    /// by position: what a reader that knows those versions has not seen.
    /// Each stream is one range of its `(stream_id, stream_version)` index,
    /// so the cost does not grow with the log (a bound on the position
    /// would make PostgreSQL scan every later position).
    pub async fn read_streams_since(
        &self,
        streams: &[(&str, i64)],
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let (ids, versions): (Vec<&str>, Vec<i64>) = streams.iter().copied().unzip();
        let sql = format!(
            "{SELECT_EVENT} join unnest($1::text[], $2::bigint[]) as known(known_stream, known_version) \
               on known.known_stream = events.stream_id and events.stream_version > known.known_version \
             order by position"
        );
        let rows = sqlx::query(&sql)
            .bind(ids)
            .bind(versions)
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

fn check_unique_ids(events: &[&NewEvent]) -> Result<(), StoreError> {
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

/// Whether a value holds a number with a fraction or an exponent (jsonb
/// keeps numerics, not floats, so it may print one differently).
fn holds_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(items) => items.iter().any(holds_float),
        Value::Object(map) => map.values().any(holds_float),
        Value::Null | Value::Bool(_) | Value::String(_) => false,
    }
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
