//! Erasure of a person's personal data (UK GDPR), as an event.
//!
//! The vault deletes the person's key; this event records that it happened
//! (who, when, why — never the personal data) so every read model can show
//! the person's data as erased once the event is projected.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actor::{Actor, Role};
use crate::checks::text;
use crate::error::DomainError;

/// The event type of an erasure.
pub const ERASED_EVENT_TYPE: &str = "PersonalDataErased";

/// The stream of one person's privacy events.
pub fn stream_id(person: Uuid) -> String {
    format!("person-{person}")
}

/// Something that happened to a person's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum PrivacyEvent {
    /// The person's data key was deleted: their personal data is gone.
    #[serde(rename_all = "camelCase")]
    PersonalDataErased {
        /// Whose data.
        person: Uuid,
        /// The legal basis or request reference (no personal data).
        reason: String,
        /// Who erased it (staff subject).
        by: String,
    },
}

/// A person whose data has been erased (the state of their privacy stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    /// Who.
    pub person: Uuid,
}

/// Erase a person's personal data.
#[derive(Debug, Clone)]
pub struct Erase {
    /// Whose.
    pub person: Uuid,
    /// The legal basis or request reference (no personal data).
    pub reason: String,
}

/// Decide an erasure: only the data protection role, with a reason.
pub fn decide_erasure(
    actor: &Actor,
    person: Uuid,
    reason: &str,
) -> Result<PrivacyEvent, DomainError> {
    if !actor.has(Role::DataProtection) {
        return Err(DomainError::MissingRole {
            role: Role::DataProtection,
        });
    }
    text("reason", reason, 500)?;
    Ok(PrivacyEvent::PersonalDataErased {
        person,
        reason: reason.trim().to_owned(),
        by: actor.subject.clone(),
    })
}
