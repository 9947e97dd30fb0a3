//! One member of staff, or one anonymous client, cannot stall the service
//! or reach what is not theirs: query cost, WebSocket limits, idempotency
//! scoped to the caller, NUL characters, timeouts, the database role, the
//! report form's limiter. Each test drives the real binary over real
//! sockets.

use std::time::Duration;

use blackbox_tests::council::{self, as_, people::*, submit};
use blackbox_tests::{error_code, token_with, Api, Service, Ws};
use event_store::testing::TestDatabase;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

/// The server's resident memory, in MiB, from `/proc`.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib / 1024.0
}

async fn metric(service: &Service, name: &str) -> f64 {
    service.metrics().await.get(name).copied().unwrap_or(0.0)
}

/// The review's query: 15 aliased pages of 100, each spreading a fragment
/// with 15 aliases of a personal field.
fn the_stalling_query() -> String {
    let contacts: Vec<String> = (0..15)
        .map(|i| format!("c{i}: businessContact {{ name email }}"))
        .collect();
    let pages: Vec<String> = (0..15)
        .map(|i| {
            format!("p{i}: registrations(first: 100) {{ edges {{ node {{ ...contacts }} }} }}")
        })
        .collect();
    format!(
        "query {{ {} }} fragment contacts on Registration {{ {} }}",
        pages.join(" "),
        contacts.join(" ")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_whose_cost_grows_through_pages_fragments_and_spreads_is_refused_before_it_runs() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    let comms = as_(COMMS);
    let body = api
        .post(Some(&comms), &the_stalling_query(), json!({}))
        .await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("BAD_USER_INPUT"),
        "{body}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["limit"], "aliases",
        "{body}"
    );
    // Fewer aliases, but each page asks for many fields of 100 items.
    let fields = "id version status level accountKey accountUrl serviceArea submittedAt";
    let query = format!(
        "query {{ a: registrations(first: 100) {{ edges {{ node {{ ...f }} }} }} b: registrations(first: 100) {{ edges {{ node {{ ...f }} }} }} \
         c: registrations(first: 100) {{ edges {{ node {{ ...f }} }} }} }} \
         fragment f on Registration {{ {fields} businessContact {{ name email phone }} details {{ ... on ParticipateDetails {{ officer {{ name email }} }} }} }}"
    );
    let body = api.post(Some(&comms), &query, json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["limit"], "cost", "{body}");
    // The same page of 20 is fine.
    let query = format!("{{ registrations(first: 20) {{ edges {{ node {{ {fields} businessContact {{ name email }} }} }} }} }}");
    api.ok(Some(&comms), &query, json!({})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_personal_value_of_a_response_is_opened_with_one_vault_look_up() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    for i in 0..12 {
        submit(&api, council::form(3, "X", &format!("@NorthVault{i}"))).await;
    }
    let position = api.position().await;
    let before = metric(&service, "vault_operations_total{operation=\"load_keys\"}").await;
    let opened_before = metric(&service, "vault_operations_total{operation=\"open\"}").await;
    let data = api
        .ok(
            Some(&as_(COMMS)),
            "query($p: Int) { registrations(first: 50, atLeastPosition: $p) { edges { node { \
               businessContact { name email phone } details { ... on ParticipateDetails { officer { name email } lineManager { name } } } } } } }",
            json!({"p": position}),
        )
        .await;
    let edges = data["registrations"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 12);
    assert_eq!(edges[0]["node"]["businessContact"]["name"], "Casey Contact");
    let loads = metric(&service, "vault_operations_total{operation=\"load_keys\"}").await - before;
    let opened =
        metric(&service, "vault_operations_total{operation=\"open\"}").await - opened_before;
    assert!(opened >= 12.0 * 6.0, "{opened} values opened");
    assert!(
        (1.0..=2.0).contains(&loads),
        "{loads} vault look-ups for {opened} personal values"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_large_legitimate_reads_keep_the_server_small_and_public_reads_answering() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[("REGISTRY_DB_MAX_CONNECTIONS", "8")]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    for i in 0..30 {
        submit(&api, council::form(1, "X", &format!("@NorthLoad{i}"))).await;
    }
    let position = api.position().await;
    let before = rss_mib(service.pid());
    let query = format!("{{ a: registrations(first: 100, atLeastPosition: {position}) {{ edges {{ node {{ id businessContact {{ name email phone }} }} }} }} \
                   b: registrations(first: 100) {{ edges {{ node {{ id businessContact {{ name }} }} }} }} }}");
    let comms = as_(COMMS);
    let mut tasks = Vec::new();
    for _ in 0..24 {
        let (api, comms, query) = (api.clone(), comms.clone(), query.clone());
        tasks.push(tokio::spawn(async move {
            api.post(Some(&comms), &query, json!({})).await
        }));
    }
    // Public reads go on meanwhile.
    let public = api
        .ok(
            None,
            "{ verifyAccount(input: \"@nobody\") { status } }",
            json!({}),
        )
        .await;
    assert_eq!(public["verifyAccount"]["status"], "UNKNOWN");
    for t in tasks {
        let body = t.await.unwrap();
        assert!(body["errors"].is_null(), "{body}");
        assert_eq!(body["data"]["a"]["edges"].as_array().unwrap().len(), 30);
    }
    let after = rss_mib(service.pid());
    eprintln!("server RSS: {before:.1} MiB before, {after:.1} MiB after 24 concurrent reads");
    assert!(after < 200.0, "RSS {after:.1} MiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_beyond_the_caps_are_refused_with_the_protocols_error() {
    let db = TestDatabase::new().await;
    let service = Service::start(
        &db.url(),
        &[
            ("REGISTRY_WS_MAX_SUBSCRIPTIONS_PER_CONNECTION", "3"),
            ("REGISTRY_WS_MAX_SUBSCRIPTIONS", "5"),
            ("REGISTRY_WS_MAX_CONNECTIONS", "3"),
        ],
    );
    let comms = as_(COMMS);
    let query = "subscription { approvalActivity(role: COMMUNICATIONS) { eventType } }";
    let mut a = Ws::connect(&service.base_url, Some(&comms), false)
        .await
        .unwrap();
    for id in ["1", "2", "3", "4"] {
        a.subscribe(id, query, json!({})).await;
    }
    let refused = a
        .next(Duration::from_secs(10))
        .await
        .expect("an error message");
    assert_eq!(
        refused["errors"][0]["extensions"]["limit"], "subscriptions",
        "{refused}"
    );
    assert!(refused["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("at most 3"));
    // The instance cap counts every socket: 3 here, 2 more there, then no more.
    let mut b = Ws::connect(&service.base_url, Some(&comms), false)
        .await
        .unwrap();
    for id in ["1", "2", "3"] {
        b.subscribe(id, query, json!({})).await;
    }
    let refused = b
        .next(Duration::from_secs(10))
        .await
        .expect("an error message");
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("this instance"),
        "{refused}"
    );
    // A third socket is allowed, a fourth refused before upgrading.
    let _c = Ws::connect(&service.base_url, Some(&comms), false)
        .await
        .unwrap();
    let fourth = Ws::connect(&service.base_url, Some(&comms), false).await;
    assert!(fourth.is_err(), "a fourth connection is refused");
    let status = reqwest::Client::new()
        .get(format!("{}/graphql/ws", service.base_url))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-protocol", "graphql-transport-ws")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 503);
    assert_eq!(metric(&service, "websocket_connections").await, 3.0);
    assert_eq!(metric(&service, "websocket_subscriptions").await, 5.0);
}

async fn raw_ws(
    base: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("{}/graphql/ws", base.replacen("http", "ws", 1))
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

async fn close_code_of(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    within: Duration,
) -> Option<u16> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, socket.next())
            .await
            .ok()?
        {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Some(0),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_flooding_websocket_clients_are_closed_and_memory_stays_bounded() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let before = rss_mib(service.pid());
    // Four unauthenticated 1 MiB connection_init messages: each socket is
    // closed at the 64 KiB limit, before anything is parsed.
    for _ in 0..4 {
        let mut socket = raw_ws(&service.base_url).await;
        let big = format!(
            "{{\"type\":\"connection_init\",\"payload\":{{\"x\":\"{}\"}}}}",
            "a".repeat(1024 * 1024)
        );
        let _ = socket.send(Message::Text(big.into())).await;
        let code = close_code_of(&mut socket, Duration::from_secs(10)).await;
        assert!(
            matches!(code, Some(1009) | Some(0)),
            "closed as too big: {code:?}"
        );
    }
    // A flood of small messages: closed for its rate.
    let mut socket = raw_ws(&service.base_url).await;
    let init = json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {}", as_(STRANGER))}});
    socket
        .send(Message::Text(init.to_string().into()))
        .await
        .unwrap();
    let ping = json!({"type": "ping"}).to_string();
    let mut sent = 0;
    for _ in 0..2_000 {
        if socket
            .send(Message::Text(ping.clone().into()))
            .await
            .is_err()
        {
            break;
        }
        sent += 1;
    }
    let code = close_code_of(&mut socket, Duration::from_secs(10)).await;
    assert_eq!(
        code,
        Some(1008),
        "flood closed with policy violation after {sent} messages"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_mib(service.pid());
    eprintln!(
        "server RSS: {before:.1} MiB before, {after:.1} MiB after oversized and flooding clients"
    );
    assert!(
        after < before + 64.0,
        "RSS grew from {before:.1} to {after:.1} MiB"
    );
    assert_eq!(metric(&service, "websocket_connections").await, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads_is_closed_without_holding_its_backlog() {
    let db = TestDatabase::new().await;
    let service = Service::start(
        &db.url(),
        &[
            ("REGISTRY_WS_OUTGOING_QUEUE", "16"),
            ("REGISTRY_WS_PING_SECONDS", "1"),
        ],
    );
    let api = Api::new(&service);
    council::reference_data(&api).await;
    for i in 0..40 {
        submit(&api, council::form(1, "X", &format!("@NorthSlow{i}"))).await;
    }
    let before = rss_mib(service.pid());
    // A raw socket with a tiny receive buffer that subscribes to the whole
    // log and then never reads.
    let address = service.base_url.trim_start_matches("http://").to_owned();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(address.parse().unwrap()).await.unwrap();
    let handshake = format!(
        "GET /graphql/ws HTTP/1.1\r\nHost: {address}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
    );
    stream.write_all(handshake.as_bytes()).await.unwrap();
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("101"));
    let auditor = as_(AUDITOR);
    for text in [
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {auditor}")}}),
        json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { events(fromPosition: 0) { position type payload metadata } }"}}),
    ] {
        stream
            .write_all(&client_frame(text.to_string().as_bytes()))
            .await
            .unwrap();
    }
    // Meanwhile a well-behaved subscriber is served.
    let mut good = Ws::connect(&service.base_url, Some(&as_(COMMS)), false)
        .await
        .unwrap();
    good.subscribe(
        "g",
        "subscription { approvalActivity(role: COMMUNICATIONS) { eventType } }",
        json!({}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    submit(&api, council::form(1, "X", "@NorthWhileSlow")).await;
    let seen = good
        .next(Duration::from_secs(10))
        .await
        .expect("the good subscriber is served");
    assert_eq!(
        seen["data"]["approvalActivity"]["eventType"],
        "RegistrationSubmitted"
    );
    // The server gives up on the reader that does not read.
    let mut closed = false;
    let mut more = 0;
    for _ in 0..60 {
        if metric(&service, "websocket_connections").await <= 1.0 {
            closed = true;
            break;
        }
        for _ in 0..5 {
            more += 1;
            submit(&api, council::form(1, "X", &format!("@NorthMore{more}"))).await;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(closed, "the non-reading socket was closed");
    let after = rss_mib(service.pid());
    eprintln!("server RSS: {before:.1} MiB before, {after:.1} MiB after a non-reading subscriber");
    assert!(
        after < before + 64.0,
        "RSS grew from {before:.1} to {after:.1} MiB"
    );
    drop(stream);
}

/// A masked client text frame (RFC 6455), for the raw socket above.
fn client_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x81u8];
    let mask = [1u8, 2, 3, 4];
    if payload.len() < 126 {
        frame.push(0x80 | payload.len() as u8);
    } else {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_are_pinged_and_stay_open_and_a_socket_closes_when_its_token_expires() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[("REGISTRY_WS_PING_SECONDS", "1")]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    // Idle for longer than three ping intervals: still open, still served.
    let mut idle = Ws::connect(&service.base_url, Some(&as_(COMMS)), false)
        .await
        .unwrap();
    // Reading (as a browser always does) answers the server's pings.
    assert_eq!(
        idle.close_code(Duration::from_secs(5)).await,
        None,
        "still open"
    );
    idle.subscribe(
        "1",
        "subscription { approvalActivity(role: COMMUNICATIONS) { eventType } }",
        json!({}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    submit(&api, council::form(1, "X", "@NorthIdle")).await;
    assert!(idle.next(Duration::from_secs(10)).await.is_some());
    // A token that expires in 3 s: the socket is closed with 4401.
    let short = token_with("u-comms", &["staff", "communications"], |c| {
        c["exp"] = json!(blackbox_tests::now() + 3);
    });
    let mut expiring = Ws::connect(&service.base_url, Some(&short), false)
        .await
        .unwrap();
    expiring
        .subscribe(
            "1",
            "subscription { approvalActivity(role: COMMUNICATIONS) { eventType } }",
            json!({}),
        )
        .await;
    assert_eq!(
        expiring.close_code(Duration::from_secs(10)).await,
        Some(4401)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_never_initialises_is_closed_with_4408() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let mut socket = raw_ws(&service.base_url).await;
    assert_eq!(
        close_code_of(&mut socket, Duration::from_secs(20)).await,
        Some(4408)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_callers_idempotency_key_replays_nothing_of_their_registration() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let id = submit(&api, council::form(1, "X", "@NorthIdem")).await;
    let withdraw = "mutation($id: UUID!, $k: String) { withdrawRegistration(id: $id, reason: \"Closing\", idempotencyKey: $k) { \
                     deduplicated registration { applicant accountKey businessContact { name } } } }";
    let call = |who| {
        let (api, id) = (api.clone(), id.clone());
        async move {
            api.post(Some(&as_(who)), withdraw, json!({"id": id, "k": "retry-1"}))
                .await
        }
    };
    let first = call(APPLICANT).await;
    assert_eq!(
        first["data"]["withdrawRegistration"]["deduplicated"], false,
        "{first}"
    );
    // The applicant's retry returns the first outcome.
    let again = call(APPLICANT).await;
    assert_eq!(
        again["data"]["withdrawRegistration"]["deduplicated"], true,
        "{again}"
    );
    // An outsider with the same key learns nothing.
    let body = call(STRANGER).await;
    let code = error_code(&body);
    assert!(
        matches!(
            code.as_deref(),
            Some("FORBIDDEN") | Some("NOT_FOUND") | Some("INVALID_TRANSITION")
        ),
        "{body}"
    );
    let text = body.to_string();
    assert!(
        !text.contains("Casey Contact")
            && !text.contains("u-applicant")
            && !text.contains("northidem"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_characters_are_refused_naming_the_field() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    let client = reqwest::Client::new();
    for path in [
        "/directory?q=%00",
        "/officers/%00",
        "/verify?account=a%00b",
        "/report?account=%00",
    ] {
        let response = client
            .get(format!("{}{path}", service.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400, "{path}");
        let text = response.text().await.unwrap();
        assert!(text.contains("NUL"), "{path}: {text}");
    }
    let body = api
        .post(
            Some(&as_(COMMS)),
            "query($s: String) { registrations(filter: { search: $s }) { edges { node { id } } } }",
            json!({"s": "x\u{0}y"}),
        )
        .await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("BAD_USER_INPUT"),
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["field"], "variables.s");
    let body = api
        .post(
            Some(&as_(DPO)),
            r#"{ personalDataHeldFor(subject: "u\u0000x") { person } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("BAD_USER_INPUT"),
        "{body}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["field"],
        "personalDataHeldFor.subject"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_someone_the_vault_never_held_is_refused_and_appends_nothing() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let before = api.position().await;
    let body = api
        .post(
            Some(&as_(DPO)),
            "mutation { erasePersonalData(subject: \"u-never-existed\", reason: \"fuzz\") { position } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body).as_deref(), Some("NOT_FOUND"), "{body}");
    assert_eq!(api.position().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_with_an_audience_list_and_without_iat_are_accepted() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    let listed = token_with("u-list", &["staff"], |c| {
        c["aud"] = json!(["account", "social-registry"]);
        c.remove("iat");
    });
    let data = api.ok(Some(&listed), "{ me { subject } }", json!({})).await;
    assert_eq!(data["me"]["subject"], "u-list");
    let wrong = token_with("u-list", &["staff"], |c| {
        c["roles"] = json!("staff");
    });
    let body = api
        .post(Some(&wrong), "{ me { subject } }", json!({}))
        .await;
    assert_eq!(error_code(&body).as_deref(), Some("UNAUTHENTICATED"));
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("roles"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickled_headers_and_bodies_are_cut_off() {
    let db = TestDatabase::new().await;
    let service = Service::start(
        &db.url(),
        &[
            ("REGISTRY_HEADER_TIMEOUT_SECONDS", "1"),
            ("REGISTRY_REQUEST_TIMEOUT_SECONDS", "2"),
        ],
    );
    let address = service.base_url.trim_start_matches("http://").to_owned();
    // Headers that never finish.
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server closed the connection");
    // A body that trickles: the request is answered 408 and closed.
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    stream
        .write_all(b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        for _ in 0..40 {
            if stream.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
    .await;
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    // Ordinary requests are unaffected.
    let ok = reqwest::get(format!("{}/healthz", service.base_url))
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_limit_counts_the_client_our_proxy_saw_not_what_it_claims() {
    let db = TestDatabase::new().await;
    let service = Service::start(
        &db.url(),
        &[
            ("REGISTRY_TRUSTED_PROXIES", "1"),
            ("REGISTRY_REPORTS_PER_HOUR", "2"),
        ],
    );
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for i in 0..4 {
        let response = client
            .post(format!("{}/report", service.base_url))
            .header("x-forwarded-for", format!("10.9.9.{i}, 203.0.113.7"))
            .form(&[
                ("account", "@FakeNorth"),
                ("details", "Secret detail about Mrs Example"),
            ])
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429, 429]);
    // Another client behind the same proxy is not affected.
    let response = client
        .post(format!("{}/report", service.base_url))
        .header("x-forwarded-for", "203.0.113.8")
        .form(&[("account", "@FakeNorth"), ("details", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    // The free text is in the vault, not in the log; communications reads it.
    let in_log: i64 =
        sqlx::query_scalar("select count(*) from events where payload::text like '%Mrs Example%'")
            .fetch_one(&db.owner)
            .await
            .unwrap();
    assert_eq!(in_log, 0);
    let api = Api::new(&service);
    let position = api.position().await;
    let data = api
        .ok(
            Some(&as_(COMMS)),
            "query($p: Int) { fakeAccountReports(atLeastPosition: $p) { edges { node { details } } } }",
            json!({"p": position}),
        )
        .await;
    let details: Vec<&str> = data["fakeAccountReports"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["node"]["details"].as_str())
        .collect();
    assert!(
        details.contains(&"Secret detail about Mrs Example"),
        "{details:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_runs_as_its_own_role_which_cannot_lift_the_logs_protections() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    // The connections the service holds are the runtime role's (the test's
    // own pools log in as the owner: close them first).
    db.runtime.close().await;
    let users: Vec<String> = sqlx::query_scalar(
        "select distinct usename::text from pg_stat_activity where datname = current_database() \
           and application_name = 'social-registry' and pid <> pg_backend_pid()",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    assert_eq!(users, ["registry_app"]);
    // As that login, `reset role` leaves nothing more to use.
    let runtime = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&db.runtime_url())
        .await
        .unwrap();
    sqlx::query("reset role").execute(&runtime).await.unwrap();
    for statement in [
        "alter table events disable trigger events_no_update_or_delete",
        "update events set event_type = 'Forged' where position = 1",
        "truncate signed_heads",
    ] {
        let refused = sqlx::query(statement).execute(&runtime).await;
        assert!(refused.is_err(), "{statement} was allowed");
    }
    // Even the owner cannot truncate the signed heads.
    let refused = sqlx::query("truncate signed_heads")
        .execute(&db.owner)
        .await;
    assert!(refused.is_err(), "the owner truncated signed_heads");
    drop(service);
    // Production refuses to run as the owner.
    let output = blackbox_tests::run_with(
        &db.url(),
        &["serve"],
        &[
            ("DATABASE_URL", &db.url()),
            ("REGISTRY_ENV", "production"),
            (
                "REGISTRY_VAULT_KEY",
                "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            ),
            (
                "REGISTRY_SIGNING_KEY",
                "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            ),
            ("REGISTRY_OIDC_ISSUER", "http://127.0.0.1:9/"),
            ("REGISTRY_OIDC_AUDIENCE", "x"),
            ("REGISTRY_MIGRATE_ON_START", "false"),
            ("REGISTRY_LISTEN", "127.0.0.1:0"),
        ],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("REGISTRY_MIGRATION_DATABASE_URL"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_head_is_signed_soon_after_start_not_an_interval_later() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    drop(service);
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    let mut heads = Value::Null;
    for _ in 0..100 {
        heads = api
            .ok(
                Some(&as_(AUDITOR)),
                "{ signedHeads { position } }",
                json!({}),
            )
            .await["signedHeads"]
            .clone();
        if heads.as_array().is_some_and(|h| !h.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        heads[0]["position"].as_i64(),
        Some(api.position().await),
        "{heads}"
    );
}
