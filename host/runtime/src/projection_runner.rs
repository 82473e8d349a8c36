//! [`Projections`]: runs every loaded projection over the global log, and answers queries.
//!
//! Each projection version has a read model of its own, `{name}#v{version}` (a generation).
//! A runner task folds the log into it from its checkpoint: it reads after the checkpoint in
//! bounded scans, keeps the events the module's filter admits, applies them in batches, and
//! commits each batch's writes with the position the scan reached. The store refuses a
//! checkpoint that does not move ahead, so a batch is never applied twice, and a crash leaves
//! the model equal to the fold up to its checkpoint. Caught up, the runner waits on the head.
//!
//! A new version builds its generation beside the one serving queries; once it has caught up
//! it takes over, and the old generation stops and its model is dropped. A module that fails
//! on an event stops only its own runner, which reports the error, the event's position and
//! its type; uploading a fixed version builds a new generation that takes over. A paused
//! projection's runners stop between batches; queries are still answered.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use cairn_store::{
    AllRead, EventStore, Json, ModelCommit, ModelError, ModelRead, Position, ReadModelName,
    StorageError,
};
use tokio::sync::watch;

use crate::error::CallError;
use crate::projection::{ApplyError, LoadedProjection};
use crate::registry::Registry;

/// How a runner reads the log.
#[derive(Clone, Debug)]
pub struct RunnerConfig {
    /// The most events one `apply` call takes.
    pub batch: usize,
    /// The most log positions one read examines.
    pub scan_limit: usize,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            batch: 500,
            scan_limit: 100_000,
        }
    }
}

/// What a runner is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    CatchingUp,
    Live,
    Faulted,
    Paused,
}

/// Why a runner stopped.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Fault {
    pub error: String,
    /// The position of the event it failed on (the batch's first, if the call itself failed).
    pub position: u64,
    pub event_type: String,
}

/// One generation's progress.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct GenerationStatus {
    pub version: u64,
    pub model: String,
    pub state: RunState,
    /// The position the read model reflects.
    pub position: u64,
    /// The newest position when it last looked.
    pub head: u64,
    /// Events between the model and the head.
    pub lag_events: u64,
    /// How old, in milliseconds, the last event the model reflects is, while it catches up (0
    /// when live).
    pub lag_ms: u64,
    /// Events applied per second over the last batch.
    pub events_per_s: f64,
    pub fault: Option<Fault>,
}

/// A projection's status: the generation serving queries, and one being built beside it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ProjectionStatus {
    pub name: String,
    #[serde(flatten)]
    pub serving: GenerationStatus,
    /// A newer version catching up, which takes over when it is live.
    pub rebuilding: Option<GenerationStatus>,
}

/// Why a query was not answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("no projection is named '{0}'")]
    UnknownProjection(String),
    /// The module refused the request; the message is the module's.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Module(#[from] CallError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A running generation.
struct Generation {
    projection: Arc<LoadedProjection>,
    model: ReadModelName,
    status: Arc<Mutex<GenerationStatus>>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Generation {
    fn status(&self) -> GenerationStatus {
        lock(&self.status).clone()
    }
}

#[derive(Default)]
struct Entry {
    serving: Option<Arc<Generation>>,
    building: Option<Arc<Generation>>,
}

struct Inner {
    store: Arc<dyn EventStore>,
    registry: Arc<Registry>,
    config: RunnerConfig,
    entries: Mutex<BTreeMap<String, Entry>>,
    /// Generations replaced or stopped, whose tasks may still be finishing.
    retired: Mutex<Vec<Arc<Generation>>>,
    /// Whether each projection is paused (all its generations).
    paused: Mutex<BTreeMap<String, watch::Sender<bool>>>,
}

/// Runs the registry's projections. Dropping it stops nothing; call [`Projections::stop`].
#[derive(Clone)]
pub struct Projections {
    inner: Arc<Inner>,
    stop: watch::Sender<bool>,
    supervisor: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl std::fmt::Debug for Projections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projections")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Projections {
    /// Starts a runner for every projection in `registry`, and for each one installed later.
    pub fn start(
        store: Arc<dyn EventStore>,
        registry: Arc<Registry>,
        config: RunnerConfig,
    ) -> Self {
        let inner = Arc::new(Inner {
            store,
            registry,
            config,
            entries: Mutex::new(BTreeMap::new()),
            retired: Mutex::new(Vec::new()),
            paused: Mutex::new(BTreeMap::new()),
        });
        let (stop, mut stopped) = watch::channel(false);
        let mut installs = inner.registry.watch_projections();
        let supervisor = Arc::clone(&inner);
        let supervisor = tokio::spawn(async move {
            loop {
                sync(&supervisor);
                tokio::select! {
                    changed = installs.changed() => if changed.is_err() { return },
                    _ = stopped.wait_for(|s| *s) => return,
                }
            }
        });
        Self {
            inner,
            stop,
            supervisor: Arc::new(Mutex::new(Some(supervisor))),
        }
    }

    /// Stops every runner and waits for them to finish, so none holds the store afterwards.
    /// Commits already made stay; nothing half-applied is committed.
    pub async fn stop(&self) {
        self.stop.send_replace(true);
        let supervisor = lock(&self.supervisor).take();
        if let Some(supervisor) = supervisor {
            let _ = supervisor.await;
        }
        let mut generations: Vec<Arc<Generation>> = std::mem::take(&mut *lock(&self.inner.retired));
        for entry in lock(&self.inner.entries).values() {
            generations.extend(entry.serving.iter().chain(entry.building.iter()).cloned());
        }
        for generation in &generations {
            generation.stop.send_replace(true);
        }
        for generation in generations {
            let task = lock(&generation.task).take();
            if let Some(task) = task {
                let _ = task.await;
            }
        }
    }

    /// Pauses projection `name`: its runners stop after the batch in hand, and queries go on
    /// being answered. False if there is no such projection. (Not kept across a restart.)
    pub fn pause(&self, name: &str) -> bool {
        self.set_paused(name, true)
    }

    /// Resumes projection `name` from its checkpoint. False if there is no such projection.
    pub fn resume(&self, name: &str) -> bool {
        self.set_paused(name, false)
    }

    fn set_paused(&self, name: &str, paused: bool) -> bool {
        if !lock(&self.inner.entries).contains_key(name) {
            return false;
        }
        pause_flag(&self.inner, name).send_replace(paused);
        true
    }

    /// Every projection's status, by name.
    pub fn list(&self) -> Vec<ProjectionStatus> {
        let entries = lock(&self.inner.entries);
        entries
            .iter()
            .filter_map(|(name, entry)| status_of(name, entry))
            .collect()
    }

    /// One projection's status.
    pub fn status(&self, name: &str) -> Option<ProjectionStatus> {
        let entries = lock(&self.inner.entries);
        entries.get(name).and_then(|entry| status_of(name, entry))
    }

    /// Answers `request` from the read model serving `name`.
    pub async fn query(&self, name: &str, request: Json) -> Result<Json, QueryError> {
        let serving = {
            let entries = lock(&self.inner.entries);
            entries.get(name).and_then(|e| e.serving.clone())
        }
        .ok_or_else(|| QueryError::UnknownProjection(name.to_owned()))?;
        let view = open_view(&self.inner.store, &serving.model).await?;
        serving
            .projection
            .query(view, request)
            .await?
            .map_err(QueryError::Refused)
    }
}

fn status_of(name: &str, entry: &Entry) -> Option<ProjectionStatus> {
    let serving = entry.serving.as_ref()?.status();
    Some(ProjectionStatus {
        name: name.to_owned(),
        serving,
        rebuilding: entry.building.as_ref().map(|g| g.status()),
    })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts a generation for every projection version that has none.
fn sync(inner: &Arc<Inner>) {
    for projection in inner.registry.projections() {
        let name = projection.name().to_string();
        let mut entries = lock(&inner.entries);
        let entry = entries.entry(name).or_default();
        let version = projection.version();
        let has = |g: &Option<Arc<Generation>>| {
            g.as_ref()
                .is_some_and(|g| g.projection.version() == version)
        };
        if has(&entry.serving) || has(&entry.building) {
            continue;
        }
        let generation = spawn_generation(inner, projection);
        if entry.serving.is_none() {
            entry.serving = Some(generation);
        } else if let Some(old) = entry.building.replace(generation) {
            old.stop.send_replace(true);
            lock(&inner.retired).push(old);
        }
    }
}

fn spawn_generation(inner: &Arc<Inner>, projection: Arc<LoadedProjection>) -> Arc<Generation> {
    let model_name = format!("{}#v{}", projection.name(), projection.version());
    let model = ReadModelName::new(&model_name)
        .unwrap_or_else(|_| unreachable!("a module name with #v and a number is a valid name"));
    let status = Arc::new(Mutex::new(GenerationStatus {
        version: projection.version(),
        model: model_name,
        state: RunState::CatchingUp,
        position: 0,
        head: inner.store.head().get(),
        lag_events: 0,
        lag_ms: 0,
        events_per_s: 0.0,
        fault: None,
    }));
    let (stop, stopped) = watch::channel(false);
    let generation = Arc::new(Generation {
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

/// The pause flag of projection `name`.
fn pause_flag(inner: &Inner, name: &str) -> watch::Sender<bool> {
    lock(&inner.paused)
        .entry(name.to_owned())
        .or_insert_with(|| watch::Sender::new(false))
        .clone()
}

async fn open_view(
    store: &Arc<dyn EventStore>,
    model: &ReadModelName,
) -> Result<Box<dyn ModelRead>, StorageError> {
    let store = Arc::clone(store);
    let model = model.clone();
    tokio::task::spawn_blocking(move || store.read_model(&model))
        .await
        .map_err(StorageError::backend)?
}

/// The runner of one generation.
async fn run(inner: Arc<Inner>, generation: Arc<Generation>, mut stopped: watch::Receiver<bool>) {
    let name = generation.projection.name().to_string();
    let mut head = inner.store.watch_head();
    let mut paused = pause_flag(&inner, &name).subscribe();
    loop {
        if *stopped.borrow() {
            return;
        }
        if *paused.borrow_and_update() {
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
        match step(&inner, &generation).await {
            Ok(Step::Progressed) => {}
            Ok(Step::CaughtUp(position)) => {
                promote_if_building(&inner, &name, &generation).await;
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

/// Reads, applies and commits one batch.
async fn step(inner: &Inner, generation: &Generation) -> Result<Step, StorageError> {
    let started = Instant::now();
    let view = open_view(&inner.store, &generation.model).await?;
    let after = view.checkpoint().unwrap_or(Position::START);
    let read = AllRead::after(after)
        .limit(inner.config.batch)
        .scan_limit(inner.config.scan_limit);
    let slice = inner.store.read_all(read).await.map_err(|e| match e {
        cairn_store::ReadError::Storage(e) => e,
    })?;
    if slice.scanned_to <= after {
        let mut status = lock(&generation.status);
        status.state = RunState::Live;
        status.position = after.get();
        status.head = slice.head.get();
        status.lag_events = slice.head.get().saturating_sub(after.get());
        status.lag_ms = 0;
        return Ok(Step::CaughtUp(after));
    }
    let newest_time = slice.events.last().map(|e| e.recorded_at.as_millis());
    let events: Vec<_> = slice
        .events
        .into_iter()
        .filter(|e| generation.projection.filter().admits(e))
        .collect();
    let applied = events.len();
    // Where each event is, to name the one a fault happened at.
    let places: Vec<(u64, String)> = events
        .iter()
        .map(|e| (e.position.get(), e.event_type.to_string()))
        .collect();
    let writes = if events.is_empty() {
        Vec::new()
    } else {
        match generation.projection.apply(view, events).await {
            Ok(writes) => writes,
            Err(error) => {
                let at = match &error {
                    ApplyError::Refused { index, .. } => *index,
                    ApplyError::Call(_) => 0,
                };
                return Ok(fault(generation, error.to_string(), places.get(at)));
            }
        }
    };
    let commit = ModelCommit {
        model: generation.model.clone(),
        writes,
        checkpoint: slice.scanned_to,
    };
    match inner.store.commit_model(commit).await {
        Ok(()) => {}
        Err(ModelError::CheckpointNotAhead { .. }) => {
            // Another writer moved it (a runner being replaced); read again.
            return Ok(Step::Progressed);
        }
        Err(ModelError::Storage(e)) => return Err(e),
        Err(error @ ModelError::TooLarge { .. }) => {
            return Ok(fault(generation, error.to_string(), places.first()));
        }
    }
    let position = slice.scanned_to.get();
    let head = slice.head.get();
    let mut status = lock(&generation.status);
    status.position = position;
    status.head = head;
    status.lag_events = head.saturating_sub(position);
    status.state = if position >= head {
        RunState::Live
    } else {
        RunState::CatchingUp
    };
    // Behind the head, the lag in time is how old the last event reflected is.
    status.lag_ms = match (status.state, newest_time) {
        (RunState::CatchingUp, Some(time)) => cairn_store::Timestamp::now()
            .as_millis()
            .saturating_sub(time),
        _ => 0,
    };
    let seconds = started.elapsed().as_secs_f64();
    if applied > 0 && seconds > 0.0 {
        status.events_per_s = applied as f64 / seconds;
    }
    Ok(Step::Progressed)
}

/// Marks `generation` faulted with `error`, at the event `place` (position, type) if known.
fn fault(generation: &Generation, error: String, place: Option<&(u64, String)>) -> Step {
    let (position, event_type) = place.cloned().unwrap_or_default();
    tracing::warn!(projection = %generation.projection.name(), position, %event_type, %error, "projection faulted");
    let mut status = lock(&generation.status);
    status.state = RunState::Faulted;
    status.fault = Some(Fault {
        error,
        position,
        event_type,
    });
    Step::Faulted
}

/// A building generation that has caught up takes over from the serving one.
async fn promote_if_building(inner: &Inner, name: &str, generation: &Arc<Generation>) {
    let old = {
        let mut entries = lock(&inner.entries);
        let Some(entry) = entries.get_mut(name) else {
            return;
        };
        let building = entry
            .building
            .as_ref()
            .is_some_and(|b| Arc::ptr_eq(b, generation));
        if !building {
            return;
        }
        let promoted = entry.building.take();
        std::mem::replace(&mut entry.serving, promoted)
    };
    if let Some(old) = old {
        old.stop.send_replace(true);
        // Wait for the old runner to finish its batch, so no commit of it can come after the
        // drop and leave an orphan model behind.
        let task = lock(&old.task).take();
        if let Some(task) = task {
            let _ = task.await;
        }
        tracing::info!(projection = name, from = %old.model, to = %generation.model, "a rebuilt read model takes over");
        if let Err(error) = inner.store.drop_model(old.model.clone()).await {
            tracing::warn!(projection = name, %error, "dropping the old read model failed");
        }
    }
}
