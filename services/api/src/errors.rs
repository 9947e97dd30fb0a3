//! The one place where internal errors become client errors.
//!
//! Every GraphQL error carries `extensions.code`; internal failures are logged
//! once here with the request's correlation id and reach the client only as
//! `INTERNAL` with that id, never with a database message.

use async_graphql::ErrorExtensions;
use event_store::StoreError;

/// The client-facing error codes of DESIGN.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Input was malformed; `extensions.field` names the field.
    BadUserInput,
    /// The stream was not at the expected version.
    Conflict,
    /// Something failed inside; details are in the logs.
    Internal,
}

impl Code {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BadUserInput => "BAD_USER_INPUT",
            Code::Conflict => "CONFLICT",
            Code::Internal => "INTERNAL",
        }
    }
}

/// Turn a store error into a GraphQL error, logging what the client may not see.
pub fn from_store(error: StoreError, correlation_id: &str) -> async_graphql::Error {
    match error {
        StoreError::Invalid { field, problem } => {
            async_graphql::Error::new(format!("{field}: {problem}")).extend_with(|_, e| {
                e.set("code", Code::BadUserInput.as_str());
                e.set("field", field.clone());
            })
        }
        StoreError::Conflict { actual, .. } => {
            async_graphql::Error::new("the record changed since you read it; reload and try again")
                .extend_with(|_, e| {
                    e.set("code", Code::Conflict.as_str());
                    e.set("currentVersion", actual);
                })
        }
        other => internal(&other, correlation_id),
    }
}

/// Log an internal error and return the opaque client error.
pub fn internal(error: &dyn std::fmt::Display, correlation_id: &str) -> async_graphql::Error {
    tracing::error!(%error, correlation_id, "internal error");
    async_graphql::Error::new(format!(
        "internal error; quote correlation id {correlation_id}"
    ))
    .extend_with(|_, e| {
        e.set("code", Code::Internal.as_str());
        e.set("correlationId", correlation_id.to_owned());
    })
}
