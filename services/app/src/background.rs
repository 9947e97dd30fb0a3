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
