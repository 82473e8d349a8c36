//! Writes laid over a committed read model: a call's own writes (`kv_session.rs`), and a batch
//! whose commit is still in flight while the runner applies the next one ([`PendingView`]).
//!
//! An [`Overlay`] maps each key it touched to its new value, or to `None` for a delete. Reads
//! through it see the overlay first, then the view under it.

use std::collections::BTreeMap;
use std::sync::Arc;

use cairn_store::{ModelEntry, ModelRead, ModelWrite, Position, StorageError};

/// Keys to new values (`None`: deleted), in key order.
pub(crate) type Overlay = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// The overlay made by `writes`, applied in order.
pub(crate) fn overlay_of(writes: &[ModelWrite]) -> Overlay {
    writes
        .iter()
        .map(|write| match write {
            ModelWrite::Put { key, value } => (key.clone(), Some(value.clone())),
            ModelWrite::Delete { key } => (key.clone(), None),
        })
        .collect()
}

/// The value of `key` with `overlay` over `view`.
pub(crate) fn get(
    view: &dyn ModelRead,
    overlay: &Overlay,
    key: &[u8],
) -> Result<Option<Vec<u8>>, StorageError> {
    match overlay.get(key) {
        Some(value) => Ok(value.clone()),
        None => view.get(key),
    }
}

/// Entries under `prefix` after `after`, at most `limit`, with `overlay` over `view`.
pub(crate) fn scan(
    view: &dyn ModelRead,
    overlay: &Overlay,
    prefix: &[u8],
    after: Option<&[u8]>,
    limit: usize,
) -> Result<Vec<ModelEntry>, StorageError> {
    let mut found: Vec<ModelEntry> = Vec::new();
    let mut cursor = after.map(<[u8]>::to_vec);
    // Committed entries come in chunks; an overlay's deletes can hide some of a chunk.
    loop {
        let chunk = view.scan(prefix, cursor.as_deref(), limit.max(1))?;
        let full = chunk.len() >= limit.max(1);
        let last = chunk.last().map(|(k, _)| k.clone());
        found.extend(chunk.into_iter().filter(|(k, _)| !overlay.contains_key(k)));
        // Past the chunk's last key the overlay may have entries the next chunk will meet.
        if !full || found.len() >= limit {
            break;
        }
        cursor = last;
    }
    for (key, value) in overlay.range(prefix.to_vec()..) {
        if !key.starts_with(prefix) {
            break;
        }
        if after.is_some_and(|a| key.as_slice() <= a) {
            continue;
        }
        if let Some(value) = value {
            found.push((key.clone(), value.clone()));
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found.truncate(limit);
    Ok(found)
}

/// A committed read model with the writes of a batch still being committed laid over it, and
/// that batch's checkpoint.
///
/// Whether or not the batch has landed when the view was opened, reads give the model as of
/// the batch: its writes are the last to the keys they touch.
#[derive(Debug)]
pub(crate) struct PendingView {
    pub(crate) view: Box<dyn ModelRead>,
    pub(crate) pending: Arc<Overlay>,
    pub(crate) checkpoint: Position,
}

impl ModelRead for PendingView {
    fn checkpoint(&self) -> Option<Position> {
        Some(self.checkpoint)
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        get(&*self.view, &self.pending, key)
    }

    fn scan(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<ModelEntry>, StorageError> {
        scan(&*self.view, &self.pending, prefix, start_after, limit)
    }
}
