//! A real HTTP receiver for the webhook tests: it answers each request as
//! its script says (a status, or no answer at all until the sender gives
//! up), and verifies every request's signature with the Standard Webhooks
//! reference library, as a council's own receiver would.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// With this status (and a short body).
    Status(u16),
    /// Not at all for this long (longer than the sender waits).
    Hang(Duration),
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Hit {
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp`.
    pub timestamp: String,
    /// The body's bytes.
    pub body: Vec<u8>,
    /// True when the signature verified with the endpoint's secret.
    pub verified: bool,
    /// What the receiver answered.
    pub answer: Answer,
}

#[derive(Debug, Default)]
struct Inner {
    secret: Option<String>,
    script: VecDeque<Answer>,
    otherwise: Option<Answer>,
    hits: Vec<Hit>,
}

/// The running receiver.
#[derive(Debug, Clone)]
pub struct Receiver {
    /// Its address, e.g. `http://127.0.0.1:4321/hook`.
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let answer = {
        let mut i = inner.lock().expect("receiver");
        let answer = i
            .script
            .pop_front()
            .or(i.otherwise)
            .unwrap_or(Answer::Status(200));
        let verified = i.secret.as_deref().is_some_and(|s| {
            standardwebhooks::Webhook::new(s)
                .and_then(|w| w.verify(&body, &headers))
                .is_ok()
        });
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        i.hits.push(Hit {
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp"),
            body: body.to_vec(),
            verified,
            answer,
        });
        answer
    };
    match answer {
        Answer::Status(s) => (
            StatusCode::from_u16(s).expect("a status"),
            format!("receiver answered {s}"),
        ),
        Answer::Hang(d) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, "too late".into())
        }
    }
}

impl Receiver {
    /// Listen on a free port.
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let inner: Arc<Mutex<Inner>> = Arc::default();
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            inner,
        }
    }

    /// The secret to verify with (from the endpoint's registration).
    pub fn set_secret(&self, secret: &str) {
        self.inner.lock().expect("receiver").secret = Some(secret.to_owned());
    }

    /// Answer the next requests so, in order; then `otherwise`.
    pub fn script(&self, answers: &[Answer], otherwise: Answer) {
        let mut i = self.inner.lock().expect("receiver");
        i.script = answers.iter().copied().collect();
        i.otherwise = Some(otherwise);
    }

    /// Every request so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.inner.lock().expect("receiver").hits.clone()
    }

    /// Wait (up to 20 s) until `done` holds for the requests so far.
    pub async fn wait_until(&self, what: &str, done: impl Fn(&[Hit]) -> bool) -> Vec<Hit> {
        for _ in 0..400 {
            let hits = self.hits();
            if done(&hits) {
                return hits;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the receiver never saw {what}: {:?}", self.hits());
    }
}
