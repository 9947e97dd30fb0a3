//! Webhook endpoints: other systems (the council's website, a CRM, an
//! open-data portal) told of the registry's public facts as they happen,
//! instead of polling the Atom feed or holding an auditor token.
//!
//! An endpoint is an aggregate of its own stream: admins register it (its
//! URL, the kinds of fact it wants, and a signing secret kept in the vault,
//! never in the log in plain text), disable and enable it, rotate its secret
//! and replay a delivery. The sender disables an endpoint that has failed
//! continuously; that is an event too, so the log says who (or what) turned
//! it off and why.
//!
//! What is delivered is decided here ([`fact_of`]): only facts the public
//! already sees on the verification pages and the open-data feeds: an
//! account published, changed, re-validated or withdrawn. Never a person's
//! data: the payload is built from the account, its level and service.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actor::Role;
use crate::checks::text;
use crate::error::DomainError;
use crate::personal::Sealed;
use crate::registration::{Context, Registration, RegistrationEvent, Status};

/// The prefix of every webhook endpoint's stream.
pub const STREAM_PREFIX: &str = "webhook-";

/// The stream of one endpoint.
pub fn stream_id(id: Uuid) -> String {
    format!("{STREAM_PREFIX}{id}")
}

/// The kinds of public fact an endpoint can ask for.
// The names mirror the wire codes (`account.published`, …).
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookKind {
    /// An account became an official council account.
    AccountPublished,
    /// A published account's public details changed (e.g. it was renamed).
    AccountChanged,
    /// A published account was confirmed still in use and still needed.
    AccountRevalidated,
    /// An account stopped being an official council account.
    AccountWithdrawn,
}

impl WebhookKind {
    /// Every kind.
    pub const ALL: [WebhookKind; 4] = [
        WebhookKind::AccountPublished,
        WebhookKind::AccountChanged,
        WebhookKind::AccountRevalidated,
        WebhookKind::AccountWithdrawn,
    ];

    /// The `type` field of a delivery, e.g. `account.published`.
    pub fn code(self) -> &'static str {
        match self {
            WebhookKind::AccountPublished => "account.published",
            WebhookKind::AccountChanged => "account.changed",
            WebhookKind::AccountRevalidated => "account.revalidated",
            WebhookKind::AccountWithdrawn => "account.withdrawn",
        }
    }

    /// The kind with this code.
    pub fn from_code(code: &str) -> Option<WebhookKind> {
        WebhookKind::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// Which public fact, if any, registration event `event` makes, given the
/// registration before and after it.
pub fn fact_of(
    before: Option<&Registration>,
    after: &Registration,
    event: &RegistrationEvent,
) -> Option<WebhookKind> {
    let was_published = before.is_some_and(|b| b.status == Status::Published);
    match event {
        RegistrationEvent::RegistrationPublished { .. } => Some(WebhookKind::AccountPublished),
        RegistrationEvent::ChangePublished { .. } if was_published => {
            Some(WebhookKind::AccountChanged)
        }
        RegistrationEvent::RegistrationRevalidated(_) if after.status == Status::Published => {
            Some(WebhookKind::AccountRevalidated)
        }
        RegistrationEvent::RegistrationWithdrawn { .. } if was_published => {
            Some(WebhookKind::AccountWithdrawn)
        }
        _ => None,
    }
}

/// Something that happened to an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum WebhookEvent {
    /// An admin registered an endpoint.
    #[serde(rename_all = "camelCase")]
    WebhookEndpointRegistered {
        /// Where deliveries are POSTed.
        url: String,
        /// What it is told of.
        kinds: Vec<WebhookKind>,
        /// What it is, for the admins' list (e.g. "Council website").
        description: String,
        /// The signing secret (`whsec_…`), sealed under the endpoint's id.
        secret: Sealed,
    },
    /// Its signing secret was replaced.
    #[serde(rename_all = "camelCase")]
    WebhookSecretRotated {
        /// The new secret, sealed.
        secret: Sealed,
    },
    /// It was turned off: nothing more is delivered until it is enabled.
    #[serde(rename_all = "camelCase")]
    WebhookEndpointDisabled {
        /// Why.
        reason: String,
        /// True when the sender turned it off after continuous failure.
        automatic: bool,
    },
    /// It was turned on again.
    WebhookEndpointEnabled,
    /// An admin asked for a delivery to be sent again.
    #[serde(rename_all = "camelCase")]
    WebhookDeliveryReplayed {
        /// The delivery (its `webhook-id`).
        delivery: Uuid,
    },
}

/// The payload schema version of every webhook event type.
pub const EVENT_SCHEMA_VERSION: i32 = 1;

/// An endpoint as its events leave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Where deliveries go.
    pub url: String,
    /// What it is told of.
    pub kinds: Vec<WebhookKind>,
    /// The admins' description.
    pub description: String,
    /// The current secret, sealed.
    pub secret: Sealed,
    /// False once disabled (until enabled).
    pub enabled: bool,
}

impl Endpoint {
    /// Fold one event.
    pub fn apply(state: Option<Endpoint>, event: &WebhookEvent) -> Option<Endpoint> {
        match (state, event) {
            (
                _,
                WebhookEvent::WebhookEndpointRegistered {
                    url,
                    kinds,
                    description,
                    secret,
                },
            ) => Some(Endpoint {
                url: url.clone(),
                kinds: kinds.clone(),
                description: description.clone(),
                secret: secret.clone(),
                enabled: true,
            }),
            (Some(e), WebhookEvent::WebhookSecretRotated { secret }) => Some(Endpoint {
                secret: secret.clone(),
                ..e
            }),
            (Some(e), WebhookEvent::WebhookEndpointDisabled { .. }) => Some(Endpoint {
                enabled: false,
                ..e
            }),
            (Some(e), WebhookEvent::WebhookEndpointEnabled) => {
                Some(Endpoint { enabled: true, ..e })
            }
            (state, _) => state,
        }
    }
}

/// What may be asked of an endpoint. Secrets arrive sealed: the
/// application seals them before deciding, as it does a form's personal
/// values.
#[derive(Debug, Clone)]
pub enum WebhookCommand {
    /// Register a new endpoint (admin).
    Register {
        /// Where deliveries go.
        url: String,
        /// What it is told of.
        kinds: Vec<WebhookKind>,
        /// What it is.
        description: String,
        /// Its secret, sealed.
        secret: Sealed,
    },
    /// Replace its secret (admin).
    RotateSecret {
        /// The new secret, sealed.
        secret: Sealed,
    },
    /// Turn it off (admin), or (`automatic`) the sender after continuous
    /// failure.
    Disable {
        /// Why.
        reason: String,
        /// True for the sender's own decision.
        automatic: bool,
    },
    /// Turn it on again (admin).
    Enable,
    /// Send a delivery again (admin).
    Replay {
        /// The delivery.
        delivery: Uuid,
    },
}

/// Check an endpoint's address: `https://`, or `http://` to this machine
/// only (for a receiver under test); no credentials in it.
pub fn check_url(url: &str) -> Result<String, DomainError> {
    let bad = |problem: &str| DomainError::invalid("url", problem);
    let url = url.trim();
    if url.len() > 2_000 {
        return Err(bad("must be at most 2000 characters"));
    }
    let parsed = url::Url::parse(url)
        .map_err(|_| bad("is not a web address: give the full address, e.g. https://www.example.gov.uk/hooks/registry"))?;
    let host = parsed.host_str().unwrap_or_default();
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err(bad("must start with https:// (deliveries are signed, but not secret on the wire otherwise)")),
        _ => return Err(bad("must be an https:// address")),
    }
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad(
            "must not hold a user name or password: the signature proves the sender",
        ));
    }
    if parsed.fragment().is_some() {
        return Err(bad("must not have a #fragment"));
    }
    Ok(parsed.to_string())
}

fn check_kinds(kinds: &[WebhookKind]) -> Result<Vec<WebhookKind>, DomainError> {
    if kinds.is_empty() {
        return Err(DomainError::invalid(
            "kinds",
            "choose at least one kind of fact to be told of",
        ));
    }
    let mut out = kinds.to_vec();
    out.sort();
    out.dedup();
    Ok(out)
}

/// Decide a command against an endpoint (`None` before it is registered).
pub fn decide(
    state: Option<&Endpoint>,
    command: &WebhookCommand,
    ctx: &Context<'_>,
) -> Result<Vec<WebhookEvent>, DomainError> {
    if !ctx.actor.has(Role::Admin) {
        return Err(DomainError::MissingRole { role: Role::Admin });
    }
    let missing = || DomainError::ReferenceData("no such webhook endpoint".into());
    Ok(match (command, state) {
        (
            WebhookCommand::Register {
                url,
                kinds,
                description,
                secret,
            },
            None,
        ) => {
            let url = check_url(url)?;
            let kinds = check_kinds(kinds)?;
            text("description", description, 200)?;
            vec![WebhookEvent::WebhookEndpointRegistered {
                url,
                kinds,
                description: description.trim().to_owned(),
                secret: secret.clone(),
            }]
        }
        (WebhookCommand::Register { .. }, Some(_)) => {
            return Err(DomainError::ReferenceData(
                "this webhook endpoint is already registered".into(),
            ))
        }
        (_, None) => return Err(missing()),
        (WebhookCommand::RotateSecret { secret }, Some(_)) => {
            vec![WebhookEvent::WebhookSecretRotated {
                secret: secret.clone(),
            }]
        }
        (WebhookCommand::Disable { .. }, Some(e)) if !e.enabled => vec![],
        (WebhookCommand::Disable { reason, automatic }, Some(_)) => {
            text("reason", reason, 500)?;
            vec![WebhookEvent::WebhookEndpointDisabled {
                reason: reason.trim().to_owned(),
                automatic: *automatic,
            }]
        }
        (WebhookCommand::Enable, Some(e)) if e.enabled => vec![],
        (WebhookCommand::Enable, Some(_)) => vec![WebhookEvent::WebhookEndpointEnabled],
        (WebhookCommand::Replay { delivery }, Some(_)) => {
            vec![WebhookEvent::WebhookDeliveryReplayed {
                delivery: *delivery,
            }]
        }
    })
}

/// When the sender next tries a failed delivery, `attempts` tries in:
/// `first` doubling with each, at most `ceiling` apart; `None` once the
/// delivery has been failing for `give_up_after` (it goes to the dead
/// letters).
pub fn next_attempt(
    first_attempt_at: DateTime<Utc>,
    now: DateTime<Utc>,
    attempts: u32,
    first: chrono::Duration,
    ceiling: chrono::Duration,
    give_up_after: chrono::Duration,
) -> Option<DateTime<Utc>> {
    if now - first_attempt_at >= give_up_after {
        return None;
    }
    let factor = 1_i32 << attempts.saturating_sub(1).min(20);
    let wait = (first * factor).min(ceiling);
    Some(now + wait)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::ReferenceData;
    use crate::Actor;
    use chrono::Duration;

    fn ctx<'a>(actor: &'a Actor, reference: &'a ReferenceData) -> Context<'a> {
        Context {
            actor,
            now: Utc::now(),
            reference,
        }
    }

    fn sealed() -> Sealed {
        Sealed {
            person: Uuid::nil(),
            sealed: "x".into(),
        }
    }

    fn register(url: &str, kinds: Vec<WebhookKind>) -> WebhookCommand {
        WebhookCommand::Register {
            url: url.into(),
            kinds,
            description: "Council website".into(),
            secret: sealed(),
        }
    }

    #[test]
    fn only_an_admin_registers_a_webhook_endpoint() {
        let reference = ReferenceData::default();
        let comms = Actor::new("c", [Role::Communications, Role::Auditor]);
        let command = register(
            "https://www.example.gov.uk/hooks",
            vec![WebhookKind::AccountPublished],
        );
        assert_eq!(
            decide(None, &command, &ctx(&comms, &reference)),
            Err(DomainError::MissingRole { role: Role::Admin })
        );
        let admin = Actor::new("a", [Role::Admin]);
        assert_eq!(
            decide(None, &command, &ctx(&admin, &reference))
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn an_endpoint_must_be_https_without_credentials_and_want_at_least_one_kind() {
        let reference = ReferenceData::default();
        let admin = Actor::new("a", [Role::Admin]);
        let field = |url: &str, kinds: Vec<WebhookKind>| match decide(
            None,
            &register(url, kinds),
            &ctx(&admin, &reference),
        ) {
            Err(DomainError::Invalid { field, .. }) => field,
            other => panic!("expected a refusal, got {other:?}"),
        };
        let kinds = || vec![WebhookKind::AccountWithdrawn];
        assert_eq!(field("http://www.example.gov.uk/hooks", kinds()), "url");
        assert_eq!(field("ftp://www.example.gov.uk/hooks", kinds()), "url");
        assert_eq!(field("https://user:pw@example.gov.uk/", kinds()), "url");
        assert_eq!(field("not a url", kinds()), "url");
        assert_eq!(field("https://www.example.gov.uk/hooks", vec![]), "kinds");
        // A receiver on this machine may be plain http (tests, a local relay).
        assert!(decide(
            None,
            &register("http://127.0.0.1:9/hook", kinds()),
            &ctx(&admin, &reference)
        )
        .is_ok());
    }

    #[test]
    fn disabling_a_disabled_endpoint_or_enabling_an_enabled_one_records_nothing() {
        let reference = ReferenceData::default();
        let admin = Actor::new("a", [Role::Admin]);
        let c = ctx(&admin, &reference);
        let events = decide(
            None,
            &register("https://x.example/h", vec![WebhookKind::AccountPublished]),
            &c,
        )
        .unwrap();
        let on = Endpoint::fold_events(&events);
        assert!(decide(Some(&on), &WebhookCommand::Enable, &c)
            .unwrap()
            .is_empty());
        let disable = WebhookCommand::Disable {
            reason: "maintenance".into(),
            automatic: false,
        };
        let off_events = decide(Some(&on), &disable, &c).unwrap();
        let off = Endpoint::apply(Some(on), &off_events[0]).unwrap();
        assert!(!off.enabled);
        assert!(decide(Some(&off), &disable, &c).unwrap().is_empty());
        assert_eq!(
            decide(Some(&off), &WebhookCommand::Enable, &c).unwrap(),
            vec![WebhookEvent::WebhookEndpointEnabled]
        );
    }

    #[test]
    fn retries_back_off_exponentially_and_stop_after_the_window() {
        let start = Utc::now();
        let first = Duration::seconds(5);
        let ceiling = Duration::hours(1);
        let window = Duration::hours(24);
        let wait = |now, attempts| next_attempt(start, now, attempts, first, ceiling, window);
        assert_eq!(wait(start, 1), Some(start + Duration::seconds(5)));
        assert_eq!(wait(start, 2), Some(start + Duration::seconds(10)));
        assert_eq!(wait(start, 4), Some(start + Duration::seconds(40)));
        assert_eq!(wait(start, 30), Some(start + ceiling));
        assert_eq!(wait(start + Duration::hours(24), 40), None);
    }

    impl Endpoint {
        fn fold_events(events: &[WebhookEvent]) -> Endpoint {
            events.iter().fold(None, Endpoint::apply).unwrap()
        }
    }
}
