//! How fast the running service answers and how soon dashboards hear of
//! changes: the release binary against the private (durable) cluster.
//!
//! `scripts/bench -p blackbox-tests --bench live` (BENCH_LIVE_N sets the
//! number of mutations, default 300). Prints median, 95th percentile and
//! maximum of:
//! - a mutation's round trip (submitRegistration over HTTP);
//! - the time from the mutation's response to the approvalActivity message
//!   on a WebSocket subscriber (the "dashboard sees it within a second"
//!   target of the API and dashboard issues);
//! - a public verifyAccount query's round trip.

use std::time::{Duration, Instant};

use blackbox_tests::council::{self, as_, people::*};
use blackbox_tests::{Api, Service, Ws};
use event_store::testing::TestDatabase;
use serde_json::json;

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{name}: n={} median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        samples.len(),
        at(0.5).as_secs_f64() * 1000.0,
        at(0.95).as_secs_f64() * 1000.0,
        samples.last().unwrap().as_secs_f64() * 1000.0
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("BENCH_LIVE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let from = api.position().await;
    let mut ws = Ws::connect(&service.base_url, Some(&as_(COMMS)), false)
        .await
        .expect("connect");
    ws.subscribe(
        "1",
        "subscription($p: Int) { approvalActivity(role: COMMUNICATIONS, fromPosition: $p) { position } }",
        json!({"p": from}),
    )
    .await;
    let applicant = as_(APPLICANT);
    let mut round_trips = Vec::with_capacity(n);
    let mut delivery = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        api.ok(
            Some(&applicant),
            "mutation($f: RegistrationFormInput!) { submitRegistration(form: $f) { position } }",
            json!({"f": council::form(1, "X", &format!("@NorthBench{i}"))}),
        )
        .await;
        let answered = Instant::now();
        round_trips.push(answered - started);
        ws.next(Duration::from_secs(30))
            .await
            .expect("the activity message");
        delivery.push(answered.elapsed());
    }
    let mut queries = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        api.ok(
            None,
            "query($i: String!) { verifyAccount(input: $i) { status } }",
            json!({"i": format!("https://x.com/NorthBench{}", i % 50)}),
        )
        .await;
        queries.push(started.elapsed());
    }
    summary("submitRegistration round trip", round_trips);
    summary("mutation response → approvalActivity message", delivery);
    summary("verifyAccount round trip", queries);
}
