//! `social-registry`: the service and its operational subcommands.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use server::config::{LogFormat, Settings};
use server::telemetry;

// mimalloc instead of glibc's malloc: allocation was a fifth of the
// rebuild's own CPU time with glibc (measured with perf), and the service's
// request handling allocates as much.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Import the accounts the council already runs from a CSV file (the
    /// README's "Importing existing accounts" lists the columns): each row
    /// becomes a published, grandfathered registration, all in one
    /// transaction or none. Prints a report of every row (JSON); exits 2
    /// when a row is refused or the file is malformed (nothing imported).
    Import {
        /// The CSV file.
        file: std::path::PathBuf,
        /// The communications officer the import is recorded as (staff id).
        #[arg(long)]
        by: String,
        /// Report what would happen; import nothing.
        #[arg(long)]
        dry_run: bool,
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
        /// communications, consultation, auditor, admin, data_protection,
        /// integration.
        #[arg(long, default_value = "staff")]
        roles: String,
        /// Lifetime in minutes.
        #[arg(long, default_value_t = 480)]
        ttl_minutes: u64,
    },
    /// Development only: catch the service's email on a local SMTP port
    /// and write each message to a file (`scripts/serve` starts it).
    DevMailCatcher {
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:1025")]
        listen: std::net::SocketAddr,
        /// Where each message is written, as an `.eml` file.
        #[arg(long)]
        dir: std::path::PathBuf,
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
        Command::Serve => with_settings(cli::serve::serve).await,
        Command::Migrate => with_settings(cli::database::migrate).await,
        Command::SeedDemo => with_settings(cli::dev::seed_demo).await,
        Command::RebuildProjections => with_settings(cli::database::rebuild_projections).await,
        Command::DevToken {
            sub,
            name,
            roles,
            ttl_minutes,
        } => cli::dev::dev_token(sub, name, roles, ttl_minutes),
        Command::DevMailCatcher { listen, dir } => cli::dev::mail_catcher(listen, dir).await,
        Command::VerifyChain {
            from,
            to,
            heads,
            public_key,
        } => with_settings(move |s| cli::audit::verify_chain(s, from, to, heads, public_key)).await,
        Command::SignHead => with_settings(cli::audit::sign_head).await,
        Command::ExportEvents { after, to } => {
            with_settings(move |s| cli::audit::export_events(s, after, to)).await
        }
        Command::VerifyExport {
            file,
            heads,
            public_key,
        } => cli::audit::verify_export(file, heads, public_key),
        Command::RegistryAt { position, at } => {
            with_settings(move |s| cli::audit::registry_at(s, position, at)).await
        }
        Command::History { id } => with_settings(move |s| cli::audit::history(s, id)).await,
        Command::Import { file, by, dry_run } => {
            with_settings(move |s| cli::import::import(s, file, by, dry_run)).await
        }
        Command::Retention { dry_run, as_of } => {
            with_settings(move |s| cli::privacy::retention(s, dry_run, as_of)).await
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
