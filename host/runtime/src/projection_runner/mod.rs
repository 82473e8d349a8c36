//! [`Projections`]: runs every loaded projection over the global log, and answers queries.
//!
//! Layout:
//! - `generation.rs`: one generation (a read model `{name}#g{n}`) and its runner task, which
//!   folds the log into the model batch by batch, each batch committed with its checkpoint;
//!   `in_flight.rs`, a batch's commit landing while the next is applied; `prefetch.rs`, the
//!   next read made meanwhile; `failed_batch.rs`, the event a batch failed on found, and the
//!   events before it committed, before the generation is faulted.
//! - `lifecycle.rs`: which generation serves and which is being built, kept in the store;
//!   starting a generation (a new version, or a reset), taking over once one has caught up,
//!   pausing, and restoring all of it after a restart.
//! - `status.rs`: what a projection reports.
//!
//! A new version or a reset builds its generation beside the one serving queries; once it has
//! caught up it takes over, and the old generation stops and its model is dropped. So queries
//! never see a half-built model and never stop being answered.

mod failed_batch;
mod generation;
mod in_flight;
mod lifecycle;
mod prefetch;
mod status;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use cairn_store::{EventStore, Json, ModelRead, ReadModelName, StorageError};
use tokio::sync::watch;

use crate::error::CallError;
use crate::registry::Registry;
use generation::Generation;
use lifecycle::Lifecycle;
pub use status::{Fault, GenerationStatus, ProjectionStatus, RunState};

/// How a runner reads the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunnerConfig {
    /// The most events one `apply` call takes.
    pub batch: usize,
    /// The most bytes of events (data, metadata, stream and type) one `apply` call takes,
    /// after its first event: the events are copied into the module's memory.
    pub batch_bytes: usize,
    /// The most log positions one read examines.
    pub scan_limit: usize,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            batch: 2_000,
            batch_bytes: 4 * 1024 * 1024,
            scan_limit: 100_000,
        }
    }
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

/// Why a pause, a resume or a reset did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("no projection is named '{0}'")]
    UnknownProjection(String),
    /// Keeping the change in the store failed; nothing changed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// One projection: its kept lifecycle and the generations running it.
struct Entry {
    lifecycle: Lifecycle,
    serving: Option<Arc<Generation>>,
    building: Option<Arc<Generation>>,
    /// Read models a restore let go of, dropped with the next save.
    stale: Vec<ReadModelName>,
}

struct Inner {
    store: Arc<dyn EventStore>,
    registry: Arc<Registry>,
    config: RunnerConfig,
    entries: Mutex<BTreeMap<String, Entry>>,
    /// Held while a projection's lifecycle changes (see `lifecycle.rs`).
    changes: tokio::sync::Mutex<()>,
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
    /// Each carries on from what the store kept: the generation serving, one being built, and
    /// whether it was paused.
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
            changes: tokio::sync::Mutex::new(()),
            paused: Mutex::new(BTreeMap::new()),
        });
        let (stop, mut stopped) = watch::channel(false);
        let mut installs = inner.registry.watch_projections();
        let supervisor = Arc::clone(&inner);
        let supervisor = tokio::spawn(async move {
            loop {
                {
                    let _turn = supervisor.changes.lock().await;
                    for projection in supervisor.registry.projections() {
                        lifecycle::sync(&supervisor, &projection).await;
                    }
                }
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
        let generations: Vec<Arc<Generation>> = lock(&self.inner.entries)
            .values()
            .flat_map(|entry| entry.serving.iter().chain(entry.building.iter()).cloned())
            .collect();
        for generation in &generations {
            generation.signal_stop();
        }
        for generation in generations {
            generation.stop_and_wait().await;
        }
    }

    /// Pauses projection `name`: its runners stop after the batch in hand, and queries go on
    /// being answered. Kept across restarts.
    pub async fn pause(&self, name: &str) -> Result<ProjectionStatus, ControlError> {
        self.set_paused(name, true).await
    }

    /// Resumes projection `name` from its checkpoint.
    pub async fn resume(&self, name: &str) -> Result<ProjectionStatus, ControlError> {
        self.set_paused(name, false).await
    }

    async fn set_paused(&self, name: &str, paused: bool) -> Result<ProjectionStatus, ControlError> {
        let _turn = self.inner.changes.lock().await;
        if !lifecycle::set_paused(&self.inner, name, paused).await? {
            return Err(ControlError::UnknownProjection(name.to_owned()));
        }
        self.status(name)
            .ok_or_else(|| ControlError::UnknownProjection(name.to_owned()))
    }

    /// Rebuilds projection `name` from position 0 in a new generation beside the serving one,
    /// which answers queries until the new one has caught up. A rebuild already under way is
    /// replaced.
    pub async fn reset(&self, name: &str) -> Result<ProjectionStatus, ControlError> {
        let _turn = self.inner.changes.lock().await;
        let unknown = || ControlError::UnknownProjection(name.to_owned());
        if !lock(&self.inner.entries).contains_key(name) {
            return Err(unknown());
        }
        let projection = self.inner.registry.projection(name).ok_or_else(unknown)?;
        lifecycle::start_generation(&self.inner, &projection).await?;
        self.status(name).ok_or_else(unknown)
    }

    /// Every projection's status, by name.
    pub fn list(&self) -> Vec<ProjectionStatus> {
        let head = self.inner.store.head().get();
        let entries = lock(&self.inner.entries);
        entries
            .iter()
            .filter_map(|(name, entry)| status_of(name, entry, head))
            .collect()
    }

    /// One projection's status.
    pub fn status(&self, name: &str) -> Option<ProjectionStatus> {
        let head = self.inner.store.head().get();
        let entries = lock(&self.inner.entries);
        entries
            .get(name)
            .and_then(|entry| status_of(name, entry, head))
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

/// `name`'s status, measured against `head`, the store's newest position now: a runner that is
/// paused or faulted does not look at the head, so its own idea of it goes stale.
fn status_of(name: &str, entry: &Entry, head: u64) -> Option<ProjectionStatus> {
    let against_head = |mut status: GenerationStatus| {
        if head > status.head {
            status.head = head;
            status.lag_events = head.saturating_sub(status.position);
        }
        status
    };
    let serving = against_head(entry.serving.as_ref()?.status());
    Some(ProjectionStatus {
        name: name.to_owned(),
        serving,
        rebuilding: entry.building.as_ref().map(|g| against_head(g.status())),
    })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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
