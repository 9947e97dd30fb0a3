//! Personal data in the domain: plaintext on the way in, sealed in events.
//!
//! The domain never sees keys. Forms are generic over the personal value
//! type: `Form<String>` is what a person typed, `Form<Sealed>` is what events
//! hold; the API seals one into the other through the event store's vault.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Namespace for person ids derived from staff subjects and names.
const PERSON_NAMESPACE: Uuid = Uuid::from_bytes([
    0x6f, 0x1c, 0x2a, 0x7e, 0x93, 0x54, 0x4d, 0x1b, 0x9e, 0x21, 0x3c, 0x55, 0x0a, 0xd4, 0x7b, 0x18,
]);

/// Ciphertext of one personal value, with whose it is (same shape as the
/// event store's `vault::Sealed`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Sealed {
    /// The person whose key opens it.
    pub person: Uuid,
    /// base64 ciphertext.
    pub sealed: String,
}

/// What kind of personal value a field holds, for validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonalKind {
    /// A person's name.
    Name,
    /// An email address.
    Email,
    /// A telephone number.
    Phone,
}

/// A personal value the domain can validate: plaintext checks its format,
/// a sealed value only that it is present.
pub trait PersonalValue: Clone + PartialEq + std::fmt::Debug {
    /// `Err(problem)` when the value is not acceptable as `kind`.
    fn check(&self, kind: PersonalKind) -> Result<(), String>;
}

impl PersonalValue for String {
    fn check(&self, kind: PersonalKind) -> Result<(), String> {
        let v = self.trim();
        match kind {
            PersonalKind::Name => {
                if v.is_empty() {
                    Err("is required".into())
                } else if v.chars().count() > 200 {
                    Err("must be at most 200 characters".into())
                } else if v.chars().any(char::is_control) {
                    Err("must not contain control characters".into())
                } else {
                    Ok(())
                }
            }
            PersonalKind::Email => {
                let ok = v.len() <= 254
                    && v.split_once('@').is_some_and(|(local, domain)| {
                        !local.is_empty()
                            && domain.contains('.')
                            && !domain.starts_with('.')
                            && !domain.ends_with('.')
                            && !v.contains(char::is_whitespace)
                    })
                    && v.matches('@').count() == 1;
                if ok {
                    Ok(())
                } else {
                    Err("must be an email address such as name@council.gov.uk".into())
                }
            }
            PersonalKind::Phone => {
                let digits = v.chars().filter(char::is_ascii_digit).count();
                let ok = (7..=15).contains(&digits)
                    && v.chars().all(|c| c.is_ascii_digit() || " +()-".contains(c));
                if ok {
                    Ok(())
                } else {
                    Err("must be a telephone number of 7 to 15 digits".into())
                }
            }
        }
    }
}

impl PersonalValue for Sealed {
    fn check(&self, _kind: PersonalKind) -> Result<(), String> {
        if self.sealed.is_empty() {
            Err("is required".into())
        } else {
            Ok(())
        }
    }
}

/// The person id of a member of staff: the same for every registration, so
/// erasing them erases them everywhere.
pub fn staff_person(subject: &str) -> Uuid {
    Uuid::new_v5(&PERSON_NAMESPACE, format!("staff:{subject}").as_bytes())
}

/// The person id of a councillor named on a level-4 form.
pub fn councillor_person(name: &str) -> Uuid {
    let normalised: String = name
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    Uuid::new_v5(
        &PERSON_NAMESPACE,
        format!("councillor:{normalised}").as_bytes(),
    )
}
