//! Checks of plain fields shared by every command: free text, codes and
//! staff ids. Each names the field it refused.

use crate::error::DomainError;

/// Required free text of at most `max` characters.
pub(crate) fn text(field: &str, v: &str, max: usize) -> Result<(), DomainError> {
    let t = v.trim();
    if t.is_empty() {
        return Err(DomainError::invalid(field, "is required"));
    }
    if t.chars().count() > max {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(DomainError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// A reference-data code: lower-case letters, digits and `-`, 2 to 50 long.
pub(crate) fn code(field: &str, v: &str) -> Result<(), DomainError> {
    let ok = (2..=50).contains(&v.len())
        && v.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(DomainError::invalid(
            field,
            "must be 2 to 50 lower-case letters, digits or `-`",
        ))
    }
}

/// A staff subject: printable ASCII without spaces, 1 to 100 long.
pub(crate) fn code_like(field: &str, v: &str) -> Result<(), DomainError> {
    let ok = (1..=100).contains(&v.len()) && v.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(DomainError::invalid(
            field,
            "must be the person's staff id (1 to 100 characters, no spaces)",
        ))
    }
}
