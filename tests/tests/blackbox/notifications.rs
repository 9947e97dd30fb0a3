//! The notifier (issue 17's first part): the outbox holds one message per
//! event and recipient that the framework's people need, written with the
//! notifier's checkpoint; replaying the log, rebuilding the read models or
//! restarting after a crash adds nothing.

use std::time::Duration;

use blackbox_tests::council::{self, act, people::*, submit};
use blackbox_tests::{run, Api, Service};
use event_store::testing::TestDatabase;
use sqlx::PgPool;

async fn outbox(pool: &PgPool) -> Vec<(String, String)> {
    sqlx::query_as(
        "select kind, recipient from notifications.outbox order by position, kind, recipient",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn keys(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("select key from notifications.outbox order by key")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// The outbox once the notifier has reached the log's head.
async fn settled(pool: &PgPool) -> Vec<(String, String)> {
    for _ in 0..200 {
        let (checkpoint, head): (i64, i64) = sqlx::query_as(
            "select (select position from notifications.checkpoint), (select coalesce(max(position), 0) from events)",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if checkpoint == head {
            return outbox(pool).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the notifier did not reach the head");
}

/// One vault key for both lives of the service.
const VAULT: [(&str, &str); 1] = [(
    "REGISTRY_VAULT_KEY",
    "bm90aWZpY2F0aW9ucy10ZXN0LXZhdWx0LWtleS0zMiE=",
)];

fn pair(kind: &str, recipient: &str) -> (String, String) {
    (kind.to_owned(), recipient.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notifier_queues_one_message_per_event_and_recipient_and_a_replay_rebuild_or_restart_adds_none(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &VAULT);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let id = submit(&api, council::form(3, "X", "@NorthNotified")).await;
    act(
        &api,
        APPLICANT,
        "recordRiskAssessment",
        &id,
        council::RISK_ASSESSMENT,
    )
    .await;
    assert_eq!(
        settled(&db.owner).await,
        vec![pair("waiting:risk_assessment_signature", "person:u-manager")],
        "the applicant records the assessment (waiting for the applicant, who acts, tells nobody); the named line manager is told it waits for them"
    );
    act(&api, MANAGER, "signRiskAssessment", &id, "").await;
    act(&api, COMMS, "approveRegistration", &id, "").await;
    act(&api, COMMS, "publishRegistration", &id, "").await;
    api.client
        .post(format!("{}/report", api.base))
        .form(&[("account", "@NorthFakeOne"), ("details", "")])
        .send()
        .await
        .unwrap();
    let all = settled(&db.owner).await;
    assert_eq!(
        all,
        vec![
            pair("waiting:risk_assessment_signature", "person:u-manager"),
            pair("waiting:approval", "role:communications"),
            pair("waiting:publication", "role:communications"),
            pair("published", "person:u-applicant"),
            pair("published", "person:u-contact"),
            pair("waiting:link_back_check", "role:communications"),
            pair("fake_account_reported", "role:communications"),
        ]
    );
    let before = keys(&db.owner).await;

    // A replay of the whole log decides the same keys: nothing is added.
    sqlx::query("update notifications.checkpoint set position = 0")
        .execute(&db.owner)
        .await
        .unwrap();
    // Something new wakes the notifier: only its own messages are added.
    submit(&api, council::form(4, "X", "@NorthNotifTwo")).await;
    let after_replay = settled(&db.owner).await;
    assert_eq!(after_replay.len(), all.len() + 1, "{after_replay:?}");
    assert!(after_replay.contains(&pair("waiting:senior_officer_sign_off", "person:u-senior")));

    // Rebuilding the read models leaves the outbox alone.
    let keys_now = keys(&db.owner).await;
    let out = run(&db.url(), &["rebuild-projections"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(keys(&db.owner).await, keys_now);

    // A crash and a restart: the notifier resumes from its checkpoint.
    service.kill();
    let service = Service::start(&db.url(), &VAULT);
    let api = Api::new(&service);
    submit(&api, council::form(2, "X", "@NorthNotifThree")).await;
    let settled_again = settled(&db.owner).await;
    assert_eq!(
        settled_again.len(),
        after_replay.len() + 1,
        "{settled_again:?}"
    );
    assert!(settled_again.contains(&pair("waiting:consultation_listing", "role:consultation")));
    let still = keys(&db.owner).await;
    assert!(keys_now.iter().all(|k| still.contains(k)));
    assert!(before.iter().all(|k| still.contains(k)));
    let _ = id;
}

async fn wait_for_mail(
    sink: &blackbox_tests::smtp::SmtpSink,
    n: usize,
) -> Vec<blackbox_tests::smtp::Received> {
    for _ in 0..300 {
        let got = sink.received();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("expected {n} messages, got {:?}", sink.received());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_message_reaches_the_named_person_or_the_teams_mailbox_once_by_smtp_and_an_erased_person_gets_nothing(
) {
    let sink = blackbox_tests::smtp::SmtpSink::start().await;
    let db = TestDatabase::new().await;
    let smtp = format!("smtp://127.0.0.1:{}", sink.port);
    let service = Service::start(
        &db.url(),
        &[
            ("REGISTRY_SMTP_URL", smtp.as_str()),
            ("REGISTRY_MAIL_FROM", "Registry <registry@north.gov.uk>"),
            (
                "REGISTRY_MAIL_ROLES",
                "communications=comms-team@north.gov.uk",
            ),
            ("REGISTRY_STAFF_APP_URL", "https://registry.north.gov.uk"),
        ],
    );
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let id = submit(&api, council::form(3, "X", "@NorthMailed")).await;
    let second = submit(&api, council::form(3, "X", "@NorthMailedTwo")).await;
    act(
        &api,
        APPLICANT,
        "recordRiskAssessment",
        &id,
        council::RISK_ASSESSMENT,
    )
    .await;
    let mail = wait_for_mail(&sink, 1).await;
    assert_eq!(mail[0].to, vec!["u-manager@north.gov.uk".to_owned()]);
    assert!(
        mail[0]
            .data
            .contains("a risk assessment waits for your signature"),
        "{}",
        mail[0].data
    );
    assert!(mail[0].data.contains(&id), "names the registration");
    assert!(
        mail[0].data.contains("https://registry.north.gov.uk"),
        "links to the app"
    );
    assert!(mail[0].data.contains("Message-ID: <"), "{}", mail[0].data);
    assert!(mail[0].data.contains("text/html") && mail[0].data.contains("text/plain"));

    act(&api, MANAGER, "signRiskAssessment", &id, "").await;
    let mail = wait_for_mail(&sink, 2).await;
    assert_eq!(mail[1].to, vec!["comms-team@north.gov.uk".to_owned()]);
    assert!(mail[1].data.contains("waits for approval"));

    // An erased person is never written to: their message is marked
    // skipped in the outbox.
    api.ok(
        Some(&blackbox_tests::council::as_(DPO)),
        "mutation { erasePersonalData(subject: \"u-manager\", reason: \"Left the council\") { position } }",
        serde_json::json!({}),
    )
    .await;
    act(
        &api,
        APPLICANT,
        "recordRiskAssessment",
        &second,
        // Assessed by the applicant: nothing new is sealed for the erased.
        r#", assessment: {assessor: "Alex Applicant", assessorSubject: "u-applicant", assessedOn: "2026-11-20", risks: [{risk: "Messages out of hours", mitigation: "Auto-reply"}], documentReference: "RA-2026-032"}"#,
    )
    .await;
    // Naming the erased person again is refused plainly, without naming them.
    let refused = api
        .post(
            Some(&blackbox_tests::council::as_(APPLICANT)),
            "mutation($f: RegistrationFormInput!) { submitRegistration(form: $f) { position } }",
            serde_json::json!({"f": council::form(3, "X", "@NorthMailedNew")}),
        )
        .await;
    assert_eq!(
        blackbox_tests::error_code(&refused).as_deref(),
        Some("BAD_USER_INPUT"),
        "{refused}"
    );
    assert!(!refused.to_string().contains("u-manager"), "{refused}");
    let mut skipped = None;
    for _ in 0..300 {
        skipped = sqlx::query_scalar::<_, String>(
            "select last_error from notifications.outbox where about = $1 and sent_at is not null",
        )
        .bind(uuid::Uuid::parse_str(&second).unwrap())
        .fetch_optional(&db.owner)
        .await
        .unwrap();
        if skipped.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(skipped.as_deref(), Some("skipped: erased"));
    let to_manager = sink
        .received()
        .iter()
        .filter(|m| m.to.contains(&"u-manager@north.gov.uk".to_owned()))
        .count();
    assert_eq!(to_manager, 1, "one message, and none after the erasure");
}
