//! [`InFlight`]: a batch's commit, sent to the store while the runner reads and applies the
//! next batch over it; [`land`] waits for it and reports it in the generation's status.

use std::sync::Arc;
use std::time::Instant;

use cairn_store::{
    EventStore, ModelCommit, ModelError, ModelWrite, Position, ReadModelName, StorageError,
};
use tokio::runtime::Handle;

use super::generation::{Generation, fault};
use super::status::RunState;
use crate::model_overlay::SortedWrites;

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
    pub(super) first: Option<(u64, String)>,
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

/// Waits for the commit in flight, if any, and reports it in the status.
pub(super) async fn land(
    generation: &Generation,
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
        Err(error @ ModelError::TooLarge { .. }) => {
            fault(generation, error.to_string(), in_flight.first.as_ref());
            return Ok(Landed::Faulted);
        }
    }
    let position = in_flight.checkpoint.get();
    let head = in_flight.head.get();
    generation.update_status(|status| {
        status.position = position;
        status.head = head;
        status.lag_events = head.saturating_sub(position);
        status.state = if position >= head {
            RunState::Live
        } else {
            RunState::CatchingUp
        };
        // Behind the head, the lag in time is how old the last event reflected is.
        status.lag_ms = match (status.state, in_flight.newest_time) {
            (RunState::CatchingUp, Some(time)) => cairn_store::Timestamp::now()
                .as_millis()
                .saturating_sub(time),
            _ => 0,
        };
        let seconds = in_flight.started.elapsed().as_secs_f64();
        if in_flight.applied > 0 && seconds > 0.0 {
            status.events_per_s = in_flight.applied as f64 / seconds;
        }
    });
    Ok(Landed::Done)
}
