//! The notifier: reads the log like a projection and writes the messages
//! its events call for (`domain::notify`) to the outbox, in the same
//! transaction as its checkpoint. The checkpoint row is locked for the
//! batch, so two instances never decide the same events at once, and a
//! crash before the commit leaves both outbox and checkpoint as they were.
//! Each message's key is made of facts and is the outbox's primary key:
//! deciding the same events again (after a crash, or by a second instance)
//! adds nothing. Rebuilding the read models does not touch the outbox or
//! this checkpoint, so it never re-sends anything.
//!
//! Webhook endpoints are kept here too (`crate::webhooks`): their events
//! update `notifications.webhook_endpoints`, and each public fact writes a
//! delivery per endpoint that asked for it, in the same transaction.
//! The senders (`crate::mailer`, `crate::webhooks`) read what this writes.

use std::collections::HashMap;
use std::time::Duration;

use domain::codec;
use domain::notify::{self, Message};
use domain::registration::{Registration, RegistrationEvent, EVENT_SCHEMA_VERSION};
use event_store::{EventStore, RecordedEvent, Wake};
use sqlx::PgPool;
use tokio::sync::watch;

use crate::commands::HandleError;

/// Most events one batch decides.
const BATCH: i64 = 1_000;

/// What one batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NotifierBatch {
    /// Events read.
    pub events: usize,
    /// Messages added to the outbox (those already there are not counted).
    pub queued: u64,
    /// Webhook deliveries added.
    pub deliveries: u64,
    /// The checkpoint after it.
    pub position: i64,
}

fn actor_of(e: &RecordedEvent) -> String {
    e.metadata["actor"]["subject"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Add messages to the outbox (each with the log position it answers, if
/// any); a key already there is left alone. Returns how many were new.
pub(crate) async fn queue(
    tx: &mut sqlx::PgConnection,
    messages: &[(Message, i64)],
) -> Result<u64, sqlx::Error> {
    if messages.is_empty() {
        return Ok(0);
    }
    let keys: Vec<String> = messages.iter().map(|(m, _)| m.key.clone()).collect();
    let kinds: Vec<String> = messages.iter().map(|(m, _)| m.kind.name()).collect();
    let recipients: Vec<String> = messages.iter().map(|(m, _)| m.recipient.key()).collect();
    let about: Vec<uuid::Uuid> = messages.iter().map(|(m, _)| m.about).collect();
    let positions: Vec<Option<i64>> = messages
        .iter()
        .map(|(_, p)| (*p > 0).then_some(*p))
        .collect();
    Ok(sqlx::query(
        "insert into notifications.outbox (key, kind, recipient, about, position) \
         select * from unnest($1::text[], $2::text[], $3::text[], $4::uuid[], $5::bigint[]) \
         on conflict (key) do nothing",
    )
    .bind(&keys)
    .bind(&kinds)
    .bind(&recipients)
    .bind(&about)
    .bind(&positions)
    .execute(&mut *tx)
    .await?
    .rows_affected())
}

/// Decide one batch: the events after the checkpoint, their messages into
/// the outbox, the checkpoint moved, all in one transaction.
pub async fn run_batch(pool: &PgPool, store: &EventStore) -> Result<NotifierBatch, HandleError> {
    let mut tx = pool.begin().await?;
    let after: i64 =
        sqlx::query_scalar("select position from notifications.checkpoint where id = 1 for update")
            .fetch_one(&mut *tx)
            .await?;
    let events = store.read_all(after, BATCH).await?;
    let Some(last) = events.last().map(|e| e.position) else {
        tx.rollback().await?;
        return Ok(NotifierBatch {
            position: after,
            ..NotifierBatch::default()
        });
    };
    // Each registration the batch touches, folded up to its first event in
    // the batch; then advanced event by event.
    let prefix = domain::streams::REGISTRATION;
    let mut first_in_batch: HashMap<&str, i64> = HashMap::new();
    for e in events.iter().filter(|e| e.stream_id.starts_with(prefix)) {
        first_in_batch
            .entry(e.stream_id.as_str())
            .or_insert(e.position);
    }
    let upto: Vec<(String, i64)> = first_in_batch
        .iter()
        .map(|(s, p)| ((*s).to_owned(), p - 1))
        .collect();
    let mut states: HashMap<String, Option<Registration>> = HashMap::new();
    for e in store.read_streams_upto(&upto).await? {
        let state = states.entry(e.stream_id.clone()).or_default();
        *state = crate::commands::apply_event(state.take(), &e)?;
    }
    let mut messages: Vec<(Message, i64)> = Vec::new();
    let mut endpoints = crate::webhooks::Endpoints::load(&mut tx).await?;
    let mut deliveries = Vec::new();
    for e in &events {
        if let domain::streams::Stream::Webhook(endpoint) = domain::streams::parse(&e.stream_id) {
            let event = codec::decode::<domain::webhook::WebhookEvent>(
                &e.event_type,
                e.schema_version,
                &e.payload,
                domain::webhook::EVENT_SCHEMA_VERSION,
            )?;
            if let Some(disabled) = endpoints
                .apply(&mut tx, endpoint, &event, e.position, e.recorded_at)
                .await?
            {
                messages.push((
                    notify::on_webhook_disabled(disabled.endpoint, e.position),
                    e.position,
                ));
            }
        } else if e.stream_id.starts_with(notify::PREFERENCE_STREAM_PREFIX) {
            let notify::PreferenceEvent::NotificationPreferenceSet { subject, delivery } =
                codec::decode::<notify::PreferenceEvent>(
                    &e.event_type,
                    e.schema_version,
                    &e.payload,
                    1,
                )?;
            sqlx::query(
                "insert into notifications.preferences (subject, delivery, updated_at) values ($1, $2, $3) \
                 on conflict (subject) do update set delivery = excluded.delivery, updated_at = excluded.updated_at",
            )
            .bind(&subject)
            .bind(delivery.code())
            .bind(e.recorded_at)
            .execute(&mut *tx)
            .await?;
        } else if e.stream_id.starts_with(prefix) {
            let event = codec::decode::<RegistrationEvent>(
                &e.event_type,
                e.schema_version,
                &e.payload,
                EVENT_SCHEMA_VERSION,
            )?;
            let state = states.entry(e.stream_id.clone()).or_default();
            let before = state.clone();
            let Some(after) = Registration::apply(state.take(), &event) else {
                continue;
            };
            messages.extend(
                notify::on_event(before.as_ref(), &after, &event, &actor_of(e), e.position)
                    .into_iter()
                    .map(|m| (m, e.position)),
            );
            if let Some(kind) = domain::webhook::fact_of(before.as_ref(), &after, &event) {
                endpoints
                    .deliveries(
                        &mut tx,
                        kind,
                        e.position,
                        e.recorded_at,
                        before.as_ref(),
                        &after,
                        &mut deliveries,
                    )
                    .await?;
            }
            *state = Some(after);
        } else if let Some(report) = e
            .stream_id
            .strip_prefix(domain::streams::REPORT)
            .filter(|_| e.event_type == "FakeAccountReported")
            .and_then(|id| uuid::Uuid::parse_str(id).ok())
        {
            messages.push((notify::on_fake_report(report, e.position), e.position));
        }
    }
    let queued = queue(&mut tx, &messages).await?;
    let delivered = crate::webhooks::insert_deliveries(&mut tx, &deliveries).await?;
    sqlx::query(
        "update notifications.checkpoint set position = $1, updated_at = now() where id = 1",
    )
    .bind(last)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if queued > 0 {
        metrics::counter!("notifications_queued_total").increment(queued);
    }
    if delivered > 0 {
        metrics::counter!("webhook_deliveries_queued_total").increment(delivered);
    }
    Ok(NotifierBatch {
        events: events.len(),
        queued,
        deliveries: delivered,
        position: last,
    })
}

/// The running notifier.
pub type NotifierHandle = crate::background::Stoppable;

/// Run the notifier in the background: a batch whenever the log moves (or
/// every `idle_poll`), retrying with backoff when the database fails. Each
/// batch that added something bumps `outbox`, so this process's senders
/// look at once (another instance's look at their next poll).
pub fn spawn(
    pool: PgPool,
    store: EventStore,
    wake: Wake,
    idle_poll: Duration,
    outbox: watch::Sender<u64>,
) -> NotifierHandle {
    crate::background::follow_log("notifier", wake, idle_poll, move || {
        let (pool, store, outbox) = (pool.clone(), store.clone(), outbox.clone());
        async move {
            let batch = run_batch(&pool, &store).await?;
            if batch.queued + batch.deliveries > 0 {
                outbox.send_modify(|n| *n += 1);
            }
            Ok::<_, HandleError>(batch.events)
        }
    })
}

/// What waits to be sent, for the metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutboxFigures {
    /// Email messages not yet sent (nor skipped).
    pub mail_depth: i64,
    /// Age in seconds of the oldest of them.
    pub mail_oldest_seconds: f64,
    /// Webhook deliveries not yet accepted (nor dead).
    pub webhook_depth: i64,
    /// Age in seconds of the oldest of them.
    pub webhook_oldest_seconds: f64,
    /// Webhook dead letters.
    pub webhook_dead: i64,
}

/// Read the outbox's figures.
pub async fn outbox_figures(pool: &PgPool) -> Result<OutboxFigures, sqlx::Error> {
    let (mail_depth, mail_oldest_seconds): (i64, Option<f64>) = sqlx::query_as(
        "select count(*), extract(epoch from now() - min(created_at))::float8 \
         from notifications.outbox where sent_at is null",
    )
    .fetch_one(pool)
    .await?;
    let (webhook_depth, webhook_oldest_seconds, webhook_dead): (i64, Option<f64>, i64) =
        sqlx::query_as(
            "select count(*) filter (where delivered_at is null and dead_at is null), \
                    extract(epoch from now() - min(created_at) filter (where delivered_at is null and dead_at is null))::float8, \
                    count(*) filter (where dead_at is not null) \
             from notifications.webhook_deliveries",
        )
        .fetch_one(pool)
        .await?;
    Ok(OutboxFigures {
        mail_depth,
        mail_oldest_seconds: mail_oldest_seconds.unwrap_or(0.0).max(0.0),
        webhook_depth,
        webhook_oldest_seconds: webhook_oldest_seconds.unwrap_or(0.0).max(0.0),
        webhook_dead,
    })
}
