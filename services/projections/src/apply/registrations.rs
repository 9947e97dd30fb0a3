//! `registrations`: every registration's latest state, for staff and
//! approvers, with each erased person's values replaced by the marker.

use std::collections::BTreeSet;
use std::sync::Arc;

use domain::registration::{Registration, Step};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{erasures, with_erased, Item};
use crate::copy::CopyRows;
use crate::decode::Decoded;
use crate::models::{status_name, step_name};
use crate::rows::{RegistrationRow, Row};
use crate::scrub::scrub;
use crate::tables::{self, Mode, Table};

/// A registration's row during a run.
enum Entry {
    /// Written by this run: the state and its position.
    Folded {
        state: Arc<Registration>,
        position: i64,
    },
    /// As the table held it (read because someone it names was erased).
    Stored(Box<RegistrationRow>),
}

pub(crate) struct Registrations {
    rows: Table<Uuid, Entry>,
    /// Rows read from the table (the only ones an erasure must visit).
    stored: Vec<Uuid>,
    erased: Arc<BTreeSet<Uuid>>,
}

impl Registrations {
    pub(crate) fn new(erased: Arc<BTreeSet<Uuid>>) -> Self {
        Registrations {
            rows: Table::default(),
            stored: Vec::new(),
            erased,
        }
    }

    /// The rows that name someone erased in this run.
    pub(crate) async fn load(
        &mut self,
        conn: &mut PgConnection,
        schema: &str,
        items: &[Item<'_>],
    ) -> Result<(), sqlx::Error> {
        let people = erasures(items);
        if people.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "select {} from {schema}.registrations where persons && $1::uuid[]",
            RegistrationRow::COLUMNS.join(", ")
        );
        let rows: Vec<RegistrationRow> = sqlx::query_as(&sql)
            .bind(people)
            .fetch_all(&mut *conn)
            .await?;
        for row in rows {
            self.stored.push(row.id);
            self.rows.load(row.id, Entry::Stored(Box::new(row)));
        }
        Ok(())
    }

    pub(crate) fn apply(&mut self, item: &Item<'_>) {
        match item.decoded {
            Decoded::Registration { state } => self.rows.put(
                state.id,
                Entry::Folded {
                    state: state.clone(),
                    position: item.position,
                },
            ),
            Decoded::Erasure(person) => {
                self.erased = with_erased(&self.erased, *person);
                // Rows written by this run are scrubbed when written (see
                // `row`); rows read from the table are scrubbed now.
                let erased = BTreeSet::from([*person]);
                for id in &self.stored {
                    let names =
                        |e: &Entry| matches!(e, Entry::Stored(row) if row.persons.contains(person));
                    if self.rows.get(id).is_some_and(names) {
                        self.rows.update(id, |entry| {
                            if let Entry::Stored(row) = entry {
                                scrub(&mut row.state, &erased);
                            }
                        });
                    }
                }
            }
            _ => {}
        }
    }

    pub(crate) async fn write(
        &self,
        conn: &mut PgConnection,
        schema: &str,
        mode: Mode,
    ) -> Result<(), sqlx::Error> {
        let rows = self.rows.changed().map(|entry| match entry {
            Entry::Folded { state, position } => Out::Folded(state, *position, &self.erased),
            Entry::Stored(row) => Out::Stored(row),
        });
        let keys = self.rows.changed_keys();
        tables::write(conn, schema, mode, "id", keys, Box::new(rows)).await
    }
}

/// A row to write: one folded in this run, or one read and scrubbed.
enum Out<'a> {
    Folded(&'a Registration, i64, &'a BTreeSet<Uuid>),
    Stored(&'a RegistrationRow),
}

impl Row for Out<'_> {
    const TABLE: &'static str = RegistrationRow::TABLE;
    const COLUMNS: &'static [&'static str] = RegistrationRow::COLUMNS;
    fn encode(&self, out: &mut CopyRows) {
        match self {
            Out::Folded(s, position, erased) => folded(s, *position, erased, out),
            Out::Stored(row) => row.encode(out),
        }
    }
}

/// A registration's row, from its state. The state is scrubbed of everyone
/// it names who has been erased: whether they were erased before the row
/// was written (the projector scrubs what it writes) or after (the erasure
/// scrubs every row that names them), the row ends the same. Every sealed
/// value of a state is one of its personal fields, so a state naming
/// nobody erased needs no scrub and is written as it serialises.
fn folded(s: &Registration, position: i64, erased: &BTreeSet<Uuid>, out: &mut CopyRows) {
    let persons: BTreeSet<Uuid> = s.personal_fields().iter().map(|(_, v)| v.person).collect();
    let scrubbed: BTreeSet<Uuid> = erased.intersection(&persons).copied().collect();
    let mut steps = s.level_steps();
    steps.extend(
        s.form
            .branding_assets
            .iter()
            .map(|b| Step::BrandingApproval(b.id.clone())),
    );
    steps.push(Step::CommunicationsApproval);
    let done: Vec<String> = steps
        .iter()
        .filter(|st| s.is_done(st))
        .map(step_name)
        .collect();
    let outstanding: Vec<String> = s.outstanding().iter().map(step_name).collect();
    let named: Vec<&str> = s.form.named_subjects().into_iter().collect();
    let persons: Vec<Uuid> = persons.into_iter().collect();
    out.row(i16::try_from(RegistrationRow::COLUMNS.len()).expect("few columns"))
        .uuid(&s.id)
        .int8(s.version)
        .text(status_name(s.status))
        .int2(i16::from(s.level().number()))
        .text(s.form.platform.code())
        .text(&s.account_key.to_string())
        .text(&s.form.account)
        .text(&s.form.service_area)
        .text(&s.applicant)
        .text_array(&named)
        .text_array(&done)
        .text_array(&outstanding)
        .timestamptz(&s.submitted_at)
        .timestamptz(&s.updated_at)
        .opt_timestamptz(s.published.as_ref().map(|p| &p.at))
        .opt_timestamptz(s.withdrawal.as_ref().map(|w| &w.1.at));
    out.int8(position);
    if scrubbed.is_empty() {
        out.jsonb_of(s);
    } else {
        let mut state = serde_json::to_value(s).expect("state serialises");
        scrub(&mut state, &scrubbed);
        out.jsonb(&state);
    }
    out.uuid_array(&persons);
}
