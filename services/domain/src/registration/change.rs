//! Changes to a published registration.
//!
//! A published registration stays published, and verified under its
//! current details, while a change to it is pending. The change is a
//! proposal: the new form, with exactly the sign-offs that the changed
//! fields need (see [`required_steps`]); the sign-offs its new form does
//! not touch carry over from the published registration. It is held as a
//! [`Registration`] of its own (the *candidate*), so the same rules decide
//! its sign-offs as decide a new registration's, with the proposer in the
//! applicant's place (nobody signs off their own proposal). When
//! communications publishes it, the registration takes its details.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::form::{Form, LevelDetails};
use crate::personal::Sealed;
use crate::platform::AccountKey;

use super::event::Step;
use super::state::{Registration, Status};

/// In which capacity someone proposed a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Proposer {
    /// The member of staff who submitted the registration.
    Applicant,
    /// The form's business contact.
    BusinessContact,
    /// The communications team.
    Communications,
}

/// A change proposed to a published registration, while it is pending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingChange {
    /// Why it was proposed.
    pub reason: String,
    /// Who proposed it (staff subject).
    pub proposed_by: String,
    /// In which capacity.
    pub capacity: Proposer,
    /// When.
    pub proposed_at: DateTime<Utc>,
    /// The sign-offs it needs (the publication follows them all).
    pub required: Vec<Step>,
    /// The registration as it will be: the new form and account, the
    /// sign-offs carried over and those given to the change so far. Its
    /// status is the change's: submitted, changes requested or approved.
    pub candidate: Registration,
}

impl PendingChange {
    /// The sign-offs still outstanding before it can be published.
    pub fn outstanding(&self) -> Vec<Step> {
        self.candidate.outstanding()
    }

    /// The change's status (`Submitted`, `ChangesRequested` or `Approved`).
    pub fn status(&self) -> Status {
        self.candidate.status
    }
}

/// An account key a registration held before a published change renamed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FormerKey {
    /// The key it held.
    pub account_key: AccountKey,
    /// The key it was renamed to.
    pub renamed_to: AccountKey,
    /// When the rename was published.
    pub renamed_at: DateTime<Utc>,
}

/// The sign-offs a change from the published registration `s` to `new`
/// (whose canonical account is `new_key`) needs: every one, for an imported
/// registration not yet reviewed; otherwise
/// - a new level: every step of the new level;
/// - level 3: a new officer, job role, line manager, service or account
///   needs a new risk assessment and the line manager's signature;
/// - level 4: a new senior officer, topics, councillor, service or account
///   needs a new senior-officer sign-off;
/// - level 2: a new consultation or account needs a new Finder listing;
/// - every branding asset that is new, or changed, needs its own approval;
/// - communications approves every change (a new handle included).
pub fn required_steps(s: &Registration, new: &Form<Sealed>, new_key: &AccountKey) -> Vec<Step> {
    if s.grandfathered.is_some() {
        // An imported registration's first change is its full review.
        let mut steps = level_steps_of(new);
        steps.extend(
            new.branding_assets
                .iter()
                .map(|a| Step::BrandingApproval(a.id.clone())),
        );
        steps.push(Step::CommunicationsApproval);
        return steps;
    }
    let old = &s.form;
    let account_changed = *new_key != s.account_key || new.platform != old.platform;
    let area_changed = new.service_area != old.service_area;
    let mut steps = Vec::new();
    let level_changed = new.level() != old.level();
    match (&old.details, &new.details) {
        _ if level_changed => steps.extend(level_steps_of(new)),
        (
            LevelDetails::Participate {
                officer: o1,
                job_role: j1,
                line_manager: l1,
            },
            LevelDetails::Participate {
                officer: o2,
                job_role: j2,
                line_manager: l2,
            },
        ) => {
            let same_person = |a: &crate::form::StaffRef<Sealed>,
                               b: &crate::form::StaffRef<Sealed>| {
                a.subject == b.subject
            };
            if account_changed
                || area_changed
                || !same_person(o1, o2)
                || !same_person(l1, l2)
                || j1 != j2
            {
                steps.extend([Step::RiskAssessment, Step::RiskAssessmentSignature]);
            }
        }
        (
            LevelDetails::Engage {
                senior_officer: s1,
                topics: t1,
                councillor: c1,
                councillor_id: i1,
                ..
            },
            LevelDetails::Engage {
                senior_officer: s2,
                topics: t2,
                councillor: c2,
                councillor_id: i2,
                ..
            },
        ) if account_changed
            || area_changed
            || s1.subject != s2.subject
            || t1 != t2
            || c1 != c2
            || i1 != i2 =>
        {
            steps.push(Step::SeniorOfficerSignOff);
        }
        (LevelDetails::Consult { .. }, LevelDetails::Consult { .. })
            if account_changed || old.details != new.details =>
        {
            steps.push(Step::ConsultationListing);
        }
        _ => {}
    }
    for asset in &new.branding_assets {
        let approved_as_is =
            old.branding_assets.contains(asset) && s.branding_approvals.contains_key(&asset.id);
        if !approved_as_is {
            steps.push(Step::BrandingApproval(asset.id.clone()));
        }
    }
    steps.push(Step::CommunicationsApproval);
    steps
}

fn level_steps_of(form: &Form<Sealed>) -> Vec<Step> {
    match form.level() {
        crate::Level::Broadcast => vec![],
        crate::Level::Consult => vec![Step::ConsultationListing],
        crate::Level::Participate => vec![Step::RiskAssessment, Step::RiskAssessmentSignature],
        crate::Level::Engage => vec![Step::SeniorOfficerSignOff],
    }
}

/// The candidate a change starts from: the published registration with the
/// new form and account, the proposer in the applicant's place, and only
/// the sign-offs the change does not need carried over.
pub(crate) fn candidate(
    s: &Registration,
    form: &Form<Sealed>,
    account_key: &AccountKey,
    required: &[Step],
    proposed_by: &str,
    at: DateTime<Utc>,
) -> Registration {
    let keep = |step: &Step| !required.contains(step);
    let same_level = form.level() == s.level();
    let mut c = Registration {
        id: s.id,
        version: s.version,
        status: Status::Submitted,
        applicant: proposed_by.to_owned(),
        account_key: account_key.clone(),
        form: std::sync::Arc::new(form.clone()),
        risk_assessment: None,
        risk_signature: None,
        senior_sign_off: None,
        consultation_listing: None,
        branding_approvals: Default::default(),
        approval: None,
        changes_requested: None,
        rejection: None,
        withdrawal: None,
        submitted_at: at,
        updated_at: at,
        published: None,
        last_validated: None,
        change: None,
        former_keys: Vec::new(),
        link_back: None,
        policy_acknowledgement: super::state::PolicyAcknowledgement {
            version: form.policy_version.trim().to_owned(),
            by: super::event::SignOff {
                by: proposed_by.to_owned(),
                at,
            },
        },
        permanent_id: None,
        grandfathered: None,
    };
    if same_level {
        if keep(&Step::RiskAssessment) {
            c.risk_assessment = s.risk_assessment.clone();
        }
        if keep(&Step::RiskAssessmentSignature) {
            c.risk_signature = s.risk_signature.clone();
        }
        if keep(&Step::SeniorOfficerSignOff) {
            c.senior_sign_off = s.senior_sign_off.clone();
        }
        if keep(&Step::ConsultationListing) {
            c.consultation_listing = s.consultation_listing.clone();
        }
    }
    for asset in &form.branding_assets {
        if keep(&Step::BrandingApproval(asset.id.clone())) {
            if let Some(so) = s.branding_approvals.get(&asset.id) {
                c.branding_approvals.insert(asset.id.clone(), so.clone());
            }
        }
    }
    c
}
