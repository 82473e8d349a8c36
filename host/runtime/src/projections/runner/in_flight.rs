//! [`InFlight`]: a batch's commit, sent to the store while the runner reads and applies the
//! next batch over it; [`land`] waits for it and reports it on the generation's
//! [`StatusBoard`].

use std::sync::Arc;
use std::time::Instant;

use cairn_store::{
    EventStore, ModelCommit, ModelError, ModelWrite, Position, ReadModelName, StorageError,
};
use tokio::runtime::Handle;

use super::status::{Landing, StatusBoard};
use crate::projections::model_overlay::SortedWrites;
use crate::projections::projection::EventPlace;

/// A batch's commit, sent to the store while the runner goes on to the next batch.
pub(super) struct InFlight {
    pub(super) commit: tokio::task::JoinHandle<Result<(), ModelError>>,
    /// Its writes, laid over the committed model for the next batch's reads.
    pub(super) writes: SortedWrites,
    pub(super) checkpoint: Position,
    pub(super) head: Position,
    /// When the newest event it covers was recorded.
    pub(super) newest_time: Option<u64>,
    pub(super) applied: usize,
    /// When its batch began to be read.
    pub(super) started: Instant,
    /// Where its batch's first event is, to name a commit the store refuses.
    pub(super) first: Option<EventPlace>,
}

/// Sends `writes` to the store as one commit of `model` with `checkpoint`, on `handle`'s
/// runtime, and returns the commit's task with the writes sorted for the overlay: the two
/// fields of an [`InFlight`] that the store fills.
pub(super) fn send_commit(
    handle: &Handle,
    store: &Arc<dyn EventStore>,
    model: ReadModelName,
    writes: Vec<ModelWrite>,
    checkpoint: Position,
) -> (
    tokio::task::JoinHandle<Result<(), ModelError>>,
    SortedWrites,
) {
    // The commit and the next batch's view share the writes.
    let writes: Arc<[ModelWrite]> = writes.into();
    let commit = ModelCommit {
        model,
        writes: Arc::clone(&writes),
        checkpoint,
    };
    let store = Arc::clone(store);
    let task = handle.spawn(async move { store.commit_model(commit).await });
    (task, SortedWrites::new(writes))
}

/// How a commit in flight ended.
pub(super) enum Landed {
    /// Nothing was in flight, or it committed; the status shows it.
    Done,
    /// The store refused it because the checkpoint had moved (a runner being replaced): read
    /// again from the store.
    Superseded,
    /// The store refused it for good: the generation is faulted.
    Faulted,
}

/// Waits for the commit in flight, if any, and reports it on `status`.
pub(super) async fn land(
    status: &StatusBoard,
    in_flight: Option<InFlight>,
) -> Result<Landed, StorageError> {
    let Some(in_flight) = in_flight else {
        return Ok(Landed::Done);
    };
    let committed = in_flight.commit.await.map_err(StorageError::backend)?;
    match committed {
        Ok(()) => {}
        Err(ModelError::CheckpointNotAhead { .. }) => return Ok(Landed::Superseded),
        Err(ModelError::Storage(e)) => return Err(e),
        Err(error @ (ModelError::TooLarge { .. } | ModelError::NeverCommitted { .. })) => {
            status.faulted(error.to_string(), in_flight.first.as_ref());
            return Ok(Landed::Faulted);
        }
    }
    status.landed(&Landing {
        position: in_flight.checkpoint.get(),
        head: in_flight.head.get(),
        newest_time: in_flight.newest_time,
        applied: in_flight.applied,
        started: in_flight.started,
    });
    Ok(Landed::Done)
}
