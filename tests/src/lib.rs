//! Helpers for black-box tests: start the built `social-registry` binary
//! against a test database and talk to it over real HTTP.

pub mod council;
pub mod smtp;
pub mod staff;
pub mod webhook;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// The built binary: `REGISTRY_BIN`, or `social-registry` beside this test's
/// own executable's target directory (scripts/test builds it first).
pub fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("REGISTRY_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let bin = dir.join("social-registry");
    assert!(
        bin.exists(),
        "{} is missing: build it first (`cargo build --bin social-registry`; scripts/test does)",
        bin.display()
    );
    bin
}

/// A running instance of the service, stopped (SIGKILL) when dropped.
pub struct Service {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    data_dir: PathBuf,
    /// Every line the service has written to stdout (its JSON logs).
    pub logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Service {
    /// Start `social-registry serve` on a free port with extra environment,
    /// and wait until it logs the address it listens on.
    pub fn start(database_url: &str, env: &[(&str, &str)]) -> Service {
        Service::start_binary(&binary(), database_url, env)
    }

    /// [`Service::start`] with another build of the binary (a benchmark's
    /// baseline, say).
    pub fn start_binary(
        binary: &std::path::Path,
        database_url: &str,
        env: &[(&str, &str)],
    ) -> Service {
        let data_dir = std::env::temp_dir().join(format!("registry-test-{}", uuid::Uuid::new_v4()));
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            // As deployed: the service logs in as its own role, migrations
            // run as the owner.
            .env(
                "DATABASE_URL",
                event_store::testing::runtime_url_for(database_url),
            )
            .env("REGISTRY_MIGRATION_DATABASE_URL", database_url)
            .env("REGISTRY_LISTEN", "127.0.0.1:0")
            .env("REGISTRY_DATA_DIR", &data_dir)
            .env("RUST_LOG", "info")
            .env("REGISTRY_JWT_SECRET", TEST_JWT_SECRET)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start social-registry");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = logs.clone();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !sent {
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                        if v["message"] == "listening" {
                            let _ = tx.send(v["address"].as_str().unwrap_or_default().to_owned());
                            sent = true;
                        }
                    }
                }
                // Keep draining so the service never blocks on a full pipe.
                if std::env::var_os("REGISTRY_TEST_ECHO").is_some() {
                    eprintln!("{line}");
                }
                kept.lock().expect("log lines").push(line);
            }
        });
        let address = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the service logged `listening` with its address");
        Service {
            child,
            base_url: format!("http://{address}"),
            data_dir,
            logs,
        }
    }

    /// The process id, for sending signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send SIGTERM without waiting.
    pub fn signal_term(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Wait (bounded) for the process to exit.
    pub fn wait_exit(mut self) -> std::process::ExitStatus {
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the service did not exit within 30 s");
    }

    /// SIGKILL: a crash.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Scrape `/metrics`: each sample line's name with labels → value.
    pub async fn metrics(&self) -> std::collections::BTreeMap<String, f64> {
        let text = reqwest::get(format!("{}/metrics", self.base_url))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics text");
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let (k, v) = l.rsplit_once(' ')?;
                Some((k.to_owned(), v.parse().ok()?))
            })
            .collect()
    }

    /// Send SIGTERM and wait (bounded) for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the service did not exit within 30 s of SIGTERM");
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Run a subcommand of the binary to completion.
pub fn run(database_url: &str, args: &[&str]) -> Output {
    run_with(database_url, args, &[])
}

/// Run a subcommand with extra environment.
pub fn run_with(database_url: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(binary());
    command
        .args(args)
        .env(
            "DATABASE_URL",
            event_store::testing::runtime_url_for(database_url),
        )
        .env("REGISTRY_MIGRATION_DATABASE_URL", database_url)
        .env("REGISTRY_LOG_FORMAT", "json");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("run social-registry")
}

/// The HS256 secret every test service is started with.
pub const TEST_JWT_SECRET: &str = "black-box-tests-only-secret-0123456789";

/// A development token (HS256) for `subject` with `roles`, valid for an hour.
pub fn token(subject: &str, roles: &[&str]) -> String {
    token_with(subject, roles, |_| {})
}

/// A development token whose claims `edit` may change (expiry, issuer…).
pub fn token_with(
    subject: &str,
    roles: &[&str],
    edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> String {
    let now = now();
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), subject.into());
    claims.insert("name".into(), format!("Name of {subject}").into());
    claims.insert(
        "roles".into(),
        roles.iter().map(|r| serde_json::Value::from(*r)).collect(),
    );
    claims.insert("iss".into(), "social-registry-dev".into());
    claims.insert("aud".into(), "social-registry".into());
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), (now + 3600).into());
    edit(&mut claims);
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
    )
    .expect("sign a test token")
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// A GraphQL client for one service.
#[derive(Clone)]
pub struct Api {
    /// The HTTP client.
    pub client: reqwest::Client,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
}

impl Api {
    /// A client for `service`.
    pub fn new(service: &Service) -> Api {
        Api {
            client: reqwest::Client::new(),
            base: service.base_url.clone(),
        }
    }

    /// POST a GraphQL request; the whole response body (data and errors).
    pub async fn post(
        &self,
        token: Option<&str>,
        query: &str,
        variables: serde_json::Value,
    ) -> serde_json::Value {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.base))
            .json(&serde_json::json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        let response = request.send().await.expect("POST /graphql");
        response.json().await.expect("a JSON body")
    }

    /// POST and expect no errors: the `data`.
    pub async fn ok(
        &self,
        token: Option<&str>,
        query: &str,
        variables: serde_json::Value,
    ) -> serde_json::Value {
        let body = self.post(token, query, variables).await;
        assert!(
            body.get("errors")
                .is_none_or(|e| e.as_array().is_some_and(|a| a.is_empty())),
            "unexpected errors for {query}: {body:#}"
        );
        body["data"].clone()
    }

    /// The log's head position (`logPosition`), to subscribe from.
    pub async fn position(&self) -> i64 {
        let t = token("u-position-reader", &["staff"]);
        self.ok(Some(&t), "{ logPosition }", serde_json::json!({}))
            .await["logPosition"]
            .as_i64()
            .expect("a position")
    }

    /// POST and expect an error: its `extensions.code`.
    pub async fn code(
        &self,
        token: Option<&str>,
        query: &str,
        variables: serde_json::Value,
    ) -> String {
        let body = self.post(token, query, variables).await;
        error_code(&body).unwrap_or_else(|| panic!("expected an error for {query}: {body:#}"))
    }
}

/// The `extensions.code` of the first error of a GraphQL body.
pub fn error_code(body: &serde_json::Value) -> Option<String> {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .map(str::to_owned)
}

/// A GraphQL WebSocket client (graphql-transport-ws, or the legacy
/// graphql-ws protocol).
pub struct Ws {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    legacy: bool,
}

impl Ws {
    /// Connect to `/graphql/ws` and initialise with `token`; `Err` with what
    /// the server said when it did not acknowledge.
    pub async fn connect(base: &str, token: Option<&str>, legacy: bool) -> Result<Ws, String> {
        Ws::connect_with(base, token, legacy, &[]).await
    }

    /// [`Ws::connect`], with extra headers on the upgrade request (a
    /// browser's `Cookie` and `Origin`).
    pub async fn connect_with(
        base: &str,
        token: Option<&str>,
        legacy: bool,
        headers: &[(&'static str, &str)],
    ) -> Result<Ws, String> {
        use futures::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        use tokio_tungstenite::tungstenite::Message;
        let url = format!("{}/graphql/ws", base.replacen("http", "ws", 1));
        let mut request = url.into_client_request().map_err(|e| e.to_string())?;
        let protocol = if legacy {
            "graphql-ws"
        } else {
            "graphql-transport-ws"
        };
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocol.parse().unwrap());
        for (name, value) in headers {
            request
                .headers_mut()
                .insert(*name, value.parse().map_err(|_| format!("bad {name}"))?);
        }
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| e.to_string())?;
        let payload = match token {
            Some(t) => serde_json::json!({ "authorization": format!("Bearer {t}") }),
            None => serde_json::json!({}),
        };
        let init = serde_json::json!({ "type": "connection_init", "payload": payload });
        socket
            .send(Message::Text(init.to_string().into()))
            .await
            .map_err(|e| e.to_string())?;
        loop {
            let next = tokio::time::timeout(Duration::from_secs(10), socket.next())
                .await
                .map_err(|_| "no answer to connection_init".to_owned())?;
            match next {
                Some(Ok(Message::Text(text))) => {
                    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                    match v["type"].as_str() {
                        Some("connection_ack") => return Ok(Ws { socket, legacy }),
                        Some("ka") => continue,
                        _ => return Err(text.to_string()),
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(format!("closed: {frame:?}"));
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("closed".into()),
            }
        }
    }

    /// Start a subscription with this id.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: serde_json::Value) {
        use futures::SinkExt;
        let kind = if self.legacy { "start" } else { "subscribe" };
        let message = serde_json::json!({
            "id": id, "type": kind,
            "payload": { "query": query, "variables": variables },
        });
        self.socket
            .send(tokio_tungstenite::tungstenite::Message::Text(
                message.to_string().into(),
            ))
            .await
            .expect("send subscribe");
    }

    /// The next result (`payload` of a `next`/`data` message) or error
    /// message, waiting at most `within`; `None` on timeout or close.
    pub async fn next(&mut self, within: Duration) -> Option<serde_json::Value> {
        use futures::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let next = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()??;
            match next.ok()? {
                Message::Text(text) => {
                    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
                    match v["type"].as_str() {
                        Some("next" | "data") => return Some(v["payload"].clone()),
                        Some("error") => {
                            return Some(serde_json::json!({ "errors": v["payload"] }))
                        }
                        Some("ping") => {
                            let pong = serde_json::json!({ "type": "pong" }).to_string();
                            self.socket.send(Message::Text(pong.into())).await.ok()?;
                        }
                        // A finished subscription; others may go on.
                        Some("complete") => {}
                        _ => {}
                    }
                }
                Message::Close(_) => return None,
                _ => {}
            }
        }
    }

    /// Wait for the server to close the connection: its close code
    /// (ignoring any results still arriving), or `None` on timeout.
    pub async fn close_code(&mut self, within: Duration) -> Option<u16> {
        use futures::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()?
            {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// Drop the connection without saying goodbye.
    pub fn drop_connection(self) {
        drop(self.socket);
    }
}
