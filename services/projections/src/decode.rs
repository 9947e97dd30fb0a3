//! Events as the read models see them: registration events with the state
//! they leave behind, erasures, reference data changes, reports.

use std::collections::HashMap;
use std::sync::Arc;

use domain::codec;
use domain::privacy::PrivacyEvent;
use domain::reference::ReferenceEvent;
use domain::registration::{Registration, RegistrationEvent, EVENT_SCHEMA_VERSION};
use domain::report::ReportEvent;
use domain::streams::Stream;
use event_store::{EventStore, LogEvent, StoreError};
use uuid::Uuid;

/// One event, decoded.
#[derive(Debug, Clone)]
pub(crate) enum Decoded {
    /// A registration event: the registration's state right after it.
    Registration { state: Arc<Registration> },
    /// A person's data was erased.
    Erasure(Uuid),
    /// Reference data changed.
    Reference(ReferenceEvent),
    /// A report of a suspected fake account, or its closing.
    Report {
        /// The report.
        id: Uuid,
        /// What happened.
        event: ReportEvent,
    },
    /// Not for the read models (account claims, …).
    Ignored,
    /// Cannot be read: the projections that meet it stop here.
    Broken(String),
}

/// Registration states the projector has folded, so a registration's next
/// event needs no read of its stream. Bounded (unless made for a rebuild):
/// when full it is emptied at the start of a batch and states are folded
/// again from the log as needed. States come from events alone, so the
/// cache stays right whatever happens to a batch's writes.
#[derive(Debug)]
pub struct StateCache {
    states: HashMap<Uuid, Arc<Registration>>,
    limit: usize,
}

impl Default for StateCache {
    fn default() -> Self {
        StateCache {
            states: HashMap::new(),
            limit: 50_000,
        }
    }
}

impl StateCache {
    /// A cache that keeps every state (a rebuild folds the whole log once).
    pub fn unbounded() -> Self {
        StateCache {
            states: HashMap::new(),
            limit: usize::MAX,
        }
    }
}

/// Decodes events in order, folding registration states incrementally and
/// reading a stream's earlier events only when the cache does not have them.
pub(crate) struct Decoder<'a> {
    store: &'a EventStore,
    cache: &'a mut StateCache,
}

fn decoded<E>(r: Result<E, codec::DecodeError>, then: impl FnOnce(E) -> Decoded) -> Decoded {
    match r {
        Ok(event) => then(event),
        Err(err) => Decoded::Broken(err.to_string()),
    }
}

impl<'a> Decoder<'a> {
    pub(crate) fn new(store: &'a EventStore, cache: &'a mut StateCache) -> Self {
        if cache.states.len() > cache.limit {
            cache.states.clear();
        }
        Decoder { store, cache }
    }

    pub(crate) async fn decode(&mut self, e: &LogEvent) -> Result<Decoded, StoreError> {
        let text = |current| {
            (
                e.event_type.as_str(),
                e.schema_version,
                e.payload.as_str(),
                current,
            )
        };
        Ok(match domain::streams::parse(&e.stream_id) {
            Stream::Registration(id) => return self.registration(id, e).await,
            Stream::Person => {
                let (t, v, p, c) = text(1);
                decoded(codec::decode_text::<PrivacyEvent>(t, v, p, c), |event| {
                    let PrivacyEvent::PersonalDataErased { person, .. } = event;
                    Decoded::Erasure(person)
                })
            }
            Stream::Report(id) => {
                let (t, v, p, c) = text(1);
                decoded(codec::decode_text::<ReportEvent>(t, v, p, c), |event| {
                    Decoded::Report { id, event }
                })
            }
            Stream::Malformed => {
                Decoded::Broken(format!("stream {} has no id after its prefix", e.stream_id))
            }
            _ if e.stream_id.starts_with(domain::streams::REFERENCE) => {
                let (t, v, p, c) = text(1);
                decoded(
                    codec::decode_text::<ReferenceEvent>(t, v, p, c),
                    Decoded::Reference,
                )
            }
            _ => Decoded::Ignored,
        })
    }

    async fn registration(&mut self, id: Uuid, e: &LogEvent) -> Result<Decoded, StoreError> {
        let event: RegistrationEvent = match codec::decode_text(
            &e.event_type,
            e.schema_version,
            &e.payload,
            EVENT_SCHEMA_VERSION,
        ) {
            Ok(ev) => ev,
            Err(err) => return Ok(Decoded::Broken(err.to_string())),
        };
        let before = match self.cache.states.remove(&id) {
            Some(s) if s.version == e.stream_version - 1 => Some(Arc::unwrap_or_clone(s)),
            _ => self.fold_up_to(&e.stream_id, e.stream_version - 1).await?,
        };
        if before.is_none() && e.stream_version > 1 {
            return Ok(Decoded::Broken(format!(
                "{} has no state before version {}",
                e.stream_id, e.stream_version
            )));
        }
        match Registration::apply(before, &event) {
            Some(state) => {
                let state = Arc::new(state);
                self.cache.states.insert(id, state.clone());
                Ok(Decoded::Registration { state })
            }
            None => Ok(Decoded::Broken(format!(
                "{} does not start with a submission",
                e.stream_id
            ))),
        }
    }

    async fn fold_up_to(
        &self,
        stream: &str,
        version: i64,
    ) -> Result<Option<Registration>, StoreError> {
        if version < 1 {
            return Ok(None);
        }
        let mut state = None;
        for e in self.store.read_stream(stream, Some(version)).await? {
            match codec::decode::<RegistrationEvent>(
                &e.event_type,
                e.schema_version,
                &e.payload,
                EVENT_SCHEMA_VERSION,
            ) {
                Ok(ev) => state = Registration::apply(state, &ev),
                Err(_) => return Ok(None),
            }
        }
        Ok(state)
    }
}
