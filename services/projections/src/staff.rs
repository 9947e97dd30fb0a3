//! Reads of the staff read models (registrations, approval queue,
//! consultations, revalidation, reference data, fake-account reports), beside
//! the projections that write those tables.
//!
//! Every statement is checked against the schema at compile time
//! (`sqlx::query!`; the offline data is in `.sqlx/`, and `scripts/test`
//! fails when it no longer matches the queries). Coded columns are read back
//! through [`crate::columns`]: an unknown value is an error, never a default.

use chrono::{DateTime, NaiveDate, Utc};
use domain::access::ReadScope;
use domain::platform::Platform;
use domain::registration::{Filter, Status};
use domain::{Level, Role};
use sqlx::PgPool;
use uuid::Uuid;

use crate::columns::{self, UnknownValue};
use crate::models::status_name;

/// A read of the read models failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A stored value this version does not know.
    #[error(transparent)]
    Unknown(#[from] UnknownValue),
}

/// Where a registration list stands: its id, how far its row was projected
/// and when it was submitted (the list's order and cursor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrationRef {
    /// The registration.
    pub id: Uuid,
    /// The log position its row reflects.
    pub last_position: i64,
    /// When it was submitted.
    pub submitted_at: DateTime<Utc>,
}

/// Registrations in `scope` matching `filter`, newest submission first,
/// after the cursor `(submitted_at, id)`; at most `limit`.
pub async fn registrations(
    pool: &PgPool,
    scope: &ReadScope,
    filter: &Filter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<RegistrationRef>, ReadError> {
    let (all, subject, consultations) = match scope {
        ReadScope::All => (true, String::new(), false),
        ReadScope::Involved {
            subject,
            consultations,
        } => (false, subject.clone(), *consultations),
    };
    let statuses: Option<Vec<String>> = filter.statuses.as_ref().map(|list| {
        list.iter()
            .map(|s| status_name(*s).to_owned())
            .collect::<Vec<_>>()
    });
    let rows = sqlx::query!(
        r#"select id, last_position, submitted_at from read_models.registrations r
           where ($1 or r.applicant = $2 or r.named_subjects @> array[$2] or ($3 and r.level = 2))
             and ($4::text[] is null or r.status = any($4))
             and ($5::smallint is null or r.level = $5)
             and ($6::text is null or r.platform = $6)
             and ($7::text is null or r.service_area = $7)
             and ($8::text is null or r.named_subjects @> array[$8])
             and ($9::text is null or r.applicant = $9)
             and ($10::timestamptz is null or (r.submitted_at, r.id) < ($10, $11))
             and ($13::text is null or lower(r.account_key) like $13 or lower(r.account_input) like $13
                  or lower(r.service_area) like $13 or exists (select 1 from read_models.org_units u
                    where u.code = r.service_area and lower(u.name) like $13))
           order by r.submitted_at desc, r.id desc limit $12"#,
        all,
        subject,
        consultations,
        statuses.as_deref(),
        filter.level.map(|l| i16::from(l.number())),
        filter.platform.map(|p| p.code()),
        filter.service_area.as_deref(),
        filter.named_subject.as_deref(),
        filter.applicant.as_deref(),
        after.map(|a| a.0),
        after.map(|a| a.1),
        limit,
        crate::public::like_pattern(filter.search.as_deref()),
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| RegistrationRef {
            id: r.id,
            last_position: r.last_position,
            submitted_at: r.submitted_at,
        })
        .collect())
}

/// A level-2 registration's consultation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsultationRow {
    /// The registration.
    pub registration_id: Uuid,
    /// Its account.
    pub account_key: String,
    /// Its platform.
    pub platform: Platform,
    /// Its service area.
    pub service_area: String,
    /// What the consultation is about.
    pub topic: String,
    /// When it opens.
    pub opens_on: NaiveDate,
    /// When it closes.
    pub closes_on: NaiveDate,
    /// Its Consultation Finder reference, once listed.
    pub finder_reference: Option<String>,
    /// The registration's status.
    pub status: Status,
}

/// Consultations by closing date (then id), after the cursor; at most `limit`.
pub async fn consultations(
    pool: &PgPool,
    unlisted_only: bool,
    after: Option<(NaiveDate, Uuid)>,
    limit: i64,
) -> Result<Vec<ConsultationRow>, ReadError> {
    let rows = sqlx::query!(
        r#"select registration_id, account_key, platform, service_area, topic, opens_on, closes_on,
                  finder_reference, status
           from read_models.consultations
           where (not $1 or finder_reference is null)
             and ($2::date is null or (closes_on, registration_id) > ($2, $3))
           order by closes_on, registration_id limit $4"#,
        unlisted_only,
        after.map(|a| a.0),
        after.map(|a| a.1),
        limit,
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(ConsultationRow {
                registration_id: r.registration_id,
                account_key: r.account_key,
                platform: columns::platform("consultations.platform", &r.platform)?,
                service_area: r.service_area,
                topic: r.topic,
                opens_on: r.opens_on,
                closes_on: r.closes_on,
                finder_reference: r.finder_reference,
                status: columns::status("consultations.status", &r.status)?,
            })
        })
        .collect()
}

/// One step waiting for a role (and, where named, a person).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRow {
    /// The registration.
    pub registration_id: Uuid,
    /// The role that acts.
    pub role: Role,
    /// The step.
    pub step: String,
    /// The person named to act, if any.
    pub assignee: Option<String>,
    /// The registration's level (none for a fake-account report, stored
    /// as 0).
    pub level: Option<Level>,
    /// Its account.
    pub account_key: String,
    /// Its service area.
    pub service_area: String,
    /// Since when it has waited.
    pub waiting_since: DateTime<Utc>,
}

/// Published registrations overdue for their re-validation (step
/// `revalidation`) or for acknowledging the current policy (step
/// `policy_acknowledgement`), as queue items: those whose business contact
/// is `subject` (role `staff`, assigned to them) and, with
/// `communications`, every one (role `communications`). Each has waited
/// since its due date.
pub async fn overdue_for(
    pool: &PgPool,
    subject: &str,
    communications: bool,
    today: NaiveDate,
    policy_days: i64,
) -> Result<Vec<QueueRow>, ReadError> {
    let contact = (!communications).then_some(subject);
    #[derive(sqlx::FromRow)]
    struct Raw {
        registration_id: Uuid,
        account_key: String,
        service_area: String,
        contact_subject: String,
        level: Option<i16>,
        due_on: NaiveDate,
    }
    let revalidations: Vec<Raw> = sqlx::query_as(
        "select d.registration_id, d.account_key, d.service_area, d.contact_subject, r.level, d.due_on \
         from read_models.revalidation_due d left join read_models.registrations r on r.id = d.registration_id \
         where d.due_on <= $1 and ($2::text is null or d.contact_subject = $2) \
         order by d.due_on, d.registration_id limit 200",
    )
    .bind(today)
    .bind(contact)
    .fetch_all(pool)
    .await?;
    let item = |registration_id: Uuid,
                step: &str,
                contact_subject: String,
                level: Option<i16>,
                account_key: String,
                service_area: String,
                due_on: NaiveDate|
     -> Result<QueueRow, ReadError> {
        Ok(QueueRow {
            registration_id,
            role: if contact_subject == subject {
                Role::Staff
            } else {
                Role::Communications
            },
            step: step.to_owned(),
            assignee: Some(contact_subject),
            level: level
                .map(|l| columns::level("registrations.level", l))
                .transpose()?,
            account_key,
            service_area,
            waiting_since: due_on.and_time(chrono::NaiveTime::MIN).and_utc(),
        })
    };
    let mut out = Vec::new();
    for r in revalidations {
        out.push(item(
            r.registration_id,
            "revalidation",
            r.contact_subject,
            r.level,
            r.account_key,
            r.service_area,
            r.due_on,
        )?);
    }
    for r in policy_acknowledgements_due(pool, contact, Some(today), None, 200, policy_days).await?
    {
        out.push(item(
            r.registration_id,
            "policy_acknowledgement",
            r.contact_subject,
            None,
            r.account_key,
            r.service_area,
            r.due_on,
        )?);
    }
    Ok(out)
}

/// The cursor of an approval queue: `(waiting_since, registration, step)`.
pub type QueueCursor = (DateTime<Utc>, Uuid, String);

/// What waits for `role`, longest first, after the cursor; with
/// `named_only`, only what names `subject`.
pub async fn approval_queue(
    pool: &PgPool,
    role: Role,
    named_only: bool,
    subject: &str,
    after: Option<&QueueCursor>,
    limit: i64,
) -> Result<Vec<QueueRow>, ReadError> {
    let rows = sqlx::query_as!(
        RawQueueRow,
        r#"select registration_id, role, step, assignee, level, account_key, service_area, waiting_since
           from read_models.approval_queue
           where role = $1 and (not $2 or assignee = $3)
             and ($4::timestamptz is null or (waiting_since, registration_id, step) > ($4, $5, $6))
           order by waiting_since, registration_id, step limit $7"#,
        role.code(),
        named_only,
        subject,
        after.map(|a| a.0),
        after.map(|a| a.1),
        after.map(|a| a.2.as_str()),
        limit,
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(QueueRow::try_from).collect()
}

/// Everything waiting for `subject`: by name, or for one of `roles` when no
/// one is named (but never their own application); longest first, at most 200.
pub async fn waiting_for(
    pool: &PgPool,
    subject: &str,
    roles: &[Role],
) -> Result<Vec<QueueRow>, ReadError> {
    let roles: Vec<String> = roles.iter().map(|r| r.code().to_owned()).collect();
    let rows = sqlx::query_as!(
        RawQueueRow,
        r#"select q.registration_id, q.role, q.step, q.assignee, q.level, q.account_key, q.service_area, q.waiting_since
           from read_models.approval_queue q left join read_models.registrations r on r.id = q.registration_id
           where (q.assignee = $1 and (q.role = 'staff' or q.role = any($2)))
              or (q.assignee is null and q.role = any($2) and r.applicant is distinct from $1)
           order by q.waiting_since, q.registration_id, q.step limit 200"#,
        subject,
        &roles,
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(QueueRow::try_from).collect()
}

/// An approval-queue row as stored.
struct RawQueueRow {
    registration_id: Uuid,
    role: String,
    step: String,
    assignee: Option<String>,
    level: i16,
    account_key: String,
    service_area: String,
    waiting_since: DateTime<Utc>,
}

impl TryFrom<RawQueueRow> for QueueRow {
    type Error = ReadError;

    fn try_from(r: RawQueueRow) -> Result<Self, ReadError> {
        Ok(QueueRow {
            registration_id: r.registration_id,
            role: columns::role("approval_queue.role", &r.role)?,
            step: r.step,
            assignee: r.assignee,
            level: (r.level != 0)
                .then(|| columns::level("approval_queue.level", r.level))
                .transpose()?,
            account_key: r.account_key,
            service_area: r.service_area,
            waiting_since: r.waiting_since,
        })
    }
}

/// A published registration and when its review falls due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevalidationRow {
    /// The registration.
    pub registration_id: Uuid,
    /// Its account.
    pub account_key: String,
    /// Its platform.
    pub platform: Platform,
    /// Its service area.
    pub service_area: String,
    /// Its business contact.
    pub contact_subject: String,
    /// When it was last confirmed.
    pub last_validated_at: DateTime<Utc>,
    /// When the next review is due.
    pub due_on: NaiveDate,
}

/// Reviews by due date (then id): all of them, or those whose business
/// contact is `contact`; with `due_by`, only those due by then.
pub async fn revalidation_due(
    pool: &PgPool,
    contact: Option<&str>,
    due_by: Option<NaiveDate>,
    after: Option<(NaiveDate, Uuid)>,
    limit: i64,
) -> Result<Vec<RevalidationRow>, ReadError> {
    let rows = sqlx::query!(
        r#"select registration_id, account_key, platform, service_area, contact_subject,
                  last_validated_at, due_on
           from read_models.revalidation_due
           where ($1::text is null or contact_subject = $1)
             and ($2::date is null or due_on <= $2)
             and ($3::date is null or (due_on, registration_id) > ($3, $4))
           order by due_on, registration_id limit $5"#,
        contact,
        due_by,
        after.map(|a| a.0),
        after.map(|a| a.1),
        limit,
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(RevalidationRow {
                registration_id: r.registration_id,
                account_key: r.account_key,
                platform: columns::platform("revalidation_due.platform", &r.platform)?,
                service_area: r.service_area,
                contact_subject: r.contact_subject,
                last_validated_at: r.last_validated_at,
                due_on: r.due_on,
            })
        })
        .collect()
}

/// The default time a published account has to acknowledge a new version
/// of the social media policy (`REGISTRY_POLICY_ACKNOWLEDGEMENT_DAYS`).
pub const DEFAULT_POLICY_ACKNOWLEDGEMENT_DAYS: i64 = 60;

/// A published version of the social media policy.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PolicyVersionRow {
    /// The version.
    pub version: String,
    /// The date on the policy.
    pub published_on: NaiveDate,
    /// What changed.
    pub summary: String,
    /// Where staff read it.
    pub url: String,
    /// When it was published in the registry.
    pub published_at: DateTime<Utc>,
}

/// Every published policy version, the current one first.
pub async fn policy_versions(pool: &PgPool) -> Result<Vec<PolicyVersionRow>, ReadError> {
    Ok(sqlx::query_as(
        "select version, published_on, summary, url, published_at \
         from read_models.policy_versions order by position desc",
    )
    .fetch_all(pool)
    .await?)
}

/// A published registration that has not acknowledged the current policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDueRow {
    /// The registration.
    pub registration_id: Uuid,
    /// Its account.
    pub account_key: String,
    /// Its platform.
    pub platform: Platform,
    /// Its service area.
    pub service_area: String,
    /// Its business contact, who acknowledges.
    pub contact_subject: String,
    /// The version it acknowledged last.
    pub acknowledged_version: String,
    /// When.
    pub acknowledged_at: DateTime<Utc>,
    /// The current version, to acknowledge.
    pub current_version: String,
    /// By when.
    pub due_on: NaiveDate,
}

/// Published registrations whose last acknowledged policy version is not
/// the current one (by registration id): all of them, or those of the
/// business contact `contact`; with `due_by`, only when due by then. Each
/// is due `days` after the current version was published.
pub async fn policy_acknowledgements_due(
    pool: &PgPool,
    contact: Option<&str>,
    due_by: Option<NaiveDate>,
    after: Option<Uuid>,
    limit: i64,
    days: i64,
) -> Result<Vec<PolicyDueRow>, ReadError> {
    #[derive(sqlx::FromRow)]
    struct Raw {
        registration_id: Uuid,
        account_key: String,
        platform: String,
        service_area: String,
        contact_subject: String,
        policy_version: String,
        policy_acknowledged_at: DateTime<Utc>,
        current_version: String,
        due_on: NaiveDate,
    }
    let rows: Vec<Raw> =
        sqlx::query_as(
            "with current_policy as ( \
               select version, ((published_at at time zone 'UTC') + make_interval(days => $5::int))::date as due_on \
               from read_models.policy_versions order by position desc limit 1) \
             select r.registration_id, r.account_key, r.platform, r.service_area, r.contact_subject, \
                    r.policy_version, r.policy_acknowledged_at, c.version as current_version, c.due_on \
             from read_models.revalidation_due r cross join current_policy c \
             where r.policy_version <> c.version \
               and ($1::text is null or r.contact_subject = $1) \
               and ($2::date is null or c.due_on <= $2) \
               and ($3::uuid is null or r.registration_id > $3) \
             order by r.registration_id limit $4",
        )
        .bind(contact)
        .bind(due_by)
        .bind(after)
        .bind(limit)
        .bind(i32::try_from(days).unwrap_or(i32::MAX))
        .fetch_all(pool)
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok(PolicyDueRow {
                platform: columns::platform("revalidation_due.platform", &r.platform)?,
                registration_id: r.registration_id,
                account_key: r.account_key,
                service_area: r.service_area,
                contact_subject: r.contact_subject,
                acknowledged_version: r.policy_version,
                acknowledged_at: r.policy_acknowledged_at,
                current_version: r.current_version,
                due_on: r.due_on,
            })
        })
        .collect()
}

/// A job role: code, title, and whether it is on the accepted list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRoleRow {
    /// Its code.
    pub code: String,
    /// Its title.
    pub title: String,
    /// On the accepted list.
    pub accepted: bool,
}

/// Job roles by title (withdrawn ones too when asked).
pub async fn job_roles(
    pool: &PgPool,
    include_withdrawn: bool,
) -> Result<Vec<JobRoleRow>, ReadError> {
    Ok(sqlx::query_as!(
        JobRoleRow,
        "select code, title, accepted from read_models.job_roles \
         where accepted or $1 order by title",
        include_withdrawn,
    )
    .fetch_all(pool)
    .await?)
}

/// An organisational unit: code, name, and whether it was retired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgUnitRow {
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Retired.
    pub retired: bool,
}

/// Organisational units by name (retired ones too when asked).
pub async fn org_units(pool: &PgPool, include_retired: bool) -> Result<Vec<OrgUnitRow>, ReadError> {
    Ok(sqlx::query_as!(
        OrgUnitRow,
        "select code, name, retired from read_models.org_units \
         where not retired or $1 order by name",
        include_retired,
    )
    .fetch_all(pool)
    .await?)
}

/// A report of a suspected fake account.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeReportRow {
    /// Its id.
    pub id: Uuid,
    /// The reference the reporter was given.
    pub reference: String,
    /// The account as pasted.
    pub account: String,
    /// The account keys it could be.
    pub account_keys: Vec<String>,
    /// Free text of reports filed before it was sealed.
    pub legacy_details: String,
    /// The sealed free text.
    pub sealed_details: Option<serde_json::Value>,
    /// When it was filed.
    pub reported_at: DateTime<Utc>,
    /// When it was closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// Who closed it.
    pub closed_by: Option<String>,
    /// What was done.
    pub outcome: Option<String>,
}

/// Fake-account reports by filing time (then id), after the cursor.
pub async fn fake_reports(
    pool: &PgPool,
    open_only: bool,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<FakeReportRow>, ReadError> {
    Ok(sqlx::query_as!(
        FakeReportRow,
        r#"select id, reference, account, account_keys, details as legacy_details,
                  details_sealed as sealed_details, reported_at, closed_at, closed_by, outcome
           from read_models.fake_reports where (not $1 or closed_at is null)
             and ($2::timestamptz is null or (reported_at, id) > ($2, $3))
           order by reported_at, id limit $4"#,
        open_only,
        after.map(|a| a.0),
        after.map(|a| a.1),
        limit,
    )
    .fetch_all(pool)
    .await?)
}

/// The log position every read model has reached (the lowest checkpoint).
pub async fn projected_position(pool: &PgPool) -> Result<i64, ReadError> {
    let reached = sqlx::query_scalar!("select min(position) from read_models.checkpoints")
        .fetch_one(pool)
        .await?;
    Ok(reached.unwrap_or(0))
}

/// The registrations holding personal data of `person`, by submission.
pub async fn registrations_holding(pool: &PgPool, person: Uuid) -> Result<Vec<Uuid>, ReadError> {
    Ok(sqlx::query_scalar!(
        "select id from read_models.registrations where persons @> array[$1]::uuid[] \
         order by submitted_at",
        person,
    )
    .fetch_all(pool)
    .await?)
}

/// Every registration with the people it holds data of, and whether it was
/// withdrawn or rejected before `cutoff` (for the retention rule).
pub async fn retention_rows(
    pool: &PgPool,
    cutoff: DateTime<Utc>,
) -> Result<Vec<(Uuid, Vec<Uuid>, bool)>, ReadError> {
    let rows = sqlx::query!(
        r#"select id, persons,
                  (status in ('withdrawn', 'rejected') and updated_at < $1) as "expired!"
           from read_models.registrations"#,
        cutoff,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.id, r.persons, r.expired))
        .collect())
}
