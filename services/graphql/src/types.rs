//! What the API returns. Personal values are opened through the vault only
//! when a field asking for them is selected, and only for callers the
//! access rules allow.

use std::sync::Arc;

use crate::errors::Result;
use async_graphql::{ComplexObject, Context, Enum, Json, Object, SimpleObject, Union};
use chrono::{DateTime, NaiveDate, Utc};
use domain::form::{LevelDetails, StaffRef};
use domain::personal::Sealed;
use domain::registration::Registration;
use uuid::Uuid;

use super::{app, settings, signed_in};
use crate::errors;
use app::commands::seal;

/// The four levels of the framework.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::level::Level")]
pub enum Level {
    /// 1: re-use of existing content via RSS feeds, or simple updates.
    Broadcast,
    /// 2: structured feedback (surveys, blogs, video, podcasts).
    Consult,
    /// 3: an officer whose job already involves direct contact with the public.
    Participate,
    /// 4: formal discussion and debate with individuals, communities, groups.
    Engage,
}

/// Where a registration is in its lifecycle.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::registration::Status")]
pub enum RegistrationStatus {
    /// Submitted; level steps and approval under way.
    Submitted,
    /// Sent back to the applicant to change.
    ChangesRequested,
    /// Approved by communications; ready to publish.
    Approved,
    /// Published: an official council account.
    Published,
    /// Withdrawn: no longer official (terminal; still answered by verification).
    Withdrawn,
    /// Rejected (terminal).
    Rejected,
}

/// A social media site (or a website/feed).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::platform::Platform")]
pub enum Platform {
    /// X, formerly Twitter.
    X,
    /// Facebook pages, profiles and groups.
    Facebook,
    /// Instagram.
    Instagram,
    /// YouTube channels.
    Youtube,
    /// LinkedIn company, showcase and member pages.
    Linkedin,
    /// TikTok.
    Tiktok,
    /// Threads.
    Threads,
    /// Bluesky (handle or DID).
    Bluesky,
    /// Mastodon and other fediverse servers.
    Mastodon,
    /// Flickr.
    Flickr,
    /// Pinterest.
    Pinterest,
    /// Nextdoor agency and business pages.
    Nextdoor,
    /// WhatsApp channels.
    Whatsapp,
    /// Any other website, blog or RSS feed, by URL.
    Website,
}

/// A role from the token's `roles` claim.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::Role")]
pub enum Role {
    /// Submits, amends and withdraws their own registrations.
    Staff,
    /// Signs the risk assessment of a level-3 registration that names them.
    LineManager,
    /// Signs off a level-4 registration that names them.
    SeniorOfficer,
    /// Approves, publishes, withdraws, re-validates; manages platforms.
    Communications,
    /// Records the Consultation Finder listing of level-2 registrations.
    Consultation,
    /// Reads everything, changes nothing.
    Auditor,
    /// Manages reference data.
    Admin,
    /// Erases personal data, answers subject access requests.
    DataProtection,
    /// Another system: reads public facts and webhook deliveries only.
    Integration,
}

/// Who signed or did something, and when.
#[derive(SimpleObject, Debug, Clone)]
pub struct SignOff {
    /// Their staff id (the token subject).
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
}

impl From<&domain::registration::SignOff> for SignOff {
    fn from(s: &domain::registration::SignOff) -> Self {
        SignOff {
            by: s.by.clone(),
            at: s.at,
        }
    }
}

/// A decision with a reason: a request for changes, a rejection, a withdrawal.
#[derive(SimpleObject, Debug, Clone)]
pub struct Decision {
    /// Why, as the person wrote it.
    pub reason: String,
    /// Their staff id.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
}

fn decision(d: &Option<(String, domain::registration::SignOff)>) -> Option<Decision> {
    d.as_ref().map(|(reason, s)| Decision {
        reason: reason.clone(),
        by: s.by.clone(),
        at: s.at,
    })
}

/// A registered (or proposed) council social media account, as folded from
/// its own events. Readable by communications, auditors, data protection,
/// the consultation team (level 2), and by the people who submitted it or
/// are named on it.
#[derive(Clone)]
pub struct RegistrationNode(pub Arc<Registration>);

/// A registered (or proposed) council social media account, as folded
/// from its own events. Readable by communications, auditors, data
/// protection, the consultation team (level 2), and by the people who
/// submitted it or are named on it.
#[Object(name = "Registration")]
impl RegistrationNode {
    /// Its id.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// How many events it has: pass this as `expectedVersion` to change it
    /// only if nobody else has since.
    async fn version(&self) -> i64 {
        self.0.version
    }
    /// Lifecycle status.
    async fn status(&self) -> RegistrationStatus {
        self.0.status.into()
    }
    /// The framework level.
    async fn level(&self) -> Level {
        self.0.level().into()
    }
    /// The platform.
    async fn platform(&self) -> Platform {
        self.0.form.platform.into()
    }
    /// The account's URL or handle, exactly as typed on the form.
    async fn account(&self) -> &str {
        &self.0.form.account
    }
    /// The canonical account key, `platform:handle` (what verification matches).
    async fn account_key(&self) -> String {
        self.0.account_key.to_string()
    }
    /// The account's canonical public URL.
    async fn account_url(&self) -> String {
        self.0.account_key.url()
    }
    /// The business or service area (organisational unit code).
    async fn service_area(&self) -> &str {
        &self.0.form.service_area
    }
    /// Staff id of the person who submitted it.
    async fn applicant(&self) -> &str {
        &self.0.applicant
    }
    /// The business contact, who also re-validates the account.
    async fn business_contact(&self) -> StaffMember {
        StaffMember::new(&self.0, &self.0.form.business_contact)
    }
    /// Version of the social media policy the applicant acknowledged.
    async fn policy_version(&self) -> &str {
        &self.0.form.policy_version
    }
    /// The social media policy was acknowledged.
    async fn policy_acknowledged(&self) -> bool {
        self.0.form.policy_acknowledged
    }
    /// The corporate identity and branding rules were acknowledged.
    async fn corporate_identity_acknowledged(&self) -> bool {
        self.0.form.corporate_identity_acknowledged
    }
    /// Additional logos or marketing materials, each needing its own approval.
    async fn branding_assets(&self) -> Vec<BrandingAsset> {
        self.0
            .form
            .branding_assets
            .iter()
            .map(|a| BrandingAsset {
                id: a.id.clone(),
                description: a.description.clone(),
                reference: a.reference.clone(),
                approval: self.0.branding_approvals.get(&a.id).map(SignOff::from),
            })
            .collect()
    }
    /// The fields particular to the level.
    async fn details(&self) -> LevelDetailsNode {
        match &self.0.form.details {
            LevelDetails::Broadcast {
                information_types,
                content_sources,
            } => LevelDetailsNode::Broadcast(BroadcastDetails {
                information_types: information_types.clone(),
                content_sources: content_sources.clone(),
            }),
            LevelDetails::Consult {
                topic,
                opens_on,
                closes_on,
            } => LevelDetailsNode::Consult(ConsultDetails {
                topic: topic.clone(),
                opens_on: *opens_on,
                closes_on: *closes_on,
            }),
            LevelDetails::Participate { job_role, .. } => {
                LevelDetailsNode::Participate(ParticipateDetails {
                    registration: self.0.clone(),
                    job_role: job_role.clone(),
                })
            }
            LevelDetails::Engage {
                topics,
                press_media,
                ..
            } => LevelDetailsNode::Engage(EngageDetails {
                registration: self.0.clone(),
                topics: topics.clone(),
                press_media: PressMedia {
                    invited: press_media.invited,
                    involved: press_media.involved,
                    arrangements: press_media.arrangements.clone(),
                },
            }),
        }
    }
    /// The risk assessment (level 3), once recorded.
    async fn risk_assessment(&self) -> Option<RiskAssessmentNode> {
        self.0
            .risk_assessment
            .as_ref()
            .map(|_| RiskAssessmentNode(self.0.clone()))
    }
    /// The named line manager's signature of the risk assessment (level 3).
    async fn risk_assessment_signature(&self) -> Option<SignOff> {
        self.0.risk_signature.as_ref().map(SignOff::from)
    }
    /// The named senior officer's sign-off (level 4).
    async fn senior_officer_sign_off(&self) -> Option<SignOff> {
        self.0.senior_sign_off.as_ref().map(SignOff::from)
    }
    /// The Consultation Finder listing (level 2).
    async fn consultation_listing(&self) -> Option<ConsultationListing> {
        self.0
            .consultation_listing
            .as_ref()
            .map(|(reference, s)| ConsultationListing {
                finder_reference: reference.clone(),
                by: s.by.clone(),
                at: s.at,
            })
    }
    /// Communications' approval.
    async fn approval(&self) -> Option<SignOff> {
        self.0.approval.as_ref().map(SignOff::from)
    }
    /// The standing request for changes, while it stands.
    async fn changes_requested(&self) -> Option<Decision> {
        decision(&self.0.changes_requested)
    }
    /// The rejection, when rejected.
    async fn rejection(&self) -> Option<Decision> {
        decision(&self.0.rejection)
    }
    /// The withdrawal, when withdrawn.
    async fn withdrawal(&self) -> Option<Decision> {
        decision(&self.0.withdrawal)
    }
    /// The publication, once published.
    async fn publication(&self) -> Option<SignOff> {
        self.0.published.as_ref().map(SignOff::from)
    }
    /// The last re-validation (or the publication).
    async fn last_validated(&self) -> Option<SignOff> {
        self.0.last_validated.as_ref().map(SignOff::from)
    }
    /// When it was submitted.
    async fn submitted_at(&self) -> DateTime<Utc> {
        self.0.submitted_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// What is still needed before publication: `risk_assessment`,
    /// `risk_assessment_signature`, `senior_officer_sign_off`,
    /// `consultation_listing`, `branding:<asset id>`, `approval`.
    async fn outstanding_steps(&self) -> Vec<String> {
        self.0.outstanding().iter().map(step_name).collect()
    }
    /// When its review falls due (published registrations only).
    async fn revalidation_due(&self, ctx: &Context<'_>) -> Option<RevalidationDue> {
        self.0
            .revalidation_due(Utc::now(), settings(ctx).review_period_days)
            .map(|d| RevalidationDue {
                due_on: d.due_on,
                overdue: d.overdue,
            })
    }
    /// The change proposed to it while published, until the change is
    /// published, refused or withdrawn. The registration stays published,
    /// and verified under its current details, meanwhile.
    async fn pending_change(&self) -> Option<PendingChangeNode> {
        self.0.change.as_ref().map(|c| PendingChangeNode {
            reason: c.reason.clone(),
            proposed_by: c.proposed_by.clone(),
            capacity: c.capacity.into(),
            proposed_at: c.proposed_at,
            required_steps: c.required.iter().map(step_name).collect(),
            proposed: RegistrationNode(Arc::new(c.candidate.clone())),
        })
    }
    /// Level 3: communications' check that the account's profile links to
    /// the officer's page (null until checked, and again after a change of
    /// officer or account).
    async fn officer_link_back(&self) -> Option<OfficerLinkBack> {
        self.0.link_back.as_ref().map(|l| OfficerLinkBack {
            profile_url: l.profile_url.clone(),
            officer_subject: l.officer_subject.clone(),
            checked: SignOff::from(&l.checked),
        })
    }
    /// For an account imported from the council's existing list and not
    /// yet through its full review: the file, row, who imported it, and by
    /// when the review (`proposeChange` with the complete form, through
    /// every sign-off of its level) is due.
    async fn grandfathered(&self) -> Option<GrandfatheredNode> {
        self.0.grandfathered.as_ref().map(|g| GrandfatheredNode {
            file_name: g.source.file_name.clone(),
            file_sha256: g.source.file_sha256.clone(),
            line: i64::try_from(g.source.line).unwrap_or(i64::MAX),
            imported: SignOff::from(&g.imported),
            review_by: g.review_by,
        })
    }
    /// The platform's permanent id of the account, once communications has
    /// recorded it (`x:pid:1234567890`).
    async fn permanent_id(&self) -> Option<String> {
        self.0.permanent_id.as_ref().map(ToString::to_string)
    }
    /// The version of the social media policy acknowledged for it last: on
    /// its form, or since by its business contact (`acknowledgePolicy`).
    async fn policy_acknowledgement(&self) -> PolicyAcknowledgementNode {
        let a = &self.0.policy_acknowledgement;
        PolicyAcknowledgementNode {
            version: a.version.clone(),
            by: a.by.by.clone(),
            at: a.by.at,
        }
    }
    /// The accounts it was known as before published changes renamed it.
    async fn former_accounts(&self) -> Vec<FormerAccount> {
        self.0
            .former_keys
            .iter()
            .map(|f| FormerAccount {
                account_key: f.account_key.to_string(),
                account_url: f.account_key.url(),
                renamed_to: f.renamed_to.to_string(),
                renamed_at: f.renamed_at,
            })
            .collect()
    }
}

/// A checked link from a level-3 account's profile to its officer's page.
#[derive(SimpleObject, Debug, Clone)]
pub struct OfficerLinkBack {
    /// The profile address checked.
    pub profile_url: String,
    /// Staff id of the officer whose page it links to.
    pub officer_subject: String,
    /// Who in communications checked, and when.
    pub checked: SignOff,
}

/// In which capacity someone proposed a change.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeProposer {
    /// The member of staff who submitted the registration.
    Applicant,
    /// Its business contact.
    BusinessContact,
    /// The communications team.
    Communications,
}

impl From<domain::registration::Proposer> for ChangeProposer {
    fn from(p: domain::registration::Proposer) -> Self {
        match p {
            domain::registration::Proposer::Applicant => ChangeProposer::Applicant,
            domain::registration::Proposer::BusinessContact => ChangeProposer::BusinessContact,
            domain::registration::Proposer::Communications => ChangeProposer::Communications,
        }
    }
}

/// A change proposed to a published registration.
#[derive(SimpleObject, Clone)]
#[graphql(name = "PendingChange")]
pub struct PendingChangeNode {
    /// Why it was proposed.
    pub reason: String,
    /// Staff id of who proposed it.
    pub proposed_by: String,
    /// In which capacity.
    pub capacity: ChangeProposer,
    /// When.
    pub proposed_at: DateTime<Utc>,
    /// The sign-offs the change needs, in the names of `outstandingSteps`
    /// (the sign-offs it does not touch carry over).
    pub required_steps: Vec<String>,
    /// The registration as it will be once the change is published: its
    /// `status` is the change's (SUBMITTED, CHANGES_REQUESTED or
    /// APPROVED), its `outstandingSteps` what the change still waits for,
    /// its `applicant` the proposer. The same sign-off mutations act on it
    /// while it is pending.
    pub proposed: RegistrationNode,
}

/// An account a registration was known as before a change renamed it.
#[derive(SimpleObject, Debug, Clone)]
pub struct FormerAccount {
    /// The old canonical key.
    pub account_key: String,
    /// The old public URL.
    pub account_url: String,
    /// The key it was renamed to.
    pub renamed_to: String,
    /// When the rename was published.
    pub renamed_at: DateTime<Utc>,
}

/// The wire name of a step (as the read models store it).
pub use projections::models::step_name;

/// When a published registration's review falls due.
#[derive(SimpleObject, Debug, Clone)]
pub struct RevalidationDue {
    /// The date the contact must confirm the account is still in use.
    pub due_on: NaiveDate,
    /// True when that date has passed.
    pub overdue: bool,
}

/// An additional logo or marketing material on the form.
#[derive(SimpleObject, Debug, Clone)]
pub struct BrandingAsset {
    /// Its id on the form (pass it to `approveBrandingAsset`).
    pub id: String,
    /// What it is and where it will be used.
    pub description: String,
    /// Where the artwork can be seen.
    pub reference: String,
    /// Communications' approval of it, once given.
    pub approval: Option<SignOff>,
}

/// The Consultation Finder listing of a level-2 registration.
#[derive(SimpleObject, Debug, Clone)]
pub struct ConsultationListing {
    /// The Consultation Finder reference.
    pub finder_reference: String,
    /// Who in the consultation team recorded it.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// The level-specific part of a form.
#[derive(Union, Clone)]
pub enum LevelDetailsNode {
    /// Level 1.
    Broadcast(BroadcastDetails),
    /// Level 2.
    Consult(ConsultDetails),
    /// Level 3.
    Participate(ParticipateDetails),
    /// Level 4.
    Engage(EngageDetails),
}

/// Level 1: what is broadcast, and from which feeds.
#[derive(SimpleObject, Debug, Clone)]
pub struct BroadcastDetails {
    /// Types of information broadcast.
    pub information_types: Vec<String>,
    /// RSS/Atom feeds whose content is re-used.
    pub content_sources: Vec<String>,
}

/// Level 2: the consultation.
#[derive(SimpleObject, Debug, Clone)]
pub struct ConsultDetails {
    /// Topic or theme of the consultation.
    pub topic: String,
    /// First day.
    pub opens_on: NaiveDate,
    /// Last day.
    pub closes_on: NaiveDate,
}

/// Level 3: the officer and their line manager.
#[derive(Clone)]
pub struct ParticipateDetails {
    registration: Arc<Registration>,
    job_role: String,
}

/// Level 3: the officer and their line manager.
#[Object]
impl ParticipateDetails {
    /// The officer who will use the account.
    async fn officer(&self) -> StaffMember {
        match &self.registration.form.details {
            LevelDetails::Participate { officer, .. } => {
                StaffMember::new(&self.registration, officer)
            }
            _ => unreachable!("participate details belong to a level-3 form"),
        }
    }
    /// The officer's job role code (on the accepted list).
    async fn job_role(&self) -> &str {
        &self.job_role
    }
    /// The line manager, who signs the risk assessment.
    async fn line_manager(&self) -> StaffMember {
        match &self.registration.form.details {
            LevelDetails::Participate { line_manager, .. } => {
                StaffMember::new(&self.registration, line_manager)
            }
            _ => unreachable!("participate details belong to a level-3 form"),
        }
    }
}

/// Whether press or media are invited or involved (level 4), and how.
#[derive(SimpleObject, Debug, Clone)]
pub struct PressMedia {
    /// Press or media are invited.
    pub invited: bool,
    /// Press or media are involved.
    pub involved: bool,
    /// How.
    pub arrangements: Option<String>,
}

/// Level 4: the discussion and who answers for it.
#[derive(Clone)]
pub struct EngageDetails {
    registration: Arc<Registration>,
    topics: Vec<String>,
    press_media: PressMedia,
}

/// Level 4: the discussion and who answers for it.
#[Object]
impl EngageDetails {
    /// Topics of discussion.
    async fn topics(&self) -> &[String] {
        &self.topics
    }
    /// The senior officer responsible for the subject area.
    async fn senior_officer(&self) -> StaffMember {
        match &self.registration.form.details {
            LevelDetails::Engage { senior_officer, .. } => {
                StaffMember::new(&self.registration, senior_officer)
            }
            _ => unreachable!("engage details belong to a level-4 form"),
        }
    }
    /// The county councillor involved, if any (null also when erased).
    async fn councillor(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        match &self.registration.form.details {
            LevelDetails::Engage {
                councillor: Some(c),
                ..
            } => reveal(ctx, c).await,
            _ => Ok(None),
        }
    }
    /// Whether press or media are invited or involved.
    async fn press_media(&self) -> &PressMedia {
        &self.press_media
    }
}

/// A member of staff named on a form. Names are shown to everyone who may
/// read the registration; email and telephone only to the person, the
/// applicant, communications, auditors and data protection (and the
/// consultation team for a level-2 business contact). Erased values are null.
#[derive(Clone)]
pub struct StaffMember {
    registration: Arc<Registration>,
    person: StaffRef<Sealed>,
}

impl StaffMember {
    fn new(registration: &Arc<Registration>, person: &StaffRef<Sealed>) -> Self {
        StaffMember {
            registration: registration.clone(),
            person: person.clone(),
        }
    }

    async fn contact(&self, ctx: &Context<'_>, value: &Option<Sealed>) -> Result<Option<String>> {
        let viewer = signed_in(ctx)?;
        if !domain::access::may_see_contact(&viewer.actor, &self.registration, &self.person) {
            return Err(errors::forbidden(
                "contact details are shown only to the person, the applicant, communications, auditors and data protection",
            ));
        }
        match value {
            Some(v) => reveal(ctx, v).await,
            None => Ok(None),
        }
    }
}

/// A member of staff named on a form. Names are shown to everyone who may
/// read the registration; email and telephone only to the person, the
/// applicant, communications, auditors and data protection (and the
/// consultation team for a level-2 business contact). Erased values are null.
#[Object]
impl StaffMember {
    /// Their staff id (the subject of their sign-in token).
    async fn subject(&self) -> &str {
        &self.person.subject
    }
    /// Their name (null once erased).
    async fn name(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        reveal(ctx, &self.person.name).await
    }
    /// Their work email (contact detail; see the type's description).
    async fn email(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.contact(ctx, &self.person.email).await
    }
    /// Their work telephone (contact detail; see the type's description).
    async fn phone(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        self.contact(ctx, &self.person.phone).await
    }
    /// True when their personal data was erased.
    async fn erased(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(reveal(ctx, &self.person.name).await?.is_none())
    }
}

/// The level-3 risk assessment.
#[derive(Clone)]
pub struct RiskAssessmentNode(Arc<Registration>);

/// The level-3 risk assessment.
#[Object(name = "RiskAssessment")]
impl RiskAssessmentNode {
    /// The assessor's name (null once erased).
    async fn assessor(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        match &self.0.risk_assessment {
            Some(ra) => reveal(ctx, &ra.assessor).await,
            None => Ok(None),
        }
    }
    /// The assessor's staff id.
    async fn assessor_subject(&self) -> Option<&str> {
        self.0
            .risk_assessment
            .as_ref()
            .map(|r| r.assessor_subject.as_str())
    }
    /// When it was assessed.
    async fn assessed_on(&self) -> Option<NaiveDate> {
        self.0.risk_assessment.as_ref().map(|r| r.assessed_on)
    }
    /// The risks identified and their mitigations.
    async fn risks(&self) -> Vec<Risk> {
        self.0
            .risk_assessment
            .iter()
            .flat_map(|r| &r.risks)
            .map(|r| Risk {
                risk: r.risk.clone(),
                mitigation: r.mitigation.clone(),
            })
            .collect()
    }
    /// Where the signed document is kept.
    async fn document_reference(&self) -> Option<&str> {
        self.0
            .risk_assessment
            .as_ref()
            .map(|r| r.document_reference.as_str())
    }
    /// Who recorded it (staff id).
    async fn recorded_by(&self) -> Option<&str> {
        self.0
            .risk_assessment
            .as_ref()
            .map(|r| r.recorded_by.as_str())
    }
    /// When it was recorded.
    async fn recorded_at(&self) -> Option<DateTime<Utc>> {
        self.0.risk_assessment.as_ref().map(|r| r.recorded_at)
    }
}

/// One identified risk and its mitigation.
#[derive(SimpleObject, Debug, Clone)]
pub struct Risk {
    /// The risk.
    pub risk: String,
    /// How it is mitigated.
    pub mitigation: String,
}

/// Open a sealed value; `None` when the person was erased. The key comes
/// through the request's vault loader (one look-up per response).
pub async fn reveal(ctx: &Context<'_>, value: &Sealed) -> Result<Option<String>> {
    let revealed = match ctx.data_opt::<super::vault_loader::VaultLoader>() {
        Some(loader) => {
            let state = loader
                .load_one(value.person)
                .await?
                .unwrap_or(event_store::vault::KeyState::Missing);
            metrics::counter!("vault_operations_total", "operation" => "open").increment(1);
            loader.loader().vault().open_with(
                &state,
                &event_store::vault::Sealed {
                    person: value.person,
                    sealed: value.sealed.clone(),
                },
            )
        }
        None => seal::open(&app(ctx)?.vault, value).await,
    };
    match revealed {
        Ok(revealed) => Ok(revealed.as_value().map(str::to_owned)),
        Err(e) => Err(e.into()),
    }
}

/// What a mutation of a registration returns.
#[derive(SimpleObject, Clone)]
pub struct RegistrationPayload {
    /// The registration as folded from its own stream right after the
    /// append (strongly consistent).
    pub registration: RegistrationNode,
    /// Log position of the last event appended: pass it as
    /// `atLeastPosition` to read your own write from the read models.
    pub position: i64,
    /// True when this was a retry of a request already applied (same
    /// idempotency key): nothing new was appended.
    pub deduplicated: bool,
}

/// What a change to reference data returns.
#[derive(SimpleObject, Clone)]
pub struct ReferencePayload {
    /// Log position of the event appended.
    pub position: i64,
}

/// A published account in the public directory.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct DirectoryEntry {
    /// The registration's id.
    pub registration_id: Uuid,
    /// The platform.
    pub platform: Platform,
    /// Canonical account key, `platform:handle`.
    pub account_key: String,
    /// The account's public URL.
    pub account_url: String,
    /// Framework level, 1 to 4.
    pub level: Level,
    /// Service area code.
    pub service_area: String,
    /// Service area name.
    pub service_name: Option<String>,
    /// Slug of the officer's verification page (level 3), for `officer(slug)`.
    pub officer_slug: Option<String>,
    /// When it was published.
    pub published_at: DateTime<Utc>,
}

#[ComplexObject]
impl DirectoryEntry {
    /// Where the officer's public verification page is (level 3).
    async fn officer_page(&self) -> Option<String> {
        self.officer_slug.as_ref().map(|s| format!("/officers/{s}"))
    }
}

/// What verification says about an account.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerificationStatus {
    /// A current, official council account.
    Verified,
    /// It was official, and has been withdrawn: it no longer speaks for the council.
    Withdrawn,
    /// It was an official account under this name, and was renamed: see
    /// `renamedTo`. Whoever holds the old name now is not the council.
    Renamed,
    /// The handle is registered, but the account holding it now has another
    /// permanent id than the one the council recorded: it is not this
    /// council's account (renamed, or the handle taken over).
    NotTheCouncils,
    /// Not an account the council has registered. A normal answer, not an error.
    Unknown,
}

/// The answer to "is this account genuine?".
#[derive(SimpleObject, Debug, Clone)]
pub struct Verification {
    /// What was asked, as typed.
    pub input: String,
    /// Verified, withdrawn or unknown.
    pub status: VerificationStatus,
    /// The account keys the input was read as (one per platform it could be).
    pub interpreted_as: Vec<String>,
    /// The registered account, when verified or withdrawn.
    pub account: Option<VerifiedAccount>,
    /// True when the account was found by a platform permanent id rather
    /// than by its handle.
    pub matched_by_permanent_id: bool,
    /// What the `permanentId` given says.
    pub permanent_id_check: PermanentIdCheck,
}

/// What a permanent id given with a verification says.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermanentIdCheck {
    /// None was given (or there was no account to compare it with).
    NotGiven,
    /// It is the registered account's.
    Matches,
    /// The council has not recorded this account's permanent id.
    NotRecorded,
    /// The registered account has another one.
    Different,
}

/// A registered account as the public may see it.
#[derive(SimpleObject, Debug, Clone)]
pub struct VerifiedAccount {
    /// The organisation it belongs to.
    pub organisation: String,
    /// The platform.
    pub platform: Platform,
    /// Canonical account key.
    pub account_key: String,
    /// The account's public URL.
    pub account_url: String,
    /// Verified or withdrawn.
    pub status: VerificationStatus,
    /// Framework level.
    pub level: Level,
    /// Service area code.
    pub service_area: String,
    /// Service area name.
    pub service_name: Option<String>,
    /// The level-3 officer's public page slug.
    pub officer_slug: Option<String>,
    /// Official since.
    pub verified_since: DateTime<Utc>,
    /// Withdrawn on, when withdrawn.
    pub withdrawn_at: Option<DateTime<Utc>>,
    /// When the council last confirmed it is its account: its publication
    /// or its latest re-validation.
    pub last_confirmed_at: DateTime<Utc>,
    /// True when its re-validation is overdue by more than the grace
    /// period: still the council's account, but not confirmed for a while.
    pub confirmation_overdue: bool,
    /// For a renamed account: the account key it was renamed to.
    pub renamed_to: Option<String>,
    /// For a renamed account: the public URL it was renamed to.
    pub renamed_to_url: Option<String>,
    /// For a renamed account: since when.
    pub renamed_at: Option<DateTime<Utc>>,
    /// Level 3: when the council checked that the account's profile links
    /// to the officer's page (null: not checked).
    pub link_back_checked_at: Option<DateTime<Utc>>,
    /// The platform's permanent id of the account, when the council has
    /// recorded it (`x:pid:1234567890`).
    pub permanent_id: Option<String>,
}

/// A level-3 officer's public verification entry: what the framework says is
/// published (name, job role, service, the accounts), nothing more.
#[derive(SimpleObject, Debug, Clone)]
pub struct Officer {
    /// Stable slug of the page.
    pub slug: String,
    /// Their name (null once erased).
    pub name: Option<String>,
    /// Their job role's title.
    pub job_role: String,
    /// Service area code.
    pub service_area: String,
    /// Service area name.
    pub service_name: Option<String>,
    /// Published since.
    pub published_since: DateTime<Utc>,
    /// Their registered accounts, verified or withdrawn.
    pub accounts: Vec<VerifiedAccount>,
}

/// A level-2 consultation, for the consultation team.
#[derive(SimpleObject, Debug, Clone)]
pub struct Consultation {
    /// The registration.
    pub registration_id: Uuid,
    /// Canonical account key.
    pub account_key: String,
    /// The platform.
    pub platform: Platform,
    /// Service area code.
    pub service_area: String,
    /// Topic or theme.
    pub topic: String,
    /// First day.
    pub opens_on: NaiveDate,
    /// Last day.
    pub closes_on: NaiveDate,
    /// The Consultation Finder reference, once listed.
    pub finder_reference: Option<String>,
    /// The registration's status.
    pub status: RegistrationStatus,
}

/// Something waiting for someone.
#[derive(SimpleObject, Debug, Clone)]
pub struct ApprovalItem {
    /// The registration.
    pub registration_id: Uuid,
    /// The role whose turn it is.
    pub role: Role,
    /// The step: `risk_assessment`, `risk_assessment_signature`,
    /// `senior_officer_sign_off`, `consultation_listing`, `branding:<id>`,
    /// `approval`, `publication`, `changes_requested`, `link_back_check`,
    /// `revalidation` or `policy_acknowledgement` (overdue, in
    /// `myApprovals`), or `fake_account_report` (then `registrationId` is
    /// the report's id).
    pub step: String,
    /// The staff id of the one person it waits for, when the form names one.
    pub assignee: Option<String>,
    /// Framework level (null for a fake-account report).
    pub level: Option<Level>,
    /// Canonical account key.
    pub account_key: String,
    /// Service area code.
    pub service_area: String,
    /// Waiting since.
    pub waiting_since: DateTime<Utc>,
}

/// A published registration and when its review falls due.
#[derive(SimpleObject, Debug, Clone)]
pub struct RevalidationItem {
    /// The registration.
    pub registration_id: Uuid,
    /// Canonical account key.
    pub account_key: String,
    /// The platform.
    pub platform: Platform,
    /// Service area code.
    pub service_area: String,
    /// Staff id of the business contact who re-validates it.
    pub contact_subject: String,
    /// Last validated (or published).
    pub last_validated_at: DateTime<Utc>,
    /// Due on.
    pub due_on: NaiveDate,
    /// True when the due date has passed.
    pub overdue: bool,
}

/// Where an imported registration came from.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "Grandfathered")]
pub struct GrandfatheredNode {
    /// The import file's name.
    pub file_name: String,
    /// Its SHA-256.
    pub file_sha256: String,
    /// The row's line.
    pub line: i64,
    /// Who imported it (communications), and when.
    pub imported: SignOff,
    /// By when its full review is due.
    pub review_by: NaiveDate,
}

/// What became of one row of an import.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    /// A dry run: it would be imported.
    WouldImport,
    /// Imported, published and grandfathered.
    Imported,
    /// A live registration holds the account already; nothing done.
    AlreadyRegistered,
    /// The rules refuse it: see `field` and `problem`.
    Refused,
}

/// One row of an import.
#[derive(SimpleObject, Debug, Clone)]
pub struct ImportRowReport {
    /// Its line in the file (the header is line 1).
    pub line: i64,
    /// The account as the file gives it.
    pub account: String,
    /// Its canonical key, when it could be read.
    pub account_key: Option<String>,
    /// What became of it.
    pub outcome: ImportOutcome,
    /// The registration it is (or would be) imported as, or the one that
    /// holds the account already.
    pub registration_id: Option<Uuid>,
    /// For a refused row: the field (`form.serviceArea`, `permanentId`, …).
    pub field: Option<String>,
    /// For a refused row: why.
    pub problem: Option<String>,
}

/// What an import did.
#[derive(SimpleObject, Debug, Clone)]
pub struct ImportReportNode {
    /// SHA-256 of the file (recorded with each imported row).
    pub file_sha256: String,
    /// It was a dry run.
    pub dry_run: bool,
    /// Something was appended: false for a dry run, when a row was refused
    /// (then nothing is imported), or when every account was registered.
    pub committed: bool,
    /// How many rows were (or would be) imported.
    pub imported: i32,
    /// How many were registered already.
    pub already_registered: i32,
    /// How many were refused.
    pub refused: i32,
    /// The log position of the import, when committed.
    pub position: Option<i64>,
    /// Every row, in file order.
    pub rows: Vec<ImportRowReport>,
}

/// A published version of the social media policy.
#[derive(SimpleObject, Debug, Clone)]
pub struct PolicyVersion {
    /// The version, e.g. `2026.2`: forms acknowledge the current one.
    pub version: String,
    /// The date on the policy.
    pub published_on: NaiveDate,
    /// What changed.
    pub summary: String,
    /// Where staff read it.
    pub url: String,
    /// When it was published in the registry.
    pub published_at: DateTime<Utc>,
}

/// A published registration whose business contact has not acknowledged
/// the current social media policy.
#[derive(SimpleObject, Debug, Clone)]
pub struct PolicyAcknowledgementItem {
    /// The registration.
    pub registration_id: Uuid,
    /// Canonical account key.
    pub account_key: String,
    /// The platform.
    pub platform: Platform,
    /// Service area code.
    pub service_area: String,
    /// Staff id of the business contact who acknowledges it.
    pub contact_subject: String,
    /// The version it acknowledged last.
    pub acknowledged_version: String,
    /// When.
    pub acknowledged_at: DateTime<Utc>,
    /// The current version, to acknowledge (`acknowledgePolicy`).
    pub current_version: String,
    /// Due by (the current version's publication plus
    /// `REGISTRY_POLICY_ACKNOWLEDGEMENT_DAYS`).
    pub due_on: NaiveDate,
    /// True when that date has passed.
    pub overdue: bool,
}

/// Which version of the social media policy was acknowledged for a
/// registration, by whom and when.
#[derive(SimpleObject, Debug, Clone)]
pub struct PolicyAcknowledgementNode {
    /// The version.
    pub version: String,
    /// Staff id of who acknowledged it (the applicant on the form, or the
    /// business contact since).
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A job role on (or taken off) the accepted list for level 3.
#[derive(SimpleObject, Debug, Clone)]
pub struct JobRole {
    /// Code, e.g. `youth-worker`.
    pub code: String,
    /// Title, e.g. `Youth Worker`.
    pub title: String,
    /// Still accepted for new level-3 registrations.
    pub accepted: bool,
}

/// An organisational unit (service).
#[derive(SimpleObject, Debug, Clone)]
pub struct OrganisationalUnit {
    /// Code, e.g. `libraries`.
    pub code: String,
    /// Name, e.g. `Libraries and Archives`.
    pub name: String,
    /// Retired units take no new registrations.
    pub retired: bool,
}

/// A platform and whether it takes new registrations.
#[derive(SimpleObject, Debug, Clone)]
pub struct PlatformInfo {
    /// The platform.
    pub platform: Platform,
    /// The name people know it by.
    pub name: String,
    /// Open for new registrations.
    pub enabled: bool,
    /// Why it is closed, when it is.
    pub disabled_reason: Option<String>,
}

/// Who may speak for the council on which subjects (the authority register).
#[derive(SimpleObject, Debug, Clone)]
pub struct SpeakingAuthority {
    /// The officer's staff id, or the councillor's member id.
    pub subject: String,
    /// True for a councillor.
    pub councillor: bool,
    /// The codes of the topics they may speak on.
    pub topics: Vec<String>,
}

/// A topic level-4 forms and the speaking-authority register choose from.
#[derive(SimpleObject, Debug, Clone)]
pub struct Topic {
    /// Code, e.g. `highways`.
    pub code: String,
    /// Name.
    pub name: String,
}

/// One event of the log, as stored.
#[derive(SimpleObject, Debug, Clone)]
pub struct LoggedEvent {
    /// Global, gap-free position.
    pub position: i64,
    /// The stream, e.g. `registration-<uuid>`.
    pub stream_id: String,
    /// Version within the stream.
    pub stream_version: i64,
    /// Unique id.
    pub event_id: Uuid,
    /// Past-tense type, e.g. `RegistrationPublished`.
    pub event_type: String,
    /// Payload schema version.
    pub schema_version: i32,
    /// The payload (personal values appear only as ciphertext).
    pub payload: Json<serde_json::Value>,
    /// Who, when, correlation id.
    pub metadata: Json<serde_json::Value>,
    /// When it was appended.
    pub recorded_at: DateTime<Utc>,
    /// SHA-256 chain hash, hex.
    pub hash: String,
    /// The previous event's chain hash, hex.
    pub prev_hash: String,
}

impl From<event_store::RecordedEvent> for LoggedEvent {
    fn from(e: event_store::RecordedEvent) -> Self {
        LoggedEvent {
            position: e.position,
            stream_id: e.stream_id,
            stream_version: e.stream_version,
            event_id: e.event_id,
            event_type: e.event_type,
            schema_version: e.schema_version,
            payload: Json(e.payload),
            metadata: Json(e.metadata),
            recorded_at: e.recorded_at,
            hash: hex::encode(e.hash),
            prev_hash: hex::encode(e.prev_hash),
        }
    }
}

/// One step in a registration's history, for auditors.
#[derive(SimpleObject, Debug, Clone)]
pub struct HistoryEntry {
    /// Log position.
    pub position: i64,
    /// Version of the registration after this event.
    pub version: i64,
    /// What happened.
    pub event_type: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Who did it (staff id).
    pub actor_subject: Option<String>,
    /// Their roles at the time.
    pub actor_roles: Vec<String>,
    /// Their display name at the time (null when not given or erased).
    pub actor_name: Option<String>,
    /// The request's correlation id.
    pub correlation_id: Option<String>,
    /// The command that produced it.
    pub command: Option<String>,
    /// The event's data (personal values as ciphertext).
    pub payload: Json<serde_json::Value>,
    /// The event's data with each personal value opened:
    /// `{"person": …, "value": …}`, or `{"person": …, "erased": true}`
    /// once the person was erased.
    pub personal_data: Json<serde_json::Value>,
    /// The registration's status after this event.
    pub status: RegistrationStatus,
}

/// A step in an approval, as a dashboard sees it.
#[derive(SimpleObject, Debug, Clone)]
pub struct ApprovalActivity {
    /// Log position of the event.
    pub position: i64,
    /// The registration.
    pub registration_id: Uuid,
    /// What happened, e.g. `RegistrationSubmitted`, `RiskAssessmentSigned`.
    pub event_type: String,
    /// Who did it (staff id).
    pub by: Option<String>,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// Framework level.
    pub level: Level,
    /// Canonical account key.
    pub account_key: String,
    /// The registration's status after it.
    pub status: RegistrationStatus,
    /// What is still needed before publication.
    pub outstanding_steps: Vec<String>,
}

/// Where the event log ends: the newest position and its chain hash.
/// An auditor who notes this pair can later prove the log up to it unchanged.
#[derive(Debug, Clone, SimpleObject)]
pub struct LogHead {
    /// Position of the newest event (0 when the log is empty). Positions are
    /// gap-free and in commit order.
    pub position: i64,
    /// SHA-256 chain hash of that event, as 64 lower-case hex digits
    /// (all zeros when the log is empty).
    pub hash: String,
}
