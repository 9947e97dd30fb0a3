//! Domain events to and from the event store's (type, schema version,
//! payload) triple, with the place where old payload versions are upcast.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// An event the domain cannot read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {event_type} v{schema_version}: {problem}")]
pub struct DecodeError {
    /// The stored type.
    pub event_type: String,
    /// The stored schema version.
    pub schema_version: i32,
    /// What is wrong.
    pub problem: String,
}

/// Split an adjacently tagged event (`{"type": …, "data": …}`) into its type
/// name and payload.
pub fn encode<E: Serialize>(event: &E) -> (String, Value) {
    let mut v = serde_json::to_value(event).expect("domain events always serialise");
    let event_type = v["type"]
        .as_str()
        .expect("events are tagged with `type`")
        .to_owned();
    let payload = v.get_mut("data").map(Value::take).unwrap_or(Value::Null);
    (event_type, payload)
}

/// Rebuild an event from what the log holds, upcasting older versions.
pub fn decode<E: DeserializeOwned>(
    event_type: &str,
    schema_version: i32,
    payload: &Value,
    current: i32,
) -> Result<E, DecodeError> {
    let err = |problem: String| DecodeError {
        event_type: event_type.to_owned(),
        schema_version,
        problem,
    };
    if schema_version > current {
        return Err(err(format!(
            "written by a newer version (this service reads up to v{current})"
        )));
    }
    let payload = upcast(event_type, schema_version, payload.clone());
    serde_json::from_value(serde_json::json!({ "type": event_type, "data": payload }))
        .map_err(|e| err(e.to_string()))
}

/// [`decode`] from the payload's JSON text, as the log returns it: the
/// current version is read straight into the event, without an
/// intermediate JSON tree (the rebuild and the projector read every event).
pub fn decode_text<E: DeserializeOwned>(
    event_type: &str,
    schema_version: i32,
    payload: &str,
    current: i32,
) -> Result<E, DecodeError> {
    if schema_version != current || needs_upcast(event_type, schema_version) {
        let payload: Value = serde_json::from_str(payload).map_err(|e| DecodeError {
            event_type: event_type.to_owned(),
            schema_version,
            problem: e.to_string(),
        })?;
        return decode(event_type, schema_version, &payload, current);
    }
    let tag = serde_json::to_string(event_type).expect("a string serialises");
    let mut text = String::with_capacity(payload.len() + tag.len() + 20);
    text.push_str("{\"type\":");
    text.push_str(&tag);
    text.push_str(",\"data\":");
    text.push_str(payload);
    text.push('}');
    serde_json::from_str(&text).map_err(|e| DecodeError {
        event_type: event_type.to_owned(),
        schema_version,
        problem: e.to_string(),
    })
}

/// Whether [`upcast`] changes this type and version (none does today).
fn needs_upcast(_event_type: &str, _from_version: i32) -> bool {
    false
}

/// Turn an old payload shape into the current one. Every event type is at
/// version 1 today; a change of shape adds a step here and never rewrites a
/// stored event.
fn upcast(_event_type: &str, _from_version: i32, payload: Value) -> Value {
    payload
}
