//! Proving the log: chain verification together with signed heads, online
//! (against the database) and offline (against an NDJSON export, with no
//! database at all).
//!
//! An export is one [`RecordedEvent`] per line, as JSON, in position order:
//! positions, stream ids and versions, event ids, types, schema versions,
//! payloads, metadata, recording times (RFC 3339, microseconds) and both
//! hashes (hex). Everything the hash covers is in the line, so anyone can
//! recompute the chain (see `canonical.rs`).

use std::io::BufRead;

use futures::Stream;
use serde::Serialize;

use crate::canonical::GENESIS_HASH;
use crate::chain::{BreakReason, ChainReport, ChainVerifier};
use crate::error::StoreError;
use crate::heads::SignedHead;
use crate::model::RecordedEvent;
use crate::store::EventStore;

const PAGE: i64 = 2_000;

/// What checking one signed head found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum HeadVerdict {
    /// The log's hash at the head's position is the signed hash: the log up
    /// to there is exactly what was signed.
    Matches,
    /// The log's hash at that position differs: the log up to there was
    /// changed (and re-hashed) after signing.
    Differs {
        /// The hash found, hex.
        found: String,
    },
    /// The log ends before the head's position: events were removed.
    BeyondLog {
        /// The last position present.
        log_ends_at: i64,
    },
    /// The head itself does not verify.
    SignatureInvalid {
        /// Why.
        problem: String,
    },
}

/// One head's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeadResult {
    /// The head's position.
    pub position: i64,
    /// When it was signed.
    pub signed_at: chrono::DateTime<chrono::Utc>,
    /// What was found.
    pub verdict: HeadVerdict,
}

/// The whole verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditReport {
    /// True when the chain verified and every head matches.
    pub verified: bool,
    /// The chain verification.
    pub chain: ChainReport,
    /// Each signed head checked, in position order.
    pub heads: Vec<HeadResult>,
    /// The first problem, in words, naming the position.
    pub problem: Option<String>,
}

/// Check `heads` against a chain that verified up to `chain_end`, where
/// `hash_at` gives the (verified) hash at a position.
fn check_heads(
    heads: &[SignedHead],
    trusted: Option<&str>,
    chain_end: i64,
    hash_at: impl Fn(i64) -> Option<Vec<u8>>,
) -> Vec<HeadResult> {
    let mut sorted: Vec<&SignedHead> = heads.iter().collect();
    sorted.sort_by_key(|h| h.position);
    sorted
        .into_iter()
        .map(|h| {
            let verdict = if let Err(e) = h.verify(trusted) {
                HeadVerdict::SignatureInvalid {
                    problem: e.to_string(),
                }
            } else if h.position > chain_end {
                HeadVerdict::BeyondLog {
                    log_ends_at: chain_end,
                }
            } else {
                let found = if h.position == 0 {
                    Some(GENESIS_HASH.to_vec())
                } else {
                    hash_at(h.position)
                };
                match found {
                    Some(found) if hex::encode(&found) == h.hash => HeadVerdict::Matches,
                    Some(found) => HeadVerdict::Differs {
                        found: hex::encode(found),
                    },
                    None => HeadVerdict::BeyondLog {
                        log_ends_at: chain_end,
                    },
                }
            };
            HeadResult {
                position: h.position,
                signed_at: h.signed_at,
                verdict,
            }
        })
        .collect()
}

fn report(chain: ChainReport, heads: Vec<HeadResult>) -> AuditReport {
    let chain_problem = match &chain {
        ChainReport::Broken {
            position, reason, ..
        } => Some(format!("chain broken at position {position}: {reason}")),
        ChainReport::Verified { .. } => None,
    };
    let head_problem = heads.iter().find_map(|h| match &h.verdict {
        HeadVerdict::Matches => None,
        HeadVerdict::Differs { .. } => Some(format!(
            "the log up to position {} is not what was signed at {}: it was changed and re-hashed",
            h.position, h.signed_at
        )),
        HeadVerdict::BeyondLog { log_ends_at } => Some(format!(
            "the log ends at position {log_ends_at}, but a head signed at {} covers position {}: events were removed",
            h.signed_at, h.position
        )),
        HeadVerdict::SignatureInvalid { problem } => Some(format!(
            "the head for position {} does not verify: {problem}",
            h.position
        )),
    });
    let problem = chain_problem.or(head_problem);
    AuditReport {
        verified: problem.is_none(),
        chain,
        heads,
        problem,
    }
}

impl EventStore {
    /// Verify the chain from position 1 (at least up to every head's
    /// position), and every signed head against it.
    pub async fn audit(
        &self,
        to: Option<i64>,
        heads: &[SignedHead],
        trusted: Option<&str>,
    ) -> Result<AuditReport, StoreError> {
        let chain = self.verify_chain(Some(1), to).await?;
        let chain_end = match &chain {
            ChainReport::Verified { to, .. } => *to,
            ChainReport::Broken { position, .. } => position - 1,
        };
        let mut hashes = std::collections::HashMap::new();
        for h in heads {
            if h.position >= 1 && h.position <= chain_end {
                if let Some(e) = self.read_range(h.position, h.position, 1).await?.pop() {
                    hashes.insert(h.position, e.hash);
                }
            }
        }
        let heads = check_heads(heads, trusted, chain_end, |p| hashes.get(&p).cloned());
        Ok(report(chain, heads))
    }

    /// The log after `after` (up to `to`) as NDJSON lines, read in pages.
    pub fn export_lines(
        &self,
        after: i64,
        to: Option<i64>,
    ) -> impl Stream<Item = Result<String, StoreError>> + Send + 'static {
        let store = self.clone();
        let to = to.unwrap_or(i64::MAX);
        async_stream::stream! {
            let mut next = after + 1;
            while next <= to {
                let page = match store.read_range(next, to, PAGE).await {
                    Ok(p) => p,
                    Err(e) => { yield Err(e); return; }
                };
                let Some(last) = page.last().map(|e| e.position) else { break };
                for e in &page {
                    let mut line = serde_json::to_string(e).expect("an event serialises");
                    line.push('\n');
                    yield Ok(line);
                }
                next = last + 1;
            }
        }
    }
}

/// Why an export could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the file failed.
    #[error("reading the export: {0}")]
    Io(#[from] std::io::Error),
}

/// Verify an NDJSON export offline: the chain over its events and every
/// signed head against them. An export that does not start at position 1
/// is verified from its first event, whose previous hash is trusted.
pub fn verify_export(
    reader: impl BufRead,
    heads: &[SignedHead],
    trusted: Option<&str>,
) -> Result<AuditReport, ExportError> {
    let mut verifier: Option<ChainVerifier> = None;
    let mut hashes = std::collections::HashMap::new();
    let wanted: std::collections::HashSet<i64> = heads.iter().map(|h| h.position).collect();
    let mut last = 0;
    let mut count = 0u64;
    for (index, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let event: RecordedEvent = match serde_json::from_str(&line) {
            Ok(e) => e,
            Err(_) => {
                let chain = ChainReport::Broken {
                    position: last + 1,
                    reason: BreakReason::Unreadable { line: index + 1 },
                    verified_before: count,
                };
                return Ok(report(
                    chain,
                    check_heads(heads, trusted, last, |p| hashes.get(&p).cloned()),
                ));
            }
        };
        let v = verifier.get_or_insert_with(|| {
            let anchor = if event.position == 1 {
                GENESIS_HASH.to_vec()
            } else {
                event.prev_hash.clone()
            };
            ChainVerifier::new(event.position, anchor)
        });
        if let Err(chain) = v.check(&event) {
            return Ok(report(
                chain,
                check_heads(heads, trusted, last, |p| hashes.get(&p).cloned()),
            ));
        }
        if wanted.contains(&event.position) {
            hashes.insert(event.position, event.hash.clone());
        }
        last = event.position;
        count += 1;
    }
    let chain = match verifier {
        Some(v) => v.finish(),
        None => ChainVerifier::new(1, GENESIS_HASH.to_vec()).finish(),
    };
    let heads = check_heads(heads, trusted, last, |p| hashes.get(&p).cloned());
    Ok(report(chain, heads))
}
