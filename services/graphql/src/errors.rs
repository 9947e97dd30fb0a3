//! The one place where internal errors become client errors.
//!
//! Every GraphQL error carries `extensions.code`; internal failures are logged
//! once here with the request's correlation id and reach the client only as
//! `INTERNAL` with that id, never with a database message.

use async_graphql::{ErrorExtensions, ServerError};
use domain::{DomainError, ErrorKind};
use event_store::vault::VaultError;
use event_store::StoreError;

use app::commands::HandleError;

/// The client-facing error codes of DESIGN.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Input was malformed; `extensions.field` names the field.
    BadUserInput,
    /// No valid bearer token where one is needed.
    Unauthenticated,
    /// Signed in, but not allowed.
    Forbidden,
    /// The thing asked for does not exist.
    NotFound,
    /// The record changed since the client read it, or clashes with another.
    Conflict,
    /// The rules do not allow this in the record's current state.
    InvalidTransition,
    /// Something failed inside; details are in the logs.
    Internal,
}

impl Code {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BadUserInput => "BAD_USER_INPUT",
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::Forbidden => "FORBIDDEN",
            Code::NotFound => "NOT_FOUND",
            Code::Conflict => "CONFLICT",
            Code::InvalidTransition => "INVALID_TRANSITION",
            Code::Internal => "INTERNAL",
        }
    }
}

/// An error with a code and no further detail.
pub fn coded(code: Code, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code.as_str()))
}

/// `BAD_USER_INPUT` naming the field.
pub fn bad_input(field: &str, problem: impl std::fmt::Display) -> async_graphql::Error {
    async_graphql::Error::new(format!("{field}: {problem}")).extend_with(|_, e| {
        e.set("code", Code::BadUserInput.as_str());
        e.set("field", field.to_owned());
    })
}

/// `UNAUTHENTICATED`: sign in first.
pub fn unauthenticated() -> async_graphql::Error {
    coded(
        Code::Unauthenticated,
        "sign in: this needs a bearer token (Authorization: Bearer …)",
    )
}

/// `FORBIDDEN` with what is needed.
pub fn forbidden(message: impl Into<String>) -> async_graphql::Error {
    coded(Code::Forbidden, message)
}

/// `NOT_FOUND`.
pub fn not_found(message: impl Into<String>) -> async_graphql::Error {
    coded(Code::NotFound, message)
}

/// A domain refusal: its kind decides the code, its rule is named.
pub fn from_domain(error: &DomainError) -> async_graphql::Error {
    let message = error.to_string();
    let rule = error.rule();
    match error {
        DomainError::Invalid { field, problem } => bad_input(field, problem),
        DomainError::JobRoleNotAccepted { .. } => {
            let e = bad_input("form.details.jobRole", &message);
            e.extend_with(|_, x| x.set("rule", rule))
        }
        DomainError::UnknownBrandingAsset(_) => {
            bad_input("assetId", &message).extend_with(|_, x| x.set("rule", rule))
        }
        _ => {
            let code = match error.kind() {
                ErrorKind::BadInput => Code::BadUserInput,
                ErrorKind::Forbidden => Code::Forbidden,
                ErrorKind::NotFound => Code::NotFound,
                ErrorKind::Conflict => Code::Conflict,
                ErrorKind::InvalidTransition => Code::InvalidTransition,
            };
            async_graphql::Error::new(message).extend_with(|_, e| {
                e.set("code", code.as_str());
                e.set("rule", rule);
            })
        }
    }
}

/// A command's failure.
pub fn from_handle(error: HandleError, correlation_id: &str) -> async_graphql::Error {
    match error {
        HandleError::Domain(e) => from_domain(&e),
        HandleError::Conflict { actual } => conflict(actual),
        HandleError::Store(e) => from_store(e, correlation_id),
        HandleError::Vault(e) => from_vault(&e, correlation_id),
        HandleError::Decode(e) => internal(&e, correlation_id),
        HandleError::UnknownPerson => coded(Code::NotFound, HandleError::UnknownPerson.to_string()),
    }
}

fn conflict(actual: i64) -> async_graphql::Error {
    async_graphql::Error::new(format!(
        "the registration changed since you read it (it is at version {actual}); reload and try again"
    ))
    .extend_with(|_, e| {
        e.set("code", Code::Conflict.as_str());
        e.set("currentVersion", actual);
    })
}

/// A vault failure: always internal.
pub fn from_vault(error: &VaultError, correlation_id: &str) -> async_graphql::Error {
    internal(error, correlation_id)
}

/// Turn a store error into a GraphQL error, logging what the client may not see.
pub fn from_store(error: StoreError, correlation_id: &str) -> async_graphql::Error {
    match error {
        StoreError::Invalid { field, problem } => bad_input(&field, problem),
        StoreError::Conflict { actual, .. } => conflict(actual),
        StoreError::IdempotencyKeyReused { .. } => bad_input(
            "idempotencyKey",
            "was already used for another record; use a new key for each change",
        ),
        other => internal(&other, correlation_id),
    }
}

/// A database error from a read model query.
pub fn from_sqlx(error: sqlx::Error, correlation_id: &str) -> async_graphql::Error {
    internal(&error, correlation_id)
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

/// Give every error of a response a code: request errors (parse, validation,
/// limits) become `BAD_USER_INPUT`; a resolver error without a code is
/// internal, and its message is replaced so nothing internal leaks.
pub fn ensure_codes(errors: &mut [ServerError], correlation_id: &str) {
    for error in errors {
        let has_code = error
            .extensions
            .as_ref()
            .is_some_and(|x| x.get("code").is_some());
        if has_code {
            continue;
        }
        let mut ext = error.extensions.take().unwrap_or_default();
        // Input coercion errors of the GraphQL library carry a path but are
        // the client's: a value of the wrong type for an argument.
        let input_error = ["Failed to parse", "Invalid value", "Expected input type"]
            .iter()
            .any(|prefix| error.message.starts_with(prefix));
        if error.path.is_empty() || input_error {
            ext.set("code", Code::BadUserInput.as_str());
        } else {
            tracing::error!(error = %error.message, correlation_id, "resolver error without a code");
            error.message = format!("internal error; quote correlation id {correlation_id}");
            ext.set("code", Code::Internal.as_str());
            ext.set("correlationId", correlation_id.to_owned());
        }
        error.extensions = Some(ext);
    }
}
