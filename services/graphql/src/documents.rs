//! Parsed documents, kept for reuse: clients send the same few operations
//! over and over (a dashboard, the staff pages, an aggregator verifying
//! accounts), and parsing one was a fifth of a public read's CPU time
//! (perf, `verifyAccount` under load). A document is a pure function of its
//! text, so the cache can never answer wrongly; it is bounded, and emptied
//! when full, so unique queries sent on purpose only cost their parse.

use foldhash::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::Request;

/// Most documents kept.
const MAX_DOCUMENTS: usize = 512;
/// Longest query text kept (longer ones are parsed every time).
const MAX_QUERY_BYTES: usize = 16 * 1024;

/// Parsed documents by query text.
#[derive(Default)]
pub(crate) struct Documents {
    cache: Mutex<HashMap<String, Arc<ExecutableDocument>>>,
}

impl Documents {
    /// Give `request` its parsed document: the one kept for its text, or
    /// one parsed now and kept. A query that does not parse is left for
    /// async-graphql to parse again and refuse in its own words.
    pub(crate) fn prepare(&self, request: &mut Request) {
        if request.query.len() > MAX_QUERY_BYTES {
            return;
        }
        let cached = self
            .cache
            .lock()
            .expect("document cache lock")
            .get(&request.query)
            .cloned();
        match cached {
            Some(document) => request.set_parsed_query((*document).clone()),
            None => {
                if let Ok(document) = request.parsed_query() {
                    let document = Arc::new(document.clone());
                    let mut cache = self.cache.lock().expect("document cache lock");
                    if cache.len() >= MAX_DOCUMENTS {
                        cache.clear();
                    }
                    cache.insert(request.query.clone(), document);
                }
            }
        }
    }
}
