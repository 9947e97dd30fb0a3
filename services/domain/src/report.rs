//! Reports from the public of suspected fake accounts: filed without
//! signing in, handled by communications.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actor::{Actor, Role};
use crate::checks::text;
use crate::error::DomainError;

/// The stream of one report.
pub fn stream_id(id: Uuid) -> String {
    format!("fakereport-{id}")
}

/// The reference a reporter is shown: `FR-` and 8 characters from the id,
/// easy to read out on the phone (no 0/O, 1/I).
pub fn reference(id: Uuid) -> String {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let bytes = id.as_bytes();
    let code: String = bytes[..8]
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    format!("FR-{code}")
}

/// Something that happened to a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum ReportEvent {
    /// Someone reported an account they suspect is a fake council account.
    #[serde(rename_all = "camelCase")]
    FakeAccountReported {
        /// The report's reference, as shown to the reporter.
        reference: String,
        /// The account as they pasted it.
        account: String,
        /// The account keys it could be (one per platform).
        account_keys: Vec<String>,
        /// What they noticed, in plain text: only in reports filed before
        /// free text was sealed (empty since).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        details: String,
        /// What they noticed, sealed in the vault under the report's own key
        /// (they are told not to include personal details, but may), so it
        /// can be erased.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sealed_details: Option<crate::personal::Sealed>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Communications dealt with it.
    #[serde(rename_all = "camelCase")]
    FakeAccountReportClosed {
        /// What was done.
        outcome: String,
        /// Who (staff subject).
        by: String,
        /// When.
        at: DateTime<Utc>,
    },
}

/// Decide a new report from the public. The event carries `details` in
/// plain text; the command handler seals it before the append.
pub fn decide_report(
    id: Uuid,
    account: &str,
    account_keys: Vec<String>,
    details: &str,
    now: DateTime<Utc>,
) -> Result<ReportEvent, DomainError> {
    text("account", account, 500)?;
    let details = details.trim();
    if details.chars().count() > 2_000 {
        return Err(DomainError::invalid(
            "details",
            "must be at most 2000 characters",
        ));
    }
    if details
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(DomainError::invalid(
            "details",
            "must not contain control characters",
        ));
    }
    Ok(ReportEvent::FakeAccountReported {
        reference: reference(id),
        account: account.trim().to_owned(),
        account_keys,
        details: details.to_owned(),
        sealed_details: None,
        at: now,
    })
}

/// Decide the closing of a report (communications; once).
pub fn decide_close(
    actor: &Actor,
    already_closed: bool,
    outcome: &str,
    now: DateTime<Utc>,
) -> Result<ReportEvent, DomainError> {
    if !actor.has(Role::Communications) {
        return Err(DomainError::MissingRole {
            role: Role::Communications,
        });
    }
    if already_closed {
        return Err(DomainError::ReferenceData(
            "this report is already closed".into(),
        ));
    }
    text("outcome", outcome, 2_000)?;
    Ok(ReportEvent::FakeAccountReportClosed {
        outcome: outcome.trim().to_owned(),
        by: actor.subject.clone(),
        at: now,
    })
}

/// A report as its events leave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Its reference.
    pub reference: String,
    /// True once communications closed it.
    pub closed: bool,
}

impl Report {
    /// Fold one event.
    pub fn apply(state: Option<Report>, event: &ReportEvent) -> Option<Report> {
        match event {
            ReportEvent::FakeAccountReported { reference, .. } => Some(Report {
                reference: reference.clone(),
                closed: false,
            }),
            ReportEvent::FakeAccountReportClosed { .. } => {
                state.map(|r| Report { closed: true, ..r })
            }
        }
    }
}

/// What may be asked of a report.
#[derive(Debug, Clone)]
pub enum ReportCommand {
    /// File a new report (anyone).
    File {
        /// The report's id.
        id: Uuid,
        /// The account as pasted.
        account: String,
        /// The account keys it could be.
        account_keys: Vec<String>,
        /// What they noticed (plain text; sealed before the append).
        details: String,
    },
    /// Close it (communications).
    Close {
        /// What was done.
        outcome: String,
    },
}

/// Decide a command against a report (`None` before it is filed).
pub fn decide(
    state: Option<&Report>,
    command: &ReportCommand,
    ctx: &crate::registration::Context<'_>,
) -> Result<ReportEvent, DomainError> {
    match (command, state) {
        (
            ReportCommand::File {
                id,
                account,
                account_keys,
                details,
            },
            None,
        ) => decide_report(*id, account, account_keys.clone(), details, ctx.now),
        (ReportCommand::File { .. }, Some(r)) => Err(DomainError::ReferenceData(format!(
            "report {} is already filed",
            r.reference
        ))),
        (ReportCommand::Close { .. }, None) => {
            Err(DomainError::ReferenceData("no such report".into()))
        }
        (ReportCommand::Close { outcome }, Some(r)) => {
            decide_close(ctx.actor, r.closed, outcome, ctx.now)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_reference_is_stable_and_readable() {
        let id = Uuid::new_v4();
        let r = reference(id);
        assert_eq!(r, reference(id));
        assert_eq!(r.len(), 11);
        assert!(!r[3..].contains(['0', 'O', '1', 'I']));
    }

    #[test]
    fn only_communications_closes_a_report_and_only_once() {
        let now = Utc::now();
        let staff = Actor::new("s", [Role::Staff]);
        let comms = Actor::new("c", [Role::Communications]);
        assert!(decide_close(&staff, false, "Reported to the platform", now).is_err());
        assert!(decide_close(&comms, true, "Reported to the platform", now).is_err());
        assert!(decide_close(&comms, false, "Reported to the platform", now).is_ok());
        assert_eq!(
            decide_close(&comms, false, " ", now).unwrap_err().rule(),
            "Invalid"
        );
    }
}
