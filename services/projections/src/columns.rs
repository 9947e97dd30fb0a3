//! Reading the read models' coded columns back into domain values. A value
//! this version does not know is an error that names the column and the
//! value: never a default (an unknown status read as "submitted", say,
//! would show the public something untrue).

use domain::platform::Platform;
use domain::registration::Status;
use domain::{Level, Role};

/// A stored value this version cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("read model column `{column}` holds `{value}`, which this version does not know")]
pub struct UnknownValue {
    /// The column.
    pub column: &'static str,
    /// What it holds.
    pub value: String,
}

fn unknown(column: &'static str, value: impl ToString) -> UnknownValue {
    UnknownValue {
        column,
        value: value.to_string(),
    }
}

/// A `status` column (as [`crate::models::status_name`] writes it).
pub fn status(column: &'static str, code: &str) -> Result<Status, UnknownValue> {
    [
        Status::Submitted,
        Status::ChangesRequested,
        Status::Approved,
        Status::Published,
        Status::Withdrawn,
        Status::Rejected,
    ]
    .into_iter()
    .find(|s| crate::models::status_name(*s) == code)
    .ok_or_else(|| unknown(column, code))
}

/// A `level` column (1 to 4).
pub fn level(column: &'static str, n: i16) -> Result<Level, UnknownValue> {
    [
        Level::Broadcast,
        Level::Consult,
        Level::Participate,
        Level::Engage,
    ]
    .into_iter()
    .find(|l| i16::from(l.number()) == n)
    .ok_or_else(|| unknown(column, n))
}

/// A `platform` column (its code).
pub fn platform(column: &'static str, code: &str) -> Result<Platform, UnknownValue> {
    Platform::from_code(code).ok_or_else(|| unknown(column, code))
}

/// A `role` column (its code).
pub fn role(column: &'static str, code: &str) -> Result<Role, UnknownValue> {
    Role::from_code(code).ok_or_else(|| unknown(column, code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_reads_back_and_an_unknown_one_is_named() {
        for code in [
            "submitted",
            "changes_requested",
            "approved",
            "published",
            "withdrawn",
            "rejected",
        ] {
            assert_eq!(
                crate::models::status_name(status("status", code).unwrap()),
                code
            );
        }
        assert_eq!(
            status("registrations.status", "archived").unwrap_err().to_string(),
            "read model column `registrations.status` holds `archived`, which this version does not know"
        );
    }

    #[test]
    fn levels_platforms_and_roles_refuse_what_they_do_not_know() {
        assert_eq!(level("level", 3).unwrap(), Level::Participate);
        assert!(level("level", 5).is_err());
        assert!(level("level", 0).is_err());
        assert!(platform("platform", "myspace").is_err());
        assert!(role("role", "janitor").is_err());
    }
}
