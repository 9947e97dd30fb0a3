//! Crash drill for group commit: the service is killed (SIGKILL) while
//! many commands are in flight, so groups are open in its writer; after a
//! restart every acknowledged command is there and no command is half
//! there.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use blackbox_tests::council::{self, as_, people::*};
use blackbox_tests::{Api, Service};
use event_store::testing::TestDatabase;
use event_store::EventStore;
use serde_json::{json, Value};

/// One master key across the restart, as a deployment keeps it.
const KEYS: [(&str, &str); 1] = [(
    "REGISTRY_VAULT_KEY",
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
)];

const SUBMIT: &str = "mutation($f: RegistrationFormInput!) { submitRegistration(form: $f) { registration { id } position } }";

/// A level-1 form whose business contact is a person seen nowhere else, so
/// the command also makes that person's vault key.
fn form(client: usize, i: usize) -> Value {
    // X handles are at most 15 characters.
    let mut f = council::form(1, "X", &format!("@nc{client}x{i}"));
    let subject = format!("u-crash-{client}-{i}");
    f["businessContact"] = json!({"subject": subject, "name": format!("Crash Contact {client} {i}"),
        "email": format!("{subject}@north.gov.uk"), "phone": "01234 567890"});
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_service_mid_group_loses_nothing_acknowledged_and_leaves_no_half_command() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &KEYS);
    let api = Api::new(&service);
    council::reference_data(&api).await;

    // 32 clients submit as fast as they can; each keeps what was acknowledged.
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let token = as_(APPLICANT);
    let mut clients = Vec::new();
    for c in 0..32 {
        let (acked, token, url) = (
            acked.clone(),
            token.clone(),
            format!("{}/graphql", service.base_url),
        );
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            for i in 0.. {
                let sent = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"query": SUBMIT, "variables": {"f": form(c, i)}}))
                    .send()
                    .await;
                // The kill: the connection breaks or the body is cut off.
                let Ok(response) = sent else { return };
                let Ok(body) = response.json::<Value>().await else {
                    return;
                };
                match body["data"]["submitRegistration"]["registration"]["id"].as_str() {
                    Some(id) => acked.lock().unwrap().push(id.to_owned()),
                    None => panic!("a submission was refused before the kill: {body:#}"),
                }
            }
        }));
    }
    // Kill once the writer is busy (a few hundred commands in), mid-flight.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 300 {
        assert!(
            std::time::Instant::now() < deadline,
            "300 submissions within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    service.kill();
    for c in clients {
        c.await.expect("a client");
    }
    let acked: Vec<String> = acked.lock().unwrap().clone();

    // The log: gap-free, chain verified.
    let store = EventStore::new(db.runtime.clone());
    assert!(store.verify_chain(None, None).await.unwrap().is_verified());
    let mut events = Vec::new();
    loop {
        let page = store.read_all(events.len() as i64, 10_000).await.unwrap();
        if page.is_empty() {
            break;
        }
        for e in page {
            assert_eq!(
                e.position,
                events.len() as i64 + 1,
                "positions are gap-free"
            );
            events.push(e);
        }
    }
    // Every acknowledged command is in it.
    let submitted: HashSet<String> = events
        .iter()
        .filter(|e| e.event_type == "RegistrationSubmitted")
        .map(|e| e.stream_id.trim_start_matches("registration-").to_owned())
        .collect();
    for id in &acked {
        assert!(
            submitted.contains(id),
            "acknowledged registration {id} is in the log"
        );
    }
    // No half command: every registration in the log holds its account's
    // claim, every claim names a registration in the log, and every vault
    // key belongs to someone the log names.
    let claimed: HashSet<String> = events
        .iter()
        .filter(|e| e.event_type == "AccountClaimed")
        .map(|e| {
            e.payload["registrationId"]
                .as_str()
                .expect("registrationId")
                .to_owned()
        })
        .collect();
    assert_eq!(
        claimed, submitted,
        "each submission committed with its claim"
    );
    let orphan_keys: i64 = sqlx::query_scalar(
        "select count(*) from vault_keys k where not exists \
         (select 1 from events e where strpos(e.payload::text || e.metadata::text, k.person_id::text) > 0)",
    )
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!(
        orphan_keys, 0,
        "no vault key without the command that made it"
    );
    let keys: i64 = sqlx::query_scalar("select count(*) from vault_keys")
        .fetch_one(&db.owner)
        .await
        .unwrap();
    assert!(
        keys as usize >= submitted.len(),
        "each submission's new contact has a key"
    );

    // Restarted, the service serves every acknowledged registration, and
    // takes new commands.
    let service = Service::start(&db.url(), &KEYS);
    let api = Api::new(&service);
    for id in &acked {
        let data = api
            .ok(
                Some(&as_(APPLICANT)),
                "query($id: UUID!) { registration(id: $id) { id status } }",
                json!({"id": id}),
            )
            .await;
        assert_eq!(data["registration"]["id"], json!(id));
    }
    api.ok(Some(&as_(APPLICANT)), SUBMIT, json!({"f": form(99, 0)}))
        .await;
    println!(
        "crash drill: {} acknowledged before the kill, {} submissions in the log",
        acked.len(),
        submitted.len()
    );
}
