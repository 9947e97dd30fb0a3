//! Loading an aggregate: read its stream, decode, fold.

use domain::codec;
use domain::registration::{self, Registration};
use domain::Aggregate;
use event_store::{EventStore, RecordedEvent};
use uuid::Uuid;

use super::HandleError;

/// An aggregate as its stream leaves it.
#[derive(Debug)]
pub struct Loaded<A> {
    /// The state (`None` when the stream has no events).
    pub state: Option<A>,
    /// The stream's version (0 when empty).
    pub version: i64,
    /// The log position of its last event (0 when empty).
    pub last_position: i64,
}

impl<A> Default for Loaded<A> {
    /// A stream with no events.
    fn default() -> Self {
        Loaded {
            state: None,
            version: 0,
            last_position: 0,
        }
    }
}

/// Decode one recorded event of aggregate `A`.
pub fn decode<A: Aggregate>(e: &RecordedEvent) -> Result<A::Event, HandleError> {
    Ok(codec::decode(
        &e.event_type,
        e.schema_version,
        &e.payload,
        A::SCHEMA_VERSION,
    )?)
}

/// Fold recorded events of aggregate `A`, from `state` on.
pub fn fold<A: Aggregate>(
    state: Option<A>,
    events: &[RecordedEvent],
) -> Result<Option<A>, HandleError> {
    events
        .iter()
        .try_fold(state, |s, e| Ok(A::apply(s, &decode::<A>(e)?)))
}

/// Read and fold the stream of aggregate `A`.
pub async fn load<A: Aggregate>(
    store: &EventStore,
    stream: &str,
) -> Result<Loaded<A>, HandleError> {
    let events = store.read_stream(stream, None).await?;
    Ok(Loaded {
        state: fold(None, &events)?,
        version: events.last().map_or(0, |e| e.stream_version),
        last_position: events.last().map_or(0, |e| e.position),
    })
}

/// A registration folded from its stream, and the stream's version.
pub async fn load_registration(
    store: &EventStore,
    id: Uuid,
) -> Result<(Option<Registration>, i64), HandleError> {
    let loaded = load::<Registration>(store, &registration::stream_id(id)).await?;
    Ok((loaded.state, loaded.version))
}

/// Fold a registration's recorded events.
pub fn fold_registration(events: &[RecordedEvent]) -> Result<Option<Registration>, HandleError> {
    fold(None, events)
}

/// Fold one recorded registration event into the state.
pub fn apply_event(
    state: Option<Registration>,
    e: &RecordedEvent,
) -> Result<Option<Registration>, HandleError> {
    fold(state, std::slice::from_ref(e))
}
