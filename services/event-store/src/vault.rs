//! The personal-data vault: crypto-shredding with per-person keys.
//!
//! A personal value (an officer's name, a contact's email) goes into an event
//! only as [`Sealed`] ciphertext under that person's data key. Data keys are
//! kept in the mutable `vault_keys` table, each wrapped (encrypted) with the
//! master key from configuration. Erasing a person deletes their key and
//! records the erasure; their ciphertexts then open as [`Revealed::Erased`],
//! while the log, and so the hash chain over it, is untouched.
//!
//! Cipher: ChaCha20-Poly1305 (RustCrypto), random 96-bit nonces, the person's
//! id as associated data so a ciphertext cannot be moved to another person.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, Transaction};
use thiserror::Error;
use uuid::Uuid;

const NONCE_LEN: usize = 12;
const KEY_WRAP_AAD: &[u8] = b"social-registry/vault/key/v1";

/// A personal value as it is stored in an event: ciphertext only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// Whose data this is; the key to open it is theirs.
    pub person: Uuid,
    /// base64 of nonce || ciphertext || tag.
    pub sealed: String,
}

/// A personal value after opening.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "value", rename_all = "snake_case")]
pub enum Revealed {
    /// The plaintext.
    Value(String),
    /// The person was erased; the value is gone for good.
    Erased,
}

impl Revealed {
    /// The plaintext, or `None` when erased.
    pub fn as_value(&self) -> Option<&str> {
        match self {
            Revealed::Value(v) => Some(v),
            Revealed::Erased => None,
        }
    }
}

/// What can go wrong in the vault.
#[derive(Debug, Error)]
pub enum VaultError {
    /// The master key is not base64 of 32 bytes.
    #[error("the vault master key must be base64 of exactly 32 bytes")]
    BadMasterKey,
    /// A stored key does not unwrap: the master key is not the one it was made with.
    #[error("the data key of person {0} does not unwrap with this master key (wrong REGISTRY_VAULT_KEY?)")]
    WrongMasterKey(Uuid),
    /// The ciphertext is damaged or belongs to someone else.
    #[error("sealed value of person {0} does not decrypt: it is damaged or not theirs")]
    Damaged(Uuid),
    /// No key and no erasure: the vault and the log disagree.
    #[error("no data key for person {0}, and no record of their erasure")]
    KeyMissing(Uuid),
    /// Another command stored a key for this person after this one sealed
    /// under a key of its own: nothing was written; seal again.
    #[error("a data key for person {0} was stored by another command meanwhile; retry")]
    KeyMadeConcurrently(Uuid),
    /// The person was erased; nothing new may be sealed for them.
    #[error("person {0} has been erased; no new personal data can be stored for them")]
    PersonErased(Uuid),
    /// The database failed.
    #[error("vault database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// The master key that wraps every data key.
#[derive(Clone)]
pub struct MasterKey(Key);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Parse base64 of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, VaultError> {
        let bytes = B64
            .decode(text.trim())
            .map_err(|_| VaultError::BadMasterKey)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| VaultError::BadMasterKey)?;
        Ok(MasterKey(bytes.into()))
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        MasterKey(ChaCha20Poly1305::generate_key(&mut OsRng))
    }

    /// base64 of the key, for writing it where configuration will find it.
    pub fn to_base64(&self) -> String {
        B64.encode(self.0.as_slice())
    }
}

/// A person's unwrapped data key (never leaves this crate's API as bytes).
#[derive(Clone)]
pub struct DataKey(Key);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// What the vault holds for a person.
#[derive(Debug, Clone)]
pub enum KeyState {
    /// Their data key.
    Key(DataKey),
    /// They were erased.
    Erased,
    /// No key and no erasure: nothing was ever sealed for them.
    Missing,
}

/// A data key made for a person who had none, not yet stored: it is written
/// in the same transaction as the events that hold values sealed under it
/// ([`crate::EventStore::append_sealed`]), so a refused or failed command
/// leaves no key behind.
#[derive(Clone)]
pub struct NewKey {
    /// Whose key.
    pub person: Uuid,
    /// The key, wrapped with the master key.
    pub(crate) wrapped: Vec<u8>,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NewKey({})", self.person)
    }
}

/// A change to the vault made atomically with an append.
#[derive(Debug, Clone)]
pub enum VaultChange {
    /// Store a key made while sealing.
    Add(NewKey),
    /// Erase a person: delete their key and record the erasure.
    Erase(Uuid),
}

/// One command's sealing: reads the keys it needs (one statement per batch
/// of people), makes keys for people new to the vault in memory only, and
/// hands those over as [`VaultChange::Add`] for the append's transaction.
#[derive(Debug)]
pub struct Sealer<'v> {
    vault: &'v Vault,
    keys: std::collections::HashMap<Uuid, KeyState>,
    changes: Vec<VaultChange>,
    sealed: u64,
    pending: Vec<Uuid>,
}

impl Sealer<'_> {
    /// Have the next [`Sealer::load`] also read `person`'s key (a command
    /// that will seal its actor's name reads every key it needs at once).
    pub fn also_load(&mut self, person: Uuid) {
        self.pending.push(person);
    }

    /// Make sure the key states of `persons` are known (one statement for
    /// all that are not yet).
    pub async fn load(&mut self, persons: &[Uuid]) -> Result<(), VaultError> {
        let pending = std::mem::take(&mut self.pending);
        let wanted: Vec<Uuid> = persons
            .iter()
            .chain(&pending)
            .filter(|p| !self.keys.contains_key(p))
            .copied()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if !wanted.is_empty() {
            let found = self.vault.data_keys(&wanted).await?;
            self.keys.extend(found);
        }
        Ok(())
    }

    /// Encrypt `plaintext` under `person`'s key, making the key (in memory)
    /// when they have none. Refused for an erased person.
    pub async fn seal(&mut self, person: Uuid, plaintext: &str) -> Result<Sealed, VaultError> {
        self.load(&[person]).await?;
        let key = match self.keys.get(&person) {
            Some(KeyState::Key(DataKey(key))) => *key,
            Some(KeyState::Erased) => return Err(VaultError::PersonErased(person)),
            Some(KeyState::Missing) | None => {
                let fresh = ChaCha20Poly1305::generate_key(&mut OsRng);
                self.changes.push(VaultChange::Add(NewKey {
                    person,
                    wrapped: self.vault.wrap_key(person, &fresh),
                }));
                self.keys.insert(person, KeyState::Key(DataKey(fresh)));
                fresh
            }
        };
        self.sealed += 1;
        Ok(encrypt(&key, person, plaintext))
    }

    /// Erase `person` with the append (their key deleted, the erasure
    /// recorded, in its transaction).
    pub fn erase(&mut self, person: Uuid) {
        self.changes.push(VaultChange::Erase(person));
    }

    /// Decrypt a value with the keys this sealing has loaded.
    pub async fn open(&mut self, sealed: &Sealed) -> Result<Revealed, VaultError> {
        self.load(&[sealed.person]).await?;
        let state = self
            .keys
            .get(&sealed.person)
            .cloned()
            .unwrap_or(KeyState::Missing);
        self.vault.open_with(&state, sealed)
    }

    /// What this sealing changes in the vault (to make with the events),
    /// and how many values it sealed.
    pub fn finish(self) -> (Vec<VaultChange>, u64) {
        (self.changes, self.sealed)
    }
}

fn encrypt(key: &Key, person: Uuid, plaintext: &str) -> Sealed {
    let cipher = ChaCha20Poly1305::new(key);
    let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
    let ct = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext.as_bytes(),
                aad: person.as_bytes(),
            },
        )
        .expect("encryption of a bounded message cannot fail");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ct);
    Sealed {
        person,
        sealed: B64.encode(out),
    }
}

/// The vault over the database's key tables.
#[derive(Debug, Clone)]
pub struct Vault {
    pool: PgPool,
    master: MasterKey,
}

impl Vault {
    /// A vault over `pool`, wrapping keys with `master`.
    pub fn new(pool: PgPool, master: MasterKey) -> Self {
        Vault { pool, master }
    }

    /// A 32-byte key for one `purpose` (e.g. keyed hashes of a search
    /// index), derived from the master key: a secret as well kept as it,
    /// with nothing more to configure. Different purposes, unrelated keys.
    pub fn derived_key(&self, purpose: &str) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"social-registry/vault-derived-key/v1\0");
        h.update(self.master.0.as_slice());
        h.update(b"\0");
        h.update(purpose.as_bytes());
        h.finalize().into()
    }

    /// A sealing for one command (see [`Sealer`]).
    pub fn sealer(&self) -> Sealer<'_> {
        Sealer {
            vault: self,
            keys: std::collections::HashMap::new(),
            changes: Vec::new(),
            sealed: 0,
            pending: Vec::new(),
        }
    }

    /// Encrypt `plaintext` under `person`'s data key, creating and storing
    /// the key on first use (for tools and tests; commands use a
    /// [`Sealer`], which stores new keys with the events). Refused for an
    /// erased person.
    pub async fn seal(&self, person: Uuid, plaintext: &str) -> Result<Sealed, VaultError> {
        loop {
            let mut sealer = self.sealer();
            let sealed = sealer.seal(person, plaintext).await?;
            let (changes, _) = sealer.finish();
            if changes.is_empty() {
                return Ok(sealed);
            }
            self.apply(&changes).await?;
            // Sealed under the key stored just now, or, when another stored
            // one first, seal again under theirs.
            if let Some(KeyState::Key(_)) = self.data_keys(&[person]).await?.get(&person) {
                let opened = self.open(&sealed).await;
                if matches!(opened, Ok(Revealed::Value(_))) {
                    return Ok(sealed);
                }
            }
        }
    }

    /// Decrypt a sealed value; [`Revealed::Erased`] when the person was erased.
    pub async fn open(&self, sealed: &Sealed) -> Result<Revealed, VaultError> {
        let state = match self.data_key(sealed.person).await? {
            Some(key) => KeyState::Key(DataKey(key)),
            None if self.was_erased(sealed.person).await? => KeyState::Erased,
            None => KeyState::Missing,
        };
        self.open_with(&state, sealed)
    }

    /// The data keys of many people in one statement (for opening every
    /// personal value of a response at once).
    pub async fn data_keys(
        &self,
        persons: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, KeyState>, VaultError> {
        // Two index lookups rather than a join on an unnested array: the
        // statement is planned afresh each time, and this shape plans in
        // half the time (it is run by every command that names a person).
        let rows: Vec<(Uuid, Option<Vec<u8>>)> = sqlx::query_as(
            "select person_id, wrapped_key from vault_keys where person_id = any($1) \
             union all select person_id, null from vault_erasures where person_id = any($1)",
        )
        .bind(persons)
        .fetch_all(&self.pool)
        .await?;
        let mut out: std::collections::HashMap<Uuid, KeyState> =
            persons.iter().map(|p| (*p, KeyState::Missing)).collect();
        for (person, wrapped) in rows {
            match wrapped {
                Some(w) => {
                    out.insert(person, KeyState::Key(DataKey(self.unwrap_key(person, &w)?)));
                }
                // Erased: no key (a key and an erasure never both exist).
                None => {
                    if !matches!(out.get(&person), Some(KeyState::Key(_))) {
                        out.insert(person, KeyState::Erased);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Decrypt a sealed value with its person's key state (from
    /// [`Vault::data_keys`]).
    pub fn open_with(&self, state: &KeyState, sealed: &Sealed) -> Result<Revealed, VaultError> {
        let key = match state {
            KeyState::Key(DataKey(key)) => *key,
            KeyState::Erased => return Ok(Revealed::Erased),
            KeyState::Missing => return Err(VaultError::KeyMissing(sealed.person)),
        };
        let bytes = B64
            .decode(&sealed.sealed)
            .map_err(|_| VaultError::Damaged(sealed.person))?;
        if bytes.len() < NONCE_LEN {
            return Err(VaultError::Damaged(sealed.person));
        }
        let (nonce, ct) = bytes.split_at(NONCE_LEN);
        let plain = ChaCha20Poly1305::new(&key)
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: sealed.person.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Damaged(sealed.person))?;
        String::from_utf8(plain)
            .map(Revealed::Value)
            .map_err(|_| VaultError::Damaged(sealed.person))
    }

    /// Erase a person: delete their key and record when. Returns false when
    /// they had already been erased. Idempotent. (Commands erase with their
    /// event, through [`Sealer::erase`].)
    pub async fn erase(&self, person: Uuid) -> Result<bool, VaultError> {
        let already = self.was_erased(person).await?;
        self.apply(&[VaultChange::Erase(person)]).await?;
        Ok(!already)
    }

    /// Make `changes` in a transaction of their own, taking turns with the
    /// appends (whose groups read the vault's state under the append lock
    /// and write keys in the same transaction).
    async fn apply(&self, changes: &[VaultChange]) -> Result<(), VaultError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!(
            "select {}, pg_advisory_xact_lock($1)",
            crate::db::DURABLE_COMMIT_SETTING
        ))
        .bind(crate::db::APPEND_LOCK)
        .execute(&mut *tx)
        .await?;
        match apply_changes(&mut tx, changes).await {
            Ok(()) => {}
            // A key made meanwhile by someone else: theirs stands.
            Err(VaultError::KeyMadeConcurrently(_)) => return Ok(()),
            Err(e) => return Err(e),
        }
        tx.commit().await?;
        Ok(())
    }

    /// Everyone erased so far.
    pub async fn erased_persons(&self) -> Result<Vec<Uuid>, VaultError> {
        Ok(sqlx::query_scalar("select person_id from vault_erasures")
            .fetch_all(&self.pool)
            .await?)
    }

    /// True when the person has been erased.
    pub async fn was_erased(&self, person: Uuid) -> Result<bool, VaultError> {
        let found: Option<i32> =
            sqlx::query_scalar("select 1 from vault_erasures where person_id = $1")
                .bind(person)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    async fn data_key(&self, person: Uuid) -> Result<Option<Key>, VaultError> {
        let wrapped: Option<Vec<u8>> =
            sqlx::query_scalar("select wrapped_key from vault_keys where person_id = $1")
                .bind(person)
                .fetch_optional(&self.pool)
                .await?;
        wrapped.map(|w| self.unwrap_key(person, &w)).transpose()
    }

    fn wrap_key(&self, person: Uuid, key: &Key) -> Vec<u8> {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = [KEY_WRAP_AAD, person.as_bytes()].concat();
        let ct = ChaCha20Poly1305::new(&self.master.0)
            .encrypt(
                &nonce,
                Payload {
                    msg: key.as_slice(),
                    aad: &aad,
                },
            )
            .expect("wrapping a 32-byte key cannot fail");
        [nonce.as_slice(), &ct].concat()
    }

    fn unwrap_key(&self, person: Uuid, wrapped: &[u8]) -> Result<Key, VaultError> {
        if wrapped.len() < NONCE_LEN {
            return Err(VaultError::WrongMasterKey(person));
        }
        let (nonce, ct) = wrapped.split_at(NONCE_LEN);
        let aad = [KEY_WRAP_AAD, person.as_bytes()].concat();
        let plain = ChaCha20Poly1305::new(&self.master.0)
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
            .map_err(|_| VaultError::WrongMasterKey(person))?;
        let bytes: [u8; 32] = plain
            .try_into()
            .map_err(|_| VaultError::WrongMasterKey(person))?;
        Ok(bytes.into())
    }
}

/// Store keys made while sealing and carry out erasures in `tx`, which
/// holds the append lock, as every vault write does (appends make theirs in
/// their group's statement, see `writer`): an erasure that commits first
/// wins, and no key is stored after it.
async fn apply_changes(
    tx: &mut Transaction<'_, Postgres>,
    changes: &[VaultChange],
) -> Result<(), VaultError> {
    for change in changes {
        match change {
            VaultChange::Add(key) => {
                let erased: Option<i32> =
                    sqlx::query_scalar("select 1 from vault_erasures where person_id = $1")
                        .bind(key.person)
                        .fetch_optional(&mut **tx)
                        .await?;
                if erased.is_some() {
                    return Err(VaultError::PersonErased(key.person));
                }
                let stored = sqlx::query(
                    "insert into vault_keys (person_id, wrapped_key) values ($1, $2) \
                     on conflict (person_id) do nothing",
                )
                .bind(key.person)
                .bind(&key.wrapped)
                .execute(&mut **tx)
                .await?
                .rows_affected();
                if stored == 0 {
                    return Err(VaultError::KeyMadeConcurrently(key.person));
                }
            }
            VaultChange::Erase(person) => {
                sqlx::query("delete from vault_keys where person_id = $1")
                    .bind(person)
                    .execute(&mut **tx)
                    .await?;
                sqlx::query(
                    "insert into vault_erasures (person_id) values ($1) \
                     on conflict (person_id) do nothing",
                )
                .bind(person)
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    Ok(())
}
