//! `import`: the accounts the council already runs, from a CSV file.

use std::process::ExitCode;

use app::commands::{ImportOptions, RowOutcome};
use event_store::vault::Vault;
use event_store::EventStore;
use serde_json::json;
use server::config::Settings;

use super::database::runtime_pool;

pub(crate) async fn import(
    settings: Settings,
    file: std::path::PathBuf,
    by: String,
    dry_run: bool,
) -> anyhow::Result<ExitCode> {
    let bytes =
        std::fs::read(&file).map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?;
    let pool = runtime_pool(&settings).await?;
    let handler = app::commands::Handler::new(
        EventStore::new(pool.clone()),
        Vault::new(pool.clone(), settings.vault_master_key()?),
    );
    let meta = app::commands::RequestMeta {
        actor: domain::Actor::new(by, [domain::Role::Communications]),
        display_name: None,
        correlation_id: format!("import-{}", uuid::Uuid::new_v4()),
        idempotency_key: None,
        expected_version: None,
        trace_id: None,
    };
    let options = ImportOptions {
        file_name: file.file_name().map_or_else(
            || file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        dry_run,
        review_days: settings.import_review_days,
    };
    let report = match handler.import(&bytes, &options, &meta).await {
        Ok(report) => report,
        Err(app::commands::HandleError::Domain(domain::DomainError::Invalid {
            field,
            problem,
        })) => {
            eprintln!(
                "import: {} refused, nothing imported: {field}: {problem}",
                file.display()
            );
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e.into()),
    };
    let rows: Vec<_> = report
        .rows
        .iter()
        .map(|r| {
            let (outcome, detail) = match &r.outcome {
                RowOutcome::WouldImport => ("would_import", json!(null)),
                RowOutcome::Imported => ("imported", json!(null)),
                RowOutcome::AlreadyRegistered { registration } => (
                    "already_registered",
                    json!({ "registration": registration }),
                ),
                RowOutcome::Refused { field, problem } => {
                    ("refused", json!({ "field": field, "problem": problem }))
                }
            };
            json!({
                "line": r.line,
                "account": r.account,
                "accountKey": r.account_key,
                "registrationId": r.registration_id,
                "outcome": outcome,
                "detail": detail,
            })
        })
        .collect();
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "file": options.file_name,
            "sha256": report.file_sha256,
            "dryRun": report.dry_run,
            "committed": report.committed,
            "position": report.position,
            "rows": rows,
        }))?
    );
    let (imported, already, refused) = report.counts();
    if dry_run {
        eprintln!(
            "import (dry run): would import {imported} accounts; {already} already registered; {refused} refused"
        );
    } else if refused > 0 {
        eprintln!("import: {refused} rows refused; nothing imported (the report names each field)");
    } else {
        eprintln!(
            "import: imported {imported} accounts; {already} already registered{}",
            report
                .position
                .map(|p| format!("; log at position {p}"))
                .unwrap_or_default()
        );
    }
    if refused > 0 {
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}
