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
/// when full, the states least recently used are dropped at the start of a
/// batch, and folded again from the log when needed. States come from
/// events alone, so the cache stays right whatever happens to a batch's
/// writes.
#[derive(Debug)]
pub struct StateCache {
    states: HashMap<Uuid, (Arc<Registration>, u64), foldhash::fast::RandomState>,
    limit: usize,
    /// Counts batches, to know which states were used recently.
    clock: u64,
}

impl Default for StateCache {
    /// Room for every registration of a large council (a state takes about
    /// a kilobyte; the form is shared between a registration's states).
    fn default() -> Self {
        StateCache::bounded(100_000)
    }
}

impl StateCache {
    /// A cache of at most about `limit` states.
    pub fn bounded(limit: usize) -> Self {
        StateCache {
            states: HashMap::default(),
            limit,
            clock: 0,
        }
    }

    /// A cache that keeps every state (a rebuild folds the whole log once).
    pub fn unbounded() -> Self {
        StateCache::bounded(usize::MAX)
    }

    /// Start a batch: over the limit, keep the most recently used half.
    fn tick(&mut self) {
        self.clock += 1;
        if self.states.len() <= self.limit {
            return;
        }
        let mut used: Vec<u64> = self.states.values().map(|(_, at)| *at).collect();
        let keep = self.limit / 2;
        used.sort_unstable_by(|a, b| b.cmp(a));
        let cutoff = used.get(keep).copied().unwrap_or(0);
        self.states.retain(|_, (_, at)| *at > cutoff);
    }

    fn take(&mut self, id: &Uuid, version: i64) -> Option<Registration> {
        match self.states.remove(id) {
            Some((s, _)) if s.version == version => Some(Arc::unwrap_or_clone(s)),
            _ => None,
        }
    }

    fn has(&self, id: &Uuid, version: i64) -> bool {
        self.states
            .get(id)
            .is_some_and(|(s, _)| s.version == version)
    }

    fn put(&mut self, state: Arc<Registration>) {
        self.states.insert(state.id, (state, self.clock));
    }
}

/// Decodes events in order, folding registration states incrementally and
/// reading a stream's earlier events only when the cache does not have them.
pub(crate) struct Decoder<'a> {
    store: &'a EventStore,
    cache: &'a mut StateCache,
}

/// An event's payload, read: what decoding needs no state for, so it can
/// run apart from (and ahead of) the folding.
#[derive(Debug)]
pub(crate) enum Parsed {
    /// A registration event, to fold into its registration's state.
    Registration {
        id: Uuid,
        event: Box<RegistrationEvent>,
    },
    /// Anything else, as the read models see it.
    Done(Decoded),
}

fn parsed<E>(r: Result<E, codec::DecodeError>, then: impl FnOnce(E) -> Decoded) -> Parsed {
    Parsed::Done(match r {
        Ok(event) => then(event),
        Err(err) => Decoded::Broken(err.to_string()),
    })
}

/// Read an event's payload.
pub(crate) fn parse(e: &LogEvent) -> Parsed {
    let (t, v, p) = (e.event_type.as_str(), e.schema_version, e.payload.as_str());
    match domain::streams::parse(&e.stream_id) {
        Stream::Registration(id) => {
            match codec::decode_text::<RegistrationEvent>(t, v, p, EVENT_SCHEMA_VERSION) {
                Ok(event) => Parsed::Registration {
                    id,
                    event: Box::new(event),
                },
                Err(err) => Parsed::Done(Decoded::Broken(err.to_string())),
            }
        }
        Stream::Person => parsed(codec::decode_text::<PrivacyEvent>(t, v, p, 1), |event| {
            let PrivacyEvent::PersonalDataErased { person, .. } = event;
            Decoded::Erasure(person)
        }),
        Stream::Report(id) => parsed(codec::decode_text::<ReportEvent>(t, v, p, 1), |event| {
            Decoded::Report { id, event }
        }),
        Stream::Malformed => Parsed::Done(Decoded::Broken(format!(
            "stream {} has no id after its prefix",
            e.stream_id
        ))),
        _ if e.stream_id.starts_with(domain::streams::REFERENCE) => parsed(
            codec::decode_text::<ReferenceEvent>(t, v, p, 1),
            Decoded::Reference,
        ),
        _ => Parsed::Done(Decoded::Ignored),
    }
}

impl<'a> Decoder<'a> {
    pub(crate) fn new(store: &'a EventStore, cache: &'a mut StateCache) -> Self {
        cache.tick();
        Decoder { store, cache }
    }

    /// Fold, with one read of the log, every registration whose state
    /// before its first event in `events` the cache does not have.
    pub(crate) async fn prefetch(&mut self, events: &[LogEvent]) -> Result<(), StoreError> {
        let mut wanted: HashMap<Uuid, (String, i64, i64)> = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        for e in events {
            let Stream::Registration(id) = domain::streams::parse(&e.stream_id) else {
                continue;
            };
            // Only a stream's first event in the batch: the later ones
            // follow from it.
            if seen.insert(id) && e.stream_version > 1 && !self.cache.has(&id, e.stream_version - 1)
            {
                wanted.insert(
                    id,
                    (e.stream_id.clone(), e.position - 1, e.stream_version - 1),
                );
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let streams: Vec<(String, i64)> = wanted
            .values()
            .map(|(stream, upto, _)| (stream.clone(), *upto))
            .collect();
        let mut states: HashMap<String, Option<Registration>> = HashMap::new();
        for e in self.store.read_log_of_streams(&streams).await? {
            let state = states.entry(e.stream_id.clone()).or_default();
            match codec::decode_text::<RegistrationEvent>(
                &e.event_type,
                e.schema_version,
                &e.payload,
                EVENT_SCHEMA_VERSION,
            ) {
                Ok(ev) => *state = Registration::apply(state.take(), &ev),
                // Left out: decoding the batch meets the same problem.
                Err(_) => {
                    states.insert(e.stream_id.clone(), None);
                }
            }
        }
        for (id, (stream, _, version)) in wanted {
            if let Some(Some(state)) = states.remove(&stream) {
                if state.version == version && state.id == id {
                    self.cache.put(Arc::new(state));
                }
            }
        }
        Ok(())
    }

    /// Decode one event (read and folded).
    pub(crate) async fn decode(&mut self, e: &LogEvent) -> Result<Decoded, StoreError> {
        self.fold(e, parse(e)).await
    }

    /// Fold an event already read by [`parse`].
    pub(crate) async fn fold(
        &mut self,
        e: &LogEvent,
        parsed: Parsed,
    ) -> Result<Decoded, StoreError> {
        match parsed {
            Parsed::Registration { id, event } => self.registration(id, &event, e).await,
            Parsed::Done(decoded) => Ok(decoded),
        }
    }

    async fn registration(
        &mut self,
        id: Uuid,
        event: &RegistrationEvent,
        e: &LogEvent,
    ) -> Result<Decoded, StoreError> {
        let before = match self.cache.take(&id, e.stream_version - 1) {
            Some(s) => Some(s),
            None => self.fold_up_to(&e.stream_id, e.stream_version - 1).await?,
        };
        if before.is_none() && e.stream_version > 1 {
            return Ok(Decoded::Broken(format!(
                "{} has no state before version {}",
                e.stream_id, e.stream_version
            )));
        }
        match Registration::apply(before, event) {
            Some(state) => {
                let state = Arc::new(state);
                self.cache.put(state.clone());
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
