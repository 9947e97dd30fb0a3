//! `approval_queue` and `fake_reports`: what waits for whom, since when;
//! reports of suspected fake accounts, open ones waiting for communications.

use std::collections::BTreeSet;

use domain::registration::Registration;
use domain::report::ReportEvent;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::Item;
use crate::decode::Decoded;
use crate::models::queue_items;
use crate::rows::{FakeReportRow, QueueRow};
use crate::tables::{self, Mode, Table};

const REPORT_STEP: &str = "fake_account_report";

pub(crate) struct Queues {
    /// Every queue row of each registration (or report) the run touched.
    queue: Table<Uuid, Vec<QueueRow>>,
    reports: Table<Uuid, FakeReportRow>,
}

impl Queues {
    pub(crate) fn new(mode: Mode) -> Self {
        Queues {
            queue: Table::new(mode),
            reports: Table::new(mode),
        }
    }

    /// The queue rows of every registration and report in the run, and the
    /// reports.
    pub(crate) async fn load(
        &mut self,
        conn: &mut PgConnection,
        schema: &str,
        items: &[Item<'_>],
    ) -> Result<(), sqlx::Error> {
        let mut ids = BTreeSet::new();
        let mut reports = BTreeSet::new();
        for item in items {
            match item.decoded {
                Decoded::Registration { state } => {
                    ids.insert(state.id);
                }
                Decoded::Report { id, .. } => {
                    ids.insert(*id);
                    reports.insert(*id);
                }
                _ => {}
            }
        }
        let ids: Vec<Uuid> = ids.into_iter().collect();
        let mut groups: std::collections::HashMap<Uuid, Vec<QueueRow>> =
            ids.iter().map(|id| (*id, Vec::new())).collect();
        for row in tables::load::<QueueRow, _>(conn, schema, "registration_id", ids).await? {
            groups.entry(row.registration_id).or_default().push(row);
        }
        for (id, rows) in groups {
            self.queue.load(id, rows);
        }
        let reports: Vec<Uuid> = reports.into_iter().collect();
        for row in tables::load::<FakeReportRow, _>(conn, schema, "id", reports).await? {
            self.reports.load(row.id, row);
        }
        Ok(())
    }

    pub(crate) fn apply(&mut self, item: &Item<'_>) {
        match item.decoded {
            Decoded::Registration { state } => self.registration(state, item),
            Decoded::Report { id, event } => self.report(*id, event),
            _ => {}
        }
    }

    /// The registration's items as its state leaves them; an item that was
    /// already waiting keeps the time it first appeared.
    fn registration(&mut self, s: &Registration, item: &Item<'_>) {
        let before = self.queue.get(&s.id);
        let rows: Vec<QueueRow> = queue_items(s)
            .into_iter()
            .map(|(role, step, assignee)| {
                let waiting_since = before
                    .and_then(|rows| rows.iter().find(|r| r.role == role && r.step == step))
                    .map_or(item.at, |r| r.waiting_since);
                QueueRow {
                    registration_id: s.id,
                    role: role.to_owned(),
                    step,
                    assignee,
                    level: i16::from(s.level().number()),
                    account_key: s.account_key.to_string(),
                    service_area: s.form.service_area.clone(),
                    waiting_since,
                }
            })
            .collect();
        self.queue.put(s.id, rows);
    }

    fn report(&mut self, id: Uuid, event: &ReportEvent) {
        match event {
            ReportEvent::FakeAccountReported {
                reference,
                account,
                account_keys,
                details,
                sealed_details,
                at,
            } => {
                if self.reports.get(&id).is_none() {
                    self.reports.put(
                        id,
                        FakeReportRow {
                            id,
                            reference: reference.clone(),
                            account: account.clone(),
                            account_keys: account_keys.clone(),
                            details: details.clone(),
                            details_sealed: sealed_details
                                .as_ref()
                                .map(|s| serde_json::to_value(s).unwrap_or(Value::Null)),
                            reported_at: *at,
                            closed_at: None,
                            closed_by: None,
                            outcome: None,
                        },
                    );
                }
                let mut rows = self.queue.get(&id).cloned().unwrap_or_default();
                if !rows
                    .iter()
                    .any(|r| r.step == REPORT_STEP && r.role == "communications")
                {
                    rows.push(QueueRow {
                        registration_id: id,
                        role: "communications".into(),
                        step: REPORT_STEP.into(),
                        assignee: None,
                        level: 0,
                        account_key: account_keys
                            .first()
                            .cloned()
                            .unwrap_or_else(|| account.chars().take(200).collect()),
                        service_area: String::new(),
                        waiting_since: *at,
                    });
                    self.queue.put(id, rows);
                }
            }
            ReportEvent::FakeAccountReportClosed { outcome, by, at } => {
                self.reports.update(&id, |r| {
                    r.closed_at = Some(*at);
                    r.closed_by = Some(by.clone());
                    r.outcome = Some(outcome.clone());
                });
                if let Some(rows) = self.queue.get(&id) {
                    let rest: Vec<QueueRow> = rows
                        .iter()
                        .filter(|r| r.step != REPORT_STEP)
                        .cloned()
                        .collect();
                    self.queue.put(id, rest);
                }
            }
        }
    }

    pub(crate) async fn write(
        &self,
        conn: &mut PgConnection,
        schema: &str,
        mode: Mode,
    ) -> Result<(), sqlx::Error> {
        let keys = self.queue.changed_keys();
        let rows = self.queue.changed().flatten().cloned();
        tables::write(conn, schema, mode, "registration_id", keys, Box::new(rows)).await?;
        let keys = self.reports.changed_keys();
        let rows = self.reports.changed().cloned();
        tables::write(conn, schema, mode, "id", keys, Box::new(rows)).await
    }
}
