//! Snapshots: state saved beside a stream, so a load reads only the events after it.

use crate::name::checked_name;
use crate::version::Version;

checked_name! {
    /// What a snapshot is keyed by besides its stream: the hash of the module whose state it
    /// is, so that a new module version never reads an old module's state.
    ///
    /// Invariant: 1 to [`SnapshotKey::MAX_LEN`] bytes of UTF-8 by the name rule
    /// of `name.rs`: no control, format or line-separating characters.
    SnapshotKey, max = 200, what = "snapshot key"
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
