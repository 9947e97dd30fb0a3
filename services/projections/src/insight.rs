//! Figures for communications and auditors, counted by the database from
//! the read models (never by paging every registration through the app).

use chrono::NaiveDate;
use domain::platform::Platform;
use domain::registration::Status;
use domain::Level;
use sqlx::PgPool;

use crate::columns;
use crate::staff::ReadError;

/// How many registrations share one value of a dimension (as stored).
#[derive(Debug, Clone)]
struct Count {
    /// `level`, `status`, `platform` or `service_area`.
    pub dimension: String,
    /// The value: a level's number, a status, a platform or a unit's code.
    pub value: String,
    /// How many.
    pub count: i64,
}

/// Time from submission to publication, for one level.
#[derive(Debug, Clone)]
pub struct PublicationTime {
    /// The level's number.
    pub level: i16,
    /// How many published registrations it is over.
    pub published: i64,
    /// Median, in seconds.
    pub median_seconds: f64,
    /// 90th percentile, in seconds.
    pub p90_seconds: f64,
}

/// Everything the insight page shows.
#[derive(Debug, Clone)]
pub struct Insight {
    /// Every registration, by status.
    pub by_status: Vec<(Status, i64)>,
    /// Published accounts by level, most first.
    pub by_level: Vec<(Level, i64)>,
    /// Published accounts by platform, most first.
    pub by_platform: Vec<(Platform, i64)>,
    /// Published accounts by organisational unit's code, most first.
    pub by_service_area: Vec<(String, i64)>,
    /// By level, over registrations that reached publication.
    pub publication_times: Vec<PublicationTime>,
    /// Published accounts whose re-validation date has come.
    pub overdue_revalidations: i64,
    /// Fake-account reports not yet closed.
    pub open_fake_reports: i64,
}

/// The figures, as of the read models now; `today` decides what is overdue.
pub async fn insight(pool: &PgPool, today: NaiveDate) -> Result<Insight, ReadError> {
    let mut tx = pool.begin().await?;
    // One snapshot for every figure, so they agree with each other.
    sqlx::query("set transaction isolation level repeatable read, read only")
        .execute(&mut *tx)
        .await?;
    let counts = sqlx::query_as!(
        Count,
        r#"select 'status' as "dimension!", status as "value!", count(*) as "count!"
             from read_models.registrations group by status
           union all
           select case when grouping(level) = 0 then 'level'
                       when grouping(platform) = 0 then 'platform'
                       else 'service_area' end as "dimension!",
                  coalesce(level::text, platform, service_area) as "value!",
                  count(*) as "count!"
             from read_models.registrations where status = 'published'
            group by grouping sets ((level), (platform), (service_area))
           order by 1, 3 desc, 2"#
    )
    .fetch_all(&mut *tx)
    .await?;
    let publication_times = sqlx::query_as!(
        PublicationTime,
        r#"select level as "level!", count(*) as "published!",
                  percentile_cont(0.5) within group
                      (order by extract(epoch from published_at - submitted_at)::float8) as "median_seconds!",
                  percentile_cont(0.9) within group
                      (order by extract(epoch from published_at - submitted_at)::float8) as "p90_seconds!"
             from read_models.registrations where published_at is not null
            group by level order by level"#
    )
    .fetch_all(&mut *tx)
    .await?;
    let overdue_revalidations = sqlx::query_scalar!(
        r#"select count(*) as "n!" from read_models.revalidation_due where due_on <= $1"#,
        today
    )
    .fetch_one(&mut *tx)
    .await?;
    let open_fake_reports = sqlx::query_scalar!(
        r#"select count(*) as "n!" from read_models.fake_reports where closed_at is null"#
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut insight = Insight {
        by_status: Vec::new(),
        by_level: Vec::new(),
        by_platform: Vec::new(),
        by_service_area: Vec::new(),
        publication_times,
        overdue_revalidations,
        open_fake_reports,
    };
    for c in counts {
        match c.dimension.as_str() {
            "status" => insight
                .by_status
                .push((columns::status("status", &c.value)?, c.count)),
            "level" => {
                let n = c.value.parse::<i16>().map_err(|_| columns::UnknownValue {
                    column: "level",
                    value: c.value.clone(),
                })?;
                insight
                    .by_level
                    .push((columns::level("level", n)?, c.count))
            }
            "platform" => insight
                .by_platform
                .push((columns::platform("platform", &c.value)?, c.count)),
            _ => insight.by_service_area.push((c.value, c.count)),
        }
    }
    Ok(insight)
}
