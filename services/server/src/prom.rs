//! Prometheus metrics at `/metrics`, through the `metrics` facade: code
//! anywhere records with `metrics::counter!`/`gauge!`/`histogram!`, and this
//! module installs the recorder (`metrics-exporter-prometheus`), describes
//! every metric, and renders the text format. Values cheaper to read than to
//! track (projection lag, pool use, age of the last signed head) are read
//! when scraped.

use std::sync::OnceLock;

use metrics::{describe_counter, describe_gauge, describe_histogram, gauge, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Bucket upper bounds (seconds) of every latency histogram.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Install the recorder (once per process) and describe every metric.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
            .expect("bucket bounds are not empty")
            .install_recorder()
            .expect("one metrics recorder per process");
        describe();
        handle
    })
}

fn describe() {
    describe_counter!(
        "http_requests_total",
        "HTTP requests served, by route, method and status."
    );
    describe_histogram!(
        "http_request_duration_seconds",
        Unit::Seconds,
        "Time to serve an HTTP request, by route."
    );
    describe_counter!(
        "graphql_operations_total",
        "GraphQL operations, by operation name and outcome (ok or error)."
    );
    describe_counter!(
        "events_appended_total",
        "Events appended to the log, by type."
    );
    describe_histogram!(
        "event_append_duration_seconds",
        Unit::Seconds,
        "Time to append one command's events."
    );
    describe_gauge!(
        "projection_position",
        "Last log position each read model has applied."
    );
    describe_gauge!(
        "projection_lag_events",
        "Events each read model is behind the log head."
    );
    describe_histogram!(
        "projection_batch_duration_seconds",
        Unit::Seconds,
        "Time to apply one projection batch, per read model and `all`."
    );
    describe_histogram!(
        "projection_batch_phase_seconds",
        Unit::Seconds,
        "Time each phase of a projection batch took: read, decode, write, commit."
    );
    describe_gauge!(
        "projector_leader",
        "1 when this instance runs the projector."
    );
    describe_gauge!(
        "graphql_subscriptions_active",
        "Open GraphQL subscriptions on this instance, by subscription."
    );
    describe_gauge!(
        "websocket_connections",
        "Open WebSocket connections on this instance."
    );
    describe_gauge!(
        "websocket_subscriptions",
        "Subscriptions counted against REGISTRY_WS_MAX_SUBSCRIPTIONS on this instance."
    );
    describe_counter!(
        "vault_operations_total",
        "Vault operations, by operation (seal, open, load_keys, erase)."
    );
    describe_gauge!(
        "db_pool_connections",
        "Runtime pool connections, by state (idle, in_use)."
    );
    describe_gauge!("db_pool_max_connections", "Size limit of the runtime pool.");
    describe_gauge!(
        "signed_head_age_seconds",
        Unit::Seconds,
        "Age of the newest signed log head."
    );
    describe_gauge!("log_head_position", "Newest position of the event log.");
    describe_gauge!(
        "live_tail_position",
        "Last log position this instance's log tail published to live subscribers."
    );
    describe_gauge!(
        "notifications_outbox_depth",
        "Email messages waiting to be sent (a daily digest's included)."
    );
    describe_gauge!(
        "notifications_outbox_oldest_seconds",
        Unit::Seconds,
        "Age of the oldest email message not yet sent."
    );
    describe_counter!(
        "notifications_send_failures_total",
        "Email sends that failed and will be retried."
    );
    describe_gauge!(
        "webhook_deliveries_pending",
        "Webhook deliveries not yet accepted by their endpoint."
    );
    describe_gauge!(
        "webhook_deliveries_oldest_pending_seconds",
        Unit::Seconds,
        "Age of the oldest webhook delivery not yet accepted."
    );
    describe_gauge!(
        "webhook_dead_letters",
        "Webhook deliveries that failed for their whole retry window."
    );
    describe_counter!(
        "webhook_deliveries_total",
        "Webhook delivery attempts by outcome (delivered, failed, dead_letter)."
    );
    describe_counter!(
        "live_subscriber_lagged_total",
        "Times a live subscriber fell behind the tail's buffer and read the log instead."
    );
}

/// Everything recorded, in the Prometheus text format.
pub fn render() -> String {
    install().render()
}

/// Read the values that are cheaper to read than to track.
pub async fn refresh(state: &app::state::AppState) {
    let pool = &state.pool;
    let size = f64::from(pool.size());
    let idle = pool.num_idle() as f64;
    gauge!("db_pool_connections", "state" => "idle").set(idle);
    gauge!("db_pool_connections", "state" => "in_use").set((size - idle).max(0.0));
    gauge!("db_pool_max_connections").set(f64::from(pool.options().get_max_connections()));
    if let Ok(list) = projections::projection_status(pool).await {
        for p in list {
            gauge!("projection_position", "projection" => p.name.clone()).set(p.position as f64);
            gauge!("projection_lag_events", "projection" => p.name.clone()).set(p.lag as f64);
        }
    }
    if let Ok(head) = state.store.head().await {
        gauge!("log_head_position").set(head.position as f64);
    }
    if let Ok(f) = app::notifier::outbox_figures(pool).await {
        gauge!("notifications_outbox_depth").set(f.mail_depth as f64);
        gauge!("notifications_outbox_oldest_seconds").set(f.mail_oldest_seconds);
        gauge!("webhook_deliveries_pending").set(f.webhook_depth as f64);
        gauge!("webhook_deliveries_oldest_pending_seconds").set(f.webhook_oldest_seconds);
        gauge!("webhook_dead_letters").set(f.webhook_dead as f64);
    }
    if let Ok(Some(at)) = state.store.newest_signed_at().await {
        let age = (chrono::Utc::now() - at).num_milliseconds() as f64 / 1000.0;
        gauge!("signed_head_age_seconds").set(age.max(0.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_render_in_the_prometheus_text_format() {
        install();
        metrics::counter!("events_appended_total", "type" => "TestHappened").increment(2);
        metrics::histogram!("event_append_duration_seconds").record(0.003);
        let text = render();
        assert!(
            text.contains("# TYPE events_appended_total counter"),
            "{text}"
        );
        assert!(
            text.contains("events_appended_total{type=\"TestHappened\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("event_append_duration_seconds_bucket{le=\"0.0025\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("event_append_duration_seconds_bucket{le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("event_append_duration_seconds_bucket{le=\"+Inf\"} 1"),
            "{text}"
        );
    }
}
