//! Fan-out: how soon thousands of dashboards hear of a change, and what
//! they cost, against a bare async-graphql broadcast measured in the same
//! run on the same machine.
//!
//! `scripts/bench -p blackbox-tests --bench fanout`. `BENCH_FANOUT` lists the
//! subscriber counts (default `1000,5000,18000`); `BENCH_FANOUT_EVENTS` the
//! number of submissions, one a second (default 10). For each count it
//! prints, for the service (release binary, durable cluster) and for the
//! bare server: p50, p99 and max of the time from a submission's response
//! (the service) or the publish call (bare) to each subscriber's message,
//! messages missed, and server RSS per subscriber; for the service also the
//! database commits per second while the subscribers sit idle.
//!
//! Subscribers are graphql-transport-ws clients (tokio-tungstenite) in this
//! process, on the same two cores as the servers; the bare server runs in a
//! process of its own, as the service does. scripts/bench raises the soft
//! limit on open files to the hard limit for the benchmarks (not
//! system-wide).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_graphql::{EmptyMutation, Object, Schema, Subscription};
use blackbox_tests::council::{self, as_, people::*};
use blackbox_tests::{Api, Service};
use event_store::testing::TestDatabase;
use futures::{SinkExt, Stream, StreamExt};
use serde_json::json;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

/// Handshakes that failed (reported, and not counted as missed messages).
static FAILED_CONNECTS: AtomicUsize = AtomicUsize::new(0);

/// When each subscriber received each message, by message number.
type Receipts = Arc<Mutex<HashMap<i64, Vec<Instant>>>>;

/// The soft limit on open files (scripts/bench raises it to the hard limit
/// for the benchmarks only).
fn fd_limit() -> String {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(str::to_owned))
        })
        .unwrap_or_else(|| "unknown".into())
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// One graphql-transport-ws subscriber; every message's number (read by
/// `number`) and arrival go into `receipts`.
#[allow(clippy::too_many_arguments)] // a benchmark helper, called twice
async fn subscriber(
    url: String,
    token: Option<String>,
    query: &'static str,
    variables: serde_json::Value,
    number: fn(&serde_json::Value) -> Option<i64>,
    receipts: Receipts,
    ready: Arc<AtomicUsize>,
    connecting: Arc<tokio::sync::Semaphore>,
) {
    // Dashboards do not all connect in the same millisecond: a bounded
    // number of handshakes at a time.
    let turn = connecting.acquire_owned().await.expect("open");
    let mut request = url.into_client_request().expect("a ws url");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(64 * 1024);
    let (mut socket, _) =
        match tokio_tungstenite::connect_async_with_config(request, Some(config), true).await {
            Ok(s) => s,
            Err(_) => {
                FAILED_CONNECTS.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
    let payload = match token {
        Some(t) => json!({ "authorization": format!("Bearer {t}") }),
        None => json!({}),
    };
    let init = json!({ "type": "connection_init", "payload": payload });
    if socket
        .send(Message::Text(init.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    let mut subscribed = false;
    let mut turn = Some(turn);
    while let Some(Ok(message)) = socket.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        match v["type"].as_str() {
            Some("connection_ack") if !subscribed => {
                subscribed = true;
                let sub = json!({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}});
                if socket
                    .send(Message::Text(sub.to_string().into()))
                    .await
                    .is_err()
                {
                    return;
                }
                ready.fetch_add(1, Ordering::Relaxed);
                turn.take();
            }
            Some("next") => {
                let at = Instant::now();
                if let Some(n) = number(&v["payload"]["data"]) {
                    receipts.lock().unwrap().entry(n).or_default().push(at);
                }
            }
            Some("ping") => {
                let pong = json!({"type": "pong"}).to_string();
                let _ = socket.send(Message::Text(pong.into())).await;
            }
            _ => {}
        }
    }
}

struct Figures {
    p50: Duration,
    p99: Duration,
    max: Duration,
    missed: usize,
}

fn figures(sent: &HashMap<i64, Instant>, receipts: &Receipts, subscribers: usize) -> Figures {
    let receipts = receipts.lock().unwrap();
    let mut latencies = Vec::new();
    let mut missed = 0;
    for (n, at) in sent {
        let got = receipts.get(n).map_or(&[][..], Vec::as_slice);
        missed += subscribers.saturating_sub(got.len());
        latencies.extend(got.iter().map(|r| r.saturating_duration_since(*at)));
    }
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len().max(1) - 1) as f64 * q).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    Figures {
        p50: at(0.5),
        p99: at(0.99),
        max: latencies.last().copied().unwrap_or_default(),
        missed,
    }
}

fn print(name: &str, n: usize, f: &Figures, rss_per_subscriber_kib: f64) {
    println!(
        "{name:<8} {n:>6} subscribers: p50 {:>7.1} ms, p99 {:>7.1} ms, max {:>7.1} ms, missed {}, RSS {:.1} KiB per subscriber",
        f.p50.as_secs_f64() * 1000.0,
        f.p99.as_secs_f64() * 1000.0,
        f.max.as_secs_f64() * 1000.0,
        f.missed,
        rss_per_subscriber_kib,
    );
}

async fn wait_ready(ready: &AtomicUsize, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while ready.load(Ordering::Relaxed) + FAILED_CONNECTS.load(Ordering::Relaxed) < n
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Let the last subscriptions start on the server.
    tokio::time::sleep(Duration::from_secs(2)).await;
}

async fn commits(db: &TestDatabase) -> i64 {
    sqlx::query_scalar(
        "select xact_commit from pg_stat_database where datname = current_database()",
    )
    .fetch_one(&db.owner)
    .await
    .unwrap()
}

async fn service_run(n: usize, events: usize) {
    let db = TestDatabase::new().await;
    let service = Service::start(
        &db.url(),
        &[
            ("REGISTRY_WS_MAX_CONNECTIONS", "30000"),
            ("REGISTRY_WS_MAX_SUBSCRIPTIONS", "30000"),
            ("RUST_LOG", "warn,social_registry=info"),
        ],
    );
    let api = Api::new(&service);
    council::reference_data(&api).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pid = service.pid();
    let before_rss = rss_kib(pid);
    // The instance's own idle work (its projector polls), for comparison.
    let c0 = commits(&db).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let alone = (commits(&db).await - c0) as f64 / 5.0;
    let from = api.position().await;
    let url = format!("{}/graphql/ws", service.base_url.replacen("http", "ws", 1));
    let receipts: Receipts = Arc::default();
    let ready = Arc::new(AtomicUsize::new(0));
    let connecting = Arc::new(tokio::sync::Semaphore::new(256));
    FAILED_CONNECTS.store(0, Ordering::Relaxed);
    let token = as_(COMMS);
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        clients.push(tokio::spawn(subscriber(
            url.clone(),
            Some(token.clone()),
            "subscription($p: Int) { approvalActivity(role: COMMUNICATIONS, fromPosition: $p) { position } }",
            json!({"p": from}),
            |p| p["approvalActivity"]["position"].as_i64(),
            receipts.clone(),
            ready.clone(),
            connecting.clone(),
        )));
    }
    wait_ready(&ready, n).await;
    // Every subscription started on the server before measuring idleness.
    let want = ready.load(Ordering::Relaxed) as f64;
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let active = service
            .metrics()
            .await
            .get("websocket_subscriptions")
            .copied()
            .unwrap_or(0.0);
        if active >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss = rss_kib(pid);
    // Idle: nothing happens for five seconds.
    let c0 = commits(&db).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle = (commits(&db).await - c0) as f64 / 5.0;
    let applicant = as_(APPLICANT);
    let mut sent = HashMap::new();
    for i in 0..events {
        let started = Instant::now();
        let v = api
            .ok(
                Some(&applicant),
                "mutation($f: RegistrationFormInput!) { submitRegistration(form: $f) { position } }",
                json!({"f": council::form(1, "X", &format!("@NorthFan{n}x{i}"))}),
            )
            .await;
        let position = v["submitRegistration"]["position"].as_i64().unwrap();
        // The submission appends its registration event and the account
        // claim; the registration's is the one before the last.
        sent.insert(position - 1, Instant::now());
        tokio::time::sleep(Duration::from_secs(1).saturating_sub(started.elapsed())).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let subscribed = ready.load(Ordering::Relaxed);
    let f = figures(&sent, &receipts, subscribed);
    print(
        "service",
        n,
        &f,
        (rss.saturating_sub(before_rss)) as f64 / subscribed.max(1) as f64,
    );
    println!(
        "service  {n:>6}: {subscribed} subscribed, {} handshakes failed",
        FAILED_CONNECTS.load(Ordering::Relaxed)
    );
    println!(
        "service  {n:>6} subscribers idle: {idle:.1} database commits/s ({alone:.1} with no subscriber; server RSS {} MiB)",
        rss / 1024
    );
    for c in clients {
        c.abort();
    }
}

struct Bare {
    tx: broadcast::Sender<i64>,
}

struct BareQuery;

#[Object]
impl BareQuery {
    async fn ok(&self) -> bool {
        true
    }
}

struct BareSubscription;

#[Subscription]
impl BareSubscription {
    async fn ticks(&self, ctx: &async_graphql::Context<'_>) -> impl Stream<Item = i64> {
        let rx = ctx.data_unchecked::<Arc<Bare>>().tx.subscribe();
        tokio_stream::wrappers::BroadcastStream::new(rx).filter_map(|r| async move { r.ok() })
    }
}

/// The bare server, in a process of its own (this executable again, with
/// `BENCH_BARE_SERVER` set): a broadcast subscription `ticks`, and
/// `POST /publish/{n}` to send one.
async fn bare_server() {
    let (tx, _) = broadcast::channel(4096);
    let bare = Arc::new(Bare { tx: tx.clone() });
    let schema = Schema::build(BareQuery, EmptyMutation, BareSubscription)
        .data(bare)
        .finish();
    let app = axum::Router::new()
        .route_service(
            "/graphql/ws",
            async_graphql_axum::GraphQLSubscription::new(schema),
        )
        .route(
            "/publish/{n}",
            axum::routing::post(move |axum::extract::Path(n): axum::extract::Path<i64>| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(n);
                    "sent"
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("{}", listener.local_addr().unwrap());
    axum::serve(listener, app).await.unwrap();
}

async fn bare_run(n: usize, events: usize) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .env("BENCH_BARE_SERVER", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the bare server");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("the bare server's address");
    let address = line.trim().to_owned();
    let pid = child.id();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before_rss = rss_kib(pid);
    let receipts: Receipts = Arc::default();
    let ready = Arc::new(AtomicUsize::new(0));
    let connecting = Arc::new(tokio::sync::Semaphore::new(256));
    FAILED_CONNECTS.store(0, Ordering::Relaxed);
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        clients.push(tokio::spawn(subscriber(
            format!("ws://{address}/graphql/ws"),
            None,
            "subscription { ticks }",
            json!({}),
            |p| p["ticks"].as_i64(),
            receipts.clone(),
            ready.clone(),
            connecting.clone(),
        )));
    }
    wait_ready(&ready, n).await;
    let rss = rss_kib(pid);
    let http = reqwest::Client::new();
    let mut sent = HashMap::new();
    for i in 0..events as i64 {
        let started = Instant::now();
        http.post(format!("http://{address}/publish/{i}"))
            .send()
            .await
            .expect("publish");
        sent.insert(i, Instant::now());
        tokio::time::sleep(Duration::from_secs(1).saturating_sub(started.elapsed())).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let subscribed = ready.load(Ordering::Relaxed);
    let f = figures(&sent, &receipts, subscribed);
    print(
        "bare",
        n,
        &f,
        (rss.saturating_sub(before_rss)) as f64 / subscribed.max(1) as f64,
    );
    println!(
        "bare     {n:>6}: {subscribed} subscribed, {} handshakes failed",
        FAILED_CONNECTS.load(Ordering::Relaxed)
    );
    for c in clients {
        c.abort();
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let fds = fd_limit();
    if std::env::var_os("BENCH_BARE_SERVER").is_some() {
        bare_server().await;
        return;
    }
    let counts: Vec<usize> = std::env::var("BENCH_FANOUT")
        .unwrap_or_else(|_| "1000,5000,18000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let events: usize = std::env::var("BENCH_FANOUT_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    println!("fan-out: {events} submissions, one a second; open-file limit {fds}");
    for n in counts {
        bare_run(n, events).await;
        service_run(n, events).await;
    }
}
