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

/// Reference data as of a log position, shared by every clone of a handler.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReferenceCache {
    cached: Arc<Mutex<(i64, Arc<ReferenceData>)>>,
}

impl ReferenceCache {
    /// The reference data as the log holds it now.
    pub(crate) async fn get(&self, store: &EventStore) -> Result<Arc<ReferenceData>, HandleError> {
        let (position, data) = self.cached.lock().expect("reference cache").clone();
        let newer = store.read_streams_after(&streams::ALL, position).await?;
        let Some(last) = newer.last().map(|e| e.position) else {
            return Ok(data);
        };
        let mut next = (*data).clone();
        for e in &newer {
            next.apply(&load::decode::<ReferenceData>(e)?);
        }
        let next = Arc::new(next);
        let mut cached = self.cached.lock().expect("reference cache");
        if cached.0 < last {
            *cached = (last, next.clone());
        }
        Ok(next)
    }
}
