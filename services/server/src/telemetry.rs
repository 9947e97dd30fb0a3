//! Logs and traces.
//!
//! Logs: JSON lines by default, human-readable with `REGISTRY_LOG_FORMAT=pretty`;
//! the level comes from `RUST_LOG` (default `info`). Each line within a
//! request carries its span's fields: the correlation id and the trace id.
//!
//! Traces: `tracing` spans go to OpenTelemetry through tracing-opentelemetry.
//! When `OTEL_EXPORTER_OTLP_ENDPOINT` is set they are exported over OTLP
//! (HTTP/protobuf, `…/v1/traces`), in batches (`OTEL_BSP_SCHEDULE_DELAY`,
//! default 5000 ms); `OTEL_SERVICE_NAME` names the service. Without it, spans
//! still get trace ids (and honour a caller's `traceparent`) but are not
//! recorded (sampler off), which saves their cost.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter};

use crate::config::LogFormat;

/// The tracer provider, to flush at shutdown.
pub struct Telemetry(Option<SdkTracerProvider>);

impl Telemetry {
    /// Export what is still buffered (blocking; call once, at the end).
    pub fn shutdown(self) {
        if let Some(provider) = self.0 {
            if let Err(error) = provider.shutdown() {
                eprintln!("social-registry: flushing traces failed: {error}");
            }
        }
    }
}

/// The tracer provider, and whether its spans go anywhere.
fn provider() -> (SdkTracerProvider, bool) {
    let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "social-registry".into());
    let resource = Resource::builder().with_service_name(service).build();
    let builder = SdkTracerProvider::builder().with_resource(resource);
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .ok()
        .filter(|e| !e.trim().is_empty());
    let exporter = match endpoint {
        Some(_) => match opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()
        {
            Ok(exporter) => Some(exporter),
            Err(error) => {
                eprintln!("social-registry: OTLP export disabled: {error}");
                None
            }
        },
        None => None,
    };
    match exporter {
        Some(exporter) => (builder.with_batch_exporter(exporter).build(), true),
        // Nowhere to send spans: still give every request a trace id (and
        // keep a caller's), but record nothing. Recording spans only to
        // drop them cost about a tenth of the service's CPU under load.
        None => (
            builder
                .with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOff)
                .build(),
            false,
        ),
    }
}

/// Install the global subscriber (logs to stdout, spans to OpenTelemetry).
pub fn init(format: LogFormat) -> Telemetry {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let (provider, exporting) = provider();
    let tracer = provider.tracer("social-registry");
    let otel = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_tracked_inactivity(exporting)
        .with_location(exporting)
        .with_threads(exporting);
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    let result = match format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
        LogFormat::Pretty => registry.with(fmt::layer()).try_init(),
    };
    // A second init (tests) keeps the first subscriber.
    match result {
        Ok(()) => Telemetry(Some(provider)),
        Err(_) => Telemetry(None),
    }
}

/// Headers as an OpenTelemetry extractor (for `traceparent`).
pub struct HeaderExtractor<'a>(pub &'a axum::http::HeaderMap);

impl opentelemetry::propagation::Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// The trace id of the current span, hex (None when it has none).
pub fn current_trace_id() -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid().then(|| sc.trace_id().to_string())
}
