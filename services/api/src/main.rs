//! `social-registry`: the service and its operational subcommands.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use api::config::{LogFormat, Settings};
use api::state::AppState;
use api::{graphql, http, telemetry};
use clap::{Parser, Subcommand};
use event_store::chain::ChainReport;
use event_store::db::{self, PoolSettings};
use event_store::heads::SignedHead;
use event_store::vault::Vault;
use event_store::{EventStore, LogNotifier};
use projections::{Projector, ProjectorConfig};
use tokio::sync::watch;

#[derive(Debug, Parser)]
#[command(
    name = "social-registry",
    version,
    about = "The council's social media registry"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate (unless REGISTRY_MIGRATE_ON_START=false) and serve HTTP.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Verify the event log's hash chain; exits 1 when it does not verify.
    /// With `--head`, verify from position 1 and prove the log up to each
    /// signed head unchanged.
    VerifyChain {
        /// First position to verify (default 1).
        #[arg(long)]
        from: Option<i64>,
        /// Last position to verify (default: the head).
        #[arg(long)]
        to: Option<i64>,
        /// A signed head file (JSON, as `sign-head` or `signedHeads` gives);
        /// repeatable.
        #[arg(long = "head")]
        heads: Vec<std::path::PathBuf>,
        /// The public key to trust (base64); default: the key each head names.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Sign the current log head, store it and print it (JSON).
    SignHead,
    /// Write the event log as NDJSON (one event per line) to stdout.
    ExportEvents {
        /// Start after this position.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// Stop at this position (default: the head).
        #[arg(long)]
        to: Option<i64>,
    },
    /// Verify an NDJSON export offline (no database): the chain, and each
    /// signed head against it. Exits 1 when it does not verify.
    VerifyExport {
        /// The export file.
        file: std::path::PathBuf,
        /// A signed head file; repeatable.
        #[arg(long = "head")]
        heads: Vec<std::path::PathBuf>,
        /// The public key to trust (base64); default: the key each head names.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Print the registry as it stood at a position or time, reconstructed
    /// from the log (JSON, personal data opened).
    RegistryAt {
        /// The log position.
        #[arg(long)]
        position: Option<i64>,
        /// Or a moment (RFC 3339).
        #[arg(long)]
        at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Print a registration's history (NDJSON, personal data opened).
    History {
        /// The registration's id.
        id: uuid::Uuid,
    },
    /// Erase personal data held only on registrations withdrawn or rejected
    /// more than REGISTRY_RETENTION_YEARS ago; `--dry-run` lists it.
    Retention {
        /// List what would be erased, erase nothing.
        #[arg(long)]
        dry_run: bool,
        /// Judge as of this moment (default now).
        #[arg(long)]
        as_of: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Print the GraphQL schema (SDL) to stdout.
    PrintSchema,
    /// Rebuild every read model from position 0 into fresh tables and swap
    /// them in atomically; prints progress.
    RebuildProjections,
    /// Load a small demonstration council through the ordinary commands
    /// (only into an empty registry; migrates first).
    SeedDemo,
    /// Print a development bearer token (HS256, signed with
    /// REGISTRY_JWT_SECRET or the generated development secret).
    DevToken {
        /// Staff id (the token subject).
        #[arg(long)]
        sub: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Comma-separated roles: staff, line_manager, senior_officer,
        /// communications, consultation, auditor, admin, data_protection.
        #[arg(long, default_value = "staff")]
        roles: String,
        /// Lifetime in minutes.
        #[arg(long, default_value_t = 480)]
        ttl_minutes: u64,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::PrintSchema => {
            print!("{}", graphql::sdl());
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve => with_settings(serve).await,
        Command::Migrate => with_settings(migrate).await,
        Command::SeedDemo => with_settings(seed_demo).await,
        Command::RebuildProjections => with_settings(rebuild_projections).await,
        Command::DevToken {
            sub,
            name,
            roles,
            ttl_minutes,
        } => dev_token(sub, name, roles, ttl_minutes),
        Command::VerifyChain {
            from,
            to,
            heads,
            public_key,
        } => with_settings(move |s| verify_chain(s, from, to, heads, public_key)).await,
        Command::SignHead => with_settings(sign_head).await,
        Command::ExportEvents { after, to } => {
            with_settings(move |s| export_events(s, after, to)).await
        }
        Command::VerifyExport {
            file,
            heads,
            public_key,
        } => verify_export(file, heads, public_key),
        Command::RegistryAt { position, at } => {
            with_settings(move |s| registry_at(s, position, at)).await
        }
        Command::History { id } => with_settings(move |s| history(s, id)).await,
        Command::Retention { dry_run, as_of } => {
            with_settings(move |s| retention(s, dry_run, as_of)).await
        }
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "social-registry failed");
            eprintln!("social-registry: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn with_settings<F, Fut>(run: F) -> anyhow::Result<ExitCode>
where
    F: FnOnce(Settings) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<ExitCode>>,
{
    let settings = Settings::from_env().inspect_err(|_| {
        telemetry::init(LogFormat::Pretty);
    })?;
    let telemetry = telemetry::init(settings.log_format);
    let result = run(settings).await;
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    result
}

fn dev_token(
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
    let token = api::auth::dev_token(
        &secret,
        &sub,
        name.as_deref(),
        &parsed,
        std::time::Duration::from_secs(ttl_minutes * 60),
    )?;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

async fn seed_demo(settings: Settings) -> anyhow::Result<ExitCode> {
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
    let handler = api::commands::Handler::new(store, vault);
    let seeded = api::demo::seed(&handler)
        .await
        .map_err(|e| anyhow::anyhow!("seeding the demonstration council: {e}"))?;
    eprintln!(
        "seed-demo: {} registrations ({} published), log at position {}",
        seeded.registrations, seeded.published, seeded.position
    );
    eprintln!("seed-demo: people (mint a token with `social-registry dev-token --sub <id> --roles <roles>`):");
    for (subject, name, roles) in api::demo::PEOPLE {
        let roles: Vec<&str> = roles.iter().map(|r| r.code()).collect();
        eprintln!("  {subject:<12} {name:<16} {}", roles.join(","));
    }
    pool.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn migrate(settings: Settings) -> anyhow::Result<ExitCode> {
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
async fn runtime_pool(settings: &Settings) -> anyhow::Result<sqlx::PgPool> {
    let options = db::connect_options(settings.database_url())
        .context("DATABASE_URL is not a valid postgres URL")?;
    let mut role = settings.db_role.clone();
    if role.is_none() {
        let privileged = db::login_is_privileged(&options)
            .await
            .context("connecting to the database")?;
        if privileged {
            if settings.environment == api::config::Environment::Production {
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

fn read_heads(paths: &[std::path::PathBuf]) -> anyhow::Result<Vec<SignedHead>> {
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

fn print_audit(report: &event_store::audit::AuditReport) -> anyhow::Result<ExitCode> {
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

fn verify_export(
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

async fn sign_head(settings: Settings) -> anyhow::Result<ExitCode> {
    let store = EventStore::new(runtime_pool(&settings).await?);
    let head = store
        .sign_head(&settings.head_signer()?)
        .await
        .context("signing the log head")?;
    println!("{}", serde_json::to_string_pretty(&head)?);
    Ok(ExitCode::SUCCESS)
}

async fn export_events(
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

async fn registry_at(
    settings: Settings,
    position: Option<i64>,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<ExitCode> {
    let pool = runtime_pool(&settings).await?;
    let store = EventStore::new(pool.clone());
    let vault = Vault::new(pool, settings.vault_master_key()?);
    let position = match api::audit::resolve_position(&store, position, at).await? {
        Ok(p) => p,
        Err((field, problem)) => anyhow::bail!("--{field}: {problem}"),
    };
    let list = api::audit::registry_at(&store, position).await?;
    let mut out = Vec::with_capacity(list.len());
    for r in &list {
        out.push(api::audit::reveal_json(&vault, &serde_json::to_value(r)?).await?);
    }
    println!(
        "{}",
        serde_json::to_string_pretty(
            &serde_json::json!({ "position": position, "registrations": out })
        )?
    );
    Ok(ExitCode::SUCCESS)
}

async fn history(settings: Settings, id: uuid::Uuid) -> anyhow::Result<ExitCode> {
    let pool = runtime_pool(&settings).await?;
    let store = EventStore::new(pool.clone());
    let vault = Vault::new(pool, settings.vault_master_key()?);
    let items = api::audit::history(&store, &vault, id).await?;
    if items.is_empty() {
        anyhow::bail!("no registration {id}");
    }
    for item in items {
        println!("{}", serde_json::to_string(&item)?);
    }
    Ok(ExitCode::SUCCESS)
}

async fn retention(
    settings: Settings,
    dry_run: bool,
    as_of: Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<ExitCode> {
    let pool = runtime_pool(&settings).await?;
    let handler = api::commands::Handler::new(
        EventStore::new(pool.clone()),
        Vault::new(pool.clone(), settings.vault_master_key()?),
    );
    let as_of = as_of.unwrap_or_else(chrono::Utc::now);
    let plan =
        api::privacy::retention_plan(&pool, &handler, as_of, settings.retention_years).await?;
    println!("{}", serde_json::to_string_pretty(&plan)?);
    if dry_run {
        eprintln!("retention (dry run): {} people would be erased", plan.len());
    } else {
        let cid = format!("retention-{}", uuid::Uuid::new_v4());
        let n =
            api::privacy::apply_retention(&handler, &plan, settings.retention_years, &cid).await?;
        eprintln!("retention: erased {n} people");
    }
    Ok(ExitCode::SUCCESS)
}

async fn verify_chain(
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

async fn rebuild_projections(settings: Settings) -> anyhow::Result<ExitCode> {
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
        "rebuilt every read model up to position {} ({} events) in {:.1} s and swapped them in",
        report.position,
        report.events,
        report.millis as f64 / 1000.0
    );
    Ok(ExitCode::SUCCESS)
}

async fn serve(settings: Settings) -> anyhow::Result<ExitCode> {
    api::prom::install();
    if settings.migrate_on_start {
        migrate(settings.clone()).await?;
    }
    let pool = runtime_pool(&settings).await?;
    let vault = Vault::new(pool.clone(), settings.vault_master_key()?);
    let notifier = LogNotifier::start(pool.clone(), settings.poll_interval)
        .await
        .context("listening for new events")?;
    let projector = settings.run_projector.then(|| {
        let config = ProjectorConfig {
            batch_size: settings.projection_batch,
            review_period_days: settings.review_period_days,
            on_batch: Some(Arc::new(|outcome, took| {
                metrics::histogram!("projection_batch_duration_seconds", "projection" => "all").record(took);
                for (model, took) in &outcome.timings {
                    metrics::histogram!("projection_batch_duration_seconds", "projection" => *model).record(*took);
                }
            })),
            ..ProjectorConfig::default()
        };
        let handle = Projector::new(pool.clone(), notifier.wake(), config).spawn();
        let stats = handle.stats.clone();
        tokio::spawn(async move {
            loop {
                let leader = if stats.is_leader() { 1.0 } else { 0.0 };
                metrics::gauge!("projector_leader").set(leader);
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        });
        handle
    });
    let state = AppState {
        pool: pool.clone(),
        store: EventStore::new(pool.clone()),
        vault,
        notifier: Arc::new(notifier),
        signer: settings.head_signer()?,
    };
    let background = api::jobs::spawn(
        &state,
        &api::jobs::JobSettings {
            head_sign_interval: settings.head_sign_interval,
            retention_interval: settings.retention_interval,
            retention_years: settings.retention_years,
        },
    );
    let auth = api::auth::Authenticator::new(settings.auth_config()?)?;
    let api_settings = graphql::ApiSettings {
        read_wait: settings.read_wait,
        review_period_days: settings.review_period_days,
        council_name: settings.council_name.clone(),
        connections_per_request: settings.db_connections_per_request,
        query_timeout: settings.query_timeout,
    };
    let schema = graphql::build(Some((state.clone(), api_settings)));
    let http_config = http::HttpConfig {
        max_body_bytes: settings.max_body_bytes,
        graphiql: settings.environment == api::config::Environment::Development,
        cors_origins: settings.cors_origins.clone(),
        ws: settings.ws.clone(),
        request_timeout: settings.request_timeout,
    };
    let web = api::web::WebState {
        app: state.clone(),
        council_name: settings.council_name.clone(),
        reports: Arc::new(api::web::RateLimiter::new(
            settings.reports_per_hour,
            std::time::Duration::from_secs(3600),
        )),
        trusted_proxies: settings.trusted_proxies,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let app = http::router(state, schema, auth, http_config, web, stop_rx.clone());

    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("binding REGISTRY_LISTEN={}", settings.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, url = %format!("http://{address}/graphql"), "listening");

    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: no new connections, finishing requests in flight");
        let _ = stop_tx.send(true);
    });
    let server = api::listen::serve(listener, app, settings.header_timeout, stop_rx.clone());
    let mut deadline = stop_rx;
    let grace = settings.shutdown_grace;
    tokio::select! {
        () = server => {},
        _ = async move {
            let _ = deadline.wait_for(|stop| *stop).await;
            tokio::time::sleep(grace).await;
        } => tracing::warn!(grace_seconds = grace.as_secs(), "grace period over; closing the remaining connections"),
    }
    background.abort();
    if let Some(projector) = projector {
        projector.stop().await;
    }
    pool.close().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}
