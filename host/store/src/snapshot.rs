//! Snapshots: state saved beside a stream, so a load reads only the events after it.

use std::fmt;
use std::sync::Arc;

use crate::name::{self, NameError};
use crate::version::Version;

/// What a snapshot is keyed by besides its stream: the hash of the module whose state it is, so
/// that a new module version never reads an old module's state.
///
/// Invariant: 1 to [`SnapshotKey::MAX_LEN`] bytes of UTF-8 with no control characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SnapshotKey(Arc<str>);

impl SnapshotKey {
    /// The longest key, in bytes.
    pub const MAX_LEN: usize = 200;

    /// Validates `key`.
    pub fn new(key: &str) -> Result<Self, NameError> {
        name::check(key, Self::MAX_LEN)?;
        Ok(Self(Arc::from(key)))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SnapshotKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// Saved state and the stream version it reflects: every event up to and including `version`
/// has been folded into `state`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The last version folded into the state.
    pub version: Version,
    /// The state, opaque to the store.
    pub state: Vec<u8>,
}
