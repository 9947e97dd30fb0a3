//! Audit subcommands: `verify-chain`, `sign-head`, `export-events`, `verify-export`, `registry-at`, `history`.

use std::process::ExitCode;

use anyhow::Context;
use event_store::chain::ChainReport;
use event_store::heads::SignedHead;
use event_store::vault::Vault;
use event_store::EventStore;
use server::config::LogFormat;
use server::config::Settings;
use server::telemetry;

use super::database::runtime_pool;

pub(crate) fn read_heads(paths: &[std::path::PathBuf]) -> anyhow::Result<Vec<SignedHead>> {
    paths
        .iter()
        .map(|p| {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not a signed head (JSON)", p.display()))
        })
        .collect()
}

pub(crate) fn print_audit(report: &event_store::audit::AuditReport) -> anyhow::Result<ExitCode> {
    println!("{}", serde_json::to_string(report)?);
    match &report.problem {
        None => {
            let count = match &report.chain {
                ChainReport::Verified { count, .. } => *count,
                ChainReport::Broken { .. } => 0,
            };
            eprintln!(
                "verified {count} events; {} signed head(s) match",
                report.heads.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(problem) => {
            eprintln!("NOT verified: {problem}");
            Ok(ExitCode::FAILURE)
        }
    }
}

pub(crate) fn verify_export(
    file: std::path::PathBuf,
    heads: Vec<std::path::PathBuf>,
    public_key: Option<String>,
) -> anyhow::Result<ExitCode> {
    let _telemetry = telemetry::init(LogFormat::Pretty);
    let heads = read_heads(&heads)?;
    let reader = std::io::BufReader::new(
        std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?,
    );
    let report = event_store::audit::verify_export(reader, &heads, public_key.as_deref())?;
    print_audit(&report)
}

pub(crate) async fn sign_head(settings: Settings) -> anyhow::Result<ExitCode> {
    let store = EventStore::new(runtime_pool(&settings).await?);
    let head = store
        .sign_head(&settings.head_signer()?)
        .await
        .context("signing the log head")?;
    println!("{}", serde_json::to_string_pretty(&head)?);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn export_events(
    settings: Settings,
    after: i64,
    to: Option<i64>,
) -> anyhow::Result<ExitCode> {
    use futures::StreamExt;
    use std::io::Write;
    let store = EventStore::new(runtime_pool(&settings).await?);
    let lines = store.export_lines(after, to);
    futures::pin_mut!(lines);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut count = 0u64;
    while let Some(line) = lines.next().await {
        out.write_all(line.context("reading the event log")?.as_bytes())?;
        count += 1;
    }
    out.flush()?;
    eprintln!("exported {count} events");
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn registry_at(
    settings: Settings,
    position: Option<i64>,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<ExitCode> {
    let pool = runtime_pool(&settings).await?;
    let store = EventStore::new(pool.clone());
    let vault = Vault::new(pool, settings.vault_master_key()?);
    let position = match app::audit::resolve_position(&store, position, at).await? {
        Ok(p) => p,
        Err((field, problem)) => anyhow::bail!("--{field}: {problem}"),
    };
    let list = app::audit::registry_at(&store, position).await?;
    let mut out = Vec::with_capacity(list.len());
    for r in &list {
        out.push(app::audit::reveal_json(&vault, &serde_json::to_value(r)?).await?);
    }
    println!(
        "{}",
        serde_json::to_string_pretty(
            &serde_json::json!({ "position": position, "registrations": out })
        )?
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn history(settings: Settings, id: uuid::Uuid) -> anyhow::Result<ExitCode> {
    let pool = runtime_pool(&settings).await?;
    let store = EventStore::new(pool.clone());
    let vault = Vault::new(pool, settings.vault_master_key()?);
    let items = app::audit::history(&store, &vault, id).await?;
    if items.is_empty() {
        anyhow::bail!("no registration {id}");
    }
    for item in items {
        println!("{}", serde_json::to_string(&item)?);
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn verify_chain(
    settings: Settings,
    from: Option<i64>,
    to: Option<i64>,
    heads: Vec<std::path::PathBuf>,
    public_key: Option<String>,
) -> anyhow::Result<ExitCode> {
    let store = EventStore::new(runtime_pool(&settings).await?);
    if !heads.is_empty() {
        let heads = read_heads(&heads)?;
        let report = store
            .audit(to, &heads, public_key.as_deref())
            .await
            .context("reading the event log")?;
        return print_audit(&report);
    }
    let report = store
        .verify_chain(from, to)
        .await
        .context("reading the event log")?;
    println!("{}", serde_json::to_string(&report)?);
    match report {
        ChainReport::Verified {
            from,
            to,
            count,
            head_hash,
        } => {
            eprintln!("verified {count} events (positions {from}..={to}); head hash {head_hash}");
            Ok(ExitCode::SUCCESS)
        }
        ChainReport::Broken {
            position,
            reason,
            verified_before,
        } => {
            eprintln!("chain broken at position {position}: {reason} ({verified_before} events before it verified)");
            Ok(ExitCode::FAILURE)
        }
    }
}
