//! Bulk import of the accounts the council already runs: each row of a CSV
//! file becomes a published, grandfathered registration
//! (`RegistrationImported`), all in one transaction or none.
//!
//! A row whose account (or permanent id) a live registration holds is
//! reported as already registered and skipped, so importing the same file
//! again changes nothing. A row the rules refuse is reported with its field
//! and reason; then a real run imports nothing, as for a malformed file.

use chrono::{Duration, Utc};
use domain::import::{self, ImportRow};
use domain::registration::{self, Command, Context, ImportSource, Registration, RegistrationEvent};
use domain::{Aggregate, DomainError, Role};
use event_store::{ExpectedVersion, NewEvent, StreamAppend};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{claims, encode, metadata, seal, HandleError, Handler, RequestMeta};

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The file's name, recorded with each row.
    pub file_name: String,
    /// Report only: decide every row, append nothing.
    pub dry_run: bool,
    /// Days from today by which each imported account's full review is due.
    pub review_days: i64,
}

/// What became of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowOutcome {
    /// A dry run: it would be imported.
    WouldImport,
    /// Imported as this registration.
    Imported,
    /// A live registration holds the account already (nothing done).
    AlreadyRegistered {
        /// That registration.
        registration: Uuid,
    },
    /// The rules refuse it.
    Refused {
        /// The field, as the form names it (`form.serviceArea`, …).
        field: String,
        /// Why.
        problem: String,
    },
}

/// One row's report.
#[derive(Debug, Clone)]
pub struct RowReport {
    /// Its line in the file.
    pub line: u64,
    /// The account as the file gives it.
    pub account: String,
    /// Its canonical key, when it could be read.
    pub account_key: Option<String>,
    /// The registration it is (or would be) imported as.
    pub registration_id: Option<Uuid>,
    /// What became of it.
    pub outcome: RowOutcome,
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// SHA-256 of the file, hex (recorded with each imported row).
    pub file_sha256: String,
    /// It was a dry run.
    pub dry_run: bool,
    /// Something was appended (false for a dry run, a refusal, or a file
    /// whose every account is registered already).
    pub committed: bool,
    /// Every row, in file order.
    pub rows: Vec<RowReport>,
    /// The log position of the import, when committed.
    pub position: Option<i64>,
}

impl ImportReport {
    /// How many rows have each outcome: imported (or would be), already
    /// registered, refused.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for r in &self.rows {
            match r.outcome {
                RowOutcome::WouldImport | RowOutcome::Imported => c.0 += 1,
                RowOutcome::AlreadyRegistered { .. } => c.1 += 1,
                RowOutcome::Refused { .. } => c.2 += 1,
            }
        }
        c
    }
}

/// A row decided and ready to append.
struct Ready {
    index: usize,
    id: Uuid,
    events: Vec<NewEvent>,
    claims: Vec<claims::Claim>,
}

/// The line of the first byte that is not UTF-8.
fn utf8_line(bytes: &[u8], valid_up_to: usize) -> u64 {
    1 + bytes[..valid_up_to].iter().filter(|b| **b == b'\n').count() as u64
}

impl Handler {
    /// Import a CSV file of existing accounts (communications). A malformed
    /// file is refused whole, naming its line and column.
    #[tracing::instrument(name = "import", skip_all, fields(rows, dry_run = options.dry_run))]
    pub async fn import(
        &self,
        bytes: &[u8],
        options: &ImportOptions,
        meta: &RequestMeta,
    ) -> Result<ImportReport, HandleError> {
        if !meta.actor.has(Role::Communications) {
            return Err(DomainError::MissingRole {
                role: Role::Communications,
            }
            .into());
        }
        let text = std::str::from_utf8(bytes).map_err(|e| DomainError::Invalid {
            field: "file".into(),
            problem: format!(
                "line {}: is not UTF-8 text (save the file as CSV UTF-8)",
                utf8_line(bytes, e.valid_up_to())
            ),
        })?;
        let rows = import::parse(text).map_err(|m| DomainError::Invalid {
            field: "file".into(),
            problem: m.to_string(),
        })?;
        tracing::Span::current().record("rows", rows.len());
        let file_sha256 = hex::encode(Sha256::digest(bytes));
        let reference = self.reference_data().await?;
        let now = Utc::now();
        let ctx = Context {
            actor: &meta.actor,
            now,
            reference: &reference,
        };
        let review_by = (now + Duration::days(options.review_days)).date_naive();
        let mut sealer = self.vault.sealer();
        let mut reports = Vec::with_capacity(rows.len());
        let mut ready = Vec::new();
        let mut seen: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
        for (index, row) in rows.iter().enumerate() {
            let ImportRow {
                line,
                form,
                permanent_id,
            } = row;
            let mut report = RowReport {
                line: *line,
                account: form.account.clone(),
                account_key: None,
                registration_id: None,
                outcome: RowOutcome::WouldImport,
            };
            let id = Uuid::new_v4();
            let decided = async {
                form.check_personal()?;
                let sealed = seal::form(&mut sealer, form, None).await?;
                let command = Command::Import {
                    id,
                    form: Box::new(sealed),
                    permanent_id: permanent_id.clone(),
                    source: ImportSource {
                        file_name: options.file_name.clone(),
                        file_sha256: file_sha256.clone(),
                        line: *line,
                    },
                    review_by,
                };
                Ok::<_, HandleError>(Registration::decide(None, &command, &ctx)?)
            }
            .await;
            let events = match decided {
                Ok(events) => events,
                Err(HandleError::Domain(DomainError::Invalid { field, problem })) => {
                    report.outcome = RowOutcome::Refused { field, problem };
                    reports.push(report);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let Some(RegistrationEvent::RegistrationImported {
                account_key,
                permanent_id,
                ..
            }) = events.first()
            else {
                unreachable!("an import decides one RegistrationImported");
            };
            report.account_key = Some(account_key.to_string());
            let mut keys = vec![account_key.clone()];
            keys.extend(permanent_id.clone());
            if let Some(earlier) = keys.iter().find_map(|k| seen.get(&k.to_string())) {
                report.outcome = RowOutcome::Refused {
                    field: "account".into(),
                    problem: format!("the same account is on line {earlier} of the file"),
                };
                reports.push(report);
                continue;
            }
            for k in &keys {
                seen.insert(k.to_string(), *line);
            }
            let mut row_claims = Vec::new();
            for (i, key) in keys.iter().enumerate() {
                match claims::prepare(&self.store, key, id).await {
                    Ok(claim) => row_claims.push(claim),
                    Err(HandleError::Domain(DomainError::AccountAlreadyRegistered {
                        registration,
                        ..
                    })) => {
                        report.outcome = if i == 0 {
                            RowOutcome::AlreadyRegistered { registration }
                        } else {
                            RowOutcome::Refused {
                                field: "permanentId".into(),
                                problem: format!(
                                    "registration {registration} holds this permanent id"
                                ),
                            }
                        };
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            if report.outcome == RowOutcome::WouldImport {
                report.registration_id = Some(id);
                ready.push(Ready {
                    index,
                    id,
                    events: encode::<Registration>(&events),
                    claims: row_claims,
                });
            }
            reports.push(report);
        }
        let refused = reports
            .iter()
            .any(|r| matches!(r.outcome, RowOutcome::Refused { .. }));
        let mut out = ImportReport {
            file_sha256,
            dry_run: options.dry_run,
            committed: false,
            rows: reports,
            position: None,
        };
        if options.dry_run || refused || ready.is_empty() {
            return Ok(out);
        }
        let streams: Vec<String> = ready
            .iter()
            .map(|r| registration::stream_id(r.id))
            .collect();
        let claim_events: Vec<Vec<[NewEvent; 1]>> = ready
            .iter()
            .map(|r| r.claims.iter().map(|c| [c.event.clone()]).collect())
            .collect();
        let mut batches = Vec::new();
        for (i, r) in ready.iter().enumerate() {
            batches.push(StreamAppend {
                stream_id: &streams[i],
                expected: ExpectedVersion::NoStream,
                events: &r.events,
            });
            for (claim, events) in r.claims.iter().zip(&claim_events[i]) {
                batches.push(StreamAppend {
                    stream_id: &claim.stream_id,
                    expected: claim.expected,
                    events,
                });
            }
        }
        let metadata = metadata(&mut sealer, meta, "ImportRegistrations").await?;
        let appended = self.commit(&batches, &metadata, meta, sealer).await?;
        out.committed = true;
        out.position = Some(appended.last_position);
        for r in &ready {
            out.rows[r.index].outcome = RowOutcome::Imported;
        }
        Ok(out)
    }
}
