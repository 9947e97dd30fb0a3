//! The people directory's search index and reads.
//!
//! The indexer follows the log from its own checkpoint (like the notifier):
//! each `PersonListed` opens the listed name through the vault and stores
//! keyed hashes of every prefix of every word of it in `staff.people`, in
//! the same transaction as the checkpoint; each `PersonalDataErased`
//! empties the person's hashes. A search hashes the words it is given the
//! same way and asks for rows holding all of them, so "mor man" finds
//! Morgan Manager while the table holds no name. Rebuilding it is deleting
//! its rows and setting its checkpoint to 0.

use std::time::Duration;

use domain::codec;
use domain::directory::{self, DirectoryEvent, PersonDetails};
use domain::personal::Sealed;
use event_store::vault::Vault;
use event_store::{EventStore, Wake};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sqlx::PgPool;

use crate::background::Stoppable;
use crate::commands::HandleError;

/// The purpose the index's key is derived for.
const KEY_PURPOSE: &str = "people-directory-search/v1";
/// Most events one batch indexes.
const BATCH: i64 = 1_000;
/// The longest prefix of a word that is indexed (longer words are found by
/// their first this-many letters).
const MAX_PREFIX: usize = 20;

/// The index's key, from the vault's master key.
pub fn index_key(vault: &Vault) -> [u8; 32] {
    vault.derived_key(KEY_PURPOSE)
}

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
}

fn hash(key: &[u8; 32], prefix: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(prefix.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// The index's tokens for a name: a keyed hash of each prefix of each word.
pub fn name_tokens(key: &[u8; 32], name: &str) -> Vec<String> {
    let mut out: Vec<String> = words(name)
        .flat_map(|w| {
            let chars: Vec<char> = w.chars().collect();
            (1..=chars.len().min(MAX_PREFIX))
                .map(|n| hash(key, &chars[..n].iter().collect::<String>()))
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The tokens a search needs: one per word it is given (each word, cut to
/// the longest indexed prefix).
pub fn search_tokens(key: &[u8; 32], search: &str) -> Vec<String> {
    words(search)
        .map(|w| hash(key, &w.chars().take(MAX_PREFIX).collect::<String>()))
        .collect()
}

/// Index one batch of the log after the checkpoint; the events read.
pub async fn run_batch(
    pool: &PgPool,
    store: &EventStore,
    vault: &Vault,
) -> Result<usize, HandleError> {
    let key = index_key(vault);
    let mut tx = pool.begin().await?;
    let after: i64 =
        sqlx::query_scalar("select position from staff.people_checkpoint where id = 1 for update")
            .fetch_one(&mut *tx)
            .await?;
    let events = store.read_all(after, BATCH).await?;
    let Some(last) = events.last().map(|e| e.position) else {
        tx.rollback().await?;
        return Ok(0);
    };
    for e in &events {
        match domain::streams::parse(&e.stream_id) {
            domain::streams::Stream::Directory(person) => {
                let DirectoryEvent::PersonListed { details, .. } = codec::decode(
                    &e.event_type,
                    e.schema_version,
                    &e.payload,
                    directory::EVENT_SCHEMA_VERSION,
                )?;
                let name = crate::commands::seal::open(vault, &details.name).await?;
                let tokens = name
                    .as_value()
                    .map(|n| name_tokens(&key, n))
                    .unwrap_or_default();
                sqlx::query(
                    "insert into staff.people (subject, person, tokens, unit, position, listed_at) \
                     values ($1, $2, $3, $4, $5, $6) \
                     on conflict (subject) do update set tokens = excluded.tokens, \
                       unit = excluded.unit, position = excluded.position, listed_at = excluded.listed_at",
                )
                .bind(&details.subject)
                .bind(person)
                .bind(&tokens)
                .bind(&details.unit)
                .bind(e.position)
                .bind(e.recorded_at)
                .execute(&mut *tx)
                .await?;
            }
            domain::streams::Stream::Person
                if e.event_type == domain::privacy::ERASED_EVENT_TYPE =>
            {
                let person = e.payload["person"]
                    .as_str()
                    .and_then(|p| p.parse::<uuid::Uuid>().ok());
                if let Some(person) = person {
                    sqlx::query("update staff.people set tokens = '{}' where person = $1")
                        .bind(person)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            _ => {}
        }
    }
    sqlx::query("update staff.people_checkpoint set position = $1 where id = 1")
        .bind(last)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(events.len())
}

/// Run the indexer in the background: a batch whenever the log moves (or
/// every `idle_poll`), retrying with backoff when the database fails.
pub fn spawn(
    pool: PgPool,
    store: EventStore,
    vault: Vault,
    wake: Wake,
    idle_poll: Duration,
) -> Stoppable {
    crate::background::follow_log("people directory", wake, idle_poll, move || {
        let (pool, store, vault) = (pool.clone(), store.clone(), vault.clone());
        async move { run_batch(&pool, &store, &vault).await }
    })
}

/// The indexer's checkpoint.
pub async fn indexed_position(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select position from staff.people_checkpoint where id = 1")
        .fetch_one(pool)
        .await
}

/// The subjects whose names hold every word of `search` (as the start of
/// a word), at most `limit`, most recently listed first.
pub async fn search(
    pool: &PgPool,
    vault: &Vault,
    search: &str,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let tokens = search_tokens(&index_key(vault), search);
    if tokens.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_scalar(
        "select subject from staff.people where tokens @> $1 \
         order by listed_at desc, subject limit $2",
    )
    .bind(&tokens)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// What the directory lists for `subject` now (folded from its stream),
/// personal values sealed; `None` when never listed.
pub async fn listed(
    store: &EventStore,
    subject: &str,
) -> Result<Option<PersonDetails<Sealed>>, HandleError> {
    let events = store
        .read_stream(&directory::stream_id(subject), None)
        .await?;
    let mut current = None;
    for e in &events {
        let DirectoryEvent::PersonListed { details, .. } = codec::decode(
            &e.event_type,
            e.schema_version,
            &e.payload,
            directory::EVENT_SCHEMA_VERSION,
        )?;
        current = Some(details);
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_word_matches_the_start_of_any_word_of_a_name_and_nothing_else() {
        let key = [7u8; 32];
        let tokens = name_tokens(&key, "Morgan O'Neill-Manager");
        let finds = |q: &str| {
            let wanted = search_tokens(&key, q);
            !wanted.is_empty() && wanted.iter().all(|t| tokens.contains(t))
        };
        assert!(finds("mor"));
        assert!(finds("MORGAN"));
        assert!(finds("man mor"));
        assert!(finds("neill"));
        assert!(!finds("organ"), "only the start of a word");
        assert!(!finds("morgana"));
        assert!(!finds("sam"));
        // Keyed: another key's tokens share nothing.
        assert!(name_tokens(&[8u8; 32], "Morgan")
            .iter()
            .all(|t| !tokens.contains(t)));
        // No token is the name or a prefix of it in plain text.
        assert!(tokens.iter().all(|t| !t.contains("mor")));
    }
}
