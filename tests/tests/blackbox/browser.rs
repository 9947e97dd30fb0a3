//! The public pages in a real browser (and /dashboard leading to the staff app): Debian's headless
//! Chromium driven by playwright-core (tests/browser/run.mjs), with axe-core
//! on every page and screenshots at phone and desktop widths written to
//! `target/browser-screenshots/`. `scripts/test` installs Chromium and the
//! npm packages.

use std::path::PathBuf;
use std::process::Command;

use blackbox_tests::council::{self, act, as_, people::*, submit};
use blackbox_tests::{Api, Service};
use event_store::testing::TestDatabase;
use serde_json::json;

fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn residents_verify_accounts_read_officer_pages_and_report_fakes_in_a_real_browser_and_the_old_dashboard_address_leads_to_the_staff_app(
) {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: run the tests with scripts/test, which installs Debian's chromium"
    );
    assert!(
        browser_dir().join("node_modules/playwright-core").exists(),
        "tests/browser/node_modules is missing: run the tests with scripts/test (npm ci)"
    );

    let db = TestDatabase::new().await;
    let service = Service::start(
        &db.url(),
        &[("REGISTRY_COUNCIL_NAME", "North County Council")],
    );
    let api = Api::new(&service);
    council::reference_data(&api).await;
    let publish = |id: String| {
        let api = api.clone();
        async move {
            act(
                &api,
                COMMS,
                "approveBrandingAsset",
                &id,
                r#", assetId: "summer-logo""#,
            )
            .await;
            act(&api, COMMS, "approveRegistration", &id, "").await;
            act(&api, COMMS, "publishRegistration", &id, "").await
        }
    };
    publish(
        submit(
            &api,
            council::form(1, "X", "https://twitter.com/NorthLibraries"),
        )
        .await,
    )
    .await;
    let old = submit(&api, council::form(1, "X", "@NorthRoadsOld")).await;
    publish(old.clone()).await;
    act(
        &api,
        COMMS,
        "withdrawRegistration",
        &old,
        r#", reason: "Replaced""#,
    )
    .await;
    let officer = submit(&api, council::form(3, "INSTAGRAM", "@north.youthwork")).await;
    act(
        &api,
        APPLICANT,
        "recordRiskAssessment",
        &officer,
        council::RISK_ASSESSMENT,
    )
    .await;
    act(&api, MANAGER, "signRiskAssessment", &officer, "").await;
    act(&api, COMMS, "approveRegistration", &officer, "").await;
    let last = act(&api, COMMS, "publishRegistration", &officer, "").await;
    // Let the read models catch up before the browser looks.
    api.ok(
        None,
        "query($p: Int) { directory(atLeastPosition: $p) { edges { cursor } } }",
        json!({"p": last["position"]}),
    )
    .await;

    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/browser-screenshots");
    let output = Command::new("node")
        .arg(browser_dir().join("run.mjs"))
        .env("BASE_URL", &service.base_url)
        .env("SCREENSHOT_DIR", &shots)
        .env("CHROMIUM", &chromium)
        .env("COMMS_TOKEN", as_(COMMS))
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(
        output.status.success(),
        "the browser tests failed:\n{stdout}\n{stderr}"
    );
    for page in [
        "directory",
        "verify-verified",
        "verify-withdrawn",
        "verify-unknown",
        "officer",
        "report",
    ] {
        for size in ["phone", "desktop"] {
            assert!(
                shots.join(format!("{page}-{size}.png")).exists(),
                "{page}-{size}.png"
            );
        }
    }
}
