//! Reference data managed by `admin` (platforms also by `communications`):
//! accepted job roles, the speaking-authority register, organisational units
//! and platforms. Each kind is its own stream.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::actor::{Actor, Role};
use crate::checks::{code, code_like, text};
use crate::error::DomainError;
use crate::platform::Platform;

/// The stream of each kind of reference data.
pub mod streams {
    /// Accepted job roles for level 3.
    pub const JOB_ROLES: &str = "reference-job_roles";
    /// Who may speak for the council on which subjects.
    pub const SPEAKING_AUTHORITIES: &str = "reference-speaking_authorities";
    /// Organisational units (services).
    pub const ORG_UNITS: &str = "reference-org_units";
    /// Platforms accepted for new registrations.
    pub const PLATFORMS: &str = "reference-platforms";
    /// Versions of the social media policy.
    pub const POLICY_VERSIONS: &str = "reference-policy_versions";
    /// The topics level-4 forms and speaking authority name.
    pub const TOPICS: &str = "reference-topics";
    /// All of them, in load order.
    pub const ALL: [&str; 6] = [
        JOB_ROLES,
        SPEAKING_AUTHORITIES,
        ORG_UNITS,
        PLATFORMS,
        POLICY_VERSIONS,
        TOPICS,
    ];
}

/// Something that happened to reference data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum ReferenceEvent {
    /// A job role was added to the accepted list.
    JobRoleAccepted {
        /// Code, e.g. `youth-worker`.
        code: String,
        /// Title, e.g. `Youth Worker`.
        title: String,
    },
    /// A job role was taken off the accepted list.
    JobRoleWithdrawn {
        /// Its code.
        code: String,
    },
    /// Someone was given authority to speak for the council on a subject.
    SpeakingAuthorityGranted {
        /// Their staff subject, or a councillor's member id.
        subject: String,
        /// The topic's code, e.g. `highways`.
        topic: String,
        /// True for a councillor (a member), false for an officer.
        #[serde(default)]
        councillor: bool,
    },
    /// That authority was revoked.
    SpeakingAuthorityRevoked {
        /// Their staff subject.
        subject: String,
        /// The subject matter.
        topic: String,
    },
    /// An organisational unit (service) was added.
    OrganisationalUnitAdded {
        /// Code, e.g. `libraries`.
        code: String,
        /// Name, e.g. `Libraries and Archives`.
        name: String,
    },
    /// An organisational unit was retired (no new registrations).
    OrganisationalUnitRetired {
        /// Its code.
        code: String,
    },
    /// A platform was closed to new registrations.
    PlatformDisabled {
        /// The platform.
        platform: Platform,
        /// Why.
        reason: String,
    },
    /// A platform was opened again.
    PlatformEnabled {
        /// The platform.
        platform: Platform,
    },
    /// A topic was added to the list level-4 forms and the speaking-
    /// authority register choose from.
    TopicAdded {
        /// Code, e.g. `highways`.
        code: String,
        /// Name, e.g. `Highways and road safety`.
        name: String,
    },
    /// A topic was retired (no new forms or grants name it).
    TopicRetired {
        /// Its code.
        code: String,
    },
    /// A version of the social media policy was published: from now on
    /// forms acknowledge it, and every published account re-acknowledges it.
    #[serde(rename_all = "camelCase")]
    PolicyVersionPublished {
        /// The version, e.g. `2026.2`.
        version: String,
        /// The date on the policy.
        published_on: NaiveDate,
        /// What changed, in a sentence or two.
        summary: String,
        /// Where staff read it.
        url: String,
    },
}

/// A published version of the social media policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyVersion {
    /// The version, e.g. `2026.2`.
    pub version: String,
    /// The date on the policy.
    pub published_on: NaiveDate,
    /// What changed.
    pub summary: String,
    /// Where staff read it.
    pub url: String,
}

impl ReferenceEvent {
    /// The stream this event belongs to.
    pub fn stream(&self) -> &'static str {
        match self {
            ReferenceEvent::JobRoleAccepted { .. } | ReferenceEvent::JobRoleWithdrawn { .. } => {
                streams::JOB_ROLES
            }
            ReferenceEvent::SpeakingAuthorityGranted { .. }
            | ReferenceEvent::SpeakingAuthorityRevoked { .. } => streams::SPEAKING_AUTHORITIES,
            ReferenceEvent::OrganisationalUnitAdded { .. }
            | ReferenceEvent::OrganisationalUnitRetired { .. } => streams::ORG_UNITS,
            ReferenceEvent::PlatformDisabled { .. } | ReferenceEvent::PlatformEnabled { .. } => {
                streams::PLATFORMS
            }
            ReferenceEvent::PolicyVersionPublished { .. } => streams::POLICY_VERSIONS,
            ReferenceEvent::TopicAdded { .. } | ReferenceEvent::TopicRetired { .. } => {
                streams::TOPICS
            }
        }
    }
}

/// A change to reference data, as asked for.
pub type ReferenceCommand = ReferenceEvent;

/// The reference data as folded from its streams.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReferenceData {
    /// Accepted job roles: code → title.
    pub job_roles: BTreeMap<String, String>,
    /// Speaking authority: staff subject (or councillor id) → topic codes.
    pub speaking_authorities: BTreeMap<String, BTreeSet<String>>,
    /// The subjects of the register that are councillors.
    pub councillors: BTreeSet<String>,
    /// Topics in use: code → name.
    pub topics: BTreeMap<String, String>,
    /// Organisational units in use: code → name.
    pub org_units: BTreeMap<String, String>,
    /// Platforms closed to new registrations, with why.
    pub disabled_platforms: BTreeMap<Platform, String>,
    /// Published versions of the social media policy, oldest first: the
    /// last is current.
    pub policy_versions: Vec<PolicyVersion>,
}

impl ReferenceData {
    /// Fold one event.
    pub fn apply(&mut self, e: &ReferenceEvent) {
        match e {
            ReferenceEvent::JobRoleAccepted { code, title } => {
                self.job_roles.insert(code.clone(), title.clone());
            }
            ReferenceEvent::JobRoleWithdrawn { code } => {
                self.job_roles.remove(code);
            }
            ReferenceEvent::SpeakingAuthorityGranted {
                subject,
                topic,
                councillor,
            } => {
                self.speaking_authorities
                    .entry(subject.clone())
                    .or_default()
                    .insert(topic_key(topic));
                if *councillor {
                    self.councillors.insert(subject.clone());
                }
            }
            ReferenceEvent::TopicAdded { code, name } => {
                self.topics.insert(code.clone(), name.clone());
            }
            ReferenceEvent::TopicRetired { code } => {
                self.topics.remove(code);
            }
            ReferenceEvent::SpeakingAuthorityRevoked { subject, topic } => {
                if let Some(t) = self.speaking_authorities.get_mut(subject) {
                    t.remove(&topic_key(topic));
                }
            }
            ReferenceEvent::OrganisationalUnitAdded { code, name } => {
                self.org_units.insert(code.clone(), name.clone());
            }
            ReferenceEvent::OrganisationalUnitRetired { code } => {
                self.org_units.remove(code);
            }
            ReferenceEvent::PlatformDisabled { platform, reason } => {
                self.disabled_platforms.insert(*platform, reason.clone());
            }
            ReferenceEvent::PlatformEnabled { platform } => {
                self.disabled_platforms.remove(platform);
            }
            ReferenceEvent::PolicyVersionPublished {
                version,
                published_on,
                summary,
                url,
            } => self.policy_versions.push(PolicyVersion {
                version: version.clone(),
                published_on: *published_on,
                summary: summary.clone(),
                url: url.clone(),
            }),
        }
    }

    /// The current version of the social media policy (none published yet:
    /// forms name the version they acknowledge as free text).
    pub fn current_policy(&self) -> Option<&PolicyVersion> {
        self.policy_versions.last()
    }

    /// True when the job role is on the accepted list.
    pub fn job_role_accepted(&self, code: &str) -> bool {
        self.job_roles.contains_key(code)
    }

    /// True when the organisational unit exists and is not retired.
    pub fn org_unit_known(&self, code: &str) -> bool {
        self.org_units.contains_key(code)
    }

    /// True unless the platform was disabled.
    pub fn platform_enabled(&self, p: Platform) -> bool {
        !self.disabled_platforms.contains_key(&p)
    }

    /// True when the topic is on the list and not retired.
    pub fn topic_known(&self, code: &str) -> bool {
        self.topics.contains_key(code)
    }

    /// True when `subject` is in the register as a councillor.
    pub fn is_councillor(&self, subject: &str) -> bool {
        self.councillors.contains(subject)
    }

    /// True when `subject` may speak for the council on `topic`.
    pub fn may_speak_on(&self, subject: &str, topic: &str) -> bool {
        self.speaking_authorities
            .get(subject)
            .is_some_and(|t| t.contains(&topic_key(topic)))
    }

    /// Decide a change: who may make it, and whether it changes anything.
    pub fn decide(
        &self,
        actor: &Actor,
        command: &ReferenceCommand,
    ) -> Result<ReferenceEvent, DomainError> {
        let platform_change = matches!(
            command,
            ReferenceEvent::PlatformDisabled { .. } | ReferenceEvent::PlatformEnabled { .. }
        );
        if !(actor.has(Role::Admin) || (platform_change && actor.has(Role::Communications))) {
            return Err(DomainError::MissingRole { role: Role::Admin });
        }
        let exists = |msg: String| Err(DomainError::ReferenceData(msg));
        match command {
            ReferenceEvent::JobRoleAccepted { code: c, title } => {
                code("code", c)?;
                text("title", title, 200)?;
                if self.job_roles.get(c) == Some(title) {
                    return exists(format!("job role `{c}` is already accepted"));
                }
            }
            ReferenceEvent::JobRoleWithdrawn { code: c } => {
                if !self.job_roles.contains_key(c) {
                    return exists(format!("job role `{c}` is not on the accepted list"));
                }
            }
            ReferenceEvent::SpeakingAuthorityGranted {
                subject,
                topic,
                councillor,
            } => {
                code_like("subject", subject)?;
                if !self.topic_known(topic) {
                    return Err(DomainError::invalid(
                        "topic",
                        format!("`{topic}` is not a code on the topics list"),
                    ));
                }
                if *councillor != self.is_councillor(subject)
                    && self.speaking_authorities.contains_key(subject)
                {
                    return Err(DomainError::invalid(
                        "councillor",
                        format!(
                            "{subject} is in the register as {}",
                            if *councillor {
                                "an officer"
                            } else {
                                "a councillor"
                            }
                        ),
                    ));
                }
                if self.may_speak_on(subject, topic) {
                    return exists(format!(
                        "{subject} already holds speaking authority for `{topic}`"
                    ));
                }
            }
            ReferenceEvent::SpeakingAuthorityRevoked { subject, topic } => {
                if !self.may_speak_on(subject, topic) {
                    return exists(format!(
                        "{subject} holds no speaking authority for `{topic}`"
                    ));
                }
            }
            ReferenceEvent::OrganisationalUnitAdded { code: c, name } => {
                code("code", c)?;
                text("name", name, 200)?;
                if self.org_units.get(c) == Some(name) {
                    return exists(format!("organisational unit `{c}` already exists"));
                }
            }
            ReferenceEvent::OrganisationalUnitRetired { code: c } => {
                if !self.org_units.contains_key(c) {
                    return exists(format!("organisational unit `{c}` does not exist"));
                }
            }
            ReferenceEvent::PlatformDisabled { platform, reason } => {
                text("reason", reason, 500)?;
                if !self.platform_enabled(*platform) {
                    return exists(format!("{platform} is already closed to new registrations"));
                }
            }
            ReferenceEvent::PlatformEnabled { platform } => {
                if self.platform_enabled(*platform) {
                    return exists(format!("{platform} is already open"));
                }
            }
            ReferenceEvent::TopicAdded { code: c, name } => {
                code("code", c)?;
                text("name", name, 200)?;
                if self.topics.get(c) == Some(name) {
                    return exists(format!("topic `{c}` already exists"));
                }
            }
            ReferenceEvent::TopicRetired { code: c } => {
                if !self.topics.contains_key(c) {
                    return exists(format!("topic `{c}` is not on the list"));
                }
            }
            ReferenceEvent::PolicyVersionPublished {
                version,
                summary,
                url,
                ..
            } => {
                text("version", version, 50)?;
                if version.trim() != version || version.chars().any(char::is_whitespace) {
                    return Err(DomainError::invalid(
                        "version",
                        "must be a version such as 2026.2, without spaces",
                    ));
                }
                text("summary", summary, 2000)?;
                let ok = url::Url::parse(url)
                    .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
                if !ok {
                    return Err(DomainError::invalid(
                        "url",
                        "must be the full address where staff read the policy (https://…)",
                    ));
                }
                if self.policy_versions.iter().any(|p| &p.version == version) {
                    return exists(format!("policy version `{version}` is already published"));
                }
            }
        }
        Ok(command.clone())
    }
}

fn topic_key(topic: &str) -> String {
    topic
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}
