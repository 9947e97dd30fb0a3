//! `directory`: published accounts, with only what the framework publishes.

use std::sync::Arc;

use domain::registration::{Registration, Status};
use sqlx::PgConnection;
use uuid::Uuid;

use super::Item;
use crate::decode::Decoded;
use crate::rows::DirectoryRow;
use crate::tables::{self, Mode, Table};

pub(crate) struct Directory {
    /// The published state of each account the run touched.
    published: Table<Uuid, Arc<Registration>>,
}

impl Directory {
    pub(crate) fn new(mode: Mode) -> Self {
        Directory {
            published: Table::new(mode),
        }
    }

    pub(crate) fn apply(&mut self, item: &Item<'_>) {
        if let Decoded::Registration { state } = item.decoded {
            if state.status == Status::Published {
                self.published.put(state.id, state.clone());
            } else {
                self.published.remove(state.id);
            }
        }
    }

    pub(crate) async fn write(
        &self,
        conn: &mut PgConnection,
        schema: &str,
        mode: Mode,
    ) -> Result<(), sqlx::Error> {
        let rows = self.published.changed().map(|s| row(s));
        let keys = self.published.changed_keys();
        tables::write(conn, schema, mode, "registration_id", keys, Box::new(rows)).await
    }
}

fn row(s: &Registration) -> DirectoryRow {
    DirectoryRow {
        registration_id: s.id,
        platform: s.form.platform.code().to_owned(),
        account_key: s.account_key.to_string(),
        account_url: s.account_key.url(),
        level: i16::from(s.level().number()),
        service_area: s.form.service_area.clone(),
        officer_slug: super::officer_slug_of(s),
        published_at: s.published.as_ref().map(|p| p.at).unwrap_or(s.updated_at),
    }
}
