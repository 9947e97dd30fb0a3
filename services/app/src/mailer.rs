//! The sender: delivers the outbox's messages by email over SMTP.
//!
//! A person's address is read from the vault when the message is sent (from
//! the registration that names them), so an erased person is never
//! written to: their message is marked skipped. A role's messages go to the
//! team mailbox configured for it. Each message is sent with a Message-ID
//! derived from its outbox key: should the sender die after the relay
//! accepted a message and before marking it sent, the retry carries the
//! same Message-ID, which the relay and mail clients use to recognise the
//! duplicate. Failures are retried with exponential backoff (30 s doubling,
//! at most an hour apart); a permanent refusal by the relay is not retried.

use std::collections::HashMap;
use std::time::Duration;

use crate::background::Stoppable;
use domain::form::StaffRef;
use domain::personal::Sealed;
use domain::registration::Registration;
use domain::Role;
use event_store::vault::{Revealed, Vault};
use event_store::{EventStore, Wake};
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

use crate::commands::{load_registration, HandleError};

/// How the sender reaches people.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `REGISTRY_SMTP_URL`: `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS), `smtps://…:465` (TLS) or `smtp://host:25` (plain, for a
    /// local mail catcher).
    pub smtp_url: String,
    /// `REGISTRY_MAIL_FROM`: the sender's address.
    pub from: String,
    /// `REGISTRY_STAFF_APP_URL`: where links in messages point.
    pub app_url: String,
    /// `REGISTRY_MAIL_ROLES`: each role's team mailbox.
    pub role_addresses: HashMap<Role, String>,
    /// `REGISTRY_OPERATIONS_EMAIL`: whoever runs the service (told when
    /// the projections stop).
    pub operations_address: Option<String>,
    /// `REGISTRY_DIGEST_TIME`: when (UTC) the daily digests go out.
    pub digest_time: chrono::NaiveTime,
    /// How often to look for due messages when nothing wakes the sender.
    pub poll: Duration,
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendPass {
    /// Sent.
    pub sent: usize,
    /// Skipped for good (erased person, no address).
    pub skipped: usize,
    /// Failed this time (retried later unless permanent).
    pub failed: usize,
}

fn message_id(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    format!("<{}@social-registry>", hex::encode(&digest[..16]))
}

fn what(kind: &str) -> String {
    match kind.split_once(':') {
        Some(("waiting", "risk_assessment")) => {
            "a risk assessment waits for you to record it".into()
        }
        Some(("waiting", "risk_assessment_signature")) => {
            "a risk assessment waits for your signature".into()
        }
        Some(("waiting", "senior_officer_sign_off")) => {
            "a registration waits for your sign-off".into()
        }
        Some(("waiting", "consultation_listing")) => {
            "a consultation waits for its Consultation Finder listing".into()
        }
        Some(("waiting", "approval")) => "a registration waits for approval".into(),
        Some(("waiting", "publication")) => "an approved registration waits for publication".into(),
        Some(("waiting", "link_back_check")) => {
            "an officer's profile link waits to be checked".into()
        }
        Some(("waiting", step)) if step.starts_with("branding") => {
            "a logo waits for approval".into()
        }
        Some(("waiting", _)) => "a step waits for you".into(),
        _ => match kind {
            "changes_requested" => "changes were requested to a registration".into(),
            "rejected" => "a registration (or a change to it) was not approved".into(),
            "published" => "a registration was published".into(),
            "withdrawn" => "a registration was withdrawn".into(),
            "revalidation_due_soon" => "a registration is due for re-validation soon".into(),
            "revalidation_overdue" => "a registration's re-validation is overdue".into(),
            "policy_acknowledgement_due" => {
                "the social media policy waits for your acknowledgement".into()
            }
            "consultation_closing_soon" => "a consultation closes within a week".into(),
            "fake_account_reported" => "the public reported a possible fake account".into(),
            "webhook_endpoint_disabled" => {
                "a webhook endpoint was disabled after failing continuously".into()
            }
            "projections_stopped" => "the registry's read models stopped following the log".into(),
            other => other.replace('_', " "),
        },
    }
}

/// Every member of staff a form names.
fn staff_of(f: &domain::form::Form<Sealed>) -> Vec<&StaffRef<Sealed>> {
    let mut out = vec![&f.business_contact];
    match &f.details {
        domain::form::LevelDetails::Participate {
            officer,
            line_manager,
            ..
        } => out.extend([officer, line_manager]),
        domain::form::LevelDetails::Engage { senior_officer, .. } => out.push(senior_officer),
        _ => {}
    }
    out
}

/// Every member of staff the registration names (a pending change's too).
fn people(r: &Registration) -> Vec<&StaffRef<Sealed>> {
    let mut out = staff_of(&r.form);
    if let Some(c) = &r.change {
        out.extend(staff_of(&c.candidate.form));
    }
    out
}

enum Address {
    To(String),
    Skip(&'static str),
}

async fn address_of(
    store: &EventStore,
    vault: &Vault,
    settings: &MailSettings,
    recipient: &str,
    about: Uuid,
) -> Result<Address, HandleError> {
    if recipient == "operations" {
        return Ok(settings
            .operations_address
            .clone()
            .map_or(Address::Skip("skipped: no operations mailbox"), Address::To));
    }
    if let Some(role) = recipient.strip_prefix("role:") {
        return Ok(Role::from_code(role)
            .and_then(|r| settings.role_addresses.get(&r))
            .map_or(Address::Skip("skipped: no mailbox for the role"), |a| {
                Address::To(a.clone())
            }));
    }
    let Some(subject) = recipient.strip_prefix("person:") else {
        return Ok(Address::Skip("skipped: unknown recipient"));
    };
    let (Some(r), _) = load_registration(store, about).await? else {
        return Ok(Address::Skip("skipped: no registration"));
    };
    let email = people(&r)
        .into_iter()
        .find(|p| p.subject == subject && p.email.is_some())
        .and_then(|p| p.email.clone());
    let Some(email) = email else {
        return Ok(Address::Skip("skipped: no address on the form"));
    };
    match vault
        .open(&event_store::vault::Sealed {
            person: email.person,
            sealed: email.sealed,
        })
        .await?
    {
        Revealed::Value(address) => Ok(Address::To(address)),
        Revealed::Erased => Ok(Address::Skip("skipped: erased")),
    }
}

/// One message: plain text and HTML, its Message-ID from its key.
fn build(
    settings: &MailSettings,
    to: &str,
    key: &str,
    subject: &str,
    text: String,
    html: String,
) -> Result<Message, String> {
    Message::builder()
        .from(
            settings
                .from
                .parse::<Mailbox>()
                .map_err(|_| "REGISTRY_MAIL_FROM is not an address")?,
        )
        .to(to
            .parse::<Mailbox>()
            .map_err(|_| "the recipient's address is not valid")?)
        .subject(subject)
        .message_id(Some(message_id(key)))
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html),
                ),
        )
        .map_err(|_| "the message could not be built".to_owned())
}

/// The account a registration is for, as a person would name it: e.g.
/// `X account x.com/northtown (level 3, Participate)`. Public facts only.
async fn account_label(store: &EventStore, about: Uuid) -> Result<Option<String>, HandleError> {
    let (Some(r), _) = load_registration(store, about).await? else {
        return Ok(None);
    };
    let url = r.account_key.url();
    let shown = url
        .strip_prefix("https://")
        .unwrap_or(&url)
        .trim_end_matches('/');
    Ok(Some(format!(
        "{} account {shown} (level {}, {})",
        r.account_key.platform.display_name(),
        r.level().number(),
        r.level().name()
    )))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn compose(
    settings: &MailSettings,
    to: &str,
    key: &str,
    kind: &str,
    about: Uuid,
    account: Option<&str>,
) -> Result<Message, String> {
    let what = what(kind);
    let base = settings.app_url.trim_end_matches('/');
    let (label, link, hint) = match kind {
        "webhook_endpoint_disabled" => (
            "Webhook endpoint",
            format!("{base}/graphql"),
            format!("query webhookDeliveries(endpoint: \"{about}\"); enable it with enableWebhookEndpoint once it answers"),
        ),
        "projections_stopped" => (
            "Service",
            format!("{base}/readyz"),
            "see the service's log and `read_models.checkpoints.error`".to_owned(),
        ),
        _ => (
            "Registration",
            format!("{base}/graphql"),
            format!("query registration(id: \"{about}\")"),
        ),
    };
    let why = if kind == "projections_stopped" {
        "You receive this because you run the registry."
    } else {
        "You receive this because the registry names you or your team for it."
    };
    let account_text = account
        .map(|a| format!("Account: {a}\n"))
        .unwrap_or_default();
    let account_html = account
        .map(|a| format!("Account: {}<br>", escape(a)))
        .unwrap_or_default();
    let text = format!(
        "Hello,\n\nIn the council's social media registry, {what}.\n\n\
         {account_text}{label}: {about}\nOpen it: {link} ({hint})\n\n{why}\n"
    );
    let html = format!(
        "<!doctype html><html><body><p>Hello,</p><p>In the council's social media registry, {what}.</p>\
         <p>{account_html}{label}: <code>{about}</code><br><a href=\"{link}\">Open it</a> ({})</p>\
         <p>{why}</p></body></html>",
        escape(&hint)
    );
    let mut subject = what.clone();
    if let Some(first) = subject.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    build(
        settings,
        to,
        key,
        &format!("Social media registry: {subject}"),
        text,
        html,
    )
}

/// Send what is due, one message at a time: each row is locked while it is
/// sent (so instances never send the same one at once) and marked in the
/// same transaction.
pub async fn send_due(
    pool: &PgPool,
    store: &EventStore,
    vault: &Vault,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    settings: &MailSettings,
) -> Result<SendPass, HandleError> {
    let mut pass = SendPass::default();
    for _ in 0..100 {
        let mut tx = pool.begin().await?;
        // Messages for someone who chose the daily digest wait for it.
        let row: Option<(String, String, String, Uuid, i32)> = sqlx::query_as(
            "select key, kind, recipient, about, attempts from notifications.outbox o \
             where sent_at is null and next_attempt_at <= now() \
               and not exists (select 1 from notifications.preferences p \
                               where o.recipient = 'person:' || p.subject and p.delivery = 'daily_digest') \
             order by next_attempt_at, key limit 1 for update skip locked",
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some((key, kind, recipient, about, attempts)) = row else {
            tx.rollback().await?;
            break;
        };
        let outcome = match address_of(store, vault, settings, &recipient, about).await? {
            Address::Skip(why) => Err((why.to_owned(), true)),
            Address::To(to) => match compose(
                settings,
                &to,
                &key,
                &kind,
                about,
                account_label(store, about).await?.as_deref(),
            ) {
                Err(why) => Err((format!("skipped: {why}"), true)),
                Ok(message) => match transport.send(message).await {
                    Ok(_) => Ok(()),
                    Err(e) if e.is_permanent() => Err(("smtp: refused for good".to_owned(), true)),
                    Err(_) => Err(("smtp: failed; will retry".to_owned(), false)),
                },
            },
        };
        match outcome {
            Ok(()) => {
                sqlx::query(
                    "update notifications.outbox set sent_at = now(), attempts = attempts + 1, last_error = null where key = $1",
                )
                .bind(&key)
                .execute(&mut *tx)
                .await?;
                pass.sent += 1;
                metrics::counter!("notifications_sent_total").increment(1);
            }
            Err((why, true)) => {
                sqlx::query(
                    "update notifications.outbox set sent_at = now(), attempts = attempts + 1, last_error = $2 where key = $1",
                )
                .bind(&key)
                .bind(&why)
                .execute(&mut *tx)
                .await?;
                pass.skipped += 1;
            }
            Err((why, false)) => {
                let wait = 30_i64.saturating_mul(1 << attempts.clamp(0, 7)).min(3_600);
                sqlx::query(
                    "update notifications.outbox set attempts = attempts + 1, last_error = $2, \
                     next_attempt_at = now() + make_interval(secs => $3) where key = $1",
                )
                .bind(&key)
                .bind(&why)
                .bind(wait as f64)
                .execute(&mut *tx)
                .await?;
                pass.failed += 1;
                metrics::counter!("notifications_send_failures_total").increment(1);
            }
        }
        tx.commit().await?;
    }
    Ok(pass)
}

/// The cut-off of the digest due at `now`: today's digest time once it has
/// passed, else yesterday's.
pub fn digest_cutoff(
    now: chrono::DateTime<chrono::Utc>,
    at: chrono::NaiveTime,
) -> chrono::DateTime<chrono::Utc> {
    let today = now.date_naive().and_time(at).and_utc();
    if now >= today {
        today
    } else {
        today - chrono::Duration::days(1)
    }
}

fn compose_digest(
    settings: &MailSettings,
    to: &str,
    key: &str,
    items: &[(String, Uuid, Option<String>)],
) -> Result<Message, String> {
    let link = format!("{}/graphql", settings.app_url.trim_end_matches('/'));
    let mut text = format!(
        "Hello,\n\nYour daily summary from the council's social media registry: {} item(s).\n\n",
        items.len()
    );
    let mut html = format!(
        "<!doctype html><html><body><p>Hello,</p><p>Your daily summary from the council's social media registry: {} item(s).</p><ul>",
        items.len()
    );
    for (kind, about, account) in items {
        let what = what(kind);
        let on = account
            .as_deref()
            .map(|a| format!(": {a}"))
            .unwrap_or_default();
        text.push_str(&format!("- {what}{on} (registration {about})\n"));
        html.push_str(&format!(
            "<li>{what}{} (registration <code>{about}</code>)</li>",
            escape(&on)
        ));
    }
    text.push_str(&format!(
        "\nOpen them: {link}\n\nYou receive one summary a day because you chose the daily digest.\n"
    ));
    html.push_str(&format!(
        "</ul><p><a href=\"{link}\">Open them</a></p><p>You receive one summary a day because you chose the daily digest.</p></body></html>"
    ));
    let subject = format!(
        "Social media registry: your daily summary ({} item(s))",
        items.len()
    );
    build(settings, to, key, &subject, text, html)
}

/// Send the daily digests due at `now`: for each person who chose the
/// digest, one message listing what was held for them before the cut-off,
/// keyed by person and day (its Message-ID derived from that key), the
/// messages it carries marked in the same transaction.
pub async fn send_digests(
    pool: &PgPool,
    store: &EventStore,
    vault: &Vault,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    settings: &MailSettings,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<SendPass, HandleError> {
    let mut pass = SendPass::default();
    let cutoff = digest_cutoff(now, settings.digest_time);
    let day = cutoff.date_naive();
    let subjects: Vec<String> = sqlx::query_scalar(
        "select distinct p.subject from notifications.preferences p \
         join notifications.outbox o on o.recipient = 'person:' || p.subject \
         where p.delivery = 'daily_digest' and o.sent_at is null and o.created_at < $1 \
           and o.next_attempt_at <= now() \
           and not exists (select 1 from notifications.digests d \
                           where d.subject = p.subject and d.day = $2 and d.sent_at is not null) \
         order by 1",
    )
    .bind(cutoff)
    .bind(day)
    .fetch_all(pool)
    .await?;
    for subject in subjects {
        let key = format!("digest/{subject}/{day}");
        let recipient = format!("person:{subject}");
        let mut tx = pool.begin().await?;
        let rows: Vec<(String, String, Uuid)> = sqlx::query_as(
            "select key, kind, about from notifications.outbox \
             where recipient = $1 and sent_at is null and created_at < $2 \
             order by created_at, key for update skip locked",
        )
        .bind(&recipient)
        .bind(cutoff)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            tx.rollback().await?;
            continue;
        }
        let mut to = Address::Skip("skipped: no address on the form");
        for (_, _, about) in &rows {
            to = address_of(store, vault, settings, &recipient, *about).await?;
            if !matches!(
                to,
                Address::Skip("skipped: no address on the form" | "skipped: no registration")
            ) {
                break;
            }
        }
        let keys: Vec<String> = rows.iter().map(|(k, _, _)| k.clone()).collect();
        let mut items: Vec<(String, Uuid, Option<String>)> = Vec::new();
        for (_, kind, about) in &rows {
            items.push((kind.clone(), *about, account_label(store, *about).await?));
        }
        let outcome = match to {
            Address::Skip(why) => Err((why.to_owned(), true)),
            Address::To(to) => match compose_digest(settings, &to, &key, &items) {
                Err(why) => Err((format!("skipped: {why}"), true)),
                Ok(message) => match transport.send(message).await {
                    Ok(_) => Ok(()),
                    Err(e) if e.is_permanent() => Err(("smtp: refused for good".to_owned(), true)),
                    Err(_) => Err(("smtp: failed; will retry".to_owned(), false)),
                },
            },
        };
        match outcome {
            Ok(()) | Err((_, true)) => {
                let why = outcome.err().map(|(w, _)| w);
                sqlx::query(
                    "update notifications.outbox set sent_at = now(), attempts = attempts + 1, digest = $2, last_error = $3 \
                     where key = any($1)",
                )
                .bind(&keys)
                .bind(&key)
                .bind(&why)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "insert into notifications.digests (key, subject, day, messages, sent_at, last_error) \
                     values ($1, $2, $3, $4, now(), $5) \
                     on conflict (key) do update set messages = notifications.digests.messages + excluded.messages, \
                     sent_at = excluded.sent_at, last_error = excluded.last_error",
                )
                .bind(&key)
                .bind(&subject)
                .bind(day)
                .bind(i32::try_from(keys.len()).unwrap_or(i32::MAX))
                .bind(&why)
                .execute(&mut *tx)
                .await?;
                if why.is_none() {
                    pass.sent += 1;
                    metrics::counter!("notifications_sent_total").increment(1);
                } else {
                    pass.skipped += 1;
                }
            }
            Err((why, false)) => {
                sqlx::query(
                    "update notifications.outbox set attempts = attempts + 1, last_error = $2, \
                     next_attempt_at = now() + interval '60 seconds' where key = any($1)",
                )
                .bind(&keys)
                .bind(&why)
                .execute(&mut *tx)
                .await?;
                pass.failed += 1;
                metrics::counter!("notifications_send_failures_total").increment(1);
            }
        }
        tx.commit().await?;
    }
    Ok(pass)
}

/// The running sender.
pub type SenderHandle = crate::background::Stoppable;

/// Start the sender; `None` when the SMTP URL is not usable (said why).
pub fn spawn(
    pool: PgPool,
    store: EventStore,
    vault: Vault,
    wake: Wake,
    mut outbox: watch::Receiver<u64>,
    settings: MailSettings,
) -> Result<SenderHandle, String> {
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.smtp_url)
        .map_err(|_| "REGISTRY_SMTP_URL is not a usable smtp:// or smtps:// address".to_owned())?
        .timeout(Some(Duration::from_secs(20)))
        .build();
    Ok(Stoppable::spawn(move |mut stop_rx| async move {
        let mut wake = wake;
        while !*stop_rx.borrow() {
            wake.mark_seen();
            match send_due(&pool, &store, &vault, &transport, &settings).await {
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "mail sender: pass failed; retrying"),
            }
            let now = chrono::Utc::now();
            if let Err(error) =
                send_digests(&pool, &store, &vault, &transport, &settings, now).await
            {
                tracing::warn!(%error, "mail sender: digest pass failed; retrying");
            }
            tokio::select! {
                _ = wake.wait_at_most(settings.poll) => {}
                _ = async {
                    // Once the notifier has stopped, only the poll wakes.
                    if outbox.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                } => {}
                _ = stop_rx.changed() => {}
            }
        }
    }))
}
