//! The read models and how each applies an event.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use domain::form::LevelDetails;
use domain::reference::ReferenceEvent;
use domain::registration::{Registration, RegistrationEvent, Status, Step};
use domain::Level;
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::decode::Decoded;
use crate::officer_slug;
use crate::scrub::{persons, scrub};

/// A read model: a named set of tables with one checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReadModel {
    /// Every registration, for staff and approvers.
    Registrations,
    /// Published accounts (public).
    Directory,
    /// Account → verified / withdrawn, and officers' pages (public).
    Verification,
    /// Level-2 registrations for the consultation team.
    Consultations,
    /// What waits for whom.
    ApprovalQueues,
    /// Published registrations and their review dates.
    RevalidationDue,
    /// Names of services and job roles.
    Reference,
}

impl ReadModel {
    /// Every read model.
    pub const ALL: [ReadModel; 7] = [
        ReadModel::Registrations,
        ReadModel::Directory,
        ReadModel::Verification,
        ReadModel::Consultations,
        ReadModel::ApprovalQueues,
        ReadModel::RevalidationDue,
        ReadModel::Reference,
    ];

    /// Its checkpoint name.
    pub fn name(self) -> &'static str {
        match self {
            ReadModel::Registrations => "registrations",
            ReadModel::Directory => "directory",
            ReadModel::Verification => "verification",
            ReadModel::Consultations => "consultations",
            ReadModel::ApprovalQueues => "approval_queues",
            ReadModel::RevalidationDue => "revalidation_due",
            ReadModel::Reference => "reference",
        }
    }

    /// Its tables.
    pub fn tables(self) -> &'static [&'static str] {
        match self {
            ReadModel::Registrations => &["registrations"],
            ReadModel::Directory => &["directory"],
            ReadModel::Verification => &["verification_accounts", "officers"],
            ReadModel::Consultations => &["consultations"],
            ReadModel::ApprovalQueues => &["approval_queue"],
            ReadModel::RevalidationDue => &["revalidation_due"],
            ReadModel::Reference => &["org_units", "job_roles"],
        }
    }
}

/// Every table of the read-model schema, checkpoints first.
pub fn all_tables() -> Vec<&'static str> {
    let mut t = vec!["checkpoints"];
    t.extend(
        ReadModel::ALL
            .iter()
            .flat_map(|m| m.tables().iter().copied()),
    );
    t
}

/// What applying one event needs.
pub(crate) struct Apply<'a> {
    pub conn: &'a mut PgConnection,
    pub schema: &'a str,
    pub position: i64,
    pub at: DateTime<Utc>,
    pub review_period_days: i64,
    pub erased: &'a BTreeSet<Uuid>,
}

impl Apply<'_> {
    async fn exec(
        &mut self,
        sql: &str,
        build: impl FnOnce(
            sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
        )
            -> sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> Result<(), sqlx::Error> {
        let sql = sql.replace("{s}", self.schema);
        build(sqlx::query(&sql)).execute(&mut *self.conn).await?;
        Ok(())
    }
}

/// Apply one decoded event to one read model.
pub(crate) async fn apply(
    model: ReadModel,
    a: &mut Apply<'_>,
    d: &Decoded,
) -> Result<(), sqlx::Error> {
    match (model, d) {
        (_, Decoded::Ignored) | (_, Decoded::Broken(_)) => Ok(()),
        (ReadModel::Reference, Decoded::Reference(r)) => reference(a, r).await,
        (_, Decoded::Reference(_)) => Ok(()),
        (ReadModel::Registrations, Decoded::Erasure(p)) => erase_registrations(a, *p).await,
        (ReadModel::Verification, Decoded::Erasure(p)) => erase_officers(a, *p).await,
        (_, Decoded::Erasure(_)) => Ok(()),
        (ReadModel::Reference, Decoded::Registration { .. }) => Ok(()),
        (model, Decoded::Registration { event, state }) => {
            let mut json = serde_json::to_value(state.as_ref()).expect("state serialises");
            scrub(&mut json, a.erased);
            match model {
                ReadModel::Registrations => registrations(a, state, &json).await,
                ReadModel::Directory => directory(a, state).await,
                ReadModel::Verification => verification(a, event, state, &json).await,
                ReadModel::Consultations => consultations(a, state).await,
                ReadModel::ApprovalQueues => approval_queue(a, state).await,
                ReadModel::RevalidationDue => revalidation(a, state).await,
                ReadModel::Reference => Ok(()),
            }
        }
    }
}

fn step_name(step: &Step) -> String {
    match step {
        Step::RiskAssessment => "risk_assessment".into(),
        Step::RiskAssessmentSignature => "risk_assessment_signature".into(),
        Step::SeniorOfficerSignOff => "senior_officer_sign_off".into(),
        Step::ConsultationListing => "consultation_listing".into(),
        Step::BrandingApproval(id) => format!("branding:{id}"),
        Step::CommunicationsApproval => "approval".into(),
    }
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Submitted => "submitted",
        Status::ChangesRequested => "changes_requested",
        Status::Approved => "approved",
        Status::Published => "published",
        Status::Withdrawn => "withdrawn",
        Status::Rejected => "rejected",
    }
}

fn level_number(s: &Registration) -> i16 {
    i16::from(s.level().number())
}

async fn registrations(
    a: &mut Apply<'_>,
    s: &Registration,
    json: &Value,
) -> Result<(), sqlx::Error> {
    let mut steps = s.level_steps();
    steps.extend(
        s.form
            .branding_assets
            .iter()
            .map(|b| Step::BrandingApproval(b.id.clone())),
    );
    steps.push(Step::CommunicationsApproval);
    let done: Vec<String> = steps
        .iter()
        .filter(|st| s.is_done(st))
        .map(step_name)
        .collect();
    let outstanding: Vec<String> = s.outstanding().iter().map(step_name).collect();
    let named: Vec<String> = s
        .form
        .named_subjects()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let persons: Vec<Uuid> = persons(json).into_iter().collect();
    let position = a.position;
    a.exec(
        "insert into {s}.registrations (id, version, status, level, platform, account_key, account_input, \
           service_area, applicant, named_subjects, steps_done, steps_outstanding, submitted_at, updated_at, \
           published_at, withdrawn_at, last_position, state, persons) \
         values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19) \
         on conflict (id) do update set version = excluded.version, status = excluded.status, \
           platform = excluded.platform, account_key = excluded.account_key, account_input = excluded.account_input, \
           service_area = excluded.service_area, named_subjects = excluded.named_subjects, \
           steps_done = excluded.steps_done, steps_outstanding = excluded.steps_outstanding, \
           updated_at = excluded.updated_at, published_at = excluded.published_at, \
           withdrawn_at = excluded.withdrawn_at, last_position = excluded.last_position, \
           state = excluded.state, persons = excluded.persons",
        |q| {
            q.bind(s.id)
                .bind(s.version)
                .bind(status_name(s.status))
                .bind(level_number(s))
                .bind(s.form.platform.code())
                .bind(s.account_key.to_string())
                .bind(s.form.account.clone())
                .bind(s.form.service_area.clone())
                .bind(s.applicant.clone())
                .bind(named)
                .bind(done)
                .bind(outstanding)
                .bind(s.submitted_at)
                .bind(s.updated_at)
                .bind(s.published.as_ref().map(|p| p.at))
                .bind(s.withdrawal.as_ref().map(|w| w.1.at))
                .bind(position)
                .bind(json.clone())
                .bind(persons)
        },
    )
    .await
}

async fn erase_registrations(a: &mut Apply<'_>, person: Uuid) -> Result<(), sqlx::Error> {
    let sql = format!(
        "select id, state from {}.registrations where persons @> array[$1]::uuid[]",
        a.schema
    );
    let rows: Vec<(Uuid, Value)> = sqlx::query_as(&sql)
        .bind(person)
        .fetch_all(&mut *a.conn)
        .await?;
    let erased = BTreeSet::from([person]);
    for (id, mut state) in rows {
        scrub(&mut state, &erased);
        a.exec(
            "update {s}.registrations set state = $2 where id = $1",
            |q| q.bind(id).bind(state),
        )
        .await?;
    }
    Ok(())
}

async fn directory(a: &mut Apply<'_>, s: &Registration) -> Result<(), sqlx::Error> {
    if s.status != Status::Published {
        return a
            .exec(
                "delete from {s}.directory where registration_id = $1",
                |q| q.bind(s.id),
            )
            .await;
    }
    let slug = officer_person(s).map(officer_slug);
    let published_at = s.published.as_ref().map(|p| p.at).unwrap_or(s.updated_at);
    a.exec(
        "insert into {s}.directory (registration_id, platform, account_key, account_url, level, service_area, officer_slug, published_at) \
         values ($1,$2,$3,$4,$5,$6,$7,$8) \
         on conflict (registration_id) do update set service_area = excluded.service_area",
        |q| {
            q.bind(s.id)
                .bind(s.form.platform.code())
                .bind(s.account_key.to_string())
                .bind(s.account_key.url())
                .bind(level_number(s))
                .bind(s.form.service_area.clone())
                .bind(slug)
                .bind(published_at)
        },
    )
    .await
}

fn officer_person(s: &Registration) -> Option<Uuid> {
    match &s.form.details {
        LevelDetails::Participate { officer, .. } => Some(officer.name.person),
        _ => None,
    }
}

async fn verification(
    a: &mut Apply<'_>,
    event: &RegistrationEvent,
    s: &Registration,
    json: &Value,
) -> Result<(), sqlx::Error> {
    match event {
        RegistrationEvent::RegistrationPublished { sign_off, .. } => {
            let slug = officer_person(s).map(officer_slug);
            a.exec(
                "insert into {s}.verification_accounts (account_key, platform, account_url, status, registration_id, level, \
                   service_area, officer_slug, verified_since, withdrawn_at) \
                 values ($1,$2,$3,'verified',$4,$5,$6,$7,$8,null) \
                 on conflict (account_key) do update set platform = excluded.platform, account_url = excluded.account_url, \
                   status = 'verified', registration_id = excluded.registration_id, level = excluded.level, \
                   service_area = excluded.service_area, officer_slug = excluded.officer_slug, \
                   verified_since = excluded.verified_since, withdrawn_at = null",
                |q| {
                    q.bind(s.account_key.to_string())
                        .bind(s.form.platform.code())
                        .bind(s.account_key.url())
                        .bind(s.id)
                        .bind(level_number(s))
                        .bind(s.form.service_area.clone())
                        .bind(slug.clone())
                        .bind(sign_off.at)
                },
            )
            .await?;
            if let (Some(slug), LevelDetails::Participate { job_role, .. }) = (slug, &s.form.details) {
                let name = json["form"]["details"]["officer"]["name"].clone();
                a.exec(
                    "insert into {s}.officers (slug, name, job_role, service_area, published_since) values ($1,$2,$3,$4,$5) \
                     on conflict (slug) do update set name = excluded.name, job_role = excluded.job_role, \
                       service_area = excluded.service_area",
                    |q| q.bind(slug).bind(name).bind(job_role.clone()).bind(s.form.service_area.clone()).bind(sign_off.at),
                )
                .await?;
            }
            Ok(())
        }
        RegistrationEvent::RegistrationWithdrawn { sign_off, .. } if s.published.is_some() => {
            a.exec(
                "update {s}.verification_accounts set status = 'withdrawn', withdrawn_at = $2 where registration_id = $1",
                |q| q.bind(s.id).bind(sign_off.at),
            )
            .await
        }
        _ => Ok(()),
    }
}

async fn erase_officers(a: &mut Apply<'_>, person: Uuid) -> Result<(), sqlx::Error> {
    a.exec(
        "update {s}.officers set name = jsonb_build_object('person', $1::text, 'erased', true) where name->>'person' = $1::text",
        |q| q.bind(person),
    )
    .await
}

async fn consultations(a: &mut Apply<'_>, s: &Registration) -> Result<(), sqlx::Error> {
    let LevelDetails::Consult {
        topic,
        opens_on,
        closes_on,
    } = &s.form.details
    else {
        return Ok(());
    };
    a.exec(
        "insert into {s}.consultations (registration_id, account_key, platform, service_area, topic, opens_on, closes_on, \
           finder_reference, status, updated_at) values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) \
         on conflict (registration_id) do update set account_key = excluded.account_key, platform = excluded.platform, \
           service_area = excluded.service_area, topic = excluded.topic, opens_on = excluded.opens_on, \
           closes_on = excluded.closes_on, finder_reference = excluded.finder_reference, status = excluded.status, \
           updated_at = excluded.updated_at",
        |q| {
            q.bind(s.id)
                .bind(s.account_key.to_string())
                .bind(s.form.platform.code())
                .bind(s.form.service_area.clone())
                .bind(topic.clone())
                .bind(*opens_on)
                .bind(*closes_on)
                .bind(s.consultation_listing.as_ref().map(|l| l.0.clone()))
                .bind(status_name(s.status))
                .bind(s.updated_at)
        },
    )
    .await
}

/// What waits for whom: (role, step, named assignee).
pub fn queue_items(s: &Registration) -> Vec<(&'static str, String, Option<String>)> {
    let mut items = Vec::new();
    let unapproved_branding = s
        .form
        .branding_assets
        .iter()
        .filter(|b| !s.branding_approvals.contains_key(&b.id));
    match s.status {
        Status::Submitted => {
            match s.level() {
                Level::Broadcast => {}
                Level::Consult if s.consultation_listing.is_none() => {
                    items.push(("consultation", step_name(&Step::ConsultationListing), None));
                }
                Level::Participate if s.risk_assessment.is_none() => {
                    items.push((
                        "staff",
                        step_name(&Step::RiskAssessment),
                        Some(s.applicant.clone()),
                    ));
                }
                Level::Participate if s.risk_signature.is_none() => {
                    items.push((
                        "line_manager",
                        step_name(&Step::RiskAssessmentSignature),
                        s.line_manager().map(str::to_owned),
                    ));
                }
                Level::Engage if s.senior_sign_off.is_none() => {
                    items.push((
                        "senior_officer",
                        step_name(&Step::SeniorOfficerSignOff),
                        s.senior_officer().map(str::to_owned),
                    ));
                }
                _ => {}
            }
            if s.level_steps().iter().all(|st| s.is_done(st)) {
                items.push((
                    "communications",
                    step_name(&Step::CommunicationsApproval),
                    None,
                ));
            }
            for b in unapproved_branding {
                items.push((
                    "communications",
                    step_name(&Step::BrandingApproval(b.id.clone())),
                    None,
                ));
            }
        }
        Status::Approved => {
            let pending: Vec<_> = unapproved_branding.collect();
            if pending.is_empty() {
                items.push(("communications", "publication".to_owned(), None));
            }
            for b in pending {
                items.push((
                    "communications",
                    step_name(&Step::BrandingApproval(b.id.clone())),
                    None,
                ));
            }
        }
        Status::ChangesRequested => items.push((
            "staff",
            "changes_requested".to_owned(),
            Some(s.applicant.clone()),
        )),
        Status::Published | Status::Withdrawn | Status::Rejected => {}
    }
    items
}

async fn approval_queue(a: &mut Apply<'_>, s: &Registration) -> Result<(), sqlx::Error> {
    let items = queue_items(s);
    let keys: Vec<String> = items
        .iter()
        .map(|(role, step, _)| format!("{role}/{step}"))
        .collect();
    a.exec(
        "delete from {s}.approval_queue where registration_id = $1 and not (role || '/' || step = any($2))",
        |q| q.bind(s.id).bind(keys),
    )
    .await?;
    let at = a.at;
    for (role, step, assignee) in items {
        a.exec(
            "insert into {s}.approval_queue (registration_id, role, step, assignee, level, account_key, service_area, waiting_since) \
             values ($1,$2,$3,$4,$5,$6,$7,$8) on conflict (registration_id, role, step) do update \
             set assignee = excluded.assignee, account_key = excluded.account_key, service_area = excluded.service_area",
            |q| {
                q.bind(s.id)
                    .bind(role)
                    .bind(step)
                    .bind(assignee)
                    .bind(level_number(s))
                    .bind(s.account_key.to_string())
                    .bind(s.form.service_area.clone())
                    .bind(at)
            },
        )
        .await?;
    }
    Ok(())
}

async fn revalidation(a: &mut Apply<'_>, s: &Registration) -> Result<(), sqlx::Error> {
    let (Status::Published, Some(last)) = (s.status, s.last_validated.as_ref()) else {
        return a
            .exec(
                "delete from {s}.revalidation_due where registration_id = $1",
                |q| q.bind(s.id),
            )
            .await;
    };
    let due_on = (last.at + Duration::days(a.review_period_days)).date_naive();
    a.exec(
        "insert into {s}.revalidation_due (registration_id, account_key, platform, service_area, contact_subject, \
           last_validated_at, due_on) values ($1,$2,$3,$4,$5,$6,$7) \
         on conflict (registration_id) do update set last_validated_at = excluded.last_validated_at, \
           due_on = excluded.due_on, contact_subject = excluded.contact_subject",
        |q| {
            q.bind(s.id)
                .bind(s.account_key.to_string())
                .bind(s.form.platform.code())
                .bind(s.form.service_area.clone())
                .bind(s.form.business_contact.subject.clone())
                .bind(last.at)
                .bind(due_on)
        },
    )
    .await
}

async fn reference(a: &mut Apply<'_>, r: &ReferenceEvent) -> Result<(), sqlx::Error> {
    match r {
        ReferenceEvent::OrganisationalUnitAdded { code, name } => {
            a.exec(
                "insert into {s}.org_units (code, name, retired) values ($1, $2, false) \
                 on conflict (code) do update set name = excluded.name, retired = false",
                |q| q.bind(code.clone()).bind(name.clone()),
            )
            .await
        }
        ReferenceEvent::OrganisationalUnitRetired { code } => {
            a.exec(
                "update {s}.org_units set retired = true where code = $1",
                |q| q.bind(code.clone()),
            )
            .await
        }
        ReferenceEvent::JobRoleAccepted { code, title } => {
            a.exec(
                "insert into {s}.job_roles (code, title, accepted) values ($1, $2, true) \
                 on conflict (code) do update set title = excluded.title, accepted = true",
                |q| q.bind(code.clone()).bind(title.clone()),
            )
            .await
        }
        ReferenceEvent::JobRoleWithdrawn { code } => {
            a.exec(
                "update {s}.job_roles set accepted = false where code = $1",
                |q| q.bind(code.clone()),
            )
            .await
        }
        _ => Ok(()),
    }
}

/// The erased marker, as stored.
pub fn erased_marker(person: Uuid) -> Value {
    json!({ "person": person, "erased": true })
}
