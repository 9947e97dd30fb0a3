//! The "Social Media Business Usage" form: the common fields and, per level,
//! exactly the extra fields the framework asks for.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::checks::{code, code_like, text};
use crate::error::DomainError;
use crate::level::Level;
use crate::personal::{councillor_person, staff_person, PersonalKind, PersonalValue};
use crate::platform::{normalise, AccountKey, Platform};
use crate::reference::ReferenceData;

/// Most additional branding assets on one form.
pub const MAX_BRANDING_ASSETS: usize = 20;
/// Longest free-text field.
pub const MAX_TEXT: usize = 2_000;

/// A member of staff named on the form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StaffRef<P> {
    /// Their sign-in subject (staff id), used to check who may sign.
    pub subject: String,
    /// Their name.
    pub name: P,
    /// Their work email, where the form asks for it.
    pub email: Option<P>,
    /// Their work telephone, optional.
    pub phone: Option<P>,
}

/// An additional logo or marketing material; each needs its own approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BrandingAsset {
    /// Short id, unique on the form, e.g. `youth-logo`.
    pub id: String,
    /// What it is and where it will be used.
    pub description: String,
    /// Where the artwork can be seen (document reference or URL).
    pub reference: String,
}

/// Whether press or media are invited or involved (level 4), and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PressMedia {
    /// Press or media are invited.
    pub invited: bool,
    /// Press or media are involved.
    pub involved: bool,
    /// How, when either is true.
    pub arrangements: Option<String>,
}

/// The fields that depend on the level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "level", rename_all = "snake_case")]
pub enum LevelDetails<P> {
    /// Level 1: re-use of existing content and simple updates.
    Broadcast {
        /// Types of information broadcast.
        #[serde(rename = "informationTypes")]
        information_types: Vec<String>,
        /// RSS feeds re-used (may be empty for simple updates).
        #[serde(rename = "contentSources")]
        content_sources: Vec<String>,
    },
    /// Level 2: structured feedback.
    Consult {
        /// Topic or theme of the consultation.
        topic: String,
        /// First day of the consultation.
        #[serde(rename = "opensOn")]
        opens_on: NaiveDate,
        /// Last day of the consultation.
        #[serde(rename = "closesOn")]
        closes_on: NaiveDate,
    },
    /// Level 3: an officer whose role already involves direct contact.
    Participate {
        /// The officer who will use the account.
        officer: StaffRef<P>,
        /// Their job role: must be on the accepted list.
        #[serde(rename = "jobRole")]
        job_role: String,
        /// Their line manager, who signs the risk assessment.
        #[serde(rename = "lineManager")]
        line_manager: StaffRef<P>,
    },
    /// Level 4: formal discussion and debate.
    Engage {
        /// Topics of discussion.
        topics: Vec<String>,
        /// The senior officer responsible for the subject area.
        #[serde(rename = "seniorOfficer")]
        senior_officer: StaffRef<P>,
        /// The county councillor involved, if any: their name.
        councillor: Option<P>,
        /// The councillor's id in the speaking-authority register (with
        /// `councillor`).
        #[serde(rename = "councillorId", default)]
        councillor_id: Option<String>,
        /// An explicit "no councillor is involved" (instead of `councillor`).
        #[serde(rename = "noCouncillor", default)]
        no_councillor: bool,
        /// Whether press or media are invited or involved, and how.
        #[serde(rename = "pressMedia")]
        press_media: PressMedia,
    },
}

impl<P> LevelDetails<P> {
    /// The level these details belong to.
    pub fn level(&self) -> Level {
        match self {
            LevelDetails::Broadcast { .. } => Level::Broadcast,
            LevelDetails::Consult { .. } => Level::Consult,
            LevelDetails::Participate { .. } => Level::Participate,
            LevelDetails::Engage { .. } => Level::Engage,
        }
    }
}

/// The whole form. `P` is the personal value type: `String` as typed,
/// `Sealed` in events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Form<P> {
    /// The platform (social media site).
    pub platform: Platform,
    /// The account's URL or handle, as typed.
    pub account: String,
    /// The business or service area (an organisational unit code).
    pub service_area: String,
    /// The business contact.
    pub business_contact: StaffRef<P>,
    /// Version of the social media policy acknowledged.
    pub policy_version: String,
    /// The policy was acknowledged.
    pub policy_acknowledged: bool,
    /// The corporate identity and branding rules were acknowledged.
    pub corporate_identity_acknowledged: bool,
    /// Additional logos or marketing materials.
    pub branding_assets: Vec<BrandingAsset>,
    /// Level-specific fields.
    pub details: LevelDetails<P>,
}

impl<P> Form<P> {
    /// The level the form is for.
    pub fn level(&self) -> Level {
        self.details.level()
    }

    /// The same form with every personal value passed through `f`, in a
    /// fixed order, with the field it sits in. This walk is the one list of
    /// the form's personal-data fields: sealing, validation of plain text,
    /// subject access and scrubbing all go through it.
    pub fn map_personal<Q>(self, f: &mut impl FnMut(&PersonalField, P) -> Q) -> Form<Q> {
        let details = match self.details {
            LevelDetails::Broadcast {
                information_types,
                content_sources,
            } => LevelDetails::Broadcast {
                information_types,
                content_sources,
            },
            LevelDetails::Consult {
                topic,
                opens_on,
                closes_on,
            } => LevelDetails::Consult {
                topic,
                opens_on,
                closes_on,
            },
            LevelDetails::Participate {
                officer,
                job_role,
                line_manager,
            } => LevelDetails::Participate {
                officer: officer.map_personal("form.details.officer", f),
                job_role,
                line_manager: line_manager.map_personal("form.details.lineManager", f),
            },
            LevelDetails::Engage {
                topics,
                senior_officer,
                councillor,
                councillor_id,
                no_councillor,
                press_media,
            } => {
                let senior_officer = senior_officer.map_personal("form.details.seniorOfficer", f);
                let councillor = councillor.map(|c| {
                    // The councillor's id comes from their name, which only
                    // the plaintext side knows; the sealed side keeps its own.
                    let field = PersonalField {
                        path: "form.details.councillor".into(),
                        kind: PersonalKind::Name,
                        person: Uuid::nil(),
                    };
                    f(&field, c)
                });
                LevelDetails::Engage {
                    topics,
                    senior_officer,
                    councillor,
                    councillor_id,
                    no_councillor,
                    press_media,
                }
            }
        };
        Form {
            platform: self.platform,
            account: self.account,
            service_area: self.service_area,
            business_contact: self
                .business_contact
                .map_personal("form.businessContact", f),
            policy_version: self.policy_version,
            policy_acknowledged: self.policy_acknowledged,
            corporate_identity_acknowledged: self.corporate_identity_acknowledged,
            branding_assets: self.branding_assets,
            details,
        }
    }

    /// Subjects of every member of staff named on the form.
    pub fn named_subjects(&self) -> BTreeSet<&str> {
        let mut s = BTreeSet::from([self.business_contact.subject.as_str()]);
        match &self.details {
            LevelDetails::Participate {
                officer,
                line_manager,
                ..
            } => {
                s.insert(&officer.subject);
                s.insert(&line_manager.subject);
            }
            LevelDetails::Engage { senior_officer, .. } => {
                s.insert(&senior_officer.subject);
            }
            _ => {}
        }
        s
    }
}

impl<P: Clone> Form<P> {
    /// Every personal value with the field it sits in, in `map_personal`
    /// order.
    pub fn personal_fields(&self) -> Vec<(PersonalField, P)> {
        let mut out = Vec::new();
        self.clone()
            .map_personal(&mut |field, value: P| out.push((field.clone(), value)));
        out
    }
}

impl Form<String> {
    /// Every personal value with its person id, in `map_personal` order.
    pub fn personal_values(&self) -> Vec<(Uuid, String)> {
        self.personal_fields()
            .into_iter()
            .map(|(field, value)| {
                // Councillors have no subject: their id is derived from the name.
                let person = if field.person.is_nil() {
                    councillor_person(&value)
                } else {
                    field.person
                };
                (person, value)
            })
            .collect()
    }

    /// Check each personal value as typed (the format of a name, an email,
    /// a telephone number); the first problem names its field. The rest of
    /// the form is checked by [`validate`], on the sealed form, when the
    /// command is decided.
    pub fn check_personal(&self) -> Result<(), DomainError> {
        for (field, value) in self.personal_fields() {
            value
                .check(field.kind)
                .map_err(|p| DomainError::invalid(field.path.clone(), p))?;
        }
        Ok(())
    }
}

/// A field of a form that holds personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalField {
    /// Where it is, e.g. `form.details.officer.email`.
    pub path: String,
    /// What it holds.
    pub kind: PersonalKind,
    /// Whose it is (nil for a councillor, whose id comes from their name).
    pub person: Uuid,
}

impl<P> StaffRef<P> {
    fn map_personal<Q>(
        self,
        prefix: &str,
        f: &mut impl FnMut(&PersonalField, P) -> Q,
    ) -> StaffRef<Q> {
        let person = staff_person(&self.subject);
        let field = |name: &str, kind| PersonalField {
            path: format!("{prefix}.{name}"),
            kind,
            person,
        };
        StaffRef {
            name: f(&field("name", PersonalKind::Name), self.name),
            email: self
                .email
                .map(|e| f(&field("email", PersonalKind::Email), e)),
            phone: self
                .phone
                .map(|p| f(&field("phone", PersonalKind::Phone), p)),
            subject: self.subject,
        }
    }
}

/// Check every field of a form; the first problem names its field.
/// Returns the account's canonical key.
pub fn validate<P: PersonalValue>(
    form: &Form<P>,
    reference: &ReferenceData,
) -> Result<AccountKey, DomainError> {
    validate_as(form, reference, true)
}

/// [`validate`] for an account imported from the council's existing list
/// (grandfathered): every rule of the form except the acknowledgements,
/// which nobody made; its full review asks for them.
pub fn validate_imported<P: PersonalValue>(
    form: &Form<P>,
    reference: &ReferenceData,
) -> Result<AccountKey, DomainError> {
    validate_as(form, reference, false)
}

fn validate_as<P: PersonalValue>(
    form: &Form<P>,
    reference: &ReferenceData,
    acknowledged: bool,
) -> Result<AccountKey, DomainError> {
    if !reference.platform_enabled(form.platform) {
        return Err(DomainError::invalid(
            "form.platform",
            format!(
                "{} is not accepted for new registrations",
                form.platform.display_name()
            ),
        ));
    }
    let key = normalise(form.platform, &form.account)
        .map_err(|e| DomainError::invalid("form.account", e.0))?;
    code("form.serviceArea", &form.service_area)?;
    if !reference.org_unit_known(&form.service_area) {
        return Err(DomainError::invalid(
            "form.serviceArea",
            format!("`{}` is not a known service area", form.service_area),
        ));
    }
    staff("form.businessContact", &form.business_contact, true)?;
    if !acknowledged {
        branding(&form.branding_assets)?;
        details(&form.details, reference)?;
        return Ok(key);
    }
    text("form.policyVersion", &form.policy_version, 50)?;
    if let Some(current) = reference.current_policy() {
        if form.policy_version.trim() != current.version {
            return Err(DomainError::invalid(
                "form.policyVersion",
                format!(
                    "must be the current social media policy, version {} of {}",
                    current.version, current.published_on
                ),
            ));
        }
    }
    if !form.policy_acknowledged {
        return Err(DomainError::invalid(
            "form.policyAcknowledged",
            "the social media policy must be acknowledged",
        ));
    }
    if !form.corporate_identity_acknowledged {
        return Err(DomainError::invalid(
            "form.corporateIdentityAcknowledged",
            "the corporate identity and branding rules must be acknowledged",
        ));
    }
    branding(&form.branding_assets)?;
    details(&form.details, reference)?;
    Ok(key)
}

fn details<P: PersonalValue>(
    d: &LevelDetails<P>,
    reference: &ReferenceData,
) -> Result<(), DomainError> {
    match d {
        LevelDetails::Broadcast {
            information_types,
            content_sources,
        } => {
            non_empty_list("form.details.informationTypes", information_types)?;
            if content_sources.len() > 20 {
                return Err(DomainError::invalid(
                    "form.details.contentSources",
                    "at most 20 feeds",
                ));
            }
            for (i, src) in content_sources.iter().enumerate() {
                feed_url(&format!("form.details.contentSources[{i}]"), src)?;
            }
        }
        LevelDetails::Consult {
            topic,
            opens_on,
            closes_on,
        } => {
            text("form.details.topic", topic, 300)?;
            if closes_on < opens_on {
                return Err(DomainError::invalid(
                    "form.details.closesOn",
                    "must not be before the opening date",
                ));
            }
        }
        LevelDetails::Participate {
            officer,
            job_role,
            line_manager,
        } => {
            staff("form.details.officer", officer, false)?;
            code("form.details.jobRole", job_role)?;
            if !reference.job_role_accepted(job_role) {
                return Err(DomainError::JobRoleNotAccepted {
                    job_role: job_role.clone(),
                });
            }
            staff("form.details.lineManager", line_manager, false)?;
            if line_manager.subject == officer.subject {
                return Err(DomainError::invalid(
                    "form.details.lineManager.subject",
                    "must be someone other than the officer",
                ));
            }
        }
        LevelDetails::Engage {
            topics,
            senior_officer,
            councillor,
            councillor_id,
            no_councillor,
            press_media,
        } => {
            non_empty_list("form.details.topics", topics)?;
            for (i, topic) in topics.iter().enumerate() {
                if !reference.topic_known(topic) {
                    return Err(DomainError::invalid(
                        format!("form.details.topics[{i}]"),
                        format!("`{topic}` is not a code on the topics list"),
                    ));
                }
            }
            staff("form.details.seniorOfficer", senior_officer, false)?;
            match (councillor, councillor_id, no_councillor) {
                (None, None, true) => {}
                (Some(_), _, true) | (None, Some(_), true) => {
                    return Err(DomainError::invalid(
                        "form.details.noCouncillor",
                        "name a councillor or say that none is involved, not both",
                    ))
                }
                (None, _, false) => {
                    return Err(DomainError::invalid(
                        "form.details.councillor",
                        "name the councillor involved, or say that none is",
                    ))
                }
                (Some(_), None, false) => {
                    return Err(DomainError::invalid(
                        "form.details.councillorId",
                        "give the councillor's id in the speaking-authority register",
                    ))
                }
                (Some(c), Some(id), false) => {
                    c.check(PersonalKind::Name)
                        .map_err(|p| DomainError::invalid("form.details.councillor", p))?;
                    code_like("form.details.councillorId", id)?;
                    if !reference.is_councillor(id) {
                        return Err(DomainError::invalid(
                            "form.details.councillorId",
                            format!(
                                "`{id}` is not a councillor in the speaking-authority register"
                            ),
                        ));
                    }
                    if let Some(topic) = topics.iter().find(|t| !reference.may_speak_on(id, t)) {
                        return Err(DomainError::invalid(
                            "form.details.councillorId",
                            format!("the councillor has no speaking authority for `{topic}` in the register"),
                        ));
                    }
                }
            }
            if press_media.invited || press_media.involved {
                match &press_media.arrangements {
                    Some(how) => text("form.details.pressMedia.arrangements", how, MAX_TEXT)?,
                    None => {
                        return Err(DomainError::invalid(
                            "form.details.pressMedia.arrangements",
                            "say how press or media are invited or involved",
                        ))
                    }
                }
            }
        }
    }
    Ok(())
}

fn staff<P: PersonalValue>(
    field: &str,
    s: &StaffRef<P>,
    email_required: bool,
) -> Result<(), DomainError> {
    code_like(&format!("{field}.subject"), &s.subject)?;
    s.name
        .check(PersonalKind::Name)
        .map_err(|p| DomainError::invalid(format!("{field}.name"), p))?;
    match &s.email {
        Some(e) => e
            .check(PersonalKind::Email)
            .map_err(|p| DomainError::invalid(format!("{field}.email"), p))?,
        None if email_required => {
            return Err(DomainError::invalid(
                format!("{field}.email"),
                "is required",
            ))
        }
        None => {}
    }
    if let Some(p) = &s.phone {
        p.check(PersonalKind::Phone)
            .map_err(|p| DomainError::invalid(format!("{field}.phone"), p))?;
    }
    Ok(())
}

fn branding(assets: &[BrandingAsset]) -> Result<(), DomainError> {
    if assets.len() > MAX_BRANDING_ASSETS {
        return Err(DomainError::invalid(
            "form.brandingAssets",
            format!("at most {MAX_BRANDING_ASSETS} assets"),
        ));
    }
    let mut ids = BTreeSet::new();
    for (i, a) in assets.iter().enumerate() {
        code(&format!("form.brandingAssets[{i}].id"), &a.id)?;
        if !ids.insert(a.id.as_str()) {
            return Err(DomainError::invalid(
                format!("form.brandingAssets[{i}].id"),
                "appears twice",
            ));
        }
        text(
            &format!("form.brandingAssets[{i}].description"),
            &a.description,
            500,
        )?;
        text(
            &format!("form.brandingAssets[{i}].reference"),
            &a.reference,
            500,
        )?;
    }
    Ok(())
}

fn non_empty_list(field: &str, items: &[String]) -> Result<(), DomainError> {
    if items.is_empty() {
        return Err(DomainError::invalid(field, "name at least one"));
    }
    if items.len() > 20 {
        return Err(DomainError::invalid(field, "at most 20"));
    }
    for (i, item) in items.iter().enumerate() {
        text(&format!("{field}[{i}]"), item, 300)?;
    }
    Ok(())
}

fn feed_url(field: &str, v: &str) -> Result<(), DomainError> {
    match url::Url::parse(v.trim()) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some_and(|h| h.contains('.')) =>
        {
            Ok(())
        }
        _ => Err(DomainError::invalid(
            field,
            "must be the full address of an RSS or Atom feed (https://…)",
        )),
    }
}
