//! [`Lifecycles`]: every projection's lifecycle: which generation serves, which is being built,
//! and whether it is paused, kept in the store so a restart carries on where the host stopped.
//!
//! Every change here runs under [`Lifecycles::turn`], so changes to one projection never
//! interleave. What is kept ([`Lifecycle`]) is derived from the [`Entry`] when it is saved, and
//! saved with the drop of the read models it lets go, in one transaction, so the store never
//! names a dropped model and never keeps one nothing names. The in-memory entry is switched
//! before a save that lets a serving model go, so no query is sent to a model being dropped.
//!
//! A generation being built takes over once it has caught up: a task of this file waits for
//! that ([`Generation::caught_up`]) and switches the entry, under the turn like every change.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use cairn_store::{
    ModuleName, ModuleRecord, ModuleRemoval, ModuleState, ReadModelName, StorageError,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::env::RunnerEnv;
use super::generation::{Generation, Slot};
use super::status::ProjectionStatus;
use crate::projections::projection::LoadedProjection;
use crate::registry::Registry;
use crate::upcasters::upcaster_set::UpcasterSet;

/// What is kept for a projection, as JSON in the store's module state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Lifecycle {
    /// The generation answering queries.
    serving: Option<Slot>,
    /// A generation catching up, to take over when live.
    building: Option<Slot>,
    paused: bool,
    /// The last generation number given out; numbers are never reused.
    last_generation: u64,
}

/// What removing a projection did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemovedProjection {
    /// Its latest version, now removed.
    pub record: ModuleRecord,
    /// The read models dropped with it.
    pub dropped_models: Vec<ReadModelName>,
}

/// One projection: the generations running it, whether it is paused, and the generation
/// numbers given out.
pub(super) struct Entry {
    serving: Option<Arc<Generation>>,
    building: Option<Arc<Generation>>,
    /// Whether the projection is paused: the one record of it, which its generations watch and
    /// a save reads.
    paused: watch::Sender<bool>,
    /// The last generation number given out; numbers are never reused.
    last_generation: u64,
    /// Read models a restore let go of, dropped with the next save.
    stale: Vec<ReadModelName>,
}

impl Entry {
    /// What is kept of the entry.
    fn kept(&self) -> Lifecycle {
        Lifecycle {
            serving: self.serving.as_ref().map(|g| g.slot),
            building: self.building.as_ref().map(|g| g.slot),
            paused: *self.paused.borrow(),
            last_generation: self.last_generation,
        }
    }

    fn next_slot(&mut self, version: u64, upcasters: u64) -> Slot {
        self.last_generation += 1;
        Slot {
            generation: self.last_generation,
            version,
            upcasters,
        }
    }

    fn generations(&self) -> impl Iterator<Item = &Arc<Generation>> {
        self.serving.iter().chain(self.building.iter())
    }
}

/// Every projection's entry, what its generations run against, and the turn under which
/// lifecycles change.
pub(super) struct Lifecycles {
    env: Arc<RunnerEnv>,
    registry: Arc<Registry>,
    entries: Mutex<BTreeMap<String, Entry>>,
    /// Held while a projection's lifecycle changes.
    changes: tokio::sync::Mutex<()>,
    /// Set once the runner stops: no generation takes over after that.
    stopping: AtomicBool,
}

impl Lifecycles {
    pub(super) fn new(env: Arc<RunnerEnv>, registry: Arc<Registry>) -> Self {
        Self {
            env,
            registry,
            entries: Mutex::new(BTreeMap::new()),
            changes: tokio::sync::Mutex::new(()),
            stopping: AtomicBool::new(false),
        }
    }

    pub(super) fn env(&self) -> &Arc<RunnerEnv> {
        &self.env
    }

    pub(super) fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The turn to change lifecycles: held, no other change runs.
    pub(super) async fn turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.changes.lock().await
    }

    fn entries(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The upcasters `projection` reads through now: those of the categories its filter lets
    /// through (every one, for a filter of no categories).
    fn upcasters_for(&self, projection: &LoadedProjection) -> UpcasterSet {
        let categories = &projection.filter().categories;
        self.registry
            .upcasters()
            .only(|category| categories.is_empty() || categories.iter().any(|c| c == category))
    }

    pub(super) fn knows(&self, name: &str) -> bool {
        self.entries().contains_key(name)
    }

    /// The generation serving projection `name`'s queries.
    pub(super) fn serving(&self, name: &str) -> Option<Arc<Generation>> {
        self.entries().get(name).and_then(|e| e.serving.clone())
    }

    /// Projection `name`'s status, measured against `head`.
    pub(super) fn status(&self, name: &str, head: u64) -> Option<ProjectionStatus> {
        self.entries()
            .get(name)
            .and_then(|entry| status_of(name, entry, head))
    }

    /// Every projection's status, by name, measured against `head`.
    pub(super) fn statuses(&self, head: u64) -> Vec<ProjectionStatus> {
        self.entries()
            .iter()
            .filter_map(|(name, entry)| status_of(name, entry, head))
            .collect()
    }

    /// Whether [`Lifecycles::stop`] has begun: no change may start a generation any more.
    pub(super) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Stops every generation and waits for them to finish; none takes over afterwards.
    pub(super) async fn stop(&self) {
        {
            let _turn = self.turn().await;
            self.stopping.store(true, Ordering::SeqCst);
        }
        let generations: Vec<Arc<Generation>> = self
            .entries()
            .values()
            .flat_map(|entry| entry.generations().cloned())
            .collect();
        for generation in &generations {
            generation.signal_stop();
        }
        for generation in generations {
            generation.stop_and_wait().await;
        }
    }

    /// Makes sure projection `current` (the installed version) runs: restores its kept
    /// lifecycle the first time it is seen, then starts a generation for `current` if none
    /// runs it. Call under the turn.
    pub(super) async fn sync(self: &Arc<Self>, current: &Arc<LoadedProjection>) {
        let name = current.name().clone();
        if !self.knows(name.as_str()) {
            match self.restore(current).await {
                Ok(entry) => {
                    self.entries().insert(name.to_string(), entry);
                }
                Err(error) => {
                    tracing::error!(projection = %name, %error, "the projection's kept state does not load; it does not run");
                    return;
                }
            }
        }
        // A generation runs the current version if it has its version and reads through the
        // upcasters the version would read through now: a read model built under other
        // upcasters is rebuilt beside it, as for a new version.
        let upcasters = self.upcasters_for(current).fingerprint();
        let runs_current = self.entries().get(name.as_str()).is_some_and(|entry| {
            entry
                .generations()
                .any(|g| g.slot.version == current.version() && g.slot.upcasters == upcasters)
        });
        let builds_other = self.entries().get(name.as_str()).is_some_and(|entry| {
            entry.building.as_ref().is_some_and(|g| {
                g.slot.version != current.version() || g.slot.upcasters != upcasters
            })
        });
        let result = if runs_current && builds_other {
            // The serving generation is what the projection is now (its upcasters were put
            // back as they were): the one being built for something else stops.
            self.cancel_building(&name).await
        } else if runs_current {
            self.save_stale(&name).await
        } else {
            self.start_generation(current).await
        };
        if let Err(error) = result {
            tracing::error!(projection = %name, %error, "saving the projection's state failed");
        }
    }

    /// Starts the runners a restart should have: the serving generation (at its own version,
    /// which may be older than the installed one) and a generation being built for the
    /// installed version. Models that can no longer run are dropped with the next save.
    async fn restore(
        self: &Arc<Self>,
        current: &Arc<LoadedProjection>,
    ) -> Result<Entry, StorageError> {
        let name = current.name();
        let kept = load(&self.env, name).await?;
        let paused = watch::Sender::new(kept.paused);
        let mut stale = Vec::new();
        let mut serving = None;
        if let Some(slot) = kept.serving {
            match self
                .registry
                .kept_projection(name.as_str(), slot.version)
                .await
            {
                Ok(projection) => {
                    // It goes on reading through the upcasters of today: those it was built
                    // under may be gone. If they differ, `sync` builds a generation beside it.
                    let upcasters = self.upcasters_for(&projection);
                    serving = Some(Generation::new(
                        &self.env,
                        projection,
                        upcasters,
                        slot,
                        paused.subscribe(),
                    ));
                }
                Err(error) => {
                    tracing::warn!(projection = %name, version = slot.version, %error, "the serving version no longer loads; its read model is dropped");
                    stale.push(slot.model(name.as_str()));
                }
            }
        }
        let mut building = None;
        if let Some(slot) = kept.building {
            let upcasters = self.upcasters_for(current);
            if slot.version == current.version() && slot.upcasters == upcasters.fingerprint() {
                building = Some(Generation::new(
                    &self.env,
                    Arc::clone(current),
                    upcasters,
                    slot,
                    paused.subscribe(),
                ));
            } else {
                stale.push(slot.model(name.as_str()));
            }
        }
        if serving.is_none() {
            // Nothing else can answer: the generation being built serves as it is.
            serving = building.take();
        }
        // Both are kept already (a restore drops models only with the next save).
        for generation in serving.iter().chain(building.iter()) {
            generation.start();
        }
        if let Some(building) = &building {
            self.take_over_when_caught_up(building);
        }
        if !stale.is_empty() {
            tracing::info!(projection = %name, ?stale, "restored; read models no generation runs are dropped");
        }
        Ok(Entry {
            serving,
            building,
            paused,
            last_generation: kept.last_generation,
            stale,
        })
    }

    /// Stops and drops the generation being built for projection `name`, if one is. Call under
    /// the turn.
    async fn cancel_building(&self, name: &ModuleName) -> Result<(), StorageError> {
        let (building, kept, mut drops) = {
            let mut entries = self.entries();
            let Some(entry) = entries.get_mut(name.as_str()) else {
                return Ok(());
            };
            let Some(building) = entry.building.take() else {
                return Ok(());
            };
            (building, entry.kept(), std::mem::take(&mut entry.stale))
        };
        building.stop_and_wait().await;
        drops.push(building.model().clone());
        tracing::info!(projection = %name, model = %building.model(), "the generation being built is no longer wanted; it is dropped");
        save(&self.env, name, &kept, drops).await
    }

    /// Saves the entry if a restore left models to drop.
    async fn save_stale(&self, name: &ModuleName) -> Result<(), StorageError> {
        let (kept, stale) = {
            let mut entries = self.entries();
            let Some(entry) = entries.get_mut(name.as_str()) else {
                return Ok(());
            };
            if entry.stale.is_empty() {
                return Ok(());
            }
            (entry.kept(), std::mem::take(&mut entry.stale))
        };
        save(&self.env, name, &kept, stale).await
    }

    /// Starts a new generation of `projection`: serving if nothing serves, otherwise built
    /// beside the serving one (replacing, stopping and dropping any generation already being
    /// built). A new version and a reset both come here. Call under the turn.
    pub(super) async fn start_generation(
        self: &Arc<Self>,
        projection: &Arc<LoadedProjection>,
    ) -> Result<(), StorageError> {
        let name = projection.name();
        let upcasters = self.upcasters_for(projection);
        let (slot, serves, replaced, mut drops, paused) = {
            let mut entries = self.entries();
            let Some(entry) = entries.get_mut(name.as_str()) else {
                return Ok(());
            };
            let serves = entry.serving.is_none();
            let replaced = if serves { None } else { entry.building.take() };
            let slot = entry.next_slot(projection.version(), upcasters.fingerprint());
            (
                slot,
                serves,
                replaced,
                std::mem::take(&mut entry.stale),
                entry.paused.subscribe(),
            )
        };
        if let Some(replaced) = replaced {
            // Stopped and finished first, so no late commit of it outlives the drop.
            replaced.stop_and_wait().await;
            drops.push(replaced.model().clone());
        }
        let generation =
            Generation::new(&self.env, Arc::clone(projection), upcasters, slot, paused);
        let kept = {
            let mut entries = self.entries();
            let Some(entry) = entries.get_mut(name.as_str()) else {
                return Ok(());
            };
            if serves {
                entry.serving = Some(Arc::clone(&generation));
            } else {
                entry.building = Some(Arc::clone(&generation));
            }
            entry.kept()
        };
        if let Err(error) = save(&self.env, name, &kept, drops).await {
            // Not kept: the generation never runs.
            let mut entries = self.entries();
            if let Some(entry) = entries.get_mut(name.as_str()) {
                let slot = if serves {
                    &mut entry.serving
                } else {
                    &mut entry.building
                };
                if slot.as_ref().is_some_and(|g| Arc::ptr_eq(g, &generation)) {
                    *slot = None;
                }
            }
            return Err(error);
        }
        // Kept: its model may be written now.
        generation.start();
        tracing::info!(projection = %name, model = %generation.model(), version = slot.version, serves, "a new generation starts");
        if !serves {
            self.take_over_when_caught_up(&generation);
        }
        Ok(())
    }

    /// Once the building `generation` has caught up, it serves: see [`Lifecycles::take_over`].
    fn take_over_when_caught_up(self: &Arc<Self>, generation: &Arc<Generation>) {
        let (lifecycles, generation) = (Arc::clone(self), Arc::clone(generation));
        tokio::spawn(async move {
            if generation.caught_up().await {
                lifecycles.take_over(&generation).await;
            }
        });
    }

    /// The building `generation` has caught up: it serves from now on, and the one it
    /// replaces stops and its model is dropped. Nothing happens if it is no longer the one
    /// being built, or the runner is stopping.
    async fn take_over(&self, generation: &Arc<Generation>) {
        let _turn = self.turn().await;
        if self.stopping.load(Ordering::SeqCst) {
            return;
        }
        let name = generation.projection().name();
        let (old, kept) = {
            let mut entries = self.entries();
            let Some(entry) = entries.get_mut(name.as_str()) else {
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
            let old = std::mem::replace(&mut entry.serving, promoted);
            (old, entry.kept())
        };
        let mut drops = Vec::new();
        if let Some(old) = &old {
            old.stop_and_wait().await;
            drops.push(old.model().clone());
        }
        match save(&self.env, name, &kept, drops).await {
            Ok(()) => {
                tracing::info!(projection = %name, from = ?old.as_ref().map(|o| o.model().to_string()), to = %generation.model(), "a rebuilt read model takes over");
            }
            Err(error) => {
                tracing::warn!(projection = %name, %error, "saving the takeover failed; after a restart the old model serves until the new one catches up again");
            }
        }
    }

    /// Takes projection `name` out of service for good: stops its generations and waits for
    /// them, then removes the module from the store with every read model it used, in one
    /// transaction (Modules promise 4), and forgets it. `None` if no projection is so named.
    /// If the store fails, the projection is restored from what the store still keeps and
    /// runs on. Call under the turn.
    pub(super) async fn remove(
        self: &Arc<Self>,
        name: &str,
    ) -> Result<Option<RemovedProjection>, StorageError> {
        // No upload of the name lands between the store's removal and the registry's.
        let _changes = self.registry.changes().await;
        let Some(projection) = self.registry.projection(name) else {
            return Ok(None);
        };
        let module = projection.name().clone();
        let entry = self.entries().remove(name);
        let mut models = Vec::new();
        match entry {
            Some(entry) => {
                for generation in entry.generations() {
                    generation.stop_and_wait().await;
                    models.push(generation.model().clone());
                }
                models.extend(entry.stale);
            }
            None => {
                // Its kept state did not load, so no generation runs: drop what it names.
                if let Ok(kept) = load(&self.env, &module).await {
                    models.extend(kept.serving.iter().map(|s| s.model(name)));
                    models.extend(kept.building.iter().map(|s| s.model(name)));
                }
            }
        }
        let removal = ModuleRemoval {
            module: module.clone(),
            drop_models: models.clone(),
        };
        match self.env.store.remove_module(removal).await {
            Ok(record) => {
                self.registry.unload(name);
                tracing::info!(projection = %module, dropped = ?models, "the projection is removed");
                Ok(record.map(|record| RemovedProjection {
                    record,
                    dropped_models: models,
                }))
            }
            Err(error) => {
                self.sync(&projection).await;
                Err(error)
            }
        }
    }

    /// Pauses or resumes projection `name`, kept across restarts. False if there is none.
    /// Call under the turn.
    pub(super) async fn set_paused(&self, name: &str, paused: bool) -> Result<bool, StorageError> {
        let Ok(module) = ModuleName::new(name) else {
            return Ok(false);
        };
        let (kept, flag, before) = {
            let entries = self.entries();
            let Some(entry) = entries.get(name) else {
                return Ok(false);
            };
            let before = entry.paused.send_replace(paused);
            (entry.kept(), entry.paused.clone(), before)
        };
        if let Err(error) = save(&self.env, &module, &kept, Vec::new()).await {
            // A pause the store did not keep is taken back.
            flag.send_replace(before);
            return Err(error);
        }
        Ok(true)
    }
}

/// `name`'s status, measured against `head`.
fn status_of(name: &str, entry: &Entry, head: u64) -> Option<ProjectionStatus> {
    Some(ProjectionStatus {
        name: name.to_owned(),
        serving: entry.serving.as_ref()?.status().against(head),
        rebuilding: entry.building.as_ref().map(|g| g.status().against(head)),
    })
}

/// What the store keeps for projection `name`, or a new lifecycle if nothing.
async fn load(env: &RunnerEnv, name: &ModuleName) -> Result<Lifecycle, StorageError> {
    match env.store.module_state(name.clone()).await? {
        None => Ok(Lifecycle::default()),
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            StorageError::Corrupt(format!("the kept state of projection {name}: {e}"))
        }),
    }
}

/// The version and read model serving projection `name`, as kept: for a node that does not
/// run the projection (another node holds the runner lease) to answer queries from.
pub(super) async fn kept_serving(
    env: &RunnerEnv,
    name: &ModuleName,
) -> Result<Option<(u64, ReadModelName)>, StorageError> {
    let kept = load(env, name).await?;
    Ok(kept
        .serving
        .or(kept.building)
        .map(|slot| (slot.version, slot.model(name.as_str()))))
}

/// The generations of projection `name` as kept, serving first, and whether it is paused: for
/// a node that does not run it to report. `None` if nothing is kept yet.
pub(super) async fn kept_generations(
    env: &RunnerEnv,
    name: &ModuleName,
) -> Result<Option<KeptGenerations>, StorageError> {
    let kept = load(env, name).await?;
    let generations: Vec<Slot> = kept.serving.into_iter().chain(kept.building).collect();
    Ok((!generations.is_empty()).then_some(KeptGenerations {
        generations,
        paused: kept.paused,
    }))
}

/// What [`kept_generations`] finds.
pub(super) struct KeptGenerations {
    pub(super) generations: Vec<Slot>,
    pub(super) paused: bool,
}

/// Keeps `kept` for projection `name`, dropping `drop_models` in the same transaction.
async fn save(
    env: &RunnerEnv,
    name: &ModuleName,
    kept: &Lifecycle,
    drop_models: Vec<ReadModelName>,
) -> Result<(), StorageError> {
    let state =
        serde_json::to_vec(kept).unwrap_or_else(|_| unreachable!("the lifecycle is plain data"));
    env.store
        .put_module_state(ModuleState {
            module: name.clone(),
            state,
            drop_models,
        })
        .await
}
