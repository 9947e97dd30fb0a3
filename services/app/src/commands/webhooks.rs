//! Webhook endpoints through the one pipeline: load the endpoint's stream,
//! seal a new secret under the endpoint's own vault key (so the log never
//! holds it in plain text), decide, append.

use base64::Engine;
use chrono::Utc;
use domain::reference::ReferenceData;
use domain::registration::Context;
use domain::webhook::{self, Endpoint, WebhookCommand, WebhookKind};
use domain::Aggregate;
use event_store::{ExpectedVersion, StreamAppend};
use uuid::Uuid;

use super::{encode, expected_at, load, metadata, seal, HandleError, Handler, RequestMeta};

/// A new signing secret in the Standard Webhooks form: `whsec_` and the
/// base64 of 32 random bytes.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).expect("the operating system's random source");
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// What a webhook request asks.
#[derive(Debug, Clone)]
pub enum WebhookRequest {
    /// Register an endpoint; its secret is made here and returned once.
    Register {
        /// Where deliveries go.
        url: String,
        /// What it is told of.
        kinds: Vec<WebhookKind>,
        /// What it is.
        description: String,
    },
    /// Replace its secret; the new one is returned once.
    RotateSecret,
    /// Turn it off.
    Disable {
        /// Why.
        reason: String,
        /// The sender's own decision after continuous failure.
        automatic: bool,
    },
    /// Turn it on.
    Enable,
    /// Send a delivery again.
    Replay {
        /// The delivery.
        delivery: Uuid,
    },
}

/// What a webhook request did.
#[derive(Debug, Clone)]
pub struct WebhookOutcome {
    /// The log position of its last event (the endpoint's last one when it
    /// recorded nothing new).
    pub position: i64,
    /// The new secret, for a registration or rotation: shown once.
    pub secret: Option<String>,
}

impl Handler {
    /// Handle a request about webhook endpoint `id`.
    #[tracing::instrument(name = "webhook_command", skip_all, fields(endpoint = %id))]
    pub async fn webhook(
        &self,
        id: Uuid,
        request: WebhookRequest,
        meta: &RequestMeta,
    ) -> Result<WebhookOutcome, HandleError> {
        let stream = webhook::stream_id(id);
        let loaded = load::<Endpoint>(&self.store, &stream).await?;
        let mut sealer = self.vault.sealer();
        let secret = matches!(
            request,
            WebhookRequest::Register { .. } | WebhookRequest::RotateSecret
        )
        .then(new_secret);
        let sealed_secret = match &secret {
            Some(plain) => Some(seal::one(&mut sealer, id, plain).await?),
            None => None,
        };
        let sealed_secret = || sealed_secret.clone().expect("made above");
        let command = match request {
            WebhookRequest::Register {
                url,
                kinds,
                description,
            } => WebhookCommand::Register {
                url,
                kinds,
                description,
                secret: sealed_secret(),
            },
            WebhookRequest::RotateSecret => WebhookCommand::RotateSecret {
                secret: sealed_secret(),
            },
            WebhookRequest::Disable { reason, automatic } => {
                WebhookCommand::Disable { reason, automatic }
            }
            WebhookRequest::Enable => WebhookCommand::Enable,
            WebhookRequest::Replay { delivery } => WebhookCommand::Replay { delivery },
        };
        let reference = ReferenceData::default();
        let ctx = Context {
            actor: &meta.actor,
            now: Utc::now(),
            reference: &reference,
        };
        let events = Endpoint::decide(loaded.state.as_ref(), &command, &ctx)?;
        if events.is_empty() {
            return Ok(WebhookOutcome {
                position: loaded.last_position,
                secret: None,
            });
        }
        let name = match command {
            WebhookCommand::Register { .. } => "RegisterWebhookEndpoint",
            WebhookCommand::RotateSecret { .. } => "RotateWebhookSecret",
            WebhookCommand::Disable { .. } => "DisableWebhookEndpoint",
            WebhookCommand::Enable => "EnableWebhookEndpoint",
            WebhookCommand::Replay { .. } => "ReplayWebhookDelivery",
        };
        let metadata = metadata(&mut sealer, meta, name).await?;
        let events = encode::<Endpoint>(&events);
        let batch = StreamAppend {
            stream_id: &stream,
            expected: match loaded.version {
                0 => ExpectedVersion::NoStream,
                v => expected_at(v),
            },
            events: &events,
        };
        let outcome = self.commit(&[batch], &metadata, meta, sealer).await?;
        Ok(WebhookOutcome {
            position: outcome.last_position,
            secret: if outcome.deduplicated { None } else { secret },
        })
    }

    /// The current signing secret of endpoint `id` (`None` when it is not
    /// registered, or its key was erased).
    pub async fn webhook_secret(&self, id: Uuid) -> Result<Option<String>, HandleError> {
        let loaded = load::<Endpoint>(&self.store, &webhook::stream_id(id)).await?;
        let Some(endpoint) = loaded.state else {
            return Ok(None);
        };
        Ok(seal::open(&self.vault, &endpoint.secret)
            .await?
            .as_value()
            .map(str::to_owned))
    }
}

impl Handler {
    /// How `subject` chose to be told (immediately when they never chose),
    /// as the log says now.
    pub async fn notification_preference(
        &self,
        subject: &str,
    ) -> Result<domain::notify::Delivery, HandleError> {
        let events = self
            .store
            .read_stream(&domain::notify::preference_stream(subject), None)
            .await?;
        let mut delivery = domain::notify::Delivery::Immediate;
        for e in &events {
            let domain::notify::PreferenceEvent::NotificationPreferenceSet { delivery: d, .. } =
                domain::codec::decode(&e.event_type, e.schema_version, &e.payload, 1)?;
            delivery = d;
        }
        Ok(delivery)
    }

    /// Record how the signed-in person wants to be told: each message at
    /// once, or one daily digest. Returns the event's log position.
    pub async fn set_notification_preference(
        &self,
        delivery: domain::notify::Delivery,
        meta: &RequestMeta,
    ) -> Result<i64, HandleError> {
        if domain::access::integration_only(&meta.actor) {
            return Err(domain::DomainError::MissingRole {
                role: domain::Role::Staff,
            }
            .into());
        }
        let event = domain::notify::PreferenceEvent::NotificationPreferenceSet {
            subject: meta.actor.subject.clone(),
            delivery,
        };
        let (event_type, payload) = domain::codec::encode(&event);
        let events = [event_store::NewEvent::new(event_type, 1, payload)];
        let stream = domain::notify::preference_stream(&meta.actor.subject);
        let mut sealer = self.vault.sealer();
        let metadata = metadata(&mut sealer, meta, "SetNotificationPreference").await?;
        let batch = StreamAppend {
            stream_id: &stream,
            expected: ExpectedVersion::Any,
            events: &events,
        };
        Ok(self
            .commit(&[batch], &metadata, meta, sealer)
            .await?
            .last_position)
    }
}
