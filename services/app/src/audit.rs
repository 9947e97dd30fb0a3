//! What auditors read: the history of a registration with its personal data
//! opened (or marked erased), and the registry as it stood at any position,
//! reconstructed from the log rather than from today's read models.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::registration::Registration;
use event_store::vault::{self, Revealed, Vault};
use event_store::{EventStore, RecordedEvent};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::commands::{apply_event, HandleError};

const PAGE: i64 = 5_000;

/// Every registration as it stood once the log reached `position`, newest
/// submission first.
pub async fn registry_at(
    store: &EventStore,
    position: i64,
) -> Result<Vec<Registration>, HandleError> {
    let mut states: HashMap<Uuid, Registration> = HashMap::new();
    let mut after = 0;
    loop {
        let page = store
            .read_prefix(domain::streams::REGISTRATION, after, position, PAGE)
            .await?;
        let Some(last) = page.last().map(|e| e.position) else {
            break;
        };
        for e in &page {
            let Some(id) = domain::streams::registration_id(&e.stream_id) else {
                continue;
            };
            let before = states.remove(&id);
            if let Some(next) = apply_event(before, e)? {
                states.insert(id, next);
            }
        }
        after = last;
    }
    let mut list: Vec<Registration> = states.into_values().collect();
    list.sort_by_key(|r| std::cmp::Reverse((r.submitted_at, r.id)));
    Ok(list)
}

/// The position the log had reached at `at` (or `position` itself),
/// checked against the head.
pub async fn resolve_position(
    store: &EventStore,
    position: Option<i64>,
    at: Option<DateTime<Utc>>,
) -> Result<Result<i64, (&'static str, String)>, HandleError> {
    let head = store.head().await?.position;
    match (position, at) {
        (Some(_), Some(_)) => Ok(Err((
            "position",
            "give either position or at, not both".into(),
        ))),
        (Some(p), None) if p < 0 || p > head => Ok(Err((
            "position",
            format!("must be between 0 and the head of the log, {head}"),
        ))),
        (Some(p), None) => Ok(Ok(p)),
        (None, Some(t)) => Ok(Ok(store.position_at(t).await?)),
        (None, None) => Ok(Ok(head)),
    }
}

/// One event of a registration's history, with personal data opened.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryItem {
    /// The event as stored.
    pub event: RecordedEvent,
    /// The payload with each sealed value replaced by
    /// `{"person": …, "value": …}` or `{"person": …, "erased": true}`.
    pub revealed: Value,
    /// The actor's display name (None when not given or erased).
    pub actor_name: Option<String>,
    /// The registration after this event.
    #[serde(skip)]
    pub state: Option<Registration>,
}

/// A registration's history, oldest first (empty when there is none).
pub async fn history(
    store: &EventStore,
    vault: &Vault,
    id: Uuid,
) -> Result<Vec<HistoryItem>, HandleError> {
    let events = store
        .read_stream(&domain::registration::stream_id(id), None)
        .await?;
    let mut state = None;
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        state = apply_event(state, &e)?;
        let revealed = reveal_json(vault, &e.payload).await?;
        let actor_name = match sealed(&e.metadata["actor"]["displayName"]) {
            Some(s) => vault.open(&s).await?.as_value().map(str::to_owned),
            None => None,
        };
        out.push(HistoryItem {
            event: e,
            revealed,
            actor_name,
            state: state.clone(),
        });
    }
    Ok(out)
}

fn sealed(v: &Value) -> Option<vault::Sealed> {
    let obj = v.as_object()?;
    if obj.len() != 2 {
        return None;
    }
    serde_json::from_value(v.clone()).ok()
}

/// `value` with every sealed personal value opened (or marked erased).
pub async fn reveal_json(vault: &Vault, value: &Value) -> Result<Value, HandleError> {
    let mut found = Vec::new();
    collect(value, &mut found);
    let mut opened = Vec::with_capacity(found.len());
    for s in &found {
        opened.push(match vault.open(s).await? {
            Revealed::Value(v) => json!({ "person": s.person, "value": v }),
            Revealed::Erased => json!({ "person": s.person, "erased": true }),
        });
    }
    let mut out = value.clone();
    let mut iter = opened.into_iter();
    replace(&mut out, &mut iter);
    Ok(out)
}

fn collect(v: &Value, out: &mut Vec<vault::Sealed>) {
    if let Some(s) = sealed(v) {
        out.push(s);
        return;
    }
    match v {
        Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
        Value::Object(o) => o.values().for_each(|x| collect(x, out)),
        _ => {}
    }
}

fn replace(v: &mut Value, opened: &mut impl Iterator<Item = Value>) {
    if sealed(v).is_some() {
        if let Some(o) = opened.next() {
            *v = o;
        }
        return;
    }
    match v {
        Value::Array(a) => a.iter_mut().for_each(|x| replace(x, opened)),
        Value::Object(o) => o.values_mut().for_each(|x| replace(x, opened)),
        _ => {}
    }
}
