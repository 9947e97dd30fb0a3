//! Command handling against a real PostgreSQL: load, decide, append.

use app::commands::{HandleError, Handler, Request, RequestMeta};
use chrono::NaiveDate;
use domain::form::{Form, LevelDetails, StaffRef};
use domain::platform::Platform;
use domain::reference::ReferenceEvent;
use domain::registration::{Command, Risk, RiskAssessmentInput, Status};
use domain::{Actor, DomainError, Role};
use event_store::testing::TestDatabase;
use event_store::vault::{MasterKey, Vault};
use event_store::EventStore;
use uuid::Uuid;

fn meta(actor: Actor) -> RequestMeta {
    RequestMeta {
        actor,
        display_name: Some("Display Name".into()),
        correlation_id: "test-correlation".into(),
        idempotency_key: None,
        expected_version: None,
        trace_id: None,
    }
}

fn staff(subject: &str, name: &str) -> StaffRef<String> {
    StaffRef {
        subject: subject.into(),
        name: name.into(),
        email: Some(format!("{subject}@north.gov.uk")),
        phone: None,
    }
}

fn level3(account: &str) -> Form<String> {
    Form {
        platform: Platform::X,
        account: account.into(),
        service_area: "youth".into(),
        business_contact: staff("u-contact", "Casey Contact"),
        policy_version: "2026.1".into(),
        policy_acknowledged: true,
        corporate_identity_acknowledged: true,
        branding_assets: vec![],
        details: LevelDetails::Participate {
            officer: staff("u-officer", "Olivia Officer"),
            job_role: "youth-worker".into(),
            line_manager: staff("u-manager", "Morgan Manager"),
        },
    }
}

fn applicant() -> Actor {
    Actor::new("u-applicant", [Role::Staff])
}
fn manager() -> Actor {
    Actor::new("u-manager", [Role::Staff, Role::LineManager])
}
fn comms() -> Actor {
    Actor::new("u-comms", [Role::Staff, Role::Communications])
}

async fn setup() -> (TestDatabase, Handler) {
    let db = TestDatabase::new().await;
    let handler = Handler::new(
        EventStore::new(db.runtime.clone()),
        Vault::new(db.runtime.clone(), MasterKey::generate()),
    );
    let admin = meta(Actor::new("u-admin", [Role::Admin]));
    for change in [
        ReferenceEvent::OrganisationalUnitAdded {
            code: "youth".into(),
            name: "Youth Services".into(),
        },
        ReferenceEvent::JobRoleAccepted {
            code: "youth-worker".into(),
            title: "Youth Worker".into(),
        },
    ] {
        handler.reference(change, &admin).await.unwrap();
    }
    (db, handler)
}

/// Handle a command that must succeed.
async fn ok(handler: &Handler, id: Uuid, request: Request, actor: Actor) -> app::commands::Outcome {
    handler.handle(id, request, &meta(actor)).await.unwrap()
}

fn risk_assessment() -> Request {
    Request::RecordRiskAssessment(RiskAssessmentInput {
        assessor: "Morgan Manager".into(),
        assessor_subject: "u-manager".into(),
        assessed_on: NaiveDate::from_ymd_opt(2026, 1, 10).unwrap(),
        risks: vec![Risk {
            risk: "Out-of-hours messages".into(),
            mitigation: "Auto-reply".into(),
        }],
        document_reference: "RA-1".into(),
    })
}

#[tokio::test]
async fn a_level_3_registration_goes_from_submission_to_publication_with_no_plaintext_personal_data_in_the_log(
) {
    let (db, handler) = setup().await;
    let id = Uuid::new_v4();
    let submitted = ok(
        &handler,
        id,
        Request::Submit(level3("@NorthYouth")),
        applicant(),
    )
    .await;
    assert_eq!(submitted.registration.status, Status::Submitted);
    assert_eq!(submitted.registration.version, 1);
    ok(&handler, id, risk_assessment(), applicant()).await;
    ok(
        &handler,
        id,
        Request::Other(Command::SignRiskAssessment),
        manager(),
    )
    .await;
    ok(&handler, id, Request::Other(Command::Approve), comms()).await;
    let published = ok(&handler, id, Request::Other(Command::Publish), comms()).await;
    assert_eq!(published.registration.status, Status::Published);
    assert_eq!(published.registration.version, 5);
    assert_eq!(
        published.position,
        handler.store().head().await.unwrap().position
    );

    let log: Vec<String> = sqlx::query_scalar("select payload::text || metadata::text from events")
        .fetch_all(&db.owner)
        .await
        .unwrap();
    for text in &log {
        for secret in ["Olivia", "Morgan", "Casey", "north.gov.uk", "Display Name"] {
            assert!(!text.contains(secret), "`{secret}` in the log: {text}");
        }
    }
    let meta_json: serde_json::Value =
        sqlx::query_scalar("select metadata from events order by position desc limit 1")
            .fetch_one(&db.owner)
            .await
            .unwrap();
    assert_eq!(meta_json["actor"]["subject"], "u-comms");
    assert_eq!(meta_json["correlationId"], "test-correlation");
    assert!(handler
        .store()
        .verify_chain(None, None)
        .await
        .unwrap()
        .is_verified());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_concurrent_sign_off_and_amendment_yield_one_success_and_one_conflict() {
    for _ in 0..5 {
        let (_db, handler) = setup().await;
        let id = Uuid::new_v4();
        ok(
            &handler,
            id,
            Request::Submit(level3("@NorthYouth")),
            applicant(),
        )
        .await;
        let recorded = ok(&handler, id, risk_assessment(), applicant()).await;
        let seen = recorded.registration.version;

        let mut amended = level3("@NorthYouth");
        if let LevelDetails::Participate { line_manager, .. } = &mut amended.details {
            *line_manager = staff("u-manager-2", "Another Manager");
        }
        let sign_meta = RequestMeta {
            expected_version: Some(seen),
            trace_id: None,
            ..meta(manager())
        };
        let amend_meta = RequestMeta {
            expected_version: Some(seen),
            trace_id: None,
            ..meta(applicant())
        };
        let (sign, amend) = tokio::join!(
            handler.handle(id, Request::Other(Command::SignRiskAssessment), &sign_meta),
            handler.handle(id, Request::Amend(amended), &amend_meta),
        );
        let conflicts = [&sign, &amend]
            .iter()
            .filter(|r| matches!(r, Err(HandleError::Conflict { .. })))
            .count();
        let successes = [&sign, &amend].iter().filter(|r| r.is_ok()).count();
        assert_eq!(
            (successes, conflicts),
            (1, 1),
            "sign: {sign:?}\namend: {amend:?}"
        );

        let events = handler
            .store()
            .read_stream(&domain::registration::stream_id(id), None)
            .await
            .unwrap();
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(types.len(), 3, "{types:?}");
        assert!(
            types[2] == "RiskAssessmentSigned" || types[2] == "RegistrationAmended",
            "{types:?}"
        );
    }
}

#[tokio::test]
async fn an_account_already_registered_is_refused_however_it_is_written_until_withdrawn() {
    let (_db, handler) = setup().await;
    let first = Uuid::new_v4();
    ok(
        &handler,
        first,
        Request::Submit(level3("https://twitter.com/NorthYouth")),
        applicant(),
    )
    .await;
    let second = Uuid::new_v4();
    let err = handler
        .handle(
            second,
            Request::Submit(level3("x.com/northyouth?s=20")),
            &meta(applicant()),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, HandleError::Domain(DomainError::AccountAlreadyRegistered { registration, .. }) if *registration == first),
        "{err:?}"
    );
    ok(
        &handler,
        first,
        Request::Other(Command::Withdraw {
            reason: "Replaced".into(),
        }),
        applicant(),
    )
    .await;
    ok(
        &handler,
        second,
        Request::Submit(level3("@NorthYouth")),
        applicant(),
    )
    .await;
}

#[tokio::test]
async fn a_second_submission_under_an_existing_registrations_id_is_refused_and_appends_nothing() {
    let (db, handler) = setup().await;
    let id = Uuid::new_v4();
    ok(
        &handler,
        id,
        Request::Submit(level3("@NorthYouth")),
        applicant(),
    )
    .await;
    let head = |db: &TestDatabase| {
        let pool = db.owner.clone();
        async move {
            sqlx::query_scalar::<_, i64>("select count(*) from events")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let before = head(&db).await;
    // Another account, the same id: the first attempt's assumption that the
    // registration is new conflicts, and the decision on the real state
    // refuses it.
    let err = handler
        .handle(
            id,
            Request::Submit(level3("@NorthParks")),
            &meta(applicant()),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, HandleError::Domain(DomainError::RegistrationExists(r)) if *r == id),
        "{err:?}"
    );
    assert_eq!(head(&db).await, before, "nothing appended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_submissions_of_one_account_register_it_once() {
    let (_db, handler) = setup().await;
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let handler = handler.clone();
            let account = [
                "@NorthYouth",
                "https://x.com/northyouth",
                "twitter.com/NORTHYOUTH/",
            ][i % 3];
            tokio::spawn(async move {
                handler
                    .handle(
                        Uuid::new_v4(),
                        Request::Submit(level3(account)),
                        &meta(applicant()),
                    )
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(HandleError::Domain(DomainError::AccountAlreadyRegistered { .. }))
            | Err(HandleError::Conflict { .. }) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn an_amendment_that_retypes_the_same_names_changes_nothing_and_one_that_changes_a_name_voids_the_signature(
) {
    let (_db, handler) = setup().await;
    let id = Uuid::new_v4();
    ok(
        &handler,
        id,
        Request::Submit(level3("@NorthYouth")),
        applicant(),
    )
    .await;
    ok(&handler, id, risk_assessment(), applicant()).await;
    ok(
        &handler,
        id,
        Request::Other(Command::SignRiskAssessment),
        manager(),
    )
    .await;

    let err = handler
        .handle(
            id,
            Request::Amend(level3("@NorthYouth")),
            &meta(applicant()),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, HandleError::Domain(DomainError::NothingChanged)),
        "{err:?}"
    );

    let mut renamed = level3("@NorthYouth");
    if let LevelDetails::Participate { line_manager, .. } = &mut renamed.details {
        line_manager.name = "Morgan Manager-Smith".into();
    }
    let out = ok(&handler, id, Request::Amend(renamed), applicant()).await;
    assert!(
        out.registration.risk_signature.is_none(),
        "a change to the named line manager voids the signature"
    );
    assert!(out.registration.risk_assessment.is_some());
}

#[tokio::test]
async fn a_retried_command_with_the_same_idempotency_key_is_applied_once() {
    let (_db, handler) = setup().await;
    let id = Uuid::new_v4();
    let m = RequestMeta {
        idempotency_key: Some("submit-once".into()),
        ..meta(applicant())
    };
    let first = handler
        .handle(id, Request::Submit(level3("@NorthYouth")), &m)
        .await
        .unwrap();
    let again = handler
        .handle(id, Request::Submit(level3("@NorthYouth")), &m)
        .await
        .unwrap();
    assert!(!first.deduplicated && again.deduplicated);
    assert_eq!(first.position, again.position);
    assert_eq!(first.registration, again.registration);
}

#[tokio::test]
async fn plaintext_personal_data_is_validated_with_the_field_named_and_no_key_is_stored() {
    let (db, handler) = setup().await;
    let keys_before: i64 = sqlx::query_scalar("select count(*) from vault_keys")
        .fetch_one(&db.owner)
        .await
        .unwrap();
    let mut bad = level3("@NorthYouth");
    bad.business_contact.email = Some("not-an-email".into());
    let err = handler
        .handle(Uuid::new_v4(), Request::Submit(bad), &meta(applicant()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, HandleError::Domain(DomainError::Invalid { field, .. }) if field == "form.businessContact.email"),
        "{err:?}"
    );
    let keys: i64 = sqlx::query_scalar("select count(*) from vault_keys")
        .fetch_one(&db.owner)
        .await
        .unwrap();
    assert_eq!(keys, keys_before, "nothing sealed for a refused command");
}

#[tokio::test]
async fn reference_data_is_managed_by_admin_only() {
    let (_db, handler) = setup().await;
    let err = handler
        .reference(
            ReferenceEvent::JobRoleAccepted {
                code: "librarian".into(),
                title: "Librarian".into(),
            },
            &meta(applicant()),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        HandleError::Domain(DomainError::MissingRole { role: Role::Admin })
    ));
    let err = handler
        .reference(
            ReferenceEvent::JobRoleAccepted {
                code: "youth-worker".into(),
                title: "Youth Worker".into(),
            },
            &meta(Actor::new("u-admin", [Role::Admin])),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        HandleError::Domain(DomainError::ReferenceData(_))
    ));
}

async fn vault_keys(db: &TestDatabase) -> i64 {
    sqlx::query_scalar("select count(*) from vault_keys")
        .fetch_one(&db.owner)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_command_the_rules_refuse_stores_no_vault_key_for_the_people_it_names() {
    let (db, handler) = setup().await;
    let before = vault_keys(&db).await;
    let auditor = Actor::new("u-auditor", [Role::Auditor]);
    let err = handler
        .handle(
            Uuid::new_v4(),
            Request::Submit(level3("@NorthYouth")),
            &meta(auditor),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, HandleError::Domain(DomainError::MissingRole { .. })),
        "{err:?}"
    );
    assert_eq!(vault_keys(&db).await, before);
    // The same form from a member of staff stores the keys with its events:
    // the contact, the officer, the line manager and the applicant's
    // display name.
    handler
        .handle(
            Uuid::new_v4(),
            Request::Submit(level3("@NorthYouth")),
            &meta(applicant()),
        )
        .await
        .unwrap();
    assert_eq!(vault_keys(&db).await, before + 4);
}

#[tokio::test]
async fn two_commands_naming_the_same_new_person_at_once_both_succeed_under_one_key() {
    let (db, handler) = setup().await;
    let submit = |account: &'static str| {
        let handler = handler.clone();
        async move {
            handler
                .handle(
                    Uuid::new_v4(),
                    Request::Submit(level3(account)),
                    &meta(applicant()),
                )
                .await
        }
    };
    let (a, b) = tokio::join!(submit("@NorthYouthA"), submit("@NorthYouthB"));
    let (a, b) = (a.unwrap(), b.unwrap());
    let officer = domain::personal::staff_person("u-officer");
    let keys: i64 = sqlx::query_scalar("select count(*) from vault_keys where person_id = $1")
        .bind(officer)
        .fetch_one(&db.owner)
        .await
        .unwrap();
    assert_eq!(keys, 1);
    for outcome in [a, b] {
        let LevelDetails::Participate { officer, .. } = &outcome.registration.form.details else {
            panic!("level 3");
        };
        let opened = app::commands::seal::open(handler.vault(), &officer.name)
            .await
            .unwrap();
        assert_eq!(opened.as_value(), Some("Olivia Officer"));
    }
}

#[tokio::test]
async fn a_command_sees_every_reference_change_committed_before_it_even_one_made_by_another_instance(
) {
    let (db, handler) = setup().await;
    ok(
        &handler,
        Uuid::new_v4(),
        Request::Submit(level3("@NorthYouthOne")),
        applicant(),
    )
    .await;
    // Another instance (its own handler, its own cache) withdraws the role.
    let other = Handler::new(EventStore::new(db.runtime.clone()), handler.vault().clone());
    other
        .reference(
            ReferenceEvent::JobRoleWithdrawn {
                code: "youth-worker".into(),
            },
            &meta(Actor::new("u-admin", [Role::Admin])),
        )
        .await
        .unwrap();
    let refused = handler
        .handle(
            Uuid::new_v4(),
            Request::Submit(level3("@NorthYouthTwo")),
            &meta(applicant()),
        )
        .await
        .unwrap_err();
    assert!(
        format!("{refused:?}").contains("youth-worker"),
        "the withdrawn job role is refused at once: {refused:?}"
    );
}
