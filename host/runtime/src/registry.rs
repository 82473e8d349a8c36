//! [`Registry`]: the modules the host runs. It validates a component against the cairn worlds,
//! versions it by sha256, keeps it in the event store, compiles it once (wasmtime's disk cache
//! keeps the machine code across restarts), and holds an `InstancePre` for each module. An
//! upload of a new version swaps it in; calls already running finish on the old one.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use cairn_store::{
    EventStore, ModuleHash, ModuleKind, ModuleName, ModulePut, ModuleRecord, ModuleRemoval,
    NewModule, StorageError,
};
use wasmtime::Engine;
use wasmtime::component::{Component, HasSelf, Linker};

use crate::aggregates::aggregate::LoadedAggregate;
use crate::aggregates::reader::AggregateReader;
use crate::call::bindings::aggregate::{AggregateModule, AggregateModulePre};
use crate::call::bindings::projection::{ProjectionModule, ProjectionModulePre};
use crate::call::bindings::reactor::{ReactorModule, ReactorModulePre};
use crate::call::bindings::upcaster::{UpcasterModule, UpcasterModulePre};
use crate::call::engine::{self, EpochTicker};
use crate::call::limits::Limits;
use crate::call::preflight::{CompileBudget, preflight, world_of};
use crate::call::sandbox::Sandbox;
use crate::call::slow_lane::SlowLane;
use crate::error::LoadError;
use crate::projections::projection::LoadedProjection;
use crate::reactors::reactor::LoadedReactor;
use crate::upcasters::upcaster::LoadedUpcaster;
use crate::upcasters::upcaster_set::UpcasterSet;

/// What an upload did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uploaded {
    pub record: ModuleRecord,
    pub kind: ModuleKind,
    /// False when the name's latest version already had these bytes.
    pub created: bool,
}

/// The modules the host runs, by name.
pub struct Registry {
    compiler: Arc<Compiler>,
    limits: Arc<Limits>,
    store: Arc<dyn EventStore>,
    aggregates: RwLock<BTreeMap<ModuleName, Arc<LoadedAggregate>>>,
    projections: RwLock<BTreeMap<ModuleName, Arc<LoadedProjection>>>,
    reactors: RwLock<BTreeMap<ModuleName, Arc<LoadedReactor>>>,
    /// Counts reactor installs and removals, so the reactor runner learns of them.
    reactor_installs: tokio::sync::watch::Sender<u64>,
    /// The upcasters, as one set (one per category, invariant 1 of `upcaster_set.rs`),
    /// replaced whole when one is installed or removed.
    upcasters: RwLock<UpcasterSet>,
    /// Counts projection installs and upcaster changes, so the projection runner learns of new
    /// versions and of new upcasters to rebuild read models under.
    projection_installs: tokio::sync::watch::Sender<u64>,
    /// Where the calls of modules on probation run.
    slow_lane: Arc<SlowLane>,
    /// Held while a module is kept and installed, or removed and forgotten, so an upload and
    /// a removal of one name never interleave (the store and the registry agree on what
    /// serves).
    changes: tokio::sync::Mutex<()>,
    /// Aggregate versions other than the installed ones, compiled to read history with
    /// ([`Registry::aggregate_by_hash`]); the oldest is let go first.
    earlier_aggregates: std::sync::Mutex<Vec<Arc<LoadedAggregate>>>,
    _ticker: EpochTicker,
}

/// How many earlier aggregate versions the registry keeps compiled.
const EARLIER_AGGREGATES: usize = 8;

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("aggregates", &self.list())
            .finish_non_exhaustive()
    }
}

/// The engine, and the linker of each world (both import `log`, so they cannot share one).
struct Compiler {
    engine: Engine,
    linker: Linker<Sandbox>,
    projection_linker: Linker<Sandbox>,
    upcaster_linker: Linker<Sandbox>,
    reactor_linker: Linker<Sandbox>,
    /// What a component may ask of the compiler.
    budget: CompileBudget,
    /// Turns to compile (`Limits::concurrent_compilations`).
    turns: Arc<tokio::sync::Semaphore>,
}

/// A component ready to install: an upcaster loaded already (its category is checked before it
/// is kept), any other kind as compiled.
enum Ready {
    Upcaster(LoadedUpcaster),
    Other(Prepared),
}

/// A component, validated and linked against its world.
enum Prepared {
    Aggregate(AggregateModulePre<Sandbox>),
    Projection(ProjectionModulePre<Sandbox>),
    Upcaster(UpcasterModulePre<Sandbox>),
    Reactor(ReactorModulePre<Sandbox>),
}

impl Prepared {
    fn kind(&self) -> ModuleKind {
        match self {
            Prepared::Aggregate(_) => ModuleKind::Aggregate,
            Prepared::Projection(_) => ModuleKind::Projection,
            Prepared::Upcaster(_) => ModuleKind::Upcaster,
            Prepared::Reactor(_) => ModuleKind::Reactor,
        }
    }
}

impl Registry {
    /// Starts the runtime and loads every module kept in `store`. Compiled code is cached in
    /// `cache_dir`. A kept module that no longer loads is logged and left out.
    pub async fn open(
        store: Arc<dyn EventStore>,
        cache_dir: &Path,
        limits: Limits,
    ) -> Result<Self, LoadError> {
        let host = |e: wasmtime::Error| LoadError::Host(format!("{e:#}"));
        let engine = engine::build(&limits, cache_dir).map_err(host)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(host)?;
        AggregateModule::add_to_linker::<Sandbox, HasSelf<Sandbox>>(&mut linker, |s| s)
            .map_err(host)?;
        let mut projection_linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut projection_linker).map_err(host)?;
        ProjectionModule::add_to_linker::<Sandbox, HasSelf<Sandbox>>(&mut projection_linker, |s| s)
            .map_err(host)?;
        let mut upcaster_linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut upcaster_linker).map_err(host)?;
        UpcasterModule::add_to_linker::<Sandbox, HasSelf<Sandbox>>(&mut upcaster_linker, |s| s)
            .map_err(host)?;
        let mut reactor_linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut reactor_linker).map_err(host)?;
        ReactorModule::add_to_linker::<Sandbox, HasSelf<Sandbox>>(&mut reactor_linker, |s| s)
            .map_err(host)?;
        let ticker =
            EpochTicker::start(engine.clone()).map_err(|e| LoadError::Host(e.to_string()))?;
        let slow_lane = SlowLane::start().map_err(|e| LoadError::Host(e.to_string()))?;
        let registry = Self {
            compiler: Arc::new(Compiler {
                engine,
                linker,
                projection_linker,
                upcaster_linker,
                reactor_linker,
                budget: limits.compile_budget(),
                turns: Arc::new(tokio::sync::Semaphore::new(
                    limits.concurrent_compilations.max(1),
                )),
            }),
            limits: Arc::new(limits),
            store,
            aggregates: RwLock::new(BTreeMap::new()),
            projections: RwLock::new(BTreeMap::new()),
            reactors: RwLock::new(BTreeMap::new()),
            reactor_installs: tokio::sync::watch::Sender::new(0),
            upcasters: RwLock::new(UpcasterSet::default()),
            changes: tokio::sync::Mutex::new(()),
            earlier_aggregates: std::sync::Mutex::default(),
            projection_installs: tokio::sync::watch::Sender::new(0),
            slow_lane: Arc::new(slow_lane),
            _ticker: ticker,
        };
        for record in registry.store.modules().await? {
            if !record.name.follows_rule() {
                tracing::error!(
                    module = %record.name,
                    version = record.version,
                    "a kept module's name breaks today's rule for module names (a lower-case \
                     letter, then lower-case letters, digits and `_`), so it is not served: \
                     with `-` in it, its streams could be spelled by another module's. Its \
                     events stay where they are, readable as streams. Upload it again under a \
                     name that follows the rule (for `my-module`, `my_module`)"
                );
                continue;
            }
            if let Err(error) = registry.load_kept(&record).await {
                tracing::error!(module = %record.name, version = record.version, %error, "a kept module does not load; it is left out");
            }
        }
        Ok(registry)
    }

    /// Validates, keeps and loads a module. The same bytes again change nothing.
    pub async fn upload(&self, name: &str, bytes: Vec<u8>) -> Result<Uploaded, LoadError> {
        self.upload_as(name, bytes, None).await
    }

    /// [`Registry::upload`], refusing a component of any kind but `expected`, if given,
    /// before it is kept.
    pub async fn upload_as(
        &self,
        name: &str,
        bytes: Vec<u8>,
        expected: Option<ModuleKind>,
    ) -> Result<Uploaded, LoadError> {
        let name = ModuleName::new(name)?;
        let prepared = self.prepare(bytes.clone()).await?;
        let kind = prepared.kind();
        if let Some(expected) = expected
            && expected != kind
        {
            return Err(LoadError::UnexpectedKind {
                expected,
                found: kind,
            });
        }
        let prepared = match prepared {
            Prepared::Upcaster(pre) => {
                Ready::Upcaster(self.load_upcaster(&name, 0, &bytes, pre).await?)
            }
            other => Ready::Other(other),
        };
        let _changes = self.changes.lock().await;
        if let Ready::Upcaster(upcaster) = &prepared {
            self.check_category(upcaster)?;
        }
        // The store refuses the other kind in the transaction that would keep the module, so of
        // two racing uploads of one name as two kinds exactly one wins (`ModulePutError`).
        let put = self
            .store
            .put_module(NewModule::new(name, kind, bytes))
            .await?;
        let created = matches!(put, ModulePut::Created(_));
        let record = put.record().clone();
        self.install(record.clone(), prepared).await?;
        tracing::info!(module = %record.name, version = record.version, hash = %record.hash, created, "module loaded");
        Ok(Uploaded {
            record,
            kind,
            created,
        })
    }

    /// Loads what other nodes changed in the store's modules: a module kept with another
    /// hash than the one loaded (or not loaded at all) is loaded from the store, and a loaded
    /// module the store no longer keeps is forgotten. Called when the store says its modules
    /// changed (`cairn_store::Modules::watch_modules`); a module that does not load is logged
    /// and left as it was.
    pub async fn catch_up(&self) -> Result<(), LoadError> {
        let _changes = self.changes.lock().await;
        let kept = self.store.modules().await?;
        let loaded = self.list();
        for record in &kept {
            let current = loaded.iter().find(|m| m.name == record.name);
            if current.is_some_and(|m| m.hash == record.hash) || !record.name.follows_rule() {
                continue;
            }
            match self.load_kept(record).await {
                Ok(()) => {
                    tracing::info!(module = %record.name, version = record.version, hash = %record.hash, "module loaded, as another node kept it")
                }
                Err(error) => {
                    tracing::error!(module = %record.name, version = record.version, %error, "a module another node kept does not load here; the one loaded stays")
                }
            }
        }
        for gone in loaded
            .iter()
            .filter(|m| !kept.iter().any(|k| k.name == m.name))
        {
            self.unload(gone.name.as_str());
            tracing::info!(module = %gone.name, "module forgotten, as another node removed it");
        }
        Ok(())
    }

    /// The aggregate module named `name`, if one is loaded.
    pub fn aggregate(&self, name: &str) -> Option<Arc<LoadedAggregate>> {
        let aggregates = self
            .aggregates
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        aggregates.get(name).map(Arc::clone)
    }

    /// Aggregate `name` as it serves, reading through the upcasters of its category, if one
    /// is loaded.
    pub fn aggregate_reader(&self, name: &str) -> Option<AggregateReader> {
        let aggregate = self.aggregate(name)?;
        Some(AggregateReader::new(aggregate, &self.upcasters()))
    }

    /// Every loaded upcaster, as the set readers read through.
    pub fn upcasters(&self) -> UpcasterSet {
        self.upcasters
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The upcaster module named `name`, if one is loaded.
    pub fn upcaster(&self, name: &str) -> Option<Arc<LoadedUpcaster>> {
        self.upcasters()
            .upcasters()
            .find(|u| u.name().as_str() == name)
            .cloned()
    }

    /// The kind of the module loaded under `name`, if one is.
    pub fn kind_of(&self, name: &str) -> Option<ModuleKind> {
        if self.aggregate(name).is_some() {
            Some(ModuleKind::Aggregate)
        } else if self.projection(name).is_some() {
            Some(ModuleKind::Projection)
        } else if self.upcaster(name).is_some() {
            Some(ModuleKind::Upcaster)
        } else if self.reactor(name).is_some() {
            Some(ModuleKind::Reactor)
        } else {
            None
        }
    }

    /// Removes upcaster `name`: the store stops keeping it, and readers read its category's
    /// events as stored from now on. `None` if no upcaster is loaded under `name`.
    pub async fn remove_upcaster(&self, name: &str) -> Result<Option<ModuleRecord>, StorageError> {
        let _changes = self.changes.lock().await;
        let Some(upcaster) = self.upcaster(name) else {
            return Ok(None);
        };
        let removed = self
            .store
            .remove_module(ModuleRemoval {
                module: upcaster.name().clone(),
                drop_models: Vec::new(),
            })
            .await?;
        self.unload(name);
        tracing::info!(module = %name, category = %upcaster.upgrades().category, "the upcaster is removed; its category's events are read as stored");
        Ok(removed)
    }

    /// Refuses `upcaster` if another name's upcaster reads its category (invariant 1 of
    /// `upcaster_set.rs`). Call under the turn of [`Registry::changes`].
    fn check_category(&self, upcaster: &LoadedUpcaster) -> Result<(), LoadError> {
        let category = &upcaster.upgrades().category;
        match self.upcasters().of_category(category) {
            Some(held) if held.name() != upcaster.name() => Err(LoadError::CategoryTaken {
                category: category.clone(),
                held_by: held.name().to_string(),
            }),
            _ => Ok(()),
        }
    }

    /// Removes aggregate `name`: the store stops keeping it (its streams stay, and its name
    /// stays an aggregate's), and commands to it are refused from now on. `None` if no
    /// aggregate is loaded under `name`. A projection is removed by
    /// [`crate::Projections::remove`], which stops its runners first.
    pub async fn remove_aggregate(&self, name: &str) -> Result<Option<ModuleRecord>, StorageError> {
        let _changes = self.changes.lock().await;
        let Some(aggregate) = self.aggregate(name) else {
            return Ok(None);
        };
        let removed = self
            .store
            .remove_module(ModuleRemoval {
                module: aggregate.name().clone(),
                drop_models: Vec::new(),
            })
            .await?;
        self.unload(name);
        tracing::info!(module = %name, "the aggregate is removed; its streams stay");
        Ok(removed)
    }

    /// Removes reactor `name` as `removal` says (its model dropped with it): the store stops
    /// keeping it and the registry forgets it. Call with the reactor's task stopped
    /// ([`crate::Reactors::remove`] does). `None` if no reactor is loaded under `name`.
    pub(crate) async fn remove_reactor(
        &self,
        name: &str,
        removal: ModuleRemoval,
    ) -> Result<Option<ModuleRecord>, StorageError> {
        let _changes = self.changes.lock().await;
        if self.reactor(name).is_none() {
            return Ok(None);
        }
        let removed = self.store.remove_module(removal).await?;
        self.unload(name);
        tracing::info!(module = %name, "the reactor is removed; its outcome stream stays");
        Ok(removed)
    }

    /// The turn to keep and install, or remove and forget, a module: held, no other such
    /// change runs.
    pub(crate) async fn changes(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.changes.lock().await
    }

    /// Forgets the module loaded under `name`, of either kind.
    pub(crate) fn unload(&self, name: &str) {
        self.aggregates
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(name);
        self.projections
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(name);
        let reactor = self
            .reactors
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(name);
        if reactor.is_some() {
            self.reactor_installs.send_modify(|n| *n += 1);
        }
        let mut upcasters = self
            .upcasters
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if upcasters.upcasters().any(|u| u.name().as_str() == name) {
            *upcasters = UpcasterSet::new(
                upcasters
                    .upcasters()
                    .filter(|u| u.name().as_str() != name)
                    .cloned(),
            );
            drop(upcasters);
            self.projection_installs.send_modify(|n| *n += 1);
        }
    }

    /// What is loaded: name, version and hash of each module.
    pub fn list(&self) -> Vec<ModuleRecord> {
        let aggregates = self
            .aggregates
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let projections = self
            .projections
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut list: Vec<ModuleRecord> = aggregates
            .values()
            .map(|m| ModuleRecord {
                name: m.name().clone(),
                version: m.version(),
                kind: ModuleKind::Aggregate,
                hash: m.hash().clone(),
            })
            .chain(projections.values().map(|m| ModuleRecord {
                name: m.name().clone(),
                version: m.version(),
                kind: ModuleKind::Projection,
                hash: m.hash().clone(),
            }))
            .chain(self.upcasters().upcasters().map(|m| ModuleRecord {
                name: m.name().clone(),
                version: m.version(),
                kind: ModuleKind::Upcaster,
                hash: m.hash().clone(),
            }))
            .chain(self.reactors().iter().map(|m| ModuleRecord {
                name: m.name().clone(),
                version: m.version(),
                kind: ModuleKind::Reactor,
                hash: m.hash().clone(),
            }))
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    /// How the calls of the loaded module named `name` have stood, if one is loaded.
    pub fn probation(&self, name: &str) -> Option<crate::Probation> {
        self.aggregate(name)
            .map(|m| m.probation())
            .or_else(|| self.projection(name).map(|m| m.probation()))
            .or_else(|| self.upcaster(name).map(|m| m.probation()))
            .or_else(|| self.reactor(name).map(|m| m.probation()))
    }

    /// The reactor module named `name`, if one is loaded.
    pub fn reactor(&self, name: &str) -> Option<Arc<LoadedReactor>> {
        self.reactors
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .map(Arc::clone)
    }

    /// Every loaded reactor module.
    pub fn reactors(&self) -> Vec<Arc<LoadedReactor>> {
        self.reactors
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .map(Arc::clone)
            .collect()
    }

    /// Changes whenever a reactor module is installed or removed.
    pub fn watch_reactors(&self) -> tokio::sync::watch::Receiver<u64> {
        self.reactor_installs.subscribe()
    }

    /// The projection module named `name`, if one is loaded.
    pub fn projection(&self, name: &str) -> Option<Arc<LoadedProjection>> {
        self.projections
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .map(Arc::clone)
    }

    /// Every loaded projection module.
    pub fn projections(&self) -> Vec<Arc<LoadedProjection>> {
        self.projections
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .map(Arc::clone)
            .collect()
    }

    /// Changes whenever a projection module is installed.
    pub fn watch_projections(&self) -> tokio::sync::watch::Receiver<u64> {
        self.projection_installs.subscribe()
    }

    /// The limits calls run under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    async fn load_kept(&self, record: &ModuleRecord) -> Result<(), LoadError> {
        let bytes = self
            .store
            .module_bytes(record.hash.clone())
            .await?
            .ok_or_else(|| LoadError::Host(format!("the bytes of {} are missing", record.hash)))?;
        if ModuleHash::of(&bytes) != record.hash {
            return Err(LoadError::Host(format!(
                "the bytes kept for {} have another hash",
                record.hash
            )));
        }
        let prepared = match self.prepare(bytes.clone()).await? {
            Prepared::Upcaster(pre) => {
                let upcaster = self
                    .load_upcaster(&record.name, record.version, &bytes, pre)
                    .await?;
                self.check_category(&upcaster)?;
                Ready::Upcaster(upcaster)
            }
            other => Ready::Other(other),
        };
        self.install(record.clone(), prepared).await
    }

    async fn install(&self, record: ModuleRecord, prepared: Ready) -> Result<(), LoadError> {
        let hash = record.hash.clone();
        let prepared = match prepared {
            Ready::Upcaster(upcaster) => {
                let upcaster = Arc::new(upcaster.kept_as(record.version));
                let mut upcasters = self
                    .upcasters
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                *upcasters = upcasters.with(upcaster);
                drop(upcasters);
                self.projection_installs.send_modify(|n| *n += 1);
                return Ok(());
            }
            Ready::Other(prepared) => prepared,
        };
        let pre = match prepared {
            Prepared::Aggregate(pre) => pre,
            Prepared::Reactor(pre) => {
                let loaded = LoadedReactor::new(
                    record.name.clone(),
                    hash,
                    record.version,
                    pre,
                    self.compiler.engine.clone(),
                    Arc::clone(&self.limits),
                    Arc::clone(&self.slow_lane),
                    self.store.head(),
                )
                .await
                .map_err(LoadError::Module)?;
                self.reactors
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(record.name, Arc::new(loaded));
                self.reactor_installs.send_modify(|n| *n += 1);
                return Ok(());
            }
            Prepared::Upcaster(_) => {
                return Err(LoadError::Host(
                    "an upcaster reached install unloaded".into(),
                ));
            }
            Prepared::Projection(pre) => {
                let loaded = LoadedProjection::new(
                    record.name.clone(),
                    hash,
                    record.version,
                    pre,
                    self.compiler.engine.clone(),
                    Arc::clone(&self.limits),
                    Arc::clone(&self.slow_lane),
                )
                .await
                .map_err(LoadError::Module)?;
                self.projections
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(record.name, Arc::new(loaded));
                self.projection_installs.send_modify(|n| *n += 1);
                return Ok(());
            }
        };
        let loaded = LoadedAggregate::new(
            record.name.clone(),
            hash,
            record.version,
            pre,
            self.compiler.engine.clone(),
            Arc::clone(&self.limits),
            Arc::clone(&self.slow_lane),
        );
        let mut aggregates = self
            .aggregates
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        aggregates.insert(record.name, Arc::new(loaded));
        Ok(())
    }

    /// The aggregate `name` as the module of `hash` decides and folds: the installed one if it
    /// has that hash, else that kept version, compiled apart and remembered (a few of them),
    /// for reading history with the module that wrote it.
    pub async fn aggregate_by_hash(
        &self,
        name: &str,
        hash: &ModuleHash,
    ) -> Result<Arc<LoadedAggregate>, LoadError> {
        if let Some(installed) = self.aggregate(name).filter(|a| a.hash() == hash) {
            return Ok(installed);
        }
        let remembered = self
            .earlier_aggregates
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find(|a| a.hash() == hash && a.name().as_str() == name)
            .cloned();
        if let Some(earlier) = remembered {
            return Ok(earlier);
        }
        let bytes = self
            .store
            .module_bytes(hash.clone())
            .await?
            .ok_or_else(|| LoadError::Host(format!("no module with hash {hash} is kept")))?;
        let loaded = self.compile_aggregate(name, bytes).await?;
        let mut earlier = self
            .earlier_aggregates
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if earlier.len() >= EARLIER_AGGREGATES {
            earlier.remove(0);
        }
        earlier.push(Arc::clone(&loaded));
        Ok(loaded)
    }

    /// Validates, compiles and links an aggregate module, without keeping it (version 0): a
    /// candidate for a plan, or a kept version read again.
    pub async fn compile_aggregate(
        &self,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<Arc<LoadedAggregate>, LoadError> {
        let name = ModuleName::new(name)?;
        let hash = ModuleHash::of(&bytes);
        let pre = match self.prepare(bytes).await? {
            Prepared::Aggregate(pre) => pre,
            other => return Err(not_an_aggregate(other.kind())),
        };
        Ok(Arc::new(LoadedAggregate::new(
            name,
            hash,
            0,
            pre,
            self.compiler.engine.clone(),
            Arc::clone(&self.limits),
            Arc::clone(&self.slow_lane),
        )))
    }

    /// Validates, compiles and links an upcaster module and asks what it upgrades, without
    /// keeping it (version 0): a candidate for a plan.
    pub async fn compile_upcaster(
        &self,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<Arc<LoadedUpcaster>, LoadError> {
        let name = ModuleName::new(name)?;
        let Prepared::Upcaster(pre) = self.prepare(bytes.clone()).await? else {
            return Err(LoadError::WrongWorld {
                reason: "this is not an upcaster module".into(),
            });
        };
        let upcaster = self.load_upcaster(&name, 0, &bytes, pre).await?;
        self.check_category(&upcaster)?;
        Ok(Arc::new(upcaster))
    }

    /// The kind of module `bytes` is, checked before compiling.
    pub async fn kind_of_bytes(&self, bytes: Vec<u8>) -> Result<ModuleKind, LoadError> {
        let budget = self.compiler.budget;
        tokio::task::spawn_blocking(move || preflight(&bytes, budget))
            .await
            .map_err(|e| LoadError::Host(e.to_string()))?
    }

    async fn load_upcaster(
        &self,
        name: &ModuleName,
        version: u64,
        bytes: &[u8],
        pre: UpcasterModulePre<Sandbox>,
    ) -> Result<LoadedUpcaster, LoadError> {
        LoadedUpcaster::new(
            name.clone(),
            ModuleHash::of(bytes),
            version,
            pre,
            self.compiler.engine.clone(),
            Arc::clone(&self.limits),
            Arc::clone(&self.slow_lane),
        )
        .await
    }

    /// Validates, compiles and links a projection module, without keeping it (version 0).
    pub async fn compile_projection(
        &self,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<Arc<LoadedProjection>, LoadError> {
        let name = ModuleName::new(name)?;
        self.load_projection(name, 0, bytes).await
    }

    /// Version `version` of the kept projection `name`, loaded apart from the installed one:
    /// after a restart, the generation that was serving may belong to an older version than
    /// the one installed, and it goes on serving until the newer one has caught up.
    pub async fn kept_projection(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Arc<LoadedProjection>, LoadError> {
        if let Some(installed) = self.projection(name).filter(|p| p.version() == version) {
            return Ok(installed);
        }
        let name = ModuleName::new(name)?;
        let record = self
            .store
            .module_version(name.clone(), version)
            .await?
            .ok_or_else(|| LoadError::Host(format!("version {version} of {name} is not kept")))?;
        let bytes = self
            .store
            .module_bytes(record.hash.clone())
            .await?
            .ok_or_else(|| LoadError::Host(format!("the bytes of {} are missing", record.hash)))?;
        self.load_projection(name, version, bytes).await
    }

    async fn load_projection(
        &self,
        name: ModuleName,
        version: u64,
        bytes: Vec<u8>,
    ) -> Result<Arc<LoadedProjection>, LoadError> {
        let hash = ModuleHash::of(&bytes);
        let Prepared::Projection(pre) = self.prepare(bytes).await? else {
            return Err(LoadError::WrongWorld {
                reason: "this is an aggregate module, not a projection".into(),
            });
        };
        let loaded = LoadedProjection::new(
            name,
            hash,
            version,
            pre,
            self.compiler.engine.clone(),
            Arc::clone(&self.limits),
            Arc::clone(&self.slow_lane),
        )
        .await
        .map_err(LoadError::Module)?;
        Ok(Arc::new(loaded))
    }

    /// Checks the component before compiling it (`preflight.rs`), then, in its turn,
    /// compiles and links it. Both on the blocking pool: compiling is heavy CPU work.
    async fn prepare(&self, bytes: Vec<u8>) -> Result<Prepared, LoadError> {
        let host = |e: tokio::task::JoinError| LoadError::Host(e.to_string());
        let compiler = Arc::clone(&self.compiler);
        let bytes = Arc::new(bytes);
        let checked = Arc::clone(&bytes);
        let budget = compiler.budget;
        let kind = tokio::task::spawn_blocking(move || preflight(&checked, budget))
            .await
            .map_err(host)??;
        let _turn = Arc::clone(&compiler.turns)
            .acquire_owned()
            .await
            .map_err(|e| LoadError::Host(e.to_string()))?;
        tokio::task::spawn_blocking(move || compiler.prepare(&bytes, kind))
            .await
            .map_err(host)?
    }
}

impl Compiler {
    /// Compiles and links `bytes`, which [`preflight`] found to export the world of `kind`.
    fn prepare(&self, bytes: &[u8], kind: ModuleKind) -> Result<Prepared, LoadError> {
        let component = Component::new(&self.engine, bytes).map_err(refused_component)?;
        let ty = component.component_type();
        let exported: Vec<&str> = ty.exports(&self.engine).map(|(name, _)| name).collect();
        if world_of(&exported)? != kind {
            return Err(LoadError::WrongWorld {
                reason: "its exports are not what its sections said".into(),
            });
        }
        let linker = match kind {
            ModuleKind::Aggregate => &self.linker,
            ModuleKind::Projection => &self.projection_linker,
            ModuleKind::Upcaster => &self.upcaster_linker,
            ModuleKind::Reactor => &self.reactor_linker,
        };
        let instance_pre =
            linker
                .instantiate_pre(&component)
                .map_err(|e| LoadError::BadImport {
                    reason: format!("{e:#}"),
                })?;
        let wrong_world = |e: wasmtime::Error| LoadError::WrongWorld {
            reason: format!("{e:#}"),
        };
        Ok(match kind {
            ModuleKind::Aggregate => {
                Prepared::Aggregate(AggregateModulePre::new(instance_pre).map_err(wrong_world)?)
            }
            ModuleKind::Projection => {
                Prepared::Projection(ProjectionModulePre::new(instance_pre).map_err(wrong_world)?)
            }
            ModuleKind::Upcaster => {
                Prepared::Upcaster(UpcasterModulePre::new(instance_pre).map_err(wrong_world)?)
            }
            ModuleKind::Reactor => {
                Prepared::Reactor(ReactorModulePre::new(instance_pre).map_err(wrong_world)?)
            }
        })
    }
}

/// Why wasmtime refused to compile a component. Its pooling allocator checks each module
/// against the configured limits while compiling, and says so ("... does not fit in pooling
/// allocator requirements"); that is a module too large for the limits, not a bad binary.
fn refused_component(error: wasmtime::Error) -> LoadError {
    let reason = format!("{error:#}");
    if error
        .chain()
        .any(|cause| cause.to_string().contains("pooling allocator requirements"))
    {
        LoadError::ExceedsLimits { reason }
    } else {
        LoadError::Invalid { reason }
    }
}

/// Why a component of `kind` is refused where an aggregate is wanted (a plan's candidate).
pub(crate) fn not_an_aggregate(kind: ModuleKind) -> LoadError {
    LoadError::WrongWorld {
        reason: format!("this is a module of kind '{kind}', not an aggregate"),
    }
}
