//! [`Projections`]: runs every loaded projection over the global log, and answers queries.
//!
//! Layout, with imports running one way, from the top down:
//! `mod.rs` → `lifecycle.rs` → `generation.rs` → {`in_flight.rs`, `prefetch.rs`,
//! `failed_batch.rs`} → `fold.rs`, `env.rs`, `status.rs`.
//! - `lifecycle.rs`: [`Lifecycles`], which generation of each projection serves and which is
//!   being built, kept in the store; starting a generation (a new version, or a reset), taking
//!   over once one has caught up, pausing, and restoring all of it after a restart.
//! - `generation.rs`: one generation (a read model `{name}#g{n}`) and its runner task, which
//!   folds the log into the model batch by batch, each batch committed with its checkpoint;
//!   `in_flight.rs`, a batch's commit landing while the next is applied; `prefetch.rs`, the
//!   next read made meanwhile; `failed_batch.rs`, the event a batch failed on found, and the
//!   events before it committed, before the generation is faulted.
//! - `fold.rs`: what a generation folds with, into which model; `env.rs`: the store and the
//!   [`RunnerConfig`] every generation runs against; `status.rs`: what a projection reports,
//!   and the [`StatusBoard`](status::StatusBoard) that is the one writer of a generation's
//!   status.
//!
//! A new version or a reset builds its generation beside the one serving queries; once it has
//! caught up it takes over, and the old generation stops and its model is dropped. So queries
//! never see a half-built model and never stop being answered.

mod env;
mod failed_batch;
mod fold;
mod generation;
mod in_flight;
mod lifecycle;
mod prefetch;
mod status;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use cairn_store::{EventStore, Json, StorageError};
use tokio::sync::watch;

use crate::error::CallError;
use crate::registry::Registry;
pub use env::RunnerConfig;
use env::RunnerEnv;
use lifecycle::Lifecycles;
pub use lifecycle::RemovedProjection;
pub use status::{Fault, GenerationStatus, ProjectionStatus, RunState};

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
    /// This node does not run the projections: another node sharing the store holds the
    /// runner lease, and only it can change them.
    #[error(
        "projection '{0}' runs on the node holding the runner lease; ask that node (every node \
         answers queries)"
    )]
    RunsElsewhere(String),
    /// Keeping the change in the store failed; nothing changed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Runs the registry's projections. Dropping it stops nothing; call [`Projections::stop`].
#[derive(Clone)]
pub struct Projections {
    lifecycles: Arc<Lifecycles>,
    /// Whether this node leaves the runners to another (`Projections::dormant`).
    dormant: bool,
    stop: watch::Sender<bool>,
    supervisor: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
    /// On a dormant node: the statuses last read from the store, and when.
    kept_statuses: Arc<tokio::sync::Mutex<Option<KeptStatuses>>>,
}

/// Statuses a dormant node read from the store, and when it read them.
type KeptStatuses = (Instant, Vec<ProjectionStatus>);

/// How long a dormant node answers a listing from its last read of what the store kept. Every
/// listing within it shares one read, so the console's live stats (which look every 200 ms
/// per page) cost the store a few reads a second however many pages watch.
const KEPT_STATUSES_FOR: Duration = Duration::from_millis(200);

impl std::fmt::Debug for Projections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projections")
            .field("config", &self.lifecycles.env().config)
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
        let env = Arc::new(RunnerEnv { store, config });
        let lifecycles = Arc::new(Lifecycles::new(env, registry));
        let (stop, mut stopped) = watch::channel(false);
        let mut installs = lifecycles.registry().watch_projections();
        let supervisor = Arc::clone(&lifecycles);
        let supervisor = tokio::spawn(async move {
            loop {
                {
                    let _turn = supervisor.turn().await;
                    for projection in supervisor.registry().projections() {
                        supervisor.sync(&projection).await;
                    }
                }
                tokio::select! {
                    changed = installs.changed() => if changed.is_err() { return },
                    _ = stopped.wait_for(|s| *s) => return,
                }
            }
        });
        Self {
            lifecycles,
            dormant: false,
            stop,
            supervisor: Arc::new(Mutex::new(Some(supervisor))),
            kept_statuses: Arc::default(),
        }
    }

    /// Projections this node does not run, because another node sharing the store holds the
    /// runner lease: nothing runs here, and queries are answered from the read model the
    /// store says is serving, as the node running it committed it.
    pub fn dormant(
        store: Arc<dyn EventStore>,
        registry: Arc<Registry>,
        config: RunnerConfig,
    ) -> Self {
        let env = Arc::new(RunnerEnv { store, config });
        Self {
            lifecycles: Arc::new(Lifecycles::new(env, registry)),
            dormant: true,
            stop: watch::channel(true).0,
            supervisor: Arc::new(Mutex::new(None)),
            kept_statuses: Arc::default(),
        }
    }

    /// Stops every runner and waits for them to finish, so none holds the store afterwards.
    /// Commits already made stay; nothing half-applied is committed.
    pub async fn stop(&self) {
        self.stop.send_replace(true);
        let supervisor = self
            .supervisor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(supervisor) = supervisor {
            let _ = supervisor.await;
        }
        self.lifecycles.stop().await;
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
        let _turn = self.lifecycles.turn().await;
        self.here(name)?;
        if !self.lifecycles.set_paused(name, paused).await? {
            return Err(ControlError::UnknownProjection(name.to_owned()));
        }
        self.lifecycles
            .status(name, self.head())
            .ok_or_else(|| ControlError::UnknownProjection(name.to_owned()))
    }

    /// Rebuilds projection `name` from position 0 in a new generation beside the serving one,
    /// which answers queries until the new one has caught up. A rebuild already under way is
    /// replaced.
    pub async fn reset(&self, name: &str) -> Result<ProjectionStatus, ControlError> {
        let _turn = self.lifecycles.turn().await;
        self.here(name)?;
        let unknown = || ControlError::UnknownProjection(name.to_owned());
        if !self.lifecycles.knows(name) {
            return Err(unknown());
        }
        let projection = self
            .lifecycles
            .registry()
            .projection(name)
            .ok_or_else(unknown)?;
        self.lifecycles.start_generation(&projection).await?;
        self.lifecycles
            .status(name, self.head())
            .ok_or_else(unknown)
    }

    /// Removes projection `name`: its runners stop, and the module, its kept state and its
    /// read models leave the store together. `UnknownProjection` if none is loaded.
    pub async fn remove(&self, name: &str) -> Result<RemovedProjection, ControlError> {
        let _turn = self.lifecycles.turn().await;
        self.here(name)?;
        self.lifecycles
            .remove(name)
            .await?
            .ok_or_else(|| ControlError::UnknownProjection(name.to_owned()))
    }

    /// Refuses a change on a dormant node, or on a running one whose runners are stopping
    /// (it is letting the runner lease go): [`ControlError::RunsElsewhere`] for a projection it
    /// knows, else unknown. Call under the turn, which [`Lifecycles::stop`] takes too, so no
    /// change starts a generation after the runners stopped.
    fn here(&self, name: &str) -> Result<(), ControlError> {
        if !self.dormant && !self.lifecycles.is_stopping() {
            return Ok(());
        }
        match self.registry().projection(name) {
            Some(_) => Err(ControlError::RunsElsewhere(name.to_owned())),
            None => Err(ControlError::UnknownProjection(name.to_owned())),
        }
    }

    /// The registry the projections come from.
    pub(crate) fn registry(&self) -> &Arc<Registry> {
        self.lifecycles.registry()
    }

    /// The store the projections read.
    pub(crate) fn store(&self) -> Arc<dyn EventStore> {
        Arc::clone(&self.lifecycles.env().store)
    }

    /// Every projection's status, by name. On a dormant node, each is read from what the
    /// store kept ([`RunState::Elsewhere`]), at most [`KEPT_STATUSES_FOR`] ago.
    pub async fn list(&self) -> Result<Vec<ProjectionStatus>, StorageError> {
        if !self.dormant {
            return Ok(self.lifecycles.statuses(self.head()));
        }
        // Held while reading, so listings that come meanwhile wait for this read.
        let mut kept = self.kept_statuses.lock().await;
        if let Some((read_at, statuses)) = kept.as_ref()
            && read_at.elapsed() < KEPT_STATUSES_FOR
        {
            return Ok(statuses.clone());
        }
        let mut statuses = Vec::new();
        for projection in self.registry().projections() {
            if let Some(status) = self.kept_status(projection.name()).await? {
                statuses.push(status);
            }
        }
        statuses.sort_by(|a, b| a.name.cmp(&b.name));
        *kept = Some((Instant::now(), statuses.clone()));
        Ok(statuses)
    }

    /// One projection's status (on a dormant node, from what the store kept).
    pub async fn status(&self, name: &str) -> Result<Option<ProjectionStatus>, StorageError> {
        if !self.dormant {
            return Ok(self.lifecycles.status(name, self.head()));
        }
        match self.registry().projection(name) {
            Some(projection) => self.kept_status(projection.name()).await,
            None => Ok(None),
        }
    }

    /// The status of a projection another node runs, from its kept lifecycle and the
    /// checkpoints of its read models; `None` before that node has started it.
    async fn kept_status(
        &self,
        name: &cairn_store::ModuleName,
    ) -> Result<Option<ProjectionStatus>, StorageError> {
        let env = self.lifecycles.env();
        let head = self.head();
        let Some(kept) = lifecycle::kept_generations(env, name).await? else {
            return Ok(None);
        };
        let mut generations = Vec::with_capacity(2);
        for slot in kept.generations {
            let model = slot.model(name.as_str());
            let position = env
                .open_view(&model)
                .await?
                .checkpoint()
                .map_or(0, cairn_store::Position::get);
            generations.push(GenerationStatus {
                version: slot.version,
                generation: slot.generation,
                model: model.to_string(),
                state: if kept.paused {
                    RunState::Paused
                } else {
                    RunState::Elsewhere
                },
                position,
                head,
                lag_events: head.saturating_sub(position),
                lag_ms: 0,
                events_per_s: 0.0,
                fault: None,
            });
        }
        let mut generations = generations.into_iter();
        Ok(generations.next().map(|serving| ProjectionStatus {
            name: name.to_string(),
            serving,
            rebuilding: generations.next(),
        }))
    }

    /// The store's newest position now: statuses are measured against it, since a runner
    /// that is paused or faulted does not look at the head.
    fn head(&self) -> u64 {
        self.lifecycles.env().store.head().get()
    }

    /// Answers `request` from the read model the store names as serving `name`: a dormant
    /// node's queries, and a running node's before its runner has the projection.
    async fn query_kept(&self, name: &str, request: Json) -> Result<Json, QueryError> {
        let unknown = || QueryError::UnknownProjection(name.to_owned());
        let module = self.registry().projection(name).ok_or_else(unknown)?;
        let env = self.lifecycles.env();
        let (version, model) = lifecycle::kept_serving(env, module.name())
            .await?
            .ok_or_else(unknown)?;
        let projection = self
            .registry()
            .kept_projection(name, version)
            .await
            .map_err(|e| StorageError::backend(std::io::Error::other(e.to_string())))?;
        let view = env.open_view(&model).await?;
        projection
            .query(view, request)
            .await?
            .map_err(QueryError::Refused)
    }

    /// Answers `request` from the read model serving `name`.
    /// On a dormant node, and on a running one before its runner has taken the projection up
    /// (just after it took the runner lease, or just after the module loaded), the read model
    /// the store names as serving answers.
    pub async fn query(&self, name: &str, request: Json) -> Result<Json, QueryError> {
        let serving = match self.lifecycles.serving(name) {
            Some(serving) if !self.dormant => serving,
            _ => return self.query_kept(name, request).await,
        };
        let view = self.lifecycles.env().open_view(serving.model()).await?;
        serving
            .projection()
            .query(view, request)
            .await?
            .map_err(QueryError::Refused)
    }
}
