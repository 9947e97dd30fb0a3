//! GraphQL subscriptions over WebSocket, with the limits that keep one
//! client from stalling the instance:
//!
//! - messages and frames of at most `max_message_bytes` (before and after
//!   sign-in), small read and write buffers;
//! - at most `messages_per_second` from the client (a burst of twice that);
//! - at most `max_subscriptions_per_connection` and `max_subscriptions` per
//!   instance, the excess refused with the protocol's `error` message;
//! - at most `max_connections` sockets per instance (503 before upgrading);
//! - a bounded outgoing queue: a client that does not read is closed (1008),
//!   it never makes the server hold its backlog;
//! - a WebSocket ping every `ping_interval`, and a peer that has sent
//!   nothing (not even a pong) for three intervals is closed;
//! - `connection_init` within 10 s (4408), and the socket closes with 4401
//!   when the token it was signed in with expires.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::{mpsc, watch};

/// Close codes this module sends.
pub mod close {
    /// RFC 6455 "going away": the instance is shutting down; reconnect.
    pub const GOING_AWAY: u16 = 1001;
    /// RFC 6455 "protocol error".
    pub const PROTOCOL: u16 = 1002;
    /// RFC 6455 "policy violation": too many messages, or not reading.
    pub const POLICY: u16 = 1008;
    /// RFC 6455 "message too big".
    pub const TOO_BIG: u16 = 1009;
    /// graphql-transport-ws "Unauthorized": the token expired.
    pub const UNAUTHORIZED: u16 = 4401;
    /// graphql-transport-ws "Connection initialisation timeout".
    pub const INIT_TIMEOUT: u16 = 4408;
}

/// How long a client has to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Limits of the WebSocket endpoint (`REGISTRY_WS_*`).
#[derive(Debug, Clone)]
pub struct WsLimits {
    /// Sockets per instance (`REGISTRY_WS_MAX_CONNECTIONS`, default 5,000).
    pub max_connections: usize,
    /// Subscriptions per instance (`REGISTRY_WS_MAX_SUBSCRIPTIONS`, default 20,000).
    pub max_subscriptions: usize,
    /// Subscriptions per socket (`REGISTRY_WS_MAX_SUBSCRIPTIONS_PER_CONNECTION`, default 20).
    pub max_subscriptions_per_connection: usize,
    /// Largest message or frame (`REGISTRY_WS_MAX_MESSAGE_BYTES`, default 64 KiB).
    pub max_message_bytes: usize,
    /// Client messages per second (`REGISTRY_WS_MESSAGES_PER_SECOND`, default 20).
    pub messages_per_second: u32,
    /// Outgoing messages held for a slow reader (`REGISTRY_WS_OUTGOING_QUEUE`, default 256).
    pub outgoing_queue: usize,
    /// Ping interval (`REGISTRY_WS_PING_SECONDS`, default 20).
    pub ping_interval: Duration,
}

impl Default for WsLimits {
    fn default() -> Self {
        WsLimits {
            max_connections: 5_000,
            max_subscriptions: 20_000,
            max_subscriptions_per_connection: 20,
            max_message_bytes: 64 * 1024,
            messages_per_second: 20,
            outgoing_queue: 256,
            ping_interval: Duration::from_secs(20),
        }
    }
}

impl WsLimits {
    /// Every limit must be at least 1.
    pub fn check(&self) -> anyhow::Result<()> {
        let named = [
            ("REGISTRY_WS_MAX_CONNECTIONS", self.max_connections),
            ("REGISTRY_WS_MAX_SUBSCRIPTIONS", self.max_subscriptions),
            (
                "REGISTRY_WS_MAX_SUBSCRIPTIONS_PER_CONNECTION",
                self.max_subscriptions_per_connection,
            ),
            ("REGISTRY_WS_MAX_MESSAGE_BYTES", self.max_message_bytes),
            (
                "REGISTRY_WS_MESSAGES_PER_SECOND",
                self.messages_per_second as usize,
            ),
            ("REGISTRY_WS_OUTGOING_QUEUE", self.outgoing_queue),
            (
                "REGISTRY_WS_PING_SECONDS",
                self.ping_interval.as_secs() as usize,
            ),
        ];
        for (name, value) in named {
            if value == 0 {
                anyhow::bail!("{name} must be at least 1");
            }
        }
        if self.max_message_bytes < 1024 {
            anyhow::bail!("REGISTRY_WS_MAX_MESSAGE_BYTES must be at least 1024");
        }
        Ok(())
    }
}

/// Sockets and subscriptions open on this instance.
#[derive(Debug, Default)]
pub struct WsCounters {
    connections: AtomicUsize,
    subscriptions: AtomicUsize,
}

impl WsCounters {
    /// Open sockets.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    /// Open subscriptions.
    pub fn subscriptions(&self) -> usize {
        self.subscriptions.load(Ordering::Relaxed)
    }

    /// Count a new socket, or refuse it when the instance is full.
    pub fn try_connect(self: &Arc<Self>, max: usize) -> Option<ConnectionSlot> {
        let previous = self.connections.fetch_add(1, Ordering::AcqRel);
        if previous >= max {
            self.connections.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(ConnectionSlot {
            counters: self.clone(),
            ids: Arc::new(Mutex::new(HashSet::new())),
        })
    }
}

/// One counted socket and the ids of its live subscriptions; dropping it
/// uncounts both.
#[derive(Debug)]
pub struct ConnectionSlot {
    counters: Arc<WsCounters>,
    ids: Arc<Mutex<HashSet<String>>>,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let held = self.ids.lock().map(|ids| ids.len()).unwrap_or(0);
        self.counters
            .subscriptions
            .fetch_sub(held, Ordering::AcqRel);
        self.counters.connections.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why a subscription was refused.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    Connection(usize),
    Instance,
}

/// The subscriptions of one socket, against both caps.
#[derive(Clone)]
struct Tracker {
    counters: Arc<WsCounters>,
    ids: Arc<Mutex<HashSet<String>>>,
    per_connection: usize,
    per_instance: usize,
}

impl Tracker {
    fn start(&self, id: &str) -> Result<(), Refusal> {
        let mut ids = self.ids.lock().expect("subscription ids");
        if ids.contains(id) {
            return Ok(());
        }
        if ids.len() >= self.per_connection {
            return Err(Refusal::Connection(self.per_connection));
        }
        let previous = self.counters.subscriptions.fetch_add(1, Ordering::AcqRel);
        if previous >= self.per_instance {
            self.counters.subscriptions.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::Instance);
        }
        ids.insert(id.to_owned());
        Ok(())
    }

    fn end(&self, id: &str) {
        if self.ids.lock().expect("subscription ids").remove(id) {
            self.counters.subscriptions.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// The parts of a graphql-ws / graphql-transport-ws message we route on.
#[derive(serde::Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
}

fn envelope(message: &Message) -> Option<Envelope> {
    match message {
        Message::Text(text) => serde_json::from_str(text.as_str()).ok(),
        Message::Binary(bytes) => serde_json::from_slice(bytes).ok(),
        _ => None,
    }
}

/// A token bucket: `rate` a second, bursts of `2 × rate`.
struct Bucket {
    rate: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(rate: u32) -> Self {
        Bucket {
            rate: f64::from(rate),
            tokens: f64::from(rate) * 2.0,
            at: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.rate * 2.0);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What the socket's watchdog and the message paths share.
struct Shared {
    /// Set once: the close code and reason to end the socket with.
    closing: watch::Sender<Option<(u16, String)>>,
    last_seen: Mutex<Instant>,
    initialised: std::sync::atomic::AtomicBool,
    /// When the signed-in token expires.
    expires_at: Mutex<Option<chrono::DateTime<chrono::Utc>>>,
    /// For a socket signed in by a staff session: whether it is still open
    /// (not signed out, not idle too long), asked every few seconds.
    session_open: Mutex<Option<SessionCheck>>,
}

/// Asks whether a staff session is still open.
pub type SessionCheck = Arc<dyn Fn() -> futures::future::BoxFuture<'static, bool> + Send + Sync>;

/// How often a session-signed socket asks whether its session is open.
const SESSION_CHECK_EVERY: Duration = Duration::from_secs(5);

impl Shared {
    fn close(&self, code: u16, reason: &str) {
        self.closing.send_if_modified(|current| {
            if current.is_none() {
                *current = Some((code, reason.to_owned()));
                true
            } else {
                false
            }
        });
    }
}

/// Hands the socket's signed-in token expiry to the watchdog.
#[derive(Clone)]
pub struct SessionClock(Arc<Shared>);

impl SessionClock {
    /// The socket signed in with a token that expires at `at`.
    pub fn signed_in(&self, at: Option<chrono::DateTime<chrono::Utc>>) {
        *self.0.expires_at.lock().expect("expiry") = at;
    }

    /// The socket signed in with a staff session: close it once `check`
    /// says the session has ended (sign-out, or the idle timeout).
    pub fn watch_session(&self, check: Option<SessionCheck>) {
        *self.0.session_open.lock().expect("session check") = check;
    }
}

/// The error message of a refused subscription, in the socket's protocol.
fn refusal_message(legacy: bool, id: &str, refusal: &Refusal) -> Message {
    let text = match refusal {
        Refusal::Connection(max) => {
            format!("at most {max} subscriptions may be open on one connection; complete one first")
        }
        Refusal::Instance => {
            "this instance holds as many subscriptions as it may; retry shortly".to_owned()
        }
    };
    let error = json!({
        "message": text,
        "extensions": { "code": "BAD_USER_INPUT", "limit": "subscriptions" },
    });
    let payload = if legacy { error } else { json!([error]) };
    Message::Text(
        json!({ "id": id, "type": "error", "payload": payload })
            .to_string()
            .into(),
    )
}

/// Serve one upgraded socket: `serve` runs the GraphQL protocol over the
/// filtered incoming stream and the bounded outgoing sink it is given.
pub async fn run<F, Fut>(
    socket: WebSocket,
    limits: WsLimits,
    slot: ConnectionSlot,
    legacy: bool,
    mut shutdown: watch::Receiver<bool>,
    serve: F,
) where
    F: FnOnce(
        futures::stream::BoxStream<'static, Result<Message, axum::Error>>,
        std::pin::Pin<Box<dyn futures::Sink<Message, Error = axum::Error> + Send>>,
        SessionClock,
    ) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (closing_tx, mut closing_rx) = watch::channel(None);
    let shared = Arc::new(Shared {
        closing: closing_tx,
        last_seen: Mutex::new(Instant::now()),
        initialised: std::sync::atomic::AtomicBool::new(false),
        expires_at: Mutex::new(None),
        session_open: Mutex::new(None),
    });
    let tracker = Tracker {
        counters: slot.counters.clone(),
        ids: slot.ids.clone(),
        per_connection: limits.max_subscriptions_per_connection,
        per_instance: limits.max_subscriptions,
    };
    let (mut ws_sink, ws_stream) = socket.split();
    let (out_tx, mut out_rx) = mpsc::channel::<Message>(limits.outgoing_queue);

    // The client's messages: counted, rate-limited, capped.
    let incoming = {
        let shared = shared.clone();
        let tracker = tracker.clone();
        let out_tx = out_tx.clone();
        let mut bucket = Bucket::new(limits.messages_per_second);
        ws_stream
            .filter_map(move |frame| {
                let outcome = match frame {
                    Err(e) => {
                        // tungstenite refuses a message over the limit.
                        let text = e.to_string();
                        if text.contains("too long") || text.contains("Space limit") {
                            shared.close(close::TOO_BIG, "message too big");
                        } else {
                            shared.close(close::PROTOCOL, "protocol error");
                        }
                        Some(Err(e))
                    }
                    Ok(message) => {
                        *shared.last_seen.lock().expect("last seen") = Instant::now();
                        let data = matches!(message, Message::Text(_) | Message::Binary(_));
                        if data && !bucket.take() {
                            shared.close(close::POLICY, "too many messages; slow down");
                            None
                        } else if let Some(env) = data.then(|| envelope(&message)).flatten() {
                            route(&env, &shared, &tracker, &out_tx, legacy).then_some(Ok(message))
                        } else {
                            Some(Ok(message))
                        }
                    }
                };
                futures::future::ready(outcome)
            })
            .boxed()
    };

    // The server's messages: a bounded queue that never waits.
    let sink = {
        let shared = shared.clone();
        let tracker = tracker.clone();
        let out_tx = out_tx.clone();
        futures::sink::unfold((), move |(), message: Message| {
            let shared = shared.clone();
            let tracker = tracker.clone();
            let out_tx = out_tx.clone();
            async move {
                if let Some(env) = envelope(&message) {
                    if env.kind == "complete" {
                        if let Some(id) = &env.id {
                            tracker.end(id);
                        }
                    }
                }
                match out_tx.try_send(message) {
                    Ok(()) => Ok(()),
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        shared.close(close::POLICY, "the client is not reading its messages");
                        Err(axum::Error::new("outgoing queue full"))
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => {
                        Err(axum::Error::new("connection closed"))
                    }
                }
            }
        })
    };
    let clock = SessionClock(shared.clone());
    let protocol = serve(incoming, Box::pin(sink), clock);

    // Writes to the socket; stops when a write does not complete in time
    // (the peer stopped reading and the kernel's buffers are full).
    let write_timeout = limits.ping_interval.max(Duration::from_secs(5));
    let writer = async {
        loop {
            tokio::select! {
                biased;
                _ = closing_rx.changed() => break,
                message = out_rx.recv() => {
                    let Some(message) = message else { break };
                    let closing = matches!(message, Message::Close(_));
                    match tokio::time::timeout(write_timeout, ws_sink.send(message)).await {
                        Ok(Ok(())) if !closing => {}
                        _ => return,
                    }
                }
            }
        }
        let reason = closing_rx.borrow().clone();
        if let Some((code, reason)) = reason {
            let frame = Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            }));
            let _ = tokio::time::timeout(Duration::from_secs(1), ws_sink.send(frame)).await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), ws_sink.close()).await;
    };

    // Pings, dead peers, the init deadline, token expiry and shutdown.
    let watchdog = {
        let shared = shared.clone();
        let out_tx = out_tx.clone();
        let started = Instant::now();
        async move {
            let mut tick = tokio::time::interval(limits.ping_interval.min(Duration::from_secs(1)));
            let mut last_ping = Instant::now();
            let mut last_session_check = Instant::now();
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = shutdown.wait_for(|stop| *stop) => {
                        shared.close(close::GOING_AWAY, "server shutting down; reconnect");
                        return;
                    }
                }
                let now = Instant::now();
                if !shared.initialised.load(Ordering::Acquire)
                    && now.duration_since(started) > INIT_TIMEOUT
                {
                    shared.close(close::INIT_TIMEOUT, "Connection initialisation timeout");
                    return;
                }
                let expires = *shared.expires_at.lock().expect("expiry");
                if expires.is_some_and(|at| at <= chrono::Utc::now()) {
                    shared.close(close::UNAUTHORIZED, "the token expired; sign in again");
                    return;
                }
                if now.duration_since(last_session_check) >= SESSION_CHECK_EVERY {
                    last_session_check = now;
                    let check = shared.session_open.lock().expect("session check").clone();
                    if let Some(check) = check {
                        if !check().await {
                            shared.close(close::UNAUTHORIZED, "the session ended; sign in again");
                            return;
                        }
                    }
                }
                let silent = now.duration_since(*shared.last_seen.lock().expect("last seen"));
                if silent > limits.ping_interval * 3 {
                    shared.close(close::GOING_AWAY, "no answer to pings");
                    return;
                }
                if now.duration_since(last_ping) >= limits.ping_interval {
                    last_ping = now;
                    if out_tx.try_send(Message::Ping(Default::default())).is_err() {
                        shared.close(close::POLICY, "the client is not reading its messages");
                        return;
                    }
                }
            }
        }
    };

    let mut closing_seen = shared.closing.subscribe();
    tokio::pin!(writer);
    tokio::select! {
        // The socket failed, or a close frame went out.
        _ = &mut writer => {}
        _ = protocol => {
            // The protocol ended (the client left, or it closed the socket
            // itself): let what it queued, its close frame included, go out.
            drop(out_tx);
            let _ = tokio::time::timeout(Duration::from_secs(2), &mut writer).await;
        }
        _ = async { drop(closing_seen.wait_for(Option::is_some).await) } => {
            let _ = tokio::time::timeout(Duration::from_secs(2), &mut writer).await;
        }
        _ = watchdog => {
            let _ = tokio::time::timeout(Duration::from_secs(2), &mut writer).await;
        }
    }
    let closed = shared.closing.borrow().clone();
    if let Some((code, reason)) = closed {
        tracing::info!(code, reason = %reason, "closed a WebSocket");
    }
    drop(slot);
}

/// Route one client message; false drops it (a refused subscription, its
/// refusal already queued).
fn route(
    env: &Envelope,
    shared: &Shared,
    tracker: &Tracker,
    out_tx: &mpsc::Sender<Message>,
    legacy: bool,
) -> bool {
    match env.kind.as_str() {
        "connection_init" => {
            shared.initialised.store(true, Ordering::Release);
            true
        }
        "subscribe" | "start" => {
            let Some(id) = env.id.as_deref() else {
                return true;
            };
            match tracker.start(id) {
                Ok(()) => true,
                Err(refusal) => {
                    if out_tx
                        .try_send(refusal_message(legacy, id, &refusal))
                        .is_err()
                    {
                        shared.close(close::POLICY, "the client is not reading its messages");
                    }
                    false
                }
            }
        }
        "complete" | "stop" => {
            if let Some(id) = env.id.as_deref() {
                tracker.end(id);
            }
            true
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker(per_connection: usize, per_instance: usize) -> (Tracker, ConnectionSlot) {
        let counters = Arc::new(WsCounters::default());
        let slot = counters.try_connect(10).unwrap();
        let t = Tracker {
            counters: counters.clone(),
            ids: slot.ids.clone(),
            per_connection,
            per_instance,
        };
        (t, slot)
    }

    #[test]
    fn subscriptions_beyond_the_connection_cap_are_refused_until_one_completes() {
        let (t, _slot) = tracker(2, 100);
        assert_eq!(t.start("1"), Ok(()));
        assert_eq!(t.start("2"), Ok(()));
        assert_eq!(t.start("3"), Err(Refusal::Connection(2)));
        t.end("1");
        assert_eq!(t.start("3"), Ok(()));
        assert_eq!(t.counters.subscriptions(), 2);
    }

    #[test]
    fn the_instance_cap_counts_every_connection_and_a_closed_socket_gives_its_share_back() {
        let counters = Arc::new(WsCounters::default());
        let a = counters.try_connect(10).unwrap();
        let b = counters.try_connect(10).unwrap();
        let ta = Tracker {
            counters: counters.clone(),
            ids: a.ids.clone(),
            per_connection: 10,
            per_instance: 3,
        };
        let tb = Tracker {
            ids: b.ids.clone(),
            ..ta.clone()
        };
        assert_eq!(ta.start("1"), Ok(()));
        assert_eq!(ta.start("2"), Ok(()));
        assert_eq!(tb.start("1"), Ok(()));
        assert_eq!(tb.start("2"), Err(Refusal::Instance));
        drop(a);
        assert_eq!(counters.subscriptions(), 1);
        assert_eq!(counters.connections(), 1);
        assert_eq!(tb.start("2"), Ok(()));
    }

    #[test]
    fn connections_beyond_the_cap_are_refused() {
        let counters = Arc::new(WsCounters::default());
        let first = counters.try_connect(1);
        assert!(first.is_some());
        assert!(counters.try_connect(1).is_none());
        drop(first);
        assert!(counters.try_connect(1).is_some());
    }

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let mut b = Bucket::new(5);
        let allowed = (0..20).filter(|_| b.take()).count();
        assert_eq!(allowed, 10);
    }
}
