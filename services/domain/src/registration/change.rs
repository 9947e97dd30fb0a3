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

use crate::form::{Form, LevelDetails};
use crate::personal::Sealed;
use crate::platform::AccountKey;

use super::event::Step;
use super::state::Registration;

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
    super::event::level_steps(form.level())
}
