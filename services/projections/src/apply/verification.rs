//! `verification_accounts` and `officers`: what the public's "is this
//! account genuine?" lookup answers, and level-3 officers' pages.

use std::collections::BTreeSet;
use std::sync::Arc;

use domain::form::LevelDetails;
use domain::registration::{Registration, Status};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{erasures, officer_slug_of, with_erased, Item};
use crate::decode::Decoded;
use crate::models::erased_marker;
use crate::officer_slug;
use crate::rows::{OfficerRow, VerificationRow};
use crate::tables::{self, Mode, Table};

pub(crate) struct Verification {
    accounts: Table<String, VerificationRow>,
    officers: Table<String, OfficerRow>,
    erased: Arc<BTreeSet<Uuid>>,
}

impl Verification {
    pub(crate) fn new(erased: Arc<BTreeSet<Uuid>>, mode: Mode) -> Self {
        Verification {
            accounts: Table::new(mode),
            officers: Table::new(mode),
            erased,
        }
    }

    /// The entries of the accounts published in this run, and the pages of
    /// their officers and of everyone erased in it.
    pub(crate) async fn load(
        &mut self,
        conn: &mut PgConnection,
        schema: &str,
        items: &[Item<'_>],
    ) -> Result<(), sqlx::Error> {
        let mut keys = BTreeSet::new();
        let mut slugs: BTreeSet<String> = erasures(items).into_iter().map(officer_slug).collect();
        for item in items {
            if let Decoded::Registration { state } = item.decoded {
                if state.published.is_some() {
                    keys.insert(state.account_key.to_string());
                    keys.extend(state.former_keys.iter().map(|f| f.account_key.to_string()));
                    slugs.extend(officer_slug_of(state));
                }
            }
        }
        let keys: Vec<String> = keys.into_iter().collect();
        for row in tables::load::<VerificationRow, _>(conn, schema, "account_key", keys).await? {
            self.accounts.load(row.account_key.clone(), row);
        }
        let slugs: Vec<String> = slugs.into_iter().collect();
        for row in tables::load::<OfficerRow, _>(conn, schema, "slug", slugs).await? {
            self.officers.load(row.slug.clone(), row);
        }
        Ok(())
    }

    pub(crate) fn apply(&mut self, item: &Item<'_>) {
        match item.decoded {
            Decoded::Registration { state } if state.published.is_some() => self.published(state),
            Decoded::Erasure(person) => {
                self.erased = with_erased(&self.erased, *person);
                let marker = erased_marker(*person);
                self.officers
                    .update(&officer_slug(*person), |o| o.name = marker);
            }
            _ => {}
        }
    }

    /// A published registration's entry: verified, or withdrawn. A
    /// withdrawn entry never displaces another registration's entry for
    /// the same account.
    fn published(&mut self, s: &Registration) {
        let published = s.published.as_ref().expect("checked by the caller");
        let slug = officer_slug_of(s);
        let withdrawn_at = s
            .withdrawal
            .as_ref()
            .filter(|_| s.status == Status::Withdrawn)
            .map(|w| w.1.at);
        let key = s.account_key.to_string();
        let displaces = match self.accounts.get(&key) {
            Some(existing) => withdrawn_at.is_none() || existing.registration_id == s.id,
            None => true,
        };
        if displaces {
            let row = VerificationRow {
                account_key: key.clone(),
                platform: s.form.platform.code().to_owned(),
                account_url: s.account_key.url(),
                status: if withdrawn_at.is_some() {
                    "withdrawn"
                } else {
                    "verified"
                }
                .to_owned(),
                registration_id: s.id,
                level: i16::from(s.level().number()),
                service_area: s.form.service_area.clone(),
                officer_slug: slug.clone(),
                verified_since: published.at,
                withdrawn_at,
                last_confirmed_at: s.last_validated.as_ref().map_or(published.at, |v| v.at),
                renamed_to: None,
                renamed_to_url: None,
                renamed_at: None,
                link_back_checked_at: s
                    .link_back
                    .as_ref()
                    .filter(|_| withdrawn_at.is_none())
                    .map(|l| l.checked.at),
                permanent_id: s.permanent_id.as_ref().map(ToString::to_string),
            };
            self.accounts.put(key, row);
        }
        // Each account it was known as answers "renamed" (to the account it
        // holds now, however many renames ago), unless another registration
        // has registered that account anew since.
        for former in &s.former_keys {
            let key = former.account_key.to_string();
            if self
                .accounts
                .get(&key)
                .is_some_and(|existing| existing.registration_id != s.id)
            {
                continue;
            }
            let row = VerificationRow {
                account_key: key.clone(),
                platform: former.account_key.platform.code().to_owned(),
                account_url: former.account_key.url(),
                status: "renamed".to_owned(),
                registration_id: s.id,
                level: i16::from(s.level().number()),
                service_area: s.form.service_area.clone(),
                officer_slug: None,
                verified_since: published.at,
                withdrawn_at: None,
                last_confirmed_at: former.renamed_at,
                renamed_to: Some(s.account_key.to_string()),
                renamed_to_url: Some(s.account_key.url()),
                renamed_at: Some(former.renamed_at),
                link_back_checked_at: None,
                permanent_id: None,
            };
            self.accounts.put(key, row);
        }
        if let (
            Some(slug),
            LevelDetails::Participate {
                officer, job_role, ..
            },
        ) = (slug, &s.form.details)
        {
            let name = if self.erased.contains(&officer.name.person) {
                erased_marker(officer.name.person)
            } else {
                serde_json::to_value(&officer.name).unwrap_or(Value::Null)
            };
            let published_since = self
                .officers
                .get(&slug)
                .map_or(published.at, |o| o.published_since);
            self.officers.put(
                slug.clone(),
                OfficerRow {
                    slug,
                    name,
                    job_role: job_role.clone(),
                    service_area: s.form.service_area.clone(),
                    published_since,
                },
            );
        }
    }

    pub(crate) async fn write(
        &self,
        conn: &mut PgConnection,
        schema: &str,
        mode: Mode,
    ) -> Result<(), sqlx::Error> {
        let keys = self.accounts.changed_keys();
        let rows = self.accounts.changed().cloned();
        tables::write(conn, schema, mode, "account_key", keys, Box::new(rows)).await?;
        let keys = self.officers.changed_keys();
        let rows = self.officers.changed().cloned();
        tables::write(conn, schema, mode, "slug", keys, Box::new(rows)).await
    }
}
