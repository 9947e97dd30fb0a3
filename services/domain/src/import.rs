//! The accounts the council already runs, from a CSV file: one row per
//! account, at any of the four levels. Parsing only checks the file's
//! shape (columns, numbers, dates); each row's form is then decided by the
//! same rules as a submitted one ([`crate::form::validate_imported`]).
//!
//! The columns, in any order (the first line names them):
//!
//! | column | levels | value |
//! |---|---|---|
//! | `platform` | all | platform code, e.g. `x`, `facebook`, `youtube` |
//! | `account` | all | the account's address or handle |
//! | `level` | all | 1, 2, 3 or 4 |
//! | `service_area` | all | organisational unit code |
//! | `contact_subject`, `contact_name`, `contact_email` | all | the business contact |
//! | `contact_phone` | all | optional |
//! | `permanent_id` | all | optional: the platform's permanent id |
//! | `information_types` | 1 | `;`-separated |
//! | `content_sources` | 1 | optional, `;`-separated feed addresses |
//! | `consultation_topic`, `opens_on`, `closes_on` | 2 | dates as `YYYY-MM-DD` |
//! | `officer_subject`, `officer_name`, `officer_email`, `job_role`, `line_manager_subject`, `line_manager_name` | 3 | |
//! | `topics`, `senior_officer_subject`, `senior_officer_name` | 4 | topic codes `;`-separated |
//! | `councillor_name`, `councillor_id` | 4 | both, or both empty for "no councillor" |
//! | `press_arrangements` | 4 | optional: how press or media are invited |
//!
//! Columns a row's level does not use must be empty.

use chrono::NaiveDate;

use crate::form::{Form, LevelDetails, PressMedia, StaffRef};
use crate::platform::Platform;

/// Every column, with whether the header must name it.
pub const COLUMNS: [(&str, bool); 26] = [
    ("platform", true),
    ("account", true),
    ("level", true),
    ("service_area", true),
    ("contact_subject", true),
    ("contact_name", true),
    ("contact_email", true),
    ("contact_phone", false),
    ("permanent_id", false),
    ("information_types", false),
    ("content_sources", false),
    ("consultation_topic", false),
    ("opens_on", false),
    ("closes_on", false),
    ("officer_subject", false),
    ("officer_name", false),
    ("officer_email", false),
    ("job_role", false),
    ("line_manager_subject", false),
    ("line_manager_name", false),
    ("topics", false),
    ("senior_officer_subject", false),
    ("senior_officer_name", false),
    ("councillor_name", false),
    ("councillor_id", false),
    ("press_arrangements", false),
];

/// Most rows in one file.
pub const MAX_ROWS: usize = 5_000;

/// The version an imported form names: it acknowledged no policy.
pub const GRANDFATHERED_POLICY: &str = "";

/// One account of the file: its line, its form (personal values in plain
/// text), and the permanent id when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// The line of the file it is on (the header is line 1).
    pub line: u64,
    /// The form.
    pub form: Form<String>,
    /// The platform's permanent id, as given.
    pub permanent_id: Option<String>,
}

/// Why a file was refused: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}{}: {problem}", column.as_ref().map(|(n, name)| format!(", column {n} ({name})")).unwrap_or_default())]
pub struct Malformed {
    /// The line (1 is the header).
    pub line: u64,
    /// The column: its number (from 1) and name.
    pub column: Option<(usize, String)>,
    /// What is wrong.
    pub problem: String,
}

fn malformed(line: u64, column: Option<(usize, &str)>, problem: impl Into<String>) -> Malformed {
    Malformed {
        line,
        column: column.map(|(n, name)| (n, name.to_owned())),
        problem: problem.into(),
    }
}

/// Parse a whole file: every row, or the first problem of its shape.
pub fn parse(text: &str) -> Result<Vec<ImportRow>, Malformed> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        None => {
            return Err(malformed(
                1,
                None,
                "the file is empty: the first line names the columns",
            ))
        }
        Some(Err(e)) => return Err(csv_error(&e, 1)),
        Some(Ok(h)) => h,
    };
    let names: Vec<String> = header
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    for (i, name) in names.iter().enumerate() {
        if !COLUMNS.iter().any(|(c, _)| c == name) {
            return Err(malformed(
                1,
                Some((i + 1, name)),
                format!(
                    "`{name}` is not a column this import knows (see the README's import section)"
                ),
            ));
        }
        if names[..i].contains(name) {
            return Err(malformed(
                1,
                Some((i + 1, name)),
                "this column is named twice",
            ));
        }
    }
    if let Some((missing, _)) = COLUMNS
        .iter()
        .find(|(c, required)| *required && !names.iter().any(|n| n == c))
    {
        return Err(malformed(
            1,
            None,
            format!("the column `{missing}` is missing"),
        ));
    }
    let mut rows = Vec::new();
    for record in records {
        let record = record.map_err(|e| csv_error(&e, 0))?;
        // The line from the record's byte offset (the reader's own count
        // skips blank lines).
        let line = record.position().map_or(0, |p| {
            let bytes = text.as_bytes();
            let mut at = usize::try_from(p.byte())
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            // The position can be that of blank lines before the record.
            while at < bytes.len() && matches!(bytes[at], b'\n' | b'\r') {
                at += 1;
            }
            1 + bytes[..at].iter().filter(|b| **b == b'\n').count() as u64
        });
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if record.len() != names.len() {
            return Err(malformed(
                line,
                None,
                format!(
                    "has {} fields; the header names {}",
                    record.len(),
                    names.len()
                ),
            ));
        }
        if rows.len() == MAX_ROWS {
            return Err(malformed(
                line,
                None,
                format!("a file holds at most {MAX_ROWS} accounts"),
            ));
        }
        let row = Row {
            line,
            names: &names,
            record: &record,
        };
        rows.push(row.parse()?);
    }
    if rows.is_empty() {
        return Err(malformed(
            1,
            None,
            "the file names its columns but holds no accounts",
        ));
    }
    Ok(rows)
}

fn csv_error(e: &csv::Error, fallback_line: u64) -> Malformed {
    let line = e.position().map_or(fallback_line, csv::Position::line);
    let problem = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "is not UTF-8 text".to_owned(),
        _ => format!("is not valid CSV ({e})"),
    };
    malformed(line, None, problem)
}

struct Row<'a> {
    line: u64,
    names: &'a [String],
    record: &'a csv::StringRecord,
}

impl Row<'_> {
    fn index(&self, column: &str) -> Option<usize> {
        self.names.iter().position(|n| n == column)
    }

    fn at(&self, column: &'static str) -> Option<(usize, &'static str)> {
        self.index(column).map(|i| (i + 1, column))
    }

    /// The trimmed value, `None` when the column is absent or empty.
    fn get(&self, column: &str) -> Option<String> {
        self.index(column)
            .and_then(|i| self.record.get(i))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    fn required(&self, column: &'static str) -> Result<String, Malformed> {
        self.get(column).ok_or_else(|| {
            malformed(
                self.line,
                self.at(column).or(Some((0, column))),
                "is required",
            )
        })
    }

    fn list(&self, column: &str) -> Vec<String> {
        self.get(column)
            .map(|v| {
                v.split(';')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn date(&self, column: &'static str) -> Result<NaiveDate, Malformed> {
        let v = self.required(column)?;
        NaiveDate::parse_from_str(&v, "%Y-%m-%d")
            .map_err(|_| malformed(self.line, self.at(column), "is not a date as YYYY-MM-DD"))
    }

    /// The columns a level does not use must be empty.
    fn unused(&self, level: u8, used: &[&str]) -> Result<(), Malformed> {
        const BY_LEVEL: [&str; 19] = [
            "information_types",
            "content_sources",
            "consultation_topic",
            "opens_on",
            "closes_on",
            "officer_subject",
            "officer_name",
            "officer_email",
            "job_role",
            "line_manager_subject",
            "line_manager_name",
            "topics",
            "senior_officer_subject",
            "senior_officer_name",
            "councillor_name",
            "councillor_id",
            "press_arrangements",
            "",
            "",
        ];
        for column in BY_LEVEL
            .iter()
            .filter(|c| !c.is_empty() && !used.contains(c))
        {
            if self.get(column).is_some() {
                let i = self.index(column).map_or(0, |i| i + 1);
                return Err(malformed(
                    self.line,
                    Some((i, column)),
                    format!("is not used at level {level}: leave it empty"),
                ));
            }
        }
        Ok(())
    }

    fn staff(
        &self,
        subject: &'static str,
        name: &'static str,
        email: Option<&'static str>,
    ) -> Result<StaffRef<String>, Malformed> {
        Ok(StaffRef {
            subject: self.required(subject)?,
            name: self.required(name)?,
            email: match email {
                Some(e) => Some(self.required(e)?),
                None => None,
            },
            phone: None,
        })
    }

    fn parse(&self) -> Result<ImportRow, Malformed> {
        let platform_code = self.required("platform")?;
        let platform = Platform::from_code(&platform_code).ok_or_else(|| {
            malformed(
                self.line,
                self.at("platform"),
                "is not a platform code (x, facebook, instagram, youtube, …)",
            )
        })?;
        let level_text = self.required("level")?;
        let level: u8 = match level_text.as_str() {
            "1" => 1,
            "2" => 2,
            "3" => 3,
            "4" => 4,
            _ => {
                return Err(malformed(
                    self.line,
                    self.at("level"),
                    "must be 1, 2, 3 or 4",
                ))
            }
        };
        let details = match level {
            1 => {
                self.unused(1, &["information_types", "content_sources"])?;
                LevelDetails::Broadcast {
                    information_types: self.list("information_types"),
                    content_sources: self.list("content_sources"),
                }
            }
            2 => {
                self.unused(2, &["consultation_topic", "opens_on", "closes_on"])?;
                LevelDetails::Consult {
                    topic: self.required("consultation_topic")?,
                    opens_on: self.date("opens_on")?,
                    closes_on: self.date("closes_on")?,
                }
            }
            3 => {
                self.unused(
                    3,
                    &[
                        "officer_subject",
                        "officer_name",
                        "officer_email",
                        "job_role",
                        "line_manager_subject",
                        "line_manager_name",
                    ],
                )?;
                LevelDetails::Participate {
                    officer: self.staff(
                        "officer_subject",
                        "officer_name",
                        Some("officer_email"),
                    )?,
                    job_role: self.required("job_role")?,
                    line_manager: self.staff("line_manager_subject", "line_manager_name", None)?,
                }
            }
            _ => {
                self.unused(
                    4,
                    &[
                        "topics",
                        "senior_officer_subject",
                        "senior_officer_name",
                        "councillor_name",
                        "councillor_id",
                        "press_arrangements",
                    ],
                )?;
                let councillor = self.get("councillor_name");
                let councillor_id = self.get("councillor_id");
                let arrangements = self.get("press_arrangements");
                LevelDetails::Engage {
                    topics: self.list("topics"),
                    senior_officer: self.staff(
                        "senior_officer_subject",
                        "senior_officer_name",
                        None,
                    )?,
                    no_councillor: councillor.is_none() && councillor_id.is_none(),
                    councillor,
                    councillor_id,
                    press_media: PressMedia {
                        invited: arrangements.is_some(),
                        involved: false,
                        arrangements,
                    },
                }
            }
        };
        let mut contact = self.staff("contact_subject", "contact_name", Some("contact_email"))?;
        contact.phone = self.get("contact_phone");
        Ok(ImportRow {
            line: self.line,
            form: Form {
                platform,
                account: self.required("account")?,
                service_area: self.required("service_area")?,
                business_contact: contact,
                policy_version: GRANDFATHERED_POLICY.to_owned(),
                policy_acknowledged: false,
                corporate_identity_acknowledged: false,
                branding_assets: vec![],
                details,
            },
            permanent_id: self.get("permanent_id"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "platform,account,level,service_area,contact_subject,contact_name,contact_email,information_types,officer_subject,officer_name,officer_email,job_role,line_manager_subject,line_manager_name";

    #[test]
    fn a_file_of_rows_at_two_levels_is_read_with_each_rows_line() {
        let text = format!(
            "{HEADER}\nx,@NorthLibraries,1,libraries,u-c,Casey Contact,c@north.gov.uk,Events;Opening hours,,,,,,\n\
             \ninstagram,northyouth,3,youth,u-c,Casey Contact,c@north.gov.uk,,u-o,\"Officer, Olly\",o@north.gov.uk,youth-worker,u-m,Morgan Manager\n"
        );
        let rows = parse(&text).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[1].line, 4, "the blank line is skipped but counted");
        assert!(
            matches!(&rows[0].form.details, LevelDetails::Broadcast { information_types, .. } if information_types.len() == 2)
        );
        assert!(
            matches!(&rows[1].form.details, LevelDetails::Participate { officer, .. } if officer.name == "Officer, Olly")
        );
        assert!(!rows[0].form.policy_acknowledged);
    }

    #[test]
    fn a_malformed_file_is_refused_with_its_line_and_column() {
        let e = parse(&format!("{HEADER},colour\n")).unwrap_err();
        assert_eq!(
            (e.line, e.column.clone()),
            (1, Some((15, "colour".to_owned())))
        );
        let e = parse("platform,account\nx,@a\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.problem.contains("level"), "{e}");
        let e = parse(&format!(
            "{HEADER}\nx,@a,5,libraries,u-c,C,c@x.gov.uk,News,,,,,,\n"
        ))
        .unwrap_err();
        assert_eq!(
            (e.line, e.column.clone()),
            (2, Some((3, "level".to_owned())))
        );
        assert_eq!(
            e.to_string(),
            "line 2, column 3 (level): must be 1, 2, 3 or 4"
        );
        let e = parse(&format!("{HEADER}\nx,@a,1,libraries\n")).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.problem.contains("fields"), "{e}");
        let e = parse(&format!(
            "{HEADER}\nx,@a,1,libraries,u-c,C,c@x.gov.uk,News,u-o,,,,,\n"
        ))
        .unwrap_err();
        assert_eq!(
            (e.line, e.column.clone()),
            (2, Some((9, "officer_subject".to_owned())))
        );
        let e = parse(&format!(
            "{HEADER}\nmyspace,@a,1,libraries,u-c,C,c@x.gov.uk,News,,,,,,\n"
        ))
        .unwrap_err();
        assert_eq!(e.column.map(|c| c.1).as_deref(), Some("platform"));
        assert!(parse("").is_err());
        assert!(parse(&format!("{HEADER}\n")).is_err());
    }
}
