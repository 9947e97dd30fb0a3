//! Events as the read models see them: registration events with the state
//! they leave behind, erasures, reference data changes.

use std::collections::HashMap;

use domain::codec;
use domain::privacy::PrivacyEvent;
use domain::reference::ReferenceEvent;
use domain::registration::{Registration, RegistrationEvent, EVENT_SCHEMA_VERSION};
use domain::report::ReportEvent;
use domain::streams::Stream;
use event_store::{EventStore, RecordedEvent, StoreError};
use uuid::Uuid;

/// One event of a batch, decoded.
#[derive(Debug, Clone)]
pub(crate) enum Decoded {
    /// A registration event: the registration's state right after it.
    Registration { state: Box<Registration> },
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
/// event needs no read of its stream. Bounded: when full it is emptied and
/// states are folded again from the log as needed. States come from events
/// alone, so the cache stays right whatever happens to a batch's writes.
#[derive(Debug, Default)]
pub struct StateCache {
    states: HashMap<Uuid, Registration>,
}

const CACHE_LIMIT: usize = 50_000;

/// Decodes a batch, folding registration states incrementally and reading a
/// stream's earlier events only when the cache does not have them.
pub(crate) struct Decoder<'a> {
    store: &'a EventStore,
    cache: &'a mut StateCache,
}

impl<'a> Decoder<'a> {
    pub(crate) fn new(store: &'a EventStore, cache: &'a mut StateCache) -> Self {
        if cache.states.len() > CACHE_LIMIT {
            cache.states.clear();
        }
        Decoder { store, cache }
    }

    pub(crate) async fn decode(&mut self, e: &RecordedEvent) -> Result<Decoded, StoreError> {
        match domain::streams::parse(&e.stream_id) {
            Stream::Registration(id) => return self.registration(id, e).await,
            Stream::Person => {
                return Ok(
                    match codec::decode::<PrivacyEvent>(
                        &e.event_type,
                        e.schema_version,
                        &e.payload,
                        1,
                    ) {
                        Ok(PrivacyEvent::PersonalDataErased { person, .. }) => {
                            Decoded::Erasure(person)
                        }
                        Err(err) => Decoded::Broken(err.to_string()),
                    },
                );
            }
            Stream::Report(id) => {
                return Ok(
                    match codec::decode::<ReportEvent>(
                        &e.event_type,
                        e.schema_version,
                        &e.payload,
                        1,
                    ) {
                        Ok(event) => Decoded::Report { id, event },
                        Err(err) => Decoded::Broken(err.to_string()),
                    },
                );
            }
            Stream::Malformed => {
                return Ok(Decoded::Broken(format!(
                    "stream {} has no id after its prefix",
                    e.stream_id
                )));
            }
            _ => {}
        }
        if e.stream_id.starts_with(domain::streams::REFERENCE) {
            return Ok(
                match codec::decode::<ReferenceEvent>(
                    &e.event_type,
                    e.schema_version,
                    &e.payload,
                    1,
                ) {
                    Ok(r) => Decoded::Reference(r),
                    Err(err) => Decoded::Broken(err.to_string()),
                },
            );
        }
        Ok(Decoded::Ignored)
    }

    async fn registration(&mut self, id: Uuid, e: &RecordedEvent) -> Result<Decoded, StoreError> {
        let event: RegistrationEvent = match codec::decode(
            &e.event_type,
            e.schema_version,
            &e.payload,
            EVENT_SCHEMA_VERSION,
        ) {
            Ok(ev) => ev,
            Err(err) => return Ok(Decoded::Broken(err.to_string())),
        };
        let before = match self.cache.states.remove(&id) {
            Some(s) if s.version == e.stream_version - 1 => Some(s),
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
                self.cache.states.insert(id, state.clone());
                Ok(Decoded::Registration {
                    state: Box::new(state),
                })
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
