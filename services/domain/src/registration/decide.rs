use chrono::{DateTime, Utc};

use crate::actor::{Actor, Role};
use crate::checks;
use crate::error::DomainError;
use crate::form::{self, Form, LevelDetails};
use crate::level::Level;
use crate::personal::{PersonalKind, PersonalValue, Sealed};
use crate::reference::ReferenceData;

use super::command::{Command, RiskAssessmentInput};
use super::event::Proposer;
use super::event::Step;
use super::event::{RegistrationEvent, RiskAssessment, SignOff};
use super::state::PendingChange;
use super::state::{Registration, Status};

/// Every status but the final ones.
const LIVE: [Status; 4] = [
    Status::Submitted,
    Status::ChangesRequested,
    Status::Approved,
    Status::Published,
];

/// What a decision may consult besides the registration itself.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Who asks.
    pub actor: &'a Actor,
    /// The time of the decision.
    pub now: DateTime<Utc>,
    /// Reference data as it stands.
    pub reference: &'a ReferenceData,
}

impl Context<'_> {
    fn sign_off(&self) -> SignOff {
        SignOff {
            by: self.actor.subject.clone(),
            at: self.now,
        }
    }

    fn require(&self, role: Role) -> Result<(), DomainError> {
        if self.actor.has(role) {
            Ok(())
        } else {
            Err(DomainError::MissingRole { role })
        }
    }
}

/// Decide a command against the registration's state (`None` when it has no
/// events yet): the events to append, or the rule it breaks.
pub fn decide(
    state: Option<&Registration>,
    command: &Command,
    ctx: &Context<'_>,
) -> Result<Vec<RegistrationEvent>, DomainError> {
    if let Command::Submit { id, form } = command {
        if state.is_some() {
            return Err(DomainError::RegistrationExists(*id));
        }
        ctx.require(Role::Staff)?;
        let account_key = form::validate(form, ctx.reference)?;
        return Ok(vec![RegistrationEvent::RegistrationSubmitted {
            id: *id,
            applicant: ctx.actor.subject.clone(),
            account_key,
            form: form.clone(),
            at: ctx.now,
        }]);
    }
    if let Command::Import {
        id,
        form,
        permanent_id,
        source,
        review_by,
    } = command
    {
        if state.is_some() {
            return Err(DomainError::RegistrationExists(*id));
        }
        ctx.require(Role::Communications)?;
        let account_key = form::validate_imported(form, ctx.reference)?;
        let permanent_id = permanent_id
            .as_deref()
            .map(|p| crate::platform::permanent::parse(form.platform, p))
            .transpose()
            .map_err(|e| DomainError::invalid("permanentId", e.0))?;
        checks::text("fileName", &source.file_name, 300)?;
        return Ok(vec![RegistrationEvent::RegistrationImported {
            id: *id,
            account_key,
            form: (**form).clone(),
            permanent_id,
            source: source.clone(),
            imported: ctx.sign_off(),
            review_by: *review_by,
        }]);
    }
    let Some(s) = state else {
        return Err(DomainError::RegistrationNotFound(uuid::Uuid::nil()));
    };
    if let Some(change) = s
        .change
        .as_deref()
        .filter(|_| s.status == Status::Published)
    {
        if let Some(events) = decide_on_change(s, change, command, ctx)? {
            return Ok(events);
        }
    }
    let event = match command {
        Command::Submit { .. } | Command::Import { .. } => unreachable!("handled above"),
        Command::Amend { form } => amend(s, form, ctx)?,
        Command::RecordRiskAssessment(input) => record_risk_assessment(s, input, ctx)?,
        Command::SignRiskAssessment => sign_risk_assessment(s, ctx)?,
        Command::SeniorOfficerSignOff => senior_sign_off(s, ctx)?,
        Command::RecordConsultationListing { finder_reference } => {
            consultation_listing(s, finder_reference, ctx)?
        }
        Command::ApproveBrandingAsset { asset_id } => approve_branding(s, asset_id, ctx)?,
        Command::Approve => approve(s, ctx)?,
        Command::RequestChanges { reason } => {
            let role = approver_role(s, ctx, command)?;
            checks::text("reason", reason, form::MAX_TEXT)?;
            RegistrationEvent::ChangesRequested {
                reason: reason.trim().to_owned(),
                role,
                sign_off: ctx.sign_off(),
            }
        }
        Command::Reject { reason } => {
            let role = approver_role(s, ctx, command)?;
            checks::text("reason", reason, form::MAX_TEXT)?;
            RegistrationEvent::RegistrationRejected {
                reason: reason.trim().to_owned(),
                role,
                sign_off: ctx.sign_off(),
            }
        }
        Command::Publish => publish(s, ctx)?,
        Command::Withdraw { reason } => {
            if s.applicant != ctx.actor.subject {
                ctx.require(Role::Communications)
                    .map_err(|_| DomainError::NotTheApplicant)?;
            }
            in_status(s, command, &LIVE)?;
            checks::text("reason", reason, form::MAX_TEXT)?;
            RegistrationEvent::RegistrationWithdrawn {
                reason: reason.trim().to_owned(),
                sign_off: ctx.sign_off(),
            }
        }
        Command::Revalidate => {
            if s.form.business_contact.subject != ctx.actor.subject
                && !ctx.actor.has(Role::Communications)
            {
                return Err(DomainError::NotTheBusinessContact);
            }
            in_status(s, command, &[Status::Published])?;
            if s.grandfathered.is_some() {
                return Err(DomainError::FullReviewRequired);
            }
            RegistrationEvent::RegistrationRevalidated(ctx.sign_off())
        }
        Command::ProposeChange { form, reason } => propose_change(s, form, reason, ctx)?,
        Command::RecordOfficerLinkBack { profile_url } => link_back(s, profile_url, ctx)?,
        Command::RecordPermanentId { permanent_id } => {
            ctx.require(Role::Communications)?;
            in_status(s, command, &LIVE)?;
            let key = crate::platform::permanent::parse(s.form.platform, permanent_id)
                .map_err(|e| DomainError::invalid("permanentId", e.0))?;
            if s.permanent_id.as_ref() == Some(&key) {
                return Err(DomainError::PermanentIdAlreadyRecorded(key.to_string()));
            }
            RegistrationEvent::PermanentIdRecorded {
                permanent_id: key,
                sign_off: ctx.sign_off(),
            }
        }
        Command::AcknowledgePolicy { version } => {
            if s.form.business_contact.subject != ctx.actor.subject {
                return Err(DomainError::NotTheNamedContact);
            }
            in_status(s, command, &[Status::Published])?;
            let Some(current) = ctx.reference.current_policy() else {
                return Err(DomainError::invalid(
                    "version",
                    "no version of the social media policy has been published",
                ));
            };
            if version.trim() != current.version {
                return Err(DomainError::invalid(
                    "version",
                    format!(
                        "must be the current social media policy, version {}",
                        current.version
                    ),
                ));
            }
            if s.policy_acknowledgement.version == current.version {
                return Err(DomainError::PolicyAlreadyAcknowledged(
                    current.version.clone(),
                ));
            }
            RegistrationEvent::PolicyAcknowledged {
                version: current.version.clone(),
                sign_off: ctx.sign_off(),
            }
        }
        Command::WithdrawChange { reason } => {
            let Some(change) = &s.change else {
                return Err(DomainError::NoPendingChange);
            };
            if change.proposed_by != ctx.actor.subject && !ctx.actor.has(Role::Communications) {
                return Err(DomainError::NotTheProposer);
            }
            checks::text("reason", reason, form::MAX_TEXT)?;
            RegistrationEvent::ChangeWithdrawn {
                reason: reason.trim().to_owned(),
                sign_off: ctx.sign_off(),
            }
        }
    };
    Ok(vec![event])
}

/// A sign-off command while a change is pending is decided against the
/// change (its candidate), by the same rules as a new registration's;
/// approval, refusal and publication become the change's own events.
/// `None` for the commands that act on the registration itself.
fn decide_on_change(
    s: &Registration,
    change: &PendingChange,
    command: &Command,
    ctx: &Context<'_>,
) -> Result<Option<Vec<RegistrationEvent>>, DomainError> {
    let candidate = &change.candidate;
    let event = match command {
        Command::RecordRiskAssessment(_)
        | Command::SignRiskAssessment
        | Command::SeniorOfficerSignOff
        | Command::RecordConsultationListing { .. }
        | Command::ApproveBrandingAsset { .. }
        | Command::RequestChanges { .. } => return decide(Some(candidate), command, ctx).map(Some),
        Command::Approve => match decide(Some(candidate), command, ctx)?.pop() {
            Some(RegistrationEvent::RegistrationApproved(so)) => {
                RegistrationEvent::ChangeApproved(so)
            }
            _ => unreachable!("approval decides one approval"),
        },
        Command::Reject { .. } => match decide(Some(candidate), command, ctx)?.pop() {
            Some(RegistrationEvent::RegistrationRejected {
                reason,
                role,
                sign_off,
            }) => RegistrationEvent::ChangeRefused {
                reason,
                role,
                sign_off,
            },
            _ => unreachable!("a rejection decides one rejection"),
        },
        Command::Publish => match decide(Some(candidate), command, ctx)?.pop() {
            Some(RegistrationEvent::RegistrationPublished {
                sign_off,
                officer_subject,
            }) => RegistrationEvent::ChangePublished {
                sign_off,
                officer_subject,
                renamed_from: (candidate.account_key != s.account_key)
                    .then(|| s.account_key.clone()),
            },
            _ => unreachable!("a publication decides one publication"),
        },
        _ => return Ok(None),
    };
    Ok(Some(vec![event]))
}

/// Communications records that the level-3 officer's profile (this
/// registration's account) links to the officer's page.
fn link_back(
    s: &Registration,
    profile_url: &str,
    ctx: &Context<'_>,
) -> Result<RegistrationEvent, DomainError> {
    level(s, Level::Participate, "an officer link-back")?;
    ctx.require(Role::Communications)?;
    in_status(
        s,
        &Command::RecordOfficerLinkBack {
            profile_url: profile_url.to_owned(),
        },
        &[Status::Published],
    )?;
    checks::text("profileUrl", profile_url, 500)?;
    let url = url::Url::parse(profile_url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"));
    let same_account = url.is_some()
        && crate::platform::normalise(s.form.platform, profile_url.trim())
            .is_ok_and(|k| k == s.account_key);
    if !same_account {
        return Err(DomainError::invalid(
            "profileUrl",
            format!(
                "must be the full address of the profile checked, this registration's account ({})",
                s.account_key.url()
            ),
        ));
    }
    let officer = s.officer().expect("level 3 names an officer");
    Ok(RegistrationEvent::OfficerLinkBackChecked {
        profile_url: profile_url.trim().to_owned(),
        officer_subject: officer.to_owned(),
        sign_off: ctx.sign_off(),
    })
}

/// Propose a change to a published registration: the applicant, the
/// business contact or communications; a pending change is replaced only
/// by its proposer or communications.
fn propose_change(
    s: &Registration,
    new: &Form<Sealed>,
    reason: &str,
    ctx: &Context<'_>,
) -> Result<RegistrationEvent, DomainError> {
    let who = ctx.actor.subject.as_str();
    let capacity = if s.applicant == who {
        Proposer::Applicant
    } else if s.form.business_contact.subject == who {
        Proposer::BusinessContact
    } else if ctx.actor.has(Role::Communications) {
        Proposer::Communications
    } else {
        return Err(DomainError::NotAllowedToProposeChange);
    };
    in_status(
        s,
        &Command::ProposeChange {
            form: new.clone(),
            reason: reason.to_owned(),
        },
        &[Status::Published],
    )?;
    if let Some(pending) = &s.change {
        if pending.proposed_by != who && !ctx.actor.has(Role::Communications) {
            return Err(DomainError::NotTheProposer);
        }
    }
    checks::text("reason", reason, form::MAX_TEXT)?;
    let account_key = form::validate(new, ctx.reference)?;
    let same_as_pending = s
        .change
        .as_ref()
        .is_some_and(|c| *c.candidate.form == *new && c.status() != Status::ChangesRequested);
    if *new == *s.form || same_as_pending {
        return Err(DomainError::NothingChanged);
    }
    let required = super::change::required_steps(s, new, &account_key);
    Ok(RegistrationEvent::ChangeProposed {
        account_key,
        form: new.clone(),
        reason: reason.trim().to_owned(),
        capacity,
        required,
        by: who.to_owned(),
        at: ctx.now,
    })
}

fn in_status(s: &Registration, command: &Command, allowed: &[Status]) -> Result<(), DomainError> {
    if allowed.contains(&s.status) {
        Ok(())
    } else {
        Err(DomainError::NotAllowedInStatus {
            action: command.action(),
            status: s.status,
        })
    }
}

fn not_own(s: &Registration, ctx: &Context<'_>) -> Result<(), DomainError> {
    if s.applicant == ctx.actor.subject {
        Err(DomainError::SelfApprovalForbidden)
    } else {
        Ok(())
    }
}

fn level(s: &Registration, expected: Level, action: &'static str) -> Result<(), DomainError> {
    if s.level() == expected {
        Ok(())
    } else {
        Err(DomainError::WrongLevel {
            action,
            expected: expected.number(),
            actual: s.level(),
        })
    }
}

fn amend(
    s: &Registration,
    new: &Form<Sealed>,
    ctx: &Context<'_>,
) -> Result<RegistrationEvent, DomainError> {
    if s.applicant != ctx.actor.subject {
        return Err(DomainError::NotTheApplicant);
    }
    in_status(
        s,
        &Command::Amend { form: new.clone() },
        &[
            Status::Submitted,
            Status::ChangesRequested,
            Status::Approved,
        ],
    )?;
    if new.level() != s.level() {
        return Err(DomainError::LevelCannotChange);
    }
    let account_key = form::validate(new, ctx.reference)?;
    if *new == *s.form {
        return Err(DomainError::NothingChanged);
    }
    let voided = voided_by_amendment(s, new, &account_key);
    Ok(RegistrationEvent::RegistrationAmended {
        account_key,
        form: new.clone(),
        voided,
        by: ctx.actor.subject.clone(),
        at: ctx.now,
    })
}

/// The sign-offs an amendment voids: each covers particular fields, and
/// communications approval covers them all.
fn voided_by_amendment(
    s: &Registration,
    new: &Form<Sealed>,
    new_key: &crate::platform::AccountKey,
) -> Vec<Step> {
    let old = &s.form;
    let account_changed = *new_key != s.account_key || new.platform != old.platform;
    let area_changed = new.service_area != old.service_area;
    let mut covered_changed: Vec<Step> = Vec::new();
    match (&old.details, &new.details) {
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
            let assessed_changed = account_changed || o1 != o2 || j1 != j2;
            if assessed_changed {
                covered_changed.push(Step::RiskAssessment);
            }
            if assessed_changed || area_changed || l1 != l2 {
                covered_changed.push(Step::RiskAssessmentSignature);
            }
        }
        (LevelDetails::Engage { .. }, LevelDetails::Engage { .. })
            if account_changed || area_changed || old.details != new.details =>
        {
            covered_changed.push(Step::SeniorOfficerSignOff);
        }
        (LevelDetails::Consult { .. }, LevelDetails::Consult { .. })
            if account_changed || old.details != new.details =>
        {
            covered_changed.push(Step::ConsultationListing);
        }
        _ => {}
    }
    for asset in &old.branding_assets {
        if !new.branding_assets.contains(asset) {
            covered_changed.push(Step::BrandingApproval(asset.id.clone()));
        }
    }
    covered_changed.push(Step::CommunicationsApproval);
    covered_changed
        .into_iter()
        .filter(|step| s.is_done(step))
        .collect()
}

fn record_risk_assessment(
    s: &Registration,
    input: &RiskAssessmentInput<Sealed>,
    ctx: &Context<'_>,
) -> Result<RegistrationEvent, DomainError> {
    level(s, Level::Participate, "a risk assessment")?;
    let who = ctx.actor.subject.as_str();
    if who != s.applicant && Some(who) != s.officer() && Some(who) != s.line_manager() {
        return Err(DomainError::NotAllowedToRecordRiskAssessment);
    }
    in_status(
        s,
        &Command::RecordRiskAssessment(input.clone()),
        &[
            Status::Submitted,
            Status::ChangesRequested,
            Status::Approved,
        ],
    )?;
    input
        .assessor
        .check(PersonalKind::Name)
        .map_err(|p| DomainError::invalid("assessor", p))?;
    checks::code_like("assessorSubject", &input.assessor_subject)?;
    if input.assessed_on > ctx.now.date_naive() {
        return Err(DomainError::invalid(
            "assessedOn",
            "must not be in the future",
        ));
    }
    if input.risks.is_empty() {
        return Err(DomainError::invalid(
            "risks",
            "name at least one risk and its mitigation",
        ));
    }
    for (i, r) in input.risks.iter().enumerate() {
        checks::text(&format!("risks[{i}].risk"), &r.risk, form::MAX_TEXT)?;
        checks::text(
            &format!("risks[{i}].mitigation"),
            &r.mitigation,
            form::MAX_TEXT,
        )?;
    }
    checks::text("documentReference", &input.document_reference, 300)?;
    let voided = [Step::RiskAssessmentSignature, Step::CommunicationsApproval]
        .into_iter()
        .filter(|step| s.is_done(step))
        .collect();
    Ok(RegistrationEvent::RiskAssessmentRecorded {
        assessment: RiskAssessment {
            assessor: input.assessor.clone(),
            assessor_subject: input.assessor_subject.clone(),
            assessed_on: input.assessed_on,
            risks: input.risks.clone(),
            document_reference: input.document_reference.trim().to_owned(),
            recorded_by: who.to_owned(),
            recorded_at: ctx.now,
        },
        voided,
    })
}

fn sign_risk_assessment(
    s: &Registration,
    ctx: &Context<'_>,
) -> Result<RegistrationEvent, DomainError> {
    level(s, Level::Participate, "signing a risk assessment")?;
    ctx.require(Role::LineManager)?;
    not_own(s, ctx)?;
    if s.line_manager() != Some(ctx.actor.subject.as_str()) {
        return Err(DomainError::NotTheNamedLineManager);
    }
    in_status(s, &Command::SignRiskAssessment, &[Status::Submitted])?;
    if s.risk_assessment.is_none() {
        return Err(DomainError::RiskAssessmentMissing);
    }
    if s.risk_signature.is_some() {
        return Err(DomainError::AlreadyDone(Step::RiskAssessmentSignature));
    }
    Ok(RegistrationEvent::RiskAssessmentSigned(ctx.sign_off()))
}

fn senior_sign_off(s: &Registration, ctx: &Context<'_>) -> Result<RegistrationEvent, DomainError> {
    level(s, Level::Engage, "senior officer sign-off")?;
    ctx.require(Role::SeniorOfficer)?;
    not_own(s, ctx)?;
    if s.senior_officer() != Some(ctx.actor.subject.as_str()) {
        return Err(DomainError::NotTheNamedSeniorOfficer);
    }
    if let LevelDetails::Engage { topics, .. } = &s.form.details {
        if let Some(topic) = topics
            .iter()
            .find(|t| !ctx.reference.may_speak_on(&ctx.actor.subject, t))
        {
            return Err(DomainError::NoSpeakingAuthority {
                topic: topic.clone(),
            });
        }
    }
    in_status(s, &Command::SeniorOfficerSignOff, &[Status::Submitted])?;
    if s.senior_sign_off.is_some() {
        return Err(DomainError::AlreadyDone(Step::SeniorOfficerSignOff));
    }
    Ok(RegistrationEvent::SeniorOfficerSignedOff(ctx.sign_off()))
}

fn consultation_listing(
    s: &Registration,
    reference: &str,
    ctx: &Context<'_>,
) -> Result<RegistrationEvent, DomainError> {
    level(s, Level::Consult, "a Consultation Finder listing")?;
    ctx.require(Role::Consultation)?;
    not_own(s, ctx)?;
    in_status(
        s,
        &Command::RecordConsultationListing {
            finder_reference: reference.to_owned(),
        },
        &[Status::Submitted],
    )?;
    checks::text("finderReference", reference, 100)?;
    if s.consultation_listing.is_some() {
        return Err(DomainError::AlreadyDone(Step::ConsultationListing));
    }
    Ok(RegistrationEvent::ConsultationListed {
        finder_reference: reference.trim().to_owned(),
        sign_off: ctx.sign_off(),
    })
}

fn approve_branding(
    s: &Registration,
    asset_id: &str,
    ctx: &Context<'_>,
) -> Result<RegistrationEvent, DomainError> {
    ctx.require(Role::Communications)?;
    not_own(s, ctx)?;
    in_status(
        s,
        &Command::ApproveBrandingAsset {
            asset_id: asset_id.to_owned(),
        },
        &[Status::Submitted, Status::Approved],
    )?;
    if !s.form.branding_assets.iter().any(|a| a.id == asset_id) {
        return Err(DomainError::UnknownBrandingAsset(asset_id.to_owned()));
    }
    if s.branding_approvals.contains_key(asset_id) {
        return Err(DomainError::AlreadyDone(Step::BrandingApproval(
            asset_id.to_owned(),
        )));
    }
    Ok(RegistrationEvent::BrandingAssetApproved {
        asset_id: asset_id.to_owned(),
        sign_off: ctx.sign_off(),
    })
}

fn approve(s: &Registration, ctx: &Context<'_>) -> Result<RegistrationEvent, DomainError> {
    ctx.require(Role::Communications)?;
    not_own(s, ctx)?;
    if s.status == Status::Approved {
        return Err(DomainError::AlreadyDone(Step::CommunicationsApproval));
    }
    in_status(s, &Command::Approve, &[Status::Submitted])?;
    let outstanding: Vec<Step> = s
        .level_steps()
        .into_iter()
        .filter(|step| !s.is_done(step))
        .collect();
    if !outstanding.is_empty() {
        return Err(DomainError::StepsOutstanding(outstanding));
    }
    Ok(RegistrationEvent::RegistrationApproved(ctx.sign_off()))
}

fn publish(s: &Registration, ctx: &Context<'_>) -> Result<RegistrationEvent, DomainError> {
    ctx.require(Role::Communications)?;
    not_own(s, ctx)?;
    in_status(s, &Command::Publish, &[Status::Approved])?;
    let unapproved: Vec<String> = s
        .form
        .branding_assets
        .iter()
        .filter(|a| !s.branding_approvals.contains_key(&a.id))
        .map(|a| a.id.clone())
        .collect();
    if !unapproved.is_empty() {
        return Err(DomainError::BrandingNotApproved(unapproved));
    }
    // Approval is only ever recorded with every level step done, and any
    // later change to them voids it; checked again so a bug elsewhere can
    // never publish an unsigned registration.
    let outstanding = s.outstanding();
    if !outstanding.is_empty() {
        return Err(DomainError::StepsOutstanding(outstanding));
    }
    Ok(RegistrationEvent::RegistrationPublished {
        sign_off: ctx.sign_off(),
        officer_subject: s.officer().map(str::to_owned),
    })
}

/// The capacity in which the actor may request changes or reject: the named
/// line manager or senior officer, the consultation team (level 2), or
/// communications. Never the applicant.
fn approver_role(
    s: &Registration,
    ctx: &Context<'_>,
    command: &Command,
) -> Result<Role, DomainError> {
    let who = ctx.actor.subject.as_str();
    let role = if ctx.actor.has(Role::Communications) {
        Role::Communications
    } else if ctx.actor.has(Role::LineManager) && s.line_manager() == Some(who) {
        Role::LineManager
    } else if ctx.actor.has(Role::SeniorOfficer) && s.senior_officer() == Some(who) {
        Role::SeniorOfficer
    } else if ctx.actor.has(Role::Consultation) && s.level() == Level::Consult {
        Role::Consultation
    } else {
        return Err(DomainError::NotAnApprover);
    };
    not_own(s, ctx)?;
    in_status(s, command, &[Status::Submitted, Status::Approved])?;
    Ok(role)
}
