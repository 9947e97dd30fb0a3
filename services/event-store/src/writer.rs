//! Group commit: one writer task per store gathers the appends waiting for
//! it and commits them in one transaction, so concurrent commands share one
//! commit (one fsync) instead of queueing for one each.
//!
//! A group runs under the append lock (a transaction-scoped advisory lock:
//! groups from every instance against the database still take turns, so
//! positions stay gap-free and in commit order), in four round trips:
//!
//! 1. take the lock (and raise `synchronous_commit` to at least `on`);
//! 2. read, in one statement, the log head, the versions of every stream
//!    the group appends to, the idempotency keys and event ids it uses and
//!    the vault's state for the people whose keys it stores or erases;
//! 3. decide each append in order, in memory, as if alone: a conflicting
//!    append (or a reused key, an erased person…) fails by itself, the
//!    others go on; then write, in one statement, every vault change, event
//!    row and idempotency record of the appends that go ahead, and notify;
//! 4. commit. Every append of the group is acknowledged only now.
//!
//! Waiting appends are taken as they are when the writer is free: a lone
//! append is committed at once, and under load groups grow by themselves.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;
use uuid::Uuid;

use crate::canonical::{chain_hash, EventFields, GENESIS_HASH};
use crate::db::{APPEND_LOCK, NOTIFY_CHANNEL};
use crate::error::StoreError;
use crate::model::{AppendOutcome, ExpectedVersion, LogHead, NewEvent, RecordedEvent};
use crate::vault::{VaultChange, VaultError};

/// Most appends in one group.
const MAX_GROUP: usize = 256;
/// Most events in one group (an append holds at most 1,000).
const MAX_GROUP_EVENTS: usize = 5_000;
/// Appends waiting for the writer before callers wait to hand theirs over.
const QUEUE: usize = 1_024;

/// One stream's part of an append, owned.
#[derive(Debug)]
pub(crate) struct Part {
    pub stream_id: String,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
}

/// One command's append, checked and with its JSON as stored.
#[derive(Debug)]
pub(crate) struct Append {
    pub parts: Vec<Part>,
    pub metadata: Value,
    pub idempotency_key: Option<String>,
    pub vault_changes: Vec<VaultChange>,
}

impl Append {
    fn events(&self) -> usize {
        self.parts.iter().map(|p| p.events.len()).sum()
    }
}

/// Appends handed over together: always committed in the same group.
struct Job {
    appends: Vec<Append>,
    reply: oneshot::Sender<Vec<Result<AppendOutcome, StoreError>>>,
}

impl Job {
    fn events(&self) -> usize {
        self.appends.iter().map(Append::events).sum()
    }
}

/// The handle appends are sent through.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Start a writer over `pool` (in the current runtime).
    pub(crate) fn spawn(pool: PgPool) -> Writer {
        let (jobs, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, rx));
        Writer { jobs }
    }

    /// Append, with the appends waiting at the same time; the outcome once
    /// its group has committed.
    pub(crate) async fn append(&self, append: Append) -> Result<AppendOutcome, StoreError> {
        self.append_together(vec![append])
            .await
            .pop()
            .unwrap_or(Err(StoreError::WriterStopped))
    }

    /// Append all of `appends` in one group (with whatever else waits), in
    /// order, each with its own outcome.
    pub(crate) async fn append_together(
        &self,
        appends: Vec<Append>,
    ) -> Vec<Result<AppendOutcome, StoreError>> {
        let count = appends.len();
        let stopped = || (0..count).map(|_| Err(StoreError::WriterStopped)).collect();
        let (reply, outcomes) = oneshot::channel();
        if self.jobs.send(Job { appends, reply }).await.is_err() {
            return stopped();
        }
        outcomes.await.unwrap_or_else(|_| stopped())
    }
}

async fn run(pool: PgPool, mut jobs: mpsc::Receiver<Job>) {
    while let Some(first) = jobs.recv().await {
        let mut events = first.events();
        let mut count = first.appends.len();
        let mut group = vec![first];
        // What else waits, up to the group's bounds (a job is never split).
        while count < MAX_GROUP && events < MAX_GROUP_EVENTS {
            match jobs.try_recv() {
                Ok(job) => {
                    events += job.events();
                    count += job.appends.len();
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        let appends: Vec<&Append> = group.iter().flat_map(|j| &j.appends).collect();
        let results = commit(&pool, &appends)
            .instrument(tracing::debug_span!(
                "event_store.group",
                appends = count,
                events
            ))
            .await;
        metrics::histogram!("event_store_group_appends").record(count as f64);
        let mut results: Box<dyn Iterator<Item = Result<AppendOutcome, StoreError>>> = match results
        {
            Ok(results) => Box::new(results.into_iter()),
            Err(error) => {
                // Nothing of the group was written; every append says so.
                let transient = error.is_transient();
                let message = error.to_string();
                tracing::warn!(%error, appends = count, "a group of appends failed");
                Box::new((0..count).map(move |_| {
                    Err(StoreError::GroupFailed {
                        message: message.clone(),
                        transient,
                    })
                }))
            }
        };
        for job in group {
            let outcomes: Vec<_> = results.by_ref().take(job.appends.len()).collect();
            let _ = job.reply.send(outcomes);
        }
    }
}

/// What the log and the vault hold of what a group touches.
#[derive(Debug, Deserialize)]
struct Current {
    head_position: Option<i64>,
    head_hash: Option<String>,
    versions: HashMap<String, i64>,
    keys: Vec<StoredKey>,
    event_ids: Vec<Uuid>,
    vault_keys: Vec<Uuid>,
    erased: Vec<Uuid>,
}

#[derive(Debug, Deserialize)]
struct StoredKey {
    key: String,
    stream_id: String,
    first_position: i64,
    last_position: i64,
    stream_version: i64,
}

/// The rows a group writes.
#[derive(Default)]
struct Writes {
    rows: Vec<RecordedEvent>,
    keys: Vec<(String, AppendOutcome)>,
    vault_added: Vec<(Uuid, Vec<u8>)>,
    vault_erased: Vec<Uuid>,
}

/// Commit a group: each append's own outcome, or an error for the whole
/// group when the database failed (then nothing was written).
async fn commit(
    pool: &PgPool,
    group: &[&Append],
) -> Result<Vec<Result<AppendOutcome, StoreError>>, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query(&format!(
        "select {}, pg_advisory_xact_lock($1)",
        crate::db::DURABLE_COMMIT_SETTING
    ))
    .bind(APPEND_LOCK)
    .execute(&mut *tx)
    .await?;
    let current = read_current(&mut tx, group).await?;
    let mut state = State::new(current)?;
    let mut writes = Writes::default();
    let results: Vec<Result<AppendOutcome, StoreError>> = group
        .iter()
        .map(|append| state.decide(append, &mut writes))
        .collect();
    if !writes.rows.is_empty() {
        write(&mut tx, &writes).await?;
    }
    tx.commit().await?;
    Ok(results)
}

async fn read_current(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    group: &[&Append],
) -> Result<Current, StoreError> {
    let mut streams: Vec<&str> = Vec::new();
    let mut keys: Vec<&str> = Vec::new();
    let mut ids: Vec<Uuid> = Vec::new();
    let mut people: Vec<Uuid> = Vec::new();
    for append in group {
        for part in &append.parts {
            streams.push(&part.stream_id);
            ids.extend(part.events.iter().map(|e| e.event_id));
        }
        keys.extend(append.idempotency_key.as_deref());
        people.extend(append.vault_changes.iter().map(|c| match c {
            VaultChange::Add(k) => k.person,
            VaultChange::Erase(p) => *p,
        }));
    }
    streams.sort_unstable();
    streams.dedup();
    let json: Value = sqlx::query_scalar(
        "select jsonb_build_object(
           'head_position', (select position from events order by position desc limit 1),
           'head_hash', (select encode(hash, 'hex') from events order by position desc limit 1),
           'versions', coalesce((select jsonb_object_agg(s.id, v.version) from unnest($1::text[]) s(id)
               cross join lateral (select coalesce(max(stream_version), 0) as version from events e
                 where e.stream_id = s.id) v), '{}'::jsonb),
           'keys', coalesce((select jsonb_agg(jsonb_build_object('key', k.key, 'stream_id', k.stream_id,
               'first_position', k.first_position, 'last_position', k.last_position,
               'stream_version', k.stream_version)) from idempotency_keys k where k.key = any($2)), '[]'::jsonb),
           'event_ids', coalesce((select jsonb_agg(event_id) from events where event_id = any($3)), '[]'::jsonb),
           'vault_keys', coalesce((select jsonb_agg(person_id) from vault_keys where person_id = any($4)), '[]'::jsonb),
           'erased', coalesce((select jsonb_agg(person_id) from vault_erasures where person_id = any($4)), '[]'::jsonb))",
    )
    .bind(&streams)
    .bind(&keys)
    .bind(&ids)
    .bind(&people)
    .fetch_one(&mut **tx)
    .await?;
    serde_json::from_value(json).map_err(|e| StoreError::Corrupt {
        position: 0,
        problem: format!("the group's read of the log could not be decoded: {e}"),
    })
}

/// The log and vault as the group leaves them so far, decided in order.
struct State {
    head: LogHead,
    versions: HashMap<String, i64>,
    keys: HashMap<String, (String, AppendOutcome)>,
    event_ids: HashSet<Uuid>,
    vault_keys: HashSet<Uuid>,
    erased: HashSet<Uuid>,
}

impl State {
    fn new(current: Current) -> Result<State, StoreError> {
        let head = match (current.head_position, current.head_hash) {
            (Some(position), Some(hash)) => {
                let bytes = hex::decode(&hash).map_err(|_| StoreError::Corrupt {
                    position,
                    problem: "hash is not hex".into(),
                })?;
                LogHead {
                    position,
                    hash: bytes.try_into().map_err(|_| StoreError::Corrupt {
                        position,
                        problem: "hash is not 32 bytes".into(),
                    })?,
                }
            }
            _ => LogHead {
                position: 0,
                hash: GENESIS_HASH,
            },
        };
        Ok(State {
            head,
            versions: current.versions,
            keys: current
                .keys
                .into_iter()
                .map(|k| {
                    let outcome = AppendOutcome {
                        stream_id: k.stream_id.clone(),
                        first_position: k.first_position,
                        last_position: k.last_position,
                        stream_version: k.stream_version,
                        deduplicated: true,
                    };
                    (k.key, (k.stream_id, outcome))
                })
                .collect(),
            event_ids: current.event_ids.into_iter().collect(),
            vault_keys: current.vault_keys.into_iter().collect(),
            erased: current.erased.into_iter().collect(),
        })
    }

    /// Decide one append against the log as the appends before it in the
    /// group leave it; if it goes ahead, add its rows to `writes`.
    fn decide(
        &mut self,
        append: &Append,
        writes: &mut Writes,
    ) -> Result<AppendOutcome, StoreError> {
        let primary = &append.parts[0];
        if let Some(key) = &append.idempotency_key {
            if let Some((stream_id, outcome)) = self.keys.get(key) {
                if *stream_id != primary.stream_id {
                    return Err(StoreError::IdempotencyKeyReused {
                        key: key.clone(),
                        stream_id: stream_id.clone(),
                    });
                }
                let mut outcome = outcome.clone();
                outcome.deduplicated = true;
                return Ok(outcome);
            }
        }
        for part in &append.parts {
            if part
                .events
                .iter()
                .any(|e| self.event_ids.contains(&e.event_id))
            {
                return Err(StoreError::invalid(
                    "event_id",
                    "an event with this id is already in the log",
                ));
            }
            let actual = self.versions.get(&part.stream_id).copied().unwrap_or(0);
            if !part.expected.admits(actual) {
                return Err(StoreError::Conflict {
                    stream_id: part.stream_id.clone(),
                    expected: part.expected.to_string(),
                    actual,
                });
            }
        }
        let mut adding = HashSet::new();
        for change in &append.vault_changes {
            if let VaultChange::Add(key) = change {
                if self.erased.contains(&key.person) {
                    return Err(VaultError::PersonErased(key.person).into());
                }
                if self.vault_keys.contains(&key.person) || !adding.insert(key.person) {
                    return Err(VaultError::KeyMadeConcurrently(key.person).into());
                }
            }
        }
        // It goes ahead.
        let recorded_at = now_micros();
        let first_position = self.head.position + 1;
        let mut primary_version = 0;
        for (i, part) in append.parts.iter().enumerate() {
            let version = self.versions.get(&part.stream_id).copied().unwrap_or(0);
            let rows = chain_rows(&self.head, part, version, &append.metadata, recorded_at);
            let last = rows.last().expect("parts are not empty");
            self.head = LogHead {
                position: last.position,
                hash: last.hash.clone().try_into().expect("a SHA-256 hash"),
            };
            self.versions
                .insert(part.stream_id.clone(), last.stream_version);
            if i == 0 {
                primary_version = last.stream_version;
            }
            self.event_ids.extend(rows.iter().map(|r| r.event_id));
            writes.rows.extend(rows);
        }
        for change in &append.vault_changes {
            match change {
                VaultChange::Add(key) => {
                    self.vault_keys.insert(key.person);
                    writes.vault_added.push((key.person, key.wrapped.clone()));
                }
                VaultChange::Erase(person) => {
                    self.vault_keys.remove(person);
                    self.erased.insert(*person);
                    writes.vault_erased.push(*person);
                }
            }
        }
        let outcome = AppendOutcome {
            stream_id: primary.stream_id.clone(),
            first_position,
            last_position: self.head.position,
            stream_version: primary_version,
            deduplicated: false,
        };
        if let Some(key) = &append.idempotency_key {
            self.keys
                .insert(key.clone(), (primary.stream_id.clone(), outcome.clone()));
            writes.keys.push((key.clone(), outcome.clone()));
        }
        Ok(outcome)
    }
}

fn chain_rows(
    head: &LogHead,
    part: &Part,
    version: i64,
    metadata: &Value,
    recorded_at: DateTime<Utc>,
) -> Vec<RecordedEvent> {
    let mut prev = head.hash.to_vec();
    let mut rows = Vec::with_capacity(part.events.len());
    for (i, event) in part.events.iter().enumerate() {
        let offset = i64::try_from(i).expect("append size is bounded") + 1;
        let mut row = RecordedEvent {
            position: head.position + offset,
            stream_id: part.stream_id.clone(),
            stream_version: version + offset,
            event_id: event.event_id,
            event_type: event.event_type.clone(),
            schema_version: event.schema_version,
            payload: event.payload.clone(),
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

/// Every vault change, event row and idempotency record of a group, and
/// its notification, in one statement.
async fn write(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    w: &Writes,
) -> Result<(), StoreError> {
    let rows = &w.rows;
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
    let key_names: Vec<&str> = w.keys.iter().map(|(k, _)| k.as_str()).collect();
    let key_streams: Vec<&str> = w.keys.iter().map(|(_, o)| o.stream_id.as_str()).collect();
    let key_first: Vec<i64> = w.keys.iter().map(|(_, o)| o.first_position).collect();
    let key_last: Vec<i64> = w.keys.iter().map(|(_, o)| o.last_position).collect();
    let key_versions: Vec<i64> = w.keys.iter().map(|(_, o)| o.stream_version).collect();
    let added: Vec<Uuid> = w.vault_added.iter().map(|(p, _)| *p).collect();
    let wrapped: Vec<&[u8]> = w.vault_added.iter().map(|(_, k)| k.as_slice()).collect();
    let last = positions.last().copied().unwrap_or(0);
    sqlx::query(
        "with added as (
           insert into vault_keys (person_id, wrapped_key) select * from unnest($12::uuid[], $13::bytea[])
         ), removed as (
           delete from vault_keys where person_id = any($14)
         ), erased as (
           insert into vault_erasures (person_id) select unnest($14::uuid[]) on conflict do nothing
         ), appended as (
           insert into events (position, stream_id, stream_version, event_id, event_type,
             schema_version, payload, metadata, recorded_at, prev_hash, hash)
           select * from unnest($1::bigint[], $2::text[], $3::bigint[], $4::uuid[], $5::text[],
             $6::int[], $7::jsonb[], $8::jsonb[], $9::timestamptz[], $10::bytea[], $11::bytea[])
         ), remembered as (
           insert into idempotency_keys (key, stream_id, first_position, last_position, stream_version)
           select * from unnest($15::text[], $16::text[], $17::bigint[], $18::bigint[], $19::bigint[])
         )
         select pg_notify($20, $21)",
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
    .bind(&added)
    .bind(&wrapped)
    .bind(&w.vault_erased)
    .bind(&key_names)
    .bind(&key_streams)
    .bind(&key_first)
    .bind(&key_last)
    .bind(&key_versions)
    .bind(NOTIFY_CHANNEL)
    .bind(last.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn now_micros() -> DateTime<Utc> {
    let micros = Utc::now().timestamp_micros();
    DateTime::from_timestamp_micros(micros).expect("now is representable")
}
