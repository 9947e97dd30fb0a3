//! Reference data for deciding commands, kept in memory: every command
//! needs it (accepted job roles, speaking authorities, units, platforms),
//! and folding it from its four streams took four reads of the log per
//! command. The cache reads only what was appended to those streams since
//! it last looked (one statement, normally returning nothing), so a command
//! always sees every reference change committed before it started.

use std::sync::{Arc, Mutex};

use domain::reference::{streams, ReferenceData};
use event_store::EventStore;

use super::{load, HandleError};

/// Reference data as of a version of each of its streams, shared by every
/// clone of a handler.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReferenceCache {
    cached: Arc<Mutex<Cached>>,
}

#[derive(Debug, Clone, Default)]
struct Cached {
    /// The version of each stream of `streams::ALL` folded into `data`.
    versions: [i64; streams::ALL.len()],
    data: Arc<ReferenceData>,
}

impl ReferenceCache {
    /// The reference data as the log holds it now.
    pub(crate) async fn get(&self, store: &EventStore) -> Result<Arc<ReferenceData>, HandleError> {
        let seen = self.cached.lock().expect("reference cache").clone();
        let known: Vec<(&str, i64)> = streams::ALL
            .iter()
            .copied()
            .zip(seen.versions.iter().copied())
            .collect();
        let newer = store.read_streams_since(&known).await?;
        if newer.is_empty() {
            return Ok(seen.data);
        }
        let mut next = Cached {
            versions: seen.versions,
            data: Arc::new((*seen.data).clone()),
        };
        for e in &newer {
            Arc::make_mut(&mut next.data).apply(&load::decode::<ReferenceData>(e)?);
            if let Some(i) = streams::ALL.iter().position(|s| *s == e.stream_id) {
                next.versions[i] = next.versions[i].max(e.stream_version);
            }
        }
        let data = next.data.clone();
        let mut cached = self.cached.lock().expect("reference cache");
        // Keep the newer of two concurrent refreshes.
        if next.versions.iter().sum::<i64>() > cached.versions.iter().sum::<i64>() {
            *cached = next;
        }
        Ok(data)
    }
}
