//! An event a projection cannot apply stops it there, visibly; erasure
//! reaches every read model.

mod common;

use common::*;
use domain::personal::staff_person;
use domain::privacy::PrivacyEvent;
use event_store::testing::TestDatabase;
use event_store::{EventStore, ExpectedVersion, NewEvent};
use projections::{projection_status, run_batch, LIVE_SCHEMA};
use serde_json::json;

async fn drain(pool: &sqlx::PgPool) {
    loop {
        let outcome = run_batch(pool, LIVE_SCHEMA, 500, 365).await.unwrap();
        if outcome.is_idle() {
            return;
        }
    }
}

#[tokio::test]
async fn an_event_a_projection_cannot_apply_stops_it_at_that_position_and_says_why() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.runtime.clone());
    generate(&store, 20, 5).await;
    let bad_position = store
        .append(
            "registration-6a4f3b7e-0000-4000-8000-000000000001",
            ExpectedVersion::NoStream,
            &[NewEvent::new(
                "RegistrationSubmitted",
                1,
                json!({"not": "a registration"}),
            )],
            &json!({}),
            None,
        )
        .await
        .unwrap()
        .last_position;
    let unit = NewEvent::new(
        "OrganisationalUnitAdded",
        1,
        json!({"code": "late-unit", "name": "Late Unit"}),
    );
    store
        .append(
            "reference-org_units",
            ExpectedVersion::Any,
            &[unit],
            &json!({}),
            None,
        )
        .await
        .unwrap();
    let head = store.head().await.unwrap().position;

    drain(&db.runtime).await;
    let status = projection_status(&db.runtime).await.unwrap();
    for s in &status {
        if s.name == "reference" {
            assert_eq!(
                (s.position, s.error.as_deref()),
                (head, None),
                "the reference model is not stopped"
            );
        } else {
            assert_eq!(s.failed_at_position, Some(bad_position), "{s:?}");
            assert_eq!(
                s.position,
                bad_position - 1,
                "{} stopped just before the bad event",
                s.name
            );
            let error = s.error.as_deref().unwrap();
            assert!(
                error.contains("RegistrationSubmitted")
                    && error.contains(&bad_position.to_string()),
                "{error}"
            );
            assert_eq!(s.lag, head - bad_position + 1);
        }
    }
    // It is never skipped: another batch does not move past it.
    drain(&db.runtime).await;
    assert_eq!(projection_status(&db.runtime).await.unwrap(), status);
}

#[tokio::test]
async fn after_an_erasure_event_is_projected_no_read_model_holds_the_persons_ciphertext() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.runtime.clone());
    generate(&store, 120, 9).await;
    drain(&db.runtime).await;

    // A published officer (level 3) whose data is then erased.
    let (slug, id): (String, uuid::Uuid) = sqlx::query_as(
        "select d.officer_slug, d.registration_id from read_models.directory d \
         join read_models.officers o on o.slug = d.officer_slug \
         where not o.name ? 'erased' limit 1",
    )
    .fetch_one(&db.owner)
    .await
    .unwrap();
    let events = store
        .read_stream(&domain::registration::stream_id(id), None)
        .await
        .unwrap();
    let decoded: Vec<domain::registration::RegistrationEvent> = events
        .iter()
        .map(|e| domain::codec::decode(&e.event_type, e.schema_version, &e.payload, 1).unwrap())
        .collect();
    let state = domain::registration::fold(&decoded).unwrap();
    let domain::form::LevelDetails::Participate { officer, .. } = &state.form.details else {
        panic!("a level-3 registration names an officer");
    };
    let person = staff_person(&officer.subject);
    let sealed_name = officer.name.sealed.clone();

    let e = PrivacyEvent::PersonalDataErased {
        person,
        reason: "Article 17 request DP-7".into(),
        by: "dpo".into(),
    };
    let (t, p) = domain::codec::encode(&e);
    store
        .append(
            &domain::privacy::stream_id(person),
            ExpectedVersion::Any,
            &[NewEvent::new(t, 1, p)],
            &json!({}),
            None,
        )
        .await
        .unwrap();
    drain(&db.runtime).await;

    for table in projections::models::all_tables() {
        let rows: Vec<String> = sqlx::query_scalar(&format!(
            "select to_jsonb(t)::text from read_models.{table} t"
        ))
        .fetch_all(&db.owner)
        .await
        .unwrap();
        assert!(
            rows.iter().all(|r| !r.contains(&sealed_name)),
            "{table} still holds the erased ciphertext"
        );
    }
    let name: serde_json::Value =
        sqlx::query_scalar("select name from read_models.officers where slug = $1")
            .bind(&slug)
            .fetch_one(&db.owner)
            .await
            .unwrap();
    assert_eq!(name, json!({"person": person, "erased": true}));
    let named: i64 = sqlx::query_scalar(
        "select count(*) from read_models.registrations where persons @> array[$1]::uuid[]",
    )
    .bind(person)
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert!(
        named > 0,
        "subject access still finds the registrations that named them"
    );
}

/// A database error that says nothing about the event (here: a lock the
/// batch cannot get in time) is retried, and never stops a model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_database_error_is_retried_and_stops_no_projection() {
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.runtime.clone());
    generate(&store, 5, 2).await;
    // New connections of this database give up on locks after 50 ms.
    sqlx::query(&format!(
        "alter database {} set lock_timeout = '50ms'",
        db.name
    ))
    .execute(&db.owner)
    .await
    .unwrap();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_with(db.owner_options.clone())
        .await
        .unwrap();
    // Someone else holds the registrations table.
    let mut holder = db.owner.begin().await.unwrap();
    sqlx::query("lock table read_models.registrations in access exclusive mode")
        .execute(&mut *holder)
        .await
        .unwrap();
    let failed = run_batch(&pool, LIVE_SCHEMA, 500, 365).await;
    assert!(failed.is_err(), "the batch could not get its lock");
    let status = projection_status(&pool).await.unwrap();
    assert!(
        status.iter().all(|p| p.error.is_none()),
        "a lock timeout stopped a projection: {status:?}"
    );
    holder.rollback().await.unwrap();
    drain(&pool).await;
    let status = projection_status(&pool).await.unwrap();
    assert!(
        status.iter().all(|p| p.error.is_none() && p.lag == 0),
        "{status:?}"
    );
}
