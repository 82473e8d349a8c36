//! [`RedbModelRead`]: one read model seen through one read transaction. Each value read is
//! checked against its checksum (`record.rs`); a damaged one is an error naming the entry, and
//! is kept in the store's [`DamageSeen`].

use redb::{Database, ReadOnlyTable, ReadableDatabase};

use super::damage_seen::DamageSeen;
use super::record;
use super::tables::{MODEL_ENTRIES, MODELS};
use crate::error::{Damage, StorageError, StoredRecord};
use crate::read_model::{ModelEntry, ModelRead, ReadModelName, prefix_end};
use crate::version::Position;

/// A snapshot of a read model: later commits do not show in it.
pub(crate) struct RedbModelRead {
    model: ReadModelName,
    /// The model's id and checkpoint; `None` for a model never committed (it reads empty).
    stored: Option<(u64, u64)>,
    entries: ReadOnlyTable<(u64, &'static [u8]), &'static [u8]>,
    damage: DamageSeen,
}

impl std::fmt::Debug for RedbModelRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbModelRead")
            .field("stored", &self.stored)
            .finish_non_exhaustive()
    }
}

impl RedbModelRead {
    pub(crate) fn open(
        db: &Database,
        model: &ReadModelName,
        damage: DamageSeen,
    ) -> Result<Self, StorageError> {
        let txn = db.begin_read().map_err(StorageError::backend)?;
        let models = txn.open_table(MODELS).map_err(StorageError::backend)?;
        let stored = models
            .get(model.as_str())
            .map_err(StorageError::backend)?
            .map(|row| row.value());
        let entries = txn
            .open_table(MODEL_ENTRIES)
            .map_err(StorageError::backend)?;
        Ok(Self {
            model: model.clone(),
            stored,
            entries,
            damage,
        })
    }

    /// The value stored for `key`, once its checksum matches.
    fn value<'v>(&self, key: &[u8], stored: &'v [u8]) -> Result<&'v [u8], StorageError> {
        record::open_value(stored).map_err(|e| {
            self.damage.note(StorageError::Damaged(Damage {
                record: StoredRecord::ModelEntry {
                    model: self.model.as_str().to_owned(),
                    key: key.to_vec(),
                },
                reason: e.0,
            }))
        })
    }
}

impl ModelRead for RedbModelRead {
    fn checkpoint(&self) -> Option<Position> {
        self.stored.map(|(_, checkpoint)| Position::new(checkpoint))
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let Some((id, _)) = self.stored else {
            return Ok(None);
        };
        let row = self.entries.get((id, key)).map_err(StorageError::backend)?;
        row.map(|row| Ok(self.value(key, row.value())?.to_vec()))
            .transpose()
    }

    fn scan(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<ModelEntry>, StorageError> {
        let Some((id, _)) = self.stored else {
            return Ok(Vec::new());
        };
        let from = match start_after {
            Some(after) if after >= prefix => after,
            _ => prefix,
        };
        let end = prefix_end(prefix);
        let upper: (u64, &[u8]) = match &end {
            Some(end) => (id, end.as_slice()),
            None => (id + 1, &[]),
        };
        let mut found = Vec::new();
        for row in self
            .entries
            .range((id, from)..upper)
            .map_err(StorageError::backend)?
        {
            if found.len() >= limit {
                break;
            }
            let (key, value) = row.map_err(StorageError::backend)?;
            let key = key.value().1;
            if start_after.is_some_and(|after| key <= after) {
                continue;
            }
            let value = self.value(key, value.value())?.to_vec();
            found.push((key.to_vec(), value));
        }
        Ok(found)
    }
}
