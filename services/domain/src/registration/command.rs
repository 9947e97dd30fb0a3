use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::form::Form;
use crate::personal::Sealed;

use super::event::{ImportSource, Risk};

/// The risk assessment as recorded on a level-3 registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskAssessmentInput<P> {
    /// Who assessed (name).
    pub assessor: P,
    /// The assessor's staff id.
    pub assessor_subject: String,
    /// When it was assessed.
    pub assessed_on: NaiveDate,
    /// The risks identified and their mitigations.
    pub risks: Vec<Risk>,
    /// Where the signed document is kept.
    pub document_reference: String,
}

/// What someone asks of a registration. Personal values are already sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Submit a new registration.
    Submit {
        /// The new registration's id.
        id: Uuid,
        /// The form.
        form: Form<Sealed>,
    },
    /// Record an account the council already runs as a published,
    /// grandfathered registration (communications, from an import file).
    Import {
        /// The new registration's id.
        id: Uuid,
        /// Its form as the file gives it (no acknowledgements).
        form: Box<Form<Sealed>>,
        /// The platform's permanent id, when the file gives it.
        permanent_id: Option<String>,
        /// Where it came from.
        source: ImportSource,
        /// By when its full review (every sign-off of its level) is due.
        review_by: NaiveDate,
    },
    /// Replace the form (applicant; before publication).
    Amend {
        /// The new form.
        form: Form<Sealed>,
    },
    /// Record the level-3 risk assessment.
    RecordRiskAssessment(RiskAssessmentInput<Sealed>),
    /// The named line manager signs the risk assessment (level 3).
    SignRiskAssessment,
    /// The named senior officer signs off (level 4).
    SeniorOfficerSignOff,
    /// The consultation team records the Consultation Finder listing (level 2).
    RecordConsultationListing {
        /// The Consultation Finder reference.
        finder_reference: String,
    },
    /// Communications approves one additional branding asset.
    ApproveBrandingAsset {
        /// The asset's id on the form.
        asset_id: String,
    },
    /// Communications approves the registration.
    Approve,
    /// An approver sends it back to the applicant.
    RequestChanges {
        /// What to change.
        reason: String,
    },
    /// An approver rejects it (terminal).
    Reject {
        /// Why.
        reason: String,
    },
    /// Communications publishes it.
    Publish,
    /// The applicant or communications withdraws it.
    Withdraw {
        /// Why.
        reason: String,
    },
    /// The business contact or communications confirms it is still in use.
    Revalidate,
    /// The applicant, the business contact or communications proposes a
    /// change to a published registration (replacing any pending one).
    ProposeChange {
        /// The form as it should be.
        form: Form<Sealed>,
        /// Why.
        reason: String,
    },
    /// Communications records that it checked the level-3 officer's
    /// profile links to their page on the council's site.
    RecordOfficerLinkBack {
        /// The profile address they checked (the registration's account).
        profile_url: String,
    },
    /// The business contact acknowledges the current social media policy
    /// for a published registration.
    AcknowledgePolicy {
        /// The version acknowledged (must be the current one).
        version: String,
    },
    /// Communications records the platform's permanent id of the account.
    RecordPermanentId {
        /// The id as given (its form depends on the platform).
        permanent_id: String,
    },
    /// The proposer or communications withdraws the pending change.
    WithdrawChange {
        /// Why.
        reason: String,
    },
}

impl Command {
    /// A short name for messages, e.g. `sign the risk assessment of`.
    pub fn action(&self) -> &'static str {
        match self {
            Command::Submit { .. } => "submit",
            Command::Import { .. } => "import",
            Command::Amend { .. } => "amend",
            Command::RecordRiskAssessment(_) => "record a risk assessment for",
            Command::SignRiskAssessment => "sign the risk assessment of",
            Command::SeniorOfficerSignOff => "sign off",
            Command::RecordConsultationListing { .. } => {
                "record the Consultation Finder listing of"
            }
            Command::ApproveBrandingAsset { .. } => "approve branding for",
            Command::Approve => "approve",
            Command::RequestChanges { .. } => "request changes to",
            Command::Reject { .. } => "reject",
            Command::Publish => "publish",
            Command::Withdraw { .. } => "withdraw",
            Command::Revalidate => "re-validate",
            Command::ProposeChange { .. } => "propose a change to",
            Command::WithdrawChange { .. } => "withdraw the pending change of",
            Command::RecordOfficerLinkBack { .. } => "record the officer link-back of",
            Command::AcknowledgePolicy { .. } => "acknowledge the policy for",
            Command::RecordPermanentId { .. } => "record the permanent id of",
        }
    }
}
