//! Rebuild throughput: every read model rebuilt from position 0 over a
//! generated history, against `\copy` of the same events to /dev/null (the
//! floor: reading the log and nothing else). Prints both and their ratio.
//!
//! BENCH_REBUILD_EVENTS: comma-separated sizes (default "100000,1000000").
//! Run with `scripts/bench`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;
use std::time::Instant;

use event_store::testing::TestDatabase;
use event_store::EventStore;

fn copy_seconds(url: &str) -> f64 {
    let started = Instant::now();
    let out = Command::new("psql")
        .arg(url)
        .arg("-qAt")
        .arg("-c")
        .arg("\\copy (select * from events order by position) to '/dev/null'")
        .output()
        .expect("psql is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed().as_secs_f64()
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
    let sizes: Vec<usize> = std::env::var("BENCH_REBUILD_EVENTS")
        .unwrap_or_else(|_| "100000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let batch: i64 = std::env::var("BENCH_REBUILD_BATCH")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(5000);
    println!("rebuild batch size: {batch} events");
    for target in sizes {
        let db = TestDatabase::new().await;
        let store = EventStore::new(db.runtime.clone());
        let started = Instant::now();
        let mut events = 0;
        let mut seed = 1;
        while events < target {
            let remaining = target - events;
            events += common::generate_batched(&store, (remaining / 5).max(10), seed, 200)
                .await
                .events;
            seed += 1;
        }
        let head = store.head().await.unwrap().position;
        println!(
            "generated {head} events in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        sqlx::query("vacuum analyze events")
            .execute(&db.owner)
            .await
            .ok();

        let copies: Vec<f64> = (0..3).map(|_| copy_seconds(&db.url())).collect();
        let copy = median(copies.clone());
        projections::rebuild::prepare(&db.owner).await.unwrap();
        let report = projections::rebuild::fill(&db.owner, batch, 365, |_, _, _| {})
            .await
            .unwrap();
        let rebuild = report.millis as f64 / 1000.0;
        assert_eq!(report.position, head);
        println!(
            "{head:>9} events: rebuild {rebuild:>7.1} s ({:>6.0} events/s); \\copy median {copy:.2} s (runs {}); rebuild / copy = {:.0}x",
            head as f64 / rebuild,
            copies.iter().map(|c| format!("{c:.2}")).collect::<Vec<_>>().join(", "),
            rebuild / copy
        );
    }
}
