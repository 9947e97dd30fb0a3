//! Configuration from the environment: `DATABASE_URL` and `REGISTRY_*`.
//!
//! Every setting has a default that works on a developer's machine, except
//! where production must be explicit (the vault key).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use event_store::vault::MasterKey;
use secrecy::{ExposeSecret, SecretString};

/// Development (the default) or production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Local work: missing secrets are generated under the data directory.
    Development,
    /// A real deployment: every secret must be configured.
    Production,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (the default).
    Json,
    /// Human-readable lines.
    Pretty,
}

/// All settings of the service.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `REGISTRY_ENV`: `development` (default) or `production`.
    pub environment: Environment,
    /// `DATABASE_URL`: the service's own login role (`registry_app`, with
    /// only the grants it needs); migrations use `migration_database_url`.
    pub database_url: SecretString,
    /// `REGISTRY_MIGRATION_DATABASE_URL`: the owner's connection, for
    /// `migrate`, migrate-on-start and `rebuild-projections` (default:
    /// `DATABASE_URL`).
    pub migration_database_url: Option<SecretString>,
    /// `REGISTRY_DB_ROLE`: a role runtime connections `set role` to (default
    /// none). In development only, a `DATABASE_URL` that logs in as the
    /// owner or a superuser falls back to `set role registry_app`;
    /// production refuses it.
    pub db_role: Option<String>,
    /// `REGISTRY_DB_CONNECTIONS_PER_REQUEST`: most pooled connections one
    /// GraphQL request may hold at once (default 4).
    pub db_connections_per_request: usize,
    /// `REGISTRY_QUERY_TIMEOUT_MS`: time budget of one GraphQL query
    /// (default 10000); a query past it is stopped with `limit: time`.
    pub query_timeout: Duration,
    /// `REGISTRY_HEADER_TIMEOUT_SECONDS`: longest wait for a request's
    /// headers (default 10).
    pub header_timeout: Duration,
    /// `REGISTRY_REQUEST_TIMEOUT_SECONDS`: longest an HTTP request (its body
    /// included) may take, streams and WebSockets excepted (default 30).
    pub request_timeout: Duration,
    /// WebSocket limits (`REGISTRY_WS_*`).
    pub ws: crate::ws::WsLimits,
    /// `REGISTRY_DB_MAX_CONNECTIONS` (default 16).
    pub db_max_connections: u32,
    /// `REGISTRY_LISTEN`: host:port (default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// `REGISTRY_DATA_DIR`: where development secrets live (default `.data`).
    pub data_dir: PathBuf,
    /// `REGISTRY_VAULT_KEY`: base64 of 32 bytes.
    pub vault_key: Option<SecretString>,
    /// `REGISTRY_MIGRATE_ON_START` (default true).
    pub migrate_on_start: bool,
    /// `REGISTRY_LOG_FORMAT`: `json` (default) or `pretty`.
    pub log_format: LogFormat,
    /// `REGISTRY_SHUTDOWN_GRACE_SECONDS` (default 20).
    pub shutdown_grace: Duration,
    /// `REGISTRY_POLL_INTERVAL_MS`: an idle projector looks at the log at
    /// least this often without a notification (default 30000: appends
    /// notify in their own transaction, and the listener wakes the
    /// projector after a reconnect, so this only covers the unforeseen).
    pub poll_interval: Duration,
    /// `REGISTRY_LIVE_BUFFER`: how many recent events the process's log tail
    /// keeps for live subscribers that are behind (default 4096); one
    /// further behind reads the log instead.
    pub live_buffer: usize,
    /// `REGISTRY_MAX_BODY_BYTES`: largest request body (default 1 MiB).
    pub max_body_bytes: usize,
    /// `REGISTRY_REVIEW_PERIOD_DAYS`: how long a published registration stays
    /// valid before its contact must re-validate it (default 365).
    pub review_period_days: i64,
    /// `REGISTRY_CONFIRMATION_GRACE_DAYS`: how long after an account's
    /// re-validation fell due the public answer says its confirmation is
    /// overdue (default 30; 0 at once).
    pub confirmation_grace_days: i64,
    /// `REGISTRY_POLICY_ACKNOWLEDGEMENT_DAYS`: how long after a new version
    /// of the social media policy is published each published account's
    /// business contact has to acknowledge it (default 60).
    pub policy_acknowledgement_days: i64,
    /// `REGISTRY_IMPORT_REVIEW_DAYS`: how long after an import each
    /// imported account's full review is due (default 90).
    pub import_review_days: i64,
    /// `REGISTRY_SMTP_URL`: where email goes (`smtp://user:pass@host:587?tls=required`
    /// for STARTTLS, `smtps://…:465` for TLS, `smtp://localhost:1025` for a
    /// local mail catcher); unset, nothing is emailed (the outbox still fills).
    pub smtp_url: Option<SecretString>,
    /// `REGISTRY_MAIL_FROM`: the sender's address.
    pub mail_from: String,
    /// `REGISTRY_STAFF_APP_URL`: where links in email point.
    pub staff_app_url: String,
    /// `REGISTRY_MAIL_ROLES`: team mailboxes, `role=address,…`.
    pub mail_roles: std::collections::HashMap<domain::Role, String>,
    /// `REGISTRY_OPERATIONS_EMAIL`: who runs the service; told when the
    /// read models stop following the log.
    pub operations_email: Option<String>,
    /// `REGISTRY_DIGEST_TIME`: when (UTC, `HH:MM`) the daily digests go
    /// out (default 07:00).
    pub digest_time: chrono::NaiveTime,
    /// `REGISTRY_REMINDER_INTERVAL_SECONDS`: how often reminders are
    /// decided from the registry and the date (default 3600).
    pub reminder_interval: Duration,
    /// `REGISTRY_PROJECTION_STALL_SECONDS`: how long the read models may
    /// stand still behind the log before operations is told (default 300).
    pub projection_stall: Duration,
    /// The staff app's sign-in: `REGISTRY_STAFF_OIDC_CLIENT_ID` (unset: no
    /// provider sign-in), `REGISTRY_STAFF_OIDC_CLIENT_SECRET`,
    /// `REGISTRY_STAFF_OIDC_ISSUER` (default `REGISTRY_OIDC_ISSUER`),
    /// `REGISTRY_STAFF_ROLES_CLAIM` (`roles`), `REGISTRY_STAFF_ROLE_MAP`.
    pub staff_oidc: Option<staff::oidc::OidcSettings>,
    /// Staff sessions: `REGISTRY_SESSION_IDLE_SECONDS` (1800) and
    /// `REGISTRY_SESSION_ABSOLUTE_SECONDS` (36000).
    pub staff_sessions: staff::session::SessionSettings,
    /// Webhook delivery: `REGISTRY_WEBHOOK_TIMEOUT_SECONDS` (10),
    /// `REGISTRY_WEBHOOK_FIRST_RETRY_SECONDS` (5, doubling),
    /// `REGISTRY_WEBHOOK_MAX_RETRY_GAP_SECONDS` (3600),
    /// `REGISTRY_WEBHOOK_RETRY_WINDOW_SECONDS` (86400: then a dead letter),
    /// `REGISTRY_WEBHOOK_DISABLE_AFTER_SECONDS` (432000: five days of
    /// continuous failure disable an endpoint).
    pub webhooks: app::webhooks::WebhookSettings,
    /// `REGISTRY_PROJECTOR` (default true): whether this instance competes
    /// to run the projector (one instance per database wins).
    pub run_projector: bool,
    /// `REGISTRY_PROJECTION_BATCH`: most events per projection batch
    /// (default 5000; a batch takes what has arrived, so under light load
    /// batches stay small).
    pub projection_batch: i64,
    /// `REGISTRY_REBUILD_BATCH`: events read from the log at a time by
    /// `rebuild-projections` (default 10000; the next page is read while
    /// one is folded).
    pub rebuild_batch: i64,
    /// `REGISTRY_JWT_SECRET`: HS256 secret for development and test tokens
    /// (generated into `<data dir>/jwt.secret` in development when unset;
    /// refused in production).
    pub jwt_secret: Option<SecretString>,
    /// `REGISTRY_OIDC_ISSUER`: the identity provider whose RS256/ES256
    /// tokens are accepted (required in production).
    pub oidc_issuer: Option<String>,
    /// `REGISTRY_OIDC_AUDIENCE`: the audience those tokens must name.
    pub oidc_audience: Option<String>,
    /// `REGISTRY_OIDC_JWKS_URL`: the key set's address, when it is not to be
    /// discovered from the issuer's `/.well-known/openid-configuration`.
    pub oidc_jwks_url: Option<String>,
    /// `REGISTRY_OIDC_MIN_REFRESH_SECONDS`: least time between key-set
    /// fetches caused by unknown key ids (default 10).
    pub oidc_min_refresh: Duration,
    /// `REGISTRY_CORS_ORIGINS`: comma-separated origins of the council's web
    /// front ends allowed to call the API from a browser (default none;
    /// `*` allows any origin, without credentials).
    pub cors_origins: Vec<String>,
    /// `REGISTRY_READ_WAIT_MS`: longest a query with `atLeastPosition` waits
    /// for the read models (default 5000).
    pub read_wait: Duration,
    /// `REGISTRY_COUNCIL_NAME`: the organisation verification names
    /// (default `The Council`).
    pub council_name: String,
    /// `REGISTRY_SIGNING_KEY`: base64 of the 32-byte Ed25519 secret that
    /// signs log heads (generated into `<data dir>/signing.key` in
    /// development; required in production).
    pub signing_key: Option<SecretString>,
    /// `REGISTRY_HEAD_SIGN_INTERVAL_SECONDS`: how often the leader signs the
    /// log head (default 3600; 0 never, only on request).
    pub head_sign_interval: Duration,
    /// `REGISTRY_RETENTION_YEARS`: personal data on registrations withdrawn
    /// or rejected longer ago than this is erased (default 6).
    pub retention_years: i64,
    /// `REGISTRY_RETENTION_INTERVAL_SECONDS`: how often the leader runs the
    /// retention job (default 86400; 0 never).
    pub retention_interval: Duration,
    /// `REGISTRY_REPORTS_PER_HOUR`: fake-account reports one client may file
    /// per hour (default 5).
    pub reports_per_hour: usize,
    /// `REGISTRY_TRUSTED_PROXIES`: how many proxies in front of the service
    /// append to `X-Forwarded-For` (default 0; `REGISTRY_TRUST_PROXY=true`
    /// means 1). The client is the entry that many hops from the right.
    pub trusted_proxies: usize,
}

impl Settings {
    /// Read the settings from the process environment.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read the settings through `get`, for tests.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let value = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let environment = match value("REGISTRY_ENV").as_deref() {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => {
                bail!("REGISTRY_ENV must be `development` or `production`, not `{other}`")
            }
        };
        let database_url = value("DATABASE_URL")
            .map(SecretString::from)
            .ok_or_else(|| {
                anyhow!("DATABASE_URL is not set (scripts/serve sets it for a local cluster)")
            })?;
        let db_role = value("REGISTRY_DB_ROLE");
        let trusted_proxies = match value("REGISTRY_TRUSTED_PROXIES") {
            Some(_) => number(&value, "REGISTRY_TRUSTED_PROXIES", 0)?,
            None => usize::from(flag(&value, "REGISTRY_TRUST_PROXY", false)?),
        };
        let ws = crate::ws::WsLimits {
            max_connections: number(&value, "REGISTRY_WS_MAX_CONNECTIONS", 5_000)?,
            max_subscriptions: number(&value, "REGISTRY_WS_MAX_SUBSCRIPTIONS", 20_000)?,
            max_subscriptions_per_connection: number(
                &value,
                "REGISTRY_WS_MAX_SUBSCRIPTIONS_PER_CONNECTION",
                20,
            )?,
            max_message_bytes: number(&value, "REGISTRY_WS_MAX_MESSAGE_BYTES", 64 * 1024)?,
            messages_per_second: number(&value, "REGISTRY_WS_MESSAGES_PER_SECOND", 20)?,
            outgoing_queue: number(&value, "REGISTRY_WS_OUTGOING_QUEUE", 256)?,
            ping_interval: Duration::from_secs(number(&value, "REGISTRY_WS_PING_SECONDS", 20)?),
        };
        ws.check()?;
        let listen = value("REGISTRY_LISTEN").unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen = listen.parse().with_context(|| {
            format!("REGISTRY_LISTEN must be host:port, e.g. 127.0.0.1:8080, not `{listen}`")
        })?;
        let log_format = match value("REGISTRY_LOG_FORMAT").as_deref() {
            None | Some("json") => LogFormat::Json,
            Some("pretty") | Some("text") => LogFormat::Pretty,
            Some(other) => bail!("REGISTRY_LOG_FORMAT must be `json` or `pretty`, not `{other}`"),
        };
        Ok(Settings {
            environment,
            database_url,
            migration_database_url: value("REGISTRY_MIGRATION_DATABASE_URL")
                .map(SecretString::from),
            db_role,
            db_connections_per_request: number(&value, "REGISTRY_DB_CONNECTIONS_PER_REQUEST", 4)?,
            query_timeout: Duration::from_millis(number(
                &value,
                "REGISTRY_QUERY_TIMEOUT_MS",
                10_000,
            )?),
            header_timeout: Duration::from_secs(number(
                &value,
                "REGISTRY_HEADER_TIMEOUT_SECONDS",
                10,
            )?),
            request_timeout: Duration::from_secs(number(
                &value,
                "REGISTRY_REQUEST_TIMEOUT_SECONDS",
                30,
            )?),
            ws,
            db_max_connections: number(&value, "REGISTRY_DB_MAX_CONNECTIONS", 16)?,
            listen,
            data_dir: value("REGISTRY_DATA_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| ".data".into()),
            vault_key: value("REGISTRY_VAULT_KEY").map(SecretString::from),
            migrate_on_start: flag(&value, "REGISTRY_MIGRATE_ON_START", true)?,
            log_format,
            shutdown_grace: Duration::from_secs(number(
                &value,
                "REGISTRY_SHUTDOWN_GRACE_SECONDS",
                20,
            )?),
            poll_interval: Duration::from_millis(number(
                &value,
                "REGISTRY_POLL_INTERVAL_MS",
                30_000,
            )?),
            live_buffer: positive(
                number(&value, "REGISTRY_LIVE_BUFFER", 4096)?,
                "REGISTRY_LIVE_BUFFER",
            )? as usize,
            max_body_bytes: number(&value, "REGISTRY_MAX_BODY_BYTES", 1024 * 1024)?,
            run_projector: flag(&value, "REGISTRY_PROJECTOR", true)?,
            rebuild_batch: positive(
                number(&value, "REGISTRY_REBUILD_BATCH", 10_000)?,
                "REGISTRY_REBUILD_BATCH",
            )?,
            projection_batch: positive(
                number(&value, "REGISTRY_PROJECTION_BATCH", 5000)?,
                "REGISTRY_PROJECTION_BATCH",
            )?,
            jwt_secret: value("REGISTRY_JWT_SECRET").map(SecretString::from),
            oidc_issuer: value("REGISTRY_OIDC_ISSUER"),
            oidc_audience: value("REGISTRY_OIDC_AUDIENCE"),
            oidc_jwks_url: value("REGISTRY_OIDC_JWKS_URL"),
            oidc_min_refresh: Duration::from_secs(number(
                &value,
                "REGISTRY_OIDC_MIN_REFRESH_SECONDS",
                10,
            )?),
            cors_origins: value("REGISTRY_CORS_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|o| o.trim().trim_end_matches('/').to_owned())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            signing_key: value("REGISTRY_SIGNING_KEY").map(SecretString::from),
            head_sign_interval: Duration::from_secs(number(
                &value,
                "REGISTRY_HEAD_SIGN_INTERVAL_SECONDS",
                3600,
            )?),
            retention_years: positive(
                number(&value, "REGISTRY_RETENTION_YEARS", 6)?,
                "REGISTRY_RETENTION_YEARS",
            )?,
            retention_interval: Duration::from_secs(number(
                &value,
                "REGISTRY_RETENTION_INTERVAL_SECONDS",
                86_400,
            )?),
            reports_per_hour: number(&value, "REGISTRY_REPORTS_PER_HOUR", 5)?,
            trusted_proxies,
            council_name: value("REGISTRY_COUNCIL_NAME").unwrap_or_else(|| "The Council".into()),
            read_wait: Duration::from_millis(number(&value, "REGISTRY_READ_WAIT_MS", 5000)?),
            review_period_days: positive(
                number(
                    &value,
                    "REGISTRY_REVIEW_PERIOD_DAYS",
                    domain::registration::DEFAULT_REVIEW_PERIOD_DAYS,
                )?,
                "REGISTRY_REVIEW_PERIOD_DAYS",
            )?,
            confirmation_grace_days: i64::from(number::<u32>(
                &value,
                "REGISTRY_CONFIRMATION_GRACE_DAYS",
                projections::public::DEFAULT_CONFIRMATION_GRACE_DAYS as u32,
            )?),
            policy_acknowledgement_days: positive(
                number(
                    &value,
                    "REGISTRY_POLICY_ACKNOWLEDGEMENT_DAYS",
                    projections::staff::DEFAULT_POLICY_ACKNOWLEDGEMENT_DAYS,
                )?,
                "REGISTRY_POLICY_ACKNOWLEDGEMENT_DAYS",
            )?,
            smtp_url: value("REGISTRY_SMTP_URL").map(SecretString::from),
            mail_from: value("REGISTRY_MAIL_FROM")
                .unwrap_or_else(|| "Social media registry <registry@localhost>".into()),
            staff_app_url: value("REGISTRY_STAFF_APP_URL")
                .unwrap_or_else(|| "http://localhost:8080".into()),
            mail_roles: mail_roles(value("REGISTRY_MAIL_ROLES").as_deref())?,
            operations_email: value("REGISTRY_OPERATIONS_EMAIL"),
            digest_time: match value("REGISTRY_DIGEST_TIME") {
                None => chrono::NaiveTime::from_hms_opt(7, 0, 0).expect("07:00"),
                Some(v) => chrono::NaiveTime::parse_from_str(v.trim(), "%H:%M:%S")
                    .or_else(|_| chrono::NaiveTime::parse_from_str(v.trim(), "%H:%M"))
                    .map_err(|_| {
                        anyhow!(
                            "REGISTRY_DIGEST_TIME must be a time of day such as 07:00, not `{v}`"
                        )
                    })?,
            },
            reminder_interval: seconds(&value, "REGISTRY_REMINDER_INTERVAL_SECONDS", 3_600.0)?,
            projection_stall: seconds(&value, "REGISTRY_PROJECTION_STALL_SECONDS", 300.0)?,
            staff_oidc: match value("REGISTRY_STAFF_OIDC_CLIENT_ID") {
                None => None,
                Some(client_id) => Some(staff::oidc::OidcSettings {
                    issuer: value("REGISTRY_STAFF_OIDC_ISSUER")
                        .or_else(|| value("REGISTRY_OIDC_ISSUER"))
                        .ok_or_else(|| anyhow!("REGISTRY_STAFF_OIDC_CLIENT_ID is set, but no issuer: set REGISTRY_STAFF_OIDC_ISSUER or REGISTRY_OIDC_ISSUER"))?,
                    client_id,
                    client_secret: value("REGISTRY_STAFF_OIDC_CLIENT_SECRET"),
                    redirect_url: format!(
                        "{}/staff/callback",
                        value("REGISTRY_STAFF_APP_URL")
                            .unwrap_or_else(|| "http://localhost:8080".into())
                            .trim_end_matches('/')
                    ),
                    roles_claim: value("REGISTRY_STAFF_ROLES_CLAIM").unwrap_or_else(|| "roles".into()),
                    job_title_claim: value("REGISTRY_STAFF_JOB_TITLE_CLAIM")
                        .unwrap_or_else(|| "job_title".into()),
                    unit_claim: value("REGISTRY_STAFF_UNIT_CLAIM")
                        .unwrap_or_else(|| "department".into()),
                    role_map: staff::oidc::parse_role_map(
                        &value("REGISTRY_STAFF_ROLE_MAP").unwrap_or_default(),
                    )
                    .map_err(|e| anyhow!(e))?,
                }),
            },
            staff_sessions: staff::session::SessionSettings {
                idle: seconds(&value, "REGISTRY_SESSION_IDLE_SECONDS", 1_800.0)?,
                absolute: seconds(&value, "REGISTRY_SESSION_ABSOLUTE_SECONDS", 36_000.0)?,
                secure_cookie: environment != Environment::Development,
            },
            webhooks: app::webhooks::WebhookSettings {
                timeout: seconds(&value, "REGISTRY_WEBHOOK_TIMEOUT_SECONDS", 10.0)?,
                first_retry: seconds(&value, "REGISTRY_WEBHOOK_FIRST_RETRY_SECONDS", 5.0)?,
                max_retry_gap: seconds(&value, "REGISTRY_WEBHOOK_MAX_RETRY_GAP_SECONDS", 3_600.0)?,
                retry_window: seconds(&value, "REGISTRY_WEBHOOK_RETRY_WINDOW_SECONDS", 86_400.0)?,
                disable_after: seconds(
                    &value,
                    "REGISTRY_WEBHOOK_DISABLE_AFTER_SECONDS",
                    432_000.0,
                )?,
                poll: Duration::from_secs(5),
            },
            import_review_days: positive(
                number(&value, "REGISTRY_IMPORT_REVIEW_DAYS", 90)?,
                "REGISTRY_IMPORT_REVIEW_DAYS",
            )?,
        })
    }

    /// The SMTP URL, exposed for the mail sender.
    pub fn smtp_url(&self) -> Option<&str> {
        self.smtp_url.as_ref().map(|s| s.expose_secret())
    }

    /// The database URL, for connecting.
    pub fn database_url(&self) -> &str {
        self.database_url.expose_secret()
    }

    /// The owner's URL, for migrations and rebuilds.
    pub fn migration_database_url(&self) -> &str {
        self.migration_database_url
            .as_ref()
            .unwrap_or(&self.database_url)
            .expose_secret()
    }

    /// The vault's master key: configured, or in development generated once
    /// into `<data dir>/vault.key` and reused.
    pub fn vault_master_key(&self) -> anyhow::Result<MasterKey> {
        if let Some(key) = &self.vault_key {
            return MasterKey::from_base64(key.expose_secret())
                .context("REGISTRY_VAULT_KEY must be base64 of exactly 32 bytes (e.g. `openssl rand -base64 32`)");
        }
        if self.environment == Environment::Production {
            bail!("REGISTRY_VAULT_KEY is required in production: without it, personal data could not be read back");
        }
        development_key(&self.data_dir.join("vault.key"))
    }

    /// The HS256 secret for development tokens: configured, or generated
    /// once into `<data dir>/jwt.secret`. Production accepts no HS256 tokens.
    pub fn jwt_secret(&self) -> anyhow::Result<Option<Vec<u8>>> {
        if self.environment == Environment::Production {
            if self.jwt_secret.is_some() {
                bail!("REGISTRY_JWT_SECRET is for development and tests; production accepts only the OIDC issuer's tokens (unset it)");
            }
            return Ok(None);
        }
        if let Some(secret) = &self.jwt_secret {
            let bytes = secret.expose_secret().as_bytes().to_vec();
            if bytes.len() < 32 {
                bail!("REGISTRY_JWT_SECRET must be at least 32 characters");
            }
            return Ok(Some(bytes));
        }
        let path = self.data_dir.join("jwt.secret");
        if let Ok(text) = std::fs::read_to_string(&path) {
            return Ok(Some(text.trim().as_bytes().to_vec()));
        }
        let secret = MasterKey::generate().to_base64();
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("create {}", self.data_dir.display()))?;
        write_private(&path, &secret).with_context(|| format!("write {}", path.display()))?;
        tracing::warn!(path = %path.display(), "generated a development token secret");
        Ok(Some(secret.into_bytes()))
    }

    /// The key that signs log heads: configured, or in development
    /// generated once into `<data dir>/signing.key`.
    pub fn head_signer(&self) -> anyhow::Result<event_store::heads::HeadSigner> {
        use event_store::heads::HeadSigner;
        if let Some(key) = &self.signing_key {
            return HeadSigner::from_base64(key.expose_secret()).context(
                "REGISTRY_SIGNING_KEY must be base64 of exactly 32 bytes (e.g. `openssl rand -base64 32`)",
            );
        }
        if self.environment == Environment::Production {
            bail!("REGISTRY_SIGNING_KEY is required in production: signed log heads would not be verifiable across restarts");
        }
        let path = self.data_dir.join("signing.key");
        if let Ok(text) = std::fs::read_to_string(&path) {
            return HeadSigner::from_base64(&text)
                .with_context(|| format!("{} does not hold a valid signing key", path.display()));
        }
        let signer = HeadSigner::generate();
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("create {}", self.data_dir.display()))?;
        write_private(&path, &signer.to_base64())
            .with_context(|| format!("write {}", path.display()))?;
        tracing::warn!(path = %path.display(), "generated a development signing key; set REGISTRY_SIGNING_KEY in production");
        Ok(signer)
    }

    /// How bearer tokens are verified.
    pub fn auth_config(&self) -> anyhow::Result<crate::auth::AuthConfig> {
        if self.environment == Environment::Production && self.oidc_issuer.is_none() {
            bail!("REGISTRY_OIDC_ISSUER and REGISTRY_OIDC_AUDIENCE are required in production: nobody could sign in");
        }
        Ok(crate::auth::AuthConfig {
            hs256_secret: self.jwt_secret()?,
            oidc_issuer: self.oidc_issuer.clone(),
            oidc_audience: self.oidc_audience.clone(),
            jwks_url: self.oidc_jwks_url.clone(),
            min_refresh: self.oidc_min_refresh,
        })
    }
}

fn development_key(path: &Path) -> anyhow::Result<MasterKey> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return MasterKey::from_base64(&text)
            .with_context(|| format!("{} does not hold a valid vault key", path.display()));
    }
    let key = MasterKey::generate();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    write_private(path, &key.to_base64()).with_context(|| format!("write {}", path.display()))?;
    tracing::warn!(path = %path.display(), "generated a development vault key; set REGISTRY_VAULT_KEY in production");
    Ok(key)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

fn number<T: std::str::FromStr>(
    value: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
) -> anyhow::Result<T> {
    match value(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| anyhow!("{name} must be a whole number, not `{v}`")),
    }
}

/// `REGISTRY_MAIL_ROLES`: `communications=comms@council.gov.uk,consultation=…`.
fn mail_roles(v: Option<&str>) -> anyhow::Result<std::collections::HashMap<domain::Role, String>> {
    let mut out = std::collections::HashMap::new();
    for pair in v
        .unwrap_or_default()
        .split(',')
        .filter(|p| !p.trim().is_empty())
    {
        let (role, address) = pair.split_once('=').ok_or_else(|| {
            anyhow::anyhow!("REGISTRY_MAIL_ROLES: give role=address pairs, separated by commas")
        })?;
        let role = domain::Role::from_code(role.trim()).ok_or_else(|| {
            anyhow::anyhow!("REGISTRY_MAIL_ROLES: `{}` is not a role", role.trim())
        })?;
        if !address.contains('@') {
            anyhow::bail!(
                "REGISTRY_MAIL_ROLES: the {} mailbox is not an address",
                role.code()
            );
        }
        out.insert(role, address.trim().to_owned());
    }
    Ok(out)
}

/// A period in seconds (fractions allowed), more than zero.
fn seconds(
    value: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: f64,
) -> anyhow::Result<Duration> {
    let v = match value(name) {
        None => default,
        Some(v) => v
            .trim()
            .parse::<f64>()
            .map_err(|_| anyhow!("{name} must be a number of seconds, not `{v}`"))?,
    };
    if !(v > 0.0 && v.is_finite()) {
        bail!("{name} must be more than 0 seconds");
    }
    Ok(Duration::from_secs_f64(v))
}

fn positive(v: i64, name: &str) -> anyhow::Result<i64> {
    if v > 0 {
        Ok(v)
    } else {
        bail!("{name} must be at least 1, not {v}")
    }
}

fn flag(
    value: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: bool,
) -> anyhow::Result<bool> {
    match value(name)
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => bail!("{name} must be true or false, not `{other}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_work_locally_with_only_a_database_url() {
        let s = settings(&[("DATABASE_URL", "postgres://localhost/x")]).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.environment, Environment::Development);
        assert_eq!(s.db_role, None);
        assert_eq!(s.migration_database_url(), "postgres://localhost/x");
        assert_eq!(s.trusted_proxies, 0);
        assert_eq!(s.ws.max_message_bytes, 65_536);
        assert!(s.migrate_on_start);
        assert_eq!(s.log_format, LogFormat::Json);
        assert_eq!(s.review_period_days, 365);
        assert_eq!(s.policy_acknowledgement_days, 60);
        assert_eq!(s.import_review_days, 90);
    }

    #[test]
    fn a_bad_setting_is_refused_with_its_name() {
        let err = settings(&[("DATABASE_URL", "x"), ("REGISTRY_LISTEN", "nowhere")]).unwrap_err();
        assert!(err.to_string().contains("REGISTRY_LISTEN"), "{err}");
        let err = settings(&[
            ("DATABASE_URL", "x"),
            ("REGISTRY_DB_MAX_CONNECTIONS", "many"),
        ])
        .unwrap_err();
        assert!(
            err.to_string().contains("REGISTRY_DB_MAX_CONNECTIONS"),
            "{err}"
        );
        let err =
            settings(&[("DATABASE_URL", "x"), ("REGISTRY_REVIEW_PERIOD_DAYS", "0")]).unwrap_err();
        assert!(
            err.to_string().contains("REGISTRY_REVIEW_PERIOD_DAYS"),
            "{err}"
        );
        let err = settings(&[]).unwrap_err();
        assert!(err.to_string().contains("DATABASE_URL"), "{err}");
    }

    #[test]
    fn production_refuses_to_start_without_a_vault_key() {
        let s = settings(&[("DATABASE_URL", "x"), ("REGISTRY_ENV", "production")]).unwrap();
        let err = s.vault_master_key().unwrap_err();
        assert!(err.to_string().contains("REGISTRY_VAULT_KEY"), "{err}");
    }

    #[test]
    fn production_refuses_development_token_secrets_and_requires_a_signing_key_and_an_issuer() {
        let prod = [("DATABASE_URL", "x"), ("REGISTRY_ENV", "production")];
        let s = settings(&prod).unwrap();
        let err = s.head_signer().unwrap_err();
        assert!(err.to_string().contains("REGISTRY_SIGNING_KEY"), "{err}");
        let err = s.auth_config().unwrap_err();
        assert!(err.to_string().contains("REGISTRY_OIDC_ISSUER"), "{err}");
        let s = settings(&[
            ("DATABASE_URL", "x"),
            ("REGISTRY_ENV", "production"),
            ("REGISTRY_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("REGISTRY_OIDC_ISSUER", "https://login.example"),
            ("REGISTRY_OIDC_AUDIENCE", "registry"),
        ])
        .unwrap();
        let err = s.auth_config().unwrap_err();
        assert!(err.to_string().contains("REGISTRY_JWT_SECRET"), "{err}");
    }

    #[test]
    fn development_generates_a_vault_key_once_and_reuses_it() {
        let dir = std::env::temp_dir().join(format!("registry-config-{}", uuid::Uuid::new_v4()));
        let dir_text = dir.to_string_lossy().into_owned();
        let s = settings(&[("DATABASE_URL", "x"), ("REGISTRY_DATA_DIR", &dir_text)]).unwrap();
        let first = s.vault_master_key().unwrap().to_base64();
        let second = s.vault_master_key().unwrap().to_base64();
        assert_eq!(first, second);
        std::fs::remove_dir_all(dir).ok();
    }
}
