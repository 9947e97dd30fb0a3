//! Reminders and the projections watchdog: messages the clock calls for,
//! not an event.
//!
//! Reminders are decided from the log's facts and today's date
//! ([`domain::notify::reminders`]): the read models say which
//! registrations could need one (re-validation due within 30 days or
//! overdue, the current policy version not acknowledged, a consultation
//! closing within 7 days), and each of those is loaded from its stream and
//! decided. Each reminder's key is made of the registration, the date or
//! version it concerns, and the recipient, so running again (every hour,
//! on every instance, after a restart) adds nothing: no schedule is kept
//! that a crash could lose.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use domain::notify;
use sqlx::PgPool;
use uuid::Uuid;

use crate::commands::{load_registration, HandleError, Handler};

/// Decide the reminders due on `today` and add the new ones to the outbox.
/// Returns how many were new.
pub async fn remind(
    pool: &PgPool,
    handler: &Handler,
    today: NaiveDate,
    review_period_days: i64,
) -> Result<u64, HandleError> {
    let reference = handler.reference_data().await?;
    let policy = reference.current_policy().map(|p| p.version.clone());
    let candidates: Vec<Uuid> = sqlx::query_scalar(
        "select registration_id from read_models.revalidation_due where due_on <= $1 + $3::int \
         union select registration_id from read_models.revalidation_due \
               where $2::text is not null and policy_version <> $2 \
         union select registration_id from read_models.consultations \
               where closes_on between $1 and $1 + $4::int \
         order by 1",
    )
    .bind(today)
    .bind(&policy)
    .bind(notify::REVALIDATION_NOTICE_DAYS as i32)
    .bind(notify::CONSULTATION_NOTICE_DAYS as i32)
    .fetch_all(pool)
    .await?;
    let mut messages = Vec::new();
    for id in candidates {
        let (Some(r), _) = load_registration(handler.store(), id).await? else {
            continue;
        };
        messages.extend(
            notify::reminders(&r, today, review_period_days, policy.as_deref())
                .into_iter()
                .map(|m| (m, 0)),
        );
    }
    let mut tx = pool.begin().await?;
    let added = crate::notifier::queue(&mut tx, &messages).await?;
    sqlx::query(
        "insert into notifications.reminder_runs (day, reminders) values ($1, $2) \
         on conflict (day) do update set ran_at = now(), reminders = notifications.reminder_runs.reminders + excluded.reminders",
    )
    .bind(today)
    .bind(i32::try_from(added).unwrap_or(i32::MAX))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if added > 0 {
        metrics::counter!("notifications_queued_total").increment(added);
    }
    Ok(added)
}

/// Watches the read models: when one has stood still behind the log for
/// the stall period, operations is told (once per position it stopped at).
#[derive(Debug, Default)]
pub struct Watchdog {
    /// Each projection's position, and since when it has been there while
    /// behind the log.
    behind: HashMap<String, (i64, DateTime<Utc>)>,
}

impl Watchdog {
    /// Look once, at `now`; returns how many messages were new.
    pub async fn check(
        &mut self,
        pool: &PgPool,
        now: DateTime<Utc>,
        stall: chrono::Duration,
    ) -> Result<u64, HandleError> {
        let head: i64 = sqlx::query_scalar("select coalesce(max(position), 0) from events")
            .fetch_one(pool)
            .await?;
        let rows: Vec<(String, i64)> =
            sqlx::query_as("select projection, position from read_models.checkpoints")
                .fetch_all(pool)
                .await?;
        let mut stalled = Vec::new();
        for (projection, position) in rows {
            if position >= head {
                self.behind.remove(&projection);
                continue;
            }
            let since = match self.behind.get(&projection) {
                Some((p, since)) if *p == position => *since,
                _ => {
                    self.behind.insert(projection.clone(), (position, now));
                    now
                }
            };
            if now - since >= stall {
                stalled.push(position);
            }
        }
        // One message for all of them, keyed by the lowest position any
        // stopped at.
        let Some(lowest) = stalled.into_iter().min() else {
            return Ok(0);
        };
        let stalled = [(notify::on_projection_stalled("read_models", lowest), 0)];
        let mut tx = pool.begin().await?;
        let added = crate::notifier::queue(&mut tx, &stalled).await?;
        tx.commit().await?;
        if added > 0 {
            tracing::error!(
                projections = added,
                "the read models stopped following the log; operations is told"
            );
        }
        Ok(added)
    }
}
