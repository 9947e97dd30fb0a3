//! Append throughput against a real PostgreSQL, against a naive reference
//! measured in the same run on the same database:
//!
//! - the event store (group commit): 1, 16, 64 and 256 concurrent clients,
//!   each appending one event at a time to a stream of its own with the
//!   expected version; events/s and the p50 / p99 of one append;
//! - the naive reference: the same clients, each event in a transaction of
//!   its own under one advisory lock (read the head, insert the row,
//!   commit), as pgbench would with a script;
//! - one client appending 100 events at a time.
//!
//! After every store run the log is checked: positions gap-free, the chain
//! verifies, every acknowledged event is there exactly once. The database's
//! durability settings are printed first.
//!
//! Settings (environment): BENCH_APPEND_SECONDS per run (default 5),
//! BENCH_APPEND_CLIENTS (default "1,16,64,256"), BENCH_RUNS (default 3).
//! Run with `scripts/bench -p event-store --bench append`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use event_store::testing::TestDatabase;
use event_store::{EventStore, ExpectedVersion, NewEvent};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.into())
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

fn meta() -> serde_json::Value {
    json!({"actor": {"subject": "bench", "roles": ["staff"]}, "correlationId": "bench"})
}

/// What a run measured.
struct Run {
    events: usize,
    seconds: f64,
    latencies: Vec<Duration>,
}

impl Run {
    fn rate(&self) -> f64 {
        self.events as f64 / self.seconds
    }
    fn percentile(&self, q: f64) -> f64 {
        let mut l = self.latencies.clone();
        l.sort();
        l[((l.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1000.0
    }
}

/// `clients` clients append for `seconds`, each to its own stream.
async fn store_run(db: &TestDatabase, clients: usize, seconds: f64, batch: usize) -> Run {
    let store = Arc::new(EventStore::new(db.runtime.clone()));
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let stream = format!("bench-{}", Uuid::new_v4().simple());
            let mut version = 0;
            let mut acked = Vec::new();
            let mut latencies = Vec::new();
            let mut i = 0;
            while Instant::now() < until {
                let events: Vec<NewEvent> = (0..batch)
                    .map(|n| NewEvent::new("BenchNoted", 1, payload(c * 1_000_000 + i + n)))
                    .collect();
                let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
                let t = Instant::now();
                let out = store
                    .append(
                        &stream,
                        ExpectedVersion::Exactly(version),
                        &events,
                        &meta(),
                        None,
                    )
                    .await
                    .expect("append");
                latencies.push(t.elapsed());
                version = out.stream_version;
                acked.extend(ids);
                i += batch;
            }
            (acked, latencies)
        }));
    }
    let mut acked = Vec::new();
    let mut latencies = Vec::new();
    for t in tasks {
        let (a, l) = t.await.unwrap();
        acked.extend(a);
        latencies.extend(l);
    }
    let seconds = started.elapsed().as_secs_f64();
    check_log(&store, &acked).await;
    Run {
        events: acked.len(),
        seconds,
        latencies,
    }
}

/// Gap-free positions, a chain that verifies, every acknowledged event
/// exactly once (and nothing else).
async fn check_log(store: &EventStore, acked: &[Uuid]) {
    let report = store.verify_chain(None, None).await.unwrap();
    assert!(report.is_verified(), "the chain verifies: {report:?}");
    let mut seen = HashSet::new();
    let mut after = 0;
    loop {
        let page = store.read_all(after, 10_000).await.unwrap();
        let Some(last) = page.last() else { break };
        for e in &page {
            assert_eq!(e.position, after + 1, "positions are gap-free");
            after = e.position;
            assert!(seen.insert(e.event_id), "no event twice");
        }
        after = last.position;
    }
    let acked: HashSet<Uuid> = acked.iter().copied().collect();
    let mine: HashSet<Uuid> = seen.intersection(&acked).copied().collect();
    assert_eq!(
        mine.len(),
        acked.len(),
        "every acknowledged event is in the log"
    );
}

/// The naive reference: each event its own transaction under one advisory
/// lock (read the head, insert the row with its hash, commit).
async fn naive_run(pool: &PgPool, clients: usize, seconds: f64) -> Run {
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = 0;
            while Instant::now() < until {
                let t = Instant::now();
                let mut tx = pool.begin().await.unwrap();
                sqlx::query("select pg_advisory_xact_lock(42)")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                let head: Option<(i64, Vec<u8>)> = sqlx::query_as(
                    "select position, hash from naive_events order by position desc limit 1",
                )
                .fetch_optional(&mut *tx)
                .await
                .unwrap();
                let (position, prev) = head.unwrap_or((0, vec![0; 32]));
                let body = payload(c * 1_000_000 + i);
                let mut h = Sha256::new();
                h.update(&prev);
                h.update(body.to_string().as_bytes());
                let hash = h.finalize().to_vec();
                sqlx::query(
                    "insert into naive_events (position, payload, hash) values ($1, $2, $3)",
                )
                .bind(position + 1)
                .bind(&body)
                .bind(&hash)
                .execute(&mut *tx)
                .await
                .unwrap();
                tx.commit().await.unwrap();
                latencies.push(t.elapsed());
                i += 1;
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    Run {
        events: latencies.len(),
        seconds: started.elapsed().as_secs_f64(),
        latencies,
    }
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
    let seconds: f64 = setting("BENCH_APPEND_SECONDS", "5").parse().unwrap();
    let runs: usize = setting("BENCH_RUNS", "3").parse().unwrap();
    let clients: Vec<usize> = setting("BENCH_APPEND_CLIENTS", "1,16,64,256")
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    let db = TestDatabase::new().await;
    let settings: Vec<(String, String)> = sqlx::query_as(
        "select name, setting from pg_settings where name in ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method') order by name",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    let shown: Vec<String> = settings.iter().map(|(n, v)| format!("{n}={v}")).collect();
    println!("PostgreSQL: {}", shown.join(", "));
    sqlx::query(
        "create table naive_events (position bigint primary key, payload jsonb not null, hash bytea not null)",
    )
    .execute(&db.owner)
    .await
    .unwrap();
    sqlx::query("grant select, insert on naive_events to registry_app")
        .execute(&db.owner)
        .await
        .unwrap();
    println!(
        "append throughput, {seconds} s per run, median of {runs} runs (the naive reference measured just before each store run)"
    );
    for &c in &clients {
        let (mut store_rates, mut naive_rates, mut ratios, mut p50, mut p99) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let naive = naive_run(&db.runtime, c, seconds).await;
            let store = store_run(&db, c, seconds, 1).await;
            naive_rates.push(naive.rate());
            store_rates.push(store.rate());
            ratios.push(store.rate() / naive.rate());
            p50.push(store.percentile(0.5));
            p99.push(store.percentile(0.99));
        }
        let fmt = |v: &[f64]| {
            v.iter()
                .map(|r| format!("{r:.0}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "{c:>3} clients, 1 event per append: store {:>7.0} events/s (runs {}), p50 {:.1} ms, p99 {:.1} ms; naive {:>6.0} events/s (runs {}); store / naive {:.1}x",
            median(store_rates.clone()),
            fmt(&store_rates),
            median(p50),
            median(p99),
            median(naive_rates.clone()),
            fmt(&naive_rates),
            median(ratios),
        );
    }
    let mut rates = Vec::new();
    for _ in 0..runs {
        rates.push(store_run(&db, 1, seconds, 100).await.rate());
    }
    println!(
        "  1 client, 100 events per append: store {:.0} events/s",
        median(rates)
    );
    println!("after every store run: positions gap-free, chain verified, every acknowledged event present once");
}
