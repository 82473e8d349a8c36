//! The boundary between cairn and a storage backend, as five traits a backend implements and
//! tests one at a time, and [`EventStore`], which names a backend that implements them all.
//!
//! - [`EventLog`] (`event_log.rs`): streams and the global log: appends, keyed appends, reads,
//!   the head and the wait for it to move.
//! - [`Snapshots`] (`snapshots.rs`): a stream's state saved beside it under a key.
//! - [`Modules`] (`modules.rs`): modules kept as named, versioned blobs, and the runtime's state
//!   for each.
//! - [`ReadModels`] (`read_models.rs`): projections' key-value read models with checkpoints.
//! - [`CommandLog`] (`command_log.rs`): the commands aggregates decided, each kept with the
//!   events it appended.
//!
//! Each trait lists the promises it keeps, numbered, and the contract suite
//! (`host/store-contract`) tests each promise by its trait and number. The runtime and the
//! server use only these traits, so a second backend (PostgreSQL, for several nodes sharing one
//! database) is added by implementing them and passing that suite, without touching either.
//!
//! Data moves through a backend in one direction per trait: a write call returns once the
//! write is durable (or refused, with nothing stored); a read call sees every write that
//! returned before it began.

use crate::error::StorageError;

mod command_log;
mod event_log;
mod modules;
mod read_models;
mod snapshots;

pub use command_log::CommandLog;
pub use event_log::EventLog;
pub use modules::Modules;
pub use read_models::ReadModels;
pub use snapshots::Snapshots;

/// A whole store: a backend that keeps events, commands, snapshots, modules and read models in
/// one place, so that what [`Modules::put_module_state`] drops and what [`ReadModels`] holds
/// are the same models, and a command's entry commits with its events. What it adds to its
/// parts is the store's health, which covers them all.
pub trait EventStore:
    EventLog + CommandLog + Snapshots + Modules + ReadModels + Send + Sync + std::fmt::Debug + 'static
{
    /// Why writes are failing, if the last write failed (a full disk, an I/O error); `None`
    /// once one commits again. With redb, a failed commit fails every later one until the
    /// store is reopened.
    fn write_failure(&self) -> Option<String>;

    /// The first damaged stored record this store met since it opened (a checksum that did
    /// not match, say), if any; `None` for a backend that keeps no checksums. Cheap: for health
    /// checks. It stays set until the store is reopened.
    fn damage_seen(&self) -> Option<crate::error::Damage> {
        None
    }

    /// Waits until this node holds the lease to run the background runners
    /// ([`crate::RunnerLease`]), and returns it. A store only this process writes grants it at
    /// once; a shared one when no other node holds it. Fails only when the store cannot be
    /// asked (then try again).
    fn acquire_runner_lease(
        &self,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<crate::RunnerLease, StorageError>> + Send + '_>>
    {
        Box::pin(async { Ok(crate::RunnerLease::sole()) })
    }

    /// Whether several nodes share this store, so the runners run where the lease is and the
    /// modules other nodes keep are followed ([`Modules::watch_modules`]).
    fn is_shared(&self) -> bool {
        false
    }
}
