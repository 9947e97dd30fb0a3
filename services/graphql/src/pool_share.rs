//! A request's share of the database pool.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The request's share of the database pool: resolvers hold a permit while
/// they use a connection, so one request never holds more than its share.
#[derive(Clone)]
pub struct PoolShare(Arc<Semaphore>);

impl PoolShare {
    /// A share of `n` connections.
    pub fn new(n: usize) -> Self {
        PoolShare(Arc::new(Semaphore::new(n.max(1))))
    }

    /// Wait for a turn.
    pub async fn acquire(&self) -> OwnedSemaphorePermit {
        self.0
            .clone()
            .acquire_owned()
            .await
            .expect("the pool share is never closed")
    }
}
