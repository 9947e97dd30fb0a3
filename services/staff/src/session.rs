//! Sessions of the staff app: a random cookie value (only its SHA-256 is
//! stored), the person's subject and roles, a CSRF token for every form,
//! an idle and an absolute timeout, and sign-out.

use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue};
use base64::Engine;
use domain::{Actor, Role};
use event_store::vault::Vault;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

/// The session cookie's name.
pub const COOKIE: &str = "registry_session";

/// How sessions behave.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// A session unused this long is over (`REGISTRY_SESSION_IDLE_MINUTES`).
    pub idle: Duration,
    /// A session is over this long after sign-in, however busy
    /// (`REGISTRY_SESSION_ABSOLUTE_HOURS`).
    pub absolute: Duration,
    /// `Secure` on the cookie (everywhere but development over http).
    pub secure_cookie: bool,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(10 * 3600),
            secure_cookie: true,
        }
    }
}

/// A signed-in person.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who, with the roles their sign-in mapped to.
    pub actor: Actor,
    /// Their name as the identity provider gave it (shown, never stored).
    pub name: Option<String>,
    /// The token every form of this session carries.
    pub csrf: String,
    /// When it ends whatever happens (its absolute timeout).
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// A new random token: 32 bytes, base64url.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).expect("the operating system's random source");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn hash(value: &str) -> Vec<u8> {
    Sha256::digest(value.as_bytes()).to_vec()
}

/// The value of cookie `name` in `headers`.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Why a session could not be started or read.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// The vault failed.
    #[error(transparent)]
    Vault(#[from] event_store::vault::VaultError),
}

/// Start a session for `actor`; the cookie's value. Their name is sealed
/// in the vault under their own key (an erasure makes it unreadable here
/// too), never stored in plain text.
pub async fn create(
    pool: &PgPool,
    vault: &Vault,
    actor: &Actor,
    name: Option<&str>,
) -> Result<String, SessionError> {
    let value = random_token();
    let roles: Vec<&str> = actor.roles.iter().map(|r| r.code()).collect();
    let sealed = match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => Some(
            vault
                .seal(domain::personal::staff_person(&actor.subject), n)
                .await?,
        ),
        None => None,
    };
    sqlx::query(
        "insert into staff.sessions (id_hash, subject, roles, name_person, name_sealed, csrf) \
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(hash(&value))
    .bind(&actor.subject)
    .bind(&roles)
    .bind(sealed.as_ref().map(|s| s.person))
    .bind(sealed.as_ref().map(|s| s.sealed.clone()))
    .bind(random_token())
    .execute(pool)
    .await?;
    Ok(value)
}

/// The session the request's cookie names, if it is still open; using it
/// counts as activity (the idle timeout starts again).
pub async fn load(
    pool: &PgPool,
    vault: &Vault,
    headers: &HeaderMap,
    settings: &SessionSettings,
) -> Result<Option<Session>, SessionError> {
    let Some(value) = cookie(headers, COOKIE) else {
        return Ok(None);
    };
    type Row = (
        String,
        Vec<String>,
        Option<uuid::Uuid>,
        Option<String>,
        String,
        chrono::DateTime<chrono::Utc>,
    );
    let row: Option<Row> = sqlx::query_as(
        "update staff.sessions set last_seen_at = now() \
         where id_hash = $1 and ended_at is null \
           and last_seen_at > now() - make_interval(secs => $2) \
           and created_at > now() - make_interval(secs => $3) \
         returning subject, roles, name_person, name_sealed, csrf, created_at",
    )
    .bind(hash(&value))
    .bind(settings.idle.as_secs_f64())
    .bind(settings.absolute.as_secs_f64())
    .fetch_optional(pool)
    .await?;
    let Some((subject, roles, person, sealed, csrf, created_at)) = row else {
        return Ok(None);
    };
    let name = match (person, sealed) {
        (Some(person), Some(sealed)) => vault
            .open(&event_store::vault::Sealed { person, sealed })
            .await?
            .as_value()
            .map(str::to_owned),
        _ => None,
    };
    Ok(Some(Session {
        actor: Actor::new(subject, roles.iter().filter_map(|r| Role::from_code(r))),
        name,
        csrf,
        expires_at: created_at
            + chrono::Duration::from_std(settings.absolute).unwrap_or(chrono::Duration::MAX),
    }))
}

/// The SHA-256 of the request's session cookie, when it has one: what
/// [`is_open`] asks about.
pub fn cookie_hash(headers: &HeaderMap) -> Option<Vec<u8>> {
    cookie(headers, COOKIE).map(|v| hash(&v))
}

/// Whether the session is still open (not signed out, neither timeout
/// passed), without counting as activity: an open page's live socket asks.
pub async fn is_open(pool: &PgPool, id_hash: &[u8], settings: &SessionSettings) -> bool {
    sqlx::query_scalar::<_, i32>(
        "select 1 from staff.sessions where id_hash = $1 and ended_at is null \
           and last_seen_at > now() - make_interval(secs => $2) \
           and created_at > now() - make_interval(secs => $3)",
    )
    .bind(id_hash)
    .bind(settings.idle.as_secs_f64())
    .bind(settings.absolute.as_secs_f64())
    .fetch_optional(pool)
    .await
    // A database that does not answer ends nothing: the next check asks again.
    .map_or(true, |row| row.is_some())
}

/// End the request's session (sign-out).
pub async fn end(pool: &PgPool, headers: &HeaderMap) -> Result<(), sqlx::Error> {
    if let Some(value) = cookie(headers, COOKIE) {
        sqlx::query("update staff.sessions set ended_at = now() where id_hash = $1")
            .bind(hash(&value))
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// The `Set-Cookie` header that starts a session.
pub fn set_cookie(value: &str, settings: &SessionSettings) -> HeaderValue {
    let secure = if settings.secure_cookie {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        settings.absolute.as_secs()
    ))
    .expect("a cookie of base64url characters")
}

/// The `Set-Cookie` header that forgets it.
pub fn clear_cookie(settings: &SessionSettings) -> HeaderValue {
    let secure = if settings.secure_cookie {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"
    ))
    .expect("a fixed cookie")
}

/// True when a form's token is the session's (compared in constant time).
pub fn csrf_ok(session: &Session, sent: &str) -> bool {
    let (a, b) = (session.csrf.as_bytes(), sent.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
