//! [`Generation`]: one read model being folded from the log by its runner task.
//!
//! The runner reads after the model's checkpoint in bounded scans, keeps the events the
//! module's filter admits, applies them in batches, and commits each batch's writes with the
//! position the scan reached. The store refuses a checkpoint that does not move ahead, so a
//! batch is never applied twice, and a crash leaves the model equal to the fold up to its
//! checkpoint. While one batch's commit is in flight, the next is read and applied over the
//! model as of that batch (`PendingView`), so the store's writer and the module run at once;
//! commits still land in order, each before the next is sent. Batches run one after another
//! on one blocking thread (`run_batches`): between two batches nothing waits for another thread
//! to be scheduled, which on a busy machine cost more than a tenth of a replay. Caught up, a
//! generation being built takes over (`lifecycle.rs`), and the runner waits on the head, back
//! on the executor. A module that fails on an event stops only this runner, which reports the
//! error, the event's position and its type; the events of the batch before that one are
//! committed first (`failed_batch.rs`). A paused projection's runner stops between
//! batches.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_store::{ModelRead, Position, ReadModelName, StorageError};
use tokio::runtime::Handle;
use tokio::sync::watch;

use super::failed_batch::{Failure, commit_before_failure};
use super::in_flight::{InFlight, Landed, land, send_commit};
use super::lifecycle::{Slot, take_over};
use super::prefetch::{NextBatch, Prefetch, read_after};
use super::status::{Fault, GenerationStatus, RunState};
use super::{Inner, lock, open_view, pause_flag};
use crate::model_overlay::PendingView;
use crate::projection::{ApplyError, LoadedProjection};

/// A running generation.
pub(super) struct Generation {
    pub(super) slot: Slot,
    pub(super) projection: Arc<LoadedProjection>,
    pub(super) model: ReadModelName,
    status: Mutex<GenerationStatus>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Generation {
    /// Starts the runner of generation `slot` of `projection`.
    pub(super) fn spawn(
        inner: &Arc<Inner>,
        projection: Arc<LoadedProjection>,
        slot: Slot,
    ) -> Arc<Self> {
        let model = slot.model(projection.name().as_str());
        // Until the runner has read its checkpoint, the model is taken to be empty.
        let head = inner.store.head().get();
        let status = Mutex::new(GenerationStatus {
            version: slot.version,
            generation: slot.generation,
            model: model.to_string(),
            state: RunState::CatchingUp,
            position: 0,
            head,
            lag_events: head,
            lag_ms: 0,
            events_per_s: 0.0,
            fault: None,
        });
        let (stop, stopped) = watch::channel(false);
        let generation = Arc::new(Self {
            slot,
            projection,
            model,
            status,
            stop,
            task: Mutex::new(None),
        });
        let task = tokio::spawn(run(Arc::clone(inner), Arc::clone(&generation), stopped));
        *lock(&generation.task) = Some(task);
        generation
    }

    pub(super) fn status(&self) -> GenerationStatus {
        lock(&self.status).clone()
    }

    /// Changes the status in place.
    pub(super) fn update_status(&self, change: impl FnOnce(&mut GenerationStatus)) {
        change(&mut lock(&self.status));
    }

    /// Tells the runner to stop after the batch in hand.
    pub(super) fn signal_stop(&self) {
        self.stop.send_replace(true);
    }

    /// Stops the runner and waits for it to finish, so nothing of it commits afterwards.
    pub(super) async fn stop_and_wait(&self) {
        self.signal_stop();
        let task = lock(&self.task).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// The runner of one generation.
async fn run(inner: Arc<Inner>, generation: Arc<Generation>, mut stopped: watch::Receiver<bool>) {
    let name = generation.projection.name().to_string();
    let mut head = inner.store.watch_head();
    let mut paused = pause_flag(&inner, &name).subscribe();
    // Report where the model stands before the first batch (a paused one may not run one).
    if let Ok(view) = open_view(&inner.store, &generation.model).await {
        let position = view.checkpoint().unwrap_or(Position::START).get();
        let head = inner.store.head().get();
        let mut status = lock(&generation.status);
        status.position = position;
        status.head = head;
        status.lag_events = head.saturating_sub(position);
    }
    let mut pipeline = Pipeline::default();
    loop {
        if *stopped.borrow() {
            let _ = land(&generation, pipeline.in_flight.take()).await;
            return;
        }
        if *paused.borrow_and_update() {
            if let Err(error) = land(&generation, pipeline.in_flight.take()).await {
                tracing::warn!(projection = %name, %error, "a projection runner stops: the store failed");
                return;
            }
            let before = {
                let mut status = lock(&generation.status);
                std::mem::replace(&mut status.state, RunState::Paused)
            };
            tokio::select! {
                _ = paused.wait_for(|p| !*p) => {}
                _ = stopped.wait_for(|s| *s) => return,
            }
            let mut status = lock(&generation.status);
            if status.state == RunState::Paused {
                status.state = before;
            }
            continue;
        }
        let (carried, stepped) =
            run_batches(&inner, &generation, &stopped, &paused, pipeline).await;
        pipeline = carried;
        match stepped {
            Ok(Step::Progressed) => {}
            Ok(Step::CaughtUp(position)) => {
                if is_building(&inner, &name, &generation) {
                    take_over(&inner, &generation, &mut stopped).await;
                }
                tokio::select! {
                    waited = head.wait_past(position) => if waited.is_err() { return },
                    _ = paused.changed() => {}
                    _ = stopped.wait_for(|s| *s) => return,
                }
            }
            Ok(Step::Faulted) => {
                // Stopped until a new version replaces this generation.
                let _ = stopped.wait_for(|s| *s).await;
                return;
            }
            Err(error) => {
                tracing::warn!(projection = %name, %error, "a projection runner stops: the store failed");
                return;
            }
        }
    }
}

enum Step {
    Progressed,
    CaughtUp(Position),
    Faulted,
}

/// What one batch leaves for the next: its commit in flight, and (while catching up) the
/// next batch's read, made during its apply.
#[derive(Default)]
struct Pipeline {
    in_flight: Option<InFlight>,
    prefetch: Option<Prefetch>,
}

/// Applies batches one after another on one blocking thread, until the runner has caught up
/// or faulted, or is told to stop or pause. The model's view is opened, the module called and
/// each commit sent from that thread, so a replay does not hop between threads from one
/// batch to the next.
async fn run_batches(
    inner: &Arc<Inner>,
    generation: &Arc<Generation>,
    stopped: &watch::Receiver<bool>,
    paused: &watch::Receiver<bool>,
    mut pipeline: Pipeline,
) -> (Pipeline, Result<Step, StorageError>) {
    let (inner, generation) = (Arc::clone(inner), Arc::clone(generation));
    let (stopped, paused) = (stopped.clone(), paused.clone());
    let handle = Handle::current();
    let batches = tokio::task::spawn_blocking(move || {
        let stepped = loop {
            let stepped = step(&handle, &inner, &generation, &mut pipeline);
            if !matches!(stepped, Ok(Step::Progressed)) || *stopped.borrow() || *paused.borrow() {
                break stepped;
            }
        };
        (pipeline, stepped)
    });
    match batches.await {
        Ok(done) => done,
        Err(e) => (Pipeline::default(), Err(StorageError::backend(e))),
    }
}

/// Reads and applies one batch over the model as of the batch in flight, then waits for that
/// one to land and sends this one's commit. Runs on a blocking thread (`run_batches`): it
/// reads redb and calls the module here.
fn step(
    handle: &Handle,
    inner: &Inner,
    generation: &Generation,
    pipeline: &mut Pipeline,
) -> Result<Step, StorageError> {
    let started = Instant::now();
    let committed = inner.store.read_model(&generation.model)?;
    let (after, view): (Position, Box<dyn ModelRead>) = match pipeline.in_flight.as_ref() {
        Some(pending) => (
            pending.checkpoint,
            Box::new(PendingView {
                view: committed,
                pending: pending.writes.clone(),
                checkpoint: pending.checkpoint,
            }),
        ),
        None => (committed.checkpoint().unwrap_or(Position::START), committed),
    };
    let filter = generation.projection.filter();
    let next = match pipeline.prefetch.take() {
        Some(read) if read.after == after => handle
            .block_on(read.next)
            .map_err(StorageError::backend)??,
        stale => {
            if let Some(stale) = stale {
                stale.next.abort();
            }
            handle.block_on(read_after(inner, filter, after))?
        }
    };
    if next.scanned_to <= after {
        return Ok(
            match handle.block_on(land(generation, pipeline.in_flight.take()))? {
                Landed::Done => {
                    let mut status = lock(&generation.status);
                    status.state = RunState::Live;
                    status.position = after.get();
                    status.head = next.head.get();
                    status.lag_events = next.head.get().saturating_sub(after.get());
                    status.lag_ms = 0;
                    Step::CaughtUp(after)
                }
                Landed::Superseded => Step::Progressed,
                Landed::Faulted => Step::Faulted,
            },
        );
    }
    let NextBatch {
        batch,
        checkpoint,
        head,
        ..
    } = next;
    if checkpoint < head {
        // Behind the head: read on while this batch is applied.
        pipeline.prefetch = Some(Prefetch::start(inner, filter, checkpoint));
    }
    let applied = batch.len();
    let newest_time = batch.newest_time();
    let first = batch.place(0);
    let applied_writes = generation.projection.blocking_apply(handle, view, batch);
    // The batch before this one lands first: commits go in order, and a fault below is
    // reported at the position the model then reflects.
    match handle.block_on(land(generation, pipeline.in_flight.take()))? {
        Landed::Done => {}
        Landed::Superseded => return Ok(Step::Progressed),
        Landed::Faulted => return Ok(Step::Faulted),
    }
    let writes = match applied_writes {
        Ok(writes) => writes,
        Err(ApplyError::Call(error)) if error.is_host_fault() => {
            // The host's fault says nothing of the events: nothing of the batch is committed,
            // and it is read and applied again after a pause, never faulted.
            tracing::warn!(projection = %generation.projection.name(), %error, "a projection batch is retried");
            std::thread::sleep(HOST_FAULT_PAUSE);
            return Ok(Step::Progressed);
        }
        Err(error) => {
            return Ok(
                match commit_before_failure(handle, inner, generation, after, applied, error)? {
                    Failure::At { error, place } => {
                        fault(generation, error.to_string(), place.as_ref());
                        Step::Faulted
                    }
                    Failure::Superseded => Step::Progressed,
                },
            );
        }
    };
    let (commit, writes) = send_commit(
        handle,
        &inner.store,
        generation.model.clone(),
        writes,
        checkpoint,
    );
    pipeline.in_flight = Some(InFlight {
        commit,
        writes,
        checkpoint,
        head,
        newest_time,
        applied,
        started,
        first,
    });
    Ok(Step::Progressed)
}

/// How long a runner waits before it applies again a batch that failed by the host's fault.
const HOST_FAULT_PAUSE: Duration = Duration::from_secs(1);

/// Marks `generation` faulted with `error`, at the event `place` (position, type) if known.
pub(super) fn fault(generation: &Generation, error: String, place: Option<&(u64, String)>) {
    let (position, event_type) = place.cloned().unwrap_or_default();
    tracing::warn!(projection = %generation.projection.name(), position, %event_type, %error, "projection faulted");
    generation.update_status(|status| {
        status.state = RunState::Faulted;
        status.fault = Some(Fault {
            error,
            position,
            event_type,
        });
    });
}

/// Whether `generation` is the one being built for projection `name`.
fn is_building(inner: &Inner, name: &str, generation: &Arc<Generation>) -> bool {
    lock(&inner.entries)
        .get(name)
        .and_then(|entry| entry.building.as_ref())
        .is_some_and(|building| Arc::ptr_eq(building, generation))
}
