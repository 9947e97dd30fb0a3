//! One log tail per process, for every live subscriber.
//!
//! A single task reads the log after the highest position it has
//! published, woken by the process's `LISTEN` ([`event_store::Wake`]; a
//! slow fallback poll covers a listener that is reconnecting). It reads each
//! event once, folds the registration it belongs to once (in a state cache
//! every subscriber shares), and publishes it on a bounded broadcast.
//! Subscribers filter that broadcast in memory; while they are idle the
//! database does no work for them.
//!
//! A subscriber that starts in the past, or falls behind the broadcast's
//! ring, reads what it missed from the log by position (paged), then goes
//! back to the broadcast. Positions are gap-free and in commit order, so
//! "the next position after the last I delivered" makes the seam exact: no
//! gap, no duplicate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::registration::Registration;
use event_store::{EventStore, RecordedEvent, Wake};
use futures::Stream;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::commands::{fold, HandleError};

/// How many events a page of catch-up reads.
const PAGE: i64 = 500;
/// How many registration states the shared cache keeps before it starts over.
const MAX_STATES: usize = 50_000;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// One event of the log, with the registration as it left it (for events of
/// a registration's stream).
#[derive(Debug)]
pub struct LiveEvent {
    /// The event as recorded.
    pub event: RecordedEvent,
    /// The registration after this event, when it is one of a registration's.
    pub registration: Option<Arc<Registration>>,
}

/// The process's log tail.
pub struct Live {
    store: EventStore,
    tx: broadcast::Sender<Arc<LiveEvent>>,
    published: watch::Receiver<i64>,
    states: Arc<States>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("published", &*self.published.borrow())
            .field("subscribers", &self.tx.receiver_count())
            .finish()
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Live {
    /// Start tailing the log after its head (read by the task, retried
    /// until the database answers, so a service waiting for its migrations
    /// still starts). `capacity` bounds the broadcast ring (events kept for
    /// subscribers that are behind); `fallback_poll` is how often the tail
    /// looks without a notification.
    pub fn start(store: EventStore, wake: Wake, capacity: usize, fallback_poll: Duration) -> Live {
        let (tx, _) = broadcast::channel(capacity.max(1));
        let (published_tx, published) = watch::channel(0);
        let states = Arc::new(States::default());
        let task = tokio::spawn(tail(
            store.clone(),
            wake,
            fallback_poll,
            tx.clone(),
            published_tx,
            states.clone(),
        ));
        Live {
            store,
            tx,
            published,
            states,
            task,
        }
    }

    /// The highest position published so far.
    pub fn published(&self) -> i64 {
        *self.published.borrow()
    }

    /// How many subscribers listen now.
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }

    /// Every event after `after`, in order, with no gap and no duplicate:
    /// the history from the log, then live from the broadcast. A transient
    /// database error during catch-up is retried; the stream ends on a
    /// permanent error (which it yields) or when dropped.
    pub fn subscribe(
        &self,
        after: i64,
    ) -> impl Stream<Item = Result<Arc<LiveEvent>, HandleError>> + Send + 'static {
        // Subscribe before reading history, so nothing published meanwhile
        // is lost; what both deliver is skipped by position.
        let mut rx = self.tx.subscribe();
        let store = self.store.clone();
        let states = self.states.clone();
        async_stream::stream! {
            let mut last = after;
            let mut behind = true;
            loop {
                if behind {
                    // Catch up from the log until a page comes back short.
                    match catch_up(&store, &states, last).await {
                        Ok(page) => {
                            let full = page.len() as i64 == PAGE;
                            for event in page {
                                last = event.event.position;
                                yield Ok(event);
                            }
                            behind = full;
                            continue;
                        }
                        Err(e) => {
                            yield Err(e);
                            return;
                        }
                    }
                }
                match rx.recv().await {
                    Ok(event) => {
                        let position = event.event.position;
                        if position <= last {
                            continue;
                        }
                        if position > last + 1 {
                            // Published before this subscriber's catch-up
                            // reached it: read the gap from the log first.
                            behind = true;
                            continue;
                        }
                        last = position;
                        yield Ok(event);
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        metrics::counter!("live_subscriber_lagged_total").increment(1);
                        tracing::debug!(missed, after = last, "subscriber fell behind the broadcast; reading the log");
                        behind = true;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        }
    }
}

/// One page of the log after `after`, each event with its registration.
async fn catch_up(
    store: &EventStore,
    states: &States,
    after: i64,
) -> Result<Vec<Arc<LiveEvent>>, HandleError> {
    let mut backoff = Duration::from_millis(50);
    let page = loop {
        match store.read_all(after, PAGE).await {
            Ok(page) => break page,
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, after, "catch-up read failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(e) => return Err(e.into()),
        }
    };
    states.prefetch(store, &page).await?;
    let mut out = Vec::with_capacity(page.len());
    for event in page {
        let registration = states.after(store, &event).await?;
        out.push(Arc::new(LiveEvent {
            event,
            registration,
        }));
    }
    Ok(out)
}

async fn tail(
    store: EventStore,
    mut wake: Wake,
    fallback_poll: Duration,
    tx: broadcast::Sender<Arc<LiveEvent>>,
    published: watch::Sender<i64>,
    states: Arc<States>,
) {
    let mut backoff = Duration::from_millis(50);
    // Start at the head: subscribers read older events from the log. One
    // that caught up before the tail began sees the first published event
    // beyond its position + 1 and reads the gap from the log.
    let mut last = loop {
        match store.head().await {
            Ok(head) => break head.position,
            Err(error) => {
                tracing::debug!(%error, "log tail waits for the database");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    };
    published.send_replace(last);
    backoff = Duration::from_millis(50);
    loop {
        wake.mark_seen();
        match catch_up(&store, &states, last).await {
            Ok(page) => {
                backoff = Duration::from_millis(50);
                let full = page.len() as i64 == PAGE;
                for event in page {
                    last = event.event.position;
                    // No subscriber is not an error: the event is simply
                    // not kept.
                    let _ = tx.send(event);
                }
                published.send_replace(last);
                metrics::gauge!("live_tail_position").set(last as f64);
                if !full {
                    wake.wait_at_most(fallback_poll).await;
                }
            }
            Err(error) => {
                tracing::warn!(%error, after = last, retry_in_ms = backoff.as_millis() as u64, "log tail cannot read; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Registration states shared by every subscriber of the process.
#[derive(Default)]
struct States(Mutex<HashMap<Uuid, Arc<Registration>>>);

impl States {
    /// Fold, in one read, every registration of `page` whose state before
    /// its first event in the page is not kept (so a page costs at most
    /// one query, not one per registration).
    async fn prefetch(
        &self,
        store: &EventStore,
        page: &[RecordedEvent],
    ) -> Result<(), HandleError> {
        let mut wanted: Vec<(String, i64)> = Vec::new();
        {
            let map = self.0.lock().expect("states lock");
            let mut seen = std::collections::HashSet::new();
            for event in page {
                let Some(id) = domain::streams::registration_id(&event.stream_id) else {
                    continue;
                };
                if !seen.insert(id) || event.stream_version == 1 {
                    continue;
                }
                let kept = map
                    .get(&id)
                    .is_some_and(|s| s.version + 1 >= event.stream_version);
                if !kept {
                    wanted.push((event.stream_id.clone(), event.position - 1));
                }
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let mut by_stream: HashMap<String, Vec<RecordedEvent>> = HashMap::new();
        for e in store.read_streams_upto(&wanted).await? {
            by_stream.entry(e.stream_id.clone()).or_default().push(e);
        }
        let mut map = self.0.lock().expect("states lock");
        for (stream, events) in by_stream {
            let Some(id) = domain::streams::registration_id(&stream) else {
                continue;
            };
            if let Some(state) = crate::commands::fold_events(&events)? {
                if map.len() >= MAX_STATES {
                    map.clear();
                }
                if map.get(&id).is_none_or(|s| s.version < state.version) {
                    map.insert(id, Arc::new(state));
                }
            }
        }
        Ok(())
    }

    /// The registration as `event` left it (`None` for other streams).
    async fn after(
        &self,
        store: &EventStore,
        event: &RecordedEvent,
    ) -> Result<Option<Arc<Registration>>, HandleError> {
        let Some(id) = domain::streams::registration_id(&event.stream_id) else {
            return Ok(None);
        };
        let cached = self.0.lock().expect("states lock").get(&id).cloned();
        let next = match cached {
            Some(state) if state.version == event.stream_version => return Ok(Some(state)),
            Some(state) if state.version + 1 == event.stream_version => {
                fold(Some((*state).clone()), std::slice::from_ref(event))?
            }
            // A new registration: its first event is all there is.
            _ if event.stream_version == 1 => fold(None, std::slice::from_ref(event))?,
            _ => {
                let events = store
                    .read_stream(&event.stream_id, Some(event.stream_version))
                    .await?;
                fold(None, &events)?
            }
        };
        let Some(next) = next.map(Arc::new) else {
            return Ok(None);
        };
        let mut map = self.0.lock().expect("states lock");
        if map.len() >= MAX_STATES {
            map.clear();
        }
        // Keep the newest: a subscriber replaying history must not put an
        // old state back.
        let newer = map.get(&id).is_none_or(|s| s.version < next.version);
        if newer {
            map.insert(id, next.clone());
        }
        Ok(Some(next))
    }
}
