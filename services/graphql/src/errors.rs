//! The one place where internal errors become client errors.
//!
//! Resolvers return [`Result`], whose error is [`ApiError`]: every error of
//! the layers below converts into it with `?` (`From`), and it becomes a
//! GraphQL error with `extensions.code`. Internal failures are logged once
//! here (inside the request's span, which carries its correlation id) and
//! reach the client only as `INTERNAL` with the correlation id, added by
//! [`ensure_codes`], never with a database message.

use async_graphql::{ErrorExtensions, ServerError};
use domain::{DomainError, ErrorKind};
use event_store::vault::VaultError;
use event_store::StoreError;

use app::commands::HandleError;

/// A resolver's result.
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// Every way a resolver can fail. It has no `Display` on purpose: the only
/// way out is [`async_graphql::Error`] through `From`, which gives it a code.
#[derive(Debug, Clone)]
pub struct ApiError(async_graphql::Error);

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        e.0
    }
}

impl From<async_graphql::Error> for ApiError {
    fn from(e: async_graphql::Error) -> Self {
        ApiError(e)
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        ApiError(from_domain(&e))
    }
}

impl From<HandleError> for ApiError {
    fn from(e: HandleError) -> Self {
        ApiError(from_handle(e))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError(from_store(e))
    }
}

/// Errors that are never the client's: logged, and shown as `INTERNAL`.
macro_rules! internal_from {
    ($($t:ty),*) => {$(
        impl From<$t> for ApiError {
            fn from(e: $t) -> Self {
                ApiError(internal(&e))
            }
        }
    )*};
}

internal_from!(
    VaultError,
    std::sync::Arc<VaultError>,
    serde_json::Error,
    sqlx::Error,
    domain::codec::DecodeError,
    projections::columns::UnknownValue,
    projections::public::PublicError,
    projections::staff::ReadError
);

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
pub fn coded(code: Code, message: impl Into<String>) -> ApiError {
    ApiError(coded_error(code, message))
}

/// [`coded`] for code outside resolvers (HTTP refusals).
pub fn coded_error(code: Code, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code.as_str()))
}

/// `BAD_USER_INPUT` naming the field.
pub fn bad_input(field: &str, problem: impl std::fmt::Display) -> ApiError {
    ApiError(bad_input_error(field, problem))
}

fn bad_input_error(field: &str, problem: impl std::fmt::Display) -> async_graphql::Error {
    async_graphql::Error::new(format!("{field}: {problem}")).extend_with(|_, e| {
        e.set("code", Code::BadUserInput.as_str());
        e.set("field", field.to_owned());
    })
}

/// `UNAUTHENTICATED`: sign in first.
pub fn unauthenticated() -> ApiError {
    coded(
        Code::Unauthenticated,
        "sign in: this needs a bearer token (Authorization: Bearer …)",
    )
}

/// `FORBIDDEN` with what is needed.
pub fn forbidden(message: impl Into<String>) -> ApiError {
    coded(Code::Forbidden, message)
}

/// `NOT_FOUND`.
pub fn not_found(message: impl Into<String>) -> ApiError {
    coded(Code::NotFound, message)
}

/// A domain refusal: its kind decides the code, its rule is named.
fn from_domain(error: &DomainError) -> async_graphql::Error {
    let message = error.to_string();
    let rule = error.rule();
    match error {
        DomainError::Invalid { field, problem } => bad_input_error(field, problem),
        DomainError::JobRoleNotAccepted { .. } => {
            let e = bad_input_error("form.details.jobRole", &message);
            e.extend_with(|_, x| x.set("rule", rule))
        }
        DomainError::UnknownBrandingAsset(_) => {
            bad_input_error("assetId", &message).extend_with(|_, x| x.set("rule", rule))
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
fn from_handle(error: HandleError) -> async_graphql::Error {
    match error {
        HandleError::Domain(e) => from_domain(&e),
        HandleError::Conflict { actual } => conflict(actual),
        HandleError::Store(e) => from_store(e),
        // The form names someone whose personal data was erased: the vault
        // keeps nothing new for them. Said without naming them.
        HandleError::Vault(event_store::vault::VaultError::PersonErased(_)) => bad_input_error(
            "form",
            "names a person whose personal data was erased at their request; they cannot be named again",
        ),
        HandleError::Vault(e) => internal(&e),
        HandleError::Decode(e) => internal(&e),
        HandleError::ReadModel(e) => internal(&e),
        HandleError::UnknownPerson => {
            coded_error(Code::NotFound, HandleError::UnknownPerson.to_string())
        }
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

/// Turn a store error into a GraphQL error, logging what the client may not see.
fn from_store(error: StoreError) -> async_graphql::Error {
    match error {
        StoreError::Invalid { field, problem } => bad_input_error(&field, problem),
        StoreError::Conflict { actual, .. } => conflict(actual),
        StoreError::IdempotencyKeyReused { .. } => bad_input_error(
            "idempotencyKey",
            "was already used for another record; use a new key for each change",
        ),
        other => internal(&other),
    }
}

/// Log an internal error (the request's span carries its correlation id)
/// and return the opaque client error; [`ensure_codes`] adds the id.
fn internal(error: &dyn std::fmt::Display) -> async_graphql::Error {
    tracing::error!(%error, "internal error");
    async_graphql::Error::new("internal error")
        .extend_with(|_, e| e.set("code", Code::Internal.as_str()))
}

/// An internal failure as a resolver's error (logged; `INTERNAL`).
pub fn internal_error(error: &dyn std::fmt::Display) -> ApiError {
    ApiError(internal(error))
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
            let ext = error.extensions.as_mut().expect("has a code");
            let internal = matches!(ext.get("code"),
                Some(async_graphql::Value::String(c)) if c == Code::Internal.as_str());
            if internal && ext.get("correlationId").is_none() {
                error.message = format!("internal error; quote correlation id {correlation_id}");
                ext.set("correlationId", correlation_id.to_owned());
            }
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
