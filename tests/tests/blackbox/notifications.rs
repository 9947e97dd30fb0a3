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
        mail[0]
            .text()
            .contains("Account: X (Twitter) account x.com/northmailed (level 3, Participate)"),
        "names the account: {}",
        mail[0].data
    );
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

fn mail_env(smtp: &str) -> Vec<(&str, &str)> {
    vec![
        VAULT[0],
        ("REGISTRY_SMTP_URL", smtp),
        ("REGISTRY_MAIL_FROM", "Registry <registry@north.gov.uk>"),
        (
            "REGISTRY_MAIL_ROLES",
            "communications=comms-team@north.gov.uk",
        ),
        ("REGISTRY_STAFF_APP_URL", "https://registry.north.gov.uk"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_killed_between_the_relays_acceptance_and_its_mark_sends_again_under_the_same_message_id_and_marks_it_once(
) {
    let sink = blackbox_tests::smtp::SmtpSink::start().await;
    let db = TestDatabase::new().await;
    let smtp = format!("smtp://127.0.0.1:{}", sink.port);
    let service = Service::start(&db.url(), &mail_env(&smtp));
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let id = submit(&api, council::form(3, "X", "@NorthKilled")).await;
    // The relay has the whole message; before it answers, the sender dies.
    let pid = service.pid();
    sink.before_accepting_next(move || {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    });
    act(
        &api,
        APPLICANT,
        "recordRiskAssessment",
        &id,
        council::RISK_ASSESSMENT,
    )
    .await;
    let first = sink.wait_for(1).await;
    let _ = service.wait_exit();
    let unmarked: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "select sent_at from notifications.outbox where kind = 'waiting:risk_assessment_signature'",
    )
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!(unmarked, None, "killed before it could mark the message");

    // After the restart it sends again: the relay sees the same Message-ID
    // (the idempotency key), and the outbox marks it sent once.
    let service = Service::start(&db.url(), &mail_env(&smtp));
    let all = sink.wait_for(2).await;
    let ids: Vec<Option<String>> = all.iter().map(|m| m.header("Message-ID")).collect();
    assert!(ids[0].is_some(), "{}", first[0].data);
    assert_eq!(ids[0], ids[1], "the retry carries the same Message-ID");
    assert_eq!(all[0].to, all[1].to);
    let mut marked = 0;
    for _ in 0..200 {
        marked = sqlx::query_scalar::<_, i64>(
            "select count(*) from notifications.outbox where sent_at is not null",
        )
        .fetch_one(&db.owner)
        .await
        .unwrap();
        if marked == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(marked, 1);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(sink.received().len(), 2, "and nothing more");
    service.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_who_chose_the_daily_digest_gets_one_message_listing_what_waited_at_the_digest_time(
) {
    let sink = blackbox_tests::smtp::SmtpSink::start().await;
    let db = TestDatabase::new().await;
    let smtp = format!("smtp://127.0.0.1:{}", sink.port);
    let at = (chrono::Utc::now() + chrono::Duration::seconds(8))
        .format("%H:%M:%S")
        .to_string();
    let mut env = mail_env(&smtp);
    env.push(("REGISTRY_DIGEST_TIME", at.as_str()));
    let service = Service::start(&db.url(), &env);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let manager = council::as_(MANAGER);
    assert_eq!(
        api.ok(
            Some(&manager),
            "{ myNotificationDelivery }",
            serde_json::json!({})
        )
        .await["myNotificationDelivery"],
        "IMMEDIATE"
    );
    api.ok(
        Some(&manager),
        "mutation { setNotificationDelivery(delivery: DAILY_DIGEST) }",
        serde_json::json!({}),
    )
    .await;
    assert_eq!(
        api.ok(
            Some(&manager),
            "{ myNotificationDelivery }",
            serde_json::json!({})
        )
        .await["myNotificationDelivery"],
        "DAILY_DIGEST"
    );
    let one = submit(&api, council::form(3, "X", "@NorthDigestA")).await;
    let two = submit(&api, council::form(3, "X", "@NorthDigestB")).await;
    for id in [&one, &two] {
        act(
            &api,
            APPLICANT,
            "recordRiskAssessment",
            id,
            council::RISK_ASSESSMENT,
        )
        .await;
    }
    settled(&db.owner).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        sink.received().is_empty(),
        "nothing is sent at once to someone who chose the digest: {:?}",
        sink.received()
    );
    let mail = sink.wait_for(1).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].to, vec!["u-manager@north.gov.uk".to_owned()]);
    assert!(
        mail[0].data.contains("daily summary (2 item(s))"),
        "{}",
        mail[0].data
    );
    let text = mail[0].text();
    assert!(text.contains(&one) && text.contains(&two), "{text}");
    assert!(
        text.contains("x.com/northdigesta") && text.contains("x.com/northdigestb"),
        "{text}"
    );
    let carried: i64 = sqlx::query_scalar(
        "select count(*) from notifications.outbox where digest like 'digest/u-manager/%' and sent_at is not null",
    )
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!(
        carried, 2,
        "both messages are marked as carried by the digest"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(sink.received().len(), 1, "one digest a day");
    service.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_are_decided_from_the_registry_and_the_date_once_each_however_often_the_job_runs()
{
    let db = TestDatabase::new().await;
    let service = Service::start(
        &db.url(),
        &[
            VAULT[0],
            ("REGISTRY_REVIEW_PERIOD_DAYS", "20"),
            ("REGISTRY_REMINDER_INTERVAL_SECONDS", "0.3"),
        ],
    );
    let api = Api::new(&service);
    council::reference_data(&api).await;
    // Level 3, published today: its review falls due in 20 days.
    let id = submit(&api, council::form(3, "X", "@NorthReminded")).await;
    council::sign_and_publish_level3(&api, &id).await;
    // Level 2, a consultation closing in five days.
    let today = chrono::Utc::now().date_naive();
    let mut form = council::form(2, "X", "@NorthClosing");
    form["details"]["consult"]["opensOn"] = serde_json::json!(today.to_string());
    form["details"]["consult"]["closesOn"] =
        serde_json::json!((today + chrono::Duration::days(5)).to_string());
    let consultation = submit(&api, form).await;
    act(
        &api,
        CONSULTATION,
        "recordConsultationListing",
        &consultation,
        r#", finderReference: "CF-2026-77""#,
    )
    .await;
    act(&api, COMMS, "approveRegistration", &consultation, "").await;
    act(&api, COMMS, "publishRegistration", &consultation, "").await;
    // A new policy version: every published account's contact acknowledges it.
    api.ok(
        Some(&council::as_(ADMIN)),
        "mutation { publishPolicyVersion(version: \"2026.2\", publishedOn: \"2026-12-01\", summary: \"Replies within two working days\", url: \"https://north.gov.uk/policy\") { position } }",
        serde_json::json!({}),
    )
    .await;
    let wanted = [
        ("revalidation_due_soon", "person:u-contact", id.as_str()),
        (
            "revalidation_due_soon",
            "person:u-contact",
            consultation.as_str(),
        ),
        (
            "consultation_closing_soon",
            "person:u-contact",
            consultation.as_str(),
        ),
        (
            "policy_acknowledgement_due",
            "person:u-contact",
            id.as_str(),
        ),
        (
            "policy_acknowledgement_due",
            "person:u-contact",
            consultation.as_str(),
        ),
    ];
    let reminders = || async {
        sqlx::query_as::<_, (String, String, uuid::Uuid)>(
            "select kind, recipient, about from notifications.outbox where position is null order by kind, about",
        )
        .fetch_all(&db.owner)
        .await
        .unwrap()
    };
    let mut got = Vec::new();
    for _ in 0..200 {
        got = reminders().await;
        if got.len() >= wanted.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut got_text: Vec<(String, String, String)> = got
        .iter()
        .map(|(k, r, a)| (k.clone(), r.clone(), a.to_string()))
        .collect();
    got_text.sort();
    let mut want_text: Vec<(String, String, String)> = wanted
        .iter()
        .map(|(k, r, a)| ((*k).to_owned(), (*r).to_owned(), (*a).to_owned()))
        .collect();
    want_text.sort();
    assert_eq!(got_text, want_text);
    // Several more runs (and a restart) add nothing.
    tokio::time::sleep(Duration::from_secs(1)).await;
    service.terminate();
    let service = Service::start(
        &db.url(),
        &[
            VAULT[0],
            ("REGISTRY_REVIEW_PERIOD_DAYS", "20"),
            ("REGISTRY_REMINDER_INTERVAL_SECONDS", "0.3"),
        ],
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(reminders().await.len(), wanted.len());
    let runs: i64 = sqlx::query_scalar("select count(*) from notifications.reminder_runs")
        .fetch_one(&db.owner)
        .await
        .unwrap();
    assert!(runs >= 1);
    service.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_is_told_by_email_when_the_read_models_stop_following_the_log() {
    let sink = blackbox_tests::smtp::SmtpSink::start().await;
    let db = TestDatabase::new().await;
    let smtp = format!("smtp://127.0.0.1:{}", sink.port);
    let mut env = mail_env(&smtp);
    env.push(("REGISTRY_OPERATIONS_EMAIL", "ops@north.gov.uk"));
    env.push(("REGISTRY_PROJECTION_STALL_SECONDS", "1"));
    let service = Service::start(&db.url(), &env);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    // The read models can no longer be written: the projector fails on the
    // next event and stays where it was.
    sqlx::query(
        "revoke insert, update, delete on all tables in schema read_models from registry_app",
    )
    .execute(&db.owner)
    .await
    .unwrap();
    submit(&api, council::form(1, "X", "@NorthStalled")).await;
    let ops = |mail: &[blackbox_tests::smtp::Received]| {
        mail.iter()
            .filter(|m| m.to == vec!["ops@north.gov.uk".to_owned()])
            .cloned()
            .collect::<Vec<_>>()
    };
    let mut to_ops = Vec::new();
    for _ in 0..200 {
        to_ops = ops(&sink.received());
        if !to_ops.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(to_ops.len(), 1, "{:?}", sink.received());
    assert!(to_ops[0]
        .data
        .contains("read models stopped following the log"));
    sqlx::query("grant insert, update, delete on all tables in schema read_models to registry_app")
        .execute(&db.owner)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let to_ops = sink
        .received()
        .iter()
        .filter(|m| m.to == vec!["ops@north.gov.uk".to_owned()])
        .count();
    assert_eq!(to_ops, 1, "told once for the position it stopped at");
    service.terminate();
}
