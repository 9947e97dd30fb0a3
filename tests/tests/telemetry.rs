//! Traces leave over OTLP (HTTP/protobuf) to a receiver started here, which
//! decodes them: a GraphQL mutation's spans continue the caller's
//! `traceparent` and carry the correlation id.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::routing::post;
use axum::Router;
use blackbox_tests::council::{self, as_, people::*};
use blackbox_tests::{Api, Service};
use event_store::testing::TestDatabase;
use prost::Message;
use serde_json::json;

// The few fields of the OTLP trace protocol the test reads.
#[derive(Clone, PartialEq, Message)]
struct ExportTraceServiceRequest {
    #[prost(message, repeated, tag = "1")]
    resource_spans: Vec<ResourceSpans>,
}
#[derive(Clone, PartialEq, Message)]
struct ResourceSpans {
    #[prost(message, repeated, tag = "2")]
    scope_spans: Vec<ScopeSpans>,
}
#[derive(Clone, PartialEq, Message)]
struct ScopeSpans {
    #[prost(message, repeated, tag = "2")]
    spans: Vec<Span>,
}
#[derive(Clone, PartialEq, Message)]
struct Span {
    #[prost(bytes = "vec", tag = "1")]
    trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    span_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "4")]
    parent_span_id: Vec<u8>,
    #[prost(string, tag = "5")]
    name: String,
    #[prost(message, repeated, tag = "9")]
    attributes: Vec<KeyValue>,
}
#[derive(Clone, PartialEq, Message)]
struct KeyValue {
    #[prost(string, tag = "1")]
    key: String,
    #[prost(message, optional, tag = "2")]
    value: Option<AnyValue>,
}
#[derive(Clone, PartialEq, Message)]
struct AnyValue {
    #[prost(string, optional, tag = "1")]
    string_value: Option<String>,
}

impl Span {
    fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.key == key)
            .and_then(|a| a.value.as_ref())
            .and_then(|v| v.string_value.as_deref())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutations_spans_reach_an_otlp_receiver_under_the_callers_trace_with_the_correlation_id()
{
    let received: Arc<Mutex<Vec<Span>>> = Arc::default();
    let sink = received.clone();
    let app = Router::new().route(
        "/v1/traces",
        post(move |body: Bytes| {
            let sink = sink.clone();
            async move {
                let request =
                    ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf body");
                let mut spans = sink.lock().unwrap();
                for r in request.resource_spans {
                    for s in r.scope_spans {
                        spans.extend(s.spans);
                    }
                }
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let db = TestDatabase::new().await;
    let service = Service::start(
        &db.url(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    );
    let api = Api::new(&service);
    council::reference_data(&api).await;

    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent = "00f067aa0ba902b7";
    let response = api
        .client
        .post(format!("{}/graphql", api.base))
        .bearer_auth(as_(APPLICANT))
        .header("traceparent", format!("00-{trace}-{parent}-01"))
        .header("x-correlation-id", "otlp-check-1")
        .json(&json!({
            "query": "mutation Submit($f: RegistrationFormInput!) { submitRegistration(form: $f) { position } }",
            "variables": {"f": council::form(1, "X", "@NorthTraced")},
        }))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    let position = body["data"]["submitRegistration"]["position"]
        .as_i64()
        .expect("submitted");

    let mut ours = Vec::new();
    for _ in 0..100 {
        ours = received
            .lock()
            .unwrap()
            .iter()
            .filter(|s| hex::encode(&s.trace_id) == trace)
            .cloned()
            .collect();
        if ours.iter().any(|s| s.name == "event_store.append")
            && ours.iter().any(|s| s.name == "http.request")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let names: Vec<&str> = ours.iter().map(|s| s.name.as_str()).collect();
    let request = ours
        .iter()
        .find(|s| s.name == "http.request")
        .unwrap_or_else(|| panic!("an http.request span: {names:?}"));
    assert_eq!(
        hex::encode(&request.parent_span_id),
        parent,
        "the caller's span is the parent"
    );
    assert_eq!(request.attribute("correlation_id"), Some("otlp-check-1"));
    assert!(names.contains(&"event_store.append"), "{names:?}");
    assert!(names.contains(&"command"), "{names:?}");
    assert!(
        names
            .iter()
            .any(|n| ["request", "execute", "field"].contains(n)),
        "a GraphQL operation span: {names:?}"
    );

    let events = api
        .ok(
            Some(&as_(AUDITOR)),
            "query($a: String) { events(after: $a, first: 1) { edges { node { metadata } } } }",
            json!({"a": (position - 1).to_string()}),
        )
        .await;
    let metadata = &events["events"]["edges"][0]["node"]["metadata"];
    assert_eq!(
        metadata["traceId"], trace,
        "the event records the trace: {metadata}"
    );
    assert_eq!(metadata["correlationId"], "otlp-check-1");
    let logs = service.logs.lock().unwrap().join("\n");
    assert!(
        logs.contains(trace),
        "log lines of the request carry the trace id"
    );
}
