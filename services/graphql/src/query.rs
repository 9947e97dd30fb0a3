//! Reads. Public fields: `directory`, `verifyAccount`, `officer`, `jobRoles`,
//! `organisationalUnits`, `platforms`, `topics`. Everything else needs a sign-in and
//! says which role.

use std::collections::HashMap;
use std::sync::Arc;

use crate::errors::Result;
use async_graphql::connection::{Connection, Edge, OpaqueCursor};
use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use domain::platform;
use domain::registration::{Registration, Status};
use domain::Role;
use uuid::Uuid;

use super::inputs::{DirectoryFilter, EventFilter, RegistrationFilter};
use super::types::{
    self, ApprovalItem, Consultation, DirectoryEntry, HistoryEntry, JobRole, LogHead, LoggedEvent,
    Officer, OrganisationalUnit, PlatformInfo, RegistrationNode, RevalidationItem,
    SpeakingAuthority, Verification, VerificationStatus, VerifiedAccount,
};
use super::{app, settings, signed_in, wait_for_position, with_role, DEFAULT_PAGE, MAX_PAGE};
use crate::errors;
use app::commands::load_registration;

/// Read-only entry points of the registry.
#[derive(Default)]
pub struct RegistryQuery;

/// The signed-in caller, as the service sees their token.
#[derive(SimpleObject, Debug, Clone)]
pub struct Me {
    /// Staff id (token subject).
    pub subject: String,
    /// Display name from the token.
    pub name: Option<String>,
    /// Roles this service recognised in the token.
    pub roles: Vec<types::Role>,
}

pub(super) fn page_size(first: Option<i32>) -> Result<i64> {
    let n = first.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&n) {
        return Err(errors::bad_input(
            "first",
            format!("must be between 1 and {MAX_PAGE}"),
        ));
    }
    Ok(i64::from(n))
}

fn cursor<T: serde::de::DeserializeOwned + serde::Serialize>(
    after: Option<String>,
) -> Result<Option<T>> {
    use async_graphql::connection::CursorType;
    match after {
        None => Ok(None),
        Some(text) => OpaqueCursor::<T>::decode_cursor(&text)
            .map(|c| Some(c.0))
            .map_err(|_| errors::bad_input("after", "is not a cursor this API returned")),
    }
}

use projections::staff;

/// The public index once it reflects `at_least_position` (and the read
/// models have reached it): answers from memory, no database query.
async fn public_snapshot(
    ctx: &Context<'_>,
    at_least_position: Option<i64>,
) -> Result<Arc<projections::public::PublicSnapshot>> {
    wait_for_position(ctx, at_least_position).await?;
    let index = &app(ctx)?.public;
    let wanted = at_least_position.unwrap_or(0);
    index
        .at_least(wanted, settings(ctx).read_wait)
        .await
        .map_err(|reached| {
            errors::coded(
                errors::Code::Conflict,
                format!(
                    "the public index has reached position {reached}, not yet {wanted}; retry shortly"
                ),
            )
        })
}

/// Fold the registrations with these ids from the log, each up to the
/// position its read model row reflects (so a page is consistent with the
/// filters that chose it).
async fn fold_upto(
    ctx: &Context<'_>,
    rows: &[(Uuid, i64)],
) -> Result<HashMap<Uuid, Arc<Registration>>> {
    let app = app(ctx)?;
    let streams: Vec<(String, i64)> = rows
        .iter()
        .map(|(id, upto)| (domain::registration::stream_id(*id), *upto))
        .collect();
    let events = app.store.read_streams_upto(&streams).await?;
    let mut by_stream: HashMap<String, Vec<event_store::RecordedEvent>> = HashMap::new();
    for e in events {
        by_stream.entry(e.stream_id.clone()).or_default().push(e);
    }
    let mut out = HashMap::new();
    for (id, _) in rows {
        let stream = domain::registration::stream_id(*id);
        let events = by_stream.remove(&stream).unwrap_or_default();
        let state = app::commands::fold_events(&events)?;
        if let Some(state) = state {
            out.insert(*id, Arc::new(state));
        }
    }
    Ok(out)
}

fn council_name<'a>(ctx: &Context<'a>) -> &'a str {
    &settings(ctx).council_name
}

fn verified_account(
    a: projections::public::Account,
    organisation: &str,
    policy: projections::public::ConfirmationPolicy,
) -> VerifiedAccount {
    VerifiedAccount {
        confirmation_overdue: a.confirmation_overdue(policy, Utc::now()),
        last_confirmed_at: a.last_confirmed_at,
        organisation: organisation.to_owned(),
        platform: a.platform.into(),
        account_key: a.account_key,
        account_url: a.account_url,
        status: if a.verified {
            VerificationStatus::Verified
        } else if a.renamed.is_some() {
            VerificationStatus::Renamed
        } else {
            VerificationStatus::Withdrawn
        },
        renamed_to: a.renamed.as_ref().map(|r| r.account_key.clone()),
        renamed_to_url: a.renamed.as_ref().map(|r| r.account_url.clone()),
        renamed_at: a.renamed.as_ref().map(|r| r.at),
        link_back_checked_at: a.link_back_checked_at,
        permanent_id: a.permanent_id,
        level: a.level.into(),
        service_area: a.service_area,
        service_name: a.service_name,
        officer_slug: a.officer_slug,
        verified_since: a.verified_since,
        withdrawn_at: a.withdrawn_at,
    }
}

/// Everything that can be read. Public fields (no sign-in): `directory`,
/// `verifyAccount`, `officer`, `jobRoles`, `organisationalUnits`,
/// `platforms`, `topics`. The rest say which role they need.
#[Object]
impl RegistryQuery {
    /// Who you are signed in as (sign-in required).
    async fn me(&self, ctx: &Context<'_>) -> Result<Me> {
        let p = signed_in(ctx)?;
        Ok(Me {
            subject: p.actor.subject.clone(),
            name: p.name.clone(),
            roles: p.actor.roles.iter().map(|r| (*r).into()).collect(),
        })
    }

    /// The newest position of the event log (any signed-in caller): read it
    /// with a query, then subscribe `fromPosition` it to miss nothing.
    async fn log_position(&self, ctx: &Context<'_>) -> Result<i64> {
        let _turn = super::pool_turn(ctx).await;
        signed_in(ctx)?;
        Ok(app(ctx)?.store.head().await?.position)
    }

    /// The newest position of the event log and its chain hash (auditors).
    async fn log_head(&self, ctx: &Context<'_>) -> Result<LogHead> {
        let _turn = super::pool_turn(ctx).await;
        with_role(ctx, &[Role::Auditor])?;
        let head = app(ctx)?.store.head().await?;
        Ok(LogHead {
            position: head.position,
            hash: hex::encode(head.hash),
        })
    }

    /// One registration, folded from its own events (always current).
    /// `NOT_FOUND` when there is none; `FORBIDDEN` when you may not read it.
    async fn registration(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The registration's id.")] id: Uuid,
    ) -> Result<RegistrationNode> {
        let _turn = super::pool_turn(ctx).await;
        let viewer = signed_in(ctx)?;
        let app = app(ctx)?;
        let (state, _) = load_registration(&app.store, id).await?;
        let state = state.ok_or_else(|| errors::not_found(format!("no registration {id}")))?;
        if !domain::access::may_read(&viewer.actor, &state) {
            return Err(errors::forbidden(
                "you may read only registrations you submitted or are named on",
            ));
        }
        Ok(RegistrationNode(Arc::new(state)))
    }

    /// Registrations you may read, newest submission first. Communications,
    /// auditors and data protection see all; the consultation team all of
    /// level 2; everyone else those they submitted or are named on.
    async fn registrations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only registrations matching every given filter.")] filter: Option<
            RegistrationFilter,
        >,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
        #[graphql(desc = "Wait (bounded) until the read models reach this log position.")]
        at_least_position: Option<i64>,
    ) -> Result<Connection<String, RegistrationNode>> {
        let _turn = super::pool_turn(ctx).await;
        let viewer = signed_in(ctx)?;
        wait_for_position(ctx, at_least_position).await?;
        let limit = page_size(first)?;
        let after: Option<(DateTime<Utc>, Uuid)> = cursor(after)?;
        let filter = domain::registration::Filter::from(filter.unwrap_or_default());
        let scope = domain::access::read_scope(&viewer.actor);
        let rows = staff::registrations(&app(ctx)?.pool, &scope, &filter, after, limit + 1).await?;
        let has_next = rows.len() as i64 > limit;
        let keys: Vec<_> = rows
            .iter()
            .take(limit as usize)
            .map(|r| (r.id, r.last_position, r.submitted_at))
            .collect();
        let ids: Vec<(Uuid, i64)> = keys.iter().map(|(id, upto, _)| (*id, *upto)).collect();
        let mut states = fold_upto(ctx, &ids).await?;
        let mut connection = Connection::new(after.is_some(), has_next);
        for (id, _, at) in keys {
            if let Some(state) = states.remove(&id) {
                connection
                    .edges
                    .push(Edge::new(encode(&(at, id)), RegistrationNode(state)));
            }
        }
        Ok(connection)
    }

    /// The public directory: every published account, by account key.
    async fn directory(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only entries matching every given filter.")] filter: Option<
            DirectoryFilter,
        >,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
        #[graphql(desc = "Wait (bounded) until the read models reach this log position.")]
        at_least_position: Option<i64>,
    ) -> Result<Connection<String, DirectoryEntry>> {
        let _turn = super::pool_turn(ctx).await;
        wait_for_position(ctx, at_least_position).await?;
        let limit = page_size(first)?;
        let after: Option<String> = cursor(after)?;
        let DirectoryFilter {
            platform,
            service_area,
            level,
        } = filter.unwrap_or_default();
        let query = projections::public::DirectoryQuery {
            platform: platform.map(Into::into),
            service_area,
            level: level.map(Into::into),
            search: None,
            after: after.clone(),
            limit,
        };
        let rows = projections::public::directory(&app(ctx)?.pool, &query).await?;
        let mut connection = Connection::new(after.is_some(), rows.len() as i64 > limit);
        for row in rows.into_iter().take(limit as usize) {
            let entry = DirectoryEntry {
                registration_id: row.registration_id,
                platform: row.platform.into(),
                account_key: row.account_key,
                account_url: row.account_url,
                level: row.level.into(),
                service_area: row.service_area,
                service_name: row.service_name,
                officer_slug: row.officer_slug,
                published_at: row.published_at,
            };
            connection
                .edges
                .push(Edge::new(encode(&entry.account_key), entry));
        }
        Ok(connection)
    }

    /// Is this account genuine? Paste a URL or handle as you have it
    /// (`https://x.com/NorthCouncil?s=20`, `@NorthCouncil`, …): it is
    /// normalised exactly as at registration. Answers verified, withdrawn
    /// (with when) or unknown.
    async fn verify_account(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account's URL or handle, as you have it.")] input: String,
        #[graphql(
            desc = "The platform's permanent id of the account you see, when you know it (X, Instagram or Facebook numeric id, YouTube channel id `UC…`, Bluesky DID, Mastodon account URI): a registered handle now held by another id answers NOT_THE_COUNCILS."
        )]
        permanent_id: Option<String>,
        #[graphql(desc = "Wait (bounded) until the read models reach this log position.")]
        at_least_position: Option<i64>,
    ) -> Result<Verification> {
        // No pool turn: the answer comes from memory.
        if input.trim().is_empty() {
            return Err(errors::bad_input(
                "input",
                "is empty: paste the account's address or handle",
            ));
        }
        if input.chars().count() > 2_000 {
            return Err(errors::bad_input(
                "input",
                "must be at most 2000 characters",
            ));
        }
        if permanent_id
            .as_ref()
            .is_some_and(|p| p.chars().count() > 500)
        {
            return Err(errors::bad_input(
                "permanentId",
                "must be at most 500 characters",
            ));
        }
        let snapshot = public_snapshot(ctx, at_least_position).await?;
        let verdict = snapshot.verify_with(&input, permanent_id.as_deref());
        let organisation = council_name(ctx);
        let policy = app(ctx)?.public.policy();
        let account = verdict
            .account
            .map(|a| verified_account(a, organisation, policy));
        let check = match verdict.permanent {
            projections::public::PermanentCheck::NotGiven => types::PermanentIdCheck::NotGiven,
            projections::public::PermanentCheck::Matches => types::PermanentIdCheck::Matches,
            projections::public::PermanentCheck::NotRecorded => {
                types::PermanentIdCheck::NotRecorded
            }
            projections::public::PermanentCheck::Different => types::PermanentIdCheck::Different,
        };
        let status = match &account {
            None => VerificationStatus::Unknown,
            Some(a)
                if a.status == VerificationStatus::Verified
                    && check == types::PermanentIdCheck::Different =>
            {
                VerificationStatus::NotTheCouncils
            }
            Some(a) => a.status,
        };
        Ok(Verification {
            input,
            status,
            interpreted_as: verdict.keys,
            account,
            matched_by_permanent_id: verdict.by_permanent_id,
            permanent_id_check: check,
        })
    }

    /// A level-3 officer's public verification page, by its slug; null when
    /// there is none.
    async fn officer(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The slug from the officer's page address, e.g. `officer-1a2b3c4d5e6f`.")]
        slug: String,
        #[graphql(desc = "Wait (bounded) until the read models reach this log position.")]
        at_least_position: Option<i64>,
    ) -> Result<Option<Officer>> {
        let _turn = super::pool_turn(ctx).await;
        if slug.len() > 100 {
            return Err(errors::bad_input("slug", "is not an officer page slug"));
        }
        public_snapshot(ctx, at_least_position).await?;
        let app = app(ctx)?;
        let page = app.public.officer_page(&app.vault, &slug).await?;
        let organisation = council_name(ctx);
        Ok(page.map(|p| Officer {
            slug: p.slug,
            name: p.name,
            job_role: p.job_title,
            service_area: p.service_area,
            service_name: p.service_name,
            published_since: p.published_since,
            accounts: p
                .accounts
                .into_iter()
                .map(|a| verified_account(a, organisation, app.public.policy()))
                .collect(),
        }))
    }

    /// Level-2 consultations, soonest closing first (consultation team,
    /// communications, auditors).
    async fn consultations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only those not yet listed in Consultation Finder.")]
        unlisted_only: Option<bool>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
        #[graphql(desc = "Wait (bounded) until the read models reach this log position.")]
        at_least_position: Option<i64>,
    ) -> Result<Connection<String, Consultation>> {
        let _turn = super::pool_turn(ctx).await;
        with_role(
            ctx,
            &[Role::Consultation, Role::Communications, Role::Auditor],
        )?;
        wait_for_position(ctx, at_least_position).await?;
        let limit = page_size(first)?;
        let after: Option<(NaiveDate, Uuid)> = cursor(after)?;
        let rows = staff::consultations(
            &app(ctx)?.pool,
            unlisted_only.unwrap_or(false),
            after,
            limit + 1,
        )
        .await?;
        let mut connection = Connection::new(after.is_some(), rows.len() as i64 > limit);
        for row in rows.into_iter().take(limit as usize) {
            let c = Consultation {
                registration_id: row.registration_id,
                account_key: row.account_key,
                platform: row.platform.into(),
                service_area: row.service_area,
                topic: row.topic,
                opens_on: row.opens_on,
                closes_on: row.closes_on,
                finder_reference: row.finder_reference,
                status: row.status.into(),
            };
            connection
                .edges
                .push(Edge::new(encode(&(c.closes_on, c.registration_id)), c));
        }
        Ok(connection)
    }

    /// What waits for a role, longest waiting first. You must hold the role
    /// (auditors may look at any). For line managers, senior officers and
    /// staff, only what waits for you by name.
    async fn approval_queue(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The role whose queue to read.")] role: types::Role,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
        #[graphql(desc = "Wait (bounded) until the read models reach this log position.")]
        at_least_position: Option<i64>,
    ) -> Result<Connection<String, ApprovalItem>> {
        let _turn = super::pool_turn(ctx).await;
        let viewer = signed_in(ctx)?;
        let role: Role = role.into();
        if !domain::access::may_watch(&viewer.actor, role) {
            return Err(errors::forbidden(format!("this needs the `{role}` role")));
        }
        wait_for_position(ctx, at_least_position).await?;
        let limit = page_size(first)?;
        let after: Option<(DateTime<Utc>, Uuid, String)> = cursor(after)?;
        let named_only = domain::access::queue_named_only(&viewer.actor, role);
        let rows = staff::approval_queue(
            &app(ctx)?.pool,
            role,
            named_only,
            &viewer.actor.subject,
            after.as_ref(),
            limit + 1,
        )
        .await?;
        let mut connection = Connection::new(after.is_some(), rows.len() as i64 > limit);
        for row in rows.into_iter().take(limit as usize) {
            let item = ApprovalItem::from(row);
            connection.edges.push(Edge::new(
                encode(&(item.waiting_since, item.registration_id, item.step.clone())),
                item,
            ));
        }
        Ok(connection)
    }

    /// Everything waiting for you, in any role you hold, longest waiting
    /// first (at most 200). Your own submissions never wait for your
    /// approval. Overdue re-validations and policy acknowledgements are
    /// here too: your own as a business contact, and every one for
    /// communications.
    async fn my_approvals(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Wait (bounded) until the read models reach this log position.")]
        at_least_position: Option<i64>,
    ) -> Result<Vec<ApprovalItem>> {
        let _turn = super::pool_turn(ctx).await;
        let viewer = signed_in(ctx)?;
        wait_for_position(ctx, at_least_position).await?;
        let roles: Vec<Role> = viewer.actor.roles.iter().copied().collect();
        let pool = &app(ctx)?.pool;
        let mut rows = staff::waiting_for(pool, &viewer.actor.subject, &roles).await?;
        rows.extend(
            staff::overdue_for(
                pool,
                &viewer.actor.subject,
                viewer.actor.has(Role::Communications),
                Utc::now().date_naive(),
                settings(ctx).policy_acknowledgement_days,
            )
            .await?,
        );
        rows.sort_by(|a, b| {
            (a.waiting_since, a.registration_id, &a.step).cmp(&(
                b.waiting_since,
                b.registration_id,
                &b.step,
            ))
        });
        rows.truncate(200);
        Ok(rows.into_iter().map(ApprovalItem::from).collect())
    }

    /// Published registrations by review date, soonest first
    /// (communications and auditors see all; a business contact their own).
    async fn revalidation_due(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only those whose review date has passed.")] overdue_only: Option<bool>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
        #[graphql(desc = "Wait (bounded) until the read models reach this log position.")]
        at_least_position: Option<i64>,
    ) -> Result<Connection<String, RevalidationItem>> {
        let _turn = super::pool_turn(ctx).await;
        let viewer = signed_in(ctx)?;
        wait_for_position(ctx, at_least_position).await?;
        let sees_all = viewer.actor.has(Role::Communications) || viewer.actor.has(Role::Auditor);
        let limit = page_size(first)?;
        let after: Option<(NaiveDate, Uuid)> = cursor(after)?;
        let today = Utc::now().date_naive();
        let contact = (!sees_all).then_some(viewer.actor.subject.as_str());
        let due_by = overdue_only.unwrap_or(false).then_some(today);
        let rows =
            staff::revalidation_due(&app(ctx)?.pool, contact, due_by, after, limit + 1).await?;
        let mut connection = Connection::new(after.is_some(), rows.len() as i64 > limit);
        for row in rows.into_iter().take(limit as usize) {
            let due_on = row.due_on;
            let item = RevalidationItem {
                registration_id: row.registration_id,
                account_key: row.account_key,
                platform: row.platform.into(),
                service_area: row.service_area,
                contact_subject: row.contact_subject,
                last_validated_at: row.last_validated_at,
                due_on,
                overdue: due_on <= today,
            };
            connection
                .edges
                .push(Edge::new(encode(&(due_on, item.registration_id)), item));
        }
        Ok(connection)
    }

    /// Published registrations whose business contact has not acknowledged
    /// the current social media policy, by registration (communications and
    /// auditors see all; a business contact their own).
    async fn policy_acknowledgements_due(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only those past their due date.")] overdue_only: Option<bool>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
        #[graphql(desc = "Wait (bounded) until the read models reach this log position.")]
        at_least_position: Option<i64>,
    ) -> Result<Connection<String, types::PolicyAcknowledgementItem>> {
        let _turn = super::pool_turn(ctx).await;
        let viewer = signed_in(ctx)?;
        wait_for_position(ctx, at_least_position).await?;
        let sees_all = viewer.actor.has(Role::Communications) || viewer.actor.has(Role::Auditor);
        let limit = page_size(first)?;
        let after: Option<Uuid> = cursor(after)?;
        // Overdue from its due date on, as re-validation is.
        let today = Utc::now().date_naive();
        let contact = (!sees_all).then_some(viewer.actor.subject.as_str());
        let due_by = overdue_only.unwrap_or(false).then_some(today);
        let rows = projections::staff::policy_acknowledgements_due(
            &app(ctx)?.pool,
            contact,
            due_by,
            after,
            limit + 1,
            settings(ctx).policy_acknowledgement_days,
        )
        .await?;
        let mut connection = Connection::new(after.is_some(), rows.len() as i64 > limit);
        for row in rows.into_iter().take(limit as usize) {
            let item = types::PolicyAcknowledgementItem {
                registration_id: row.registration_id,
                account_key: row.account_key,
                platform: row.platform.into(),
                service_area: row.service_area,
                contact_subject: row.contact_subject,
                acknowledged_version: row.acknowledged_version,
                acknowledged_at: row.acknowledged_at,
                current_version: row.current_version,
                due_on: row.due_on,
                overdue: row.due_on <= today,
            };
            connection
                .edges
                .push(Edge::new(encode(&item.registration_id), item));
        }
        Ok(connection)
    }

    /// The published versions of the social media policy, the current one
    /// first (signed-in staff).
    async fn policy_versions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Wait (bounded) until the read models reach this log position.")]
        at_least_position: Option<i64>,
    ) -> Result<Vec<types::PolicyVersion>> {
        let _turn = super::pool_turn(ctx).await;
        signed_in(ctx)?;
        wait_for_position(ctx, at_least_position).await?;
        let rows = projections::staff::policy_versions(&app(ctx)?.pool).await?;
        Ok(rows
            .into_iter()
            .map(|r| types::PolicyVersion {
                version: r.version,
                published_on: r.published_on,
                summary: r.summary,
                url: r.url,
                published_at: r.published_at,
            })
            .collect())
    }

    /// Job roles accepted for level 3 (public).
    async fn job_roles(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Also those taken off the list.")] include_withdrawn: Option<bool>,
    ) -> Result<Vec<JobRole>> {
        let _turn = super::pool_turn(ctx).await;
        let rows = staff::job_roles(&app(ctx)?.pool, include_withdrawn.unwrap_or(false)).await?;
        Ok(rows
            .into_iter()
            .map(|r| JobRole {
                code: r.code,
                title: r.title,
                accepted: r.accepted,
            })
            .collect())
    }

    /// The council's organisational units (public).
    async fn organisational_units(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Also retired units.")] include_retired: Option<bool>,
    ) -> Result<Vec<OrganisationalUnit>> {
        let _turn = super::pool_turn(ctx).await;
        let rows = staff::org_units(&app(ctx)?.pool, include_retired.unwrap_or(false)).await?;
        Ok(rows
            .into_iter()
            .map(|r| OrganisationalUnit {
                code: r.code,
                name: r.name,
                retired: r.retired,
            })
            .collect())
    }

    /// Every platform and whether it takes new registrations (public).
    async fn platforms(&self, ctx: &Context<'_>) -> Result<Vec<PlatformInfo>> {
        let _turn = super::pool_turn(ctx).await;
        let reference = reference(ctx).await?;
        Ok(platform::Platform::ALL
            .into_iter()
            .map(|p| PlatformInfo {
                platform: p.into(),
                name: p.display_name().to_owned(),
                enabled: reference.platform_enabled(p),
                disabled_reason: reference.disabled_platforms.get(&p).cloned(),
            })
            .collect())
    }

    /// The speaking-authority register (sign-in required).
    async fn speaking_authorities(&self, ctx: &Context<'_>) -> Result<Vec<SpeakingAuthority>> {
        let _turn = super::pool_turn(ctx).await;
        signed_in(ctx)?;
        let reference = reference(ctx).await?;
        Ok(reference
            .speaking_authorities
            .iter()
            .filter(|(_, topics)| !topics.is_empty())
            .map(|(subject, topics)| SpeakingAuthority {
                subject: subject.clone(),
                councillor: reference.is_councillor(subject),
                topics: topics.iter().cloned().collect(),
            })
            .collect())
    }

    /// The topics level-4 forms and the speaking-authority register choose
    /// from, by code (public).
    async fn topics(&self, ctx: &Context<'_>) -> Result<Vec<types::Topic>> {
        let _turn = super::pool_turn(ctx).await;
        let reference = reference(ctx).await?;
        Ok(reference
            .topics
            .iter()
            .map(|(code, name)| types::Topic {
                code: code.clone(),
                name: name.clone(),
            })
            .collect())
    }

    /// The raw event log by position (auditors). The cursor is the position.
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Start after this position (default 0: the beginning).")] after: Option<
            String,
        >,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Only events matching every given filter.")] filter: Option<EventFilter>,
    ) -> Result<Connection<String, LoggedEvent>> {
        let _turn = super::pool_turn(ctx).await;
        with_role(ctx, &[Role::Auditor])?;
        let limit = page_size(first)?;
        let after_position = match after {
            None => 0,
            Some(text) => text
                .parse::<i64>()
                .ok()
                .filter(|p| *p >= 0)
                .ok_or_else(|| {
                    errors::bad_input("after", "must be a log position (a whole number)")
                })?,
        };
        let filter = filter.unwrap_or_default();
        let stream = match (&filter.stream_id, filter.registration_id) {
            (Some(_), Some(_)) => {
                return Err(errors::bad_input(
                    "filter.registrationId",
                    "give either streamId or registrationId, not both",
                ))
            }
            (Some(s), None) => Some(s.clone()),
            (None, Some(id)) => Some(domain::registration::stream_id(id)),
            (None, None) => None,
        };
        let events = app(ctx)?
            .store
            .read_filtered(
                after_position,
                limit + 1,
                stream.as_deref(),
                filter.event_types.as_deref(),
            )
            .await?;
        let mut connection = Connection::new(after_position > 0, events.len() as i64 > limit);
        for e in events.into_iter().take(limit as usize) {
            connection
                .edges
                .push(Edge::new(e.position.to_string(), LoggedEvent::from(e)));
        }
        Ok(connection)
    }

    /// Every step of one registration, oldest first, with who did it, in
    /// which role, and the correlation id (auditors and communications).
    async fn registration_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The registration's id.")] id: Uuid,
    ) -> Result<Vec<HistoryEntry>> {
        let _turn = super::pool_turn(ctx).await;
        with_role(ctx, &[Role::Auditor, Role::Communications])?;
        let app = app(ctx)?;
        let items = app::audit::history(&app.store, &app.vault, id).await?;
        if items.is_empty() {
            return Err(errors::not_found(format!("no registration {id}")));
        }
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let e = &item.event;
            let actor = &e.metadata["actor"];
            out.push(HistoryEntry {
                position: e.position,
                version: e.stream_version,
                event_type: e.event_type.clone(),
                recorded_at: e.recorded_at,
                actor_subject: actor["subject"].as_str().map(str::to_owned),
                actor_roles: actor["roles"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|r| r.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
                actor_name: item.actor_name.clone(),
                correlation_id: e.metadata["correlationId"].as_str().map(str::to_owned),
                command: e.metadata["command"].as_str().map(str::to_owned),
                payload: async_graphql::Json(e.payload.clone()),
                personal_data: async_graphql::Json(item.revealed.clone()),
                status: item
                    .state
                    .as_ref()
                    .map_or(Status::Submitted, |s| s.status)
                    .into(),
            });
        }
        Ok(out)
    }
}

impl From<staff::QueueRow> for ApprovalItem {
    fn from(row: staff::QueueRow) -> Self {
        ApprovalItem {
            registration_id: row.registration_id,
            role: row.role.into(),
            step: row.step,
            assignee: row.assignee,
            level: row.level.map(Into::into),
            account_key: row.account_key,
            service_area: row.service_area,
            waiting_since: row.waiting_since,
        }
    }
}

/// A cursor as `OpaqueCursor` decodes it: base64url of the JSON sort key.
fn encode<T: serde::Serialize>(value: &T) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(value).unwrap_or_default())
}

async fn reference(ctx: &Context<'_>) -> Result<std::sync::Arc<domain::reference::ReferenceData>> {
    Ok(app(ctx)?.handler.reference_data().await?)
}
