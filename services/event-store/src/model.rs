use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// What the caller believes the stream's version is before an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// Append whatever the stream's version is.
    Any,
    /// The stream must not exist yet (version 0).
    NoStream,
    /// The stream must be exactly at this version (0 means empty).
    Exactly(i64),
}

impl ExpectedVersion {
    pub(crate) fn admits(self, actual: i64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::Exactly(v) => v == actual,
        }
    }
}

impl std::fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exactly(v) => write!(f, "{v}"),
        }
    }
}

/// An event to append. Its id is chosen by the caller so retries are traceable.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Unique id of this event.
    pub event_id: Uuid,
    /// Past-tense PascalCase name, e.g. `RegistrationSubmitted`.
    pub event_type: String,
    /// Version of the payload's shape, starting at 1.
    pub schema_version: i32,
    /// The event's data (personal data only as vault ciphertext).
    pub payload: Value,
}

impl NewEvent {
    /// A new event with a fresh time-ordered id.
    pub fn new(event_type: impl Into<String>, schema_version: i32, payload: Value) -> Self {
        NewEvent {
            event_id: Uuid::now_v7(),
            event_type: event_type.into(),
            schema_version,
            payload,
        }
    }
}

/// An event as stored in the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// Global, gap-free position (1-based) in commit order.
    pub position: i64,
    /// The stream it belongs to.
    pub stream_id: String,
    /// Its version within the stream (1-based).
    pub stream_version: i64,
    /// Unique id.
    pub event_id: Uuid,
    /// Past-tense name.
    pub event_type: String,
    /// Version of the payload's shape.
    pub schema_version: i32,
    /// The data, as returned by PostgreSQL's JSONB.
    pub payload: Value,
    /// Who, when, correlation id: as returned by PostgreSQL's JSONB.
    pub metadata: Value,
    /// When it was appended, to the microsecond.
    pub recorded_at: DateTime<Utc>,
    /// Hash of the previous event (32 zero bytes for position 1).
    #[serde(with = "hex_bytes")]
    pub prev_hash: Vec<u8>,
    /// SHA-256 of `prev_hash` and this event's canonical bytes.
    #[serde(with = "hex_bytes")]
    pub hash: Vec<u8>,
}

/// An event as a read model folds it: what it needs, without hashes or
/// metadata, and the payload as PostgreSQL's JSON text (decoded straight
/// into the domain's event type, with no JSON tree in between).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// Global position.
    pub position: i64,
    /// The stream it belongs to.
    pub stream_id: String,
    /// Its version within the stream.
    pub stream_version: i64,
    /// Past-tense name.
    pub event_type: String,
    /// Version of the payload's shape.
    pub schema_version: i32,
    /// The data, as JSON text.
    pub payload: String,
    /// When it was appended.
    pub recorded_at: DateTime<Utc>,
}

/// The result of an append (or of a retry with a known idempotency key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendOutcome {
    /// The stream appended to.
    pub stream_id: String,
    /// Position of the first event appended.
    pub first_position: i64,
    /// Position of the last event appended.
    pub last_position: i64,
    /// The stream's version after the append.
    pub stream_version: i64,
    /// True when this was a retry and nothing new was appended.
    pub deduplicated: bool,
}

/// The newest event's position and hash; position 0 and the genesis hash for
/// an empty log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogHead {
    /// Highest position in the log.
    pub position: i64,
    /// Hash of the event at that position.
    pub hash: [u8; 32],
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}
