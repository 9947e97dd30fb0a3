//! Connecting to PostgreSQL: the embedded migrations, the owner connection
//! that applies them, and the runtime pool that runs as `registry_app`.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection, PgPool};

/// Every migration of the project, embedded at build time from `migrations/`.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// The advisory lock every append holds until commit. One number for the
/// whole database: it is what makes positions gap-free and commit-ordered.
pub(crate) const APPEND_LOCK: i64 = 0x534d_5231_4150_5044; // "SMR1APPD"

/// The channel on which each commit announces its last position.
pub const NOTIFY_CHANNEL: &str = "registry_events";

/// The role the service's statements run as (see the first migration).
pub const RUNTIME_ROLE: &str = "registry_app";

/// Parse a `postgres://` URL, naming the connection for `pg_stat_activity`.
pub fn connect_options(url: &str) -> Result<PgConnectOptions, sqlx::Error> {
    Ok(PgConnectOptions::from_str(url)?.application_name("social-registry"))
}

/// Apply pending migrations as the connecting (owner) user.
pub async fn migrate(options: &PgConnectOptions) -> Result<(), sqlx::migrate::MigrateError> {
    let mut conn = PgConnection::connect_with(options).await?;
    MIGRATOR.run(&mut conn).await?;
    conn.close().await.ok();
    Ok(())
}

// The expression of DURABLE_COMMIT, once (a macro, so both constants can
// be built from it).
macro_rules! durable_commit_setting {
    () => {
        "set_config('synchronous_commit', \
         case when current_setting('synchronous_commit') in ('off', 'local', 'remote_write') \
              then 'on' else current_setting('synchronous_commit') end, true)"
    };
}
/// Makes the transaction it runs in commit with `synchronous_commit` at
/// least `on` (its own setting, whatever the server or role default is): an
/// acknowledged append must be flushed on the primary and, with synchronous
/// standbys configured, on them too, so a failover cannot lose it. A
/// stronger setting (`remote_apply`) is kept.
pub const DURABLE_COMMIT: &str = concat!("select ", durable_commit_setting!());

/// [`DURABLE_COMMIT`]'s expression alone, to select with something else.
pub const DURABLE_COMMIT_SETTING: &str = durable_commit_setting!();

/// Pool settings for the runtime pool.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Most connections.
    pub max_connections: u32,
    /// How long to wait for a free connection.
    pub acquire_timeout: Duration,
    /// Role to `set role` to on every connection; `None` keeps the login role.
    pub role: Option<String>,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            role: Some(RUNTIME_ROLE.to_owned()),
        }
    }
}

/// The runtime pool: every connection switches to the runtime role first,
/// so the service's own statements can only read and append the log.
pub async fn runtime_pool(
    options: PgConnectOptions,
    settings: &PoolSettings,
) -> Result<PgPool, sqlx::Error> {
    let role = settings.role.clone();
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout)
        .after_connect(move |conn, _meta| {
            let role = role.clone();
            Box::pin(async move {
                if let Some(role) = role {
                    let sql = format!("set role \"{}\"", role.replace('"', "\"\""));
                    conn.execute(sql.as_str()).await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
}

/// True when the login of `options` could lift the log's protections: a
/// superuser, or a member of the role that owns `events` (the owner can
/// disable its triggers). Before the first migration nothing is owned, and
/// only a superuser counts.
pub async fn login_is_privileged(options: &PgConnectOptions) -> Result<bool, sqlx::Error> {
    let mut conn = PgConnection::connect_with(options).await?;
    let privileged: bool = sqlx::query_scalar(
        "select r.rolsuper or coalesce((select pg_has_role(current_user, t.tableowner, 'member') \
                from pg_tables t where t.schemaname = current_schema() and t.tablename = 'events'), false) \
         from pg_roles r where r.rolname = current_user",
    )
    .fetch_one(&mut conn)
    .await?;
    conn.close().await.ok();
    Ok(privileged)
}

/// True when every embedded migration has been applied successfully.
pub async fn migrations_applied(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let applied: Vec<i64> =
        sqlx::query_scalar("select version from _sqlx_migrations where success order by version")
            .fetch_all(pool)
            .await?;
    Ok(MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .all(|m| applied.contains(&m.version)))
}
