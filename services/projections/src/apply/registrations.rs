//! `registrations`: what staff queries filter and sort registrations by,
//! and the log position each row reflects (readers fold the registration
//! from its stream up to there). It holds no personal value: only who each
//! registration names, so erasures change nothing here.

use std::collections::BTreeSet;
use std::sync::Arc;

use domain::registration::{Registration, Step};
use sqlx::PgConnection;
use uuid::Uuid;

use super::Item;
use crate::copy::CopyRows;
use crate::decode::Decoded;
use crate::models::{status_name, step_name};
use crate::rows::{RegistrationRow, Row};
use crate::tables::{self, Mode, Part, Table};

pub(crate) struct Registrations {
    /// The latest state of each registration the run touched, and the
    /// position of its last event.
    latest: Table<Uuid, (Arc<Registration>, i64)>,
}

impl Registrations {
    pub(crate) fn new(mode: Mode) -> Self {
        Registrations {
            latest: Table::new(mode),
        }
    }

    pub(crate) fn apply(&mut self, item: &Item<'_>) {
        if let Decoded::Registration { state } = item.decoded {
            self.latest.put(state.id, (state.clone(), item.position));
        }
    }

    pub(crate) async fn write(
        &self,
        conn: &mut PgConnection,
        schema: &str,
        mode: Mode,
        part: Part,
    ) -> Result<(), sqlx::Error> {
        let rows = self
            .latest
            .changed()
            .filter(|(s, _)| part.includes(&s.id))
            .map(|(s, position)| Out(s, *position));
        let mut keys = self.latest.changed_keys();
        keys.retain(|id| part.includes(id));
        tables::write(conn, schema, mode, "id", keys, Box::new(rows)).await
    }
}

/// A registration's row, from its state.
struct Out<'a>(&'a Registration, i64);

impl Row for Out<'_> {
    const TABLE: &'static str = RegistrationRow::TABLE;
    const COLUMNS: &'static [&'static str] = RegistrationRow::COLUMNS;
    fn encode(&self, out: &mut CopyRows) {
        let Out(s, position) = self;
        let persons: BTreeSet<Uuid> = s.personal_fields().iter().map(|(_, v)| v.person).collect();
        let persons: Vec<Uuid> = persons.into_iter().collect();
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
        let named: Vec<&str> = s.named_subjects().into_iter().collect();
        out.row(i16::try_from(Self::COLUMNS.len()).expect("few columns"))
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
            .opt_timestamptz(s.withdrawal.as_ref().map(|w| &w.1.at))
            .int8(*position)
            .uuid_array(&persons);
    }
}
