//! Read models (projections) built from the event log, and the projector.
//!
//! Every read model is a set of tables in the `read_models` schema with a row
//! in `read_models.checkpoints`. The projector applies the log in position
//! order, in batches, writing each model's rows and its checkpoint in one
//! transaction; exactly one projector per database is active (a session
//! advisory lock), and a checkpoint only moves by compare-and-set, so even
//! two projectors at once could not apply an event twice.
//!
//! Personal values are stored only as vault ciphertext, and replaced by an
//! explicit erased marker once the person's erasure event is projected.

mod apply;
mod batch;
pub mod columns;
mod copy;
mod decode;
pub mod insight;
pub mod models;
mod projector;
pub mod public;
pub mod rebuild;
mod rows;
pub mod staff;
mod status;
mod tables;

pub use batch::{run_batch, run_batch_cached, BatchOutcome, ProjectionError};
pub use decode::StateCache;
pub use models::ReadModel;
pub use projector::{Projector, ProjectorConfig, ProjectorHandle};
pub use status::{projection_status, ProjectionStatus};

/// The schema of the live read models.
pub const LIVE_SCHEMA: &str = "read_models";
/// The schema a rebuild fills before it is swapped in.
pub const NEXT_SCHEMA: &str = "read_models_next";

/// The public URL path slug of a level-3 officer's verification page:
/// stable for the person, and revealing nothing about them.
pub fn officer_slug(person: uuid::Uuid) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("officer-page:{person}").as_bytes());
    format!("officer-{}", hex::encode(&digest[..6]))
}
