use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::form::{Form, LevelDetails, PersonalField};
use crate::level::Level;
use crate::personal::{PersonalKind, Sealed};
use crate::platform::AccountKey;

use super::event::{ImportSource, Proposer, RegistrationEvent, RiskAssessment, SignOff, Step};

/// Where a registration is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Submitted; level steps and approval under way.
    Submitted,
    /// Sent back to the applicant.
    ChangesRequested,
    /// Approved by communications; ready to publish.
    Approved,
    /// Published: an official council account.
    Published,
    /// Withdrawn (terminal): no longer official.
    Withdrawn,
    /// Rejected (terminal).
    Rejected,
}

impl Status {
    /// Withdrawn or rejected: nothing more can happen.
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Withdrawn | Status::Rejected)
    }
}

/// The state of one registration, folded from its events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registration {
    /// Its id.
    pub id: Uuid,
    /// How many events it has (its stream version).
    pub version: i64,
    /// Lifecycle status.
    pub status: Status,
    /// Who submitted it.
    pub applicant: String,
    /// The canonical account.
    pub account_key: AccountKey,
    /// The current form (shared: it changes only as a whole, so folding
    /// and copying a state never copies it).
    pub form: Arc<Form<Sealed>>,
    /// The risk assessment (level 3).
    pub risk_assessment: Option<RiskAssessment>,
    /// The line manager's signature (level 3).
    pub risk_signature: Option<SignOff>,
    /// The senior officer's sign-off (level 4).
    pub senior_sign_off: Option<SignOff>,
    /// The Consultation Finder listing (level 2): reference and sign-off.
    pub consultation_listing: Option<(String, SignOff)>,
    /// Approved branding assets.
    pub branding_approvals: BTreeMap<String, SignOff>,
    /// Communications approval.
    pub approval: Option<SignOff>,
    /// The last request for changes, while it stands: reason and sign-off.
    pub changes_requested: Option<(String, SignOff)>,
    /// Rejection: reason and sign-off.
    pub rejection: Option<(String, SignOff)>,
    /// Withdrawal: reason and sign-off.
    pub withdrawal: Option<(String, SignOff)>,
    /// When it was submitted.
    pub submitted_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
    /// Publication.
    pub published: Option<SignOff>,
    /// The last re-validation (or the publication).
    pub last_validated: Option<SignOff>,
    /// The change proposed to it while published, until it is published,
    /// refused or withdrawn.
    pub change: Option<Box<PendingChange>>,
    /// The accounts it was known as before published changes renamed it,
    /// oldest first.
    pub former_keys: Vec<FormerKey>,
    /// Level 3: communications' check that the officer's profile links to
    /// their page, for the officer and account it holds now.
    pub link_back: Option<LinkBack>,
    /// The version of the social media policy acknowledged for it last:
    /// on its form, or since by its business contact.
    pub policy_acknowledgement: PolicyAcknowledgement,
    /// The platform's permanent id of the account, once recorded.
    pub permanent_id: Option<AccountKey>,
    /// Imported from the council's existing accounts and not yet through
    /// its full review.
    pub grandfathered: Option<Grandfathered>,
}

/// Where an imported registration came from, and by when its full review
/// (every sign-off of its level, as a proposed change) is due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grandfathered {
    /// The file and row.
    pub source: ImportSource,
    /// Who imported it, and when.
    pub imported: SignOff,
    /// By when.
    pub review_by: NaiveDate,
}

/// Who acknowledged which version of the social media policy, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyAcknowledgement {
    /// The version.
    pub version: String,
    /// Who and when.
    pub by: SignOff,
}

/// A checked link from a level-3 account's profile to its officer's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkBack {
    /// The profile address checked.
    pub profile_url: String,
    /// The officer whose page it links to.
    pub officer_subject: String,
    /// Who checked, and when.
    pub checked: SignOff,
}

/// When a published registration's review falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RevalidationDue {
    /// The date the review falls due.
    pub due_on: NaiveDate,
    /// True when that date has passed.
    pub overdue: bool,
}

impl Registration {
    /// Every personal value the registration holds, with its field: the
    /// form's (see [`Form::map_personal`]) and the risk assessor's name.
    pub fn personal_fields(&self) -> Vec<(PersonalField, Sealed)> {
        let mut out = self.form.personal_fields();
        if let Some(ra) = &self.risk_assessment {
            out.push((
                PersonalField {
                    path: "riskAssessment.assessor".into(),
                    kind: PersonalKind::Name,
                    person: ra.assessor.person,
                },
                ra.assessor.clone(),
            ));
        }
        if let Some(c) = &self.change {
            for (mut field, value) in c.candidate.personal_fields() {
                field.path = format!("pendingChange.{}", field.path);
                out.push((field, value));
            }
        }
        out
    }

    /// The level.
    pub fn level(&self) -> Level {
        self.form.level()
    }

    /// The steps the level requires before communications approval.
    pub fn level_steps(&self) -> Vec<Step> {
        super::event::level_steps(self.level())
    }

    /// True when the step is done (and not voided since).
    pub fn is_done(&self, step: &Step) -> bool {
        match step {
            Step::RiskAssessment => self.risk_assessment.is_some(),
            Step::RiskAssessmentSignature => self.risk_signature.is_some(),
            Step::SeniorOfficerSignOff => self.senior_sign_off.is_some(),
            Step::ConsultationListing => self.consultation_listing.is_some(),
            Step::BrandingApproval(id) => self.branding_approvals.contains_key(id),
            Step::CommunicationsApproval => self.approval.is_some(),
        }
    }

    /// Every step required before publication that is not done yet.
    pub fn outstanding(&self) -> Vec<Step> {
        let mut steps = self.level_steps();
        steps.extend(
            self.form
                .branding_assets
                .iter()
                .map(|a| Step::BrandingApproval(a.id.clone())),
        );
        steps.push(Step::CommunicationsApproval);
        steps.into_iter().filter(|s| !self.is_done(s)).collect()
    }

    /// The named line manager (level 3).
    pub fn line_manager(&self) -> Option<&str> {
        match &self.form.details {
            LevelDetails::Participate { line_manager, .. } => Some(&line_manager.subject),
            _ => None,
        }
    }

    /// The named officer (level 3).
    pub fn officer(&self) -> Option<&str> {
        match &self.form.details {
            LevelDetails::Participate { officer, .. } => Some(&officer.subject),
            _ => None,
        }
    }

    /// The named senior officer (level 4).
    pub fn senior_officer(&self) -> Option<&str> {
        match &self.form.details {
            LevelDetails::Engage { senior_officer, .. } => Some(&senior_officer.subject),
            _ => None,
        }
    }

    /// When the review falls due, for a published registration.
    pub fn revalidation_due(
        &self,
        now: DateTime<Utc>,
        review_period_days: i64,
    ) -> Option<RevalidationDue> {
        if self.status != Status::Published {
            return None;
        }
        if let Some(g) = &self.grandfathered {
            return Some(RevalidationDue {
                due_on: g.review_by,
                overdue: now.date_naive() >= g.review_by,
            });
        }
        let last = self.last_validated.as_ref()?.at;
        let due = last + Duration::days(review_period_days);
        Some(RevalidationDue {
            due_on: due.date_naive(),
            overdue: now >= due,
        })
    }

    /// Fold one event into the state. `None` before the first event.
    pub fn apply(state: Option<Registration>, event: &RegistrationEvent) -> Option<Registration> {
        if let RegistrationEvent::RegistrationImported {
            id,
            account_key,
            form,
            permanent_id,
            source,
            imported,
            review_by,
        } = event
        {
            let mut s = Registration::apply(
                None,
                &RegistrationEvent::RegistrationSubmitted {
                    id: *id,
                    applicant: imported.by.clone(),
                    account_key: account_key.clone(),
                    form: form.clone(),
                    at: imported.at,
                },
            )?;
            s.status = Status::Published;
            s.published = Some(imported.clone());
            s.last_validated = Some(imported.clone());
            s.permanent_id = permanent_id.clone();
            s.grandfathered = Some(Grandfathered {
                source: source.clone(),
                imported: imported.clone(),
                review_by: *review_by,
            });
            return Some(s);
        }
        if let RegistrationEvent::RegistrationSubmitted {
            id,
            applicant,
            account_key,
            form,
            at,
        } = event
        {
            return Some(Registration {
                id: *id,
                version: 1,
                status: Status::Submitted,
                applicant: applicant.clone(),
                account_key: account_key.clone(),
                form: Arc::new(form.clone()),
                risk_assessment: None,
                risk_signature: None,
                senior_sign_off: None,
                consultation_listing: None,
                branding_approvals: BTreeMap::new(),
                approval: None,
                changes_requested: None,
                rejection: None,
                withdrawal: None,
                submitted_at: *at,
                updated_at: *at,
                published: None,
                last_validated: None,
                change: None,
                former_keys: Vec::new(),
                link_back: None,
                policy_acknowledgement: PolicyAcknowledgement {
                    version: form.policy_version.trim().to_owned(),
                    by: SignOff {
                        by: applicant.clone(),
                        at: *at,
                    },
                },
                permanent_id: None,
                grandfathered: None,
            });
        }
        let mut s = state?;
        s.version += 1;
        if let Some(change) = s
            .change
            .as_mut()
            .filter(|_| s.status == Status::Published && Self::is_change_step(event))
        {
            // The candidate is cheap to copy: its form is shared.
            change.candidate =
                Registration::apply(Some(change.candidate.clone()), event).expect("folds");
            s.updated_at = change.candidate.updated_at;
            return Some(s);
        }
        match event {
            RegistrationEvent::RegistrationSubmitted { .. }
            | RegistrationEvent::RegistrationImported { .. } => unreachable!("handled above"),
            RegistrationEvent::RegistrationAmended {
                account_key,
                form,
                voided,
                at,
                by,
            } => {
                if account_key.platform != s.account_key.platform {
                    s.permanent_id = None;
                }
                s.account_key = account_key.clone();
                s.form = Arc::new(form.clone());
                s.policy_acknowledgement = PolicyAcknowledgement {
                    version: form.policy_version.trim().to_owned(),
                    by: SignOff {
                        by: by.clone(),
                        at: *at,
                    },
                };
                s.void(voided);
                s.changes_requested = None;
                s.status = Status::Submitted;
                s.updated_at = *at;
            }
            RegistrationEvent::RiskAssessmentRecorded { assessment, voided } => {
                s.void(voided);
                s.risk_assessment = Some(assessment.clone());
                s.updated_at = assessment.recorded_at;
                if s.status == Status::Approved {
                    s.status = Status::Submitted;
                }
            }
            RegistrationEvent::RiskAssessmentSigned(so) => {
                s.updated_at = so.at;
                s.risk_signature = Some(so.clone());
            }
            RegistrationEvent::SeniorOfficerSignedOff(so) => {
                s.updated_at = so.at;
                s.senior_sign_off = Some(so.clone());
            }
            RegistrationEvent::ConsultationListed {
                finder_reference,
                sign_off,
            } => {
                s.updated_at = sign_off.at;
                s.consultation_listing = Some((finder_reference.clone(), sign_off.clone()));
            }
            RegistrationEvent::BrandingAssetApproved { asset_id, sign_off } => {
                s.updated_at = sign_off.at;
                s.branding_approvals
                    .insert(asset_id.clone(), sign_off.clone());
            }
            RegistrationEvent::RegistrationApproved(so) => {
                s.updated_at = so.at;
                s.approval = Some(so.clone());
                s.status = Status::Approved;
            }
            RegistrationEvent::ChangesRequested {
                reason, sign_off, ..
            } => {
                s.updated_at = sign_off.at;
                s.changes_requested = Some((reason.clone(), sign_off.clone()));
                s.status = Status::ChangesRequested;
            }
            RegistrationEvent::RegistrationRejected {
                reason, sign_off, ..
            } => {
                s.updated_at = sign_off.at;
                s.rejection = Some((reason.clone(), sign_off.clone()));
                s.status = Status::Rejected;
            }
            RegistrationEvent::RegistrationPublished { sign_off, .. } => {
                s.updated_at = sign_off.at;
                s.published = Some(sign_off.clone());
                s.last_validated = Some(sign_off.clone());
                s.status = Status::Published;
            }
            RegistrationEvent::RegistrationWithdrawn { reason, sign_off } => {
                s.updated_at = sign_off.at;
                s.withdrawal = Some((reason.clone(), sign_off.clone()));
                s.status = Status::Withdrawn;
                s.change = None;
            }
            RegistrationEvent::RegistrationRevalidated(so) => {
                s.updated_at = so.at;
                s.last_validated = Some(so.clone());
            }
            RegistrationEvent::ChangeProposed {
                account_key,
                form,
                reason,
                capacity,
                required,
                by,
                at,
            } => {
                let candidate = candidate(&s, form, account_key, required, by, *at);
                s.change = Some(Box::new(PendingChange {
                    reason: reason.clone(),
                    proposed_by: by.clone(),
                    capacity: *capacity,
                    proposed_at: *at,
                    required: required.clone(),
                    candidate,
                }));
                s.updated_at = *at;
            }
            RegistrationEvent::ChangeApproved(so) => {
                s.updated_at = so.at;
                if let Some(c) = s.change.as_mut() {
                    c.candidate.approval = Some(so.clone());
                    c.candidate.status = Status::Approved;
                }
            }
            RegistrationEvent::ChangeRefused { sign_off, .. } => {
                s.updated_at = sign_off.at;
                s.change = None;
            }
            RegistrationEvent::ChangeWithdrawn { sign_off, .. } => {
                s.updated_at = sign_off.at;
                s.change = None;
            }
            RegistrationEvent::ChangePublished {
                sign_off,
                renamed_from,
                ..
            } => {
                s.updated_at = sign_off.at;
                if let Some(c) = s.change.take() {
                    let c = c.candidate;
                    // The check was of this officer's link from this
                    // account: another officer or account needs a new one.
                    if c.officer() != s.officer() || c.account_key != s.account_key {
                        s.link_back = None;
                    }
                    // Its full review is done: every sign-off was given.
                    s.grandfathered = None;
                    // A permanent id is of an account on one platform.
                    if c.account_key.platform != s.account_key.platform {
                        s.permanent_id = None;
                    }
                    if let Some(old) = renamed_from {
                        s.former_keys.push(FormerKey {
                            account_key: old.clone(),
                            renamed_to: c.account_key.clone(),
                            renamed_at: sign_off.at,
                        });
                    }
                    // The change's form acknowledged the policy current
                    // when it was proposed.
                    if c.policy_acknowledgement.version != s.policy_acknowledgement.version {
                        s.policy_acknowledgement = c.policy_acknowledgement;
                    }
                    s.account_key = c.account_key;
                    s.form = c.form;
                    s.risk_assessment = c.risk_assessment;
                    s.risk_signature = c.risk_signature;
                    s.senior_sign_off = c.senior_sign_off;
                    s.consultation_listing = c.consultation_listing;
                    s.branding_approvals = c.branding_approvals;
                    s.approval = c.approval;
                }
                s.last_validated = Some(sign_off.clone());
            }
            RegistrationEvent::PermanentIdRecorded {
                permanent_id,
                sign_off,
            } => {
                s.updated_at = sign_off.at;
                s.permanent_id = Some(permanent_id.clone());
            }
            RegistrationEvent::PolicyAcknowledged { version, sign_off } => {
                s.updated_at = sign_off.at;
                s.policy_acknowledgement = PolicyAcknowledgement {
                    version: version.clone(),
                    by: sign_off.clone(),
                };
            }
            RegistrationEvent::OfficerLinkBackChecked {
                profile_url,
                officer_subject,
                sign_off,
            } => {
                s.updated_at = sign_off.at;
                s.link_back = Some(LinkBack {
                    profile_url: profile_url.clone(),
                    officer_subject: officer_subject.clone(),
                    checked: sign_off.clone(),
                });
            }
        }
        Some(s)
    }

    /// The sign-off events that, while a change is pending, are the
    /// change's rather than the published registration's.
    fn is_change_step(event: &RegistrationEvent) -> bool {
        matches!(
            event,
            RegistrationEvent::RiskAssessmentRecorded { .. }
                | RegistrationEvent::RiskAssessmentSigned(_)
                | RegistrationEvent::SeniorOfficerSignedOff(_)
                | RegistrationEvent::ConsultationListed { .. }
                | RegistrationEvent::BrandingAssetApproved { .. }
                | RegistrationEvent::ChangesRequested { .. }
        )
    }

    /// Every staff subject the registration names, on its form and on a
    /// pending change's.
    pub fn named_subjects(&self) -> std::collections::BTreeSet<&str> {
        let mut named = self.form.named_subjects();
        if let Some(c) = &self.change {
            named.extend(c.candidate.form.named_subjects());
            named.insert(c.proposed_by.as_str());
        }
        named
    }

    fn void(&mut self, steps: &[Step]) {
        for step in steps {
            match step {
                Step::RiskAssessment => self.risk_assessment = None,
                Step::RiskAssessmentSignature => self.risk_signature = None,
                Step::SeniorOfficerSignOff => self.senior_sign_off = None,
                Step::ConsultationListing => self.consultation_listing = None,
                Step::BrandingApproval(id) => {
                    self.branding_approvals.remove(id);
                }
                Step::CommunicationsApproval => self.approval = None,
            }
        }
    }
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

/// The candidate a change starts from: the published registration with the
/// new form and account, the proposer in the applicant's place, and only
/// the sign-offs the change does not need carried over.
fn candidate(
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
        policy_acknowledgement: PolicyAcknowledgement {
            version: form.policy_version.trim().to_owned(),
            by: SignOff {
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

/// Fold a whole history.
pub fn fold<'a>(events: impl IntoIterator<Item = &'a RegistrationEvent>) -> Option<Registration> {
    events.into_iter().fold(None, Registration::apply)
}
