//! Development helpers: `dev-token`, `seed-demo` and `dev-mail-catcher`.

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
            format!("unknown role `{code}`; roles are: staff, line_manager, senior_officer, communications, consultation, auditor, admin, data_protection, integration")
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

/// `dev-mail-catcher`: a local SMTP server for development. It accepts
/// every message and writes it whole to `dir` as `<n>.eml` (open it in any
/// mail client, or read it as text). Refused when `REGISTRY_ENV` is
/// production. It logs only the file's name: a message's addresses are
/// personal data.
pub(crate) async fn mail_catcher(
    listen: std::net::SocketAddr,
    dir: std::path::PathBuf,
) -> anyhow::Result<ExitCode> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    if std::env::var("REGISTRY_ENV").is_ok_and(|e| e.eq_ignore_ascii_case("production")) {
        anyhow::bail!("dev-mail-catcher is for development only (REGISTRY_ENV=production)");
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    eprintln!(
        "dev-mail-catcher: listening on {listen}; messages go to {}",
        dir.display()
    );
    let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(
        std::fs::read_dir(&dir)
            .map(|d| d.count() as u64)
            .unwrap_or(0),
    ));
    loop {
        let (socket, _) = listener.accept().await?;
        let dir = dir.clone();
        let count = count.clone();
        tokio::spawn(async move {
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read).lines();
            let _ = write.write_all(b"220 dev-mail-catcher ESMTP\r\n").await;
            while let Ok(Some(line)) = lines.next_line().await {
                let upper = line.to_ascii_uppercase();
                let reply: &[u8] = if upper.starts_with("EHLO") {
                    b"250-dev-mail-catcher\r\n250 8BITMIME\r\n"
                } else if upper.starts_with("DATA") {
                    let _ = write.write_all(b"354 go ahead\r\n").await;
                    let mut data = String::new();
                    while let Ok(Some(l)) = lines.next_line().await {
                        if l == "." {
                            break;
                        }
                        data.push_str(
                            l.strip_prefix('.')
                                .filter(|_| l.starts_with(".."))
                                .unwrap_or(&l),
                        );
                        data.push_str("\r\n");
                    }
                    let n = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    let file = dir.join(format!("{n:05}.eml"));
                    match std::fs::write(&file, data) {
                        Ok(()) => eprintln!("dev-mail-catcher: caught {}", file.display()),
                        Err(e) => {
                            eprintln!("dev-mail-catcher: could not write {}: {e}", file.display())
                        }
                    }
                    b"250 caught\r\n"
                } else if upper.starts_with("QUIT") {
                    let _ = write.write_all(b"221 bye\r\n").await;
                    break;
                } else {
                    b"250 OK\r\n"
                };
                if write.write_all(reply).await.is_err() {
                    break;
                }
            }
        });
    }
}
