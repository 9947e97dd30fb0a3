//! Live updates over `/graphql/ws` (graphql-transport-ws, and the legacy
//! graphql-ws protocol). Every subscription reads the process's one log
//! tail (`app::live`) and filters it in memory with the domain's access
//! rules: no gap and no duplicate, even across the seam between history and
//! live events, and no database work while nothing happens.

use crate::errors::Result;
use async_graphql::{Context, Subscription as SubscriptionObject};
use domain::Role;
use futures::{Stream, StreamExt};
use uuid::Uuid;

use super::types::{self, ApprovalActivity, LoggedEvent, RegistrationNode};
use super::{app, signed_in, with_role};
use crate::errors;
use app::commands::load_registration;

/// Live streams. All need a sign-in.
pub struct Subscription;

/// Where a live subscription starts: after `from_position` when given (so a
/// client that read at a position misses nothing after it), else at the head.
async fn start(app: &app::state::AppState, from_position: Option<i64>) -> Result<i64> {
    let head = app.store.head().await?.position;
    match from_position {
        None => Ok(head),
        Some(p) if (0..=head).contains(&p) => Ok(p),
        Some(_) => Err(errors::bad_input(
            "fromPosition",
            format!("must be between 0 and the head of the log, {head}"),
        )),
    }
}

/// Live streams over `/graphql/ws`. All need a sign-in.
#[SubscriptionObject]
impl Subscription {
    /// Every step of the approvals visible to `role`, as it happens:
    /// submissions, amendments, risk assessments and signatures, sign-offs,
    /// listings, branding approvals, approvals, requests for changes,
    /// rejections, publications, withdrawals, re-validations. You must hold
    /// the role (auditors may watch any). Communications and auditors see
    /// everything; the consultation team level 2; line managers and senior
    /// officers what names them in that capacity; staff their own.
    async fn approval_activity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The role to watch as; you must hold it.")] role: types::Role,
        #[graphql(
            desc = "Start after this log position (e.g. `logPosition` read with the queue), so nothing in between is missed; default: now."
        )]
        from_position: Option<i64>,
    ) -> Result<impl Stream<Item = Result<ApprovalActivity>>> {
        let viewer = signed_in(ctx)?.clone();
        let role: Role = role.into();
        if !domain::access::may_watch(&viewer.actor, role) {
            return Err(errors::forbidden(format!("this needs the `{role}` role")));
        }
        let app = app(ctx)?.clone();
        let after = start(&app, from_position).await?;
        let events = app.live.subscribe(after);
        Ok(async_stream::stream! {
            let _active = crate::metrics::ActiveSubscription::open("approvalActivity");
            futures::pin_mut!(events);
            while let Some(next) = events.next().await {
                let live = match next {
                    Ok(e) => e,
                    Err(e) => { yield Err(errors::ApiError::from(e)); return; }
                };
                let Some(state) = live.registration.as_deref() else { continue };
                if !domain::access::activity_visible(&viewer.actor, role, state) {
                    continue;
                }
                let event = &live.event;
                let id = state.id;
                yield Ok(ApprovalActivity {
                    position: event.position,
                    registration_id: id,
                    event_type: event.event_type.clone(),
                    by: event.metadata["actor"]["subject"].as_str().map(str::to_owned),
                    at: event.recorded_at,
                    level: state.level().into(),
                    account_key: state.account_key.to_string(),
                    status: state.status.into(),
                    outstanding_steps: state.outstanding().iter().map(types::step_name).collect(),
                });
            }
        })
    }

    /// The log position of each event that may change what waits for you
    /// (`myApprovals`), in any role you hold: a step of a registration you
    /// may watch, and for communications a report of a fake account. Read
    /// `myApprovals(atLeastPosition:)` at the position to see the change;
    /// the staff app's home does this.
    async fn my_queue_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Start after this log position; default: now.")] from_position: Option<
            i64,
        >,
    ) -> Result<impl Stream<Item = Result<i64>>> {
        let viewer = signed_in(ctx)?.clone();
        if domain::access::integration_only(&viewer.actor) {
            return Err(errors::forbidden("an integration has no queue"));
        }
        let app = app(ctx)?.clone();
        let after = start(&app, from_position).await?;
        let events = app.live.subscribe(after);
        let roles: Vec<Role> = viewer.actor.roles.iter().copied().collect();
        Ok(async_stream::stream! {
            let _active = crate::metrics::ActiveSubscription::open("myQueueChanged");
            futures::pin_mut!(events);
            while let Some(next) = events.next().await {
                let live = match next {
                    Ok(e) => e,
                    Err(e) => { yield Err(errors::ApiError::from(e)); return; }
                };
                let visible = match live.registration.as_deref() {
                    Some(r) => roles
                        .iter()
                        .any(|role| domain::access::activity_visible(&viewer.actor, *role, r)),
                    None => {
                        viewer.actor.has(Role::Communications)
                            && live.event.stream_id.starts_with(domain::streams::REPORT)
                    }
                };
                if visible {
                    yield Ok(live.event.position);
                }
            }
        })
    }

    /// The registration each time it changes, as folded from its stream. The
    /// stream ends when you may no longer read it (e.g. an amendment took
    /// your name off it).
    async fn registration_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The registration's id.")] id: Uuid,
        #[graphql(desc = "Start after this log position; default: now.")] from_position: Option<
            i64,
        >,
    ) -> Result<impl Stream<Item = Result<RegistrationNode>>> {
        let viewer = signed_in(ctx)?.clone();
        let app = app(ctx)?.clone();
        let after = start(&app, from_position).await?;
        let (state, _) = load_registration(&app.store, id).await?;
        let state = state.ok_or_else(|| errors::not_found(format!("no registration {id}")))?;
        if !domain::access::may_read(&viewer.actor, &state) {
            return Err(errors::forbidden(
                "you may watch only registrations you may read",
            ));
        }
        let stream_id = domain::registration::stream_id(id);
        let events = app.live.subscribe(after);
        drop(state);
        Ok(async_stream::stream! {
            let _active = crate::metrics::ActiveSubscription::open("registrationChanged");
            futures::pin_mut!(events);
            while let Some(next) = events.next().await {
                let live = match next {
                    Ok(e) => e,
                    Err(e) => { yield Err(errors::ApiError::from(e)); return; }
                };
                if live.event.stream_id != stream_id {
                    continue;
                }
                let Some(state) = live.registration.clone() else { continue };
                if !domain::access::may_read(&viewer.actor, &state) {
                    return;
                }
                yield Ok(RegistrationNode(state));
            }
        })
    }

    /// Every event after `fromPosition` (auditors and integrations): first
    /// the history, then live, with no gap and no duplicate. After a
    /// disconnect, subscribe again from the last position you received.
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Receive the events after this position (0: from the beginning).")]
        from_position: i64,
    ) -> Result<impl Stream<Item = Result<LoggedEvent>>> {
        with_role(ctx, &[Role::Auditor])?;
        if from_position < 0 {
            return Err(errors::bad_input("fromPosition", "must not be negative"));
        }
        let app = app(ctx)?.clone();
        let events = app.live.subscribe(from_position);
        Ok(async_stream::stream! {
            let _active = crate::metrics::ActiveSubscription::open("events");
            futures::pin_mut!(events);
            while let Some(next) = events.next().await {
                match next {
                    Ok(e) => yield Ok(LoggedEvent::from(e.event.clone())),
                    Err(e) => { yield Err(errors::ApiError::from(e)); return; }
                }
            }
        })
    }
}
