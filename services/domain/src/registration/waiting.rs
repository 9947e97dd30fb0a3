//! What a registration waits for, and from whom: the approval queues are a
//! projection of this, and nothing else works it out.

use super::{Registration, Status, Step};
use crate::{Level, Role};

/// Something a registration waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// A step before approval (or a branding approval).
    Step(Step),
    /// Communications' publication of an approved registration.
    Publication,
    /// The applicant's answer to a request for changes.
    ChangesRequested,
    /// Communications' check that a published level-3 account's profile
    /// links to the officer's page.
    LinkBackCheck,
}

impl Task {
    /// Its name where queues and messages name it: a step's name, or
    /// `publication`, `changes_requested`, `link_back_check`.
    pub fn name(&self) -> String {
        match self {
            Task::Step(step) => step.name(),
            Task::Publication => "publication".into(),
            Task::ChangesRequested => "changes_requested".into(),
            Task::LinkBackCheck => "link_back_check".into(),
        }
    }
}

/// One item of a queue: the role that acts, the task, and the member of
/// staff named for it (the form's line manager, say), when one is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// Who acts.
    pub role: Role,
    /// What they do.
    pub task: Task,
    /// The person named for it, when the form names one.
    pub assignee: Option<String>,
}

impl Waiting {
    fn new(role: Role, task: Task, assignee: Option<String>) -> Self {
        Waiting {
            role,
            task,
            assignee,
        }
    }
}

impl Registration {
    /// What this registration waits for now, and from whom.
    pub fn waiting_on(&self) -> Vec<Waiting> {
        let mut items = Vec::new();
        let branding = |items: &mut Vec<Waiting>| {
            for b in self
                .form
                .branding_assets
                .iter()
                .filter(|b| !self.branding_approvals.contains_key(&b.id))
            {
                items.push(Waiting::new(
                    Role::Communications,
                    Task::Step(Step::BrandingApproval(b.id.clone())),
                    None,
                ));
            }
        };
        match self.status {
            Status::Submitted => {
                let named = |s: Option<&str>| s.map(str::to_owned);
                match self.level() {
                    Level::Consult if self.consultation_listing.is_none() => {
                        items.push(Waiting::new(
                            Role::Consultation,
                            Task::Step(Step::ConsultationListing),
                            None,
                        ))
                    }
                    Level::Participate if self.risk_assessment.is_none() => {
                        items.push(Waiting::new(
                            Role::Staff,
                            Task::Step(Step::RiskAssessment),
                            Some(self.applicant.clone()),
                        ))
                    }
                    Level::Participate if self.risk_signature.is_none() => {
                        items.push(Waiting::new(
                            Role::LineManager,
                            Task::Step(Step::RiskAssessmentSignature),
                            named(self.line_manager()),
                        ))
                    }
                    Level::Engage if self.senior_sign_off.is_none() => items.push(Waiting::new(
                        Role::SeniorOfficer,
                        Task::Step(Step::SeniorOfficerSignOff),
                        named(self.senior_officer()),
                    )),
                    _ => {}
                }
                if self.level_steps().iter().all(|st| self.is_done(st)) {
                    items.push(Waiting::new(
                        Role::Communications,
                        Task::Step(Step::CommunicationsApproval),
                        None,
                    ));
                }
                branding(&mut items);
            }
            Status::Approved => {
                branding(&mut items);
                if items.is_empty() {
                    items.push(Waiting::new(Role::Communications, Task::Publication, None));
                }
            }
            Status::ChangesRequested => items.push(Waiting::new(
                Role::Staff,
                Task::ChangesRequested,
                Some(self.applicant.clone()),
            )),
            // A pending change waits for exactly what a new registration
            // in its place would (with its proposer as the applicant).
            Status::Published => {
                if self.level() == Level::Participate && self.link_back.is_none() {
                    items.push(Waiting::new(
                        Role::Communications,
                        Task::LinkBackCheck,
                        None,
                    ));
                }
                if let Some(change) = &self.change {
                    items.extend(change.candidate.waiting_on());
                }
            }
            Status::Withdrawn | Status::Rejected => {}
        }
        items
    }
}
