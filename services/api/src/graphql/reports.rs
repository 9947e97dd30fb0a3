//! Reports of suspected fake accounts, for communications.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use domain::Role;
use sqlx::Row;
use uuid::Uuid;

use super::{app, correlation_id, with_role};
use crate::commands::{Handler, RequestMeta};
use crate::errors;

/// A report from the public of an account they suspect is a fake council
/// account.
#[derive(SimpleObject, Debug, Clone)]
pub struct FakeAccountReport {
    /// Its id.
    pub id: Uuid,
    /// The reference the reporter was shown, e.g. `FR-7K3M9QX2`.
    pub reference: String,
    /// The account as they pasted it.
    pub account: String,
    /// The account keys it could be.
    pub account_keys: Vec<String>,
    /// What they noticed.
    pub details: String,
    /// When it was reported.
    pub reported_at: DateTime<Utc>,
    /// When communications closed it.
    pub closed_at: Option<DateTime<Utc>>,
    /// Who closed it.
    pub closed_by: Option<String>,
    /// What was done.
    pub outcome: Option<String>,
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
        let rows = sqlx::query(
            "select id, reference, account, account_keys, details, reported_at, closed_at, closed_by, outcome \
             from read_models.fake_reports where (not $1 or closed_at is null) \
               and ($2::timestamptz is null or (reported_at, id) > ($2, $3)) \
             order by reported_at, id limit $4",
        )
        .bind(open_only.unwrap_or(false))
        .bind(after.map(|a| a.0))
        .bind(after.map(|a| a.1))
        .bind(i64::from(n) + 1)
        .fetch_all(&app(ctx)?.pool)
        .await
        .map_err(|e| errors::from_sqlx(e, &correlation_id(ctx)))?;
        let mut connection = Connection::new(after.is_some(), rows.len() > n as usize);
        for row in rows.iter().take(n as usize) {
            let r = FakeAccountReport {
                id: row.get("id"),
                reference: row.get("reference"),
                account: row.get("account"),
                account_keys: row.get("account_keys"),
                details: row.get("details"),
                reported_at: row.get("reported_at"),
                closed_at: row.get("closed_at"),
                closed_by: row.get("closed_by"),
                outcome: row.get("outcome"),
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
        let viewer = with_role(ctx, &[Role::Communications])?;
        let app = app(ctx)?;
        let cid = correlation_id(ctx);
        let meta = RequestMeta {
            actor: viewer.actor.clone(),
            display_name: viewer.name.clone(),
            correlation_id: cid.clone(),
            idempotency_key: None,
            expected_version: None,
            trace_id: None,
        };
        let stream = domain::report::stream_id(id);
        if app
            .store
            .stream_version(&stream)
            .await
            .map_err(|e| errors::from_store(e, &cid))?
            == 0
        {
            return Err(errors::not_found(format!("no report {id}")));
        }
        Handler::new(app.store.clone(), app.vault.clone())
            .close_fake_account_report(id, &outcome, &meta)
            .await
            .map_err(|e| errors::from_handle(e, &cid))
    }
}
