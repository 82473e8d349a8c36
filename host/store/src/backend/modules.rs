//! [`Modules`]: modules kept so a restarted host loads them again, and the runtime's state for
//! each.

use crate::error::{ModulePutError, ReadError, StorageError};
use crate::event::Timestamp;
use crate::module::{
    ModuleHash, ModuleName, ModulePut, ModuleRecord, ModuleRemoval, ModuleState, NewModule,
};

/// Modules as named, versioned blobs under their content hash, and the runtime's opaque state
/// for each.
///
/// What every backend promises:
/// 1. A name keeps its kind: a new version has the kind of the version before it. A put whose
///    name is held by a module of another kind is refused in the transaction that would have
///    kept it, so of racing puts of one name with different kinds exactly one kind wins. A
///    removed aggregate's name stays an aggregate's, since its streams stay, and a removed
///    reactor's a reactor's, since its outcome stream stays; a removed projection's or
///    upcaster's name may be taken by any kind.
/// 2. Versions of a name count 1, 2, 3, ... with one version per distinct hash in a row: a put
///    of the latest version's bytes changes nothing, unless the name was removed, when any put
///    makes a new version.
/// 3. A module's state changes together with the dropping of the read models it lets go.
/// 4. A removed module leaves [`Modules::modules`], its state is deleted, and the read models
///    named with it are dropped, in one transaction; a state put for it later is not kept.
///    Its versions stay readable by [`Modules::module_version`], since events name them in
///    their provenance.
/// 5. A new version is stamped with the time it was kept, in its own transaction; the stamp
///    never changes, and a put that changes nothing leaves it as it was. A version kept by a
///    release that recorded no times has none.
#[async_trait::async_trait]
pub trait Modules: Send + Sync {
    /// Keeps a module. Bytes that differ from the name's latest version make a new version
    /// (promise 2); a name held by another kind is refused ([`ModulePutError::NameTaken`],
    /// promise 1).
    async fn put_module(&self, module: NewModule) -> Result<ModulePut, ModulePutError>;

    /// The latest version of every module kept (not removed), by name.
    async fn modules(&self) -> Result<Vec<ModuleRecord>, ReadError>;

    /// The bytes of the module with this hash.
    async fn module_bytes(&self, hash: ModuleHash) -> Result<Option<Vec<u8>>, ReadError>;

    /// Version `version` of module `name`, if it was kept.
    async fn module_version(
        &self,
        name: ModuleName,
        version: u64,
    ) -> Result<Option<ModuleRecord>, ReadError>;

    /// When version `version` of module `name` was kept, by the store's clock (promise 5).
    async fn module_uploaded_at(
        &self,
        name: ModuleName,
        version: u64,
    ) -> Result<Option<Timestamp>, ReadError>;

    /// Replaces the runtime's state for a module, and drops the read models it names to drop,
    /// atomically (promise 3).
    async fn put_module_state(&self, state: ModuleState) -> Result<(), StorageError>;

    /// Removes a module (promise 4), returning the version that was latest, or `None` if no
    /// module of this name is kept (never kept, or removed already: nothing changes then).
    async fn remove_module(
        &self,
        removal: ModuleRemoval,
    ) -> Result<Option<ModuleRecord>, StorageError>;

    /// The state last put for module `name`.
    async fn module_state(&self, name: ModuleName) -> Result<Option<Vec<u8>>, ReadError>;

    /// For a store several nodes share: a watch that moves after the modules kept (or their
    /// states) may have changed by any node's hand, and whenever changes could have been
    /// missed (a lost connection), so a node can load what others kept. `None` for a store
    /// only this process writes, whose changes the process makes itself.
    fn watch_modules(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }
}
