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
//! to be scheduled, which on a busy machine cost more than a tenth of a replay. Caught up, the
//! generation says so ([`Generation::caught_up`]: one being built then takes over, in
//! `lifecycle.rs`), and the runner waits on the head, back on the executor. A module that fails on an event stops only this runner, which reports the
//! error, the event's position and its type; the events of the batch before that one are
//! committed first (`failed_batch.rs`). A paused projection's runner stops between
//! batches.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use cairn_store::{ModelRead, Position, ReadModelName, StorageError};
use serde::{Deserialize, Serialize};
use tokio::runtime::Handle;
use tokio::sync::watch;

use super::env::RunnerEnv;
use super::failed_batch::{FailedBatch, Failure, commit_before_failure};
use super::fold::Fold;
use super::in_flight::{InFlight, Landed, land, send_commit};
use super::prefetch::{NextBatch, Prefetch, read_after, read_before};
use super::status::{GenerationStatus, StatusBoard};
use crate::error::CallError;
use crate::projections::model_overlay::PendingView;
use crate::projections::projection::{ApplyError, EventPlace, LoadedProjection};
use crate::upcasters::upcaster::UpcastError;
use crate::upcasters::upcaster_set::UpcasterSet;

/// One generation: its number, the module version it runs, and the fingerprint of the
/// upcasters it reads through ([`UpcasterSet::fingerprint`]; 0, none, for what was kept before
/// upcasters existed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Slot {
    pub(super) generation: u64,
    pub(super) version: u64,
    #[serde(default)]
    pub(super) upcasters: u64,
}

impl Slot {
    /// The read model of this generation of projection `name`: `{name}#g{generation}`.
    pub(super) fn model(&self, name: &str) -> ReadModelName {
        ReadModelName::new(&format!("{name}#g{}", self.generation))
            .unwrap_or_else(|_| unreachable!("a module name, #g and a number make a model name"))
    }
}

/// A generation: made, then started ([`Generation::start`]) once its lifecycle is kept.
pub(super) struct Generation {
    pub(super) slot: Slot,
    fold: Arc<Fold>,
    stop: watch::Sender<bool>,
    /// Whether the runner has read everything up to the head at least once.
    caught_up: watch::Sender<bool>,
    /// The runner before it starts, and its task once it has.
    runner: Mutex<RunnerTask>,
}

enum RunnerTask {
    NotStarted(Runner, watch::Receiver<bool>),
    Running(tokio::task::JoinHandle<()>),
    Finished,
}

impl Generation {
    /// Generation `slot` of `projection`, whose runner, once started, stops between batches
    /// while `paused` says so.
    pub(super) fn new(
        env: &Arc<RunnerEnv>,
        projection: Arc<LoadedProjection>,
        upcasters: UpcasterSet,
        slot: Slot,
        paused: watch::Receiver<bool>,
    ) -> Arc<Self> {
        let model = slot.model(projection.name().as_str());
        let status = StatusBoard::new(
            projection.name().as_str(),
            slot.version,
            slot.generation,
            model.to_string(),
            env.store.head().get(),
        );
        let fold = Arc::new(Fold {
            projection,
            upcasters,
            model,
            status,
        });
        let (stop, stopped) = watch::channel(false);
        let caught_up = watch::Sender::new(false);
        let runner = Runner {
            env: Arc::clone(env),
            fold: Arc::clone(&fold),
            caught_up: caught_up.clone(),
            stopped,
        };
        Arc::new(Self {
            slot,
            fold,
            stop,
            caught_up,
            runner: Mutex::new(RunnerTask::NotStarted(runner, paused)),
        })
    }

    /// Starts the runner, if it has not started.
    pub(super) fn start(&self) {
        let mut task = self.task();
        if let RunnerTask::NotStarted(..) = &*task {
            let RunnerTask::NotStarted(runner, paused) =
                std::mem::replace(&mut *task, RunnerTask::Finished)
            else {
                unreachable!("matched just above")
            };
            *task = RunnerTask::Running(tokio::spawn(runner.run(paused)));
        }
    }

    fn task(&self) -> std::sync::MutexGuard<'_, RunnerTask> {
        self.runner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn projection(&self) -> &Arc<LoadedProjection> {
        &self.fold.projection
    }

    pub(super) fn model(&self) -> &ReadModelName {
        &self.fold.model
    }

    pub(super) fn status(&self) -> GenerationStatus {
        self.fold.status.get()
    }

    /// Waits until the runner has caught up with the log once. False if it was told to stop
    /// first.
    pub(super) async fn caught_up(&self) -> bool {
        let mut caught_up = self.caught_up.subscribe();
        let mut stopped = self.stop.subscribe();
        tokio::select! {
            reached = caught_up.wait_for(|c| *c) => reached.is_ok(),
            _ = stopped.wait_for(|s| *s) => false,
        }
    }

    /// Tells the runner to stop after the batch in hand.
    pub(super) fn signal_stop(&self) {
        self.stop.send_replace(true);
    }

    /// Stops the runner and waits for it to finish, so nothing of it commits afterwards. A
    /// runner not started never starts.
    pub(super) async fn stop_and_wait(&self) {
        self.signal_stop();
        let task = std::mem::replace(&mut *self.task(), RunnerTask::Finished);
        if let RunnerTask::Running(task) = task {
            let _ = task.await;
        }
    }
}

/// The task of one generation: what it runs against, what it folds, and where it says it
/// caught up.
struct Runner {
    env: Arc<RunnerEnv>,
    fold: Arc<Fold>,
    caught_up: watch::Sender<bool>,
    stopped: watch::Receiver<bool>,
}

impl Runner {
    async fn run(self, mut paused: watch::Receiver<bool>) {
        let mut stopped = self.stopped.clone();
        let name = self.fold.projection.name().to_string();
        let status = &self.fold.status;
        let mut head = self.env.store.watch_head();
        // Report where the model stands before the first batch (a paused one may not run one).
        if let Ok(view) = self.env.open_view(&self.fold.model).await {
            let position = view.checkpoint().unwrap_or(Position::START).get();
            status.stands_at(position, self.env.store.head().get());
        }
        let mut pipeline = Pipeline::default();
        loop {
            if *stopped.borrow() {
                let _ = land(status, pipeline.in_flight.take()).await;
                return;
            }
            if *paused.borrow_and_update() {
                if let Err(error) = land(status, pipeline.in_flight.take()).await {
                    tracing::warn!(projection = %name, %error, "a projection runner stops: the store failed");
                    return;
                }
                let before = status.paused();
                tokio::select! {
                    _ = paused.wait_for(|p| !*p) => {}
                    _ = stopped.wait_for(|s| *s) => return,
                }
                status.resumed(before);
                continue;
            }
            let (carried, stepped) = self.run_batches(&stopped, &paused, pipeline).await;
            pipeline = carried;
            match stepped {
                Ok(Step::Progressed) => {}
                Ok(Step::CaughtUp(position)) => {
                    self.caught_up.send_replace(true);
                    tokio::select! {
                        waited = head.wait_past(position) => if waited.is_err() { return },
                        _ = paused.changed() => {}
                        _ = stopped.wait_for(|s| *s) => return,
                    }
                }
                Ok(Step::HostFault(pause)) => {
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = stopped.wait_for(|s| *s) => {}
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

    /// Applies batches one after another on one blocking thread, until the runner has caught
    /// up or faulted, or is told to stop or pause. The model's view is opened, the module
    /// called and each commit sent from that thread, so a replay does not hop between threads
    /// from one batch to the next.
    async fn run_batches(
        &self,
        stopped: &watch::Receiver<bool>,
        paused: &watch::Receiver<bool>,
        mut pipeline: Pipeline,
    ) -> (Pipeline, Result<Step, StorageError>) {
        let (env, fold) = (Arc::clone(&self.env), Arc::clone(&self.fold));
        let (stopped, paused) = (stopped.clone(), paused.clone());
        let handle = Handle::current();
        let batches = tokio::task::spawn_blocking(move || {
            let stepped = loop {
                let stepped = step(&handle, &env, &fold, &mut pipeline);
                if !matches!(stepped, Ok(Step::Progressed)) || *stopped.borrow() || *paused.borrow()
                {
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
}

enum Step {
    Progressed,
    CaughtUp(Position),
    /// A batch failed by the host's fault: apply it again after this pause.
    HostFault(Duration),
    Faulted,
}

/// What one batch leaves for the next: its commit in flight, (while catching up) the next
/// batch's read, made during its apply, and how many batches in a row failed by the host's
/// fault.
#[derive(Default)]
struct Pipeline {
    in_flight: Option<InFlight>,
    prefetch: Option<Prefetch>,
    host_faults: u32,
}

/// Reads and applies one batch over the model as of the batch in flight, then waits for that
/// one to land and sends this one's commit. Runs on a blocking thread (`run_batches`): it
/// reads redb and calls the module here.
fn step(
    handle: &Handle,
    env: &RunnerEnv,
    fold: &Fold,
    pipeline: &mut Pipeline,
) -> Result<Step, StorageError> {
    let started = Instant::now();
    let committed = env.store.read_model(&fold.model)?;
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
    let filter = fold.projection.filter();
    let upcasters = &fold.upcasters;
    let next = match pipeline.prefetch.take() {
        Some(read) if read.after == after => handle
            .block_on(read.next)
            .map_err(StorageError::backend)??,
        stale => {
            if let Some(stale) = stale {
                stale.next.abort();
            }
            handle.block_on(read_after(env, filter, upcasters, after))?
        }
    };
    let next = match &next.failed_upcast {
        // An upcaster failed on an event past the first: the events before it are applied
        // first, so the fault finds the model just before the event, as a module's does.
        Some(failure)
            if failure.position.get() > after.get() + 1
                && !matches!(&failure.error, UpcastError::Call(e) if e.is_host_fault()) =>
        {
            let before =
                handle.block_on(read_before(env, filter, upcasters, after, failure.position))?;
            if before.failed_upcast.is_none() && before.scanned_to > after {
                before
            } else {
                next
            }
        }
        _ => next,
    };
    if let Some(failure) = next.failed_upcast {
        if let UpcastError::Call(error) = &failure.error
            && error.is_host_fault()
        {
            let error = error.clone();
            return Ok(retry_later(fold, &mut pipeline.host_faults, &error));
        }
        // Nothing of this read is applied: the model stops where the batch before it ends.
        return Ok(
            match handle.block_on(land(&fold.status, pipeline.in_flight.take()))? {
                Landed::Done => {
                    let place = EventPlace {
                        position: failure.position.get(),
                        event_type: failure.event_type.to_string(),
                    };
                    fold.status.faulted(failure.to_string(), Some(&place));
                    Step::Faulted
                }
                Landed::Superseded => Step::Progressed,
                Landed::Faulted => Step::Faulted,
            },
        );
    }
    if next.scanned_to <= after {
        return Ok(
            match handle.block_on(land(&fold.status, pipeline.in_flight.take()))? {
                Landed::Done => {
                    fold.status.caught_up(after.get(), next.head.get());
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
        pipeline.prefetch = Some(Prefetch::start(env, filter, upcasters, checkpoint));
    }
    let applied = batch.len();
    let newest_time = batch.newest_time();
    let first = batch.place(0);
    let applied_writes = fold.projection.blocking_apply(handle, view, batch);
    // The batch before this one lands first: commits go in order, and a fault below is
    // reported at the position the model then reflects.
    match handle.block_on(land(&fold.status, pipeline.in_flight.take()))? {
        Landed::Done => {}
        Landed::Superseded => return Ok(Step::Progressed),
        Landed::Faulted => return Ok(Step::Faulted),
    }
    let writes = match applied_writes {
        Ok(writes) => writes,
        Err(ApplyError::Call(error)) if error.is_host_fault() => {
            return Ok(retry_later(fold, &mut pipeline.host_faults, &error));
        }
        Err(error) => {
            return Ok(
                match commit_before_failure(
                    handle,
                    env,
                    FailedBatch {
                        fold,
                        after,
                        len: applied,
                        error,
                    },
                )? {
                    Failure::At { error, place } => {
                        fold.status.faulted(error.to_string(), place.as_ref());
                        Step::Faulted
                    }
                    Failure::Host(error) => retry_later(fold, &mut pipeline.host_faults, &error),
                    Failure::Superseded => Step::Progressed,
                },
            );
        }
    };
    pipeline.host_faults = 0;
    let (commit, writes) = send_commit(handle, &env.store, fold.model.clone(), writes, checkpoint);
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

/// How long a runner waits before it applies again a batch that failed by the host's fault,
/// the first time; each fault in a row doubles it, up to [`HOST_FAULT_PAUSE_MAX`].
const HOST_FAULT_PAUSE: Duration = Duration::from_secs(1);
const HOST_FAULT_PAUSE_MAX: Duration = Duration::from_secs(30);

/// A batch failed by the host's fault (`error`), the `faults`-th in a row: nothing of it is
/// committed, and it is read and applied again after a pause that grows with each fault in a
/// row (the runner waits it out, `run`). The host's fault says nothing of the events, so the
/// generation is never faulted for it.
fn retry_later(fold: &Fold, faults: &mut u32, error: &CallError) -> Step {
    let pause = HOST_FAULT_PAUSE
        .saturating_mul(1 << (*faults).min(5))
        .min(HOST_FAULT_PAUSE_MAX);
    *faults = faults.saturating_add(1);
    tracing::warn!(
        projection = %fold.projection.name(),
        %error,
        faults_in_a_row = *faults,
        pause_ms = pause.as_millis() as u64,
        "a projection batch failed by the host's fault; it is applied again after a pause"
    );
    Step::HostFault(pause)
}
