//! The public answers in memory: "is this account genuine?" and officers'
//! pages, served without a database query.
//!
//! The index is a [`PublicSnapshot`] of the verification and reference read
//! models, loaded at start. The process's log tail ([`crate::live`]) tells it
//! when an event that changes a public answer is in the log (anything on a
//! registration that was ever published, an erasure, reference data); it
//! then waits for the read models to apply that event and loads a fresh
//! snapshot. Other events move its position on without a reload, so a
//! caller waiting for a position (`atLeastPosition`) is answered as soon as
//! the index reflects it.
//!
//! Officers' names stay sealed in the snapshot and are opened through the
//! vault per request, so an erasure takes effect at once.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use event_store::vault::Vault;
use futures::StreamExt;
use projections::public::{ConfirmationPolicy, OfficerPage, PublicError, PublicSnapshot};
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::live::{Live, LiveEvent};

/// The in-memory public index of one process.
pub struct PublicIndex {
    current: RwLock<Arc<PublicSnapshot>>,
    position: watch::Receiver<i64>,
    task: Mutex<Option<JoinHandle<()>>>,
    policy: ConfirmationPolicy,
}

impl std::fmt::Debug for PublicIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicIndex")
            .field("position", &*self.position.borrow())
            .finish()
    }
}

impl Drop for PublicIndex {
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().expect("task lock").take() {
            task.abort();
        }
    }
}

impl PublicIndex {
    /// Load the index (retrying until the read models can be read) and keep
    /// it current from `live`.
    pub fn start(pool: PgPool, live: Arc<Live>, policy: ConfirmationPolicy) -> Arc<PublicIndex> {
        let (position_tx, position) = watch::channel(-1);
        let index = Arc::new(PublicIndex {
            current: RwLock::new(Arc::new(PublicSnapshot::default())),
            position,
            task: Mutex::new(None),
            policy,
        });
        let weak = Arc::downgrade(&index);
        let task = tokio::spawn(async move {
            let mut backoff = Duration::from_millis(50);
            let first = loop {
                match PublicSnapshot::load(&pool).await {
                    Ok(s) => break s,
                    Err(error) => {
                        tracing::debug!(%error, "public index waits for the read models");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
            };
            let mut at = first.position;
            match weak.upgrade() {
                Some(index) => index.replace(first),
                None => return,
            }
            position_tx.send_replace(at);
            let events = live.subscribe(at);
            futures::pin_mut!(events);
            let mut wanted: Option<i64> = None;
            // The last position taken from the tail: every event up to it
            // is reflected once the reload for `wanted` is done.
            let mut seen = at;
            // When the first event wanting a reload arrived: under a steady
            // stream of events the reload still happens within 50 ms.
            let mut since = tokio::time::Instant::now();
            loop {
                // Take what the tail has; once it is quiet (or 50 ms after
                // the first change), reload once for all of it.
                let next = match wanted {
                    Some(target) => {
                        let now = tokio::time::Instant::now();
                        let until =
                            (now + Duration::from_millis(5)).min(since + Duration::from_millis(50));
                        match tokio::time::timeout_at(until, events.next()).await {
                            Ok(next) => next,
                            Err(_) => {
                                wanted = None;
                                let snapshot = reload_when_projected(&pool, target).await;
                                at = snapshot.position.max(seen);
                                match weak.upgrade() {
                                    Some(index) => index.replace(snapshot),
                                    None => return,
                                }
                                position_tx.send_replace(at);
                                continue;
                            }
                        }
                    }
                    None => events.next().await,
                };
                match next {
                    Some(Ok(event)) => {
                        let position = event.event.position;
                        seen = seen.max(position);
                        if changes_public_answers(&event) {
                            if wanted.is_none() {
                                since = tokio::time::Instant::now();
                            }
                            wanted = Some(position);
                        } else if wanted.is_none() && position > at {
                            at = position;
                            position_tx.send_replace(at);
                        }
                    }
                    Some(Err(error)) => {
                        tracing::warn!(%error, "public index lost the log tail");
                        return;
                    }
                    None => return,
                }
            }
        });
        *index.task.lock().expect("task lock") = Some(task);
        index
    }

    fn replace(&self, snapshot: PublicSnapshot) {
        metrics::gauge!("public_index_accounts").set(snapshot.accounts() as f64);
        *self.current.write().expect("index lock") = Arc::new(snapshot);
    }

    /// When public answers say an account's confirmation is overdue.
    pub fn policy(&self) -> ConfirmationPolicy {
        self.policy
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<PublicSnapshot> {
        self.current.read().expect("index lock").clone()
    }

    /// The log position the index reflects (-1 before the first load).
    pub fn position(&self) -> i64 {
        *self.position.borrow()
    }

    /// The snapshot once it reflects `position`, waiting at most `within`;
    /// `Err` with the position it reached.
    pub async fn at_least(
        &self,
        position: i64,
        within: Duration,
    ) -> Result<Arc<PublicSnapshot>, i64> {
        let mut rx = self.position.clone();
        let reached = tokio::time::timeout(within, rx.wait_for(|p| *p >= position)).await;
        match reached {
            Ok(Ok(_)) => Ok(self.snapshot()),
            _ => Err(self.position()),
        }
    }

    /// An officer's page, the name opened through the vault now.
    pub async fn officer_page(
        &self,
        vault: &Vault,
        slug: &str,
    ) -> Result<Option<OfficerPage>, PublicError> {
        let snapshot = self.snapshot();
        let Some((entry, accounts)) = snapshot.officer(slug) else {
            return Ok(None);
        };
        let name = match &entry.name {
            Some(sealed) => vault
                .open(&event_store::vault::Sealed {
                    person: sealed.person,
                    sealed: sealed.sealed.clone(),
                })
                .await?
                .as_value()
                .map(str::to_owned),
            None => None,
        };
        Ok(Some(OfficerPage {
            slug: entry.slug.clone(),
            name,
            job_title: entry.job_title.clone(),
            service_area: entry.service_area.clone(),
            service_name: snapshot
                .service_name(&entry.service_area)
                .map(str::to_owned),
            published_since: entry.published_since,
            accounts: accounts.to_vec(),
        }))
    }
}

/// True when `event` may change a public answer: anything on a
/// registration that was ever published, an erasure, reference data.
fn changes_public_answers(event: &LiveEvent) -> bool {
    use domain::streams::{self, Stream};
    match &event.registration {
        Some(r) => r.published.is_some(),
        None => matches!(
            streams::parse(&event.event.stream_id),
            Stream::Person | Stream::Reference
        ),
    }
}

/// A snapshot taken once the public read models have applied `target`
/// (polled with backoff: the projector may run in another instance).
async fn reload_when_projected(pool: &PgPool, target: i64) -> PublicSnapshot {
    let mut wait = Duration::from_millis(10);
    loop {
        match PublicSnapshot::load(pool).await {
            Ok(s) if s.position >= target => return s,
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "public index cannot reload yet"),
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(1));
    }
}
