//! Modules kept in the store, so a restarted host loads them again without an upload. The
//! store keeps them as opaque bytes with a name, a kind and a content hash; what a module is
//! belongs to the runtime.

use crate::name::checked_name;
use crate::read_model::ReadModelName;

checked_name! {
    /// A module's name, such as `bank-account`.
    ///
    /// Invariant: 1 to [`ModuleName::MAX_LEN`] bytes of UTF-8 by the name rule
    /// of `name.rs`: no control, format or line-separating characters.
    ModuleName, max = 200, what = "module name"
}

/// A module to keep: its name, kind, content hash (a hex digest chosen by the runtime) and
/// bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewModule {
    pub name: ModuleName,
    pub kind: String,
    pub hash: String,
    pub bytes: Vec<u8>,
}

/// One version of a module. Versions of a name count from 1, one per distinct hash uploaded.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModuleRecord {
    pub name: ModuleName,
    pub version: u64,
    pub kind: String,
    pub hash: String,
}

/// What keeping a module did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModulePut {
    /// The bytes are new for this name: a new version.
    Created(ModuleRecord),
    /// The latest version of this name already has these bytes: nothing changed.
    Unchanged(ModuleRecord),
}

impl ModulePut {
    /// The version the name now has.
    pub fn record(&self) -> &ModuleRecord {
        match self {
            ModulePut::Created(record) | ModulePut::Unchanged(record) => record,
        }
    }
}

/// The runtime's own bookkeeping for a module (for a projection: which read model serves, which
/// is being built, whether it is paused), kept as opaque bytes the store never reads.
///
/// Read models that the new state no longer names are dropped in the same transaction, so a
/// crash never leaves the bookkeeping naming a dropped model, nor a model nothing names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleState {
    pub module: ModuleName,
    pub state: Vec<u8>,
    /// Read models to drop with this change: their entries and checkpoints.
    pub drop_models: Vec<ReadModelName>,
}
