//! The registration of one account: its commands, events and state.
//!
//! `decide(state, command, context) -> events` holds every rule;
//! `Registration::apply` folds events into state and holds none.

mod change;
mod command;
mod decide;
mod event;
mod filter;
mod state;
mod waiting;

pub use change::required_steps;
pub use command::{Command, RiskAssessmentInput};
pub use decide::{decide, Context};
pub use event::{
    ImportSource, Proposer, RegistrationEvent, Risk, RiskAssessment, SignOff, Step,
    EVENT_SCHEMA_VERSION,
};
pub use filter::Filter;
pub use state::{
    fold, FormerKey, Grandfathered, LinkBack, PendingChange, PolicyAcknowledgement, Registration,
    RevalidationDue, Status,
};
pub use waiting::{Task, Waiting};

use uuid::Uuid;

/// The stream of one registration.
pub fn stream_id(id: Uuid) -> String {
    format!("registration-{id}")
}

/// The default review period for re-validation, in days.
pub const DEFAULT_REVIEW_PERIOD_DAYS: i64 = 365;
