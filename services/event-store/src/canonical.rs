//! The canonical encoding of an event: the bytes the hash chain covers.
//!
//! This module is the one definition; the append path, `verify_chain` and
//! offline verification of exports all call it. Changing it changes every
//! hash, so it carries a version tag.
//!
//! ```text
//! canonical_bytes(e) =
//!     "social-registry/event/v1"                 (ASCII tag, no length)
//!     i64be(position)
//!     str(stream_id)
//!     i64be(stream_version)
//!     16 bytes: event_id (RFC 4122 byte order)
//!     str(event_type)
//!     i64be(schema_version)
//!     str(canonical_json(payload))
//!     str(canonical_json(metadata))
//!     i64be(recorded_at as microseconds since 1970-01-01T00:00:00Z)
//! str(s)  = u32be(byte length of s) || UTF-8 bytes of s
//!
//! hash_n = SHA-256(hash_{n-1} || canonical_bytes(event_n)),  hash_0 = 32 zero bytes
//! ```
//!
//! `canonical_json` writes objects with keys sorted by their UTF-8 bytes, no
//! whitespace, strings escaped as JSON requires (serde_json's escaping), and
//! numbers as serde_json prints them. The append path first passes payload
//! and metadata through PostgreSQL's `jsonb` and hashes what comes back, so a
//! row read later (after the JSONB round trip) re-encodes to the same bytes.
//! Timestamps are truncated to microseconds, PostgreSQL's precision.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::model::RecordedEvent;

/// The tag that starts every canonical encoding.
pub const TAG: &[u8] = b"social-registry/event/v1";

/// The previous hash of the first event.
pub const GENESIS_HASH: [u8; 32] = [0u8; 32];

/// The fields the hash covers, borrowed from whatever holds them.
#[derive(Debug, Clone, Copy)]
pub struct EventFields<'a> {
    /// Global position.
    pub position: i64,
    /// Stream id.
    pub stream_id: &'a str,
    /// Version within the stream.
    pub stream_version: i64,
    /// Event id.
    pub event_id: uuid::Uuid,
    /// Event type name.
    pub event_type: &'a str,
    /// Payload schema version.
    pub schema_version: i32,
    /// Payload as stored.
    pub payload: &'a Value,
    /// Metadata as stored.
    pub metadata: &'a Value,
    /// Microseconds since the Unix epoch.
    pub recorded_at_micros: i64,
}

impl<'a> From<&'a RecordedEvent> for EventFields<'a> {
    fn from(e: &'a RecordedEvent) -> Self {
        EventFields {
            position: e.position,
            stream_id: &e.stream_id,
            stream_version: e.stream_version,
            event_id: e.event_id,
            event_type: &e.event_type,
            schema_version: e.schema_version,
            payload: &e.payload,
            metadata: &e.metadata,
            recorded_at_micros: e.recorded_at.timestamp_micros(),
        }
    }
}

/// The canonical bytes of one event (see the module documentation).
pub fn canonical_bytes(e: EventFields<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(TAG);
    out.extend_from_slice(&e.position.to_be_bytes());
    put_str(&mut out, e.stream_id);
    out.extend_from_slice(&e.stream_version.to_be_bytes());
    out.extend_from_slice(e.event_id.as_bytes());
    put_str(&mut out, e.event_type);
    out.extend_from_slice(&i64::from(e.schema_version).to_be_bytes());
    put_str(&mut out, &canonical_json(e.payload));
    put_str(&mut out, &canonical_json(e.metadata));
    out.extend_from_slice(&e.recorded_at_micros.to_be_bytes());
    out
}

/// `SHA-256(prev_hash || canonical_bytes(e))`.
pub fn chain_hash(prev_hash: &[u8], e: EventFields<'_>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(canonical_bytes(e));
    hasher.finalize().into()
}

/// JSON with sorted object keys and no whitespace.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, value);
    out
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let len = u32::try_from(s.len()).expect("canonical field longer than 4 GiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn write_json(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Sorted here, whatever order the map keeps (serde_json's
            // preserve_order feature may be on somewhere in the build).
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_json(out, item);
            }
            out.push('}');
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).expect("a string always serialises"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields<'a>(payload: &'a Value, metadata: &'a Value) -> EventFields<'a> {
        EventFields {
            position: 7,
            stream_id: "registration-1",
            stream_version: 2,
            event_id: uuid::Uuid::nil(),
            event_type: "RegistrationSubmitted",
            schema_version: 1,
            payload,
            metadata,
            recorded_at_micros: 1_700_000_000_000_001,
        }
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth_and_drops_whitespace() {
        let v = json!({"b": 1, "a": {"z": [1, {"y": null, "x": true}], "c": "é\n"}});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":{"c":"é\n","z":[1,{"x":true,"y":null}]},"b":1}"#
        );
    }

    #[test]
    fn the_hash_changes_when_any_covered_field_changes() {
        let p = json!({"k": "v"});
        let m = json!({"actor": "a"});
        let base = chain_hash(&GENESIS_HASH, fields(&p, &m));
        let p2 = json!({"k": "w"});
        assert_ne!(base, chain_hash(&GENESIS_HASH, fields(&p2, &m)));
        let m2 = json!({"actor": "b"});
        assert_ne!(base, chain_hash(&GENESIS_HASH, fields(&p, &m2)));
        let mut f = fields(&p, &m);
        f.position = 8;
        assert_ne!(base, chain_hash(&GENESIS_HASH, f));
        let mut f = fields(&p, &m);
        f.recorded_at_micros += 1;
        assert_ne!(base, chain_hash(&GENESIS_HASH, f));
        let mut f = fields(&p, &m);
        f.stream_id = "registration-2";
        assert_ne!(base, chain_hash(&GENESIS_HASH, f));
        assert_ne!(base, chain_hash(&[1u8; 32], fields(&p, &m)));
    }

    #[test]
    fn length_prefixes_keep_adjacent_fields_from_running_together() {
        let p = json!({});
        let m = json!({});
        let mut a = fields(&p, &m);
        a.stream_id = "ab";
        a.event_type = "C";
        let mut b = fields(&p, &m);
        b.stream_id = "a";
        b.event_type = "bC";
        assert_ne!(canonical_bytes(a), canonical_bytes(b));
    }
}
