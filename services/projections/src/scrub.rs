//! Finding and erasing sealed personal values inside JSON.
//!
//! A sealed value is an object `{"person": <uuid>, "sealed": <base64>}`; an
//! erased one becomes `{"person": <uuid>, "erased": true}`.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use uuid::Uuid;

/// Replace every sealed value of a person in `erased` with the erased marker.
pub fn scrub(value: &mut Value, erased: &BTreeSet<Uuid>) {
    if erased.is_empty() {
        return;
    }
    match value {
        Value::Object(map) => {
            if let (Some(person), true) = (sealed_person(map), map.contains_key("sealed")) {
                if erased.contains(&person) {
                    *value = json!({ "person": person, "erased": true });
                    return;
                }
            }
            for v in map.values_mut() {
                scrub(v, erased);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| scrub(v, erased)),
        _ => {}
    }
}

fn sealed_person(map: &serde_json::Map<String, Value>) -> Option<Uuid> {
    map.get("person")?.as_str()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_erased_persons_values_are_replaced_at_any_depth() {
        let a = Uuid::new_v4();
        let b = Uuid::new_v4();
        let mut v = json!({"x": [{"person": a, "sealed": "AAA"}], "y": {"z": {"person": b, "sealed": "BBB"}}, "person": "not-a-uuid"});
        scrub(&mut v, &BTreeSet::from([a]));
        assert_eq!(v["x"][0], json!({"person": a, "erased": true}));
        assert_eq!(v["y"]["z"]["sealed"], "BBB");
    }
}
