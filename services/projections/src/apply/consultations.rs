//! `consultations`: level-2 registrations, for the consultation team.

use std::sync::Arc;

use domain::form::LevelDetails;
use domain::registration::Registration;
use sqlx::PgConnection;
use uuid::Uuid;

use super::Item;
use crate::decode::Decoded;
use crate::models::status_name;
use crate::rows::ConsultationRow;
use crate::tables::{self, Mode, Table};

pub(crate) struct Consultations {
    /// The latest state of each level-2 registration the run touched (a
    /// registration amended to another level keeps its last level-2 row).
    latest: Table<Uuid, Arc<Registration>>,
}

impl Consultations {
    pub(crate) fn new(mode: Mode) -> Self {
        Consultations {
            latest: Table::new(mode),
        }
    }

    pub(crate) fn apply(&mut self, item: &Item<'_>) {
        if let Decoded::Registration { state } = item.decoded {
            if matches!(state.form.details, LevelDetails::Consult { .. }) {
                self.latest.put(state.id, state.clone());
            }
        }
    }

    pub(crate) async fn write(
        &self,
        conn: &mut PgConnection,
        schema: &str,
        mode: Mode,
    ) -> Result<(), sqlx::Error> {
        let rows = self.latest.changed().filter_map(|s| row(s));
        let keys = self.latest.changed_keys();
        tables::write(conn, schema, mode, "registration_id", keys, Box::new(rows)).await
    }
}

fn row(s: &Registration) -> Option<ConsultationRow> {
    let LevelDetails::Consult {
        topic,
        opens_on,
        closes_on,
    } = &s.form.details
    else {
        return None;
    };
    Some(ConsultationRow {
        registration_id: s.id,
        account_key: s.account_key.to_string(),
        platform: s.form.platform.code().to_owned(),
        service_area: s.form.service_area.clone(),
        topic: topic.clone(),
        opens_on: *opens_on,
        closes_on: *closes_on,
        finder_reference: s.consultation_listing.as_ref().map(|l| l.0.clone()),
        status: status_name(s.status).to_owned(),
        updated_at: s.updated_at,
    })
}
