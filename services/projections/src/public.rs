//! What the public may read: the directory of published accounts, the
//! verification of an account, officers' pages. One place, used by the
//! GraphQL fields and the server-rendered pages, so both publish exactly
//! the same things (and nothing else).

use foldhash::HashMap;

use chrono::{DateTime, Utc};
use domain::level::Level;
use domain::platform::{self, Platform};
use event_store::vault::Vault;
use sqlx::{PgPool, Row};

/// Failure reading the public models.
#[derive(Debug, thiserror::Error)]
pub enum PublicError {
    /// The database.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// The vault (officer names).
    #[error(transparent)]
    Vault(#[from] event_store::vault::VaultError),
}

/// A published account.
#[derive(Debug, Clone)]
pub struct DirectoryRow {
    /// The registration.
    pub registration_id: uuid::Uuid,
    /// The platform.
    pub platform: Platform,
    /// Canonical key.
    pub account_key: String,
    /// Public URL.
    pub account_url: String,
    /// Level.
    pub level: Level,
    /// Service code.
    pub service_area: String,
    /// Service name.
    pub service_name: Option<String>,
    /// Officer page slug (level 3).
    pub officer_slug: Option<String>,
    /// Published since.
    pub published_at: DateTime<Utc>,
}

/// Which part of the directory.
#[derive(Debug, Clone, Default)]
pub struct DirectoryQuery {
    /// Only this platform.
    pub platform: Option<Platform>,
    /// Only this service.
    pub service_area: Option<String>,
    /// Only this level.
    pub level: Option<Level>,
    /// Words to find in the account or the service's name.
    pub search: Option<String>,
    /// After this account key (pagination).
    pub after: Option<String>,
    /// How many rows (one more is fetched to tell whether there are more).
    pub limit: i64,
}

/// A coded column read back, or a decoding error naming it.
fn decoded<T>(r: Result<T, crate::columns::UnknownValue>) -> Result<T, sqlx::Error> {
    r.map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn level_from(n: i16) -> Result<Level, sqlx::Error> {
    decoded(crate::columns::level("level", n))
}

fn platform_from(code: &str) -> Result<Platform, sqlx::Error> {
    decoded(crate::columns::platform("platform", code))
}

/// `%words%` for a case-insensitive LIKE, with LIKE's own characters
/// escaped (the public directory and the registrations filter both use it).
pub fn like_pattern(search: Option<&str>) -> Option<String> {
    search.map(str::trim).filter(|s| !s.is_empty()).map(|s| {
        let escaped = s
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    })
}

/// Service code → name.
pub async fn service_names(pool: &PgPool) -> Result<HashMap<String, String>, sqlx::Error> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("select code, name from read_models.org_units")
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().collect())
}

/// Published accounts by account key: up to `limit + 1` rows.
pub async fn directory(
    pool: &PgPool,
    q: &DirectoryQuery,
) -> Result<Vec<DirectoryRow>, sqlx::Error> {
    let services = service_names(pool).await?;
    let search = like_pattern(q.search.as_deref());
    let rows = sqlx::query(
        "select d.registration_id, d.platform, d.account_key, d.account_url, d.level, d.service_area, \
           d.officer_slug, d.published_at from read_models.directory d \
           left join read_models.org_units u on u.code = d.service_area \
         where ($1::text is null or d.platform = $1) and ($2::text is null or d.service_area = $2) \
           and ($3::smallint is null or d.level = $3) and ($4::text is null or d.account_key > $4) \
           and ($5::text is null or lower(d.account_key) like $5 or lower(d.account_url) like $5 \
                or lower(coalesce(u.name, '')) like $5) \
         order by d.account_key limit $6",
    )
    .bind(q.platform.map(|p| p.code()))
    .bind(q.service_area.as_deref())
    .bind(q.level.map(|l| i16::from(l.number())))
    .bind(q.after.as_deref())
    .bind(search)
    .bind(q.limit + 1)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let service_area: String = row.try_get("service_area")?;
            Ok(DirectoryRow {
                registration_id: row.try_get("registration_id")?,
                platform: platform_from(row.try_get("platform")?)?,
                account_key: row.try_get("account_key")?,
                account_url: row.try_get("account_url")?,
                level: level_from(row.try_get("level")?)?,
                service_name: services.get(&service_area).cloned(),
                service_area,
                officer_slug: row.try_get("officer_slug")?,
                published_at: row.try_get("published_at")?,
            })
        })
        .collect()
}

/// A registered account as verification answers.
#[derive(Debug, Clone)]
pub struct Account {
    /// The platform.
    pub platform: Platform,
    /// Canonical key.
    pub account_key: String,
    /// Public URL.
    pub account_url: String,
    /// Still official.
    pub verified: bool,
    /// Level.
    pub level: Level,
    /// Service code.
    pub service_area: String,
    /// Service name.
    pub service_name: Option<String>,
    /// Officer page slug (level 3).
    pub officer_slug: Option<String>,
    /// Official since.
    pub verified_since: DateTime<Utc>,
    /// Withdrawn on.
    pub withdrawn_at: Option<DateTime<Utc>>,
    /// When the council last confirmed it: its publication, or its latest
    /// re-validation.
    pub last_confirmed_at: DateTime<Utc>,
    /// When a published change renamed the account: what it is now.
    pub renamed: Option<Renamed>,
    /// Level 3: when communications checked that its profile links to the
    /// officer's page (none: not checked).
    pub link_back_checked_at: Option<DateTime<Utc>>,
    /// The platform's permanent id of the account, when recorded
    /// (`x:pid:1234567890`).
    pub permanent_id: Option<String>,
}

/// What a permanent id given with a verification says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermanentCheck {
    /// None was given.
    NotGiven,
    /// It is the registered account's.
    Matches,
    /// The council has not recorded the account's permanent id.
    NotRecorded,
    /// The registered account has another: whoever holds the handle now is
    /// not the account the council registered.
    Different,
}

/// The answer to a verification.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The account keys the input was read as.
    pub keys: Vec<String>,
    /// The registered account found, if any.
    pub account: Option<Account>,
    /// True when it was found by its permanent id, not its handle.
    pub by_permanent_id: bool,
    /// What the permanent id given says.
    pub permanent: PermanentCheck,
}

/// The account an old handle was renamed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renamed {
    /// Its canonical key now.
    pub account_key: String,
    /// Its public URL now.
    pub account_url: String,
    /// Since when.
    pub at: DateTime<Utc>,
}

/// When the public is told that an account's confirmation is overdue: its
/// re-validation falls due `review_period_days` after it was last
/// confirmed, and the public answer says so once `grace_days` more have
/// passed (the account is still the council's until it is withdrawn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfirmationPolicy {
    /// `REGISTRY_REVIEW_PERIOD_DAYS`.
    pub review_period_days: i64,
    /// `REGISTRY_CONFIRMATION_GRACE_DAYS`.
    pub grace_days: i64,
}

impl Default for ConfirmationPolicy {
    fn default() -> Self {
        ConfirmationPolicy {
            review_period_days: domain::registration::DEFAULT_REVIEW_PERIOD_DAYS,
            grace_days: DEFAULT_CONFIRMATION_GRACE_DAYS,
        }
    }
}

/// The grace after the review date before the public is told (days).
pub const DEFAULT_CONFIRMATION_GRACE_DAYS: i64 = 30;

impl Account {
    /// Since when the public is told its confirmation is overdue (`None`
    /// for a withdrawn account).
    pub fn confirmation_overdue_from(&self, policy: ConfirmationPolicy) -> Option<DateTime<Utc>> {
        self.verified.then(|| {
            self.last_confirmed_at
                + chrono::Duration::days(policy.review_period_days + policy.grace_days)
        })
    }

    /// Whether, at `now`, the public is told its confirmation is overdue.
    pub fn confirmation_overdue(&self, policy: ConfirmationPolicy, now: DateTime<Utc>) -> bool {
        self.confirmation_overdue_from(policy)
            .is_some_and(|from| now >= from)
    }
}

const VERIFICATION_COLUMNS: &str = "account_key, platform, account_url, status, level, \
     service_area, officer_slug, verified_since, withdrawn_at, last_confirmed_at, renamed_to, \
     renamed_to_url, renamed_at, link_back_checked_at, permanent_id";

fn account(
    row: &sqlx::postgres::PgRow,
    services: &HashMap<String, String>,
) -> Result<Account, sqlx::Error> {
    let service_area: String = row.try_get("service_area")?;
    let status: String = row.try_get("status")?;
    Ok(Account {
        platform: platform_from(row.try_get("platform")?)?,
        account_key: row.try_get("account_key")?,
        account_url: row.try_get("account_url")?,
        verified: status == "verified",
        level: level_from(row.try_get("level")?)?,
        service_name: services.get(&service_area).cloned(),
        service_area,
        officer_slug: row.try_get("officer_slug")?,
        verified_since: row.try_get("verified_since")?,
        withdrawn_at: row.try_get("withdrawn_at")?,
        last_confirmed_at: row.try_get("last_confirmed_at")?,
        renamed: match (
            row.try_get::<Option<String>, _>("renamed_to")?,
            row.try_get::<Option<String>, _>("renamed_to_url")?,
            row.try_get::<Option<DateTime<Utc>>, _>("renamed_at")?,
        ) {
            (Some(account_key), Some(account_url), Some(at)) => Some(Renamed {
                account_key,
                account_url,
                at,
            }),
            _ => None,
        },
        link_back_checked_at: row.try_get("link_back_checked_at")?,
        permanent_id: row.try_get("permanent_id")?,
    })
}

/// Verify pasted text: the keys it was read as, and the registered account
/// when there is one (a verified one before a withdrawn one).
pub async fn verify(
    pool: &PgPool,
    input: &str,
) -> Result<(Vec<String>, Option<Account>), sqlx::Error> {
    let keys: Vec<String> = platform::candidates(input)
        .iter()
        .map(ToString::to_string)
        .collect();
    let services = service_names(pool).await?;
    let row = sqlx::query(&format!(
        "select {VERIFICATION_COLUMNS} from read_models.verification_accounts \
         where account_key = any($1) order by (status = 'verified') desc, verified_since desc limit 1"
    ))
    .bind(&keys)
    .fetch_optional(pool)
    .await?;
    let found = row.map(|r| account(&r, &services)).transpose()?;
    Ok((keys, found))
}

/// A level-3 officer's public page.
#[derive(Debug, Clone)]
pub struct OfficerPage {
    /// Slug.
    pub slug: String,
    /// Name (None once erased).
    pub name: Option<String>,
    /// Job role title.
    pub job_title: String,
    /// Service code.
    pub service_area: String,
    /// Service name.
    pub service_name: Option<String>,
    /// Published since.
    pub published_since: DateTime<Utc>,
    /// Their accounts.
    pub accounts: Vec<Account>,
}

/// The officer page with this slug.
pub async fn officer(
    pool: &PgPool,
    vault: &Vault,
    slug: &str,
) -> Result<Option<OfficerPage>, PublicError> {
    let row = sqlx::query(
        "select o.slug, o.name, coalesce(j.title, o.job_role) as job_title, o.service_area, o.published_since \
         from read_models.officers o left join read_models.job_roles j on j.code = o.job_role \
         where o.slug = $1",
    )
    .bind(slug)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let services = service_names(pool).await?;
    let rows = sqlx::query(&format!(
        "select {VERIFICATION_COLUMNS} from read_models.verification_accounts \
         where officer_slug = $1 order by account_key"
    ))
    .bind(slug)
    .fetch_all(pool)
    .await?;
    let accounts = rows
        .iter()
        .map(|r| account(r, &services))
        .collect::<Result<Vec<_>, _>>()?;
    let name: serde_json::Value = row.try_get("name")?;
    let name = match serde_json::from_value::<domain::personal::Sealed>(name) {
        Ok(sealed) => vault
            .open(&event_store::vault::Sealed {
                person: sealed.person,
                sealed: sealed.sealed,
            })
            .await?
            .as_value()
            .map(str::to_owned),
        Err(_) => None, // the erased marker
    };
    let service_area: String = row.try_get("service_area")?;
    Ok(Some(OfficerPage {
        slug: row.try_get("slug")?,
        name,
        job_title: row.try_get("job_title")?,
        service_name: services.get(&service_area).cloned(),
        service_area,
        published_since: row.try_get("published_since")?,
        accounts,
    }))
}

/// Every account verification knows, verified or withdrawn, for the feeds.
pub async fn all_accounts(pool: &PgPool) -> Result<Vec<Account>, sqlx::Error> {
    let services = service_names(pool).await?;
    let rows = sqlx::query(&format!(
        "select {VERIFICATION_COLUMNS} from read_models.verification_accounts order by account_key"
    ))
    .fetch_all(pool)
    .await?;
    rows.iter().map(|r| account(r, &services)).collect()
}

/// An officer's page as the read model holds it (the name still sealed).
#[derive(Debug, Clone)]
pub struct OfficerEntry {
    /// Slug.
    pub slug: String,
    /// The name, sealed; `None` once erased.
    pub name: Option<domain::personal::Sealed>,
    /// Job role title.
    pub job_title: String,
    /// Service code.
    pub service_area: String,
    /// Published since.
    pub published_since: DateTime<Utc>,
}

/// Everything the public may ask about one account or officer, held in
/// memory: a consistent copy of the verification and reference models at
/// one log position.
#[derive(Debug, Clone, Default)]
pub struct PublicSnapshot {
    /// The log position every model copied here had reached.
    pub position: i64,
    /// Canonical key → the account (a verified one before a withdrawn one).
    accounts: HashMap<String, Account>,
    /// Permanent id → the canonical key of the account that holds it.
    permanent: HashMap<String, String>,
    /// Slug → the officer.
    officers: HashMap<String, OfficerEntry>,
    /// Slug → their accounts, by key.
    officer_accounts: HashMap<String, Vec<Account>>,
    /// Service code → name.
    services: HashMap<String, String>,
}

/// The models a [`PublicSnapshot`] copies.
const SNAPSHOT_MODELS: [&str; 2] = ["verification", "reference"];

impl PublicSnapshot {
    /// Copy the verification and reference models, in one snapshot
    /// transaction so rows and position agree.
    pub async fn load(pool: &PgPool) -> Result<PublicSnapshot, sqlx::Error> {
        let mut tx = pool.begin().await?;
        sqlx::query("set transaction isolation level repeatable read, read only")
            .execute(&mut *tx)
            .await?;
        let position: Option<i64> = sqlx::query_scalar(
            "select min(position) from read_models.checkpoints where projection = any($1)",
        )
        .bind(&SNAPSHOT_MODELS[..])
        .fetch_one(&mut *tx)
        .await?;
        let services: HashMap<String, String> =
            sqlx::query_as::<_, (String, String)>("select code, name from read_models.org_units")
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect();
        let rows = sqlx::query(&format!(
            "select {VERIFICATION_COLUMNS} from read_models.verification_accounts \
             order by account_key"
        ))
        .fetch_all(&mut *tx)
        .await?;
        let mut snapshot = PublicSnapshot {
            position: position.unwrap_or(0),
            ..PublicSnapshot::default()
        };
        for row in &rows {
            let a = account(row, &services)?;
            if let Some(slug) = &a.officer_slug {
                snapshot
                    .officer_accounts
                    .entry(slug.clone())
                    .or_default()
                    .push(a.clone());
            }
            if let Some(pid) = a.permanent_id.clone().filter(|_| a.verified) {
                snapshot.permanent.insert(pid, a.account_key.clone());
            }
            snapshot.accounts.insert(a.account_key.clone(), a);
        }
        let officers = sqlx::query(
            "select o.slug, o.name, coalesce(j.title, o.job_role) as job_title, o.service_area, \
               o.published_since \
             from read_models.officers o left join read_models.job_roles j on j.code = o.job_role",
        )
        .fetch_all(&mut *tx)
        .await?;
        for row in &officers {
            let name: serde_json::Value = row.try_get("name")?;
            let entry = OfficerEntry {
                slug: row.try_get("slug")?,
                // The erased marker has no ciphertext: it reads as `None`.
                name: serde_json::from_value(name).ok(),
                job_title: row.try_get("job_title")?,
                service_area: row.try_get("service_area")?,
                published_since: row.try_get("published_since")?,
            };
            snapshot.officers.insert(entry.slug.clone(), entry);
        }
        tx.commit().await?;
        snapshot.services = services;
        Ok(snapshot)
    }

    /// A service's name.
    pub fn service_name(&self, code: &str) -> Option<&str> {
        self.services.get(code).map(String::as_str)
    }

    /// Verify pasted text: the keys it was read as, and the registered
    /// account when there is one (a verified one before a withdrawn one,
    /// then the most recently verified), as [`verify`] answers.
    pub fn verify(&self, input: &str) -> (Vec<String>, Option<Account>) {
        let keys: Vec<String> = platform::candidates(input)
            .iter()
            .map(ToString::to_string)
            .collect();
        let found = keys
            .iter()
            .filter_map(|k| self.accounts.get(k))
            .max_by_key(|a| (a.verified, a.verified_since))
            .cloned();
        (keys, found)
    }

    /// Verify pasted text, and with it, when given, the platform's permanent
    /// id of the account it names: the account is found by its handle or,
    /// failing that, by a permanent id (pasted as the text, or given).
    pub fn verify_with(&self, input: &str, permanent_id: Option<&str>) -> Verdict {
        let (keys, mut account) = self.verify(input);
        let mut by_permanent_id = false;
        let by_pid = |text: &str| {
            platform::permanent::candidates(text)
                .iter()
                .find_map(|k| self.permanent.get(&k.to_string()))
                .and_then(|key| self.accounts.get(key))
                .cloned()
        };
        if account.is_none() {
            account = by_pid(input).or_else(|| permanent_id.and_then(by_pid));
            by_permanent_id = account.is_some();
        }
        let permanent = match (permanent_id, &account) {
            (None, _) | (Some(_), None) => PermanentCheck::NotGiven,
            (Some(given), Some(a)) => match &a.permanent_id {
                None => PermanentCheck::NotRecorded,
                Some(recorded) => {
                    let same = platform::permanent::parse(a.platform, given)
                        .is_ok_and(|k| &k.to_string() == recorded);
                    if same {
                        PermanentCheck::Matches
                    } else {
                        PermanentCheck::Different
                    }
                }
            },
        };
        Verdict {
            keys,
            account,
            by_permanent_id,
            permanent,
        }
    }

    /// The officer with this slug and their accounts.
    pub fn officer(&self, slug: &str) -> Option<(&OfficerEntry, &[Account])> {
        let entry = self.officers.get(slug)?;
        let accounts = self
            .officer_accounts
            .get(slug)
            .map_or(&[][..], Vec::as_slice);
        Some((entry, accounts))
    }

    /// How many accounts it holds.
    pub fn accounts(&self) -> usize {
        self.accounts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn account(verified: bool, last_confirmed_at: DateTime<Utc>) -> Account {
        Account {
            platform: Platform::X,
            account_key: "x:north".into(),
            account_url: "https://x.com/north".into(),
            verified,
            level: Level::Broadcast,
            service_area: "libraries".into(),
            service_name: None,
            officer_slug: None,
            verified_since: last_confirmed_at,
            withdrawn_at: None,
            last_confirmed_at,
            renamed: None,
            link_back_checked_at: None,
            permanent_id: None,
        }
    }

    #[test]
    fn the_public_is_told_a_confirmation_is_overdue_only_once_the_review_period_and_the_grace_have_passed(
    ) {
        let policy = ConfirmationPolicy {
            review_period_days: 365,
            grace_days: 30,
        };
        let confirmed = Utc.with_ymd_and_hms(2025, 1, 10, 12, 0, 0).unwrap();
        let a = account(true, confirmed);
        let due = confirmed + chrono::Duration::days(365);
        assert!(
            !a.confirmation_overdue(policy, due),
            "due, but within the grace"
        );
        let told = confirmed + chrono::Duration::days(395);
        assert!(!a.confirmation_overdue(policy, told - chrono::Duration::seconds(1)));
        assert!(a.confirmation_overdue(policy, told));
        assert_eq!(a.confirmation_overdue_from(policy), Some(told));
    }

    #[test]
    fn a_withdrawn_account_is_never_told_overdue() {
        let a = account(false, Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap());
        assert!(!a.confirmation_overdue(ConfirmationPolicy::default(), Utc::now()));
        assert_eq!(
            a.confirmation_overdue_from(ConfirmationPolicy::default()),
            None
        );
    }
}
