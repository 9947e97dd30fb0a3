//! `org_units` and `job_roles`: names shown beside codes.

use std::collections::BTreeSet;

use domain::reference::ReferenceEvent;
use sqlx::PgConnection;

use super::Item;
use crate::decode::Decoded;
use crate::rows::{JobRoleRow, OrgUnitRow, PolicyVersionRow};
use crate::tables::{self, Mode, Table};

pub(crate) struct Reference {
    org_units: Table<String, OrgUnitRow>,
    job_roles: Table<String, JobRoleRow>,
    policy_versions: Table<String, PolicyVersionRow>,
}

impl Reference {
    pub(crate) fn new(mode: Mode) -> Self {
        Reference {
            org_units: Table::new(mode),
            job_roles: Table::new(mode),
            policy_versions: Table::new(mode),
        }
    }

    /// The units and job roles the run names.
    pub(crate) async fn load(
        &mut self,
        conn: &mut PgConnection,
        schema: &str,
        items: &[Item<'_>],
    ) -> Result<(), sqlx::Error> {
        let mut units = BTreeSet::new();
        let mut roles = BTreeSet::new();
        for item in items {
            match item.decoded {
                Decoded::Reference(
                    ReferenceEvent::OrganisationalUnitAdded { code, .. }
                    | ReferenceEvent::OrganisationalUnitRetired { code },
                ) => {
                    units.insert(code.clone());
                }
                Decoded::Reference(
                    ReferenceEvent::JobRoleAccepted { code, .. }
                    | ReferenceEvent::JobRoleWithdrawn { code },
                ) => {
                    roles.insert(code.clone());
                }
                _ => {}
            }
        }
        let units: Vec<String> = units.into_iter().collect();
        for row in tables::load::<OrgUnitRow, _>(conn, schema, "code", units).await? {
            self.org_units.load(row.code.clone(), row);
        }
        let roles: Vec<String> = roles.into_iter().collect();
        for row in tables::load::<JobRoleRow, _>(conn, schema, "code", roles).await? {
            self.job_roles.load(row.code.clone(), row);
        }
        Ok(())
    }

    pub(crate) fn apply(&mut self, item: &Item<'_>) {
        let Decoded::Reference(event) = item.decoded else {
            return;
        };
        match event {
            ReferenceEvent::OrganisationalUnitAdded { code, name } => self.org_units.put(
                code.clone(),
                OrgUnitRow {
                    code: code.clone(),
                    name: name.clone(),
                    retired: false,
                },
            ),
            ReferenceEvent::OrganisationalUnitRetired { code } => {
                self.org_units.update(code, |u| u.retired = true)
            }
            ReferenceEvent::JobRoleAccepted { code, title } => self.job_roles.put(
                code.clone(),
                JobRoleRow {
                    code: code.clone(),
                    title: title.clone(),
                    accepted: true,
                },
            ),
            ReferenceEvent::JobRoleWithdrawn { code } => {
                self.job_roles.update(code, |r| r.accepted = false)
            }
            ReferenceEvent::PolicyVersionPublished {
                version,
                published_on,
                summary,
                url,
            } => self.policy_versions.put(
                version.clone(),
                PolicyVersionRow {
                    version: version.clone(),
                    published_on: *published_on,
                    summary: summary.clone(),
                    url: url.clone(),
                    published_at: item.at,
                    position: item.position,
                },
            ),
            _ => {}
        }
    }

    pub(crate) async fn write(
        &self,
        conn: &mut PgConnection,
        schema: &str,
        mode: Mode,
    ) -> Result<(), sqlx::Error> {
        let keys = self.org_units.changed_keys();
        let rows = self.org_units.changed().cloned();
        tables::write(conn, schema, mode, "code", keys, Box::new(rows)).await?;
        let keys = self.job_roles.changed_keys();
        let rows = self.job_roles.changed().cloned();
        tables::write(conn, schema, mode, "code", keys, Box::new(rows)).await?;
        let keys = self.policy_versions.changed_keys();
        let rows = self.policy_versions.changed().cloned();
        tables::write(conn, schema, mode, "version", keys, Box::new(rows)).await
    }
}
