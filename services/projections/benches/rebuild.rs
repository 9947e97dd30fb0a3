//! Read-model throughput over a generated history, against `\copy` of the
//! same events to /dev/null (the floor: reading the log and nothing else):
//!
//! - the rebuild (`rebuild::fill`: the whole log folded in memory, every
//!   model bulk-loaded with binary COPY), and its ratio to the `\copy`;
//! - the live projector catching up from position 0 over the same log
//!   (`run_batch`, batches of `BENCH_PROJECTOR_BATCH`), in events a second.
//!
//! BENCH_REBUILD_EVENTS: comma-separated sizes (default "100000,1000000").
//! BENCH_PROJECTOR_BATCH: comma-separated batch sizes (default "500,5000").
//! BENCH_REBUILD_DATABASE: a database an earlier run generated (its name is
//! printed), to measure again without generating (one size only).
//! Run with `scripts/bench -p projections --bench rebuild`.

#[path = "../tests/common/mod.rs"]
mod common;

// As the service's binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

fn list(var: &str, default: &str) -> Vec<i64> {
    std::env::var(var)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A checkpoint, so that writing back what came before does not weigh on
/// the next measurement.
async fn checkpoint(db: &TestDatabase) {
    sqlx::query("checkpoint").execute(&db.owner).await.unwrap();
}

/// Every projection's checkpoint back to 0 and every read-model row gone,
/// so the live projector starts from the beginning of the log.
async fn reset_live(db: &TestDatabase) {
    for table in projections::models::all_tables() {
        sqlx::query(&format!("truncate read_models.{table}"))
            .execute(&db.owner)
            .await
            .unwrap();
    }
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let sizes = list("BENCH_REBUILD_EVENTS", "100000,1000000");
    let batches = list("BENCH_PROJECTOR_BATCH", "500,5000");
    let page = 10_000;
    println!("rebuild reads the log {page} events at a time");
    for target in sizes {
        let target = target as usize;
        let reuse = std::env::var("BENCH_REBUILD_DATABASE").ok();
        let db = match &reuse {
            Some(name) => TestDatabase::existing(name).await,
            None => TestDatabase::new().await,
        };
        println!("database {}", db.name);
        let store = EventStore::new(db.runtime.clone());
        let started = Instant::now();
        let mut events = if reuse.is_some() { target } else { 0 };
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

        // Pairs measured back to back, each from a checkpoint, so a
        // checkpoint or autovacuum set off by the one before weighs on
        // neither.
        let mut copies = Vec::new();
        let mut rebuilds = Vec::new();
        let mut ratios = Vec::new();
        for _ in 0..3 {
            checkpoint(&db).await;
            let copy = copy_seconds(&db.url());
            projections::rebuild::prepare(&db.owner).await.unwrap();
            checkpoint(&db).await;
            let report = projections::rebuild::fill(&db.owner, page, 365, |_, _, _| {})
                .await
                .unwrap();
            assert_eq!(report.position, head);
            let rebuild = report.millis as f64 / 1000.0;
            println!(
                "          \\copy {copy:.2} s; rebuild {rebuild:.2} s = fold {:.2} s + copy in {:.2} s + indexes {:.2} s; {:.2}x",
                report.fold_millis as f64 / 1000.0,
                report.write_millis as f64 / 1000.0,
                report.index_millis as f64 / 1000.0,
                rebuild / copy
            );
            copies.push(copy);
            rebuilds.push(rebuild);
            ratios.push(rebuild / copy);
        }
        let (copy, rebuild, ratio) = (
            median(copies.clone()),
            median(rebuilds.clone()),
            median(ratios.clone()),
        );
        println!(
            "{head:>9} events: rebuild median {rebuild:.2} s ({:.0} events/s); \\copy median {copy:.2} s; rebuild / copy median of pairs {ratio:.2}x; peak RSS {:.0} MiB",
            head as f64 / rebuild,
            rss_mib(),
        );
        for &batch in &batches {
            reset_live(&db).await;
            let started = Instant::now();
            let mut cache = projections::StateCache::default();
            let mut batches_run = 0;
            let mut per_model: std::collections::BTreeMap<&str, f64> = Default::default();
            loop {
                let outcome = projections::run_batch_cached(
                    &db.runtime,
                    projections::LIVE_SCHEMA,
                    batch,
                    365,
                    &mut cache,
                )
                .await
                .unwrap();
                assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
                if outcome.is_idle() {
                    break;
                }
                for (model, took) in outcome.timings.iter().chain(&outcome.phases) {
                    *per_model.entry(model).or_default() += took.as_secs_f64();
                }
                batches_run += 1;
            }
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "{head:>9} events: live projector, batches of {batch}: {seconds:.1} s, {:.0} events/s ({batches_run} batches)",
                head as f64 / seconds
            );
            let spent: Vec<String> = per_model
                .iter()
                .map(|(m, s)| format!("{m} {s:.1} s"))
                .collect();
            println!(
                "          time in each phase (read, decode, write, commit) and of the write in each model: {}",
                spent.join(", ")
            );
        }
    }
}
