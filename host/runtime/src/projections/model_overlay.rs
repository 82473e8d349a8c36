//! Writes laid over a committed read model: a call's own writes (`kv_session.rs`), and a batch
//! whose commit is still in flight while the runner applies the next one ([`PendingView`]).
//!
//! Reads through [`Writes`] see them first, then the view under them. A call's writes are an
//! [`Overlay`], a map it inserts into; a batch in flight is the sorted list its commit holds
//! too, so laying it over the model copies nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use cairn_store::{ModelEntry, ModelRead, ModelWrite, Position, StorageError};

/// Keys to new values (`None`: deleted), in key order.
pub(crate) type Overlay = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Writes in key order: each key, and its value (`None`: deleted).
pub(crate) type WritesIter<'a> = Box<dyn Iterator<Item = (&'a [u8], Option<&'a [u8]>)> + 'a>;

/// Writes to lay over a view, one per key.
pub(crate) trait Writes {
    /// What was written to `key`: `Some(Some(value))`, `Some(None)` for a delete, or `None`
    /// if nothing was.
    fn written(&self, key: &[u8]) -> Option<Option<&[u8]>>;

    /// The writes to keys that start with `prefix`, in key order.
    fn under<'a>(&'a self, prefix: &'a [u8]) -> WritesIter<'a>;
}

impl Writes for Overlay {
    fn written(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        self.get(key).map(Option::as_deref)
    }

    fn under<'a>(&'a self, prefix: &'a [u8]) -> WritesIter<'a> {
        Box::new(
            self.range(prefix.to_vec()..)
                .take_while(move |(key, _)| key.starts_with(prefix))
                .map(|(key, value)| (key.as_slice(), value.as_deref())),
        )
    }
}

/// A batch's writes as its commit holds them. Invariant: sorted by key, one write per key (as
/// `KvSession::into_writes` makes them).
#[derive(Debug, Clone)]
pub(crate) struct SortedWrites(Arc<[ModelWrite]>);

impl SortedWrites {
    pub(crate) fn new(writes: Arc<[ModelWrite]>) -> Self {
        debug_assert!(
            writes.windows(2).all(|w| w[0].key() < w[1].key()),
            "writes out of order"
        );
        Self(writes)
    }
}

impl Writes for SortedWrites {
    fn written(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        let at = self.0.binary_search_by(|write| write.key().cmp(key)).ok()?;
        Some(self.0[at].value())
    }

    fn under<'a>(&'a self, prefix: &'a [u8]) -> WritesIter<'a> {
        let from = self.0.partition_point(|write| write.key() < prefix);
        Box::new(
            self.0[from..]
                .iter()
                .take_while(move |write| write.key().starts_with(prefix))
                .map(|write| (write.key(), write.value())),
        )
    }
}

/// The value of `key` with `writes` over `view`.
pub(crate) fn get(
    view: &dyn ModelRead,
    writes: &dyn Writes,
    key: &[u8],
) -> Result<Option<Vec<u8>>, StorageError> {
    match writes.written(key) {
        Some(value) => Ok(value.map(<[u8]>::to_vec)),
        None => view.get(key),
    }
}

/// Entries under `prefix` after `after`, at most `limit`, with `writes` over `view`.
pub(crate) fn scan(
    view: &dyn ModelRead,
    writes: &dyn Writes,
    prefix: &[u8],
    after: Option<&[u8]>,
    limit: usize,
) -> Result<Vec<ModelEntry>, StorageError> {
    let mut found: Vec<ModelEntry> = Vec::new();
    let mut cursor = after.map(<[u8]>::to_vec);
    // Committed entries come in chunks; deletes laid over them can hide some of a chunk.
    loop {
        let chunk = view.scan(prefix, cursor.as_deref(), limit.max(1))?;
        let full = chunk.len() >= limit.max(1);
        let last = chunk.last().map(|(k, _)| k.clone());
        found.extend(
            chunk
                .into_iter()
                .filter(|(k, _)| writes.written(k).is_none()),
        );
        // Past the chunk's last key the writes may have entries the next chunk will meet.
        if !full || found.len() >= limit {
            break;
        }
        cursor = last;
    }
    for (key, value) in writes.under(prefix) {
        if after.is_some_and(|a| key <= a) {
            continue;
        }
        if let Some(value) = value {
            found.push((key.to_vec(), value.to_vec()));
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
    pub(crate) pending: SortedWrites,
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

#[cfg(test)]
mod tests {
    use cairn_store::ModelRows;

    use super::*;

    #[test]
    fn a_batch_in_flight_reads_the_same_as_its_map() {
        let committed = || {
            Box::new(ModelRows(
                ["a1", "a2", "a3", "b1"]
                    .iter()
                    .map(|k| (k.as_bytes().to_vec(), b"old".to_vec()))
                    .collect(),
            ))
        };
        let mut map = Overlay::new();
        map.insert(b"a2".to_vec(), None);
        map.insert(b"a25".to_vec(), Some(b"new".to_vec()));
        map.insert(b"a3".to_vec(), Some(b"new".to_vec()));
        map.insert(b"c".to_vec(), Some(b"new".to_vec()));
        let sorted: Arc<[ModelWrite]> = map
            .iter()
            .map(|(key, value)| match value {
                Some(value) => ModelWrite::Put {
                    key: key.clone(),
                    value: value.clone(),
                },
                None => ModelWrite::Delete { key: key.clone() },
            })
            .collect();
        let pending = PendingView {
            view: committed(),
            pending: SortedWrites::new(sorted),
            checkpoint: Position::new(9),
        };
        let view = committed();
        for key in ["a1", "a2", "a25", "a3", "b1", "c", "zz"] {
            assert_eq!(
                pending.get(key.as_bytes()).expect("get"),
                get(&*view, &map, key.as_bytes()).expect("get"),
                "{key}"
            );
        }
        assert_eq!(pending.get(b"a2").expect("get"), None);
        assert_eq!(pending.get(b"a3").expect("get"), Some(b"new".to_vec()));
        for (prefix, after, limit) in [("a", None, 10), ("a", Some("a1"), 2), ("", None, 10)] {
            let after = after.map(str::as_bytes);
            assert_eq!(
                pending.scan(prefix.as_bytes(), after, limit).expect("scan"),
                scan(&*view, &map, prefix.as_bytes(), after, limit).expect("scan"),
                "{prefix} {after:?}"
            );
        }
        let keys: Vec<Vec<u8>> = pending
            .scan(b"a", None, 10)
            .expect("scan")
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, [b"a1".to_vec(), b"a25".to_vec(), b"a3".to_vec()]);
    }
}
