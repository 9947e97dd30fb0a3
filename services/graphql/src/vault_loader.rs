//! One vault look-up per response, not one per personal field: every
//! personal value a response opens asks this request's loader for its
//! person's key; the loader gathers the people asked for in the same tick
//! and reads their keys in one statement (within the request's pool share),
//! and remembers them for the rest of the request.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use event_store::vault::{KeyState, Vault, VaultError};
use uuid::Uuid;

use super::pool_share::PoolShare;

/// The keys of the people a request opens values of.
pub struct VaultKeys {
    vault: Vault,
    share: PoolShare,
}

/// The request's loader.
pub type VaultLoader = DataLoader<VaultKeys, HashMapCache>;

/// A loader for one request.
pub fn loader(vault: Vault, share: PoolShare) -> VaultLoader {
    DataLoader::with_cache(
        VaultKeys { vault, share },
        tokio::spawn,
        HashMapCache::default(),
    )
}

impl VaultKeys {
    /// The vault the keys open values of.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }
}

impl Loader<Uuid> for VaultKeys {
    type Value = KeyState;
    type Error = Arc<VaultError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, KeyState>, Self::Error> {
        let _turn = self.share.acquire().await;
        metrics::counter!("vault_operations_total", "operation" => "load_keys").increment(1);
        self.vault.data_keys(keys).await.map_err(Arc::new)
    }
}
