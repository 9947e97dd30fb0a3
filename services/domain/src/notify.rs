//! Who is told what, and when: the messages the log's facts call for.
//!
//! Pure, like the rest of the domain: [`on_event`] says which messages one
//! registration event calls for (comparing what the registration waits for
//! before and after it), and [`reminders`] which reminders the state and
//! the date call for. Each message carries a key made only of facts (the
//! event's log position, or the registration and the date it concerns), so
//! deciding again from the same log (a replay, a rebuild, a second
//! notifier after a crash) yields the same keys, and an outbox that stores
//! each key once sends each message once.
//!
//! Recipients are staff subjects or roles, never addresses: the sender
//! looks addresses up in the vault when it sends, so an erased person is
//! never written to.

use std::collections::BTreeSet;

use chrono::{Duration, NaiveDate};
use uuid::Uuid;

use crate::actor::Role;
use crate::form::LevelDetails;
use crate::registration::{Registration, RegistrationEvent, Status, Task, Waiting};

/// Days before a re-validation falls due that its contact is reminded.
pub const REVALIDATION_NOTICE_DAYS: i64 = 30;
/// Days before a consultation closes that its contact is reminded.
pub const CONSULTATION_NOTICE_DAYS: i64 = 7;

/// Who a message is for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Recipient {
    /// One member of staff, by subject.
    Person(String),
    /// Everyone holding a role (e.g. the communications team's mailbox).
    Role(Role),
    /// Whoever runs the service (the operations mailbox).
    Operations,
}

impl Recipient {
    /// How the outbox names it: `person:<subject>`, `role:<code>` or
    /// `operations`.
    pub fn key(&self) -> String {
        match self {
            Recipient::Person(s) => format!("person:{s}"),
            Recipient::Role(r) => format!("role:{}", r.code()),
            Recipient::Operations => "operations".into(),
        }
    }
}

/// What a message says.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A step waits for the recipient (`task` as the queues name it).
    Waiting {
        /// The step, e.g. `risk_assessment_signature`.
        task: String,
    },
    /// An approver asked for changes.
    ChangesRequested,
    /// The registration (or a change to it) was rejected.
    Rejected,
    /// It (or a change to it) was published.
    Published,
    /// It was withdrawn.
    Withdrawn,
    /// Its re-validation falls due within [`REVALIDATION_NOTICE_DAYS`].
    RevalidationDueSoon,
    /// Its re-validation is overdue.
    RevalidationOverdue,
    /// The current policy version is not acknowledged for it.
    PolicyAcknowledgementDue,
    /// Its consultation closes within [`CONSULTATION_NOTICE_DAYS`].
    ConsultationClosingSoon,
    /// The public reported a suspected fake account.
    FakeAccountReported,
    /// A webhook endpoint was disabled after failing continuously.
    WebhookEndpointDisabled,
    /// The read models stopped following the log.
    ProjectionsStopped,
}

impl Kind {
    /// The kind's name, as stored and as templates are named.
    pub fn name(&self) -> String {
        match self {
            Kind::Waiting { task } => format!("waiting:{task}"),
            Kind::ChangesRequested => "changes_requested".into(),
            Kind::Rejected => "rejected".into(),
            Kind::Published => "published".into(),
            Kind::Withdrawn => "withdrawn".into(),
            Kind::RevalidationDueSoon => "revalidation_due_soon".into(),
            Kind::RevalidationOverdue => "revalidation_overdue".into(),
            Kind::PolicyAcknowledgementDue => "policy_acknowledgement_due".into(),
            Kind::ConsultationClosingSoon => "consultation_closing_soon".into(),
            Kind::FakeAccountReported => "fake_account_reported".into(),
            Kind::WebhookEndpointDisabled => "webhook_endpoint_disabled".into(),
            Kind::ProjectionsStopped => "projections_stopped".into(),
        }
    }
}

/// How a person wants to be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Each message as it comes (the default).
    Immediate,
    /// One message a day listing what came since the last.
    DailyDigest,
}

impl Delivery {
    /// The stored name.
    pub fn code(self) -> &'static str {
        match self {
            Delivery::Immediate => "immediate",
            Delivery::DailyDigest => "daily_digest",
        }
    }
}

/// The prefix of each person's notification-preference stream.
pub const PREFERENCE_STREAM_PREFIX: &str = "notifypref-";

/// The stream of `subject`'s notification preferences.
pub fn preference_stream(subject: &str) -> String {
    format!(
        "{PREFERENCE_STREAM_PREFIX}{}",
        crate::personal::staff_person(subject)
    )
}

/// Something a person chose about their notifications.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum PreferenceEvent {
    /// They chose how to be told.
    NotificationPreferenceSet {
        /// Their staff subject.
        subject: String,
        /// How.
        delivery: Delivery,
    },
}

/// One message the facts call for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Message {
    /// Its key: the same facts always give the same key.
    pub key: String,
    /// What it says.
    pub kind: Kind,
    /// For whom.
    pub recipient: Recipient,
    /// The registration (or report) it is about.
    pub about: Uuid,
}

fn message(basis: &str, kind: Kind, recipient: Recipient, about: Uuid) -> Message {
    Message {
        key: format!("{basis}/{}/{}", kind.name(), recipient.key()),
        kind,
        recipient,
        about,
    }
}

fn task_name(w: &Waiting) -> String {
    w.task.name()
}

fn waiting_recipient(w: &Waiting) -> Recipient {
    match &w.assignee {
        Some(subject) => Recipient::Person(subject.clone()),
        None => Recipient::Role(w.role),
    }
}

/// The messages registration event `event`, at log `position`, calls for,
/// given the registration before it (`None` for its first event) and after.
///
/// - Whoever a step newly waits for is told (the person the form names, or
///   the role's team): nothing is sent for what already waited.
/// - A request for changes and a rejection go to whoever must answer it
///   (the applicant, or the proposer of a change).
/// - A publication and a withdrawal go to the applicant and the business
///   contact.
/// - Nobody is told of their own act.
pub fn on_event(
    before: Option<&Registration>,
    after: &Registration,
    event: &RegistrationEvent,
    actor: &str,
    position: i64,
) -> Vec<Message> {
    let basis = position.to_string();
    let mut out = BTreeSet::new();
    let waited: BTreeSet<(Recipient, String)> = before
        .map(|b| {
            b.waiting_on()
                .iter()
                .map(|w| (waiting_recipient(w), task_name(w)))
                .collect()
        })
        .unwrap_or_default();
    for w in after.waiting_on() {
        let pair = (waiting_recipient(&w), task_name(&w));
        // The answer to a request for changes is told as the request.
        if !waited.contains(&pair) && !matches!(w.task, Task::ChangesRequested) {
            out.insert(message(
                &basis,
                Kind::Waiting { task: pair.1 },
                pair.0,
                after.id,
            ));
        }
    }
    let answerer = || {
        before
            .and_then(|b| b.change.as_ref())
            .map_or_else(|| after.applicant.clone(), |c| c.proposed_by.clone())
    };
    let owners = || {
        [
            after.applicant.clone(),
            after.form.business_contact.subject.clone(),
        ]
    };
    match event {
        RegistrationEvent::ChangesRequested { .. } => {
            out.insert(message(
                &basis,
                Kind::ChangesRequested,
                Recipient::Person(answerer()),
                after.id,
            ));
        }
        RegistrationEvent::RegistrationRejected { .. }
        | RegistrationEvent::ChangeRefused { .. } => {
            out.insert(message(
                &basis,
                Kind::Rejected,
                Recipient::Person(answerer()),
                after.id,
            ));
        }
        RegistrationEvent::RegistrationPublished { .. }
        | RegistrationEvent::ChangePublished { .. } => {
            for who in owners() {
                out.insert(message(
                    &basis,
                    Kind::Published,
                    Recipient::Person(who),
                    after.id,
                ));
            }
        }
        RegistrationEvent::RegistrationWithdrawn { .. } => {
            for who in owners() {
                out.insert(message(
                    &basis,
                    Kind::Withdrawn,
                    Recipient::Person(who),
                    after.id,
                ));
            }
        }
        _ => {}
    }
    out.into_iter()
        .filter(|m| m.recipient != Recipient::Person(actor.to_owned()))
        .collect()
}

/// The message a fake-account report calls for: communications is told.
pub fn on_fake_report(report: Uuid, position: i64) -> Message {
    message(
        &position.to_string(),
        Kind::FakeAccountReported,
        Recipient::Role(Role::Communications),
        report,
    )
}

/// The message a webhook endpoint's automatic disabling (at log
/// `position`) calls for: the admins, who registered it, are told.
pub fn on_webhook_disabled(endpoint: Uuid, position: i64) -> Message {
    message(
        &position.to_string(),
        Kind::WebhookEndpointDisabled,
        Recipient::Role(Role::Admin),
        endpoint,
    )
}

/// The message a projection stalled at `position` calls for: operations
/// is told once for each position it stopped at.
pub fn on_projection_stalled(projection: &str, position: i64) -> Message {
    message(
        &format!("projection/{projection}/{position}"),
        Kind::ProjectionsStopped,
        Recipient::Operations,
        Uuid::nil(),
    )
}

/// The reminders registration `r` calls for on `today`, each keyed by the
/// date or version it concerns (so each is sent once, however often this
/// is asked):
/// - re-validation due within 30 days: its business contact;
/// - re-validation overdue: its business contact and communications;
/// - the current policy `version` not acknowledged: its business contact;
/// - a level-2 consultation closing within 7 days: its business contact.
pub fn reminders(
    r: &Registration,
    today: NaiveDate,
    review_period_days: i64,
    current_policy: Option<&str>,
) -> Vec<Message> {
    let mut out = Vec::new();
    if r.status != Status::Published {
        return out;
    }
    let contact = || Recipient::Person(r.form.business_contact.subject.clone());
    let now = today.and_time(chrono::NaiveTime::MIN).and_utc();
    if let Some(due) = r.revalidation_due(now, review_period_days) {
        let basis = format!("{}/revalidation/{}", r.id, due.due_on);
        // Overdue from its due date on, as the queues count it.
        if due.due_on <= today {
            out.push(message(&basis, Kind::RevalidationOverdue, contact(), r.id));
            out.push(message(
                &basis,
                Kind::RevalidationOverdue,
                Recipient::Role(Role::Communications),
                r.id,
            ));
        } else if due.due_on - Duration::days(REVALIDATION_NOTICE_DAYS) <= today {
            out.push(message(&basis, Kind::RevalidationDueSoon, contact(), r.id));
        }
    }
    if let Some(version) = current_policy {
        if r.policy_acknowledgement.version != version {
            out.push(message(
                &format!("{}/policy/{version}", r.id),
                Kind::PolicyAcknowledgementDue,
                contact(),
                r.id,
            ));
        }
    }
    if let LevelDetails::Consult { closes_on, .. } = &r.form.details {
        if today <= *closes_on && *closes_on - Duration::days(CONSULTATION_NOTICE_DAYS) <= today {
            out.push(message(
                &format!("{}/consultation/{closes_on}", r.id),
                Kind::ConsultationClosingSoon,
                contact(),
                r.id,
            ));
        }
    }
    out
}
