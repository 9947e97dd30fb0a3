//! Every way a command can be refused, each naming the rule it breaks.

use thiserror::Error;
use uuid::Uuid;

use crate::actor::Role;
use crate::level::Level;
use crate::registration::{Status, Step};

/// How the API should present an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is malformed (`BAD_USER_INPUT`).
    BadInput,
    /// The actor may not do this (`FORBIDDEN`).
    Forbidden,
    /// The thing does not exist (`NOT_FOUND`).
    NotFound,
    /// It clashes with something that exists (`CONFLICT`).
    Conflict,
    /// The rules do not allow it in the current state (`INVALID_TRANSITION`).
    InvalidTransition,
}

/// A refused command.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// A field is missing or malformed.
    #[error("{field}: {problem}")]
    Invalid {
        /// The field, as a path such as `form.details.officer.name`.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// The actor lacks the role the command needs.
    #[error("this needs the `{role}` role")]
    MissingRole {
        /// The role needed.
        role: Role,
    },
    /// Nobody approves, signs or publishes their own submission.
    #[error("you cannot approve, sign or publish your own submission")]
    SelfApprovalForbidden,
    /// Only the applicant may do this.
    #[error("only the person who submitted this registration may do that")]
    NotTheApplicant,
    /// Only the line manager named on the form may sign the risk assessment.
    #[error("only the line manager named on the form may sign its risk assessment")]
    NotTheNamedLineManager,
    /// Only the senior officer named on the form may sign it off.
    #[error("only the senior officer named on the form may sign it off")]
    NotTheNamedSeniorOfficer,
    /// The senior officer has no speaking authority for a topic.
    #[error(
        "the senior officer has no speaking authority for `{topic}` in the authority register"
    )]
    NoSpeakingAuthority {
        /// The topic not covered.
        topic: String,
    },
    /// Only the business contact or communications may re-validate.
    #[error("only the business contact or the communications team may re-validate")]
    NotTheBusinessContact,
    /// Only the applicant, officer or line manager may record the risk assessment.
    #[error(
        "only the applicant, the officer or the named line manager may record the risk assessment"
    )]
    NotAllowedToRecordRiskAssessment,
    /// Only an approver of this registration may request changes or reject.
    #[error("only an approver of this registration may request changes to it or reject it")]
    NotAnApprover,
    /// Only the applicant, the business contact or communications may
    /// propose a change to a published registration.
    #[error("only the person who submitted this registration, its business contact or the communications team may propose a change to it")]
    NotAllowedToProposeChange,
    /// Only the proposer of the pending change or communications may
    /// replace or withdraw it.
    #[error("only the person who proposed the pending change, or the communications team, may replace or withdraw it")]
    NotTheProposer,
    /// Only the business contact named on the form acknowledges the policy.
    #[error("only the business contact named on the form may acknowledge the social media policy for it")]
    NotTheNamedContact,
    /// This version is acknowledged already.
    #[error("version {0} of the social media policy is already acknowledged for this account")]
    PolicyAlreadyAcknowledged(String),
    /// This permanent id is recorded already.
    #[error("the permanent id {0} is already recorded for this registration")]
    PermanentIdAlreadyRecorded(String),
    /// An imported registration is re-validated by its full review.
    #[error("this account was imported without sign-offs: re-validate it by proposing its complete form (proposeChange), which goes through every sign-off of its level")]
    FullReviewRequired,
    /// No change is pending.
    #[error("no change to this registration is pending")]
    NoPendingChange,
    /// No registration with this id.
    #[error("no registration {0}")]
    RegistrationNotFound(Uuid),
    /// A registration with this id exists already.
    #[error("registration {0} already exists")]
    RegistrationExists(Uuid),
    /// The account is registered by another active registration.
    #[error("{account} is already registered (registration {registration})")]
    AccountAlreadyRegistered {
        /// The canonical account.
        account: String,
        /// The registration holding it.
        registration: Uuid,
    },
    /// The job role is not on the accepted list for level 3.
    #[error("job role `{job_role}` is not on the accepted list for level 3")]
    JobRoleNotAccepted {
        /// The job role given.
        job_role: String,
    },
    /// The command does not apply to this level.
    #[error("{action} applies only to level {expected} registrations; this one is {actual:?}")]
    WrongLevel {
        /// What was attempted.
        action: &'static str,
        /// The level it applies to.
        expected: u8,
        /// The registration's level.
        actual: Level,
    },
    /// The level of a registration cannot change: withdraw and submit anew.
    #[error("the level cannot change; withdraw this registration and submit a new one")]
    LevelCannotChange,
    /// The amendment changes nothing.
    #[error("the amendment changes nothing")]
    NothingChanged,
    /// Not allowed in the registration's current status.
    #[error("cannot {action} a registration that is {status:?}")]
    NotAllowedInStatus {
        /// What was attempted.
        action: &'static str,
        /// The current status.
        status: Status,
    },
    /// The line manager cannot sign before the risk assessment is recorded.
    #[error("the risk assessment has not been recorded yet")]
    RiskAssessmentMissing,
    /// This step is already done.
    #[error("{0:?} is already done")]
    AlreadyDone(Step),
    /// Approval needs these steps first.
    #[error("steps outstanding before approval: {0:?}")]
    StepsOutstanding(Vec<Step>),
    /// Publication needs every branding asset approved.
    #[error("branding assets not yet approved: {0:?}")]
    BrandingNotApproved(Vec<String>),
    /// No such branding asset on the form.
    #[error("no branding asset `{0}` on this form")]
    UnknownBrandingAsset(String),
    /// A reference-data entry that already exists, or does not.
    #[error("{0}")]
    ReferenceData(String),
}

impl DomainError {
    pub(crate) fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        DomainError::Invalid {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// The rule's name, e.g. `SelfApprovalForbidden`.
    pub fn rule(&self) -> &'static str {
        match self {
            DomainError::Invalid { .. } => "Invalid",
            DomainError::MissingRole { .. } => "MissingRole",
            DomainError::SelfApprovalForbidden => "SelfApprovalForbidden",
            DomainError::NotTheApplicant => "NotTheApplicant",
            DomainError::NotTheNamedLineManager => "NotTheNamedLineManager",
            DomainError::NotTheNamedSeniorOfficer => "NotTheNamedSeniorOfficer",
            DomainError::NoSpeakingAuthority { .. } => "NoSpeakingAuthority",
            DomainError::NotTheBusinessContact => "NotTheBusinessContact",
            DomainError::NotAllowedToRecordRiskAssessment => "NotAllowedToRecordRiskAssessment",
            DomainError::NotAnApprover => "NotAnApprover",
            DomainError::NotAllowedToProposeChange => "NotAllowedToProposeChange",
            DomainError::NotTheProposer => "NotTheProposer",
            DomainError::NoPendingChange => "NoPendingChange",
            DomainError::FullReviewRequired => "FullReviewRequired",
            DomainError::PermanentIdAlreadyRecorded(_) => "PermanentIdAlreadyRecorded",
            DomainError::NotTheNamedContact => "NotTheNamedContact",
            DomainError::PolicyAlreadyAcknowledged(_) => "PolicyAlreadyAcknowledged",
            DomainError::RegistrationNotFound(_) => "RegistrationNotFound",
            DomainError::RegistrationExists(_) => "RegistrationExists",
            DomainError::AccountAlreadyRegistered { .. } => "AccountAlreadyRegistered",
            DomainError::JobRoleNotAccepted { .. } => "JobRoleNotAccepted",
            DomainError::WrongLevel { .. } => "WrongLevel",
            DomainError::LevelCannotChange => "LevelCannotChange",
            DomainError::NothingChanged => "NothingChanged",
            DomainError::NotAllowedInStatus { .. } => "NotAllowedInStatus",
            DomainError::RiskAssessmentMissing => "RiskAssessmentMissing",
            DomainError::AlreadyDone(_) => "AlreadyDone",
            DomainError::StepsOutstanding(_) => "StepsOutstanding",
            DomainError::BrandingNotApproved(_) => "BrandingNotApproved",
            DomainError::UnknownBrandingAsset(_) => "UnknownBrandingAsset",
            DomainError::ReferenceData(_) => "ReferenceData",
        }
    }

    /// How the API presents it.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DomainError::Invalid { .. }
            | DomainError::JobRoleNotAccepted { .. }
            | DomainError::UnknownBrandingAsset(_) => ErrorKind::BadInput,
            DomainError::MissingRole { .. }
            | DomainError::SelfApprovalForbidden
            | DomainError::NotTheApplicant
            | DomainError::NotTheNamedLineManager
            | DomainError::NotTheNamedSeniorOfficer
            | DomainError::NoSpeakingAuthority { .. }
            | DomainError::NotTheBusinessContact
            | DomainError::NotAllowedToRecordRiskAssessment
            | DomainError::NotAnApprover
            | DomainError::NotAllowedToProposeChange
            | DomainError::NotTheProposer
            | DomainError::NotTheNamedContact => ErrorKind::Forbidden,
            DomainError::RegistrationNotFound(_) => ErrorKind::NotFound,
            DomainError::RegistrationExists(_) | DomainError::AccountAlreadyRegistered { .. } => {
                ErrorKind::Conflict
            }
            DomainError::ReferenceData(_) => ErrorKind::Conflict,
            _ => ErrorKind::InvalidTransition,
        }
    }
}
