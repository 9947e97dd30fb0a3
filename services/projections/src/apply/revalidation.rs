//! `revalidation_due`: published registrations, when their review falls
//! due, and the policy version acknowledged for each.

use std::sync::Arc;

use chrono::Duration;
use domain::registration::{Registration, Status};
use sqlx::PgConnection;
use uuid::Uuid;

use super::Item;
use crate::decode::Decoded;
use crate::rows::RevalidationRow;
use crate::tables::{self, Mode, Table};

pub(crate) struct Revalidation {
    due: Table<Uuid, Arc<Registration>>,
}

impl Revalidation {
    pub(crate) fn new(mode: Mode) -> Self {
        Revalidation {
            due: Table::new(mode),
        }
    }

    pub(crate) fn apply(&mut self, item: &Item<'_>) {
        if let Decoded::Registration { state } = item.decoded {
            if state.status == Status::Published && state.last_validated.is_some() {
                self.due.put(state.id, state.clone());
            } else {
                self.due.remove(state.id);
            }
        }
    }

    pub(crate) async fn write(
        &self,
        conn: &mut PgConnection,
        schema: &str,
        mode: Mode,
        review_period_days: i64,
    ) -> Result<(), sqlx::Error> {
        let rows = self.due.changed().map(|s| row(s, review_period_days));
        let keys = self.due.changed_keys();
        tables::write(conn, schema, mode, "registration_id", keys, Box::new(rows)).await
    }
}

fn row(s: &Registration, review_period_days: i64) -> RevalidationRow {
    let last = s
        .last_validated
        .as_ref()
        .expect("only validated registrations are due");
    RevalidationRow {
        registration_id: s.id,
        account_key: s.account_key.to_string(),
        platform: s.form.platform.code().to_owned(),
        service_area: s.form.service_area.clone(),
        contact_subject: s.form.business_contact.subject.clone(),
        last_validated_at: last.at,
        // An imported account's full review is due by the date its import
        // set; every other account's a review period after its last
        // validation.
        due_on: s.grandfathered.as_ref().map_or_else(
            || (last.at + Duration::days(review_period_days)).date_naive(),
            |g| g.review_by,
        ),
        policy_version: s.policy_acknowledgement.version.clone(),
        policy_acknowledged_at: s.policy_acknowledgement.by.at,
    }
}
