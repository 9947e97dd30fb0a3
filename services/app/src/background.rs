//! A background loop that can be asked to stop: the notifier and the
//! senders each run one.

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running loop: `stop` lets it finish the work in hand, then waits.
#[derive(Debug)]
pub struct Stoppable {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Stoppable {
    /// Run `work`, which receives the stop signal (it changes to `true`
    /// when asked to stop).
    pub fn spawn<F, Fut>(work: F) -> Self
    where
        F: FnOnce(watch::Receiver<bool>) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(work(stop_rx));
        Stoppable { stop, task }
    }

    /// Stop after the work in hand.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Follow the log: run `batch` whenever it moves (or every `idle_poll`),
/// at once again while batches find events, and with backoff while one
/// fails. `batch` returns how many events it read.
pub fn follow_log<F, Fut, E>(
    follower: &'static str,
    wake: event_store::Wake,
    idle_poll: std::time::Duration,
    mut batch: F,
) -> Stoppable
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<usize, E>> + Send,
    E: std::fmt::Display + Send,
{
    use std::time::Duration;
    Stoppable::spawn(move |mut stop_rx| async move {
        let mut wake = wake;
        let mut backoff = Duration::from_millis(100);
        while !*stop_rx.borrow() {
            wake.mark_seen();
            match batch().await {
                Ok(0) => {
                    backoff = Duration::from_millis(100);
                    tokio::select! {
                        _ = wake.wait_at_most(idle_poll) => {}
                        _ = stop_rx.changed() => {}
                    }
                }
                Ok(_) => backoff = Duration::from_millis(100),
                Err(error) => {
                    tracing::warn!(%error, follower, retry_in_ms = backoff.as_millis() as u64, "log follower: batch failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop_rx.changed() => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    })
}
