//! The social media business usage framework as a pure domain model.
//!
//! No I/O lives here: commands are decided against folded state and produce
//! events; the API crate wires this to the event store and the vault.

pub mod access;
pub mod actor;
pub mod aggregate;
mod checks;
pub mod claims;
pub mod codec;
pub mod directory;
pub mod error;
pub mod form;
pub mod import;
pub mod level;
pub mod notify;
pub mod personal;
pub mod platform;
pub mod privacy;
pub mod reference;
pub mod registration;
pub mod report;
pub mod streams;
pub mod webhook;

pub use actor::{Actor, Role};
pub use aggregate::Aggregate;
pub use error::{DomainError, ErrorKind};
pub use level::Level;
