//! `migrate`, the runtime pool every subcommand uses, and `rebuild-projections`.

use std::process::ExitCode;

use anyhow::Context;
use event_store::db::{self, PoolSettings};
use server::config::Settings;

pub(crate) async fn migrate(settings: Settings) -> anyhow::Result<ExitCode> {
    let options = db::connect_options(settings.migration_database_url())
        .context("REGISTRY_MIGRATION_DATABASE_URL (or DATABASE_URL) is not a valid postgres URL")?;
    db::migrate(&options).await.context("applying migrations")?;
    tracing::info!(
        migrations = db::MIGRATOR.iter().count(),
        "migrations applied"
    );
    Ok(ExitCode::SUCCESS)
}

/// The runtime pool, connected as the service's own login role. A login
/// that could bypass the log's protections (its owner, or a superuser) is
/// refused in production; in development it falls back to `set role
/// registry_app`, with a warning.
pub(crate) async fn runtime_pool(settings: &Settings) -> anyhow::Result<sqlx::PgPool> {
    let options = db::connect_options(settings.database_url())
        .context("DATABASE_URL is not a valid postgres URL")?;
    let mut role = settings.db_role.clone();
    if role.is_none() {
        let privileged = db::login_is_privileged(&options)
            .await
            .context("connecting to the database")?;
        if privileged {
            if settings.environment == server::config::Environment::Production {
                anyhow::bail!(
                    "DATABASE_URL logs in as the database's owner or a superuser, which can lift the event log's protections: \
                     give the service its own login role (`registry_app`, see the README's Security section) and the owner's URL as REGISTRY_MIGRATION_DATABASE_URL"
                );
            }
            tracing::warn!(
                role = db::RUNTIME_ROLE,
                "DATABASE_URL logs in as the owner or a superuser; falling back to `set role` (development only)"
            );
            role = Some(db::RUNTIME_ROLE.to_owned());
        }
    }
    let pool_settings = PoolSettings {
        max_connections: settings.db_max_connections,
        role,
        ..PoolSettings::default()
    };
    db::runtime_pool(options, &pool_settings)
        .await
        .context("connecting to the database")
}

pub(crate) async fn rebuild_projections(settings: Settings) -> anyhow::Result<ExitCode> {
    // The rebuild swaps schemas: the owner's work.
    let options = db::connect_options(settings.migration_database_url())
        .context("REGISTRY_MIGRATION_DATABASE_URL (or DATABASE_URL) is not a valid postgres URL")?;
    let owner = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .context("connecting to the database")?;
    let mut last_percent = -1;
    let report = projections::rebuild::rebuild(
        &owner,
        settings.rebuild_batch,
        settings.review_period_days,
        |events, position, head| {
            let percent = if head == 0 {
                100
            } else {
                position * 100 / head
            };
            if percent != last_percent {
                eprintln!(
                    "rebuild: position {position} of {head} ({percent}%), {events} events applied"
                );
                last_percent = percent;
            }
        },
    )
    .await
    .context("rebuilding the read models")?;
    eprintln!(
        "rebuilt every read model up to position {} ({} events) in {:.1} s (reading and folding the log {:.1} s, copying the rows in {:.1} s, building indexes {:.1} s) and swapped them in",
        report.position,
        report.events,
        report.millis as f64 / 1000.0,
        report.fold_millis as f64 / 1000.0,
        report.write_millis as f64 / 1000.0,
        report.index_millis as f64 / 1000.0
    );
    Ok(ExitCode::SUCCESS)
}
