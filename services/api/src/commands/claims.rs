//! One active registration per canonical account.
//!
//! Each account key has a claim stream; a registration claims the account by
//! appending to it at the version it read, so of two concurrent claims one
//! gets a conflict. A claim lapses when its registration is withdrawn or
//! rejected, moves to another account, or was never written.

use domain::platform::AccountKey;
use domain::DomainError;
use event_store::{EventStore, ExpectedVersion, NewEvent};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{load_registration, HandleError};

/// The claim stream of an account key.
pub fn stream_id(key: &AccountKey) -> String {
    let digest = Sha256::digest(key.to_string().as_bytes());
    format!("accountclaim-{}", hex::encode(&digest[..16]))
}

/// A claim ready to append in the same transaction as the registration's
/// events.
#[derive(Debug)]
pub struct Claim {
    /// The claim stream.
    pub stream_id: String,
    /// Its version when the holder was checked.
    pub expected: ExpectedVersion,
    /// The `AccountClaimed` event.
    pub event: NewEvent,
}

/// Check that `key` is free (or already `id`'s) and prepare the claim, or
/// say who holds it. Appended atomically with the registration's events, so
/// a concurrent claim of the same account gets a conflict.
pub async fn prepare(store: &EventStore, key: &AccountKey, id: Uuid) -> Result<Claim, HandleError> {
    let stream = stream_id(key);
    let claims = store.read_stream(&stream, None).await?;
    let version = claims.last().map_or(0, |e| e.stream_version);
    let holder = claims
        .last()
        .and_then(|e| e.payload["registrationId"].as_str())
        .and_then(|s| s.parse::<Uuid>().ok());
    if let Some(holder) = holder.filter(|h| *h != id) {
        let (state, _) = load_registration(store, holder).await?;
        if let Some(state) = state.filter(|s| !s.status.is_terminal() && &s.account_key == key) {
            return Err(DomainError::AccountAlreadyRegistered {
                account: key.to_string(),
                registration: state.id,
            }
            .into());
        }
    }
    Ok(Claim {
        stream_id: stream,
        expected: if version == 0 {
            ExpectedVersion::NoStream
        } else {
            ExpectedVersion::Exactly(version)
        },
        event: NewEvent::new(
            "AccountClaimed",
            1,
            json!({ "registrationId": id, "accountKey": key }),
        ),
    })
}
