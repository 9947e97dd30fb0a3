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
            .any(|n| ["graphql.request", "graphql.execute"].contains(n)),
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

/// Personal values never reach the tracing backend or the logs: a person is
/// submitted, amended, looked up, erased, with an OTLP receiver attached, and
/// neither the exported bytes nor the log lines hold any of their values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_personal_value_reaches_the_otlp_receiver_or_the_logs() {
    let bytes: Arc<Mutex<Vec<u8>>> = Arc::default();
    let spans: Arc<Mutex<usize>> = Arc::default();
    let (sink, count) = (bytes.clone(), spans.clone());
    let app = Router::new().route(
        "/v1/traces",
        post(move |body: Bytes| {
            let (sink, count) = (sink.clone(), count.clone());
            async move {
                let request = ExportTraceServiceRequest::decode(body.clone()).expect("OTLP");
                *count.lock().unwrap() += request
                    .resource_spans
                    .iter()
                    .flat_map(|r| &r.scope_spans)
                    .map(|s| s.spans.len())
                    .sum::<usize>();
                sink.lock().unwrap().extend_from_slice(&body);
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
            (
                "RUST_LOG",
                "debug,hyper=info,h2=info,reqwest=info,tower=info",
            ),
        ],
    );
    let api = Api::new(&service);
    council::reference_data(&api).await;

    let (name, email, phone) = (
        "Zebedee Quartermaine",
        "zebedee.q@north.gov.uk",
        "07700 900123",
    );
    let renamed = "Zebedee Q. Quartermaine-Smythe";
    let mut form = council::form(1, "X", "@NorthPrivate");
    form["businessContact"] =
        json!({"subject": "u-private", "name": name, "email": email, "phone": phone});
    // Literal values inlined in the document, not only in variables.
    let literal = serde_json::to_string(&form).unwrap();
    let query = format!(
        "mutation {{ submitRegistration(form: {}) {{ registration {{ id }} }} }}",
        graphql_literal(&form)
    );
    assert!(!literal.is_empty());
    let data = api.ok(Some(&as_(APPLICANT)), &query, json!({})).await;
    let id = data["submitRegistration"]["registration"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut amended = form.clone();
    amended["businessContact"]["name"] = json!(renamed);
    api.ok(
        Some(&as_(APPLICANT)),
        "mutation($id: UUID!, $f: RegistrationFormInput!) { amendRegistration(id: $id, form: $f) { position } }",
        json!({"id": id, "f": amended}),
    )
    .await;
    api.ok(
        Some(&as_(COMMS)),
        "query($id: UUID!) { registration(id: $id) { businessContact { name email phone } } }",
        json!({"id": id}),
    )
    .await;
    api.ok(
        Some(&as_(DPO)),
        "query { personalDataHeldFor(subject: \"u-private\") { person erased } }",
        json!({}),
    )
    .await;
    // A refused input that echoes nothing of the value.
    let mut bad = form.clone();
    bad["businessContact"]["email"] = json!(format!("{name} <not-an-email>"));
    api.post(
        Some(&as_(APPLICANT)),
        "mutation($f: RegistrationFormInput!) { submitRegistration(form: $f) { position } }",
        json!({"f": bad}),
    )
    .await;
    api.ok(
        Some(&as_(DPO)),
        "mutation { erasePersonalData(subject: \"u-private\", reason: \"SAR-1\") { position } }",
        json!({}),
    )
    .await;
    // Let the batch exporter deliver what it has.
    for _ in 0..100 {
        if *spans.lock().unwrap() > 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let exported = bytes.lock().unwrap().clone();
    assert!(*spans.lock().unwrap() > 20, "spans were exported");
    let logs = service.logs.lock().unwrap().join("\n");
    for value in [
        name,
        email,
        phone,
        renamed,
        "Zebedee",
        "zebedee.q",
        "900123",
    ] {
        assert!(
            !exported.windows(value.len()).any(|w| w == value.as_bytes()),
            "the OTLP export holds `{value}`"
        );
        assert!(!logs.contains(value), "a log line holds `{value}`");
    }
}

/// A JSON value written as a GraphQL literal (object keys unquoted).
fn graphql_literal(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{k}: {}", graphql_literal(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        serde_json::Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(graphql_literal)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        serde_json::Value::String(s) if s == "X" => "X".into(),
        other => other.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_exporter_every_command_still_records_a_trace_id_and_keeps_the_callers() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    // Without a traceparent: a trace id of its own.
    council::submit(&api, council::form(1, "X", "@NorthTraceA")).await;
    // With one: the caller's.
    let caller = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = api
        .client
        .post(format!("{}/graphql", api.base))
        .bearer_auth(as_(APPLICANT))
        .header("traceparent", format!("00-{caller}-00f067aa0ba902b7-01"))
        .json(&json!({"query": "mutation($f: RegistrationFormInput!) { submitRegistration(form: $f) { position } }",
                      "variables": {"f": council::form(1, "X", "@NorthTraceB")}}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let ids: Vec<String> = sqlx::query_scalar(
        "select metadata->>'traceId' from events where event_type = 'RegistrationSubmitted' order by position",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0].len(), 32, "a trace id of 32 hex digits: {ids:?}");
    assert_ne!(ids[0], "0".repeat(32));
    assert_eq!(ids[1], caller);
}
