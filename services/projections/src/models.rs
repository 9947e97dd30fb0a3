//! The read models and how each applies an event.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use domain::form::LevelDetails;
use domain::reference::ReferenceEvent;
use domain::registration::{Registration, Status, Step, Task};
use domain::report::ReportEvent;
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::decode::Decoded;
use crate::officer_slug;
use crate::scrub::scrub;

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
            ReadModel::ApprovalQueues => &["approval_queue", "fake_reports"],
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

/// One event of a batch, as a model sees it.
pub(crate) struct Item<'a> {
    pub position: i64,
    pub at: DateTime<Utc>,
    pub decoded: &'a Decoded,
}

/// The latest state of one registration within a batch.
struct Latest<'a> {
    position: i64,
    state: &'a Registration,
    json: Value,
}

/// What a batch means for the read models: the last state of each
/// registration it touches (scrubbed of everyone erased by then), every
/// intermediate state (for queue times), erasures and reference changes.
pub(crate) struct Digest<'a> {
    latest: Vec<Latest<'a>>,
    history: BTreeMap<Uuid, Vec<(DateTime<Utc>, &'a Registration)>>,
    erasures: Vec<Uuid>,
    reference: Vec<&'a ReferenceEvent>,
    reports: Vec<(Uuid, &'a ReportEvent)>,
}

pub(crate) fn digest<'a>(items: &[Item<'a>], erased_before: &BTreeSet<Uuid>) -> Digest<'a> {
    let mut erased = erased_before.clone();
    let mut latest: BTreeMap<Uuid, Latest<'a>> = BTreeMap::new();
    let mut history: BTreeMap<Uuid, Vec<(DateTime<Utc>, &'a Registration)>> = BTreeMap::new();
    let mut erasures = Vec::new();
    let mut reference = Vec::new();
    let mut reports = Vec::new();
    for item in items {
        match item.decoded {
            Decoded::Registration { state, .. } => {
                let mut json = serde_json::to_value(state.as_ref()).expect("state serialises");
                scrub(&mut json, &erased);
                latest.insert(
                    state.id,
                    Latest {
                        position: item.position,
                        state,
                        json,
                    },
                );
                history.entry(state.id).or_default().push((item.at, state));
            }
            Decoded::Erasure(person) => {
                erased.insert(*person);
                erasures.push(*person);
            }
            Decoded::Reference(r) => reference.push(r),
            Decoded::Report { id, event } => reports.push((*id, event)),
            Decoded::Ignored | Decoded::Broken(_) => {}
        }
    }
    let mut latest: Vec<Latest<'a>> = latest.into_values().collect();
    latest.sort_by_key(|l| l.position);
    Digest {
        latest,
        history,
        erasures,
        reference,
        reports,
    }
}

/// Apply a run of events (none of them broken for this model), digested, to
/// one model, with as few statements as the model allows.
pub(crate) async fn apply_items(
    model: ReadModel,
    conn: &mut PgConnection,
    schema: &str,
    d: &Digest<'_>,
    review_period_days: i64,
) -> Result<(), sqlx::Error> {
    let mut w = Writer { conn, schema };
    match model {
        ReadModel::Registrations => {
            let rows: Vec<Value> = d.latest.iter().map(registration_row).collect();
            w.upsert("registrations", "id", &rows).await?;
            for person in &d.erasures {
                erase_registrations(&mut w, *person).await?;
            }
        }
        ReadModel::Directory => {
            let (published, other): (Vec<&Latest>, Vec<&Latest>) = d
                .latest
                .iter()
                .partition(|l| l.state.status == Status::Published);
            w.delete(
                "directory",
                "registration_id",
                other.iter().map(|l| l.state.id).collect(),
            )
            .await?;
            let rows: Vec<Value> = published.iter().map(|l| directory_row(l.state)).collect();
            w.upsert("directory", "registration_id", &rows).await?;
        }
        ReadModel::Verification => {
            for l in d.latest.iter().filter(|l| l.state.published.is_some()) {
                verification(&mut w, l).await?;
            }
            for person in &d.erasures {
                erase_officers(&mut w, *person).await?;
            }
        }
        ReadModel::Consultations => {
            let rows: Vec<Value> = d
                .latest
                .iter()
                .filter_map(|l| consultation_row(l.state))
                .collect();
            w.upsert("consultations", "registration_id", &rows).await?;
        }
        ReadModel::RevalidationDue => {
            let (due, other): (Vec<&Latest>, Vec<&Latest>) = d.latest.iter().partition(|l| {
                l.state.status == Status::Published && l.state.last_validated.is_some()
            });
            w.delete(
                "revalidation_due",
                "registration_id",
                other.iter().map(|l| l.state.id).collect(),
            )
            .await?;
            let rows: Vec<Value> = due
                .iter()
                .map(|l| revalidation_row(l.state, review_period_days))
                .collect();
            w.upsert("revalidation_due", "registration_id", &rows)
                .await?;
        }
        ReadModel::ApprovalQueues => {
            approval_queue(&mut w, d).await?;
            for (id, event) in &d.reports {
                report(&mut w, *id, event).await?;
            }
        }
        ReadModel::Reference => {
            for r in &d.reference {
                reference(&mut w, r).await?;
            }
        }
    }
    Ok(())
}

/// Writes rows given as JSON objects, many per statement.
struct Writer<'a> {
    conn: &'a mut PgConnection,
    schema: &'a str,
}

impl Writer<'_> {
    async fn upsert(&mut self, table: &str, key: &str, rows: &[Value]) -> Result<(), sqlx::Error> {
        let Some(first) = rows.first() else {
            return Ok(());
        };
        let updates: Vec<String> = first
            .as_object()
            .expect("rows are objects")
            .keys()
            .filter(|c| *c != key)
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        let s = self.schema;
        let sql = format!(
            "insert into {s}.{table} select * from jsonb_populate_recordset(null::{s}.{table}, $1) \
             on conflict ({key}) do update set {}",
            updates.join(", ")
        );
        sqlx::query(&sql)
            .bind(Value::Array(rows.to_vec()))
            .execute(&mut *self.conn)
            .await?;
        Ok(())
    }

    async fn delete(&mut self, table: &str, key: &str, ids: Vec<Uuid>) -> Result<(), sqlx::Error> {
        if ids.is_empty() {
            return Ok(());
        }
        let sql = format!("delete from {}.{table} where {key} = any($1)", self.schema);
        sqlx::query(&sql).bind(ids).execute(&mut *self.conn).await?;
        Ok(())
    }

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

/// The name of a step in the read models and the API, e.g. `branding:<id>`.
pub fn step_name(step: &Step) -> String {
    match step {
        Step::RiskAssessment => "risk_assessment".into(),
        Step::RiskAssessmentSignature => "risk_assessment_signature".into(),
        Step::SeniorOfficerSignOff => "senior_officer_sign_off".into(),
        Step::ConsultationListing => "consultation_listing".into(),
        Step::BrandingApproval(id) => format!("branding:{id}"),
        Step::CommunicationsApproval => "approval".into(),
    }
}

/// The name of a status in the read models, e.g. `changes_requested`.
pub fn status_name(s: Status) -> &'static str {
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

fn officer_person(s: &Registration) -> Option<Uuid> {
    match &s.form.details {
        LevelDetails::Participate { officer, .. } => Some(officer.name.person),
        _ => None,
    }
}

/// What waits for whom, as the approval queue stores it: (role code, step
/// name, named assignee). The rule is `Registration::waiting_on`.
pub fn queue_items(s: &Registration) -> Vec<(&'static str, String, Option<String>)> {
    s.waiting_on()
        .into_iter()
        .map(|w| {
            let step = match &w.task {
                Task::Step(step) => step_name(step),
                Task::Publication => "publication".to_owned(),
                Task::ChangesRequested => "changes_requested".to_owned(),
            };
            (w.role.code(), step, w.assignee)
        })
        .collect()
}

/// The erased marker, as stored.
pub fn erased_marker(person: Uuid) -> Value {
    json!({ "person": person, "erased": true })
}

fn registration_row(l: &Latest<'_>) -> Value {
    let s = l.state;
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
    let named: Vec<&str> = s.form.named_subjects().into_iter().collect();
    json!({
        "id": s.id,
        "version": s.version,
        "status": status_name(s.status),
        "level": level_number(s),
        "platform": s.form.platform.code(),
        "account_key": s.account_key.to_string(),
        "account_input": s.form.account,
        "service_area": s.form.service_area,
        "applicant": s.applicant,
        "named_subjects": named,
        "steps_done": done,
        "steps_outstanding": outstanding,
        "submitted_at": s.submitted_at,
        "updated_at": s.updated_at,
        "published_at": s.published.as_ref().map(|p| p.at),
        "withdrawn_at": s.withdrawal.as_ref().map(|w| w.1.at),
        "last_position": l.position,
        "state": l.json,
        "persons": s.personal_fields().iter().map(|(_, v)| v.person).collect::<BTreeSet<_>>(),
    })
}

async fn erase_registrations(w: &mut Writer<'_>, person: Uuid) -> Result<(), sqlx::Error> {
    let sql = format!(
        "select id, state from {}.registrations where persons @> array[$1]::uuid[]",
        w.schema
    );
    let rows: Vec<(Uuid, Value)> = sqlx::query_as(&sql)
        .bind(person)
        .fetch_all(&mut *w.conn)
        .await?;
    let erased = BTreeSet::from([person]);
    for (id, mut state) in rows {
        scrub(&mut state, &erased);
        w.exec(
            "update {s}.registrations set state = $2 where id = $1",
            |q| q.bind(id).bind(state),
        )
        .await?;
    }
    Ok(())
}

fn directory_row(s: &Registration) -> Value {
    json!({
        "registration_id": s.id,
        "platform": s.form.platform.code(),
        "account_key": s.account_key.to_string(),
        "account_url": s.account_key.url(),
        "level": level_number(s),
        "service_area": s.form.service_area,
        "officer_slug": officer_person(s).map(officer_slug),
        "published_at": s.published.as_ref().map(|p| p.at).unwrap_or(s.updated_at),
    })
}

/// A published registration's verification entry: verified, or withdrawn
/// (a withdrawn entry never displaces another registration's entry for the
/// same account).
async fn verification(w: &mut Writer<'_>, l: &Latest<'_>) -> Result<(), sqlx::Error> {
    let s = l.state;
    let published = s
        .published
        .as_ref()
        .expect("only published registrations are verified");
    let slug = officer_person(s).map(officer_slug);
    let withdrawn_at = s
        .withdrawal
        .as_ref()
        .filter(|_| s.status == Status::Withdrawn)
        .map(|w| w.1.at);
    let guard = if withdrawn_at.is_some() {
        "where verification_accounts.registration_id = excluded.registration_id"
    } else {
        ""
    };
    let sql = format!(
        "insert into {{s}}.verification_accounts (account_key, platform, account_url, status, registration_id, level, \
           service_area, officer_slug, verified_since, withdrawn_at) \
         values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) \
         on conflict (account_key) do update set platform = excluded.platform, account_url = excluded.account_url, \
           status = excluded.status, registration_id = excluded.registration_id, level = excluded.level, \
           service_area = excluded.service_area, officer_slug = excluded.officer_slug, \
           verified_since = excluded.verified_since, withdrawn_at = excluded.withdrawn_at {guard}"
    );
    w.exec(&sql, |q| {
        q.bind(s.account_key.to_string())
            .bind(s.form.platform.code())
            .bind(s.account_key.url())
            .bind(if withdrawn_at.is_some() {
                "withdrawn"
            } else {
                "verified"
            })
            .bind(s.id)
            .bind(level_number(s))
            .bind(s.form.service_area.clone())
            .bind(slug.clone())
            .bind(published.at)
            .bind(withdrawn_at)
    })
    .await?;
    if let (Some(slug), LevelDetails::Participate { job_role, .. }) = (slug, &s.form.details) {
        let name = l.json["form"]["details"]["officer"]["name"].clone();
        w.exec(
            "insert into {s}.officers (slug, name, job_role, service_area, published_since) values ($1,$2,$3,$4,$5) \
             on conflict (slug) do update set name = excluded.name, job_role = excluded.job_role, \
               service_area = excluded.service_area",
            |q| q.bind(slug).bind(name).bind(job_role.clone()).bind(s.form.service_area.clone()).bind(published.at),
        )
        .await?;
    }
    Ok(())
}

async fn erase_officers(w: &mut Writer<'_>, person: Uuid) -> Result<(), sqlx::Error> {
    w.exec(
        "update {s}.officers set name = jsonb_build_object('person', $1::text, 'erased', true) where name->>'person' = $1::text",
        |q| q.bind(person),
    )
    .await
}

fn consultation_row(s: &Registration) -> Option<Value> {
    let LevelDetails::Consult {
        topic,
        opens_on,
        closes_on,
    } = &s.form.details
    else {
        return None;
    };
    Some(json!({
        "registration_id": s.id,
        "account_key": s.account_key.to_string(),
        "platform": s.form.platform.code(),
        "service_area": s.form.service_area,
        "topic": topic,
        "opens_on": opens_on,
        "closes_on": closes_on,
        "finder_reference": s.consultation_listing.as_ref().map(|l| l.0.clone()),
        "status": status_name(s.status),
        "updated_at": s.updated_at,
    }))
}

fn revalidation_row(s: &Registration, review_period_days: i64) -> Value {
    let last = s
        .last_validated
        .as_ref()
        .expect("published registrations have a validation");
    json!({
        "registration_id": s.id,
        "account_key": s.account_key.to_string(),
        "platform": s.form.platform.code(),
        "service_area": s.form.service_area,
        "contact_subject": s.form.business_contact.subject,
        "last_validated_at": last.at,
        "due_on": (last.at + Duration::days(review_period_days)).date_naive(),
    })
}

/// Queue rows keep the time each item first appeared: the batch replays each
/// registration's states in order against the rows it had before.
async fn approval_queue(w: &mut Writer<'_>, d: &Digest<'_>) -> Result<(), sqlx::Error> {
    let ids: Vec<Uuid> = d.history.keys().copied().collect();
    if ids.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "select registration_id, role, step, waiting_since from {}.approval_queue where registration_id = any($1)",
        w.schema
    );
    let existing: Vec<(Uuid, String, String, DateTime<Utc>)> = sqlx::query_as(&sql)
        .bind(&ids)
        .fetch_all(&mut *w.conn)
        .await?;
    let mut since: BTreeMap<(Uuid, String, String), DateTime<Utc>> = existing
        .into_iter()
        .map(|(id, role, step, at)| ((id, role, step), at))
        .collect();
    let mut rows = Vec::new();
    for (id, states) in &d.history {
        let mut current: Vec<(&'static str, String, Option<String>)> = Vec::new();
        let mut last: Option<&Registration> = None;
        for (at, state) in states {
            current = queue_items(state);
            let keep: BTreeSet<(String, String)> = current
                .iter()
                .map(|(r, s, _)| ((*r).to_owned(), s.clone()))
                .collect();
            since.retain(|(rid, r, s), _| rid != id || keep.contains(&(r.clone(), s.clone())));
            for (role, step, _) in &current {
                since
                    .entry((*id, (*role).to_owned(), step.clone()))
                    .or_insert(*at);
            }
            last = Some(state);
        }
        let state = last.expect("a registration in the batch has a state");
        for (role, step, assignee) in current {
            let waiting_since = since[&(*id, role.to_owned(), step.clone())];
            rows.push(json!({
                "registration_id": id,
                "role": role,
                "step": step,
                "assignee": assignee,
                "level": level_number(state),
                "account_key": state.account_key.to_string(),
                "service_area": state.form.service_area,
                "waiting_since": waiting_since,
            }));
        }
    }
    w.delete("approval_queue", "registration_id", ids).await?;
    if rows.is_empty() {
        return Ok(());
    }
    let s = w.schema;
    let sql = format!("insert into {s}.approval_queue select * from jsonb_populate_recordset(null::{s}.approval_queue, $1)");
    sqlx::query(&sql)
        .bind(Value::Array(rows))
        .execute(&mut *w.conn)
        .await?;
    Ok(())
}
/// A report of a fake account: its row, and (while open) an item in
/// communications' queue.
async fn report(w: &mut Writer<'_>, id: Uuid, event: &ReportEvent) -> Result<(), sqlx::Error> {
    match event {
        ReportEvent::FakeAccountReported {
            reference,
            account,
            account_keys,
            details,
            sealed_details,
            at,
        } => {
            let sealed = sealed_details
                .as_ref()
                .map(|s| serde_json::to_value(s).unwrap_or(Value::Null));
            w.exec(
                "insert into {s}.fake_reports (id, reference, account, account_keys, details, details_sealed, reported_at) \
                 values ($1, $2, $3, $4, $5, $6, $7) on conflict (id) do nothing",
                |q| q.bind(id).bind(reference.clone()).bind(account.clone()).bind(account_keys.clone()).bind(details.clone()).bind(sealed.clone()).bind(*at),
            )
            .await?;
            let key: String = account_keys
                .first()
                .cloned()
                .unwrap_or_else(|| account.chars().take(200).collect());
            w.exec(
                "insert into {s}.approval_queue (registration_id, role, step, assignee, level, account_key, service_area, waiting_since) \
                 values ($1, 'communications', 'fake_account_report', null, 0, $2, '', $3) on conflict do nothing",
                |q| q.bind(id).bind(key).bind(*at),
            )
            .await
        }
        ReportEvent::FakeAccountReportClosed { outcome, by, at } => {
            w.exec(
                "update {s}.fake_reports set closed_at = $2, closed_by = $3, outcome = $4 where id = $1",
                |q| q.bind(id).bind(*at).bind(by.clone()).bind(outcome.clone()),
            )
            .await?;
            w.exec(
                "delete from {s}.approval_queue where registration_id = $1 and step = 'fake_account_report'",
                |q| q.bind(id),
            )
            .await
        }
    }
}

async fn reference(a: &mut Writer<'_>, r: &ReferenceEvent) -> Result<(), sqlx::Error> {
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
