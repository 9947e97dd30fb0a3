//! Signed log heads: the service signs (position, hash, time) with an
//! Ed25519 key from its configuration. An auditor who keeps a signed head
//! can later prove that the log up to that position is unchanged, even
//! against someone who rewrote and re-hashed the chain with database
//! superuser rights, because they cannot sign. Checking is offline: the head
//! file, the public key and the events are enough.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, SubsecRound, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::error::StoreError;
use crate::store::EventStore;

/// The tag that starts every signed message.
pub const TAG: &str = "social-registry/head/v1";

/// The service's signing key.
#[derive(Clone)]
pub struct HeadSigner {
    key: SigningKey,
}

impl std::fmt::Debug for HeadSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeadSigner")
            .field("key_id", &self.key_id())
            .finish()
    }
}

/// Why a signing key or a head was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// The key is not base64 of 32 bytes.
    #[error("a signing key must be base64 of exactly 32 bytes")]
    BadKey,
    /// The public key is malformed.
    #[error("the public key is not a base64 Ed25519 public key")]
    BadPublicKey,
    /// The head was signed by another key than the one trusted.
    #[error("the head was signed by key {found}, not the trusted key {trusted}")]
    UntrustedKey {
        /// The head's key id.
        found: String,
        /// The trusted key id.
        trusted: String,
    },
    /// The signature does not verify.
    #[error("the head's signature does not verify: it was altered or not made by this key")]
    BadSignature,
}

impl HeadSigner {
    /// A signer from base64 of the 32-byte secret.
    pub fn from_base64(text: &str) -> Result<Self, HeadError> {
        let bytes = B64.decode(text.trim()).map_err(|_| HeadError::BadKey)?;
        let seed: [u8; 32] = bytes.try_into().map_err(|_| HeadError::BadKey)?;
        Ok(HeadSigner {
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        use chacha20poly1305::aead::{KeyInit, OsRng};
        let seed = chacha20poly1305::ChaCha20Poly1305::generate_key(&mut OsRng);
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&seed);
        HeadSigner {
            key: SigningKey::from_bytes(&bytes),
        }
    }

    /// base64 of the secret (for writing a development key file).
    pub fn to_base64(&self) -> String {
        B64.encode(self.key.to_bytes())
    }

    /// base64 of the public key.
    pub fn public_key(&self) -> String {
        B64.encode(self.key.verifying_key().to_bytes())
    }

    /// A short, stable id of the public key.
    pub fn key_id(&self) -> String {
        key_id(&self.key.verifying_key())
    }

    /// Sign a head.
    pub fn sign(&self, position: i64, hash: &[u8], signed_at: DateTime<Utc>) -> SignedHead {
        let signed_at = signed_at.trunc_subsecs(6);
        let hash = hex::encode(hash);
        let signature = self
            .key
            .sign(&message(position, &hash, signed_at))
            .to_bytes();
        SignedHead {
            position,
            hash,
            signed_at,
            key_id: self.key_id(),
            public_key: self.public_key(),
            signature: B64.encode(signature),
        }
    }
}

fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.to_bytes())[..8])
}

fn message(position: i64, hash_hex: &str, signed_at: DateTime<Utc>) -> Vec<u8> {
    format!(
        "{TAG}\n{position}\n{hash_hex}\n{}",
        signed_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    )
    .into_bytes()
}

/// A signed head, as stored, served and kept by auditors (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedHead {
    /// The log position signed.
    pub position: i64,
    /// The chain hash at that position, hex.
    pub hash: String,
    /// When it was signed (to the microsecond).
    pub signed_at: DateTime<Utc>,
    /// Id of the signing key (first 8 bytes of SHA-256 of the public key, hex).
    pub key_id: String,
    /// The signing key's public half, base64.
    pub public_key: String,
    /// Ed25519 signature, base64, over
    /// `social-registry/head/v1\n<position>\n<hash hex>\n<signedAt RFC 3339, µs, Z>`.
    pub signature: String,
}

impl SignedHead {
    /// Check the signature. With `trusted` (base64 public key), the head
    /// must have been signed by that key; without it, by the key the head
    /// names (which proves integrity, not origin).
    pub fn verify(&self, trusted: Option<&str>) -> Result<(), HeadError> {
        let key_text = trusted.unwrap_or(&self.public_key);
        let bytes = B64
            .decode(key_text.trim())
            .map_err(|_| HeadError::BadPublicKey)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| HeadError::BadPublicKey)?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| HeadError::BadPublicKey)?;
        if key_id(&key) != self.key_id {
            return Err(HeadError::UntrustedKey {
                found: self.key_id.clone(),
                trusted: key_id(&key),
            });
        }
        let sig = B64
            .decode(&self.signature)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .ok_or(HeadError::BadSignature)?;
        key.verify(
            &message(self.position, &self.hash, self.signed_at),
            &Signature::from_bytes(&sig),
        )
        .map_err(|_| HeadError::BadSignature)
    }
}

impl EventStore {
    /// Sign the current head of the log and store the signed head.
    pub async fn sign_head(&self, signer: &HeadSigner) -> Result<SignedHead, StoreError> {
        let head = self.head().await?;
        let signed = signer.sign(head.position, &head.hash, Utc::now());
        sqlx::query(
            "insert into signed_heads (position, hash, signed_at, key_id, public_key, signature) \
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(signed.position)
        .bind(head.hash.to_vec())
        .bind(signed.signed_at)
        .bind(&signed.key_id)
        .bind(&signed.public_key)
        .bind(&signed.signature)
        .execute(self.pool())
        .await?;
        Ok(signed)
    }

    /// When the newest signed head was signed (none yet: `None`).
    pub async fn newest_signed_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(
            sqlx::query_scalar("select max(signed_at) from signed_heads")
                .fetch_one(self.pool())
                .await?,
        )
    }

    /// Stored signed heads, newest first.
    pub async fn signed_heads(&self, limit: i64) -> Result<Vec<SignedHead>, StoreError> {
        let rows = sqlx::query(
            "select position, hash, signed_at, key_id, public_key, signature from signed_heads \
             order by id desc limit $1",
        )
        .bind(limit.clamp(1, 1000))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SignedHead {
                    position: r.try_get("position")?,
                    hash: hex::encode(r.try_get::<Vec<u8>, _>("hash")?),
                    signed_at: r.try_get("signed_at")?,
                    key_id: r.try_get("key_id")?,
                    public_key: r.try_get("public_key")?,
                    signature: r.try_get("signature")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_head_verifies_and_any_change_to_it_does_not() {
        let signer = HeadSigner::generate();
        let head = signer.sign(42, &[7u8; 32], Utc::now());
        head.verify(None).unwrap();
        head.verify(Some(&signer.public_key())).unwrap();
        let mut moved = head.clone();
        moved.position = 41;
        assert_eq!(moved.verify(None), Err(HeadError::BadSignature));
        let mut rehashed = head.clone();
        rehashed.hash = hex::encode([8u8; 32]);
        assert_eq!(rehashed.verify(None), Err(HeadError::BadSignature));
        let other = HeadSigner::generate();
        assert!(matches!(
            head.verify(Some(&other.public_key())),
            Err(HeadError::UntrustedKey { .. })
        ));
        let json = serde_json::to_string(&head).unwrap();
        let back: SignedHead = serde_json::from_str(&json).unwrap();
        back.verify(Some(&signer.public_key())).unwrap();
    }

    #[test]
    fn a_signing_key_round_trips_through_base64() {
        let signer = HeadSigner::generate();
        let again = HeadSigner::from_base64(&signer.to_base64()).unwrap();
        assert_eq!(signer.public_key(), again.public_key());
        assert_eq!(
            HeadSigner::from_base64("short").unwrap_err(),
            HeadError::BadKey
        );
    }
}
