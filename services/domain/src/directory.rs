//! The people directory: who each staff `sub` is (name, email, job title,
//! organisational unit), so forms can name colleagues by name rather than
//! by an identity provider's opaque id.
//!
//! Each person has a stream (`directory-<person id>`) of listings: one from
//! each sign-in whose claims differ from what is listed, and one from each
//! admin import row that does. Name, email and job title are personal and
//! sealed under the person's own vault key, so erasing the person erases
//! their listing too; the unit is the council's, not the person's.

use serde::{Deserialize, Serialize};

use crate::actor::{Actor, Role};
use crate::error::DomainError;
use crate::personal::{PersonalKind, PersonalValue, Sealed};

/// The prefix of every person's directory stream.
pub const STREAM_PREFIX: &str = "directory-";

/// The version of the events below.
pub const EVENT_SCHEMA_VERSION: i32 = 1;

/// The stream of `subject`'s listing.
pub fn stream_id(subject: &str) -> String {
    format!("{STREAM_PREFIX}{}", crate::personal::staff_person(subject))
}

/// What the directory holds about one person. `P` is `String` as given and
/// [`Sealed`] in events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonDetails<P> {
    /// Their id at the identity provider (`sub`).
    pub subject: String,
    /// Their name.
    pub name: P,
    /// Their work email.
    pub email: Option<P>,
    /// Their job title.
    pub job_title: Option<P>,
    /// Their organisational unit, as the provider or the import names it.
    pub unit: Option<String>,
}

fn invalid(field: &str, problem: impl Into<String>) -> DomainError {
    DomainError::Invalid {
        field: field.to_owned(),
        problem: problem.into(),
    }
}

fn plain_text(field: &str, value: &str, max: usize) -> Result<(), DomainError> {
    if value.trim().is_empty() {
        Err(invalid(field, "is required"))
    } else if value.chars().count() > max {
        Err(invalid(field, format!("must be at most {max} characters")))
    } else if value.chars().any(char::is_control) {
        Err(invalid(field, "must not contain control characters"))
    } else {
        Ok(())
    }
}

impl PersonDetails<String> {
    /// Check every value: the error names the field, never its value.
    pub fn check(&self) -> Result<(), DomainError> {
        plain_text("subject", &self.subject, 200)?;
        self.name
            .check(PersonalKind::Name)
            .map_err(|p| invalid("name", p))?;
        if let Some(email) = &self.email {
            email
                .check(PersonalKind::Email)
                .map_err(|p| invalid("email", p))?;
        }
        if let Some(title) = &self.job_title {
            plain_text("jobTitle", title, 200)?;
        }
        if let Some(unit) = &self.unit {
            plain_text("unit", unit, 200)?;
        }
        Ok(())
    }

    /// The same details with surrounding spaces gone and empty optional
    /// values absent, as they are listed.
    pub fn tidy(self) -> Self {
        let opt = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        PersonDetails {
            subject: self.subject.trim().to_owned(),
            name: self.name.split_whitespace().collect::<Vec<_>>().join(" "),
            email: opt(self.email),
            job_title: opt(self.job_title),
            unit: opt(self.unit),
        }
    }
}

/// Where a listing came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Source {
    /// The person's own sign-in: the identity provider's claims.
    SignIn,
    /// An admin's import: the file's name and the row's line.
    Import {
        /// The file's name as uploaded.
        file: String,
        /// The line (the header is line 1).
        line: u64,
    },
}

/// Something that happened to the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum DirectoryEvent {
    /// A person's details were listed (first, or changed since).
    #[serde(rename_all = "camelCase")]
    PersonListed {
        /// The details, personal values sealed.
        details: PersonDetails<Sealed>,
        /// Where they came from.
        source: Source,
    },
}

/// Whether `actor` may list `subject` from `source`: a sign-in lists only
/// the person signing in; an import needs the admin role.
pub fn may_list(actor: &Actor, subject: &str, source: &Source) -> Result<(), DomainError> {
    match source {
        Source::SignIn if actor.subject == subject => Ok(()),
        Source::SignIn => Err(invalid(
            "subject",
            "a sign-in lists only the person signing in",
        )),
        Source::Import { .. } if actor.has(Role::Admin) => Ok(()),
        Source::Import { .. } => Err(DomainError::MissingRole { role: Role::Admin }),
    }
}

/// Most rows in one import file.
pub const MAX_IMPORT_ROWS: usize = 20_000;

/// The columns of an import file, in any order: (name, required).
pub const IMPORT_COLUMNS: [(&str, bool); 5] = [
    ("subject", true),
    ("name", true),
    ("email", false),
    ("job_title", false),
    ("unit", false),
];

/// A row of an import file that cannot be listed: its line, the column,
/// and what is wrong (never the value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}{}: {problem}", column.as_ref().map(|c| format!(", column {c}")).unwrap_or_default())]
pub struct ImportProblem {
    /// The line (1 is the header).
    pub line: u64,
    /// The column's name, when one is at fault.
    pub column: Option<String>,
    /// What is wrong.
    pub problem: String,
}

fn problem(line: u64, column: Option<&str>, problem: impl Into<String>) -> ImportProblem {
    ImportProblem {
        line,
        column: column.map(str::to_owned),
        problem: problem.into(),
    }
}

/// Parse and check an import file (CSV, UTF-8, the first line naming the
/// columns): every row as details with its line, or every problem found.
pub fn parse_import(text: &str) -> Result<Vec<(u64, PersonDetails<String>)>, Vec<ImportProblem>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header: Vec<String> = match records.next() {
        Some(Ok(h)) => h.iter().map(|c| c.trim().to_ascii_lowercase()).collect(),
        Some(Err(_)) => return Err(vec![problem(1, None, "the first line is not CSV")]),
        None => {
            return Err(vec![problem(
                1,
                None,
                "the file is empty: the first line names the columns",
            )])
        }
    };
    let mut problems = Vec::new();
    for name in &header {
        if !IMPORT_COLUMNS.iter().any(|(c, _)| c == name) {
            problems.push(problem(1, Some(name), "is not a column this import knows"));
        }
    }
    for (column, required) in IMPORT_COLUMNS {
        if required && !header.iter().any(|h| h == column) {
            problems.push(problem(1, Some(column), "is missing"));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let at = |name: &str| header.iter().position(|h| h == name);
    let mut rows = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for (i, record) in records.enumerate() {
        let line = i as u64 + 2;
        let record = match record {
            Ok(r) => r,
            Err(_) => {
                problems.push(problem(line, None, "is not CSV"));
                continue;
            }
        };
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if rows.len() + problems.len() >= MAX_IMPORT_ROWS {
            problems.push(problem(
                line,
                None,
                format!("the file has more than {MAX_IMPORT_ROWS} rows; split it"),
            ));
            break;
        }
        let get = |name: &str| {
            at(name)
                .and_then(|i| record.get(i))
                .map(str::to_owned)
                .filter(|v| !v.trim().is_empty())
        };
        let details = PersonDetails {
            subject: get("subject").unwrap_or_default(),
            name: get("name").unwrap_or_default(),
            email: get("email"),
            job_title: get("job_title"),
            unit: get("unit"),
        }
        .tidy();
        if !details.subject.is_empty() {
            if let Some(first) = seen.insert(details.subject.clone(), line) {
                problems.push(problem(
                    line,
                    Some("subject"),
                    format!("is the same person as line {first}"),
                ));
                continue;
            }
        }
        match details.check() {
            Err(DomainError::Invalid { field, problem: p }) => {
                let column = match field.as_str() {
                    "jobTitle" => "job_title",
                    other => other,
                };
                problems.push(problem(line, Some(column), p));
            }
            Err(other) => problems.push(problem(line, None, other.to_string())),
            Ok(()) => rows.push((line, details)),
        }
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_import_file_lists_each_row_and_reports_every_bad_row_by_line_and_column_without_its_value(
    ) {
        let rows = parse_import(
            "Subject,Name,Email,Job_Title,Unit\n\
             u-1, Olivia  Officer ,olivia@north.gov.uk,Youth Worker,Youth Services\n\
             u-2,Morgan Manager,,,\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0, 2);
        assert_eq!(rows[0].1.name, "Olivia Officer");
        assert_eq!(rows[1].1.email, None);

        let problems = parse_import(
            "subject,name,email\n\
             u-1,,olivia@north.gov.uk\n\
             u-2,Morgan Manager,not-an-address\n\
             u-2,Morgan Again,\n",
        )
        .unwrap_err();
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "line 2, column name: is required",
                "line 3, column email: must be an email address such as name@council.gov.uk",
                "line 4, column subject: is the same person as line 3",
            ]
        );
        assert!(!text.concat().contains("not-an-address"));
        assert!(parse_import("subject,nickname\n").unwrap_err()[0]
            .to_string()
            .contains("nickname"));
    }

    #[test]
    fn a_sign_in_lists_only_the_person_signing_in_and_an_import_needs_an_admin() {
        let alex = Actor::new("u-alex", [Role::Staff]);
        let admin = Actor::new("u-admin", [Role::Admin]);
        let import = Source::Import {
            file: "staff.csv".into(),
            line: 2,
        };
        assert!(may_list(&alex, "u-alex", &Source::SignIn).is_ok());
        assert!(may_list(&alex, "u-sam", &Source::SignIn).is_err());
        assert!(may_list(&alex, "u-sam", &import).is_err());
        assert!(may_list(&admin, "u-sam", &import).is_ok());
    }
}
