//! What clients send. Inputs map one-to-one onto the domain's form; the
//! domain validates them and names the field when something is wrong.

use async_graphql::{InputObject, OneofObject};
use chrono::NaiveDate;
use domain::form::{self, Form, LevelDetails, StaffRef};
use domain::registration;

use super::types::Platform;

/// A member of staff named on the form.
#[derive(InputObject, Debug, Clone)]
pub struct StaffInput {
    /// Their staff id: the subject of their sign-in token. Sign-offs are
    /// checked against it.
    pub subject: String,
    /// Their name.
    #[graphql(secret)]
    pub name: String,
    /// Their work email (required for the business contact).
    #[graphql(secret)]
    pub email: Option<String>,
    /// Their work telephone.
    #[graphql(secret)]
    pub phone: Option<String>,
}

impl From<StaffInput> for StaffRef<String> {
    fn from(s: StaffInput) -> Self {
        StaffRef {
            subject: s.subject.trim().to_owned(),
            name: s.name,
            email: s.email.filter(|e| !e.trim().is_empty()),
            phone: s.phone.filter(|p| !p.trim().is_empty()),
        }
    }
}

/// An additional logo or marketing material.
#[derive(InputObject, Debug, Clone)]
pub struct BrandingAssetInput {
    /// Short id, unique on the form: lower-case letters, digits and `-`.
    pub id: String,
    /// What it is and where it will be used.
    pub description: String,
    /// Where the artwork can be seen (document reference or URL).
    pub reference: String,
}

/// Level 1: Broadcast.
#[derive(InputObject, Debug, Clone)]
pub struct BroadcastInput {
    /// Types of information broadcast (at least one).
    pub information_types: Vec<String>,
    /// RSS/Atom feed URLs whose content is re-used (may be empty).
    #[graphql(default)]
    pub content_sources: Vec<String>,
}

/// Level 2: Consult.
#[derive(InputObject, Debug, Clone)]
pub struct ConsultInput {
    /// Topic or theme of the consultation.
    pub topic: String,
    /// First day.
    pub opens_on: NaiveDate,
    /// Last day.
    pub closes_on: NaiveDate,
}

/// Level 3: Participate.
#[derive(InputObject, Debug, Clone)]
pub struct ParticipateInput {
    /// The officer who will use the account.
    pub officer: StaffInput,
    /// Their job role code: must be on the accepted list (`jobRoles`).
    pub job_role: String,
    /// Their line manager, who signs the risk assessment.
    pub line_manager: StaffInput,
}

/// Press or media involvement (level 4).
#[derive(InputObject, Debug, Clone)]
pub struct PressMediaInput {
    /// Press or media are invited.
    pub invited: bool,
    /// Press or media are involved.
    pub involved: bool,
    /// How (required when either is true).
    pub arrangements: Option<String>,
}

/// Level 4: Engage.
#[derive(InputObject, Debug, Clone)]
pub struct EngageInput {
    /// Topics of discussion, by code from `topics` (at least one).
    pub topics: Vec<String>,
    /// The senior officer responsible for the subject area; they sign off
    /// and must hold speaking authority for every topic.
    pub senior_officer: StaffInput,
    /// The county councillor involved: their name (or `noCouncillor`).
    #[graphql(secret)]
    pub councillor: Option<String>,
    /// The councillor's id in the speaking-authority register: they must
    /// hold speaking authority for every topic.
    pub councillor_id: Option<String>,
    /// True when no councillor is involved (instead of `councillor`).
    #[graphql(default)]
    pub no_councillor: bool,
    /// Whether press or media are invited or involved.
    pub press_media: PressMediaInput,
}

/// Exactly one level's details.
#[derive(OneofObject, Debug, Clone)]
pub enum LevelDetailsInput {
    /// Level 1.
    Broadcast(BroadcastInput),
    /// Level 2.
    Consult(ConsultInput),
    /// Level 3.
    Participate(ParticipateInput),
    /// Level 4.
    Engage(EngageInput),
}

/// The "Social Media Business Usage" form.
#[derive(InputObject, Debug, Clone)]
pub struct RegistrationFormInput {
    /// The platform.
    pub platform: Platform,
    /// The account's URL or handle, as you would paste it.
    pub account: String,
    /// The business or service area (organisational unit code).
    pub service_area: String,
    /// The business contact (email required).
    pub business_contact: StaffInput,
    /// Version of the social media policy acknowledged, e.g. `2026.1`.
    pub policy_version: String,
    /// I have read and accept the social media policy.
    pub policy_acknowledged: bool,
    /// I have read and accept the corporate identity and branding rules.
    pub corporate_identity_acknowledged: bool,
    /// Additional logos or marketing materials.
    #[graphql(default)]
    pub branding_assets: Vec<BrandingAssetInput>,
    /// The level, by which details are given.
    pub details: LevelDetailsInput,
}

impl From<RegistrationFormInput> for Form<String> {
    fn from(f: RegistrationFormInput) -> Self {
        let details = match f.details {
            LevelDetailsInput::Broadcast(b) => LevelDetails::Broadcast {
                information_types: b.information_types,
                content_sources: b.content_sources,
            },
            LevelDetailsInput::Consult(c) => LevelDetails::Consult {
                topic: c.topic,
                opens_on: c.opens_on,
                closes_on: c.closes_on,
            },
            LevelDetailsInput::Participate(p) => LevelDetails::Participate {
                officer: p.officer.into(),
                job_role: p.job_role.trim().to_owned(),
                line_manager: p.line_manager.into(),
            },
            LevelDetailsInput::Engage(e) => LevelDetails::Engage {
                topics: e.topics.iter().map(|t| t.trim().to_owned()).collect(),
                senior_officer: e.senior_officer.into(),
                councillor: e.councillor.filter(|c| !c.trim().is_empty()),
                councillor_id: e
                    .councillor_id
                    .map(|c| c.trim().to_owned())
                    .filter(|c| !c.is_empty()),
                no_councillor: e.no_councillor,
                press_media: form::PressMedia {
                    invited: e.press_media.invited,
                    involved: e.press_media.involved,
                    arrangements: e.press_media.arrangements.filter(|a| !a.trim().is_empty()),
                },
            },
        };
        Form {
            platform: f.platform.into(),
            account: f.account,
            service_area: f.service_area.trim().to_owned(),
            business_contact: f.business_contact.into(),
            policy_version: f.policy_version,
            policy_acknowledged: f.policy_acknowledged,
            corporate_identity_acknowledged: f.corporate_identity_acknowledged,
            branding_assets: f
                .branding_assets
                .into_iter()
                .map(|b| form::BrandingAsset {
                    id: b.id,
                    description: b.description,
                    reference: b.reference,
                })
                .collect(),
            details,
        }
    }
}

/// A domain field path (`form.details.officer.name`) as the client wrote
/// it (`form.details.participate.officer.name`).
pub fn client_field(field: &str, form: &Form<String>) -> String {
    match field.strip_prefix("form.details.") {
        Some(rest) => {
            let level = match form.level() {
                domain::Level::Broadcast => "broadcast",
                domain::Level::Consult => "consult",
                domain::Level::Participate => "participate",
                domain::Level::Engage => "engage",
            };
            format!("form.details.{level}.{rest}")
        }
        None => field.to_owned(),
    }
}

/// One identified risk.
#[derive(InputObject, Debug, Clone)]
pub struct RiskInput {
    /// The risk.
    pub risk: String,
    /// How it is mitigated.
    pub mitigation: String,
}

/// The level-3 risk assessment.
#[derive(InputObject, Debug, Clone)]
pub struct RiskAssessmentInput {
    /// The assessor's name.
    #[graphql(secret)]
    pub assessor: String,
    /// The assessor's staff id.
    pub assessor_subject: String,
    /// When it was assessed.
    pub assessed_on: NaiveDate,
    /// The risks identified and their mitigations (at least one).
    pub risks: Vec<RiskInput>,
    /// Where the signed document is kept.
    pub document_reference: String,
}

impl From<RiskAssessmentInput> for registration::RiskAssessmentInput<String> {
    fn from(r: RiskAssessmentInput) -> Self {
        registration::RiskAssessmentInput {
            assessor: r.assessor,
            assessor_subject: r.assessor_subject.trim().to_owned(),
            assessed_on: r.assessed_on,
            risks: r
                .risks
                .into_iter()
                .map(|x| registration::Risk {
                    risk: x.risk,
                    mitigation: x.mitigation,
                })
                .collect(),
            document_reference: r.document_reference,
        }
    }
}

/// Filters of `registrations`; all given filters must match.
#[derive(InputObject, Debug, Clone, Default)]
pub struct RegistrationFilter {
    /// Only these statuses.
    pub status: Option<Vec<super::types::RegistrationStatus>>,
    /// Only this level.
    pub level: Option<super::types::Level>,
    /// Only this platform.
    pub platform: Option<Platform>,
    /// Only this service area (code).
    pub service_area: Option<String>,
    /// Only those naming this staff id (as contact, officer, line manager or
    /// senior officer).
    pub named_subject: Option<String>,
    /// Only those submitted by this staff id.
    pub applicant: Option<String>,
    /// Words found in the account (as typed or canonical) or the service
    /// (code or name), case-insensitively.
    pub search: Option<String>,
}

impl From<RegistrationFilter> for domain::registration::Filter {
    fn from(f: RegistrationFilter) -> Self {
        domain::registration::Filter {
            statuses: f
                .status
                .map(|list| list.into_iter().map(Into::into).collect()),
            level: f.level.map(Into::into),
            platform: f.platform.map(Into::into),
            service_area: f.service_area,
            named_subject: f.named_subject,
            applicant: f.applicant,
            search: f.search,
        }
    }
}

/// Filters of `directory`; all given filters must match.
#[derive(InputObject, Debug, Clone, Default)]
pub struct DirectoryFilter {
    /// Only this platform.
    pub platform: Option<Platform>,
    /// Only this service area (code).
    pub service_area: Option<String>,
    /// Only this level.
    pub level: Option<super::types::Level>,
}

/// Filters of `events`.
#[derive(InputObject, Debug, Clone, Default)]
pub struct EventFilter {
    /// Only this stream.
    pub stream_id: Option<String>,
    /// Only the events of this registration.
    pub registration_id: Option<uuid::Uuid>,
    /// Only these event types.
    pub event_types: Option<Vec<String>>,
}
