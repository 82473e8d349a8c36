//! [`ReadModel`]: a projection's key-value table, with JSON helpers, over any [`Kv`]: the
//! host's table in a module, or an in-memory map in native tests.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::projection::ProjectionError;

/// A key and its value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// The most entries one scan returns, whatever its `limit`: the host's cap (`MAX_SCAN` in
/// cairn-runtime's `kv_session.rs`), kept by the table in memory too, so a native test pages
/// as a module in the host does.
pub const MAX_SCAN: u32 = 10_000;

/// A key-value table ordered by key.
pub trait Kv {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>>;
    fn put(&mut self, key: &[u8], value: &[u8]);
    fn delete(&mut self, key: &[u8]);
    /// Entries whose key starts with `prefix`, in key order, after `start_after` if given, at
    /// most `limit` of them.
    fn scan(&self, prefix: &[u8], start_after: Option<&[u8]>, limit: u32) -> Vec<Entry>;

    /// Sets `key` to `value`, taking the buffers: a table that keeps them saves a copy.
    fn put_owned(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.put(&key, &value);
    }

    /// Hands the value of `key` to `read`, lent where the table holds it rather than copied.
    fn read(&self, key: &[u8], read: &mut dyn FnMut(Option<&[u8]>)) {
        read(self.get(key).as_deref());
    }
}

/// A table in memory, for native tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryKv(BTreeMap<Vec<u8>, Vec<u8>>);

impl Kv for MemoryKv {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.0.get(key).cloned()
    }

    fn put(&mut self, key: &[u8], value: &[u8]) {
        self.put_owned(key.to_vec(), value.to_vec());
    }

    fn delete(&mut self, key: &[u8]) {
        self.0.remove(key);
    }

    fn put_owned(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.0.insert(key, value);
    }

    fn read(&self, key: &[u8], read: &mut dyn FnMut(Option<&[u8]>)) {
        read(self.0.get(key).map(Vec::as_slice));
    }

    fn scan(&self, prefix: &[u8], start_after: Option<&[u8]>, limit: u32) -> Vec<Entry> {
        self.0
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(k, _)| start_after.is_none_or(|after| k.as_slice() > after))
            .take(limit.min(MAX_SCAN) as usize)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// The host's table for this projection, through the `kv` import. Only in a module.
///
/// Writes stay in the module until [`HostKv::flush`] sends them in one `write-many` call (the
/// export macro flushes when `apply` succeeds; a scan flushes first, so the host's scan sees
/// them). Reads see them before the host's table. A batch of events thus crosses into the host
/// once for its writes, not once per write: the host keeps one value per key either way, and
/// the last write to a key is the one that lands.
#[cfg(target_arch = "wasm32")]
#[derive(Debug, Default)]
pub struct HostKv {
    /// key -> its new value, or `None` for a delete, not yet sent to the host. A hash map: in
    /// WebAssembly a key comparison is a byte-by-byte loop, and a tree makes many per lookup.
    unsent: std::cell::RefCell<rustc_hash::FxHashMap<Vec<u8>, Option<Vec<u8>>>>,
}

#[cfg(target_arch = "wasm32")]
impl HostKv {
    /// Room for `writes` writes before the map grows.
    pub fn with_capacity(writes: usize) -> Self {
        Self {
            unsent: std::cell::RefCell::new(rustc_hash::FxHashMap::with_capacity_and_hasher(
                writes,
                Default::default(),
            )),
        }
    }

    /// Sends the writes kept so far to the host.
    pub fn flush(&self) {
        let unsent = std::mem::take(&mut *self.unsent.borrow_mut());
        if !unsent.is_empty() {
            let entries: Vec<_> = unsent.into_iter().collect();
            crate::bindings::projection::cairn::module::kv::write_many(&entries);
        }
    }
}

#[cfg(target_arch = "wasm32")]
impl Kv for HostKv {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        if let Some(value) = self.unsent.borrow().get(key) {
            return value.clone();
        }
        crate::bindings::projection::cairn::module::kv::get(key)
    }

    fn put(&mut self, key: &[u8], value: &[u8]) {
        self.put_owned(key.to_vec(), value.to_vec());
    }

    fn delete(&mut self, key: &[u8]) {
        self.unsent.get_mut().insert(key.to_vec(), None);
    }

    fn scan(&self, prefix: &[u8], start_after: Option<&[u8]>, limit: u32) -> Vec<Entry> {
        self.flush();
        crate::bindings::projection::cairn::module::kv::scan(prefix, start_after, limit)
    }

    fn put_owned(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.unsent.get_mut().insert(key, Some(value));
    }

    fn read(&self, key: &[u8], read: &mut dyn FnMut(Option<&[u8]>)) {
        if let Some(value) = self.unsent.borrow().get(key) {
            return read(value.as_deref());
        }
        read(crate::bindings::projection::cairn::module::kv::get(key).as_deref());
    }
}

/// A projection's read model.
pub struct ReadModel<'a> {
    kv: &'a mut dyn Kv,
}

impl std::fmt::Debug for ReadModel<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadModel").finish_non_exhaustive()
    }
}

impl<'a> ReadModel<'a> {
    pub fn new(kv: &'a mut dyn Kv) -> Self {
        Self { kv }
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.kv.get(key)
    }

    /// Sets `key` to `value`.
    pub fn put(&mut self, key: &[u8], value: &[u8]) {
        self.kv.put(key, value);
    }

    /// Removes `key`.
    pub fn delete(&mut self, key: &[u8]) {
        self.kv.delete(key);
    }

    /// Entries under `prefix`, in key order, after `start_after`, at most `limit` (and at most
    /// [`MAX_SCAN`]: page on with the last key as `start_after`).
    pub fn scan(&self, prefix: &[u8], start_after: Option<&[u8]>, limit: u32) -> Vec<Entry> {
        self.kv.scan(prefix, start_after, limit)
    }

    /// The value of `key`, decoded from JSON.
    pub fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ProjectionError> {
        let mut decoded = None;
        self.kv.read(key.as_bytes(), &mut |value| {
            decoded = value.map(|bytes| decode(key, bytes));
        });
        decoded.transpose()
    }

    /// Sets `key` to `value` as JSON.
    pub fn put_json<T: Serialize>(&mut self, key: &str, value: &T) -> Result<(), ProjectionError> {
        let bytes = serde_json::to_vec(value).map_err(|e| {
            ProjectionError::new(format!("the value for {key} does not encode: {e}"))
        })?;
        self.kv.put_owned(key.as_bytes().to_vec(), bytes);
        Ok(())
    }

    /// Removes `key`.
    pub fn delete_key(&mut self, key: &str) {
        self.kv.delete(key.as_bytes());
    }

    /// Entries under `prefix`, decoded from JSON, with their keys as text: like
    /// [`ReadModel::scan`], at most `limit` and at most [`MAX_SCAN`].
    pub fn scan_json<T: DeserializeOwned>(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, T)>, ProjectionError> {
        self.kv
            .scan(prefix.as_bytes(), start_after.map(str::as_bytes), limit)
            .into_iter()
            .map(|(key, value)| {
                let key = String::from_utf8(key)
                    .map_err(|e| ProjectionError::new(format!("a key is not UTF-8: {e}")))?;
                let value = decode(&key, &value)?;
                Ok((key, value))
            })
            .collect()
    }

    /// A counter kept under `key` (0 if missing), moved by `by`.
    pub fn add(&mut self, key: &str, by: i64) -> Result<i64, ProjectionError> {
        let value = self.get_json::<i64>(key)?.unwrap_or(0) + by;
        self.put_json(key, &value)?;
        Ok(value)
    }
}

fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, ProjectionError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ProjectionError::new(format!("the value at {key} does not decode: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_scans_by_prefix_after_a_key_with_a_limit() {
        let mut kv = MemoryKv::default();
        for key in ["a", "ab", "abc", "b"] {
            kv.put(key.as_bytes(), b"1");
        }
        let keys =
            |entries: Vec<Entry>| -> Vec<Vec<u8>> { entries.into_iter().map(|e| e.0).collect() };
        assert_eq!(
            keys(kv.scan(b"a", None, 10)),
            [b"a".to_vec(), b"ab".to_vec(), b"abc".to_vec()]
        );
        assert_eq!(keys(kv.scan(b"a", Some(b"a"), 1)), [b"ab".to_vec()]);
        assert_eq!(keys(kv.scan(b"", None, 10)).len(), 4);
        let mut many = MemoryKv::default();
        for n in 0..=MAX_SCAN {
            many.put(format!("k{n:05}").as_bytes(), b"1");
        }
        assert_eq!(
            many.scan(b"k", None, u32::MAX).len(),
            MAX_SCAN as usize,
            "the host's cap"
        );
        let mut model = ReadModel::new(&mut kv);
        assert_eq!(model.add("count", 2), Ok(2));
        assert_eq!(model.add("count", -1), Ok(1));
        model.put(b"bad", b"{");
        assert!(model.get_json::<i64>("bad").is_err());
    }
}
