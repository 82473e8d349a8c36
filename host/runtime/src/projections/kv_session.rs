//! [`KvSession`]: a projection call's view of its read model, behind the `kv` import.
//!
//! Reads see the committed model (one consistent [`ModelRead`] view) with the call's own
//! writes laid over it; the writes are collected for the caller to commit with the checkpoint,
//! one per key touched (its last value, or a delete), in key order. A query's session is
//! read-only: a write there fails the call, as the module's fault. A read the store fails
//! stops the call at once, as the host's fault ([`ImportStorageFailed`]): the module is never
//! told "absent" for a key the store could not read.
//!
//! The view reads redb synchronously, so a call with a session runs on a blocking thread.

use cairn_store::{ModelEntry, ModelRead, ModelWrite, StorageError};

use crate::call::bindings::projection::cairn::module::kv::Host;
use crate::call::sandbox::{ImportStorageFailed, Sandbox};
use crate::projections::model_overlay::{self, Overlay};

/// The most entries one `scan` returns, whatever the guest asks.
const MAX_SCAN: u32 = 10_000;

/// A read model during one call.
#[derive(Debug)]
pub(crate) struct KvSession {
    view: Box<dyn ModelRead>,
    /// key -> its new value, or `None` if deleted in this call.
    overlay: Overlay,
    read_only: bool,
    /// What the module did wrong that it could not be told: a write in a query. The call
    /// fails with it, as the module's fault.
    pub(crate) failure: Option<String>,
}

impl KvSession {
    pub(crate) fn new(view: Box<dyn ModelRead>, read_only: bool) -> Self {
        Self {
            view,
            overlay: Overlay::new(),
            read_only,
            failure: None,
        }
    }

    /// The writes of the call: for each key it touched, the last value or a delete, in key
    /// order. Committing them gives the same model as committing every write in call order.
    pub(crate) fn into_writes(self) -> Vec<ModelWrite> {
        self.overlay
            .into_iter()
            .map(|(key, value)| match value {
                Some(value) => ModelWrite::Put { key, value },
                None => ModelWrite::Delete { key },
            })
            .collect()
    }

    fn fail(&mut self, why: String) {
        self.failure.get_or_insert(why);
    }

    fn write(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        if self.read_only {
            self.fail("a query wrote to its read model; queries only read".into());
            return;
        }
        self.overlay.insert(key, value);
    }

    /// Writes `entries` in order. The SDK sends a batch's writes this way, once, into an
    /// empty overlay: building the map from them at once (a later entry for a key wins, as in
    /// call order) costs less than inserting them one by one.
    fn write_many(&mut self, entries: Vec<(Vec<u8>, Option<Vec<u8>>)>) {
        if self.read_only || !self.overlay.is_empty() {
            for (key, value) in entries {
                self.write(key, value);
            }
        } else {
            self.overlay = entries.into_iter().collect();
        }
    }

    /// The committed entries under `prefix` after `after`, merged with the overlay, at most
    /// `limit`.
    fn merged_scan(
        &mut self,
        prefix: &[u8],
        after: Option<Vec<u8>>,
        limit: usize,
    ) -> Result<Vec<ModelEntry>, StorageError> {
        model_overlay::scan(&*self.view, &self.overlay, prefix, after.as_deref(), limit)
    }
}

/// A read of the store under the `kv` import, or the error that stops the call.
fn stored<T>(result: Result<T, StorageError>) -> wasmtime::Result<T> {
    result.map_err(|e| {
        wasmtime::Error::new(ImportStorageFailed(format!(
            "reading the read model failed: {e}"
        )))
    })
}

impl Host for Sandbox {
    fn get(&mut self, key: Vec<u8>) -> wasmtime::Result<Option<Vec<u8>>> {
        let Some(session) = self.kv.as_mut() else {
            return Ok(None);
        };
        stored(model_overlay::get(&*session.view, &session.overlay, &key))
    }

    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        if let Some(session) = self.kv.as_mut() {
            session.write(key, Some(value));
        }
    }

    fn delete(&mut self, key: Vec<u8>) {
        if let Some(session) = self.kv.as_mut() {
            session.write(key, None);
        }
    }

    fn write_many(&mut self, entries: Vec<(Vec<u8>, Option<Vec<u8>>)>) {
        if let Some(session) = self.kv.as_mut() {
            session.write_many(entries);
        }
    }

    fn scan(
        &mut self,
        prefix: Vec<u8>,
        start_after: Option<Vec<u8>>,
        limit: u32,
    ) -> wasmtime::Result<Vec<ModelEntry>> {
        let Some(session) = self.kv.as_mut() else {
            return Ok(Vec::new());
        };
        stored(session.merged_scan(&prefix, start_after, limit.min(MAX_SCAN) as usize))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use cairn_store::ModelRows;

    fn session(keys: &[&str]) -> KvSession {
        let committed = keys
            .iter()
            .map(|k| (k.as_bytes().to_vec(), b"old".to_vec()))
            .collect();
        KvSession::new(Box::new(ModelRows(committed)), false)
    }

    fn keys(entries: Result<Vec<ModelEntry>, StorageError>) -> Vec<String> {
        entries
            .expect("the committed model reads")
            .into_iter()
            .map(|(k, _)| String::from_utf8(k).expect("utf-8"))
            .collect()
    }

    #[test]
    fn a_scan_sees_the_calls_own_writes_over_the_committed_model() {
        let mut s = session(&["a1", "a2", "a3", "a4", "b1"]);
        s.write(b"a2".to_vec(), None);
        s.write(b"a3".to_vec(), None);
        s.write(b"a25".to_vec(), Some(b"new".to_vec()));
        s.write(b"a9".to_vec(), Some(b"new".to_vec()));
        assert_eq!(
            keys(s.merged_scan(b"a", None, 10)),
            ["a1", "a25", "a4", "a9"]
        );
        assert_eq!(keys(s.merged_scan(b"a", None, 2)), ["a1", "a25"]);
        assert_eq!(keys(s.merged_scan(b"a", Some(b"a25".to_vec()), 1)), ["a4"]);
        assert_eq!(keys(s.merged_scan(b"", None, 10)).len(), 5);
        // Deletes that hide a whole chunk of committed keys do not end the scan early.
        assert_eq!(keys(s.merged_scan(b"a2", None, 1)), ["a25"]);
        assert_eq!(s.into_writes().len(), 4);
    }

    #[test]
    fn many_writes_at_once_land_as_written_one_by_one() {
        let entries = |pairs: &[(&str, Option<&str>)]| -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
            pairs
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec())))
                .collect()
        };
        let batch = entries(&[
            ("b", Some("1")),
            ("a", Some("1")),
            ("b", None),
            ("c", Some("1")),
            ("a", Some("2")),
        ]);
        let mut at_once = session(&["b", "z"]);
        at_once.write_many(batch.clone());
        // Into an overlay already holding writes, and then one by one, for comparison.
        let mut on_top = session(&["b", "z"]);
        on_top.write(b"c".to_vec(), Some(b"0".to_vec()));
        on_top.write_many(batch.clone());
        let mut one_by_one = session(&["b", "z"]);
        for (key, value) in batch {
            one_by_one.write(key, value);
        }
        let expected = one_by_one.into_writes();
        assert_eq!(
            expected,
            [
                ModelWrite::Put {
                    key: b"a".to_vec(),
                    value: b"2".to_vec()
                },
                ModelWrite::Delete { key: b"b".to_vec() },
                ModelWrite::Put {
                    key: b"c".to_vec(),
                    value: b"1".to_vec()
                },
            ]
        );
        assert_eq!(at_once.into_writes(), expected);
        assert_eq!(on_top.into_writes(), expected);
    }

    #[test]
    fn a_query_cannot_write() {
        let mut s = KvSession::new(Box::new(ModelRows(BTreeMap::new())), true);
        s.write(b"k".to_vec(), Some(b"v".to_vec()));
        assert!(
            s.failure
                .as_deref()
                .is_some_and(|f| f.contains("only read"))
        );
        let mut many = KvSession::new(Box::new(ModelRows(BTreeMap::new())), true);
        many.write_many(vec![(b"k".to_vec(), None)]);
        assert!(many.failure.is_some());
        assert!(s.into_writes().is_empty());
        assert!(many.into_writes().is_empty());
    }
}
