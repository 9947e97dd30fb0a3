//! A fresh, migrated database per test, on the cluster named by `DATABASE_URL`.

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, Executor, PgConnection, PgPool};

use crate::db::{self, PoolSettings};

/// A database made for one test. Dropped databases are left for the test
/// script to remove (async drop is not possible), named `test_<uuid>`.
#[derive(Debug)]
pub struct TestDatabase {
    /// Its name.
    pub name: String,
    /// Connection options as the owner (superuser in tests).
    pub owner_options: PgConnectOptions,
    /// A pool as the owner.
    pub owner: PgPool,
    /// A pool as the runtime role, as the service uses.
    pub runtime: PgPool,
}

impl TestDatabase {
    /// Create and migrate a new database.
    ///
    /// # Panics
    /// When `DATABASE_URL` is unset or the server is unreachable: the tests
    /// need a real PostgreSQL (`scripts/test` starts one).
    pub async fn new() -> TestDatabase {
        Self::create(true).await
    }

    /// Create a new database without migrating it (the runtime pool then
    /// connects lazily, once something has migrated it).
    pub async fn unmigrated() -> TestDatabase {
        Self::create(false).await
    }

    /// A database an earlier run made (its name, `test_…`), e.g. to
    /// benchmark again over a large generated log without generating it;
    /// migrated to this version first.
    pub async fn existing(name: &str) -> TestDatabase {
        let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
        let admin = db::connect_options(&url).expect("DATABASE_URL is a valid postgres URL");
        let owner_options = admin.database(name);
        db::migrate(&owner_options)
            .await
            .expect("migrate the database");
        let owner = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect_with(owner_options.clone())
            .await
            .expect("owner pool");
        let runtime = db::runtime_pool(owner_options.clone(), &PoolSettings::default())
            .await
            .expect("runtime pool");
        TestDatabase {
            name: name.to_owned(),
            owner_options,
            owner,
            runtime,
        }
    }

    async fn create(migrate: bool) -> TestDatabase {
        let url = std::env::var("DATABASE_URL").expect(
            "DATABASE_URL must point at a PostgreSQL cluster; run the tests with scripts/test",
        );
        let admin = db::connect_options(&url).expect("DATABASE_URL is a valid postgres URL");
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect_with(&admin.clone().database("postgres"))
            .await
            .expect("connect to the test cluster");
        conn.execute(format!("create database {name}").as_str())
            .await
            .expect("create a test database");
        ensure_runtime_role(&mut conn).await;
        conn.close().await.ok();
        let owner_options = admin.database(&name);
        if migrate {
            db::migrate(&owner_options)
                .await
                .expect("migrate the test database");
        }
        let owner = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect_with(owner_options.clone())
            .await
            .expect("owner pool");
        let runtime = if migrate {
            db::runtime_pool(owner_options.clone(), &PoolSettings::default())
                .await
                .expect("runtime pool")
        } else {
            sqlx::postgres::PgPoolOptions::new().connect_lazy_with(owner_options.clone())
        };
        TestDatabase {
            name,
            owner_options,
            owner,
            runtime,
        }
    }

    /// The URL of this database as the service's own login role
    /// (`registry_app`), as a deployment gives it in `DATABASE_URL`.
    pub fn runtime_url(&self) -> String {
        runtime_url_for(&self.url())
    }

    /// The URL of this database as its owner (superuser in tests).
    pub fn url(&self) -> String {
        let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
        let (prefix, rest) = base
            .rsplit_once('/')
            .expect("DATABASE_URL has a database path");
        let query = rest
            .split_once('?')
            .map(|(_, q)| format!("?{q}"))
            .unwrap_or_default();
        format!("{prefix}/{}{query}", self.name)
    }
}

/// `owner_url` with the service's own login role (`registry_app`) instead
/// of the owner.
pub fn runtime_url_for(owner_url: &str) -> String {
    let mut url = url::Url::parse(owner_url).expect("a postgres:// URL");
    url.set_username(db::RUNTIME_ROLE)
        .expect("a URL with a host");
    url.set_password(Some(&runtime_password()))
        .expect("a URL with a host");
    url.to_string()
}

/// The runtime role's password in test clusters
/// (`REGISTRY_TEST_APP_PASSWORD`; the private cluster trusts local logins).
fn runtime_password() -> String {
    std::env::var("REGISTRY_TEST_APP_PASSWORD").unwrap_or_else(|_| "registry-app-test-only".into())
}

/// Roles belong to the cluster, not to one database: two tests migrating
/// their own databases at the same moment would both see no `registry_app`
/// and both try to create it. The migration's check-then-create is enough for
/// one service migrating one database; for parallel tests the role is made
/// here first, under a lock held in the shared `postgres` database.
async fn ensure_runtime_role(conn: &mut PgConnection) {
    const LOCK: i64 = 0x7265_6769_7374_7279; // "registry"
    sqlx::query("select pg_advisory_lock($1)")
        .bind(LOCK)
        .execute(&mut *conn)
        .await
        .expect("lock for creating the runtime role");
    let made = conn
        .execute(
            format!(
                "do $$ begin \
               if not exists (select 1 from pg_roles where rolname = '{role}') then \
                 create role {role} login password '{password}'; \
               else \
                 alter role {role} login password '{password}'; \
               end if; \
             end $$;",
                role = db::RUNTIME_ROLE,
                password = runtime_password().replace('\'', "''"),
            )
            .as_str(),
        )
        .await;
    sqlx::query("select pg_advisory_unlock($1)")
        .bind(LOCK)
        .execute(&mut *conn)
        .await
        .expect("unlock after creating the runtime role");
    made.expect("create the runtime role");
}
