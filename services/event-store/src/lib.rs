//! A generic, append-only, hash-chained event store on PostgreSQL.
//!
//! It knows nothing of registrations: streams, event types and payloads are
//! opaque to it. What it guarantees (see DESIGN.md, "Event store invariants"):
//!
//! - the `events` table is append-only (triggers and grants);
//! - global positions are gap-free and equal commit order, because every
//!   append holds one transaction-scoped advisory lock;
//! - optimistic concurrency per stream and idempotent retries by key;
//! - a SHA-256 hash chain over a canonical encoding ([`canonical`]);
//! - subscriptions that replay from a position and continue live;
//! - a vault that keeps personal data as ciphertext under per-person keys.

pub mod audit;
pub mod canonical;
pub mod chain;
pub mod db;
mod error;
pub mod heads;
mod model;
mod store;
mod subscribe;
#[cfg(feature = "testing")]
pub mod testing;
mod validate;
pub mod vault;
mod writer;

pub use error::StoreError;
pub use model::{AppendOutcome, ExpectedVersion, LogEvent, LogHead, NewEvent, RecordedEvent};
pub use store::{Appending, EventStore, StreamAppend};
pub use subscribe::{LogNotifier, Wake};
pub use validate::Limits;
