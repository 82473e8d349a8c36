//! A batch the module refused part-way through: the events before the refused one are applied
//! and committed on their own before the generation is faulted, so a faulted model reflects the
//! log up to the event it failed on, whatever the batch boundaries happened to be.
//!
//! A refusal discards the whole batch's writes, and where a batch ends depends on how many
//! events were waiting when it was read. Without this step a projection refusing event 3 could
//! stand at 2 on one run and at 1 on another.

use std::sync::Arc;
use std::time::Instant;

use cairn_store::{ModelCommit, ModelWrite, Position, StorageError};
use tokio::runtime::Handle;

use super::Inner;
use super::generation::Generation;
use super::in_flight::{InFlight, Landed, land};
use super::prefetch::read_after;
use crate::model_overlay::SortedWrites;

/// Applies and commits the events after `after` that come before `refused_at`, the position of
/// the event the module refused at `refused_index` of a batch read after `after`. The batch
/// before it has landed, so the model's checkpoint is `after`.
///
/// `Landed::Done` whether the events before were committed or there were none; if applying
/// them alone fails, nothing more is committed and the caller faults with the first refusal.
/// Runs on the runner's blocking thread, like `generation::step`.
pub(super) fn commit_before_refusal(
    handle: &Handle,
    inner: &Inner,
    generation: &Generation,
    after: Position,
    refused_index: usize,
    refused_at: Position,
) -> Result<Landed, StorageError> {
    if refused_index == 0 {
        return Ok(Landed::Done);
    }
    let started = Instant::now();
    let projection = &generation.projection;
    // The log does not change below its head, so the read gives the same events again.
    let again = handle.block_on(read_after(inner, projection.filter(), after))?;
    let before = again.batch.before(refused_at.get());
    if before.len() != refused_index {
        tracing::warn!(
            projection = %projection.name(),
            expected = refused_index,
            found = before.len(),
            "the events before a refused one were not read again as they were; none committed"
        );
        return Ok(Landed::Done);
    }
    let (applied, newest_time, first) = (before.len(), before.newest_time(), before.place(0));
    let view = inner.store.read_model(&generation.model)?;
    let writes = match projection.blocking_apply(handle, view, before) {
        Ok(writes) => writes,
        Err(error) => {
            tracing::warn!(projection = %projection.name(), %error, "the events before a refused one failed on their own; none committed");
            return Ok(Landed::Done);
        }
    };
    let writes: Arc<[ModelWrite]> = writes.into();
    let commit = ModelCommit {
        model: generation.model.clone(),
        writes: Arc::clone(&writes),
        // Every position up to the refused event was scanned: the events before it were
        // applied, and the filter passed over the rest.
        checkpoint: Position::new(refused_at.get() - 1),
    };
    let checkpoint = commit.checkpoint;
    let store = Arc::clone(&inner.store);
    let in_flight = InFlight {
        commit: handle.spawn(async move { store.commit_model(commit).await }),
        writes: SortedWrites::new(writes),
        checkpoint,
        head: again.head,
        newest_time,
        applied,
        started,
        first,
    };
    handle.block_on(land(generation, Some(in_flight)))
}
