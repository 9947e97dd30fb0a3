//! Bearer tokens: what is refused, and an identity provider whose keys
//! rotate. The provider is a real HTTP server started by the test, serving
//! OIDC discovery and a JWKS that the test changes.

use std::sync::{Arc, RwLock};

use axum::routing::get;
use axum::{Json, Router};
use blackbox_tests::{now, token, token_with, Api, Service};
use event_store::testing::TestDatabase;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const ME: &str = "{ me { subject roles } }";

fn reason(body: &Value) -> (Option<&str>, Option<&str>) {
    let ext = &body["errors"][0]["extensions"];
    (ext["code"].as_str(), ext["reason"].as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_forged_and_misdirected_development_tokens_are_refused() {
    let db = TestDatabase::new().await;
    let service = Service::start(&db.url(), &[]);
    let api = Api::new(&service);

    let good = api
        .ok(
            Some(&token("alice", &["staff", "line_manager"])),
            ME,
            json!({}),
        )
        .await;
    assert_eq!(
        good["me"],
        json!({"subject": "alice", "roles": ["STAFF", "LINE_MANAGER"]})
    );

    let expired = token_with("alice", &["staff"], |c| {
        c.insert("exp".into(), (now() - 3600).into());
    });
    let wrong_issuer = token_with("alice", &["staff"], |c| {
        c.insert("iss".into(), "https://evil.example".into());
    });
    let wrong_audience = token_with("alice", &["staff"], |c| {
        c.insert("aud".into(), "another-service".into());
    });
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "alice", "roles": ["admin"], "iss": "social-registry-dev", "aud": "social-registry", "exp": now() + 60, "iat": now()}),
        &EncodingKey::from_secret(b"not the service's secret at all, no"),
    )
    .unwrap();
    let rs256_without_issuer = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &json!({"sub": "alice", "iss": "x", "aud": "y", "exp": now() + 60, "iat": now()}),
        &EncodingKey::from_rsa_pem(include_bytes!("../../fixtures/rsa-1.pem")).unwrap(),
    )
    .unwrap();
    for (what, t, expected) in [
        ("expired", expired.as_str(), "EXPIRED"),
        ("wrong issuer", &wrong_issuer, "WRONG_ISSUER"),
        ("wrong audience", &wrong_audience, "WRONG_AUDIENCE"),
        ("wrong signature", &forged, "BAD_SIGNATURE"),
        (
            "RS256 with no issuer configured",
            &rs256_without_issuer,
            "ALGORITHM_NOT_ACCEPTED",
        ),
        ("not a JWT", "garbage", "MALFORMED"),
    ] {
        let response = api
            .client
            .post(format!("{}/graphql", api.base))
            .bearer_auth(t)
            .json(&json!({"query": "{ platforms { name } }"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{what}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            reason(&body),
            (Some("UNAUTHENTICATED"), Some(expected)),
            "{what}: {body}"
        );
    }
}

/// A stand-in identity provider.
struct Provider {
    url: String,
    keys: Arc<RwLock<JwkSet>>,
}

impl Provider {
    async fn start() -> Provider {
        let keys = Arc::new(RwLock::new(JwkSet { keys: vec![] }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let discovery = json!({"issuer": url, "jwks_uri": format!("{url}/keys")});
        let served = keys.clone();
        let app = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || {
                    let d = discovery.clone();
                    async move { Json(d) }
                }),
            )
            .route(
                "/keys",
                get(move || {
                    let set = served.read().unwrap().clone();
                    async move { Json(set) }
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Provider { url, keys }
    }

    fn publish(&self, keys: &[(&str, &EncodingKey, Algorithm)]) {
        let set = keys
            .iter()
            .map(|(kid, key, alg)| {
                let mut jwk = Jwk::from_encoding_key(key, *alg).unwrap();
                jwk.common.key_id = Some((*kid).to_owned());
                jwk
            })
            .collect();
        *self.keys.write().unwrap() = JwkSet { keys: set };
    }

    fn token(&self, kid: &str, key: &EncodingKey, alg: Algorithm, subject: &str) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(kid.to_owned());
        let claims = json!({"sub": subject, "name": "Idp User", "roles": ["staff"], "iss": self.url,
                            "aud": "registry-test", "exp": now() + 300, "iat": now()});
        jsonwebtoken::encode(&header, &claims, key).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs256_and_es256_tokens_verify_against_the_issuers_keys_and_the_service_follows_a_key_rotation(
) {
    let provider = Provider::start().await;
    let rsa1 = EncodingKey::from_rsa_pem(include_bytes!("../../fixtures/rsa-1.pem")).unwrap();
    let rsa2 = EncodingKey::from_rsa_pem(include_bytes!("../../fixtures/rsa-2.pem")).unwrap();
    let ec1 = EncodingKey::from_ec_pem(include_bytes!("../../fixtures/ec-1.pem")).unwrap();
    provider.publish(&[
        ("rsa-1", &rsa1, Algorithm::RS256),
        ("ec-1", &ec1, Algorithm::ES256),
    ]);

    let db = TestDatabase::new().await;
    let service = Service::start(
        &db.url(),
        &[
            ("REGISTRY_OIDC_ISSUER", &provider.url),
            ("REGISTRY_OIDC_AUDIENCE", "registry-test"),
            ("REGISTRY_OIDC_MIN_REFRESH_SECONDS", "0"),
        ],
    );
    let api = Api::new(&service);
    let me = |t: String| {
        let api = api.clone();
        async move { api.post(Some(&t), ME, json!({})).await }
    };

    let body = me(provider.token("rsa-1", &rsa1, Algorithm::RS256, "rs-user")).await;
    assert_eq!(body["data"]["me"]["subject"], "rs-user", "{body}");
    let body = me(provider.token("ec-1", &ec1, Algorithm::ES256, "ec-user")).await;
    assert_eq!(body["data"]["me"]["subject"], "ec-user", "{body}");

    // A key the issuer does not publish is unknown.
    let body = me(provider.token("rsa-2", &rsa2, Algorithm::RS256, "early")).await;
    assert_eq!(
        reason(&body),
        (Some("UNAUTHENTICATED"), Some("UNKNOWN_KEY")),
        "{body}"
    );
    // A token whose kid names a published key but was signed by another.
    let body = me(provider.token("rsa-1", &rsa2, Algorithm::RS256, "forger")).await;
    assert_eq!(
        reason(&body),
        (Some("UNAUTHENTICATED"), Some("BAD_SIGNATURE")),
        "{body}"
    );

    // Rotation: the issuer now publishes rsa-2 and retires rsa-1.
    provider.publish(&[("rsa-2", &rsa2, Algorithm::RS256)]);
    let body = me(provider.token("rsa-2", &rsa2, Algorithm::RS256, "after-rotation")).await;
    assert_eq!(body["data"]["me"]["subject"], "after-rotation", "{body}");
    // …and the retired key is no longer trusted.
    let body = me(provider.token("rsa-1", &rsa1, Algorithm::RS256, "retired")).await;
    assert_eq!(
        reason(&body),
        (Some("UNAUTHENTICATED"), Some("UNKNOWN_KEY")),
        "{body}"
    );

    // Issuer and audience are checked for these tokens too.
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rsa-2".into());
    let other_audience = jsonwebtoken::encode(
        &header,
        &json!({"sub": "x", "iss": provider.url, "aud": "someone-else", "exp": now() + 300, "iat": now()}),
        &rsa2,
    )
    .unwrap();
    let body = me(other_audience).await;
    assert_eq!(
        reason(&body),
        (Some("UNAUTHENTICATED"), Some("WRONG_AUDIENCE")),
        "{body}"
    );
    let other_issuer = jsonwebtoken::encode(
        &header,
        &json!({"sub": "x", "iss": "https://elsewhere.example", "aud": "registry-test", "exp": now() + 300, "iat": now()}),
        &rsa2,
    )
    .unwrap();
    let body = me(other_issuer).await;
    assert_eq!(
        reason(&body),
        (Some("UNAUTHENTICATED"), Some("WRONG_ISSUER")),
        "{body}"
    );
}
