//! Public reads: `verifyAccount` requests per second over HTTP, known
//! accounts and misses, against a constant async-graphql query served by a
//! bare server measured in the same run on the same machine.
//!
//! `scripts/bench -p blackbox-tests --bench public`. `BENCH_PUBLIC_SECONDS`
//! (default 10) per measurement, `BENCH_PUBLIC_CONNECTIONS` (default 64)
//! concurrent keep-alive clients in this process (on the same two cores as
//! the servers, for both), `BENCH_PUBLIC_ROUNDS` (default 5) rounds of the
//! three measured back to back; the ratios are medians of each round's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};
use blackbox_tests::council::{self, act, people::*};
use blackbox_tests::{Api, Service};
use event_store::testing::TestDatabase;
use serde_json::json;

struct Constant;

#[Object]
impl Constant {
    async fn ok(&self) -> bool {
        true
    }
}

/// The bare server, in a process of its own (this executable again, with
/// `BENCH_BARE_SERVER` set): `POST /graphql` with a constant query.
async fn bare_server() {
    let schema = Schema::build(Constant, EmptyMutation, EmptySubscription).finish();
    let app = axum::Router::new().route(
        "/graphql",
        axum::routing::post_service(async_graphql_axum::GraphQL::new(schema)),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("{}", listener.local_addr().unwrap());
    axum::serve(listener, app).await.unwrap();
}

/// Requests per second of `body` to `url` from `connections` clients for
/// `seconds`; every answer must be 200 without `errors`.
async fn load(url: &str, bodies: Arc<Vec<String>>, connections: usize, seconds: u64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..connections {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()
            .unwrap();
        let url = url.to_owned();
        let bodies = bodies.clone();
        let done = done.clone();
        let failed = failed.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = c;
            while Instant::now() < until {
                let body = bodies[i % bodies.len()].clone();
                i += 1;
                let ok = match client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 200 => r
                        .bytes()
                        .await
                        .is_ok_and(|b| !b.windows(9).any(|w| w == b"\"errors\":")),
                    _ => false,
                };
                if ok {
                    done.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let failed = failed.load(Ordering::Relaxed);
    assert_eq!(failed, 0, "{failed} requests failed");
    done.load(Ordering::Relaxed) as f64 / seconds as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::var_os("BENCH_BARE_SERVER").is_some() {
        bare_server().await;
        return;
    }
    let seconds: u64 = std::env::var("BENCH_PUBLIC_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let connections: usize = std::env::var("BENCH_PUBLIC_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);

    // The service with 50 published accounts.
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[("RUST_LOG", "warn,social_registry=info")]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    for i in 0..50 {
        let id = council::submit_and_approve_asset(&api, &format!("@NorthPub{i}")).await;
        act(&api, COMMS, "approveRegistration", &id, "").await;
        act(&api, COMMS, "publishRegistration", &id, "").await;
    }
    let position = api.position().await;
    // Wait until the public index answers for the last one.
    api.ok(
        None,
        "query($p: Int) { verifyAccount(input: \"@NorthPub49\", atLeastPosition: $p) { status } }",
        json!({"p": position}),
    )
    .await;
    let verify = |input: String| {
        json!({"query": "query($i: String!) { verifyAccount(input: $i) { status account { accountKey } } }", "variables": {"i": input}}).to_string()
    };
    let known = Arc::new(
        (0..50)
            .map(|i| verify(format!("https://x.com/NorthPub{i}")))
            .collect::<Vec<_>>(),
    );
    let misses = Arc::new(
        (0..50)
            .map(|i| verify(format!("https://x.com/NobodyHere{i}")))
            .collect::<Vec<_>>(),
    );
    let service_url = format!("{}/graphql", service.base_url);

    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .env("BENCH_BARE_SERVER", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the bare server");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let bare_url = format!("http://{}/graphql", line.trim());
    let constant = Arc::new(vec![json!({"query": "{ ok }"}).to_string()]);

    // Rounds of the three measured back to back, so each ratio compares
    // measurements taken under the same conditions on this shared machine.
    let rounds: usize = std::env::var("BENCH_PUBLIC_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let (mut k, mut m, mut c, mut kr, mut mr) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        let bare = load(&bare_url, constant.clone(), connections, seconds).await;
        let known_rate = load(&service_url, known.clone(), connections, seconds).await;
        let miss_rate = load(&service_url, misses.clone(), connections, seconds).await;
        println!(
            "  round {round}: constant {bare:.0}, known {known_rate:.0} ({:.0}%), misses {miss_rate:.0} ({:.0}%) req/s",
            100.0 * known_rate / bare,
            100.0 * miss_rate / bare
        );
        c.push(bare);
        k.push(known_rate);
        m.push(miss_rate);
        kr.push(known_rate / bare);
        mr.push(miss_rate / bare);
    }
    let (k, m, c, kr, mr) = (median(k), median(m), median(c), median(kr), median(mr));
    println!(
        "public reads, {connections} connections, {seconds} s each, medians of {rounds} rounds:\n  bare async-graphql constant query: {c:.0} req/s\n  verifyAccount, known accounts:    {k:.0} req/s ({:.0}% of the constant query, median of the rounds' ratios)\n  verifyAccount, misses:            {m:.0} req/s ({:.0}%)",
        100.0 * kr,
        100.0 * mr
    );
    let _ = child.kill();
    let _ = child.wait();
}
