//! Webhooks: the public facts of the log, delivered to the endpoints other
//! systems registered, signed in the Standard Webhooks scheme.
//!
//! - The notifier (`notifier.rs`) keeps `notifications.webhook_endpoints`
//!   from the endpoints' events and writes a delivery per public fact and
//!   endpoint ([`Endpoints::deliveries`]), in the same transaction as its
//!   checkpoint. A delivery's id is derived from the endpoint and the
//!   event's position: deciding again adds nothing.
//! - The sender ([`send_due`]) POSTs each due delivery with the headers
//!   `webhook-id` (the delivery's id, the same on every attempt and replay,
//!   for the receiver to drop repeats), `webhook-timestamp` (Unix seconds
//!   of this attempt) and `webhook-signature` (`v1,` and the base64
//!   HMAC-SHA256 of `id.timestamp.body` under the endpoint's secret). Any
//!   2xx is success; anything else, a timeout or no connection is retried
//!   with exponential backoff until the retry window (24 h) is over, when
//!   the delivery becomes a dead letter with its last response. An
//!   endpoint that has failed continuously for the disable period is
//!   disabled (an event, by `system:webhooks`), and admins are told.
//!
//! The payload holds only what the open-data feeds publish: the account,
//! its platform, level and service, its officer page's path and the dates.
//! Never a name, an address or a free-text reason.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::background::Stoppable;
use base64::Engine;
use chrono::{DateTime, Utc};
use domain::registration::{Registration, Status};
use domain::webhook::{self, WebhookEvent, WebhookKind};
use domain::{Actor, Role};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use sqlx::{PgConnection, PgPool, Row};
use tokio::sync::watch;
use uuid::Uuid;

use crate::commands::{HandleError, Handler, RequestMeta, WebhookRequest};

/// The namespace of delivery ids.
const DELIVERY_NAMESPACE: Uuid = Uuid::from_u128(0x7765_6268_6f6f_6b2d_6465_6c69_7665_7279);

/// The id of the delivery of the fact at `position` to `endpoint`.
pub fn delivery_id(endpoint: Uuid, position: i64) -> Uuid {
    Uuid::new_v5(
        &DELIVERY_NAMESPACE,
        format!("{endpoint}/{position}").as_bytes(),
    )
}

/// The Standard Webhooks signature of `body` (`v1,<base64>`), or `None`
/// when the secret is not `whsec_<base64>`.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64.decode(secret.strip_prefix("whsec_")?).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Some(format!("v1,{}", b64.encode(mac.finalize().into_bytes())))
}

/// The body of a delivery: the kind, the log position, when it happened,
/// and the account's public facts.
pub fn payload(
    kind: WebhookKind,
    position: i64,
    at: DateTime<Utc>,
    before: Option<&Registration>,
    after: &Registration,
    service_name: Option<&str>,
) -> String {
    let r = after;
    let officer_page = match &r.form.details {
        domain::form::LevelDetails::Participate { officer, .. } => Some(format!(
            "/officers/{}",
            projections::officer_slug(officer.name.person)
        )),
        _ => None,
    };
    let renamed_from = before
        .filter(|b| b.account_key != r.account_key)
        .map(|b| json!({ "accountKey": b.account_key.to_string(), "url": b.account_key.url() }));
    let level = r.level();
    let status = match r.status {
        Status::Published => "published",
        Status::Withdrawn => "withdrawn",
        _ => "other",
    };
    let body = json!({
        "type": kind.code(),
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "position": position,
        "data": {
            "registrationId": r.id,
            "status": status,
            "platform": r.account_key.platform.code(),
            "platformName": r.account_key.platform.display_name(),
            "accountKey": r.account_key.to_string(),
            "url": r.account_key.url(),
            "level": level.number(),
            "levelName": level.name(),
            "serviceArea": r.form.service_area,
            "serviceName": service_name,
            "officerPage": officer_page,
            "verifyPage": format!("/verify?platform={}&account={}", r.account_key.platform.code(), r.account_key.handle),
            "publishedAt": r.published.as_ref().map(|p| p.at),
            "lastConfirmedAt": r.last_validated.as_ref().map(|p| p.at),
            "withdrawnAt": r.withdrawal.as_ref().map(|(_, s)| s.at),
            "renamedFrom": renamed_from,
        },
    });
    body.to_string()
}

/// One endpoint as the notifier knows it.
#[derive(Debug, Clone)]
struct Known {
    kinds: Vec<WebhookKind>,
    enabled: bool,
    registered_position: i64,
}

/// The endpoints, as the notifier keeps them while it decides a batch.
#[derive(Debug, Default)]
pub(crate) struct Endpoints {
    known: HashMap<Uuid, Known>,
    services: Option<HashMap<String, String>>,
}

/// A message for the admins, decided from an endpoint's events.
pub(crate) struct Disabled {
    pub endpoint: Uuid,
}

impl Endpoints {
    /// The endpoints as the table holds them.
    pub(crate) async fn load(tx: &mut PgConnection) -> Result<Self, sqlx::Error> {
        let rows = sqlx::query(
            "select id, kinds, enabled, registered_position from notifications.webhook_endpoints",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut known = HashMap::new();
        for row in rows {
            let kinds: Vec<String> = row.try_get("kinds")?;
            known.insert(
                row.try_get("id")?,
                Known {
                    kinds: kinds
                        .iter()
                        .filter_map(|k| WebhookKind::from_code(k))
                        .collect(),
                    enabled: row.try_get("enabled")?,
                    registered_position: row.try_get("registered_position")?,
                },
            );
        }
        Ok(Endpoints {
            known,
            services: None,
        })
    }

    /// Apply endpoint event `event` of `endpoint` at `position`; says when
    /// admins must be told it was disabled for failing.
    pub(crate) async fn apply(
        &mut self,
        tx: &mut PgConnection,
        endpoint: Uuid,
        event: &WebhookEvent,
        position: i64,
        at: DateTime<Utc>,
    ) -> Result<Option<Disabled>, sqlx::Error> {
        match event {
            WebhookEvent::WebhookEndpointRegistered {
                url,
                kinds,
                description,
                ..
            } => {
                let codes: Vec<&str> = kinds.iter().map(|k| k.code()).collect();
                sqlx::query(
                    "insert into notifications.webhook_endpoints \
                     (id, url, kinds, description, enabled, registered_position, registered_at) \
                     values ($1, $2, $3, $4, true, $5, $6) on conflict (id) do nothing",
                )
                .bind(endpoint)
                .bind(url)
                .bind(&codes)
                .bind(description)
                .bind(position)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                self.known.entry(endpoint).or_insert(Known {
                    kinds: kinds.clone(),
                    enabled: true,
                    registered_position: position,
                });
            }
            WebhookEvent::WebhookSecretRotated { .. } => {}
            WebhookEvent::WebhookEndpointDisabled { reason, automatic } => {
                sqlx::query(
                    "update notifications.webhook_endpoints set enabled = false, disabled_reason = $2 where id = $1",
                )
                .bind(endpoint)
                .bind(reason)
                .execute(&mut *tx)
                .await?;
                if let Some(k) = self.known.get_mut(&endpoint) {
                    k.enabled = false;
                }
                if *automatic {
                    return Ok(Some(Disabled { endpoint }));
                }
            }
            WebhookEvent::WebhookEndpointEnabled => {
                // A fresh start: its failures so far no longer count
                // towards disabling it again.
                sqlx::query(
                    "update notifications.webhook_endpoints set enabled = true, disabled_reason = null, failing_since = null where id = $1",
                )
                .bind(endpoint)
                .execute(&mut *tx)
                .await?;
                if let Some(k) = self.known.get_mut(&endpoint) {
                    k.enabled = true;
                }
            }
            WebhookEvent::WebhookDeliveryReplayed { delivery } => {
                sqlx::query(
                    "update notifications.webhook_deliveries set delivered_at = null, dead_at = null, \
                     next_attempt_at = now(), window_started_at = now(), replayed_position = $3 \
                     where id = $1 and endpoint = $2 and coalesce(replayed_position, 0) < $3",
                )
                .bind(delivery)
                .bind(endpoint)
                .bind(position)
                .execute(&mut *tx)
                .await?;
            }
        }
        Ok(None)
    }

    /// The deliveries public fact `kind` at `position` calls for.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn deliveries(
        &mut self,
        tx: &mut PgConnection,
        kind: WebhookKind,
        position: i64,
        at: DateTime<Utc>,
        before: Option<&Registration>,
        after: &Registration,
        out: &mut Vec<(Uuid, Uuid, WebhookKind, i64, String)>,
    ) -> Result<(), sqlx::Error> {
        let mut targets: Vec<Uuid> = self
            .known
            .iter()
            .filter(|(_, k)| {
                k.enabled && k.registered_position < position && k.kinds.contains(&kind)
            })
            .map(|(id, _)| *id)
            .collect();
        if targets.is_empty() {
            return Ok(());
        }
        targets.sort();
        if self.services.is_none() {
            let rows: Vec<(String, String)> =
                sqlx::query_as("select code, name from read_models.org_units")
                    .fetch_all(&mut *tx)
                    .await?;
            self.services = Some(rows.into_iter().collect());
        }
        let service = self
            .services
            .as_ref()
            .and_then(|s| s.get(&after.form.service_area))
            .map(String::as_str);
        let body = payload(kind, position, at, before, after, service);
        for endpoint in targets {
            out.push((
                delivery_id(endpoint, position),
                endpoint,
                kind,
                position,
                body.clone(),
            ));
        }
        Ok(())
    }
}

/// Write deliveries (those already there are left alone).
pub(crate) async fn insert_deliveries(
    tx: &mut PgConnection,
    rows: &[(Uuid, Uuid, WebhookKind, i64, String)],
) -> Result<u64, sqlx::Error> {
    if rows.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    let endpoints: Vec<Uuid> = rows.iter().map(|r| r.1).collect();
    let kinds: Vec<&str> = rows.iter().map(|r| r.2.code()).collect();
    let positions: Vec<i64> = rows.iter().map(|r| r.3).collect();
    let payloads: Vec<&str> = rows.iter().map(|r| r.4.as_str()).collect();
    Ok(sqlx::query(
        "insert into notifications.webhook_deliveries (id, endpoint, kind, position, payload) \
         select * from unnest($1::uuid[], $2::uuid[], $3::text[], $4::bigint[], $5::text[]) \
         on conflict (id) do nothing",
    )
    .bind(&ids)
    .bind(&endpoints)
    .bind(&kinds)
    .bind(&positions)
    .bind(&payloads)
    .execute(&mut *tx)
    .await?
    .rows_affected())
}

/// How the sender delivers.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// How long one attempt may take.
    pub timeout: Duration,
    /// The wait after the first failure (doubling after each).
    pub first_retry: Duration,
    /// The longest wait between attempts.
    pub max_retry_gap: Duration,
    /// How long a delivery is retried before it becomes a dead letter.
    pub retry_window: Duration,
    /// How long an endpoint may fail continuously before it is disabled.
    pub disable_after: Duration,
    /// How often to look for due deliveries when nothing wakes the sender.
    pub poll: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            timeout: Duration::from_secs(10),
            first_retry: Duration::from_secs(5),
            max_retry_gap: Duration::from_secs(3_600),
            retry_window: Duration::from_secs(24 * 3_600),
            disable_after: Duration::from_secs(5 * 24 * 3_600),
            poll: Duration::from_secs(5),
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryPass {
    /// Accepted by the receiver.
    pub delivered: usize,
    /// Failed this time (to be retried).
    pub failed: usize,
    /// Failed for the whole window: now dead letters.
    pub dead: usize,
    /// Endpoints disabled for failing continuously.
    pub disabled: usize,
}

/// How one attempt went.
struct Attempt {
    status: Option<u16>,
    error: Option<&'static str>,
    response: Option<String>,
    took: Duration,
}

impl Attempt {
    fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The first kilobyte of the receiver's answer, as text.
async fn excerpt(mut response: reqwest::Response) -> String {
    let mut out = Vec::new();
    while out.len() < 1024 {
        match response.chunk().await {
            Ok(Some(chunk)) => out.extend_from_slice(&chunk),
            _ => break,
        }
    }
    out.truncate(1024);
    String::from_utf8_lossy(&out).into_owned()
}

async fn attempt(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    id: Uuid,
    body: &str,
) -> Attempt {
    let started = Instant::now();
    let timestamp = Utc::now().timestamp();
    let id_text = id.to_string();
    let Some(signature) = sign(secret, &id_text, timestamp, body.as_bytes()) else {
        return Attempt {
            status: None,
            error: Some("the endpoint's secret is not usable"),
            response: None,
            took: started.elapsed(),
        };
    };
    let sent = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &id_text)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body.to_owned())
        .send()
        .await;
    match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            let response = excerpt(response).await;
            Attempt {
                status: Some(status),
                error: None,
                response: Some(response),
                took: started.elapsed(),
            }
        }
        Err(e) => Attempt {
            status: None,
            error: Some(if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "could not connect"
            } else {
                "the request failed"
            }),
            response: None,
            took: started.elapsed(),
        },
    }
}

fn system() -> RequestMeta {
    RequestMeta {
        actor: Actor::new("system:webhooks", [Role::Admin]),
        display_name: None,
        correlation_id: Uuid::new_v4().to_string(),
        idempotency_key: None,
        expected_version: None,
        trace_id: None,
    }
}

fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Deliver what is due, one delivery at a time: each row is locked while
/// it is sent (so instances never send the same one at once) and its
/// outcome recorded in the same transaction.
pub async fn send_due(
    pool: &PgPool,
    handler: &Handler,
    client: &reqwest::Client,
    settings: &WebhookSettings,
) -> Result<DeliveryPass, HandleError> {
    let mut pass = DeliveryPass::default();
    let mut secrets: HashMap<Uuid, Option<String>> = HashMap::new();
    for _ in 0..100 {
        let mut tx = pool.begin().await?;
        let row = sqlx::query(
            "select d.id, d.endpoint, d.payload, d.attempts, d.window_started_at, e.url \
             from notifications.webhook_deliveries d \
             join notifications.webhook_endpoints e on e.id = d.endpoint \
             where d.delivered_at is null and d.dead_at is null and d.next_attempt_at <= now() and e.enabled \
             order by d.next_attempt_at, d.position limit 1 for update of d skip locked",
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            break;
        };
        let id: Uuid = row.try_get("id")?;
        let endpoint: Uuid = row.try_get("endpoint")?;
        let body: String = row.try_get("payload")?;
        let attempts: i32 = row.try_get("attempts")?;
        let window: DateTime<Utc> = row.try_get("window_started_at")?;
        let url: String = row.try_get("url")?;
        let secret = match secrets.get(&endpoint) {
            Some(s) => s.clone(),
            None => {
                let s = handler.webhook_secret(endpoint).await?;
                secrets.insert(endpoint, s.clone());
                s
            }
        }
        .unwrap_or_default();
        let outcome = attempt(client, &url, &secret, id, &body).await;
        let number = attempts + 1;
        sqlx::query(
            "insert into notifications.webhook_attempts (delivery, attempt, status, error, response, duration_ms) \
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(number)
        .bind(outcome.status.map(i32::from))
        .bind(outcome.error)
        .bind(&outcome.response)
        .bind(i32::try_from(outcome.took.as_millis()).unwrap_or(i32::MAX))
        .execute(&mut *tx)
        .await?;
        let mut disable = false;
        if outcome.succeeded() {
            sqlx::query(
                "update notifications.webhook_deliveries set delivered_at = now(), attempts = $2, \
                 last_status = $3, last_error = null, last_response = $4 where id = $1",
            )
            .bind(id)
            .bind(number)
            .bind(outcome.status.map(i32::from))
            .bind(&outcome.response)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "update notifications.webhook_endpoints set failing_since = null, last_success_at = now() where id = $1",
            )
            .bind(endpoint)
            .execute(&mut *tx)
            .await?;
            pass.delivered += 1;
            metrics::counter!("webhook_deliveries_total", "outcome" => "delivered").increment(1);
        } else {
            let now = Utc::now();
            let next = webhook::next_attempt(
                window,
                now,
                u32::try_from(number).unwrap_or(u32::MAX),
                chrono_of(settings.first_retry),
                chrono_of(settings.max_retry_gap),
                chrono_of(settings.retry_window),
            );
            sqlx::query(
                "update notifications.webhook_deliveries set attempts = $2, last_status = $3, \
                 last_error = $4, last_response = $5, next_attempt_at = coalesce($6, next_attempt_at), \
                 dead_at = case when $6::timestamptz is null then now() end where id = $1",
            )
            .bind(id)
            .bind(number)
            .bind(outcome.status.map(i32::from))
            .bind(outcome.error)
            .bind(&outcome.response)
            .bind(next)
            .execute(&mut *tx)
            .await?;
            let failing_since: Option<DateTime<Utc>> = sqlx::query_scalar(
                "update notifications.webhook_endpoints set failing_since = coalesce(failing_since, now()) \
                 where id = $1 returning failing_since",
            )
            .bind(endpoint)
            .fetch_one(&mut *tx)
            .await?;
            disable = failing_since.is_some_and(|f| now - f >= chrono_of(settings.disable_after));
            if next.is_none() {
                pass.dead += 1;
                metrics::counter!("webhook_deliveries_total", "outcome" => "dead_letter")
                    .increment(1);
            } else {
                pass.failed += 1;
                metrics::counter!("webhook_deliveries_total", "outcome" => "failed").increment(1);
            }
        }
        tx.commit().await?;
        if disable {
            let reason = format!(
                "failed continuously for {} or longer",
                human(settings.disable_after)
            );
            handler
                .webhook(
                    endpoint,
                    WebhookRequest::Disable {
                        reason,
                        automatic: true,
                    },
                    &system(),
                )
                .await?;
            // Not delivered to again until an admin enables it: the
            // notifier records that in the table and tells the admins.
            pass.disabled += 1;
            tracing::warn!(%endpoint, "webhooks: endpoint disabled after failing continuously");
        }
    }
    Ok(pass)
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 86_400 && s.is_multiple_of(86_400) {
        format!("{} days", s / 86_400)
    } else if s >= 3_600 && s.is_multiple_of(3_600) {
        format!("{} hours", s / 3_600)
    } else {
        format!("{s} seconds")
    }
}

/// The running webhook sender.
pub type WebhookSenderHandle = crate::background::Stoppable;

/// Start the webhook sender.
pub fn spawn(
    pool: PgPool,
    handler: Handler,
    wake: event_store::Wake,
    mut outbox: watch::Receiver<u64>,
    settings: WebhookSettings,
) -> WebhookSenderHandle {
    let client = reqwest::Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("social-registry-webhooks/1")
        .build()
        .expect("an HTTP client");
    Stoppable::spawn(move |mut stop_rx| async move {
        let mut wake = wake;
        while !*stop_rx.borrow() {
            wake.mark_seen();
            if let Err(error) = send_due(&pool, &handler, &client, &settings).await {
                tracing::warn!(%error, "webhooks: pass failed; retrying");
            }
            // Retries fall due between commits: look at least every second
            // while anything waits, else at the poll interval.
            let soon: Option<f64> = sqlx::query_scalar(
                "select extract(epoch from min(d.next_attempt_at) - now())::float8 \
                 from notifications.webhook_deliveries d \
                 join notifications.webhook_endpoints e on e.id = d.endpoint \
                 where d.delivered_at is null and d.dead_at is null and e.enabled",
            )
            .fetch_one(&pool)
            .await
            .ok()
            .flatten();
            let wait = soon
                .map(|s| Duration::from_secs_f64(s.clamp(0.05, settings.poll.as_secs_f64())))
                .unwrap_or(settings.poll);
            tokio::select! {
                _ = wake.wait_at_most(wait) => {}
                _ = async {
                    // Once the notifier has stopped, only the poll wakes.
                    if outbox.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                } => {}
                _ = stop_rx.changed() => {}
            }
        }
    })
}

/// An endpoint, for the admins' list.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndpointRow {
    /// Its id.
    pub id: Uuid,
    /// Where deliveries go.
    pub url: String,
    /// The kinds it asked for (`account.published`, …).
    pub kinds: Vec<String>,
    /// What it is.
    pub description: String,
    /// False while disabled.
    pub enabled: bool,
    /// Why it was disabled.
    pub disabled_reason: Option<String>,
    /// When it was registered.
    pub registered_at: DateTime<Utc>,
    /// Failing since (no success after).
    pub failing_since: Option<DateTime<Utc>>,
    /// Its last accepted delivery.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Deliveries not yet accepted, nor dead.
    pub pending: i64,
    /// Deliveries accepted.
    pub delivered: i64,
    /// Dead letters.
    pub dead: i64,
}

/// Every endpoint, newest first.
pub async fn endpoints(pool: &PgPool) -> Result<Vec<EndpointRow>, sqlx::Error> {
    sqlx::query_as(
        "select e.id, e.url, e.kinds, e.description, e.enabled, e.disabled_reason, e.registered_at, \
                e.failing_since, e.last_success_at, \
                count(d.id) filter (where d.delivered_at is null and d.dead_at is null) as pending, \
                count(d.id) filter (where d.delivered_at is not null) as delivered, \
                count(d.id) filter (where d.dead_at is not null) as dead \
         from notifications.webhook_endpoints e \
         left join notifications.webhook_deliveries d on d.endpoint = e.id \
         group by e.id order by e.registered_position desc",
    )
    .fetch_all(pool)
    .await
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Not yet accepted; retried.
    Pending,
    /// Accepted by the receiver.
    Delivered,
    /// Failed for the whole retry window.
    Dead,
}

/// One delivery, for the endpoint's delivery log.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    /// Its id: the `webhook-id` header.
    pub id: Uuid,
    /// The endpoint.
    pub endpoint: Uuid,
    /// `account.published`, …
    pub kind: String,
    /// The event's log position.
    pub position: i64,
    /// The body as sent.
    pub payload: String,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// Next try (while pending).
    pub next_attempt_at: DateTime<Utc>,
    /// Tries so far.
    pub attempts: i32,
    /// When the receiver accepted it.
    pub delivered_at: Option<DateTime<Utc>>,
    /// When it became a dead letter.
    pub dead_at: Option<DateTime<Utc>>,
    /// The last HTTP status.
    pub last_status: Option<i32>,
    /// Why the last try failed without an answer.
    pub last_error: Option<String>,
    /// The first kilobyte of the last answer.
    pub last_response: Option<String>,
}

impl DeliveryRow {
    /// Where it stands.
    pub fn status(&self) -> DeliveryStatus {
        if self.delivered_at.is_some() {
            DeliveryStatus::Delivered
        } else if self.dead_at.is_some() {
            DeliveryStatus::Dead
        } else {
            DeliveryStatus::Pending
        }
    }
}

/// An endpoint's deliveries, newest first, optionally only those in
/// `status`; at most `limit`, before log position `before` when given.
pub async fn deliveries(
    pool: &PgPool,
    endpoint: Uuid,
    status: Option<DeliveryStatus>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    let filter = match status {
        None => "true",
        Some(DeliveryStatus::Pending) => "delivered_at is null and dead_at is null",
        Some(DeliveryStatus::Delivered) => "delivered_at is not null",
        Some(DeliveryStatus::Dead) => "dead_at is not null",
    };
    sqlx::query_as(&format!(
        "select id, endpoint, kind, position, payload, created_at, next_attempt_at, attempts, \
                delivered_at, dead_at, last_status, last_error, last_response \
         from notifications.webhook_deliveries \
         where endpoint = $1 and position < coalesce($2, 9223372036854775807) and {filter} \
         order by position desc limit $3"
    ))
    .bind(endpoint)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// One attempt at a delivery.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttemptRow {
    /// The delivery.
    pub delivery: Uuid,
    /// 1 for the first.
    pub attempt: i32,
    /// When.
    pub at: DateTime<Utc>,
    /// The receiver's status, if it answered.
    pub status: Option<i32>,
    /// Why it did not, if it did not.
    pub error: Option<String>,
    /// The first kilobyte of its answer.
    pub response: Option<String>,
    /// How long it took.
    pub duration_ms: i32,
}

/// The attempts at these deliveries, oldest first.
pub async fn attempts(pool: &PgPool, deliveries: &[Uuid]) -> Result<Vec<AttemptRow>, sqlx::Error> {
    sqlx::query_as(
        "select delivery, attempt, at, status, error, response, duration_ms \
         from notifications.webhook_attempts where delivery = any($1) order by delivery, attempt",
    )
    .bind(deliveries)
    .fetch_all(pool)
    .await
}

/// The endpoint a delivery belongs to.
pub async fn delivery_endpoint(pool: &PgPool, delivery: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("select endpoint from notifications.webhook_deliveries where id = $1")
        .bind(delivery)
        .fetch_optional(pool)
        .await
}
