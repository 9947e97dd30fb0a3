//! Who asks, and how to trace it: built once per request by the transport
//! (HTTP, WebSocket, page) and carried to the command pipeline.

use domain::Actor;

/// A signed-in caller, as a verified token describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Subject and roles.
    pub actor: Actor,
    /// The `name` claim, when the token has one.
    pub name: Option<String>,
    /// When the token expires (`exp`): a WebSocket signed in with it is
    /// closed then.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The correlation id of the request being served (from `x-correlation-id`).
#[derive(Debug, Clone)]
pub struct CorrelationId(pub String);

/// The trace id of the request being served (W3C, hex), for event metadata.
#[derive(Debug, Clone)]
pub struct TraceId(pub String);

pub use crate::commands::RequestMeta;
