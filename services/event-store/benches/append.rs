//! Append throughput against a real PostgreSQL: one client, then 16 concurrent
//! clients, each append one event to the client's own stream. Prints events/s
//! per run and the median of the runs. Run with `scripts/bench`.
//!
//! Settings (environment): BENCH_EVENTS (per run, default 4000), BENCH_RUNS (3).

use std::sync::Arc;
use std::time::Instant;

use event_store::testing::TestDatabase;
use event_store::{EventStore, ExpectedVersion, NewEvent};
use serde_json::json;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn payload(i: usize) -> serde_json::Value {
    json!({
        "registration_id": format!("r-{i}"),
        "level": 1 + i % 4,
        "platform": "x",
        "account": format!("@northcouncil{i}"),
        "service": "Libraries",
        "contact": {"person": "0b7d9a4e-1c2f-4c1e-9a43-0e7f5b2d1a11", "sealed": "A".repeat(80)},
    })
}

async fn run(clients: usize, events: usize, batch: usize) -> f64 {
    let db = TestDatabase::new().await;
    let store = Arc::new(EventStore::new(db.runtime.clone()));
    let per_client = events / clients;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let stream = format!("bench-{c}");
            let mut version = 0;
            let mut i = 0;
            while i < per_client {
                let batch: Vec<NewEvent> =
                    (i..(i + batch).min(per_client)).map(|n| NewEvent::new("BenchNoted", 1, payload(n))).collect();
                let meta = json!({"actor": {"subject": "bench", "roles": ["staff"]}, "correlation_id": "bench"});
                let out = store.append(&stream, ExpectedVersion::Exactly(version), &batch, &meta, None).await.unwrap();
                version = out.stream_version;
                i += batch.len();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rate = (per_client * clients) as f64 / elapsed;
    assert!(store.verify_chain(None, None).await.unwrap().is_verified());
    rate
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let events = setting("BENCH_EVENTS", 4000);
    let runs = setting("BENCH_RUNS", 3);
    println!(
        "append throughput: {events} events per run, {runs} runs, 1 event per append unless noted"
    );
    for (label, clients, batch) in [
        ("1 client", 1, 1),
        ("16 concurrent clients", 16, 1),
        ("1 client, 100 events per append", 1, 100),
    ] {
        let mut rates = Vec::new();
        for _ in 0..runs {
            rates.push(run(clients, events, batch).await);
        }
        let shown: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
        println!(
            "{label:<34} median {:>8.0} events/s   runs: {}",
            median(rates),
            shown.join(", ")
        );
    }
}
