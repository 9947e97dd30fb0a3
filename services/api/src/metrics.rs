//! Prometheus metrics, served at `/metrics` in the text exposition format.
//!
//! A small registry of counters, gauges and histograms keyed by name and
//! labels; no exporter crate. Values that are cheaper to read than to track
//! (projection lag, pool use, age of the last signed head) are read when
//! scraped.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

/// Bucket upper bounds (seconds) of every latency histogram.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

type Key = (&'static str, Vec<(&'static str, String)>);

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Registry {
    counters: BTreeMap<Key, f64>,
    gauges: BTreeMap<Key, f64>,
    histograms: BTreeMap<Key, Histogram>,
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(Default::default);

/// What each metric is.
const HELP: &[(&str, &str, &str)] = &[
    (
        "http_requests_total",
        "counter",
        "HTTP requests by route, method and status.",
    ),
    (
        "http_request_duration_seconds",
        "histogram",
        "HTTP request latency by route.",
    ),
    (
        "graphql_operations_total",
        "counter",
        "GraphQL operations by operation name, type and outcome (ok or error).",
    ),
    (
        "events_appended_total",
        "counter",
        "Events appended to the log by this instance, by event type.",
    ),
    (
        "event_append_duration_seconds",
        "histogram",
        "Latency of one append (one transaction) by this instance.",
    ),
    (
        "projection_position",
        "gauge",
        "Log position each read model has applied.",
    ),
    (
        "projection_lag_events",
        "gauge",
        "Events the log holds beyond each read model's position.",
    ),
    (
        "projection_batch_duration_seconds",
        "histogram",
        "Time to apply one projection batch (this instance, when it leads).",
    ),
    (
        "projector_leader",
        "gauge",
        "1 when this instance runs the projector.",
    ),
    (
        "graphql_subscriptions_active",
        "gauge",
        "Open GraphQL subscriptions on this instance, by subscription.",
    ),
    (
        "websocket_connections",
        "gauge",
        "Open WebSocket connections on this instance.",
    ),
    (
        "websocket_subscriptions",
        "gauge",
        "Subscriptions counted against REGISTRY_WS_MAX_SUBSCRIPTIONS on this instance.",
    ),
    (
        "vault_operations_total",
        "counter",
        "Personal-data vault operations by kind (seal, open, erase).",
    ),
    (
        "db_pool_connections",
        "gauge",
        "Runtime database pool connections by state (idle, in_use).",
    ),
    (
        "db_pool_max_connections",
        "gauge",
        "Largest size of the runtime pool.",
    ),
    (
        "signed_head_age_seconds",
        "gauge",
        "Seconds since the newest signed log head (absent when none was signed).",
    ),
    (
        "log_head_position",
        "gauge",
        "Newest position of the event log.",
    ),
];

fn labels(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

/// Add `by` to a counter.
pub fn count(name: &'static str, pairs: &[(&'static str, &str)], by: f64) {
    let mut r = REGISTRY.lock().expect("metrics");
    *r.counters.entry((name, labels(pairs))).or_default() += by;
}

/// Set a gauge.
pub fn gauge(name: &'static str, pairs: &[(&'static str, &str)], value: f64) {
    let mut r = REGISTRY.lock().expect("metrics");
    r.gauges.insert((name, labels(pairs)), value);
}

/// Add `by` to a gauge (negative to decrease).
pub fn gauge_add(name: &'static str, pairs: &[(&'static str, &str)], by: f64) {
    let mut r = REGISTRY.lock().expect("metrics");
    *r.gauges.entry((name, labels(pairs))).or_default() += by;
}

/// Record one observation of a duration.
pub fn observe(name: &'static str, pairs: &[(&'static str, &str)], took: Duration) {
    let seconds = took.as_secs_f64();
    let mut r = REGISTRY.lock().expect("metrics");
    let h = r.histograms.entry((name, labels(pairs))).or_default();
    for (i, bound) in BUCKETS.iter().enumerate() {
        if seconds <= *bound {
            h.counts[i] += 1;
        }
    }
    h.sum += seconds;
    h.count += 1;
}

/// Most distinct operation names kept as labels; clients choose the names,
/// so beyond this they count as `other` (the registry cannot grow without
/// bound).
const MAX_OPERATION_NAMES: usize = 200;

static OPERATION_NAMES: LazyLock<Mutex<std::collections::BTreeSet<String>>> =
    LazyLock::new(Default::default);

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
    if seen.contains(name) || seen.len() < MAX_OPERATION_NAMES {
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
        gauge_add(
            "graphql_subscriptions_active",
            &[("subscription", name)],
            1.0,
        );
        ActiveSubscription(name)
    }
}

impl Drop for ActiveSubscription {
    fn drop(&mut self) {
        gauge_add(
            "graphql_subscriptions_active",
            &[("subscription", self.0)],
            -1.0,
        );
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn label_text(labels: &[(&'static str, String)], extra: Option<(&str, String)>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if let Some((k, v)) = extra {
        parts.push(format!("{k}=\"{v}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

/// The whole registry in the Prometheus text format.
pub fn render() -> String {
    let r = REGISTRY.lock().expect("metrics");
    let mut out = String::new();
    for (name, kind, help) in HELP {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        match *kind {
            "counter" | "gauge" => {
                let map = if *kind == "counter" {
                    &r.counters
                } else {
                    &r.gauges
                };
                for ((n, l), v) in map.iter().filter(|((n, _), _)| n == name) {
                    let _ = writeln!(out, "{n}{} {v}", label_text(l, None));
                }
            }
            _ => {
                for ((n, l), h) in r.histograms.iter().filter(|((n, _), _)| n == name) {
                    for (i, bound) in BUCKETS.iter().enumerate() {
                        let _ = writeln!(
                            out,
                            "{n}_bucket{} {}",
                            label_text(l, Some(("le", bound.to_string()))),
                            h.counts[i]
                        );
                    }
                    let _ = writeln!(
                        out,
                        "{n}_bucket{} {}",
                        label_text(l, Some(("le", "+Inf".into()))),
                        h.count
                    );
                    let _ = writeln!(out, "{n}_sum{} {}", label_text(l, None), h.sum);
                    let _ = writeln!(out, "{n}_count{} {}", label_text(l, None), h.count);
                }
            }
        }
    }
    out
}

/// Read the values that are measured when scraped.
pub async fn refresh(state: &crate::state::AppState) {
    let pool = &state.pool;
    let size = f64::from(pool.size());
    let idle = pool.num_idle() as f64;
    gauge("db_pool_connections", &[("state", "idle")], idle);
    gauge(
        "db_pool_connections",
        &[("state", "in_use")],
        (size - idle).max(0.0),
    );
    gauge(
        "db_pool_max_connections",
        &[],
        f64::from(pool.options().get_max_connections()),
    );
    if let Ok(list) = projections::projection_status(pool).await {
        for p in list {
            gauge(
                "projection_position",
                &[("projection", &p.name)],
                p.position as f64,
            );
            gauge(
                "projection_lag_events",
                &[("projection", &p.name)],
                p.lag as f64,
            );
        }
    }
    if let Ok(head) = state.store.head().await {
        gauge("log_head_position", &[], head.position as f64);
    }
    let newest: Result<Option<chrono::DateTime<chrono::Utc>>, _> =
        sqlx::query_scalar("select max(signed_at) from signed_heads")
            .fetch_one(pool)
            .await;
    if let Ok(Some(at)) = newest {
        let age = (chrono::Utc::now() - at).num_milliseconds() as f64 / 1000.0;
        gauge("signed_head_age_seconds", &[], age.max(0.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_chosen_by_clients_cannot_grow_the_registry_without_bound() {
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

    #[test]
    fn counters_and_histograms_render_in_the_prometheus_text_format() {
        count("events_appended_total", &[("type", "TestHappened")], 2.0);
        observe(
            "event_append_duration_seconds",
            &[],
            Duration::from_millis(3),
        );
        let text = render();
        assert!(text.contains("# TYPE events_appended_total counter"));
        assert!(text.contains("events_appended_total{type=\"TestHappened\"} 2"));
        assert!(text.contains("event_append_duration_seconds_bucket{le=\"0.0025\"} 0"));
        assert!(text.contains("event_append_duration_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("event_append_duration_seconds_bucket{le=\"+Inf\"} 1"));
    }
}
