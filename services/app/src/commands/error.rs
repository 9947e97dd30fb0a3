use domain::codec::DecodeError;
use domain::DomainError;
use event_store::vault::VaultError;
use event_store::StoreError;

/// Why a command was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The domain refused it; the error names the rule.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// Someone else changed the registration first.
    #[error("the registration is at version {actual}; reload and try again")]
    Conflict {
        /// Its current version.
        actual: i64,
    },
    /// The event store failed or refused the input.
    #[error(transparent)]
    Store(StoreError),
    /// The vault failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// Nothing is held for the person named: no personal value was ever
    /// sealed for them (a typo, or someone who never existed here).
    #[error("no personal data is held for this person; check the id or name")]
    UnknownPerson,
    /// A read model could not be read.
    #[error(transparent)]
    ReadModel(#[from] projections::staff::ReadError),
    /// A stored event could not be read.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

impl From<StoreError> for HandleError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { actual, .. } => HandleError::Conflict { actual },
            StoreError::Vault(v) => HandleError::Vault(v),
            other => HandleError::Store(other),
        }
    }
}

impl From<sqlx::Error> for HandleError {
    fn from(e: sqlx::Error) -> Self {
        HandleError::Store(e.into())
    }
}

impl HandleError {
    /// True when the command may simply be run again: another command
    /// stored a data key it had sealed under meanwhile.
    pub(crate) fn is_key_race(&self) -> bool {
        matches!(self, HandleError::Vault(VaultError::KeyMadeConcurrently(_)))
    }
}
