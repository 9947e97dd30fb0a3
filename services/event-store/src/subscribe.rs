//! Catch-up subscriptions: replay from a position, then continue live.
//!
//! One [`LogNotifier`] per process listens on the notify channel and keeps
//! the highest announced position in a `watch`; every subscription reads the
//! log itself, by position, and only uses the watch to know when to look
//! again. Because positions are gap-free and in commit order, "everything
//! after the last position I delivered" never skips or repeats an event, and
//! a lost notification only delays delivery until the next poll.

use std::time::Duration;

use futures::Stream;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::db::NOTIFY_CHANNEL;
use crate::error::StoreError;
use crate::model::RecordedEvent;
use crate::store::EventStore;

const PAGE: i64 = 500;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The process-wide listener for new positions.
#[derive(Debug)]
pub struct LogNotifier {
    wake: Wake,
    task: JoinHandle<()>,
}

/// A cheap handle that subscriptions wait on.
#[derive(Debug, Clone)]
pub struct Wake {
    rx: watch::Receiver<i64>,
    poll: Duration,
}

impl LogNotifier {
    /// Start listening. `poll` bounds how long a subscriber waits when a
    /// notification is lost (e.g. while the listener reconnects).
    pub async fn start(pool: PgPool, poll: Duration) -> Result<Self, StoreError> {
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(NOTIFY_CHANNEL).await?;
        let (tx, rx) = watch::channel(0i64);
        let task = tokio::spawn(listen(listener, tx));
        Ok(LogNotifier {
            wake: Wake { rx, poll },
            task,
        })
    }

    /// A handle for one subscriber.
    pub fn wake(&self) -> Wake {
        self.wake.clone()
    }

    /// The highest position announced so far.
    pub fn last_announced(&self) -> i64 {
        *self.wake.rx.borrow()
    }
}

impl Drop for LogNotifier {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn listen(mut listener: PgListener, tx: watch::Sender<i64>) {
    let mut backoff = Duration::from_millis(50);
    loop {
        match listener.try_recv().await {
            Ok(Some(note)) => {
                backoff = Duration::from_millis(50);
                match note.payload().parse::<i64>() {
                    Ok(position) => {
                        tx.send_if_modified(|seen| {
                            let newer = position > *seen;
                            if newer {
                                *seen = position;
                            }
                            newer
                        });
                    }
                    Err(_) => tracing::warn!(
                        payload = note.payload(),
                        "ignoring malformed log notification"
                    ),
                }
            }
            // The connection was lost; the next `try_recv` reconnects and
            // listens again. Wake every subscriber to re-read, since
            // notifications sent meanwhile are gone.
            Ok(None) => {
                tracing::warn!("log listener lost its connection; reconnecting");
                tx.send_modify(|_| {});
            }
            Err(error) => {
                tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "log listener cannot reconnect yet");
                tx.send_modify(|_| {});
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

impl Wake {
    /// Mark what has been seen, so a later `wait` returns on anything newer.
    pub fn mark_seen(&mut self) {
        self.rx.borrow_and_update();
    }

    /// Wait for a notification newer than the last mark, or the poll interval.
    pub async fn wait(&mut self) {
        self.wait_at_most(self.poll).await;
    }

    /// Wait for a notification newer than the last mark, or `limit`.
    pub async fn wait_at_most(&mut self, limit: Duration) {
        let _ = tokio::time::timeout(limit, self.rx.changed()).await;
    }
}

impl EventStore {
    /// Every event with a position greater than `after`, in order: first the
    /// history, then live as events are appended. Transient database errors
    /// are retried with backoff; the stream ends only on a permanent error
    /// (which it yields) or when dropped.
    pub fn subscribe(
        &self,
        after: i64,
        mut wake: Wake,
    ) -> impl Stream<Item = Result<RecordedEvent, StoreError>> + Send + 'static {
        let store = self.clone();
        async_stream::stream! {
            let mut last = after;
            let mut backoff = Duration::from_millis(50);
            loop {
                wake.mark_seen();
                match store.read_all(last, PAGE).await {
                    Ok(page) => {
                        backoff = Duration::from_millis(50);
                        let full = page.len() as i64 == PAGE;
                        for event in page {
                            last = event.position;
                            yield Ok(event);
                        }
                        if !full {
                            wake.wait().await;
                        }
                    }
                    Err(error) if error.is_transient() => {
                        tracing::warn!(%error, after = last, "subscription read failed; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                    Err(error) => {
                        yield Err(error);
                        return;
                    }
                }
            }
        }
    }
}
