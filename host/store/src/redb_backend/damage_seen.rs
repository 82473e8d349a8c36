//! [`DamageSeen`]: the first damaged record the store met, kept for as long as it runs, so a
//! health check can report it after the read that found it has answered.
//!
//! Every read, and every write that reads stored records, passes its storage error through
//! [`DamageSeen::note`]; an error that reports damage (a checksum that does not match, a value
//! that does not decode, tables that disagree, a read that panicked inside redb) is kept if it
//! is the first. Nothing clears it: the file stays damaged until it is repaired offline.

use std::sync::{Arc, OnceLock};

use crate::error::{Damage, StorageError, StoredRecord};

/// Shared by the store's clones and the read models it hands out.
#[derive(Clone, Debug, Default)]
pub(crate) struct DamageSeen(Arc<OnceLock<Damage>>);

impl DamageSeen {
    /// The first damage met, if any. Cheap: no lock.
    pub(crate) fn get(&self) -> Option<Damage> {
        self.0.get().cloned()
    }

    /// Keeps `error`'s damage if it reports damage and none was kept before; returns `error`.
    pub(crate) fn note(&self, error: StorageError) -> StorageError {
        let damage = match &error {
            StorageError::Damaged(damage) => Some(damage.clone()),
            StorageError::Corrupt(reason) => Some(Damage {
                record: StoredRecord::File,
                reason: reason.clone(),
            }),
            StorageError::Backend(error) => redb_corruption(error.as_ref()).map(|reason| Damage {
                record: StoredRecord::File,
                reason,
            }),
            StorageError::Closed => None,
        };
        if let Some(damage) = damage
            && self.0.set(damage.clone()).is_ok()
        {
            tracing::error!(%damage, "the store met damaged data");
        }
        error
    }

    /// `result`, with its error noted.
    pub(crate) fn check<T>(&self, result: Result<T, StorageError>) -> Result<T, StorageError> {
        result.map_err(|error| self.note(error))
    }
}

/// redb's own report of a damaged file, if `error` is one.
fn redb_corruption(error: &(dyn std::error::Error + Send + Sync + 'static)) -> Option<String> {
    match error.downcast_ref::<redb::Error>() {
        Some(redb::Error::Corrupted(reason)) => return Some(reason.clone()),
        Some(_) => return None,
        None => {}
    }
    match error.downcast_ref::<redb::StorageError>() {
        Some(redb::StorageError::Corrupted(reason)) => Some(reason.clone()),
        _ => None,
    }
}

/// The text of a caught panic's payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}
