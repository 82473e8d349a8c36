//! A projection's lifecycle: which generation serves, which is being built, and whether it is
//! paused, kept in the store so a restart carries on where the host stopped.
//!
//! Every change here runs under [`Inner::changes`], so changes to one projection never
//! interleave. The kept [`Lifecycle`] is saved with the drop of the read models it lets go, in
//! one transaction, so the store never names a dropped model and never keeps one nothing names.
//! The in-memory entry is switched before a save that lets a serving model go, so no query is
//! sent to a model being dropped.

use std::sync::Arc;

use cairn_store::{EventStore, ModuleName, ModuleState, ReadModelName, StorageError};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::generation::Generation;
use super::{Entry, Inner, lock, pause_flag};
use crate::projection::LoadedProjection;

/// What is kept for a projection, as JSON in the store's module state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Lifecycle {
    /// The generation answering queries.
    pub(super) serving: Option<Slot>,
    /// A generation catching up, to take over when live.
    pub(super) building: Option<Slot>,
    pub(super) paused: bool,
    /// The last generation number given out; numbers are never reused.
    pub(super) last_generation: u64,
}

/// One generation: its number and the module version it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Slot {
    pub(super) generation: u64,
    pub(super) version: u64,
}

impl Slot {
    /// The read model of this generation of projection `name`: `{name}#g{generation}`.
    pub(super) fn model(&self, name: &str) -> ReadModelName {
        ReadModelName::new(&format!("{name}#g{}", self.generation))
            .unwrap_or_else(|_| unreachable!("a module name, #g and a number make a model name"))
    }
}

impl Lifecycle {
    async fn load(store: &dyn EventStore, name: &ModuleName) -> Result<Self, StorageError> {
        let kept = store.module_state(name.clone()).await?;
        match kept {
            None => Ok(Self::default()),
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                StorageError::Corrupt(format!("the kept state of projection {name}: {e}"))
            }),
        }
    }

    async fn save(
        &self,
        store: &dyn EventStore,
        name: &ModuleName,
        drop_models: Vec<ReadModelName>,
    ) -> Result<(), StorageError> {
        let state = serde_json::to_vec(self)
            .unwrap_or_else(|_| unreachable!("the lifecycle is plain data"));
        store
            .put_module_state(ModuleState {
                module: name.clone(),
                state,
                drop_models,
            })
            .await
    }

    fn next_slot(&mut self, version: u64) -> Slot {
        self.last_generation += 1;
        Slot {
            generation: self.last_generation,
            version,
        }
    }
}

/// Makes sure projection `current` (the installed version) runs: restores its kept lifecycle
/// the first time it is seen, then starts a generation for `current` if none runs it.
pub(super) async fn sync(inner: &Arc<Inner>, current: &Arc<LoadedProjection>) {
    let name = current.name().clone();
    let known = lock(&inner.entries).contains_key(name.as_str());
    if !known {
        match restore(inner, current).await {
            Ok(entry) => {
                lock(&inner.entries).insert(name.to_string(), entry);
            }
            Err(error) => {
                tracing::error!(projection = %name, %error, "the projection's kept state does not load; it does not run");
                return;
            }
        }
    }
    let runs_current = {
        let entries = lock(&inner.entries);
        entries.get(name.as_str()).is_some_and(|entry| {
            [&entry.serving, &entry.building]
                .into_iter()
                .flatten()
                .any(|g| g.slot.version == current.version())
        })
    };
    let result = if runs_current {
        save_stale(inner, &name).await
    } else {
        start_generation(inner, current).await
    };
    if let Err(error) = result {
        tracing::error!(projection = %name, %error, "saving the projection's state failed");
    }
}

/// Starts the runners a restart should have: the serving generation (at its own version,
/// which may be older than the installed one) and a generation being built for the installed
/// version. Models that can no longer run are dropped with the next save.
async fn restore(
    inner: &Arc<Inner>,
    current: &Arc<LoadedProjection>,
) -> Result<Entry, StorageError> {
    let name = current.name();
    let mut lifecycle = Lifecycle::load(&*inner.store, name).await?;
    pause_flag(inner, name.as_str()).send_replace(lifecycle.paused);
    let mut stale = Vec::new();
    let mut serving = None;
    if let Some(slot) = lifecycle.serving {
        match inner
            .registry
            .kept_projection(name.as_str(), slot.version)
            .await
        {
            Ok(projection) => serving = Some(Generation::spawn(inner, projection, slot)),
            Err(error) => {
                tracing::warn!(projection = %name, version = slot.version, %error, "the serving version no longer loads; its read model is dropped");
                stale.push(slot.model(name.as_str()));
                lifecycle.serving = None;
            }
        }
    }
    let mut building = None;
    if let Some(slot) = lifecycle.building {
        if slot.version == current.version() {
            building = Some(Generation::spawn(inner, Arc::clone(current), slot));
        } else {
            stale.push(slot.model(name.as_str()));
            lifecycle.building = None;
        }
    }
    if serving.is_none() {
        // Nothing else can answer: the generation being built serves as it is.
        serving = building.take();
        lifecycle.serving = lifecycle.building.take();
    }
    if !stale.is_empty() {
        tracing::info!(projection = %name, ?stale, "restored; read models no generation runs are dropped");
    }
    Ok(Entry {
        lifecycle,
        serving,
        building,
        stale,
    })
}

/// Saves the entry's lifecycle if a restore left models to drop.
async fn save_stale(inner: &Inner, name: &ModuleName) -> Result<(), StorageError> {
    let (lifecycle, stale) = {
        let mut entries = lock(&inner.entries);
        let Some(entry) = entries.get_mut(name.as_str()) else {
            return Ok(());
        };
        if entry.stale.is_empty() {
            return Ok(());
        }
        (entry.lifecycle.clone(), std::mem::take(&mut entry.stale))
    };
    lifecycle.save(&*inner.store, name, stale).await
}

/// Starts a new generation of `projection`: serving if nothing serves, otherwise built beside
/// the serving one (replacing, stopping and dropping any generation already being built). A
/// new version and a reset both come here.
pub(super) async fn start_generation(
    inner: &Arc<Inner>,
    projection: &Arc<LoadedProjection>,
) -> Result<(), StorageError> {
    let name = projection.name();
    let (mut lifecycle, replaced, mut drops) = {
        let mut entries = lock(&inner.entries);
        let Some(entry) = entries.get_mut(name.as_str()) else {
            return Ok(());
        };
        let replaced = if entry.serving.is_some() {
            entry.building.take()
        } else {
            None
        };
        (
            entry.lifecycle.clone(),
            replaced,
            std::mem::take(&mut entry.stale),
        )
    };
    let slot = lifecycle.next_slot(projection.version());
    let serves = lifecycle.serving.is_none();
    if serves {
        lifecycle.serving = Some(slot);
    } else {
        lifecycle.building = Some(slot);
    }
    if let Some(replaced) = replaced {
        // Stopped and finished first, so no late commit of it outlives the drop.
        replaced.stop_and_wait().await;
        drops.push(replaced.model.clone());
    }
    lifecycle.save(&*inner.store, name, drops).await?;
    let generation = Generation::spawn(inner, Arc::clone(projection), slot);
    tracing::info!(projection = %name, model = %generation.model, version = slot.version, serves, "a new generation starts");
    let mut entries = lock(&inner.entries);
    if let Some(entry) = entries.get_mut(name.as_str()) {
        entry.lifecycle = lifecycle;
        if serves {
            entry.serving = Some(generation);
        } else {
            entry.building = Some(generation);
        }
    }
    Ok(())
}

/// The building `generation` has caught up: it serves from now on, and the one it replaces
/// stops and its model is dropped. Gives up if `stopped` fires while it waits its turn.
pub(super) async fn take_over(
    inner: &Arc<Inner>,
    generation: &Arc<Generation>,
    stopped: &mut watch::Receiver<bool>,
) {
    let _turn = tokio::select! {
        turn = inner.changes.lock() => turn,
        _ = stopped.wait_for(|s| *s) => return,
    };
    let name = generation.projection.name();
    let (old, lifecycle) = {
        let mut entries = lock(&inner.entries);
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
        entry.lifecycle.serving = Some(generation.slot);
        entry.lifecycle.building = None;
        (old, entry.lifecycle.clone())
    };
    let mut drops = Vec::new();
    if let Some(old) = &old {
        old.stop_and_wait().await;
        drops.push(old.model.clone());
    }
    match lifecycle.save(&*inner.store, name, drops).await {
        Ok(()) => {
            tracing::info!(projection = %name, from = ?old.as_ref().map(|o| o.model.to_string()), to = %generation.model, "a rebuilt read model takes over");
        }
        Err(error) => {
            tracing::warn!(projection = %name, %error, "saving the takeover failed; after a restart the old model serves until the new one catches up again");
        }
    }
}

/// Pauses or resumes projection `name`, kept across restarts. False if there is none.
pub(super) async fn set_paused(
    inner: &Inner,
    name: &str,
    paused: bool,
) -> Result<bool, StorageError> {
    let Ok(module) = ModuleName::new(name) else {
        return Ok(false);
    };
    let lifecycle = {
        let mut entries = lock(&inner.entries);
        let Some(entry) = entries.get_mut(name) else {
            return Ok(false);
        };
        entry.lifecycle.paused = paused;
        entry.lifecycle.clone()
    };
    lifecycle.save(&*inner.store, &module, Vec::new()).await?;
    pause_flag(inner, name).send_replace(paused);
    Ok(true)
}
