//! [`ReadModels`]: the key-value tables projections write, each with a checkpoint.

use crate::error::{ModelError, StorageError};
use crate::read_model::{ModelAmend, ModelCommit, ModelRead, ReadModelName};

/// Projections' read models: ordered key-value tables, each with the position of the last
/// event folded into it.
///
/// What every backend promises:
/// 1. A read model's writes and its checkpoint commit together or not at all, and its
///    checkpoint only grows (but for a replacement, promise 4).
/// 2. A read of a model is one consistent view: it sees every commit that returned before it
///    opened and none that came after, for as long as it is held.
/// 3. An amendment applies its writes, all or none, and leaves the checkpoint as it was. A
///    model that has never committed cannot be amended.
/// 4. A replacement drops a model and commits to it again, in one transaction: afterwards the
///    model holds exactly the replacement's writes at its checkpoint, whatever it held before;
///    a refused replacement leaves the model as it was.
#[async_trait::async_trait]
pub trait ReadModels: Send + Sync {
    /// Applies a read model's writes and moves its checkpoint, atomically (promise 1). Refused
    /// if the checkpoint is not past the model's.
    async fn commit_model(&self, commit: ModelCommit) -> Result<(), ModelError>;

    /// Applies writes to a model without moving its checkpoint (promise 3). Refused for a
    /// model that has never committed.
    async fn amend_model(&self, amend: ModelAmend) -> Result<(), ModelError>;

    /// Drops a read model and commits `commit` to it, atomically (promise 4): its entries
    /// become `commit`'s writes and its checkpoint `commit.checkpoint`, which may be behind
    /// the one it had. Refused whole if a write is over the size limits.
    async fn replace_model(&self, commit: ModelCommit) -> Result<(), ModelError>;

    /// Removes a read model: its entries and its checkpoint.
    async fn drop_model(&self, model: ReadModelName) -> Result<(), StorageError>;

    /// A consistent view of a read model (promise 2; empty, with no checkpoint, if it was never
    /// committed). This blocks on the database: call it from a blocking thread.
    fn read_model(&self, model: &ReadModelName) -> Result<Box<dyn ModelRead>, StorageError>;
}
