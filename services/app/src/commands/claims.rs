//! Claims of accounts (the rule is `domain::claims`): read the account's
//! claim stream and the registration holding it, decide, and prepare the
//! event to append with the registration's own.

use domain::claims::{self, ClaimEvent, CLAIM_SCHEMA_VERSION};
use domain::platform::AccountKey;
use event_store::{EventStore, ExpectedVersion, NewEvent};
use uuid::Uuid;

use super::{load_registration, HandleError};

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

/// The claim of an account whose claim stream is taken not to exist yet
/// (appended expecting no stream: if it exists, the append conflicts and the
/// caller prepares again with [`prepare`]).
pub fn prepare_new(key: &AccountKey, id: Uuid) -> Result<Claim, HandleError> {
    let event = claims::decide_claim(key, id, None)?;
    let (event_type, payload) = domain::codec::encode(&event);
    Ok(Claim {
        stream_id: claims::stream_id(key),
        expected: ExpectedVersion::NoStream,
        event: NewEvent::new(event_type, CLAIM_SCHEMA_VERSION, payload),
    })
}

/// Check that `key` is free (or already `id`'s) and prepare the claim, or
/// say who holds it. Appended atomically with the registration's events, so
/// a concurrent claim of the same account gets a conflict.
pub async fn prepare(store: &EventStore, key: &AccountKey, id: Uuid) -> Result<Claim, HandleError> {
    let stream = claims::stream_id(key);
    let recorded = store.read_stream(&stream, None).await?;
    let version = recorded.last().map_or(0, |e| e.stream_version);
    let events = recorded
        .iter()
        .map(|e| {
            domain::codec::decode::<ClaimEvent>(
                &e.event_type,
                e.schema_version,
                &e.payload,
                CLAIM_SCHEMA_VERSION,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let holder = match claims::last_holder(&events).filter(|h| *h != id) {
        Some(holder) => load_registration(store, holder).await?.0,
        None => None,
    };
    let event = claims::decide_claim(key, id, holder.as_ref())?;
    let (event_type, payload) = domain::codec::encode(&event);
    Ok(Claim {
        stream_id: stream,
        expected: if version == 0 {
            ExpectedVersion::NoStream
        } else {
            ExpectedVersion::Exactly(version)
        },
        event: NewEvent::new(event_type, CLAIM_SCHEMA_VERSION, payload),
    })
}
