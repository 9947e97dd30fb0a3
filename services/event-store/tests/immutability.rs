//! The log is append-only for everyone: the runtime role lacks the grants,
//! and triggers stop even the owner.

use event_store::testing::TestDatabase;
use event_store::{EventStore, ExpectedVersion, NewEvent};
use serde_json::json;
use sqlx::PgPool;

async fn one_event(db: &TestDatabase) {
    EventStore::new(db.runtime.clone())
        .append(
            "thing-1",
            ExpectedVersion::NoStream,
            &[NewEvent::new("ThingNoted", 1, json!({"n": 1}))],
            &json!({}),
            None,
        )
        .await
        .unwrap();
}

async fn refused(pool: &PgPool, sql: &str) -> String {
    match sqlx::query(sql).execute(pool).await {
        Ok(done) => panic!(
            "`{sql}` was allowed and touched {} row(s)",
            done.rows_affected()
        ),
        Err(sqlx::Error::Database(e)) => e.message().to_owned(),
        Err(other) => panic!("`{sql}` failed oddly: {other}"),
    }
}

const CHANGES: [&str; 3] = [
    "update events set payload = '{}'::jsonb",
    "delete from events",
    "truncate events",
];

#[tokio::test]
async fn the_runtime_role_cannot_update_delete_or_truncate_events() {
    let db = TestDatabase::new().await;
    one_event(&db).await;
    let who: String = sqlx::query_scalar("select current_user::text")
        .fetch_one(&db.runtime)
        .await
        .unwrap();
    assert_eq!(who, "registry_app");
    for sql in CHANGES {
        let message = refused(&db.runtime, sql).await;
        assert!(message.contains("permission denied"), "{sql}: {message}");
    }
    let count: i64 = sqlx::query_scalar("select count(*) from events")
        .fetch_one(&db.runtime)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn even_the_owner_cannot_update_delete_or_truncate_events() {
    let db = TestDatabase::new().await;
    one_event(&db).await;
    for sql in CHANGES {
        let message = refused(&db.owner, sql).await;
        assert!(message.contains("append-only"), "{sql}: {message}");
    }
    let count: i64 = sqlx::query_scalar("select count(*) from events")
        .fetch_one(&db.owner)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn the_runtime_role_has_only_select_and_insert_on_events() {
    let db = TestDatabase::new().await;
    let privileges: Vec<String> = sqlx::query_scalar(
        "select privilege_type::text from information_schema.role_table_grants \
         where grantee = 'registry_app' and table_name = 'events' order by 1",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    assert_eq!(privileges, vec!["INSERT".to_owned(), "SELECT".to_owned()]);
}
