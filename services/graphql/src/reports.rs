//! Reports of suspected fake accounts, for communications.

use crate::errors::Result;
use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};
use domain::Role;
use uuid::Uuid;

use super::{app, with_role};
use crate::errors;

/// A report from the public of an account they suspect is a fake council
/// account.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct FakeAccountReport {
    /// Its id.
    pub id: Uuid,
    /// The reference the reporter was shown, e.g. `FR-7K3M9QX2`.
    pub reference: String,
    /// The account as they pasted it.
    pub account: String,
    /// The account keys it could be.
    pub account_keys: Vec<String>,
    /// What they noticed, as filed before sealing (plain text).
    #[graphql(skip)]
    pub legacy_details: String,
    /// What they noticed, sealed under the report's own key.
    #[graphql(skip)]
    pub sealed_details: Option<domain::personal::Sealed>,
    /// When it was reported.
    pub reported_at: DateTime<Utc>,
    /// When communications closed it.
    pub closed_at: Option<DateTime<Utc>>,
    /// Who closed it.
    pub closed_by: Option<String>,
    /// What was done.
    pub outcome: Option<String>,
}

#[async_graphql::ComplexObject]
impl FakeAccountReport {
    /// What they noticed (empty when they wrote nothing, or once erased).
    async fn details(&self, ctx: &Context<'_>) -> Result<String> {
        match &self.sealed_details {
            Some(sealed) => Ok(super::types::reveal(ctx, sealed).await?.unwrap_or_default()),
            None => Ok(self.legacy_details.clone()),
        }
    }
}

/// Reads of reports.
#[derive(Default)]
pub struct ReportsQuery;

/// Reports of suspected fake accounts.
#[Object]
impl ReportsQuery {
    /// Reports of suspected fake accounts, oldest first (communications,
    /// auditors). Open reports also wait in communications' approval queue
    /// as step `fake_account_report`.
    async fn fake_account_reports(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only reports not yet closed.")] open_only: Option<bool>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
        #[graphql(desc = "Wait (bounded) until the read models reach this log position.")]
        at_least_position: Option<i64>,
    ) -> Result<Connection<String, FakeAccountReport>> {
        let _turn = super::pool_turn(ctx).await;
        with_role(ctx, &[Role::Communications, Role::Auditor])?;
        super::wait_for_position(ctx, at_least_position).await?;
        let n = super::query::page_size(first)? as i32;
        let after: Option<(DateTime<Utc>, Uuid)> = match after {
            None => None,
            Some(c) => Some(
                serde_json::from_slice(
                    &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, c)
                        .map_err(|_| {
                        errors::bad_input("after", "is not a cursor this API returned")
                    })?,
                )
                .map_err(|_| errors::bad_input("after", "is not a cursor this API returned"))?,
            ),
        };
        let rows = projections::staff::fake_reports(
            &app(ctx)?.pool,
            open_only.unwrap_or(false),
            after,
            i64::from(n) + 1,
        )
        .await?;
        let mut connection = Connection::new(after.is_some(), rows.len() > n as usize);
        for row in rows.into_iter().take(n as usize) {
            let r = FakeAccountReport {
                id: row.id,
                reference: row.reference,
                account: row.account,
                account_keys: row.account_keys,
                legacy_details: row.legacy_details,
                sealed_details: row.sealed_details.map(serde_json::from_value).transpose()?,
                reported_at: row.reported_at,
                closed_at: row.closed_at,
                closed_by: row.closed_by,
                outcome: row.outcome,
            };
            let cursor = base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                serde_json::to_vec(&(r.reported_at, r.id)).unwrap_or_default(),
            );
            connection.edges.push(Edge::new(cursor, r));
        }
        Ok(connection)
    }
}

/// Changes to reports.
#[derive(Default)]
pub struct ReportsMutation;

/// Handling reports of suspected fake accounts.
#[Object]
impl ReportsMutation {
    /// Close a report with what was done (communications); it leaves the
    /// queue. Returns the log position.
    async fn close_fake_account_report(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The report's id.")] id: Uuid,
        #[graphql(desc = "What was done, e.g. `Reported to the platform as impersonation`.")]
        outcome: String,
    ) -> Result<i64> {
        with_role(ctx, &[Role::Communications])?;
        let app = app(ctx)?;
        let meta = super::request_meta(ctx, None, None)?;
        let stream = domain::report::stream_id(id);
        if app.store.stream_version(&stream).await? == 0 {
            return Err(errors::not_found(format!("no report {id}")));
        }
        Ok(app
            .handler
            .clone()
            .close_fake_account_report(id, &outcome, &meta)
            .await?)
    }
}
