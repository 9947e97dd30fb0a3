//! Command throughput of the running service: `submitRegistration` over
//! HTTP, each submission a new level-1 account, at 1, 16, 64 and 256
//! concurrent clients (one keep-alive connection each, a new request as
//! soon as the last is answered).
//!
//! For every run it prints commands/s, events/s and the p50 / p99 of a
//! command's round trip, and how well the read side keeps up under the
//! load: the projector's lag (head minus the slowest checkpoint, sampled
//! every 100 ms) and the time from a command's response to its
//! `approvalActivity(role: COMMUNICATIONS)` message on a dashboard's
//! WebSocket. After every run the log is checked: positions gap-free, the
//! chain verifies, every acknowledged command is in it.
//!
//! With `BENCH_BASELINE_BINARY` (another build of `social-registry`, e.g.
//! the commit before group commit) the same runs go to it too, each round
//! alternating baseline and current on databases of their own, and the
//! ratio of the medians is printed.
//!
//! Settings: BENCH_COMMANDS_SECONDS per run (default 8),
//! BENCH_COMMANDS_CLIENTS (default "1,16,64,256"), BENCH_RUNS (default 3).
//! `scripts/bench -p blackbox-tests --bench commands`.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use blackbox_tests::council::{self, as_, people::*};
use blackbox_tests::{Api, Service, Ws};
use event_store::testing::TestDatabase;
use event_store::EventStore;
use serde_json::{json, Value};

const SUBMIT: &str = "mutation($f: RegistrationFormInput!) { submitRegistration(form: $f) { registration { id } position } }";

/// Every submission's account is new.
static NEXT_ACCOUNT: AtomicU64 = AtomicU64::new(0);

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.into())
}

/// One service on a database of its own, with a dashboard subscribed.
struct Target {
    name: &'static str,
    db: TestDatabase,
    service: Service,
    /// Response time of each acknowledged command, by its last position.
    acks: Arc<Mutex<BTreeMap<i64, Instant>>>,
    /// When each approvalActivity message arrived, by its position.
    seen: Arc<Mutex<Vec<(i64, Instant)>>>,
    acked_ids: Vec<String>,
}

impl Target {
    async fn start(name: &'static str, binary: Option<PathBuf>) -> Target {
        let db = TestDatabase::new().await;
        let service = match &binary {
            Some(b) => Service::start_binary(b, &db.url(), &[]),
            None => Service::start(&db.url(), &[]),
        };
        let api = Api::new(&service);
        council::reference_data(&api).await;
        let from = api.position().await;
        let mut ws = Ws::connect(&service.base_url, Some(&as_(COMMS)), false)
            .await
            .expect("the dashboard connects");
        ws.subscribe(
            "1",
            "subscription($p: Int) { approvalActivity(role: COMMUNICATIONS, fromPosition: $p) { position } }",
            json!({"p": from}),
        )
        .await;
        let seen: Arc<Mutex<Vec<(i64, Instant)>>> = Arc::default();
        let kept = seen.clone();
        tokio::spawn(async move {
            while let Some(message) = ws.next(Duration::from_secs(3600)).await {
                if let Some(p) = message["data"]["approvalActivity"]["position"].as_i64() {
                    kept.lock().unwrap().push((p, Instant::now()));
                }
            }
        });
        Target {
            name,
            db,
            service,
            acks: Arc::default(),
            seen,
            acked_ids: Vec::new(),
        }
    }
}

/// What one run measured.
struct Run {
    commands: usize,
    events: i64,
    seconds: f64,
    p50: f64,
    p99: f64,
    lag_median: i64,
    lag_max: i64,
    catch_up: Duration,
    delivery_p50: f64,
    delivery_p99: f64,
    delivered: usize,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

async fn head(db: &TestDatabase) -> i64 {
    sqlx::query_scalar("select coalesce(max(position), 0) from events")
        .fetch_one(&db.owner)
        .await
        .unwrap()
}

async fn lag(db: &TestDatabase) -> i64 {
    sqlx::query_scalar(
        "select (select coalesce(max(position), 0) from events) - coalesce(min(position), 0) from read_models.checkpoints",
    )
    .fetch_one(&db.owner)
    .await
    .unwrap()
}

async fn run(target: &mut Target, clients: usize, seconds: f64) -> Run {
    let url = format!("{}/graphql", target.service.base_url);
    let token = as_(APPLICANT);
    let start_head = head(&target.db).await;
    let seen_before = target.seen.lock().unwrap().len();
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (url, token, acks) = (url.clone(), token.clone(), target.acks.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut latencies = Vec::new();
            let mut ids = Vec::new();
            while Instant::now() < until {
                // X handles are at most 15 characters: a counter in hex.
                let n = NEXT_ACCOUNT.fetch_add(1, Ordering::Relaxed);
                let form = council::form(1, "X", &format!("@nb{n:x}"));
                let sent = Instant::now();
                let body: Value = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"query": SUBMIT, "variables": {"f": form}}))
                    .send()
                    .await
                    .expect("POST /graphql")
                    .json()
                    .await
                    .expect("a JSON body");
                let answered = Instant::now();
                let out = &body["data"]["submitRegistration"];
                let (Some(id), Some(position)) =
                    (out["registration"]["id"].as_str(), out["position"].as_i64())
                else {
                    panic!("a submission failed: {body:#}");
                };
                acks.lock().unwrap().insert(position, answered);
                latencies.push((answered - sent).as_secs_f64() * 1000.0);
                ids.push(id.to_owned());
            }
            (latencies, ids)
        }));
    }
    // The projector's lag, sampled while the clients run.
    let mut lags = Vec::new();
    while Instant::now() < until {
        lags.push(lag(&target.db).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut latencies = Vec::new();
    for t in tasks {
        let (l, ids) = t.await.unwrap();
        latencies.extend(l);
        target.acked_ids.extend(ids);
    }
    let seconds = started.elapsed().as_secs_f64();
    let stopped = Instant::now();
    while lag(&target.db).await > 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let catch_up = stopped.elapsed();
    let events = head(&target.db).await - start_head;
    // Each dashboard message matched to the command it announces: the first
    // acknowledged command at or after its position.
    let deadline = Instant::now() + Duration::from_secs(30);
    while target.seen.lock().unwrap().len() - seen_before < latencies.len()
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut delivery: Vec<f64> = {
        let seen = target.seen.lock().unwrap();
        let acks = target.acks.lock().unwrap();
        seen[seen_before..]
            .iter()
            .filter_map(|(p, at)| {
                let (_, acked) = acks.range(*p..).next()?;
                Some(at.saturating_duration_since(*acked).as_secs_f64() * 1000.0)
            })
            .collect()
    };
    delivery.sort_by(|a, b| a.total_cmp(b));
    latencies.sort_by(|a, b| a.total_cmp(b));
    lags.sort();
    check(target).await;
    Run {
        commands: latencies.len(),
        events,
        seconds,
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        lag_median: lags.get(lags.len() / 2).copied().unwrap_or(0),
        lag_max: lags.last().copied().unwrap_or(0),
        catch_up,
        delivery_p50: percentile(&delivery, 0.5),
        delivery_p99: percentile(&delivery, 0.99),
        delivered: delivery.len(),
    }
}

/// Gap-free positions, a verified chain, every acknowledged command there.
async fn check(target: &Target) {
    let (count, max): (i64, Option<i64>) =
        sqlx::query_as("select count(*), max(position) from events")
            .fetch_one(&target.db.owner)
            .await
            .unwrap();
    assert_eq!(Some(count), max, "{}: positions are gap-free", target.name);
    let store = EventStore::new(target.db.runtime.clone());
    let report = store.verify_chain(None, None).await.unwrap();
    assert!(report.is_verified(), "{}: the chain verifies", target.name);
    let submitted: HashSet<String> = sqlx::query_scalar(
        "select substr(stream_id, length('registration-') + 1) from events where event_type = 'RegistrationSubmitted'",
    )
    .fetch_all(&target.db.owner)
    .await
    .unwrap()
    .into_iter()
    .collect();
    for id in &target.acked_ids {
        assert!(
            submitted.contains(id),
            "{}: acknowledged {id} is in the log",
            target.name
        );
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let seconds: f64 = setting("BENCH_COMMANDS_SECONDS", "8").parse().unwrap();
    let runs: usize = setting("BENCH_RUNS", "3").parse().unwrap();
    let clients: Vec<usize> = setting("BENCH_COMMANDS_CLIENTS", "1,16,64,256")
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    let baseline = std::env::var_os("BENCH_BASELINE_BINARY").map(PathBuf::from);
    let mut targets = vec![Target::start("current", None).await];
    if let Some(b) = baseline.clone() {
        targets.push(Target::start("baseline", Some(b)).await);
    }
    let settings: Vec<(String, String)> = sqlx::query_as(
        "select name, setting from pg_settings where name in ('fsync', 'synchronous_commit', 'full_page_writes') order by name",
    )
    .fetch_all(&targets[0].db.owner)
    .await
    .unwrap();
    let shown: Vec<String> = settings.iter().map(|(n, v)| format!("{n}={v}")).collect();
    println!("PostgreSQL: {}", shown.join(", "));
    println!(
        "submitRegistration over HTTP, a new level-1 account each, {seconds} s per run, median of {runs} runs{}",
        if baseline.is_some() { " (baseline and current alternate)" } else { "" }
    );
    // Warm both up (connections, caches) without counting it.
    for t in targets.iter_mut() {
        run(t, 4, 1.0).await;
    }
    for &c in &clients {
        let mut figures: Vec<Vec<Run>> = targets.iter().map(|_| Vec::new()).collect();
        for r in 0..runs {
            // Alternate which goes first, so neither always runs on the
            // warmer (or busier) machine.
            let order: Vec<usize> = if r % 2 == 0 {
                (0..targets.len()).collect()
            } else {
                (0..targets.len()).rev().collect()
            };
            for i in order {
                figures[i].push(run(&mut targets[i], c, seconds).await);
            }
        }
        let rate =
            |runs: &[Run]| median(runs.iter().map(|r| r.commands as f64 / r.seconds).collect());
        for (t, runs) in targets.iter().zip(&figures) {
            let m = |f: &dyn Fn(&Run) -> f64| median(runs.iter().map(f).collect());
            println!(
                "{c:>3} clients, {:<8}: {:>6.0} commands/s ({:.0} events/s; runs {}), p50 {:.1} ms, p99 {:.1} ms; \
                 projector lag median {:.0} / max {:.0} events, caught up {:.0} ms after the load; \
                 approvalActivity {:.0} delivered, {:.1} ms p50 / {:.1} ms p99 after the response",
                t.name,
                rate(runs),
                m(&|r| r.events as f64 / r.seconds),
                runs.iter().map(|r| format!("{:.0}", r.commands as f64 / r.seconds)).collect::<Vec<_>>().join(", "),
                m(&|r| r.p50),
                m(&|r| r.p99),
                m(&|r| r.lag_median as f64),
                m(&|r| r.lag_max as f64),
                m(&|r| r.catch_up.as_secs_f64() * 1000.0),
                m(&|r| r.delivered as f64),
                m(&|r| r.delivery_p50),
                m(&|r| r.delivery_p99),
            );
        }
        if figures.len() == 2 {
            println!(
                "{c:>3} clients: current / baseline {:.2}x commands/s",
                rate(&figures[0]) / rate(&figures[1])
            );
        }
    }
    println!("after every run: positions gap-free, chain verified, every acknowledged command in the log");
}
