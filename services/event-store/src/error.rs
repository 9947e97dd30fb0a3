use thiserror::Error;

/// Everything an event store operation can fail with.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The stream was not at the version the caller expected.
    #[error("stream {stream_id} is at version {actual}, not the expected {expected}")]
    Conflict {
        /// The stream that was appended to.
        stream_id: String,
        /// What the caller expected, as text ("no stream", "any", or a number).
        expected: String,
        /// The stream's version when the append was attempted.
        actual: i64,
    },
    /// The input broke a limit or a format rule; nothing was written.
    #[error("invalid {field}: {problem}")]
    Invalid {
        /// The offending field, e.g. `stream_id` or `events[3].payload`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The idempotency key was first used for another stream.
    #[error("idempotency key {key} was already used for stream {stream_id}")]
    IdempotencyKeyReused {
        /// The key that was reused.
        key: String,
        /// The stream it was first used for.
        stream_id: String,
    },
    /// A vault operation failed (bad master key, corrupt ciphertext, erased person).
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
    /// A stored row could not be decoded.
    #[error("stored event at position {position} is malformed: {problem}")]
    Corrupt {
        /// Where it was found.
        position: i64,
        /// What is wrong.
        problem: String,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The database failed while this append was committed in a group with
    /// others (each append of the group gets this); nothing was written.
    #[error("database error: {message}")]
    GroupFailed {
        /// The failure, as the database reported it.
        message: String,
        /// Whether retrying later may succeed.
        transient: bool,
    },
    /// The store's writer is not running (the runtime is shutting down).
    #[error("the event store's writer has stopped")]
    WriterStopped,
}

impl StoreError {
    pub(crate) fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        StoreError::Invalid {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// True when retrying later may succeed (connection lost, pool exhausted,
    /// server shutting down); false for errors that will repeat.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Database(e) => match e {
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
                sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed => true,
                // A pooled connection left mid-transaction by a cancelled user.
                sqlx::Error::BeginFailed => true,
                sqlx::Error::Database(db) => db
                    .code()
                    .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
                _ => false,
            },
            StoreError::GroupFailed { transient, .. } => *transient,
            StoreError::WriterStopped => true,
            _ => false,
        }
    }
}
