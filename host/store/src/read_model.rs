//! Read models: the key-value tables that projections keep in the store, each with a
//! checkpoint.
//!
//! A projection folds the global log into its read model. Its writes for a batch of events and
//! the position it has folded up to commit in one transaction ([`ModelCommit`]), so after a
//! crash the read model is exactly the fold of the log up to its checkpoint: no event is
//! applied twice and none is missed.

use std::sync::Arc;

use crate::error::StorageError;
use crate::name::checked_name;
use crate::version::Position;

checked_name! {
    /// A read model's name, such as `customer_directory#g2` (a projection's name and a
    /// generation, so a rebuild can fill a new model beside the one still serving). Room is
    /// left past the longest module name for the generation.
    ///
    /// Invariant: 1 to [`ReadModelName::MAX_LEN`] bytes of UTF-8 by the name rule
    /// of `name.rs`: no control, format or line-separating characters.
    ReadModelName, max = 240, what = "read model name"
}

/// The longest key of a read model, in bytes.
pub const MAX_MODEL_KEY: usize = 1024;
/// The largest value of a read model, in bytes.
pub const MAX_MODEL_VALUE: usize = 1024 * 1024;

/// One change to a read model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelWrite {
    /// Sets `key` to `value`.
    Put { key: Vec<u8>, value: Vec<u8> },
    /// Removes `key` (nothing if it is not there).
    Delete { key: Vec<u8> },
}

impl ModelWrite {
    /// The key written.
    pub fn key(&self) -> &[u8] {
        match self {
            ModelWrite::Put { key, .. } | ModelWrite::Delete { key } => key,
        }
    }

    /// The value written; `None` for a delete.
    pub fn value(&self) -> Option<&[u8]> {
        match self {
            ModelWrite::Put { value, .. } => Some(value),
            ModelWrite::Delete { .. } => None,
        }
    }
}

/// The writes of one batch of events and the position the model then reflects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelCommit {
    pub model: ReadModelName,
    /// Applied in order: a later write to a key wins. Shared, so a runner can read through
    /// the writes while they are being committed.
    pub writes: Arc<[ModelWrite]>,
    /// The position of the last event the writes reflect. It must be past the model's
    /// checkpoint, so a batch can never be committed twice.
    pub checkpoint: Position,
}

/// Writes to a read model that leave its checkpoint where it is: bookkeeping that is not a
/// batch of events (a reactor's record of an intent's outcome, or of a parked event let go).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelAmend {
    pub model: ReadModelName,
    /// Applied in order: a later write to a key wins.
    pub writes: Vec<ModelWrite>,
}

/// A read model's entry: its key and its value.
pub type ModelEntry = (Vec<u8>, Vec<u8>);

/// A consistent view of one read model, read synchronously.
///
/// Reads block on the database (usually its page cache): call them from a blocking thread, such
/// as a projection's runner, never from an async task.
pub trait ModelRead: Send + std::fmt::Debug {
    /// The position the model reflects; `None` for a model that has never committed.
    fn checkpoint(&self) -> Option<Position>;

    /// The value of `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;

    /// Entries whose key starts with `prefix`, in key order, after `start_after` if given, at
    /// most `limit` of them.
    fn scan(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<ModelEntry>, StorageError>;
}

/// A read model's rows held in memory, with no checkpoint: writes apply to it, and it reads as
/// a [`ModelRead`]. For rows worked out before they are committed, and for tests of code that
/// reads and writes a model without a store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelRows(pub std::collections::BTreeMap<Vec<u8>, Vec<u8>>);

impl ModelRows {
    /// Applies `writes`, in order.
    pub fn apply(&mut self, writes: impl IntoIterator<Item = ModelWrite>) {
        for write in writes {
            match write {
                ModelWrite::Put { key, value } => self.0.insert(key, value),
                ModelWrite::Delete { key } => self.0.remove(&key),
            };
        }
    }
}

impl ModelRead for ModelRows {
    fn checkpoint(&self) -> Option<Position> {
        None
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.0.get(key).cloned())
    }

    fn scan(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<ModelEntry>, StorageError> {
        Ok(self
            .0
            .range(prefix.to_vec()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .filter(|(key, _)| start_after.is_none_or(|after| key.as_slice() > after))
            .take(limit)
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect())
    }
}

/// What every backend checks of a read model's writes before it applies any: a refusal if a
/// key or a value is over its limit ([`MAX_MODEL_KEY`], [`MAX_MODEL_VALUE`]).
pub fn check_model_writes(
    model: &ReadModelName,
    writes: &[ModelWrite],
) -> Result<(), crate::error::ModelError> {
    for write in writes {
        let (key, value) = (write.key().len(), write.value().map_or(0, <[u8]>::len));
        if key > MAX_MODEL_KEY || value > MAX_MODEL_VALUE {
            return Err(crate::error::ModelError::TooLarge {
                model: model.clone(),
                key,
                value,
                max_key: MAX_MODEL_KEY,
                max_value: MAX_MODEL_VALUE,
            });
        }
    }
    Ok(())
}

/// The key after every key that starts with `prefix`, or `None` if there is none (a prefix of
/// only `0xff` bytes, or an empty one).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn the_end_of_a_prefix_is_the_next_key_after_it() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }
}
