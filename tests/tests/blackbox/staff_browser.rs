//! The staff app in a real browser (issue 16): Debian's headless Chromium
//! driven by playwright-core (`tests/browser/staff.mjs`), signing in
//! through a real OpenID provider (`oidc-provider` from npm, configured in
//! `tests/browser/oidc-provider.mjs`), the journey of each level by the
//! people the framework names, a refusal, a no-JavaScript and a
//! keyboard-only run, axe-core on every page state, and screenshots at 390
//! and 1280 pixels under `target/browser-screenshots/`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use blackbox_tests::{council, Api, Service};
use event_store::testing::TestDatabase;
use serde_json::json;

fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Stops the provider when the test ends, however it ends.
struct Provider(std::process::Child);

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_level_is_registered_signed_off_and_published_through_the_staff_app_in_a_real_browser_signed_in_through_a_real_openid_provider(
) {
    assert!(
        browser_dir().join("node_modules/oidc-provider").exists(),
        "tests/browser/node_modules is missing: run the tests with scripts/test (npm ci)"
    );
    let provider_port = free_port();
    let service_port = free_port();
    let base = format!("http://127.0.0.1:{service_port}");
    let accounts = json!({
        "u-applicant": {"name": "Alex Applicant", "email": "u-applicant@north.gov.uk", "groups": ["grp-staff"]},
        "u-comms": {"name": "Chris Comms", "email": "u-comms@north.gov.uk", "groups": ["grp-staff", "grp-comms"]},
        "u-consult": {"name": "Priya Consult", "email": "u-consult@north.gov.uk", "groups": ["grp-staff", "grp-consult"]},
        "u-officer": {"name": "Olivia Officer", "email": "u-officer@north.gov.uk", "groups": ["grp-staff"]},
        "u-manager": {"name": "Morgan Manager", "email": "u-manager@north.gov.uk", "groups": ["grp-staff", "grp-managers"]},
        "u-senior": {"name": "Sam Senior", "email": "u-senior@north.gov.uk", "groups": ["grp-staff", "grp-senior"]},
        "u-auditor": {"name": "Ada Auditor", "email": "u-auditor@north.gov.uk", "groups": ["grp-audit"]},
        "u-admin": {"name": "Ari Admin", "email": "u-admin@north.gov.uk", "groups": ["grp-admin"]},
        "u-dpo": {"name": "Dana Protection", "email": "u-dpo@north.gov.uk", "groups": ["grp-dp"]},
    });
    let mut child = Command::new("node")
        .arg("oidc-provider.mjs")
        .current_dir(browser_dir())
        .env("OIDC_PORT", provider_port.to_string())
        .env("REDIRECT_URI", format!("{base}/staff/callback"))
        .env("OIDC_ACCOUNTS", accounts.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the OpenID provider");
    let stdout = child.stdout.take().expect("stdout");
    let provider = Provider(child);
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(
        first.contains("listening"),
        "the provider did not start: {first}"
    );
    std::thread::spawn(move || for _ in lines {});

    let db = TestDatabase::new().await;
    let issuer = format!("http://127.0.0.1:{provider_port}");
    let listen = format!("127.0.0.1:{service_port}");
    let service = Service::start(
        &db.url(),
        &[
            ("REGISTRY_LISTEN", listen.as_str()),
            ("REGISTRY_COUNCIL_NAME", "North County Council"),
            ("REGISTRY_STAFF_APP_URL", base.as_str()),
            ("REGISTRY_STAFF_OIDC_ISSUER", issuer.as_str()),
            ("REGISTRY_STAFF_OIDC_CLIENT_ID", "registry-staff"),
            ("REGISTRY_STAFF_OIDC_CLIENT_SECRET", "registry-staff-test-secret"),
            ("REGISTRY_STAFF_ROLES_CLAIM", "groups"),
            (
                "REGISTRY_STAFF_ROLE_MAP",
                "grp-staff=staff,grp-comms=communications,grp-consult=consultation,grp-managers=line_manager,grp-senior=senior_officer,grp-audit=auditor,grp-admin=admin,grp-dp=data_protection",
            ),
        ],
    );
    let api = Api::new(&service);
    council::reference_data(&api).await;
    // The business contact never signs in: an admin's import lists them
    // (everyone else is listed by their own sign-in).
    let imported = api
        .ok(
            Some(&council::as_(council::people::ADMIN)),
            "mutation($csv: String!) { importPeople(csv: $csv, fileName: \"staff.csv\") { listed problems { line } } }",
            json!({"csv": "subject,name,email,job_title,unit\nu-contact,Casey Contact,u-contact@north.gov.uk,Service Manager,Libraries and Archives\n"}),
        )
        .await;
    assert_eq!(imported["importPeople"]["listed"], 1, "{imported}");

    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/browser-screenshots");
    let output = Command::new("node")
        .arg("staff.mjs")
        .current_dir(browser_dir())
        .env("BASE_URL", &base)
        .env("SCREENSHOT_DIR", &shots)
        .output()
        .expect("run node");
    drop(provider);
    // The journeys' figures (how soon the live queue updated).
    eprintln!("{}", String::from_utf8_lossy(&output.stdout));
    assert!(
        output.status.success(),
        "the browser journeys failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    service.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_sessions_end_in_a_real_browser_at_the_absolute_timeout_even_on_an_open_live_page_and_after_the_idle_timeout(
) {
    assert!(
        browser_dir().join("node_modules/playwright-core").exists(),
        "tests/browser/node_modules is missing: run the tests with scripts/test (npm ci)"
    );
    let db = TestDatabase::new().await;
    let service = Service::start(
        &db.url(),
        &[
            ("REGISTRY_SESSION_ABSOLUTE_SECONDS", "4"),
            ("REGISTRY_SESSION_IDLE_SECONDS", "2"),
        ],
    );
    let output = Command::new("node")
        .arg("staff-expiry.mjs")
        .current_dir(browser_dir())
        .env("BASE_URL", &service.base_url)
        .output()
        .expect("run node");
    eprintln!("{}", String::from_utf8_lossy(&output.stdout));
    assert!(
        output.status.success(),
        "the browser's session checks failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    service.terminate();
}
