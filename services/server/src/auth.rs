//! Who is calling: JWT bearer tokens.
//!
//! Production verifies RS256/ES256 tokens against the JWKS of the OIDC issuer
//! (`REGISTRY_OIDC_ISSUER`, audience `REGISTRY_OIDC_AUDIENCE`): the key set is
//! fetched on first use, cached, refreshed when a token names a key id the
//! cache does not hold (at most once per `REGISTRY_OIDC_MIN_REFRESH_SECONDS`)
//! and at least every hour. Development and tests also accept HS256 tokens
//! signed with `REGISTRY_JWT_SECRET`, which `social-registry dev-token` mints.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::{Actor, Role};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, RwLock};

/// Issuer of development tokens.
pub const DEV_ISSUER: &str = "social-registry-dev";
/// Audience of development tokens.
pub const DEV_AUDIENCE: &str = "social-registry";
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 30;
/// The key set is re-fetched at least this often.
const JWKS_MAX_AGE: Duration = Duration::from_secs(3600);

pub use app::context::Principal;

/// The claims this service reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Staff id.
    pub sub: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Role codes (see DESIGN.md); unknown codes are ignored.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Issuer.
    pub iss: String,
    /// Audience: one string or a list (RFC 7519 allows both; Entra ID and
    /// Keycloak issue lists). `jsonwebtoken` checks it against ours.
    pub aud: Audience,
    /// Expiry (seconds since the epoch).
    pub exp: u64,
    /// Issued at (optional, as RFC 7519 says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
}

/// The `aud` claim: a string or an array of strings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Audience {
    /// `"aud": "x"`.
    One(String),
    /// `"aud": ["x", "y"]`.
    Many(Vec<String>),
}

/// Why a token was refused. Every variant reaches the client as
/// `UNAUTHENTICATED` with `extensions.reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Not a JWT, or the header is unreadable.
    #[error("the bearer token is not a well-formed JWT")]
    Malformed,
    /// An algorithm this deployment does not accept.
    #[error("tokens signed with {0} are not accepted here")]
    AlgorithmNotAccepted(String),
    /// No key with the token's `kid` in the issuer's key set.
    #[error("the token was signed with a key the issuer does not publish")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// Past its `exp`.
    #[error("the token has expired")]
    Expired,
    /// Wrong `iss`.
    #[error("the token was issued by someone this service does not trust")]
    WrongIssuer,
    /// Wrong `aud`.
    #[error("the token is meant for another service")]
    WrongAudience,
    /// A claim missing or of the wrong type.
    #[error("the token lacks a valid `{0}` claim")]
    BadClaim(String),
    /// The issuer's key set could not be fetched.
    #[error("the identity provider's keys could not be fetched; try again shortly")]
    KeysUnavailable,
}

impl AuthError {
    /// `UNAUTHENTICATED` with `reason`, for a token that was presented and
    /// refused.
    pub fn to_graphql(&self) -> async_graphql::Error {
        use async_graphql::ErrorExtensions;
        async_graphql::Error::new(self.to_string()).extend_with(|_, e| {
            e.set("code", "UNAUTHENTICATED");
            e.set("reason", self.reason());
        })
    }

    /// A short machine-readable reason.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::Malformed => "MALFORMED",
            AuthError::AlgorithmNotAccepted(_) => "ALGORITHM_NOT_ACCEPTED",
            AuthError::UnknownKey => "UNKNOWN_KEY",
            AuthError::BadSignature => "BAD_SIGNATURE",
            AuthError::Expired => "EXPIRED",
            AuthError::WrongIssuer => "WRONG_ISSUER",
            AuthError::WrongAudience => "WRONG_AUDIENCE",
            AuthError::BadClaim(_) => "BAD_CLAIM",
            AuthError::KeysUnavailable => "KEYS_UNAVAILABLE",
        }
    }
}

/// How tokens are checked.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    /// HS256 secret (development and tests only).
    pub hs256_secret: Option<Vec<u8>>,
    /// The OIDC issuer, e.g. `https://login.council.example/realms/staff`.
    pub oidc_issuer: Option<String>,
    /// The audience tokens must name.
    pub oidc_audience: Option<String>,
    /// The JWKS address, when not discovered from the issuer.
    pub jwks_url: Option<String>,
    /// Least time between two fetches caused by unknown key ids.
    pub min_refresh: Duration,
}

/// Verifies bearer tokens; cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    hs256: Option<DecodingKey>,
    oidc: Option<Oidc>,
}

struct Oidc {
    issuer: String,
    audience: String,
    jwks_url: Option<String>,
    client: reqwest::Client,
    min_refresh: Duration,
    keys: RwLock<KeyCache>,
    refreshing: Mutex<()>,
}

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, (Option<Algorithm>, DecodingKey)>,
    fetched_at: Option<Instant>,
    jwks_url: Option<String>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("hs256", &self.inner.hs256.is_some())
            .field("oidc_issuer", &self.inner.oidc.as_ref().map(|o| &o.issuer))
            .finish()
    }
}

impl Authenticator {
    /// An authenticator for `config`.
    pub fn new(config: AuthConfig) -> anyhow::Result<Self> {
        let oidc = match (config.oidc_issuer, config.oidc_audience) {
            (Some(issuer), Some(audience)) => Some(Oidc {
                issuer: issuer.trim_end_matches('/').to_owned(),
                audience,
                jwks_url: config.jwks_url,
                client: reqwest::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()?,
                min_refresh: config.min_refresh,
                keys: RwLock::new(KeyCache::default()),
                refreshing: Mutex::new(()),
            }),
            (Some(_), None) => {
                anyhow::bail!("REGISTRY_OIDC_AUDIENCE is required with REGISTRY_OIDC_ISSUER")
            }
            (None, Some(_)) => {
                anyhow::bail!("REGISTRY_OIDC_ISSUER is required with REGISTRY_OIDC_AUDIENCE")
            }
            (None, None) => None,
        };
        Ok(Authenticator {
            inner: Arc::new(Inner {
                hs256: config.hs256_secret.map(|s| DecodingKey::from_secret(&s)),
                oidc,
            }),
        })
    }

    /// Verify a bearer token (without the `Bearer ` prefix).
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        let claims = match header.alg {
            Algorithm::HS256 => {
                let key = self
                    .inner
                    .hs256
                    .as_ref()
                    .ok_or_else(|| AuthError::AlgorithmNotAccepted("HS256".into()))?;
                decode(token, key, Algorithm::HS256, DEV_ISSUER, DEV_AUDIENCE)?
            }
            alg @ (Algorithm::RS256 | Algorithm::ES256) => {
                let oidc = self
                    .inner
                    .oidc
                    .as_ref()
                    .ok_or_else(|| AuthError::AlgorithmNotAccepted(format!("{alg:?}")))?;
                let kid = header.kid.ok_or(AuthError::UnknownKey)?;
                let key = oidc.key(&kid, alg).await?;
                decode(token, &key, alg, &oidc.issuer, &oidc.audience)?
            }
            other => return Err(AuthError::AlgorithmNotAccepted(format!("{other:?}"))),
        };
        principal(claims)
    }
}

fn decode(
    token: &str,
    key: &DecodingKey,
    alg: Algorithm,
    issuer: &str,
    audience: &str,
) -> Result<Claims, AuthError> {
    use jsonwebtoken::errors::ErrorKind as K;
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_nbf = true;
    let raw =
        jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                K::ExpiredSignature => AuthError::Expired,
                K::InvalidIssuer => AuthError::WrongIssuer,
                K::InvalidAudience => AuthError::WrongAudience,
                K::InvalidSignature => AuthError::BadSignature,
                K::MissingRequiredClaim(c) | K::InvalidClaimFormat(c) => {
                    AuthError::BadClaim(c.clone())
                }
                K::ImmatureSignature => AuthError::BadClaim("nbf".into()),
                K::InvalidAlgorithm => AuthError::AlgorithmNotAccepted(format!("{alg:?}")),
                K::Json(_) => AuthError::Malformed,
                _ => AuthError::Malformed,
            })?;
    claims_from(raw)
}

/// The claims this service reads, each checked by name, so a refusal names
/// the claim that is wrong.
fn claims_from(raw: serde_json::Map<String, serde_json::Value>) -> Result<Claims, AuthError> {
    fn field<T: serde::de::DeserializeOwned>(
        raw: &serde_json::Map<String, serde_json::Value>,
        name: &str,
    ) -> Result<Option<T>, AuthError> {
        match raw.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v.clone())
                .map(Some)
                .map_err(|_| AuthError::BadClaim(name.into())),
        }
    }
    let required = |name: &str| AuthError::BadClaim(name.into());
    Ok(Claims {
        sub: field(&raw, "sub")?.ok_or_else(|| required("sub"))?,
        name: field(&raw, "name")?,
        roles: field(&raw, "roles")?.unwrap_or_default(),
        iss: field(&raw, "iss")?.ok_or_else(|| required("iss"))?,
        aud: field(&raw, "aud")?.ok_or_else(|| required("aud"))?,
        exp: field(&raw, "exp")?.ok_or_else(|| required("exp"))?,
        iat: field(&raw, "iat")?,
    })
}

fn principal(claims: Claims) -> Result<Principal, AuthError> {
    let subject = claims.sub.trim();
    if subject.is_empty() || subject.len() > 100 || !subject.chars().all(|c| c.is_ascii_graphic()) {
        return Err(AuthError::BadClaim("sub".into()));
    }
    let mut roles = Vec::new();
    for code in &claims.roles {
        match Role::from_code(code) {
            Some(role) => roles.push(role),
            None => tracing::debug!(role = %code, "ignoring a role this service does not know"),
        }
    }
    Ok(Principal {
        actor: Actor::new(subject, roles),
        name: claims.name.filter(|n| !n.trim().is_empty()),
        expires_at: i64::try_from(claims.exp)
            .ok()
            .and_then(|exp| chrono::DateTime::from_timestamp(exp, 0)),
    })
}

impl Oidc {
    async fn key(&self, kid: &str, alg: Algorithm) -> Result<DecodingKey, AuthError> {
        {
            let cache = self.keys.read().await;
            let fresh = cache.fetched_at.is_some_and(|t| t.elapsed() < JWKS_MAX_AGE);
            if fresh {
                if let Some(found) = lookup(&cache, kid, alg)? {
                    return Ok(found);
                }
            }
        }
        // One fetch at a time; whoever waited re-checks the cache first.
        let _guard = self.refreshing.lock().await;
        {
            let cache = self.keys.read().await;
            if let Some(found) = lookup(&cache, kid, alg)? {
                if cache.fetched_at.is_some_and(|t| t.elapsed() < JWKS_MAX_AGE) {
                    return Ok(found);
                }
            }
            let recently = cache
                .fetched_at
                .is_some_and(|t| t.elapsed() < self.min_refresh);
            if recently {
                return lookup(&cache, kid, alg)?.ok_or(AuthError::UnknownKey);
            }
        }
        let fetched = self.fetch().await;
        let mut cache = self.keys.write().await;
        match fetched {
            Ok((url, keys)) => {
                tracing::info!(keys = keys.len(), jwks_url = %url, "fetched the identity provider's keys");
                cache.keys = keys;
                cache.jwks_url = Some(url);
                cache.fetched_at = Some(Instant::now());
            }
            Err(error) => {
                tracing::warn!(%error, issuer = %self.issuer, "cannot fetch the identity provider's keys");
                // Keep serving the keys we had; a kid we never saw stays unknown.
                return match lookup(&cache, kid, alg)? {
                    Some(key) => Ok(key),
                    None if cache.fetched_at.is_some() => Err(AuthError::UnknownKey),
                    None => Err(AuthError::KeysUnavailable),
                };
            }
        }
        lookup(&cache, kid, alg)?.ok_or(AuthError::UnknownKey)
    }

    async fn fetch(
        &self,
    ) -> anyhow::Result<(String, HashMap<String, (Option<Algorithm>, DecodingKey)>)> {
        let url = match &self.jwks_url {
            Some(url) => url.clone(),
            None => {
                let discovery = format!("{}/.well-known/openid-configuration", self.issuer);
                let doc: serde_json::Value = self
                    .client
                    .get(&discovery)
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                doc["jwks_uri"]
                    .as_str()
                    .ok_or_else(|| anyhow::anyhow!("{discovery} names no jwks_uri"))?
                    .to_owned()
            }
        };
        let set: JwkSet = self
            .client
            .get(&url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            let alg = jwk
                .common
                .key_algorithm
                .and_then(|a| a.to_string().parse::<Algorithm>().ok());
            match DecodingKey::from_jwk(jwk) {
                Ok(key) => {
                    keys.insert(kid, (alg, key));
                }
                Err(error) => tracing::warn!(%error, kid, "skipping a key the service cannot use"),
            }
        }
        Ok((url, keys))
    }
}

fn lookup(cache: &KeyCache, kid: &str, alg: Algorithm) -> Result<Option<DecodingKey>, AuthError> {
    match cache.keys.get(kid) {
        None => Ok(None),
        Some((Some(key_alg), _)) if *key_alg != alg => {
            Err(AuthError::AlgorithmNotAccepted(format!("{alg:?}")))
        }
        Some((_, key)) => Ok(Some(key.clone())),
    }
}

/// Mint a development token (HS256), as `social-registry dev-token` does.
pub fn dev_token(
    secret: &[u8],
    subject: &str,
    name: Option<&str>,
    roles: &[Role],
    ttl: Duration,
) -> anyhow::Result<String> {
    let now = jsonwebtoken::get_current_timestamp();
    let claims = Claims {
        sub: subject.to_owned(),
        name: name.map(str::to_owned),
        roles: roles.iter().map(|r| r.code().to_owned()).collect(),
        iss: DEV_ISSUER.into(),
        aud: Audience::One(DEV_AUDIENCE.into()),
        exp: now + ttl.as_secs(),
        iat: Some(now),
    };
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> Authenticator {
        Authenticator::new(AuthConfig {
            hs256_secret: Some(b"0123456789abcdef0123456789abcdef".to_vec()),
            ..AuthConfig::default()
        })
        .unwrap()
    }

    #[tokio::test]
    async fn a_development_token_names_its_subject_name_and_known_roles() {
        let token = dev_token(
            b"0123456789abcdef0123456789abcdef",
            "alice",
            Some("Alice"),
            &[Role::Staff, Role::LineManager],
            Duration::from_secs(60),
        )
        .unwrap();
        let p = dev().verify(&token).await.unwrap();
        assert_eq!(
            p.actor,
            Actor::new("alice", [Role::Staff, Role::LineManager])
        );
        assert_eq!(p.name.as_deref(), Some("Alice"));
    }

    #[tokio::test]
    async fn a_token_signed_with_another_secret_is_refused() {
        let token = dev_token(
            b"another secret of enough length!!",
            "alice",
            None,
            &[],
            Duration::from_secs(60),
        )
        .unwrap();
        assert_eq!(dev().verify(&token).await, Err(AuthError::BadSignature));
        assert_eq!(dev().verify("not.a.jwt").await, Err(AuthError::Malformed));
    }

    #[tokio::test]
    async fn rs256_tokens_are_refused_when_no_issuer_is_configured() {
        let header = Header::new(Algorithm::RS256);
        let token = format!(
            "{}.e30.c2ln",
            base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                serde_json::to_vec(&header).unwrap()
            )
        );
        assert_eq!(
            dev().verify(&token).await,
            Err(AuthError::AlgorithmNotAccepted("RS256".into()))
        );
    }

    fn hs256(claims: serde_json::Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap()
    }

    fn later() -> u64 {
        jsonwebtoken::get_current_timestamp() + 600
    }

    #[tokio::test]
    async fn an_audience_given_as_a_list_is_accepted_when_it_names_this_service() {
        let token = hs256(serde_json::json!({
            "sub": "alice", "iss": DEV_ISSUER, "aud": ["other-api", DEV_AUDIENCE], "exp": later(),
        }));
        let p = dev().verify(&token).await.unwrap();
        assert_eq!(p.actor.subject, "alice");
        let token = hs256(serde_json::json!({
            "sub": "alice", "iss": DEV_ISSUER, "aud": ["other-api"], "exp": later(),
        }));
        assert_eq!(dev().verify(&token).await, Err(AuthError::WrongAudience));
    }

    #[tokio::test]
    async fn a_token_without_iat_is_accepted_and_its_expiry_is_kept() {
        let exp = later();
        let token = hs256(serde_json::json!({
            "sub": "alice", "iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "exp": exp,
        }));
        let p = dev().verify(&token).await.unwrap();
        assert_eq!(p.expires_at.map(|t| t.timestamp() as u64), Some(exp));
    }

    #[tokio::test]
    async fn a_claim_of_the_wrong_type_is_named_in_the_refusal() {
        let token = hs256(serde_json::json!({
            "sub": "alice", "iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "exp": later(), "roles": 7,
        }));
        assert_eq!(
            dev().verify(&token).await,
            Err(AuthError::BadClaim("roles".into()))
        );
        let token = hs256(serde_json::json!({
            "sub": 12, "iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "exp": later(),
        }));
        assert_eq!(
            dev().verify(&token).await,
            Err(AuthError::BadClaim("sub".into()))
        );
    }
}
