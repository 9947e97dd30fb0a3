use crate::error::StoreError;
use crate::model::NewEvent;

/// Size and format limits checked before anything is written.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest payload, in bytes of compact JSON.
    pub max_payload_bytes: usize,
    /// Largest metadata object, in bytes of compact JSON.
    pub max_metadata_bytes: usize,
    /// Most events in one append.
    pub max_events_per_append: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_payload_bytes: 64 * 1024,
            max_metadata_bytes: 8 * 1024,
            max_events_per_append: 1000,
        }
    }
}

/// Longest stream id.
pub const MAX_STREAM_ID_LEN: usize = 200;
/// Longest event type name.
pub const MAX_EVENT_TYPE_LEN: usize = 100;
/// Longest idempotency key.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 200;

/// A stream id is `category-rest`: a lower-case category, a hyphen, then
/// letters, digits, `-`, `_`, `.` or `:`.
pub(crate) fn stream_id(id: &str) -> Result<(), StoreError> {
    let field = "stream_id";
    if id.is_empty() || id.len() > MAX_STREAM_ID_LEN {
        return Err(StoreError::invalid(
            field,
            format!("must be 1 to {MAX_STREAM_ID_LEN} characters"),
        ));
    }
    let Some((category, rest)) = id.split_once('-') else {
        return Err(StoreError::invalid(
            field,
            "must be `category-id`, e.g. `registration-<uuid>`",
        ));
    };
    let category_ok = !category.is_empty()
        && category.starts_with(|c: char| c.is_ascii_lowercase())
        && category
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !category_ok {
        return Err(StoreError::invalid(
            field,
            "the category before the first `-` must be lower-case letters, digits or `_`, starting with a letter",
        ));
    }
    let rest_ok = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if !rest_ok {
        return Err(StoreError::invalid(
            field,
            "the id after the category must be non-empty ASCII letters, digits, `-`, `_`, `.` or `:`",
        ));
    }
    Ok(())
}

/// Event types are PascalCase ASCII, e.g. `RegistrationSubmitted`.
pub(crate) fn event_type(field: &str, name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_EVENT_TYPE_LEN
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(StoreError::invalid(
            field,
            format!(
                "must be PascalCase ASCII letters and digits, 1 to {MAX_EVENT_TYPE_LEN} characters"
            ),
        ))
    }
}

pub(crate) fn idempotency_key(key: &str) -> Result<(), StoreError> {
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN || key.chars().any(char::is_control) {
        return Err(StoreError::invalid(
            "idempotency_key",
            format!("must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} characters without control characters"),
        ));
    }
    Ok(())
}

impl Limits {
    pub(crate) fn check(
        &self,
        stream: &str,
        events: &[NewEvent],
        metadata: &serde_json::Value,
    ) -> Result<(), StoreError> {
        stream_id(stream)?;
        if events.is_empty() {
            return Err(StoreError::invalid(
                "events",
                "at least one event is required",
            ));
        }
        if events.len() > self.max_events_per_append {
            return Err(StoreError::invalid(
                "events",
                format!("at most {} events per append", self.max_events_per_append),
            ));
        }
        if !metadata.is_object() {
            return Err(StoreError::invalid("metadata", "must be a JSON object"));
        }
        let metadata_len = serde_json::to_vec(metadata)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if metadata_len > self.max_metadata_bytes {
            return Err(StoreError::invalid(
                "metadata",
                format!(
                    "is {metadata_len} bytes; the limit is {}",
                    self.max_metadata_bytes
                ),
            ));
        }
        for (i, e) in events.iter().enumerate() {
            event_type(&format!("events[{i}].event_type"), &e.event_type)?;
            if e.schema_version < 1 {
                return Err(StoreError::invalid(
                    format!("events[{i}].schema_version"),
                    "must be 1 or more",
                ));
            }
            let len = serde_json::to_vec(&e.payload)
                .map(|v| v.len())
                .unwrap_or(usize::MAX);
            if len > self.max_payload_bytes {
                return Err(StoreError::invalid(
                    format!("events[{i}].payload"),
                    format!("is {len} bytes; the limit is {}", self.max_payload_bytes),
                ));
            }
            if contains_nul(&e.payload) {
                return Err(StoreError::invalid(
                    format!("events[{i}].payload"),
                    "must not contain the NUL character (PostgreSQL's jsonb cannot store it)",
                ));
            }
        }
        if contains_nul(metadata) {
            return Err(StoreError::invalid(
                "metadata",
                "must not contain the NUL character",
            ));
        }
        Ok(())
    }
}

fn contains_nul(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(a) => a.iter().any(contains_nul),
        serde_json::Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || contains_nul(v)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_must_name_a_category_and_an_id() {
        assert!(stream_id("registration-0b7d9a4e-1c2f-4c1e-9a43-0e7f5b2d1a11").is_ok());
        assert!(stream_id("report-2026:17").is_ok());
        for bad in [
            "",
            "registration",
            "-abc",
            "Registration-1",
            "reg-",
            "reg-a b",
            "reg-é",
        ] {
            let err = stream_id(bad).unwrap_err();
            assert!(
                matches!(err, StoreError::Invalid { ref field, .. } if field == "stream_id"),
                "{bad}"
            );
        }
        assert!(stream_id(&format!("a-{}", "x".repeat(MAX_STREAM_ID_LEN))).is_err());
    }

    #[test]
    fn event_types_must_be_pascal_case() {
        assert!(event_type("t", "RegistrationSubmitted").is_ok());
        for bad in [
            "",
            "registrationSubmitted",
            "Registration_Submitted",
            "Registration Submitted",
        ] {
            assert!(event_type("t", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_oversized_payload_is_refused_with_the_event_named() {
        let limits = Limits {
            max_payload_bytes: 10,
            ..Limits::default()
        };
        let events = vec![
            NewEvent::new("Small", 1, serde_json::json!({})),
            NewEvent::new("Big", 1, serde_json::json!({"k": "0123456789"})),
        ];
        let err = limits
            .check("s-1", &events, &serde_json::json!({}))
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid { ref field, .. } if field == "events[1].payload"),
            "{err}"
        );
    }
}
