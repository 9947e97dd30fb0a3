//! The public read models hold only what the framework publishes.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use event_store::testing::TestDatabase;
use event_store::{EventStore, LogNotifier};
use projections::{Projector, ProjectorConfig};
use sqlx::PgPool;

async fn columns(pool: &PgPool, table: &str) -> BTreeSet<String> {
    sqlx::query_scalar(
        "select column_name::text from information_schema.columns where table_schema = 'read_models' and table_name = $1",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_public_directory_and_verification_hold_only_published_facts_and_no_staff_identifiers()
{
    let db = TestDatabase::new().await;
    let store = EventStore::new(db.runtime.clone());
    let notifier = LogNotifier::start(db.runtime.clone(), Duration::from_millis(200))
        .await
        .unwrap();
    let projector = Projector::new(
        db.runtime.clone(),
        notifier.wake(),
        ProjectorConfig::default(),
    )
    .spawn();
    generate(&store, 400, 11).await;
    caught_up(&db.runtime).await;
    projector.stop().await;
    let pool = &db.owner;

    assert_eq!(
        columns(pool, "directory").await,
        set(&[
            "registration_id",
            "platform",
            "account_key",
            "account_url",
            "level",
            "service_area",
            "officer_slug",
            "published_at"
        ])
    );
    assert_eq!(
        columns(pool, "verification_accounts").await,
        set(&[
            "account_key",
            "platform",
            "account_url",
            "status",
            "registration_id",
            "level",
            "service_area",
            "officer_slug",
            "verified_since",
            "withdrawn_at",
            "last_confirmed_at",
            "renamed_to",
            "renamed_to_url",
            "renamed_at",
            "link_back_checked_at",
            "permanent_id"
        ])
    );
    assert_eq!(
        columns(pool, "officers").await,
        set(&[
            "slug",
            "name",
            "job_role",
            "service_area",
            "published_since"
        ])
    );

    // Only published registrations are in the directory; only ever-published ones in verification.
    let unpublished_in_directory: i64 = sqlx::query_scalar(
        "select count(*) from read_models.directory d join read_models.registrations r on r.id = d.registration_id \
         where r.status <> 'published'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(unpublished_in_directory, 0);
    let never_published: i64 = sqlx::query_scalar(
        "select count(*) from read_models.verification_accounts v join read_models.registrations r on r.id = v.registration_id \
         where r.published_at is null",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(never_published, 0);
    let withdrawn_shown: i64 =
        sqlx::query_scalar("select count(*) from read_models.verification_accounts where status = 'withdrawn' and withdrawn_at is not null")
            .fetch_one(pool)
            .await
            .unwrap();
    assert!(
        withdrawn_shown > 0,
        "withdrawn accounts stay visible as withdrawn"
    );
    // An account renamed by a published change answers "renamed", naming
    // the account its registration holds now.
    let renamed: Vec<(String, Option<String>)> = sqlx::query_as(
        "select v.renamed_to, r.account_key from read_models.verification_accounts v \
         left join read_models.registrations r on r.id = v.registration_id \
         where v.status = 'renamed'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(!renamed.is_empty(), "the history renames accounts");
    for (to, now) in &renamed {
        assert_eq!(Some(to), now.as_ref(), "renamed to the account it holds");
    }
    let published: i64 = sqlx::query_scalar(
        "select count(*) from read_models.registrations where status = 'published'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let listed: i64 = sqlx::query_scalar("select count(*) from read_models.directory")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(published, listed);

    // No staff identifier (applicant, contact, manager subjects) in any public row,
    // and an officer's name only as ciphertext or the erased marker.
    for table in ["directory", "verification_accounts", "officers"] {
        let rows: Vec<String> = sqlx::query_scalar(&format!(
            "select to_jsonb(t)::text from read_models.{table} t"
        ))
        .fetch_all(pool)
        .await
        .unwrap();
        assert!(!rows.is_empty(), "{table} has rows to check");
        for row in rows {
            for marker in [
                "applicant-",
                "contact-",
                "manager-",
                "off-subj-",
                "senior-1",
                "Name ",
            ] {
                assert!(!row.contains(marker), "{table} leaks `{marker}`: {row}");
            }
        }
    }
    let names: Vec<serde_json::Value> = sqlx::query_scalar("select name from read_models.officers")
        .fetch_all(pool)
        .await
        .unwrap();
    for name in names {
        let keys: BTreeSet<String> = name.as_object().unwrap().keys().cloned().collect();
        assert!(
            keys == set(&["person", "sealed"]) || keys == set(&["person", "erased"]),
            "{name}"
        );
    }
}
