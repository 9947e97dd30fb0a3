//! Subscriptions with a real WebSocket client.

use std::time::{Duration, Instant};

use blackbox_tests::council::{self, act, as_, people::*, submit};
use blackbox_tests::{Api, Service, Ws};
use event_store::testing::TestDatabase;
use serde_json::json;

/// A liveness bound, not a speed claim: the steps arrive in milliseconds;
/// the latencies are printed.
const PATIENCE: Duration = Duration::from_secs(10);

async fn expect(ws: &mut Ws, event_type: &str, id: String) -> Duration {
    let started = Instant::now();
    let got = ws.next(PATIENCE).await.expect("an activity message");
    assert_eq!(
        got["data"]["approvalActivity"]["eventType"], event_type,
        "{got}"
    );
    assert_eq!(
        got["data"]["approvalActivity"]["registrationId"],
        id.as_str()
    );
    started.elapsed()
}

const ACTIVITY: &str = "subscription($r: Role!, $p: Int) { approvalActivity(role: $r, fromPosition: $p) { position registrationId eventType by level status } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_sees_each_approval_step_as_it_happens_and_only_what_its_role_may_see() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;

    // Subscriptions start after the position read now: nothing is missed
    // however late the server starts them.
    let from = api.position().await;
    let mut comms = Ws::connect(&service.base_url, Some(&as_(COMMS)), false)
        .await
        .unwrap();
    comms
        .subscribe("1", ACTIVITY, json!({"r": "COMMUNICATIONS", "p": from}))
        .await;
    let mut manager = Ws::connect(&service.base_url, Some(&as_(MANAGER)), false)
        .await
        .unwrap();
    manager
        .subscribe("1", ACTIVITY, json!({"r": "LINE_MANAGER", "p": from}))
        .await;

    let mut latencies = Vec::new();

    // Level 1: communications sees every step; the line manager none.
    let id1 = submit(&api, council::form(1, "X", "@NorthDash1")).await;
    latencies.push(expect(&mut comms, "RegistrationSubmitted", id1.clone()).await);
    act(
        &api,
        COMMS,
        "approveBrandingAsset",
        &id1,
        r#", assetId: "summer-logo""#,
    )
    .await;
    latencies.push(expect(&mut comms, "BrandingAssetApproved", id1.clone()).await);
    act(
        &api,
        COMMS,
        "requestChanges",
        &id1,
        r#", reason: "Use the corporate avatar""#,
    )
    .await;
    latencies.push(expect(&mut comms, "ChangesRequested", id1.clone()).await);

    // Level 3 names u-manager: both dashboards see it.
    let id3 = submit(&api, council::form(3, "X", "@NorthDash3")).await;
    latencies.push(expect(&mut comms, "RegistrationSubmitted", id3.clone()).await);
    latencies.push(expect(&mut manager, "RegistrationSubmitted", id3.clone()).await);
    act(
        &api,
        APPLICANT,
        "recordRiskAssessment",
        &id3,
        council::RISK_ASSESSMENT,
    )
    .await;
    latencies.push(expect(&mut comms, "RiskAssessmentRecorded", id3.clone()).await);
    latencies.push(expect(&mut manager, "RiskAssessmentRecorded", id3.clone()).await);
    act(&api, MANAGER, "signRiskAssessment", &id3, "").await;
    latencies.push(expect(&mut comms, "RiskAssessmentSigned", id3.clone()).await);
    latencies.push(expect(&mut manager, "RiskAssessmentSigned", id3.clone()).await);
    for (mutation, event) in [
        ("approveRegistration", "RegistrationApproved"),
        ("publishRegistration", "RegistrationPublished"),
    ] {
        act(&api, COMMS, mutation, &id3, "").await;
        latencies.push(expect(&mut comms, event, id3.clone()).await);
        latencies.push(expect(&mut manager, event, id3.clone()).await);
    }
    let id2 = submit(&api, council::form(1, "X", "@NorthDash2")).await;
    latencies.push(expect(&mut comms, "RegistrationSubmitted", id2.clone()).await);
    let reason = r#", reason: "Duplicate of the main account""#;
    act(&api, COMMS, "rejectRegistration", &id2, reason).await;
    latencies.push(expect(&mut comms, "RegistrationRejected", id2.clone()).await);
    act(
        &api,
        APPLICANT,
        "withdrawRegistration",
        &id3,
        r#", reason: "Officer left""#,
    )
    .await;
    latencies.push(expect(&mut comms, "RegistrationWithdrawn", id3.clone()).await);
    latencies.push(expect(&mut manager, "RegistrationWithdrawn", id3.clone()).await);

    latencies.sort();
    eprintln!(
        "approval activity: {} messages, median {:?}, max {:?} from the mutation's response to the message",
        latencies.len(),
        latencies[latencies.len() / 2],
        latencies.last().unwrap()
    );

    // Watching as a role you do not hold is refused.
    let mut stranger = Ws::connect(&service.base_url, Some(&as_(STRANGER)), false)
        .await
        .unwrap();
    stranger
        .subscribe("1", ACTIVITY, json!({"r": "COMMUNICATIONS"}))
        .await;
    let refused = stranger.next(PATIENCE).await.expect("an error");
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_with_a_bad_token_is_not_acknowledged() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let refused = Ws::connect(&service.base_url, Some("not-a-token"), false).await;
    assert!(refused.is_err());
    let anonymous = Ws::connect(&service.base_url, None, false).await;
    let mut anonymous = anonymous.expect("the public may connect");
    anonymous
        .subscribe(
            "1",
            "subscription { events(fromPosition: 0) { position } }",
            json!({}),
        )
        .await;
    let refused = anonymous.next(PATIENCE).await.expect("an error");
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{refused}"
    );
    anonymous
        .subscribe(
            "2",
            "subscription { events(fromPosition: 0) { position ",
            json!({}),
        )
        .await;
    let malformed = anonymous.next(PATIENCE).await.expect("an error");
    assert_eq!(
        malformed["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{malformed}"
    );
}

const EVENTS: &str =
    "subscription($p: Int!) { events(fromPosition: $p) { position streamId eventType } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_replays_from_a_position_continues_live_and_resumes_after_a_dropped_connection_without_gap_or_duplicate(
) {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    for i in 0..5 {
        submit(&api, council::form(1, "X", &format!("@NorthBefore{i}"))).await;
    }
    let from = api.position().await - 3; // mid-stream: three events to replay

    // Other clients keep mutating while the auditor reads.
    let writers = {
        let api = api.clone();
        tokio::spawn(async move {
            for i in 0..40 {
                council::submit_and_approve_asset(&api, &format!("@NorthLive{i}")).await;
            }
        })
    };

    let auditor = as_(AUDITOR);
    let mut received = Vec::new();
    let mut ws = Ws::connect(&service.base_url, Some(&auditor), false)
        .await
        .unwrap();
    ws.subscribe("e", EVENTS, json!({"p": from})).await;
    while received.len() < 25 {
        let got = ws.next(PATIENCE).await.expect("an event");
        received.push(got["data"]["events"]["position"].as_i64().unwrap());
    }
    ws.drop_connection();

    // Resume from the last position received, over the legacy protocol.
    let last = *received.last().unwrap();
    let mut ws = Ws::connect(&service.base_url, Some(&auditor), true)
        .await
        .unwrap();
    ws.subscribe("e", EVENTS, json!({"p": last})).await;
    writers.await.unwrap();
    let end = api.position().await;
    while *received.last().unwrap() < end {
        let got = ws.next(PATIENCE).await.expect("an event");
        received.push(got["data"]["events"]["position"].as_i64().unwrap());
    }
    let expected: Vec<i64> = (from + 1..=end).collect();
    assert_eq!(
        received, expected,
        "exactly the events after {from}, in order, once each"
    );
    assert!(
        end - from > 80,
        "the writers ran while the auditor read ({} events)",
        end - from
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_watcher_sees_each_change_of_that_registration_only() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let id = submit(&api, council::form(3, "X", "@NorthWatched")).await;
    let other = submit(&api, council::form(1, "X", "@NorthOther")).await;

    let from = api.position().await;
    let mut officer = Ws::connect(&service.base_url, Some(&as_(OFFICER)), false)
        .await
        .unwrap();
    officer
        .subscribe(
            "w",
            "subscription($id: UUID!, $p: Int) { registrationChanged(id: $id, fromPosition: $p) { id version status outstandingSteps } }",
            json!({"id": id, "p": from}),
        )
        .await;
    act(
        &api,
        COMMS,
        "approveBrandingAsset",
        &other,
        r#", assetId: "summer-logo""#,
    )
    .await;
    act(
        &api,
        APPLICANT,
        "recordRiskAssessment",
        &id,
        council::RISK_ASSESSMENT,
    )
    .await;
    let got = officer.next(PATIENCE).await.expect("a change");
    assert_eq!(got["data"]["registrationChanged"]["version"], 2, "{got}");
    assert_eq!(
        got["data"]["registrationChanged"]["outstandingSteps"],
        json!(["risk_assessment_signature", "approval"])
    );
    act(&api, MANAGER, "signRiskAssessment", &id, "").await;
    let got = officer.next(PATIENCE).await.expect("a change");
    assert_eq!(got["data"]["registrationChanged"]["version"], 3, "{got}");

    // Someone not involved may not watch it.
    let mut stranger = Ws::connect(&service.base_url, Some(&as_(STRANGER)), false)
        .await
        .unwrap();
    stranger
        .subscribe(
            "w",
            "subscription($id: UUID!) { registrationChanged(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
    let refused = stranger.next(PATIENCE).await.expect("an error");
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
}
