//! Signing in with the council's identity provider: the OpenID Connect
//! authorisation-code flow with PKCE (`openidconnect`). The provider is
//! found by discovery (cached for an hour); each sign-in under way keeps its
//! state, PKCE verifier and nonce in `staff.sign_ins`, used once. The ID
//! token is verified (signature, issuer, audience, expiry, nonce), and the
//! person's roles come from a configurable claim through a configurable
//! mapping.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use base64::Engine;
use domain::{Actor, Role};
use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreResponseType};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::RwLock;

/// How the staff app signs people in.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// `REGISTRY_STAFF_OIDC_ISSUER` (default `REGISTRY_OIDC_ISSUER`).
    pub issuer: String,
    /// `REGISTRY_STAFF_OIDC_CLIENT_ID`: the app's registration at the provider.
    pub client_id: String,
    /// `REGISTRY_STAFF_OIDC_CLIENT_SECRET`: its secret (none for a public
    /// client: PKCE protects the code either way).
    pub client_secret: Option<String>,
    /// Where the provider sends people back: `REGISTRY_STAFF_APP_URL` and
    /// `/staff/callback`.
    pub redirect_url: String,
    /// `REGISTRY_STAFF_ROLES_CLAIM`: the claim holding roles or groups, a
    /// dotted path for nested claims (`roles` for Entra ID app roles,
    /// `groups` for Entra ID groups, `realm_access.roles` for Keycloak).
    pub roles_claim: String,
    /// `REGISTRY_STAFF_ROLE_MAP`: `claim-value=role,…` (several values may
    /// map to one role, one value to several). Empty: claim values that are
    /// role codes (`communications`) are the roles.
    pub role_map: Vec<(String, Role)>,
    /// `REGISTRY_STAFF_JOB_TITLE_CLAIM` (default `job_title`): the claim
    /// with the person's job title, for the people directory.
    pub job_title_claim: String,
    /// `REGISTRY_STAFF_UNIT_CLAIM` (default `department`): the claim with
    /// their organisational unit, for the people directory.
    pub unit_claim: String,
}

/// Who signed in, as the provider's verified ID token says.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// Their id and roles.
    pub actor: Actor,
    /// The `name` claim.
    pub name: Option<String>,
    /// The `email` claim.
    pub email: Option<String>,
    /// The job-title claim.
    pub job_title: Option<String>,
    /// The unit claim.
    pub unit: Option<String>,
    /// Where to go now.
    pub return_to: String,
}

/// The text of the claim at a dotted `path`, when it is a non-empty string.
pub fn claim_text(claims: &Value, path: &str) -> Option<String> {
    let mut node = claims;
    for part in path.split('.') {
        node = &node[part];
    }
    node.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Read `REGISTRY_STAFF_ROLE_MAP`.
pub fn parse_role_map(text: &str) -> Result<Vec<(String, Role)>, String> {
    let mut out = Vec::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (value, role) = pair.rsplit_once('=').ok_or_else(|| {
            format!("REGISTRY_STAFF_ROLE_MAP: `{pair}` is not `claim-value=role`")
        })?;
        let role = Role::from_code(role.trim())
            .ok_or_else(|| format!("REGISTRY_STAFF_ROLE_MAP: `{}` is not a role", role.trim()))?;
        out.push((value.trim().to_owned(), role));
    }
    Ok(out)
}

/// The roles a verified token's claims give, by the claim at `path` (a
/// string or a list of strings) and the mapping (see [`OidcSettings`]).
pub fn map_roles(claims: &Value, path: &str, map: &[(String, Role)]) -> BTreeSet<Role> {
    let mut node = claims;
    for part in path.split('.') {
        node = &node[part];
    }
    let values: Vec<&str> = match node {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if map.is_empty() {
        values.into_iter().filter_map(Role::from_code).collect()
    } else {
        map.iter()
            .filter(|(value, _)| values.contains(&value.as_str()))
            .map(|(_, role)| *role)
            .collect()
    }
}

/// Why a sign-in did not complete. Shown to the person in plain words.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The identity provider could not be reached or understood.
    #[error("the council's sign-in service could not be reached; try again in a few minutes")]
    Provider,
    /// The state is unknown or too old (a reload, a second tab, ten minutes).
    #[error("this sign-in was already used or is too old; start again")]
    Stale,
    /// The code or the ID token was refused.
    #[error("the sign-in could not be checked; start again")]
    Refused,
    /// Signed in, but the mapping gives no role.
    #[error("you are signed in, but your account has no role in the registry; ask the registry's administrators")]
    NoRole,
    /// The database failed.
    #[error("the registry could not record the sign-in; try again")]
    Db(#[from] sqlx::Error),
}

/// The staff app's client of the identity provider.
pub struct Oidc {
    settings: OidcSettings,
    http: openidconnect::reqwest::Client,
    metadata: RwLock<Option<(CoreProviderMetadata, Instant)>>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("issuer", &self.settings.issuer)
            .finish_non_exhaustive()
    }
}

impl Oidc {
    /// A client for these settings (nothing is fetched yet).
    pub fn new(settings: OidcSettings) -> Self {
        let http = openidconnect::reqwest::ClientBuilder::new()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client");
        Oidc {
            settings,
            http,
            metadata: RwLock::new(None),
        }
    }

    async fn metadata(&self) -> Result<CoreProviderMetadata, SignInError> {
        if let Some((m, at)) = &*self.metadata.read().await {
            if at.elapsed() < Duration::from_secs(3600) {
                return Ok(m.clone());
            }
        }
        let issuer =
            IssuerUrl::new(self.settings.issuer.clone()).map_err(|_| SignInError::Provider)?;
        let m = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "staff sign-in: provider discovery failed");
                SignInError::Provider
            })?;
        *self.metadata.write().await = Some((m.clone(), Instant::now()));
        Ok(m)
    }

    /// Begin a sign-in: the provider's address to send the person to.
    pub async fn begin(&self, pool: &PgPool, return_to: &str) -> Result<String, SignInError> {
        let metadata = self.metadata().await?;
        let redirect = RedirectUrl::new(self.settings.redirect_url.clone())
            .map_err(|_| SignInError::Provider)?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            self.settings.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(redirect);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("email".into()))
            .set_pkce_challenge(challenge)
            .url();
        sqlx::query("delete from staff.sign_ins where created_at < now() - interval '10 minutes'")
            .execute(pool)
            .await?;
        sqlx::query(
            "insert into staff.sign_ins (state, pkce_verifier, nonce, return_to) values ($1, $2, $3, $4)",
        )
        .bind(state.secret())
        .bind(verifier.secret())
        .bind(nonce.secret())
        .bind(return_to)
        .execute(pool)
        .await?;
        Ok(url.to_string())
    }

    /// Finish a sign-in the provider sent back: the person, their name,
    /// and where they were going.
    pub async fn finish(
        &self,
        pool: &PgPool,
        code: &str,
        state: &str,
    ) -> Result<SignedIn, SignInError> {
        let pending: Option<(String, String, String)> = sqlx::query_as(
            "delete from staff.sign_ins where state = $1 and created_at > now() - interval '10 minutes' \
             returning pkce_verifier, nonce, return_to",
        )
        .bind(state)
        .fetch_optional(pool)
        .await?;
        let Some((verifier, nonce, return_to)) = pending else {
            return Err(SignInError::Stale);
        };
        let metadata = self.metadata().await?;
        let redirect = RedirectUrl::new(self.settings.redirect_url.clone())
            .map_err(|_| SignInError::Provider)?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            self.settings.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(redirect);
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| SignInError::Provider)?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "staff sign-in: the code was refused");
                SignInError::Refused
            })?;
        let id_token = token.id_token().ok_or(SignInError::Refused)?;
        let claims = id_token
            .claims(&client.id_token_verifier(), &Nonce::new(nonce))
            .map_err(|e| {
                tracing::warn!(error = %e, "staff sign-in: the ID token was refused");
                SignInError::Refused
            })?;
        let subject = claims.subject().as_str().to_owned();
        let name = claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned());
        // The signature is verified: read the roles claim from its payload.
        let raw = id_token.to_string();
        let payload: Value = raw
            .split('.')
            .nth(1)
            .and_then(|p| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(p)
                    .ok()
            })
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        let roles = map_roles(
            &payload,
            &self.settings.roles_claim,
            &self.settings.role_map,
        );
        if roles.is_empty() {
            return Err(SignInError::NoRole);
        }
        let email = claims.email().map(|e| e.as_str().to_owned());
        Ok(SignedIn {
            actor: Actor::new(subject, roles),
            name,
            email,
            job_title: claim_text(&payload, &self.settings.job_title_claim),
            unit: claim_text(&payload, &self.settings.unit_claim),
            return_to,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn roles_come_from_the_configured_claim_through_the_mapping() {
        // Entra ID groups: object ids mapped to roles.
        let map = parse_role_map("7f1c-comms=communications, 7f1c-comms=staff, 22aa-staff=staff")
            .unwrap();
        let claims = json!({"groups": ["22aa-staff", "7f1c-comms", "unrelated"]});
        assert_eq!(
            map_roles(&claims, "groups", &map),
            BTreeSet::from([Role::Staff, Role::Communications])
        );
        // Keycloak realm roles, nested, named as the registry names them.
        let claims =
            json!({"realm_access": {"roles": ["staff", "line_manager", "offline_access"]}});
        assert_eq!(
            map_roles(&claims, "realm_access.roles", &[]),
            BTreeSet::from([Role::Staff, Role::LineManager])
        );
        // A single string, and a missing claim.
        assert_eq!(
            map_roles(&json!({"roles": "auditor"}), "roles", &[]),
            BTreeSet::from([Role::Auditor])
        );
        assert!(map_roles(&json!({}), "roles", &[]).is_empty());
    }

    #[test]
    fn a_role_map_that_names_no_role_is_refused_with_the_pair_named() {
        assert!(parse_role_map("group=chief")
            .unwrap_err()
            .contains("`chief`"));
        assert!(parse_role_map("nonsense")
            .unwrap_err()
            .contains("`nonsense`"));
    }
}
