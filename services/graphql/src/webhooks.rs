//! Webhook endpoints (admins), their delivery logs (admins and
//! integrations), and how each person is told (everyone signed in).

use crate::errors::Result;
use async_graphql::{ComplexObject, Context, Enum, Object, SimpleObject};
use chrono::{DateTime, Utc};
use domain::webhook::WebhookKind as DomainKind;
use domain::Role;
use uuid::Uuid;

use super::{app, request_meta, signed_in, with_role};
use crate::errors;
use app::commands::WebhookRequest;

/// A kind of public fact an endpoint can be told of.
// The names mirror the wire codes (`account.published`, …).
#[allow(clippy::enum_variant_names)]
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::webhook::WebhookKind")]
pub enum WebhookKind {
    /// `account.published`: an account became an official council account.
    AccountPublished,
    /// `account.changed`: a published account's public details changed
    /// (e.g. it was renamed; `data.renamedFrom` says from what).
    AccountChanged,
    /// `account.revalidated`: a published account was confirmed still in
    /// use and still needed.
    AccountRevalidated,
    /// `account.withdrawn`: an account stopped being official.
    AccountWithdrawn,
}

/// Where a delivery stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "app::webhooks::DeliveryStatus")]
pub enum WebhookDeliveryStatus {
    /// Not yet accepted: tried again with backoff.
    Pending,
    /// Accepted by the receiver (any 2xx answer).
    Delivered,
    /// Failed for the whole retry window (24 hours): a dead letter, kept
    /// with its last response until an admin replays it.
    Dead,
}

/// How a person wants to be told.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::notify::Delivery")]
pub enum NotificationDelivery {
    /// Each message by email as it comes (the default).
    Immediate,
    /// One email a day (at `REGISTRY_DIGEST_TIME`) listing what came.
    DailyDigest,
}

/// A system told of the registry's public facts.
#[derive(SimpleObject, Debug, Clone)]
pub struct WebhookEndpoint {
    /// Its id.
    pub id: Uuid,
    /// Where deliveries are POSTed.
    pub url: String,
    /// What it is told of.
    pub kinds: Vec<WebhookKind>,
    /// What it is (e.g. "Council website").
    pub description: String,
    /// False while disabled: nothing is delivered to it.
    pub enabled: bool,
    /// Why it was disabled.
    pub disabled_reason: Option<String>,
    /// When it was registered.
    pub registered_at: DateTime<Utc>,
    /// Failing since (no delivery accepted after it).
    pub failing_since: Option<DateTime<Utc>>,
    /// Its last accepted delivery.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Deliveries waiting to be accepted.
    pub pending: i64,
    /// Deliveries accepted.
    pub delivered: i64,
    /// Dead letters.
    pub dead: i64,
}

impl From<app::webhooks::EndpointRow> for WebhookEndpoint {
    fn from(r: app::webhooks::EndpointRow) -> Self {
        WebhookEndpoint {
            id: r.id,
            url: r.url,
            kinds: r
                .kinds
                .iter()
                .filter_map(|k| DomainKind::from_code(k))
                .map(Into::into)
                .collect(),
            description: r.description,
            enabled: r.enabled,
            disabled_reason: r.disabled_reason,
            registered_at: r.registered_at,
            failing_since: r.failing_since,
            last_success_at: r.last_success_at,
            pending: r.pending,
            delivered: r.delivered,
            dead: r.dead,
        }
    }
}

/// One try at a delivery.
#[derive(SimpleObject, Debug, Clone)]
pub struct WebhookAttempt {
    /// 1 for the first.
    pub attempt: i32,
    /// When.
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<i32>,
    /// Why it did not answer (timed out, could not connect).
    pub error: Option<String>,
    /// The first kilobyte of its answer.
    pub response: Option<String>,
    /// How long it took, in milliseconds.
    pub duration_ms: i32,
}

/// One fact delivered (or to be delivered) to one endpoint.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct WebhookDelivery {
    /// Its id: the `webhook-id` header of every attempt and replay.
    pub id: Uuid,
    /// The endpoint.
    pub endpoint: Uuid,
    /// `account.published`, `account.changed`, `account.revalidated` or
    /// `account.withdrawn`.
    pub kind: String,
    /// The event's log position.
    pub position: i64,
    /// The JSON body exactly as signed and sent.
    pub payload: String,
    /// Where it stands.
    pub status: WebhookDeliveryStatus,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// The next try, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Tries so far.
    pub attempts: i32,
    /// When the receiver accepted it.
    pub delivered_at: Option<DateTime<Utc>>,
    /// When it became a dead letter.
    pub dead_at: Option<DateTime<Utc>>,
    /// The last HTTP status.
    pub last_status: Option<i32>,
    /// Why the last try got no answer.
    pub last_error: Option<String>,
    /// The first kilobyte of the last answer.
    pub last_response: Option<String>,
}

#[ComplexObject]
impl WebhookDelivery {
    /// Every try, oldest first.
    async fn attempt_log(&self, ctx: &Context<'_>) -> Result<Vec<WebhookAttempt>> {
        let rows = app::webhooks::attempts(&app(ctx)?.pool, &[self.id]).await?;
        Ok(rows
            .into_iter()
            .map(|a| WebhookAttempt {
                attempt: a.attempt,
                at: a.at,
                status: a.status,
                error: a.error,
                response: a.response,
                duration_ms: a.duration_ms,
            })
            .collect())
    }
}

impl From<app::webhooks::DeliveryRow> for WebhookDelivery {
    fn from(r: app::webhooks::DeliveryRow) -> Self {
        let status = r.status();
        WebhookDelivery {
            id: r.id,
            endpoint: r.endpoint,
            kind: r.kind,
            position: r.position,
            payload: r.payload,
            status: status.into(),
            created_at: r.created_at,
            next_attempt_at: (status == app::webhooks::DeliveryStatus::Pending)
                .then_some(r.next_attempt_at),
            attempts: r.attempts,
            delivered_at: r.delivered_at,
            dead_at: r.dead_at,
            last_status: r.last_status,
            last_error: r.last_error,
            last_response: r.last_response,
        }
    }
}

/// What a change to an endpoint did.
#[derive(SimpleObject, Debug, Clone)]
pub struct WebhookEndpointPayload {
    /// The endpoint.
    pub id: Uuid,
    /// The log position of the change.
    pub position: i64,
    /// The signing secret (`whsec_…`), after a registration or rotation
    /// only: shown this once. Receivers verify with it (any Standard
    /// Webhooks library).
    pub secret: Option<String>,
}

#[derive(Default)]
pub struct WebhooksQuery;

/// Webhooks and notification preferences.
#[Object]
impl WebhooksQuery {
    /// Every webhook endpoint, newest first (admin, integration, auditor).
    async fn webhook_endpoints(&self, ctx: &Context<'_>) -> Result<Vec<WebhookEndpoint>> {
        with_role(ctx, &[Role::Admin, Role::Integration, Role::Auditor])?;
        let _turn = super::pool_turn(ctx).await;
        let rows = app::webhooks::endpoints(&app(ctx)?.pool).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// An endpoint's delivery log, newest first (admin, integration,
    /// auditor): `status: DEAD` lists its dead letters.
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint's id.")] endpoint: Uuid,
        #[graphql(desc = "Only deliveries in this state.")] status: Option<WebhookDeliveryStatus>,
        #[graphql(desc = "Only deliveries of facts before this log position (the next page).")]
        before_position: Option<i64>,
        #[graphql(desc = "How many (1 to 200).", default = 50)] first: i32,
    ) -> Result<Vec<WebhookDelivery>> {
        with_role(ctx, &[Role::Admin, Role::Integration, Role::Auditor])?;
        if !(1..=200).contains(&first) {
            return Err(errors::bad_input("first", "must be between 1 and 200"));
        }
        let _turn = super::pool_turn(ctx).await;
        let rows = app::webhooks::deliveries(
            &app(ctx)?.pool,
            endpoint,
            status.map(Into::into),
            before_position,
            i64::from(first),
        )
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// How you are told of what waits for you: each message at once, or a
    /// daily digest (signed-in staff).
    async fn my_notification_delivery(&self, ctx: &Context<'_>) -> Result<NotificationDelivery> {
        let viewer = signed_in(ctx)?;
        let _turn = super::pool_turn(ctx).await;
        Ok(app(ctx)?
            .handler
            .notification_preference(&viewer.actor.subject)
            .await?
            .into())
    }
}

#[derive(Default)]
pub struct WebhooksMutation;

async fn endpoint_request(
    ctx: &Context<'_>,
    id: Uuid,
    request: WebhookRequest,
    idempotency_key: Option<String>,
) -> Result<WebhookEndpointPayload> {
    with_role(ctx, &[Role::Admin])?;
    let meta = request_meta(ctx, None, idempotency_key)?;
    let app = app(ctx)?;
    if !matches!(request, WebhookRequest::Register { .. })
        && app
            .store
            .stream_version(&domain::webhook::stream_id(id))
            .await?
            == 0
    {
        return Err(errors::not_found(format!("no webhook endpoint {id}")));
    }
    let outcome = app.handler.clone().webhook(id, request, &meta).await?;
    Ok(WebhookEndpointPayload {
        id,
        position: outcome.position,
        secret: outcome.secret,
    })
}

/// Managing webhook endpoints (admin), and your notification preference.
#[Object]
impl WebhooksMutation {
    /// Register an endpoint to be told of public facts as they happen
    /// (admin). Deliveries are signed (Standard Webhooks); the secret is
    /// returned this once. Only facts after the registration are delivered.
    async fn register_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Where to POST: https:// (http:// only to this machine).")] url: String,
        #[graphql(desc = "What to be told of.")] kinds: Vec<WebhookKind>,
        #[graphql(desc = "What it is, e.g. `Council website`.")] description: String,
        #[graphql(desc = "Retry key: a retry with the same key appends nothing.")]
        idempotency_key: Option<String>,
    ) -> Result<WebhookEndpointPayload> {
        let request = WebhookRequest::Register {
            url,
            kinds: kinds.into_iter().map(Into::into).collect(),
            description,
        };
        endpoint_request(ctx, Uuid::new_v4(), request, idempotency_key).await
    }

    /// Replace an endpoint's signing secret (admin); the new one is
    /// returned this once and signs every delivery from now on.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint's id.")] id: Uuid,
    ) -> Result<WebhookEndpointPayload> {
        endpoint_request(ctx, id, WebhookRequest::RotateSecret, None).await
    }

    /// Stop delivering to an endpoint (admin). Facts meanwhile are not
    /// delivered to it; replay them from its delivery log if needed.
    async fn disable_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint's id.")] id: Uuid,
        #[graphql(desc = "Why, for the log.")] reason: String,
    ) -> Result<WebhookEndpointPayload> {
        let request = WebhookRequest::Disable {
            reason,
            automatic: false,
        };
        endpoint_request(ctx, id, request, None).await
    }

    /// Deliver to an endpoint again (admin), e.g. once it answers after it
    /// was disabled for failing. Deliveries still pending go out.
    async fn enable_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint's id.")] id: Uuid,
    ) -> Result<WebhookEndpointPayload> {
        endpoint_request(ctx, id, WebhookRequest::Enable, None).await
    }

    /// Send a delivery again, with the same `webhook-id` (admin): a dead
    /// letter gets a new 24-hour window; a delivered one is sent once more.
    async fn replay_webhook_delivery(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The delivery's id (its `webhook-id`).")] delivery: Uuid,
    ) -> Result<WebhookEndpointPayload> {
        with_role(ctx, &[Role::Admin])?;
        let Some(endpoint) = app::webhooks::delivery_endpoint(&app(ctx)?.pool, delivery).await?
        else {
            return Err(errors::bad_input(
                "delivery",
                "is not a delivery of any endpoint",
            ));
        };
        endpoint_request(ctx, endpoint, WebhookRequest::Replay { delivery }, None).await
    }

    /// Choose how you are told of what waits for you: each message by
    /// email at once, or one daily digest (signed-in staff). Returns the log
    /// position.
    async fn set_notification_delivery(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How.")] delivery: NotificationDelivery,
    ) -> Result<i64> {
        let meta = request_meta(ctx, None, None)?;
        Ok(app(ctx)?
            .handler
            .clone()
            .set_notification_preference(delivery.into(), &meta)
            .await?)
    }
}
