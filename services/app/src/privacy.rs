//! UK GDPR duties: subject access (every record holding a person's data)
//! and retention (personal data on registrations withdrawn or rejected long
//! enough ago is erased, each erasure recorded as an event).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use domain::personal::Sealed;
use domain::registration::Registration;
use domain::{Actor, Role};
use event_store::vault::Vault;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::commands::{fold_events, HandleError, Handler, RequestMeta};

/// One place a person's data is held.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Holding {
    /// The registration.
    pub registration_id: Uuid,
    /// Its account.
    pub account_key: String,
    /// Its status.
    pub status: String,
    /// The field, e.g. `form.details.officer.email`.
    pub field: String,
    /// The value held (None once erased).
    pub value: Option<String>,
}

/// Every field of `r` that holds `person`'s data, with the sealed values
/// (the domain's one list of personal fields, filtered to one person).
pub fn fields_of(r: &Registration, person: Uuid) -> Vec<(String, Sealed)> {
    r.personal_fields()
        .into_iter()
        .filter(|(_, sealed)| sealed.person == person)
        .map(|(field, sealed)| (field.path, sealed))
        .collect()
}

/// Subject access: every registration field holding `person`'s data, and
/// how many events name them as the actor (with their sealed display name).
pub async fn held_for(
    pool: &PgPool,
    handler: &Handler,
    vault: &Vault,
    person: Uuid,
    subject: Option<&str>,
) -> Result<(Vec<Holding>, i64), HandleError> {
    let ids = projections::staff::registrations_holding(pool, person).await?;
    let mut out = Vec::new();
    for id in ids {
        let events = handler
            .store()
            .read_stream(&domain::registration::stream_id(id), None)
            .await?;
        let Some(r) = fold_events(&events)? else {
            continue;
        };
        for (field, sealed) in fields_of(&r, person) {
            let value = crate::commands::seal::open(vault, &sealed)
                .await?
                .as_value()
                .map(str::to_owned);
            out.push(Holding {
                registration_id: r.id,
                account_key: r.account_key.to_string(),
                status: format!("{:?}", r.status).to_lowercase(),
                field,
                value,
            });
        }
    }
    let acted = match subject {
        Some(s) => handler.store().count_acted_by(s).await?,
        None => 0,
    };
    Ok((out, acted))
}

/// One person the retention rule would erase.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetentionCandidate {
    /// The person.
    pub person: Uuid,
    /// The registrations holding their data, all withdrawn or rejected
    /// before the cut-off.
    pub registrations: Vec<Uuid>,
    /// The fields holding it.
    pub fields: Vec<String>,
}

/// The people whose data only registrations withdrawn or rejected before
/// `as_of - years` hold, who hold no data on any other registration, and
/// who did nothing recorded since the cut-off.
pub async fn retention_plan(
    pool: &PgPool,
    handler: &Handler,
    as_of: DateTime<Utc>,
    years: i64,
) -> Result<Vec<RetentionCandidate>, HandleError> {
    let cutoff = as_of - Duration::days(years * 365 + years / 4);
    let rows = projections::staff::retention_rows(pool, cutoff).await?;
    let mut held_elsewhere = BTreeSet::new();
    let mut expired: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
    for (id, persons, is_expired) in rows {
        for p in persons {
            if is_expired {
                expired.entry(p).or_default().push(id);
            } else {
                held_elsewhere.insert(p);
            }
        }
    }
    let recent_actors = handler.store().actors_since(cutoff).await?;
    let active: BTreeSet<Uuid> = recent_actors
        .iter()
        .map(|s| domain::personal::staff_person(s))
        .collect();
    let erased: Vec<Uuid> = handler.vault().erased_persons().await?;
    let erased: BTreeSet<Uuid> = erased.into_iter().collect();
    let mut out = Vec::new();
    for (person, registrations) in expired {
        if held_elsewhere.contains(&person) || active.contains(&person) || erased.contains(&person)
        {
            continue;
        }
        let mut fields = BTreeSet::new();
        for id in &registrations {
            let events = handler
                .store()
                .read_stream(&domain::registration::stream_id(*id), None)
                .await?;
            if let Some(r) = fold_events(&events)? {
                fields.extend(fields_of(&r, person).into_iter().map(|(f, _)| f));
            }
        }
        out.push(RetentionCandidate {
            person,
            registrations,
            fields: fields.into_iter().collect(),
        });
    }
    Ok(out)
}

/// Erase every candidate, each as its own recorded erasure.
pub async fn apply_retention(
    handler: &Handler,
    plan: &[RetentionCandidate],
    years: i64,
    correlation_id: &str,
) -> Result<usize, HandleError> {
    let meta = RequestMeta {
        actor: Actor::new("system:retention", [Role::DataProtection]),
        display_name: None,
        correlation_id: correlation_id.to_owned(),
        idempotency_key: None,
        expected_version: None,
        trace_id: None,
    };
    for c in plan {
        let reason = format!(
            "retention: held only on registrations withdrawn or rejected more than {years} years ago ({})",
            c.registrations
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        handler.erase_person(c.person, &reason, &meta).await?;
    }
    Ok(plan.len())
}
