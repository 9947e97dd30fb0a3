//! Verification of the hash chain over a range of positions.

use serde::Serialize;

use crate::canonical::{chain_hash, EventFields, GENESIS_HASH};
use crate::error::StoreError;
use crate::model::RecordedEvent;
use crate::store::EventStore;

const PAGE: i64 = 2_000;

/// The outcome of verifying a range of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ChainReport {
    /// Every event in the range verified.
    Verified {
        /// First position checked (0 when the range was empty).
        from: i64,
        /// Last position checked (0 when the range was empty).
        to: i64,
        /// How many events verified.
        count: u64,
        /// Hash of the last event checked, hex.
        head_hash: String,
    },
    /// The first position that does not verify, and why.
    Broken {
        /// The first bad position.
        position: i64,
        /// What is wrong there.
        reason: BreakReason,
        /// How many events before it verified.
        verified_before: u64,
    },
}

/// Why a position fails verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakReason {
    /// No event is stored at this position, though later ones are.
    Missing,
    /// The stored previous hash is not the hash of the event before.
    PreviousHashMismatch,
    /// The stored hash is not the hash of this event's contents.
    HashMismatch,
    /// (Exports) the line that should hold this position is not an event.
    Unreadable {
        /// The line number in the export.
        line: usize,
    },
}

impl std::fmt::Display for BreakReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BreakReason::Missing => "the event at this position is missing",
            BreakReason::PreviousHashMismatch => {
                "its previous hash does not match the hash of the event before it"
            }
            BreakReason::HashMismatch => "its contents do not match its stored hash",
            BreakReason::Unreadable { line } => {
                return write!(f, "line {line} of the export is not a readable event")
            }
        })
    }
}

impl ChainReport {
    /// True when the range verified.
    pub fn is_verified(&self) -> bool {
        matches!(self, ChainReport::Verified { .. })
    }
}

/// Checks events one by one, carrying the previous hash along. Used by
/// [`EventStore::verify_chain`] and by offline verification of exports.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    expected_position: i64,
    prev_hash: Vec<u8>,
    first: Option<i64>,
    count: u64,
}

impl ChainVerifier {
    /// A verifier that expects `first_position` next, trusting `prev_hash`
    /// as the hash of the event before it (the genesis hash for position 1).
    pub fn new(first_position: i64, prev_hash: Vec<u8>) -> Self {
        ChainVerifier {
            expected_position: first_position,
            prev_hash,
            first: None,
            count: 0,
        }
    }

    /// Check the next event; on failure, the report naming the bad position.
    pub fn check(&mut self, e: &RecordedEvent) -> Result<(), ChainReport> {
        let broken = |position, reason| ChainReport::Broken {
            position,
            reason,
            verified_before: self.count,
        };
        if e.position != self.expected_position {
            return Err(broken(self.expected_position, BreakReason::Missing));
        }
        if e.prev_hash != self.prev_hash {
            return Err(broken(e.position, BreakReason::PreviousHashMismatch));
        }
        if chain_hash(&e.prev_hash, EventFields::from(e)).as_slice() != e.hash.as_slice() {
            return Err(broken(e.position, BreakReason::HashMismatch));
        }
        self.first.get_or_insert(e.position);
        self.prev_hash.clone_from(&e.hash);
        self.expected_position += 1;
        self.count += 1;
        Ok(())
    }

    /// The report for everything checked so far.
    pub fn finish(self) -> ChainReport {
        ChainReport::Verified {
            from: self.first.unwrap_or(0),
            to: if self.count == 0 {
                0
            } else {
                self.expected_position - 1
            },
            count: self.count,
            head_hash: hex::encode(&self.prev_hash),
        }
    }
}

impl EventStore {
    /// Verify the chain over positions `from..=to` (whole log by default).
    ///
    /// The event before `from` is trusted as the anchor, so verifying from 1
    /// proves the most. Rows deleted at the very end of the log cannot be
    /// seen here; signed log heads cover that.
    pub async fn verify_chain(
        &self,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<ChainReport, StoreError> {
        let from = from.unwrap_or(1).max(1);
        let to = to.unwrap_or(i64::MAX);
        let anchor = if from == 1 {
            GENESIS_HASH.to_vec()
        } else {
            match self.read_range(from - 1, from - 1, 1).await?.pop() {
                Some(e) => e.hash,
                None => {
                    return Ok(ChainReport::Broken {
                        position: from - 1,
                        reason: BreakReason::Missing,
                        verified_before: 0,
                    })
                }
            }
        };
        let mut verifier = ChainVerifier::new(from, anchor);
        let mut next = from;
        while next <= to {
            // Read by position range, not "after last", so a missing row shows
            // up as a jump in positions rather than being silently skipped.
            let page = self.read_range(next, to, PAGE).await?;
            let Some(last) = page.last().map(|e| e.position) else {
                break;
            };
            for e in &page {
                if let Err(report) = verifier.check(e) {
                    return Ok(report);
                }
            }
            next = last + 1;
        }
        Ok(verifier.finish())
    }
}
