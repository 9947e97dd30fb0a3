//! Insight for communications and auditors: how many accounts, where, how
//! long publication takes, and what is overdue.

use async_graphql::{Context, Object, SimpleObject};
use chrono::Utc;
use domain::Role;

use super::types::{Level, Platform, RegistrationStatus};
use super::{app, with_role};
use crate::errors::Result;

/// How many registrations are in one status.
#[derive(SimpleObject, Debug, Clone)]
pub struct StatusCount {
    /// The status.
    pub status: RegistrationStatus,
    /// How many registrations are in it.
    pub count: i64,
}

/// How many published accounts are at one level.
#[derive(SimpleObject, Debug, Clone)]
pub struct LevelCount {
    /// The level.
    pub level: Level,
    /// How many published accounts.
    pub count: i64,
}

/// How many published accounts are on one platform.
#[derive(SimpleObject, Debug, Clone)]
pub struct PlatformCount {
    /// The platform.
    pub platform: Platform,
    /// How many published accounts.
    pub count: i64,
}

/// How many published accounts one organisational unit runs.
#[derive(SimpleObject, Debug, Clone)]
pub struct ServiceAreaCount {
    /// The unit's code (`organisationalUnits` has its name).
    pub service_area: String,
    /// How many published accounts.
    pub count: i64,
}

/// Time from submission to publication at one level.
#[derive(SimpleObject, Debug, Clone)]
pub struct PublicationTime {
    /// The level.
    pub level: Level,
    /// How many published registrations the figures are over.
    pub published: i64,
    /// The median, in hours.
    pub median_hours: f64,
    /// The 90th percentile, in hours.
    pub p90_hours: f64,
}

/// The registry's figures, from one snapshot of the read models.
#[derive(SimpleObject, Debug, Clone)]
pub struct Insight {
    /// Every registration, by status.
    pub by_status: Vec<StatusCount>,
    /// Published accounts by level, most first.
    pub by_level: Vec<LevelCount>,
    /// Published accounts by platform, most first.
    pub by_platform: Vec<PlatformCount>,
    /// Published accounts by organisational unit, most first.
    pub by_service_area: Vec<ServiceAreaCount>,
    /// Time from submission to publication, by level (levels with none
    /// published yet are left out).
    pub publication_times: Vec<PublicationTime>,
    /// Published accounts whose re-validation date has come.
    pub overdue_revalidations: i64,
    /// Fake-account reports not yet closed.
    pub open_fake_reports: i64,
}

/// Reads of the figures.
#[derive(Default)]
pub struct InsightQuery;

#[Object]
impl InsightQuery {
    /// The registry's figures: accounts by level, status, platform and
    /// service; time from submission to publication (median and 90th
    /// percentile by level); overdue re-validations; open fake reports
    /// (communications, auditors).
    async fn insight(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Wait (bounded) until the read models reach this log position.")]
        at_least_position: Option<i64>,
    ) -> Result<Insight> {
        let _turn = super::pool_turn(ctx).await;
        with_role(ctx, &[Role::Communications, Role::Auditor])?;
        super::wait_for_position(ctx, at_least_position).await?;
        let i = projections::insight::insight(&app(ctx)?.pool, Utc::now().date_naive()).await?;
        let hours = |s: f64| s / 3600.0;
        Ok(Insight {
            by_status: i
                .by_status
                .into_iter()
                .map(|(s, count)| StatusCount {
                    status: s.into(),
                    count,
                })
                .collect(),
            by_level: i
                .by_level
                .into_iter()
                .map(|(l, count)| LevelCount {
                    level: l.into(),
                    count,
                })
                .collect(),
            by_platform: i
                .by_platform
                .into_iter()
                .map(|(p, count)| PlatformCount {
                    platform: p.into(),
                    count,
                })
                .collect(),
            by_service_area: i
                .by_service_area
                .into_iter()
                .map(|(service_area, count)| ServiceAreaCount {
                    service_area,
                    count,
                })
                .collect(),
            publication_times: i
                .publication_times
                .into_iter()
                .map(|t| {
                    Ok(PublicationTime {
                        level: projections::columns::level("level", t.level)?.into(),
                        published: t.published,
                        median_hours: hours(t.median_seconds),
                        p90_hours: hours(t.p90_seconds),
                    })
                })
                .collect::<std::result::Result<_, projections::columns::UnknownValue>>()
                .map_err(projections::staff::ReadError::from)?,
            overdue_revalidations: i.overdue_revalidations,
            open_fake_reports: i.open_fake_reports,
        })
    }
}
