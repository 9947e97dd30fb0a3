//! The read models: their names and tables, and the names their rows use
//! for steps and statuses. How each applies an event is in `apply`.

use domain::registration::{Registration, Status, Step};
use serde_json::{json, Value};
use uuid::Uuid;

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
    /// Names of services and job roles; policy versions.
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
            ReadModel::Reference => &["org_units", "job_roles", "policy_versions"],
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

/// The name of a step in the read models and the API, e.g. `branding:<id>`.
pub fn step_name(step: &Step) -> String {
    step.name()
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

/// What waits for whom, as the approval queue stores it: (role code, step
/// name, named assignee). The rule is `Registration::waiting_on`.
pub fn queue_items(s: &Registration) -> Vec<(&'static str, String, Option<String>)> {
    s.waiting_on()
        .into_iter()
        .map(|w| (w.role.code(), w.task.name(), w.assignee))
        .collect()
}

/// The erased marker, as stored.
pub fn erased_marker(person: Uuid) -> Value {
    json!({ "person": person, "erased": true })
}
