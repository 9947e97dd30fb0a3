//! One active registration per canonical account.
//!
//! Each account key has a claim stream; a registration claims the account by
//! appending [`ClaimEvent::AccountClaimed`] to it at the version it read, in
//! the same transaction as its own events, so of two concurrent claims one
//! gets a conflict. A claim lapses when its registration is withdrawn or
//! rejected, or moves to another account. A change pending on a published
//! registration holds the account it would move to as well.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::DomainError;
use crate::platform::AccountKey;
use crate::registration::Registration;

/// The claim stream of an account key (a digest: the key itself may be long).
pub fn stream_id(key: &AccountKey) -> String {
    let digest = Sha256::digest(key.to_string().as_bytes());
    format!(
        "{}{}",
        crate::streams::ACCOUNT_CLAIM,
        hex::encode(&digest[..16])
    )
}

/// What happens on a claim stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum ClaimEvent {
    /// A registration claimed the account.
    #[serde(rename_all = "camelCase")]
    AccountClaimed {
        /// The registration that holds it now.
        registration_id: Uuid,
        /// The account.
        account_key: AccountKey,
    },
}

/// The schema version of claim events.
pub const CLAIM_SCHEMA_VERSION: i32 = 1;

/// Who claimed the account last, from its claim stream's events.
pub fn last_holder(events: &[ClaimEvent]) -> Option<Uuid> {
    events.last().map(
        |ClaimEvent::AccountClaimed {
             registration_id, ..
         }| *registration_id,
    )
}

/// Decide whether registration `id` may claim `key`, given the registration
/// that holds the claim now (folded from its own stream), if another does.
pub fn decide_claim(
    key: &AccountKey,
    id: Uuid,
    holder: Option<&Registration>,
) -> Result<ClaimEvent, DomainError> {
    if let Some(holder) = holder.filter(|h| h.id != id) {
        let holds = &holder.account_key == key
            || holder.permanent_id.as_ref() == Some(key)
            || holder
                .change
                .as_ref()
                .is_some_and(|c| &c.candidate.account_key == key);
        if !holder.status.is_terminal() && holds {
            return Err(DomainError::AccountAlreadyRegistered {
                account: key.to_string(),
                registration: holder.id,
            });
        }
    }
    Ok(ClaimEvent::AccountClaimed {
        registration_id: id,
        account_key: key.clone(),
    })
}
