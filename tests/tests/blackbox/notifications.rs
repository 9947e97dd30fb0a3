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
