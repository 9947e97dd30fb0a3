//! The GraphQL layer's own metrics (recorded through the `metrics` facade;
//! the server installs the exporter).

use metrics::gauge;

/// Most distinct operation names kept as labels; clients choose the names,
/// so beyond this they count as `other` (the metrics cannot grow without
/// bound).
const MAX_OPERATION_NAMES: usize = 200;

static OPERATION_NAMES: std::sync::LazyLock<std::sync::Mutex<std::collections::BTreeSet<String>>> =
    std::sync::LazyLock::new(Default::default);

/// The label for an operation name: `anonymous`, the name when it is a
/// plain GraphQL name among the first few hundred seen, else `other`.
pub fn operation_label(name: Option<&str>) -> String {
    let Some(name) = name else {
        return "anonymous".into();
    };
    let plain = (1..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !plain {
        return "other".into();
    }
    let mut seen = OPERATION_NAMES.lock().expect("operation names");
    if seen.contains(name) {
        return name.to_owned();
    }
    if seen.len() < MAX_OPERATION_NAMES {
        seen.insert(name.to_owned());
        name.to_owned()
    } else {
        "other".into()
    }
}

/// Counts an open subscription until dropped.
pub struct ActiveSubscription(&'static str);

impl ActiveSubscription {
    /// Count one more open `name` subscription.
    pub fn open(name: &'static str) -> Self {
        gauge!("graphql_subscriptions_active", "subscription" => name).increment(1.0);
        ActiveSubscription(name)
    }
}

impl Drop for ActiveSubscription {
    fn drop(&mut self) {
        gauge!("graphql_subscriptions_active", "subscription" => self.0).decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_chosen_by_clients_cannot_grow_the_metrics_without_bound() {
        assert_eq!(operation_label(None), "anonymous");
        assert_eq!(operation_label(Some("Submit")), "Submit");
        assert_eq!(operation_label(Some("bad name{}")), "other");
        for i in 0..(MAX_OPERATION_NAMES + 50) {
            operation_label(Some(&format!("Op{i}")));
        }
        assert_eq!(operation_label(Some("OneMoreNewName")), "other");
        assert_eq!(
            operation_label(Some("Submit")),
            "Submit",
            "names already seen keep their label"
        );
    }
}
