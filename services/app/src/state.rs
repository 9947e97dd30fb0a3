//! What every request handler shares.

use std::sync::Arc;

use event_store::heads::HeadSigner;
use event_store::vault::Vault;
use event_store::{EventStore, LogNotifier};
use sqlx::PgPool;

/// Shared application state; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The runtime pool.
    pub pool: PgPool,
    /// The event store over that pool.
    pub store: EventStore,
    /// The personal-data vault.
    pub vault: Vault,
    /// The process-wide log listener.
    pub notifier: Arc<LogNotifier>,
    /// The process's one log tail, which every live subscriber reads.
    pub live: Arc<crate::live::Live>,
    /// The public answers (verification, officers' pages) in memory.
    pub public: Arc<crate::public_index::PublicIndex>,
    /// Signs log heads.
    pub signer: HeadSigner,
    /// Handles commands (its clones share the reference data it keeps).
    pub handler: crate::commands::Handler,
}
