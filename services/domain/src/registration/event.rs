use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actor::Role;
use crate::form::Form;
use crate::personal::Sealed;
use crate::platform::AccountKey;

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

/// The file an imported registration came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportSource {
    /// The file's name, as given.
    pub file_name: String,
    /// SHA-256 of the file's bytes, hex.
    pub file_sha256: String,
    /// The row's line in it.
    pub line: u64,
}

/// The payload schema version of every registration event type today.
pub const EVENT_SCHEMA_VERSION: i32 = 1;

/// One identified risk and how it is mitigated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Risk {
    /// The risk.
    pub risk: String,
    /// Its mitigation.
    pub mitigation: String,
}

/// A recorded risk assessment (level 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskAssessment {
    /// Who assessed (sealed name).
    pub assessor: Sealed,
    /// The assessor's staff id.
    pub assessor_subject: String,
    /// When.
    pub assessed_on: NaiveDate,
    /// Risks and mitigations.
    pub risks: Vec<Risk>,
    /// Where the signed document is kept.
    pub document_reference: String,
    /// Who recorded it.
    pub recorded_by: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// Who signed something, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignOff {
    /// Their staff subject.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// Something that happened to a registration. Stored as event type =
/// variant name, payload = the variant's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum RegistrationEvent {
    /// A member of staff submitted the form.
    #[serde(rename_all = "camelCase")]
    RegistrationSubmitted {
        /// The registration.
        id: Uuid,
        /// Who submitted it (staff subject).
        applicant: String,
        /// The canonical account.
        account_key: AccountKey,
        /// The form.
        form: Form<Sealed>,
        /// When.
        at: DateTime<Utc>,
    },
    /// An account the council already ran before the registry was
    /// recorded from an import file: published at once, grandfathered (no
    /// sign-off was given), and due for its full review by `reviewBy`.
    #[serde(rename_all = "camelCase")]
    RegistrationImported {
        /// The registration.
        id: Uuid,
        /// The canonical account.
        account_key: AccountKey,
        /// The form as the file gave it.
        form: Form<Sealed>,
        /// The platform's permanent id, when given.
        permanent_id: Option<AccountKey>,
        /// The file and row it came from.
        source: ImportSource,
        /// Who imported it (communications) and when.
        imported: SignOff,
        /// By when every sign-off of its level is due.
        review_by: NaiveDate,
    },
    /// The applicant replaced the form.
    #[serde(rename_all = "camelCase")]
    RegistrationAmended {
        /// The canonical account after the amendment.
        account_key: AccountKey,
        /// The new form.
        form: Form<Sealed>,
        /// Sign-offs the change voided.
        voided: Vec<Step>,
        /// Who.
        by: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The risk assessment was recorded (level 3).
    #[serde(rename_all = "camelCase")]
    RiskAssessmentRecorded {
        /// The assessment.
        assessment: RiskAssessment,
        /// Sign-offs a re-recording voided.
        voided: Vec<Step>,
    },
    /// The named line manager signed the risk assessment (level 3).
    RiskAssessmentSigned(SignOff),
    /// The named senior officer signed off (level 4).
    SeniorOfficerSignedOff(SignOff),
    /// The consultation team listed it in Consultation Finder (level 2).
    #[serde(rename_all = "camelCase")]
    ConsultationListed {
        /// The Finder reference.
        finder_reference: String,
        /// Who and when.
        sign_off: SignOff,
    },
    /// Communications approved an additional branding asset.
    #[serde(rename_all = "camelCase")]
    BrandingAssetApproved {
        /// The asset.
        asset_id: String,
        /// Who and when.
        sign_off: SignOff,
    },
    /// Communications approved the registration.
    RegistrationApproved(SignOff),
    /// An approver sent it back to the applicant.
    #[serde(rename_all = "camelCase")]
    ChangesRequested {
        /// What to change.
        reason: String,
        /// In which capacity.
        role: Role,
        /// Who and when.
        sign_off: SignOff,
    },
    /// An approver rejected it.
    #[serde(rename_all = "camelCase")]
    RegistrationRejected {
        /// Why.
        reason: String,
        /// In which capacity.
        role: Role,
        /// Who and when.
        sign_off: SignOff,
    },
    /// Communications published it; for level 3 the officer's verification
    /// entry is published with it.
    #[serde(rename_all = "camelCase")]
    RegistrationPublished {
        /// Who and when.
        sign_off: SignOff,
        /// The officer whose verification entry is published (level 3).
        officer_subject: Option<String>,
    },
    /// It was withdrawn; it stays visible to verification as withdrawn.
    #[serde(rename_all = "camelCase")]
    RegistrationWithdrawn {
        /// Why.
        reason: String,
        /// Who and when.
        sign_off: SignOff,
    },
    /// The business contact or communications confirmed it is still in use.
    RegistrationRevalidated(SignOff),
    /// The applicant, the business contact or communications proposed a
    /// change to the published registration. Until the change is
    /// published, the sign-off events that follow (risk assessment, its
    /// signature, senior-officer sign-off, Finder listing, branding
    /// approval, changes requested) are the change's.
    #[serde(rename_all = "camelCase")]
    ChangeProposed {
        /// The canonical account after the change.
        account_key: AccountKey,
        /// The proposed form.
        form: Form<Sealed>,
        /// Why.
        reason: String,
        /// In which capacity.
        capacity: Proposer,
        /// The sign-offs the change needs.
        required: Vec<Step>,
        /// Who.
        by: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Communications approved the pending change.
    ChangeApproved(SignOff),
    /// An approver refused the pending change; the registration stays
    /// published as it was.
    #[serde(rename_all = "camelCase")]
    ChangeRefused {
        /// Why.
        reason: String,
        /// In which capacity.
        role: Role,
        /// Who and when.
        sign_off: SignOff,
    },
    /// The proposer or communications withdrew the pending change.
    #[serde(rename_all = "camelCase")]
    ChangeWithdrawn {
        /// Why.
        reason: String,
        /// Who and when.
        sign_off: SignOff,
    },
    /// Communications recorded the platform's permanent id of the account:
    /// verification matches it as well as the handle.
    #[serde(rename_all = "camelCase")]
    PermanentIdRecorded {
        /// The id, as a key (`x:pid:1234567890`).
        permanent_id: AccountKey,
        /// Who and when.
        sign_off: SignOff,
    },
    /// The business contact acknowledged a (new) version of the social
    /// media policy for the published registration.
    #[serde(rename_all = "camelCase")]
    PolicyAcknowledged {
        /// The version.
        version: String,
        /// Who and when.
        sign_off: SignOff,
    },
    /// Communications checked that the level-3 officer's profile links to
    /// their page on the council's site.
    #[serde(rename_all = "camelCase")]
    OfficerLinkBackChecked {
        /// The profile address checked.
        profile_url: String,
        /// The officer whose page it links to.
        officer_subject: String,
        /// Who checked, and when.
        sign_off: SignOff,
    },
    /// Communications published the change: the public answer shows the
    /// new details from now on.
    #[serde(rename_all = "camelCase")]
    ChangePublished {
        /// Who and when.
        sign_off: SignOff,
        /// The officer whose verification entry is published (level 3).
        officer_subject: Option<String>,
        /// The account it was known as, when the change renamed it.
        renamed_from: Option<AccountKey>,
    },
}

impl RegistrationEvent {
    /// The event type name stored in the log.
    pub fn event_type(&self) -> &'static str {
        match self {
            RegistrationEvent::RegistrationSubmitted { .. } => "RegistrationSubmitted",
            RegistrationEvent::RegistrationImported { .. } => "RegistrationImported",
            RegistrationEvent::RegistrationAmended { .. } => "RegistrationAmended",
            RegistrationEvent::RiskAssessmentRecorded { .. } => "RiskAssessmentRecorded",
            RegistrationEvent::RiskAssessmentSigned(_) => "RiskAssessmentSigned",
            RegistrationEvent::SeniorOfficerSignedOff(_) => "SeniorOfficerSignedOff",
            RegistrationEvent::ConsultationListed { .. } => "ConsultationListed",
            RegistrationEvent::BrandingAssetApproved { .. } => "BrandingAssetApproved",
            RegistrationEvent::RegistrationApproved(_) => "RegistrationApproved",
            RegistrationEvent::ChangesRequested { .. } => "ChangesRequested",
            RegistrationEvent::RegistrationRejected { .. } => "RegistrationRejected",
            RegistrationEvent::RegistrationPublished { .. } => "RegistrationPublished",
            RegistrationEvent::RegistrationWithdrawn { .. } => "RegistrationWithdrawn",
            RegistrationEvent::RegistrationRevalidated(_) => "RegistrationRevalidated",
            RegistrationEvent::ChangeProposed { .. } => "ChangeProposed",
            RegistrationEvent::ChangeApproved(_) => "ChangeApproved",
            RegistrationEvent::ChangeRefused { .. } => "ChangeRefused",
            RegistrationEvent::ChangeWithdrawn { .. } => "ChangeWithdrawn",
            RegistrationEvent::ChangePublished { .. } => "ChangePublished",
            RegistrationEvent::OfficerLinkBackChecked { .. } => "OfficerLinkBackChecked",
            RegistrationEvent::PolicyAcknowledged { .. } => "PolicyAcknowledged",
            RegistrationEvent::PermanentIdRecorded { .. } => "PermanentIdRecorded",
        }
    }
}

/// A sign-off or other step a registration may need.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "step", content = "assetId", rename_all = "snake_case")]
pub enum Step {
    /// Level 3: the risk assessment is recorded.
    RiskAssessment,
    /// Level 3: the named line manager signed it.
    RiskAssessmentSignature,
    /// Level 4: the named senior officer signed off.
    SeniorOfficerSignOff,
    /// Level 2: listed in Consultation Finder.
    ConsultationListing,
    /// An additional branding asset approved by communications.
    BrandingApproval(String),
    /// Communications approved the registration.
    CommunicationsApproval,
}

/// The steps a level requires before communications approval.
pub(crate) fn level_steps(level: crate::level::Level) -> Vec<Step> {
    match level {
        crate::level::Level::Broadcast => vec![],
        crate::level::Level::Consult => vec![Step::ConsultationListing],
        crate::level::Level::Participate => {
            vec![Step::RiskAssessment, Step::RiskAssessmentSignature]
        }
        crate::level::Level::Engage => vec![Step::SeniorOfficerSignOff],
    }
}

impl Step {
    /// Its name where queues, read models and messages name it, e.g.
    /// `risk_assessment_signature`, `branding:<asset id>`, `approval`.
    pub fn name(&self) -> String {
        match self {
            Step::RiskAssessment => "risk_assessment".into(),
            Step::RiskAssessmentSignature => "risk_assessment_signature".into(),
            Step::SeniorOfficerSignOff => "senior_officer_sign_off".into(),
            Step::ConsultationListing => "consultation_listing".into(),
            Step::BrandingApproval(id) => format!("branding:{id}"),
            Step::CommunicationsApproval => "approval".into(),
        }
    }
}
