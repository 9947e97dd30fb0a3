//! The rows of the read-model tables, typed: read back when a batch must
//! know a row before changing it, and written with binary `COPY`.
//!
//! Each row type names its table's columns once ([`Row::COLUMNS`]); the
//! loader selects them and the writer copies them in that order.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::copy::CopyRows;

/// A row of a read-model table.
pub(crate) trait Row {
    /// The table.
    const TABLE: &'static str;
    /// Its columns, in the order [`Row::encode`] writes them.
    const COLUMNS: &'static [&'static str];
    /// Write the row.
    fn encode(&self, out: &mut CopyRows);
}

fn fields(columns: &[&str]) -> i16 {
    i16::try_from(columns.len()).expect("tables have few columns")
}

/// `registrations`: every registration, for staff and approvers.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct RegistrationRow {
    pub id: Uuid,
    pub version: i64,
    pub status: String,
    pub level: i16,
    pub platform: String,
    pub account_key: String,
    pub account_input: String,
    pub service_area: String,
    pub applicant: String,
    pub named_subjects: Vec<String>,
    pub steps_done: Vec<String>,
    pub steps_outstanding: Vec<String>,
    pub submitted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub last_position: i64,
    pub persons: Vec<Uuid>,
}

impl Row for RegistrationRow {
    const TABLE: &'static str = "registrations";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "version",
        "status",
        "level",
        "platform",
        "account_key",
        "account_input",
        "service_area",
        "applicant",
        "named_subjects",
        "steps_done",
        "steps_outstanding",
        "submitted_at",
        "updated_at",
        "published_at",
        "withdrawn_at",
        "last_position",
        "persons",
    ];
    fn encode(&self, out: &mut CopyRows) {
        out.row(fields(Self::COLUMNS))
            .uuid(&self.id)
            .int8(self.version)
            .text(&self.status)
            .int2(self.level)
            .text(&self.platform)
            .text(&self.account_key)
            .text(&self.account_input)
            .text(&self.service_area)
            .text(&self.applicant)
            .text_array(&self.named_subjects)
            .text_array(&self.steps_done)
            .text_array(&self.steps_outstanding)
            .timestamptz(&self.submitted_at)
            .timestamptz(&self.updated_at)
            .opt_timestamptz(self.published_at.as_ref())
            .opt_timestamptz(self.withdrawn_at.as_ref())
            .int8(self.last_position)
            .uuid_array(&self.persons);
    }
}

/// `directory`: published accounts (public).
#[derive(Debug, Clone)]
pub(crate) struct DirectoryRow {
    pub registration_id: Uuid,
    pub platform: String,
    pub account_key: String,
    pub account_url: String,
    pub level: i16,
    pub service_area: String,
    pub officer_slug: Option<String>,
    pub published_at: DateTime<Utc>,
}

impl Row for DirectoryRow {
    const TABLE: &'static str = "directory";
    const COLUMNS: &'static [&'static str] = &[
        "registration_id",
        "platform",
        "account_key",
        "account_url",
        "level",
        "service_area",
        "officer_slug",
        "published_at",
    ];
    fn encode(&self, out: &mut CopyRows) {
        out.row(fields(Self::COLUMNS))
            .uuid(&self.registration_id)
            .text(&self.platform)
            .text(&self.account_key)
            .text(&self.account_url)
            .int2(self.level)
            .text(&self.service_area)
            .opt_text(self.officer_slug.as_deref())
            .timestamptz(&self.published_at);
    }
}

/// `verification_accounts`: what a lookup of an account answers (public).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub(crate) struct VerificationRow {
    pub account_key: String,
    pub platform: String,
    pub account_url: String,
    pub status: String,
    pub registration_id: Uuid,
    pub level: i16,
    pub service_area: String,
    pub officer_slug: Option<String>,
    pub verified_since: DateTime<Utc>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub last_confirmed_at: DateTime<Utc>,
    pub renamed_to: Option<String>,
    pub renamed_to_url: Option<String>,
    pub renamed_at: Option<DateTime<Utc>>,
    pub link_back_checked_at: Option<DateTime<Utc>>,
    pub permanent_id: Option<String>,
}

impl Row for VerificationRow {
    const TABLE: &'static str = "verification_accounts";
    const COLUMNS: &'static [&'static str] = &[
        "account_key",
        "platform",
        "account_url",
        "status",
        "registration_id",
        "level",
        "service_area",
        "officer_slug",
        "verified_since",
        "withdrawn_at",
        "last_confirmed_at",
        "renamed_to",
        "renamed_to_url",
        "renamed_at",
        "link_back_checked_at",
        "permanent_id",
    ];
    fn encode(&self, out: &mut CopyRows) {
        out.row(fields(Self::COLUMNS))
            .text(&self.account_key)
            .text(&self.platform)
            .text(&self.account_url)
            .text(&self.status)
            .uuid(&self.registration_id)
            .int2(self.level)
            .text(&self.service_area)
            .opt_text(self.officer_slug.as_deref())
            .timestamptz(&self.verified_since)
            .opt_timestamptz(self.withdrawn_at.as_ref())
            .timestamptz(&self.last_confirmed_at)
            .opt_text(self.renamed_to.as_deref())
            .opt_text(self.renamed_to_url.as_deref())
            .opt_timestamptz(self.renamed_at.as_ref())
            .opt_timestamptz(self.link_back_checked_at.as_ref())
            .opt_text(self.permanent_id.as_deref());
    }
}

/// `officers`: level-3 officers' pages (public; the name sealed or erased).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub(crate) struct OfficerRow {
    pub slug: String,
    pub name: Value,
    pub job_role: String,
    pub service_area: String,
    pub published_since: DateTime<Utc>,
}

impl Row for OfficerRow {
    const TABLE: &'static str = "officers";
    const COLUMNS: &'static [&'static str] = &[
        "slug",
        "name",
        "job_role",
        "service_area",
        "published_since",
    ];
    fn encode(&self, out: &mut CopyRows) {
        out.row(fields(Self::COLUMNS))
            .text(&self.slug)
            .jsonb(&self.name)
            .text(&self.job_role)
            .text(&self.service_area)
            .timestamptz(&self.published_since);
    }
}

/// `consultations`: level-2 registrations for the consultation team.
#[derive(Debug, Clone)]
pub(crate) struct ConsultationRow {
    pub registration_id: Uuid,
    pub account_key: String,
    pub platform: String,
    pub service_area: String,
    pub topic: String,
    pub opens_on: NaiveDate,
    pub closes_on: NaiveDate,
    pub finder_reference: Option<String>,
    pub status: String,
    pub updated_at: DateTime<Utc>,
}

impl Row for ConsultationRow {
    const TABLE: &'static str = "consultations";
    const COLUMNS: &'static [&'static str] = &[
        "registration_id",
        "account_key",
        "platform",
        "service_area",
        "topic",
        "opens_on",
        "closes_on",
        "finder_reference",
        "status",
        "updated_at",
    ];
    fn encode(&self, out: &mut CopyRows) {
        out.row(fields(Self::COLUMNS))
            .uuid(&self.registration_id)
            .text(&self.account_key)
            .text(&self.platform)
            .text(&self.service_area)
            .text(&self.topic)
            .date(&self.opens_on)
            .date(&self.closes_on)
            .opt_text(self.finder_reference.as_deref())
            .text(&self.status)
            .timestamptz(&self.updated_at);
    }
}

/// `approval_queue`: what waits for whom.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub(crate) struct QueueRow {
    pub registration_id: Uuid,
    pub role: String,
    pub step: String,
    pub assignee: Option<String>,
    pub level: i16,
    pub account_key: String,
    pub service_area: String,
    pub waiting_since: DateTime<Utc>,
}

impl Row for QueueRow {
    const TABLE: &'static str = "approval_queue";
    const COLUMNS: &'static [&'static str] = &[
        "registration_id",
        "role",
        "step",
        "assignee",
        "level",
        "account_key",
        "service_area",
        "waiting_since",
    ];
    fn encode(&self, out: &mut CopyRows) {
        out.row(fields(Self::COLUMNS))
            .uuid(&self.registration_id)
            .text(&self.role)
            .text(&self.step)
            .opt_text(self.assignee.as_deref())
            .int2(self.level)
            .text(&self.account_key)
            .text(&self.service_area)
            .timestamptz(&self.waiting_since);
    }
}

/// `fake_reports`: reports of suspected fake accounts (details sealed).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub(crate) struct FakeReportRow {
    pub id: Uuid,
    pub reference: String,
    pub account: String,
    pub account_keys: Vec<String>,
    pub details: String,
    pub details_sealed: Option<Value>,
    pub reported_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
    pub outcome: Option<String>,
}

impl Row for FakeReportRow {
    const TABLE: &'static str = "fake_reports";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "reference",
        "account",
        "account_keys",
        "details",
        "details_sealed",
        "reported_at",
        "closed_at",
        "closed_by",
        "outcome",
    ];
    fn encode(&self, out: &mut CopyRows) {
        out.row(fields(Self::COLUMNS))
            .uuid(&self.id)
            .text(&self.reference)
            .text(&self.account)
            .text_array(&self.account_keys)
            .text(&self.details)
            .opt_jsonb(self.details_sealed.as_ref())
            .timestamptz(&self.reported_at)
            .opt_timestamptz(self.closed_at.as_ref())
            .opt_text(self.closed_by.as_deref())
            .opt_text(self.outcome.as_deref());
    }
}

/// `revalidation_due`: published registrations and their review dates.
#[derive(Debug, Clone)]
pub(crate) struct RevalidationRow {
    pub registration_id: Uuid,
    pub account_key: String,
    pub platform: String,
    pub service_area: String,
    pub contact_subject: String,
    pub last_validated_at: DateTime<Utc>,
    pub due_on: NaiveDate,
    pub policy_version: String,
    pub policy_acknowledged_at: DateTime<Utc>,
}

impl Row for RevalidationRow {
    const TABLE: &'static str = "revalidation_due";
    const COLUMNS: &'static [&'static str] = &[
        "registration_id",
        "account_key",
        "platform",
        "service_area",
        "contact_subject",
        "last_validated_at",
        "due_on",
        "policy_version",
        "policy_acknowledged_at",
    ];
    fn encode(&self, out: &mut CopyRows) {
        out.row(fields(Self::COLUMNS))
            .uuid(&self.registration_id)
            .text(&self.account_key)
            .text(&self.platform)
            .text(&self.service_area)
            .text(&self.contact_subject)
            .timestamptz(&self.last_validated_at)
            .date(&self.due_on)
            .text(&self.policy_version)
            .timestamptz(&self.policy_acknowledged_at);
    }
}

/// `policy_versions`: the social media policy's published versions.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub(crate) struct PolicyVersionRow {
    pub version: String,
    pub published_on: NaiveDate,
    pub summary: String,
    pub url: String,
    pub published_at: DateTime<Utc>,
    pub position: i64,
}

impl Row for PolicyVersionRow {
    const TABLE: &'static str = "policy_versions";
    const COLUMNS: &'static [&'static str] = &[
        "version",
        "published_on",
        "summary",
        "url",
        "published_at",
        "position",
    ];
    fn encode(&self, out: &mut CopyRows) {
        out.row(fields(Self::COLUMNS))
            .text(&self.version)
            .date(&self.published_on)
            .text(&self.summary)
            .text(&self.url)
            .timestamptz(&self.published_at)
            .int8(self.position);
    }
}

/// `org_units`: names of services.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub(crate) struct OrgUnitRow {
    pub code: String,
    pub name: String,
    pub retired: bool,
}

impl Row for OrgUnitRow {
    const TABLE: &'static str = "org_units";
    const COLUMNS: &'static [&'static str] = &["code", "name", "retired"];
    fn encode(&self, out: &mut CopyRows) {
        out.row(fields(Self::COLUMNS))
            .text(&self.code)
            .text(&self.name)
            .bool(self.retired);
    }
}

/// `job_roles`: the accepted job-role list.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub(crate) struct JobRoleRow {
    pub code: String,
    pub title: String,
    pub accepted: bool,
}

impl Row for JobRoleRow {
    const TABLE: &'static str = "job_roles";
    const COLUMNS: &'static [&'static str] = &["code", "title", "accepted"];
    fn encode(&self, out: &mut CopyRows) {
        out.row(fields(Self::COLUMNS))
            .text(&self.code)
            .text(&self.title)
            .bool(self.accepted);
    }
}
