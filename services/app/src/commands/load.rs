use domain::codec;
use domain::reference::{streams, ReferenceData, ReferenceEvent};
use domain::registration::{self, Registration, RegistrationEvent, EVENT_SCHEMA_VERSION};
use event_store::{EventStore, RecordedEvent};
use uuid::Uuid;

use super::HandleError;

/// A registration folded from its stream, and the stream's version.
pub async fn load_registration(
    store: &EventStore,
    id: Uuid,
) -> Result<(Option<Registration>, i64), HandleError> {
    let events = store
        .read_stream(&registration::stream_id(id), None)
        .await?;
    let version = events.last().map_or(0, |e| e.stream_version);
    Ok((fold_registration(&events)?, version))
}

/// Fold a registration's recorded events.
pub fn fold_registration(events: &[RecordedEvent]) -> Result<Option<Registration>, HandleError> {
    let mut state = None;
    for e in events {
        state = apply_event(state, e)?;
    }
    Ok(state)
}

/// Fold one recorded registration event into the state.
pub fn apply_event(
    state: Option<Registration>,
    e: &RecordedEvent,
) -> Result<Option<Registration>, HandleError> {
    let event: RegistrationEvent = codec::decode(
        &e.event_type,
        e.schema_version,
        &e.payload,
        EVENT_SCHEMA_VERSION,
    )?;
    Ok(Registration::apply(state, &event))
}

/// Reference data folded from its streams.
pub async fn load_reference(store: &EventStore) -> Result<ReferenceData, HandleError> {
    let mut data = ReferenceData::default();
    for stream in streams::ALL {
        for e in store.read_stream(stream, None).await? {
            let event: ReferenceEvent =
                codec::decode(&e.event_type, e.schema_version, &e.payload, 1)?;
            data.apply(&event);
        }
    }
    Ok(data)
}
