//! `retention`: erase personal data past its retention period.

use std::process::ExitCode;

use event_store::vault::Vault;
use event_store::EventStore;
use server::config::Settings;

use super::database::runtime_pool;

pub(crate) async fn retention(
    settings: Settings,
    dry_run: bool,
    as_of: Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<ExitCode> {
    let pool = runtime_pool(&settings).await?;
    let handler = app::commands::Handler::new(
        EventStore::new(pool.clone()),
        Vault::new(pool.clone(), settings.vault_master_key()?),
    );
    let as_of = as_of.unwrap_or_else(chrono::Utc::now);
    let plan =
        app::privacy::retention_plan(&pool, &handler, as_of, settings.retention_years).await?;
    println!("{}", serde_json::to_string_pretty(&plan)?);
    if dry_run {
        eprintln!("retention (dry run): {} people would be erased", plan.len());
    } else {
        let cid = format!("retention-{}", uuid::Uuid::new_v4());
        let n =
            app::privacy::apply_retention(&handler, &plan, settings.retention_years, &cid).await?;
        eprintln!("retention: erased {n} people");
    }
    Ok(ExitCode::SUCCESS)
}
