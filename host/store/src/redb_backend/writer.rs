//! The writer thread and group commit.
//!
//! redb allows one write transaction at a time, so one thread owns writing. It takes whatever
//! operations are waiting when it is free (there is no delay window), applies them in arrival
//! order inside one durable transaction, commits, publishes the new head, and only then replies.
//!
//! Invariants:
//! 1. A reply of success is sent only after the commit that made it durable returned `Ok`.
//! 2. An operation refused on its own merits (a wrong expected version, say) wrote nothing, so
//!    its neighbours in the batch commit regardless.
//! 3. If the storage fails anywhere in a batch, the whole transaction is dropped and every
//!    operation in it gets the storage error, because a refusal in that batch may have been
//!    judged against neighbours that were never committed.
//! 4. The allocation counters (head, stream ids), and the streams' places the writer
//!    remembers (`stream_cache.rs`), advance only when a batch commits.

use std::sync::Arc;
use std::sync::mpsc::Receiver;

use redb::{Database, Durability};
use tokio::sync::oneshot;

use super::apply_append::{Allocated, AppendRequest, ApplyError, apply_append};
use super::apply_command::{CommandRequest, apply_command};
use super::apply_model::{
    apply_model_amend, apply_model_commit, apply_model_drop, apply_model_replace,
};
use super::apply_module::{apply_module, apply_module_removal, apply_module_state};
use super::apply_snapshot::{SnapshotRequest, apply_snapshot};
use super::stream_cache::StreamCache;
use super::tables::WriteTables;
use crate::append::AppendOutcome;
use crate::error::{AppendError, ModelError, ModulePutError, SnapshotError, StorageError};
use crate::event::Timestamp;
use crate::head::HeadSender;
use crate::module::{ModulePut, ModuleRecord, ModuleRemoval, ModuleState, NewModule};
use crate::read_model::{ModelAmend, ModelCommit, ReadModelName};
use crate::version::Position;

/// The most operations one transaction takes, and the most events, so one commit stays short.
const MAX_BATCH_OPS: usize = 1_024;
const MAX_BATCH_EVENTS: usize = 16_384;

/// An operation for the writer, with the channel its result goes back on.
#[derive(Debug)]
pub(crate) enum WriteOp {
    Append(Pending<AppendRequest, AppendOutcome, AppendError>),
    PutSnapshot(Pending<SnapshotRequest, (), SnapshotError>),
    PutModule(Pending<NewModule, ModulePut, ModulePutError>),
    CommitModel(Pending<ModelCommit, (), ModelError>),
    AmendModel(Pending<ModelAmend, (), ModelError>),
    ReplaceModel(Pending<ModelCommit, (), ModelError>),
    DropModel(Pending<ReadModelName, (), StorageError>),
    PutModuleState(Pending<ModuleState, (), StorageError>),
    RemoveModule(Pending<ModuleRemoval, Option<ModuleRecord>, StorageError>),
    RecordCommand(Pending<CommandRequest, (), StorageError>),
    /// Finish the operations queued before this one, then stop.
    Close(oneshot::Sender<()>),
}

/// A request, its reply channel, and its result once applied.
#[derive(Debug)]
pub(crate) struct Pending<R, T, E> {
    request: R,
    reply: oneshot::Sender<Result<T, E>>,
    result: Option<Result<T, E>>,
}

impl<R, T, E: From<StorageError>> Pending<R, T, E> {
    pub(crate) fn new(request: R) -> (Self, oneshot::Receiver<Result<T, E>>) {
        let (reply, receiver) = oneshot::channel();
        let pending = Self {
            request,
            reply,
            result: None,
        };
        (pending, receiver)
    }

    /// Sends the result, or `failure` if the batch did not commit. A caller that stopped waiting
    /// is no error.
    fn settle(self, failure: Option<&StorageError>) {
        let result = match (failure, self.result) {
            (Some(failure), _) => Err(E::from(failure.clone())),
            (None, Some(result)) => result,
            (None, None) => Err(E::from(StorageError::Closed)),
        };
        let _ = self.reply.send(result);
    }
}

/// Why the last batch failed, while batches are failing; the next batch that commits clears it.
pub(crate) type WriteFailure = Arc<std::sync::Mutex<Option<String>>>;

/// Runs the writer until every sender is gone or a [`WriteOp::Close`] arrives.
pub(crate) fn run(
    db: Arc<Database>,
    ops: Receiver<WriteOp>,
    mut allocated: Allocated,
    head: HeadSender,
    failure: WriteFailure,
) {
    let mut streams = StreamCache::default();
    while let Ok(first) = ops.recv() {
        let mut batch = vec![first];
        let mut events = 0;
        while batch.len() < MAX_BATCH_OPS && events < MAX_BATCH_EVENTS {
            match ops.try_recv() {
                Ok(op) => {
                    if let WriteOp::Append(pending) = &op {
                        events += pending.request.events.len();
                    }
                    batch.push(op);
                }
                Err(_) => break,
            }
        }
        let close = match batch.iter().position(|op| matches!(op, WriteOp::Close(_))) {
            Some(at) => batch.drain(at..).next(),
            None => None,
        };
        if !batch.is_empty() {
            commit_batch(&db, &mut allocated, &mut streams, &head, &failure, batch);
        }
        if let Some(WriteOp::Close(done)) = close {
            let _ = done.send(());
            return;
        }
    }
}

/// Applies and commits one batch, then replies to each operation in it.
fn commit_batch(
    db: &Database,
    allocated: &mut Allocated,
    streams: &mut StreamCache,
    head: &HeadSender,
    last_failure: &WriteFailure,
    mut batch: Vec<WriteOp>,
) {
    let mut next = *allocated;
    let started = std::time::Instant::now();
    let failure = apply_and_commit(db, &mut next, streams, &mut batch).err();
    count_commit(
        &batch,
        started.elapsed(),
        failure.is_none().then(|| next.head - allocated.head),
    );
    *last_failure
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) =
        failure.as_ref().map(ToString::to_string);
    if let Some(error) = &failure {
        tracing::error!(%error, operations = batch.len(), "write batch failed; none of it is stored");
        streams.abandon();
    } else {
        streams.commit();
        if next.head != allocated.head {
            head.advance(Position::new(next.head));
        }
        *allocated = next;
    }
    for op in batch {
        match op {
            WriteOp::Append(pending) => pending.settle(failure.as_ref()),
            WriteOp::PutSnapshot(pending) => pending.settle(failure.as_ref()),
            WriteOp::PutModule(pending) => pending.settle(failure.as_ref()),
            WriteOp::CommitModel(pending) => pending.settle(failure.as_ref()),
            WriteOp::AmendModel(pending) => pending.settle(failure.as_ref()),
            WriteOp::ReplaceModel(pending) => pending.settle(failure.as_ref()),
            WriteOp::DropModel(pending) => pending.settle(failure.as_ref()),
            WriteOp::PutModuleState(pending) => pending.settle(failure.as_ref()),
            WriteOp::RemoveModule(pending) => pending.settle(failure.as_ref()),
            WriteOp::RecordCommand(pending) => pending.settle(failure.as_ref()),
            WriteOp::Close(_) => {}
        }
    }
}

/// What a commit counts, through the `metrics` facade (the server renders them):
/// `cairn_store_commit_seconds` and `cairn_store_commit_operations` for every commit, the
/// events it wrote to `cairn_appended_events_total` (every append, over HTTP or by a command;
/// recognised retries write none), and failed commits to `cairn_store_commit_failures_total`.
fn count_commit(batch: &[WriteOp], took: std::time::Duration, written: Option<u64>) {
    metrics::histogram!("cairn_store_commit_seconds").record(took.as_secs_f64());
    metrics::histogram!("cairn_store_commit_operations").record(batch.len() as f64);
    match written {
        Some(events) => metrics::counter!("cairn_appended_events_total").increment(events),
        None => metrics::counter!("cairn_store_commit_failures_total").increment(1),
    }
}

fn apply_and_commit(
    db: &Database,
    allocated: &mut Allocated,
    streams: &mut StreamCache,
    batch: &mut [WriteOp],
) -> Result<(), StorageError> {
    let mut txn = db.begin_write().map_err(StorageError::backend)?;
    txn.set_durability(Durability::Immediate)
        .map_err(StorageError::backend)?;
    txn.set_two_phase_commit(true);
    {
        let mut tables = WriteTables::open(&txn).map_err(StorageError::backend)?;
        let now = Timestamp::now();
        for op in batch.iter_mut() {
            match op {
                WriteOp::Append(pending) => {
                    let result = match apply_append(
                        &mut tables,
                        allocated,
                        streams,
                        &pending.request,
                        now,
                    ) {
                        Ok(outcome) => Ok(outcome),
                        Err(ApplyError::Refused(refusal)) => Err(refusal),
                        Err(ApplyError::Storage(error)) => return Err(error),
                    };
                    pending.result = Some(result);
                }
                WriteOp::PutSnapshot(pending) => {
                    pending.result = Some(apply_snapshot(&mut tables, &pending.request)?);
                }
                WriteOp::PutModule(pending) => {
                    pending.result = Some(apply_module(&mut tables, &pending.request, now)?);
                }
                WriteOp::CommitModel(pending) => {
                    pending.result = Some(apply_model_commit(&mut tables, &pending.request)?);
                }
                WriteOp::AmendModel(pending) => {
                    pending.result = Some(apply_model_amend(&mut tables, &pending.request)?);
                }
                WriteOp::ReplaceModel(pending) => {
                    pending.result = Some(apply_model_replace(&mut tables, &pending.request)?);
                }
                WriteOp::DropModel(pending) => {
                    apply_model_drop(&mut tables, &pending.request)?;
                    pending.result = Some(Ok(()));
                }
                WriteOp::PutModuleState(pending) => {
                    apply_module_state(&mut tables, &pending.request)?;
                    pending.result = Some(Ok(()));
                }
                WriteOp::RemoveModule(pending) => {
                    let removed = apply_module_removal(&mut tables, &pending.request)?;
                    pending.result = Some(Ok(removed));
                }
                WriteOp::RecordCommand(pending) => {
                    pending.result = Some(apply_command(&mut tables, &pending.request)?);
                }
                WriteOp::Close(_) => {}
            }
        }
    }
    txn.commit().map_err(StorageError::backend)
}
