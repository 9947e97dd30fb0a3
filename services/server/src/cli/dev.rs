//! Development helpers: `dev-token` and `seed-demo`.

use std::process::ExitCode;

use anyhow::Context;
use event_store::vault::Vault;
use event_store::EventStore;
use server::config::Settings;

use super::database::{migrate, runtime_pool};

pub(crate) fn dev_token(
    sub: String,
    name: Option<String>,
    roles: String,
    ttl_minutes: u64,
) -> anyhow::Result<ExitCode> {
    let settings = Settings::from_lookup(|name| match name {
        // dev-token needs no database.
        "DATABASE_URL" => {
            Some(std::env::var(name).unwrap_or_else(|_| "postgres://unused/x".into()))
        }
        _ => std::env::var(name).ok(),
    })?;
    let secret = settings
        .jwt_secret()?
        .context("production accepts no development tokens")?;
    let mut parsed = Vec::new();
    for code in roles.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let role = domain::Role::from_code(code).with_context(|| {
            format!("unknown role `{code}`; roles are: staff, line_manager, senior_officer, communications, consultation, auditor, admin, data_protection")
        })?;
        parsed.push(role);
    }
    let token = server::auth::dev_token(
        &secret,
        &sub,
        name.as_deref(),
        &parsed,
        std::time::Duration::from_secs(ttl_minutes * 60),
    )?;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn seed_demo(settings: Settings) -> anyhow::Result<ExitCode> {
    migrate(settings.clone()).await?;
    let pool = runtime_pool(&settings).await?;
    let store = EventStore::new(pool.clone());
    let head = store.head().await.context("reading the event log")?;
    if head.position > 0 {
        eprintln!(
            "seed-demo: the registry already holds {} events; the demonstration council is loaded only into an empty one",
            head.position
        );
        return Ok(ExitCode::SUCCESS);
    }
    let vault = Vault::new(pool.clone(), settings.vault_master_key()?);
    let handler = app::commands::Handler::new(store, vault);
    let seeded = app::demo::seed(&handler)
        .await
        .map_err(|e| anyhow::anyhow!("seeding the demonstration council: {e}"))?;
    eprintln!(
        "seed-demo: {} registrations ({} published), log at position {}",
        seeded.registrations, seeded.published, seeded.position
    );
    eprintln!("seed-demo: people (mint a token with `social-registry dev-token --sub <id> --roles <roles>`):");
    for (subject, name, roles) in app::demo::PEOPLE {
        let roles: Vec<&str> = roles.iter().map(|r| r.code()).collect();
        eprintln!("  {subject:<12} {name:<16} {}", roles.join(","));
    }
    pool.close().await;
    Ok(ExitCode::SUCCESS)
}
