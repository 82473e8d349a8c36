//! [`Reactors`]: runs every loaded reactor over the global log, one task each, and carries out
//! what operators ask of them.
//!
//! Layout, with imports running one way: `mod.rs` → `task.rs` → {`behind.rs`,
//! `legacy_rows.rs`, `execute.rs`, `status.rs`, `config.rs`}.
//! - `task.rs`: one reactor's loop: read, react, commit with the ledger, execute, record
//!   outcomes; retries and the failure policy; the operator's requests.
//! - `behind.rs`: one stream's events kept in order behind a parked one, in the parked ledger
//!   shared with consumer groups (`cairn_groups::parked`), whose retry policy (`Exhausted`,
//!   `backoff`) reactors take too.
//! - `legacy_rows.rs`: parked rows of an older layout, moved over when a task starts.
//! - `threads.rs`: the runtime the tasks run on, apart from the server's.
//! - `execute.rs`: intents through the command path, under their keys.
//! - `status.rs`: what a reactor reports, written by its task.
//! - `config.rs`: the `[reactors]` section: batches, the stall alarm, failure policies.
//!
//! A reactor keeps everything in one read model, `{name}#reactor` (`ledger.rs`). A new reactor
//! starts at the head of the log as it was when the reactor was uploaded; a new version of a
//! loaded reactor goes on from the checkpoint with the state the earlier version left, unless it
//! is installed from a position ([`Reactors::install_from`]); a reset starts again from a
//! position, with an empty state, and its commands whose keys the aggregates recorded are
//! answered by their keys, not executed again.

mod behind;
mod config;
mod execute;
mod legacy_rows;
mod status;
mod task;
mod threads;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use cairn_groups::parked;
use cairn_store::{
    EventStore, ModelCommit, ModelWrite, ModuleKind, ModuleName, ModuleRecord, ModuleRemoval,
    Position, ReadModelName, StorageError,
};
use tokio::sync::{mpsc, oneshot, watch};

use crate::aggregates::command_path::CommandPath;
use crate::error::LoadError;
use crate::reactors::intent::IssuedIntent;
use crate::reactors::ledger::{self, HeldIntents, ParkedEvent};
use crate::reactors::reactor::LoadedReactor;
use crate::registry::{Registry, Uploaded};
pub use config::{FailurePolicy, ReactorConfig};
pub use status::{ReactorFault, ReactorState, ReactorStatus};
use task::{Request, Task};
pub use task::{RetryReport, TaskError};

/// Why an operator's request of a reactor was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum ReactorError {
    #[error("no reactor is named '{0}'")]
    UnknownReactor(String),
    /// The reactor's task is not running (faulted under `stop`, or the node is stopping).
    #[error("reactor '{0}' is not running; reset it to start it again")]
    NotRunning(String),
    /// This node does not run the reactors: another node sharing the store holds the runner
    /// lease, and only it may write a reactor's model.
    #[error("reactor '{0}' runs on the node holding the runner lease; ask that node")]
    RunsElsewhere(String),
    #[error(transparent)]
    Task(#[from] TaskError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The worker threads of the reactors' runtime (`threads.rs`).
const REACTOR_THREADS: usize = 2;

/// Why a reactor was not installed from a position.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The component was refused.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The installation's task failed.
    #[error(transparent)]
    Reactor(#[from] ReactorError),
    /// The version was kept, and its model could not be made at the position: it does not
    /// run until a reset (or the next sync) makes it there.
    #[error(
        "reactor '{name}' version {version} is kept, and could not be built from position \
         {from} ({error}); it is not running: reset it with from={from}"
    )]
    NotBuilt {
        name: String,
        version: u64,
        from: u64,
        error: ReactorError,
    },
}

/// A reactor's running task, and the handles to it.
struct Running {
    version: u64,
    requests: mpsc::Sender<Request>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// Runs the registry's reactors. Dropping it stops nothing; call [`Reactors::stop`].
#[derive(Clone)]
pub struct Reactors {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn EventStore>,
    registry: Arc<Registry>,
    commands: Arc<CommandPath>,
    config: ReactorConfig,
    running: tokio::sync::Mutex<BTreeMap<String, Running>>,
    /// The boards of every reactor, for statuses without taking the lock above.
    boards: Mutex<BTreeMap<String, status::Board>>,
    stop: watch::Sender<bool>,
    supervisor: Mutex<Option<tokio::task::JoinHandle<()>>>,
    threads: threads::ReactorThreads,
    /// Reactors installed to be built from a position (the value) whose model is not made
    /// there yet: no task runs them until it is.
    unbuilt: Mutex<BTreeMap<String, u64>>,
    /// Whether another node runs the reactors (`Reactors::dormant`): nothing here may write
    /// their models, which only the runner lease's fence guards.
    dormant: bool,
}

impl std::fmt::Debug for Reactors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactors")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Reactors {
    /// Starts a task for every reactor in `registry`, and for each one installed later.
    pub fn start(
        store: Arc<dyn EventStore>,
        registry: Arc<Registry>,
        commands: Arc<CommandPath>,
        config: ReactorConfig,
    ) -> Self {
        let reactors = Self::new(store, registry, commands, config, false);
        let inner = &reactors.inner;
        inner.stop.send_replace(false);
        let mut stopped = inner.stop.subscribe();
        let mut installs = inner.registry.watch_reactors();
        let supervised = Arc::clone(inner);
        let supervisor = tokio::spawn(async move {
            loop {
                supervised.sync().await;
                tokio::select! {
                    changed = installs.changed() => if changed.is_err() { return },
                    _ = stopped.wait_for(|s| *s) => return,
                }
            }
        });
        *inner
            .supervisor
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(supervisor);
        reactors
    }

    /// Reactors this node does not run, because another node sharing the store holds the
    /// runner lease: their statuses are listed, and asking one to retry, discard or reset is
    /// refused as not running here.
    pub fn dormant(
        store: Arc<dyn EventStore>,
        registry: Arc<Registry>,
        commands: Arc<CommandPath>,
        config: ReactorConfig,
    ) -> Self {
        Self::new(store, registry, commands, config, true)
    }

    fn new(
        store: Arc<dyn EventStore>,
        registry: Arc<Registry>,
        commands: Arc<CommandPath>,
        config: ReactorConfig,
        dormant: bool,
    ) -> Self {
        let (stop, _) = watch::channel(true);
        let inner = Arc::new(Inner {
            store,
            registry,
            commands,
            config,
            running: tokio::sync::Mutex::new(BTreeMap::new()),
            boards: Mutex::new(BTreeMap::new()),
            stop,
            supervisor: Mutex::new(None),
            threads: threads::ReactorThreads::start(REACTOR_THREADS),
            unbuilt: Mutex::new(BTreeMap::new()),
            dormant,
        });
        Self { inner }
    }

    /// Stops every task and waits for them, so none holds the store afterwards. What was
    /// committed stays; intents issued and not executed are executed after the next start.
    pub async fn stop(&self) {
        self.inner.stop.send_replace(true);
        let supervisor = self
            .inner
            .supervisor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(supervisor) = supervisor {
            let _ = supervisor.await;
        }
        let mut running = self.inner.running.lock().await;
        for (_, run) in std::mem::take(&mut *running) {
            run.stop.send_replace(true);
            let _ = run.task.await;
        }
    }

    /// Every loaded reactor's status, by name.
    pub fn list(&self) -> Vec<ReactorStatus> {
        let head = self.inner.store.head().get();
        self.inner
            .registry
            .reactors()
            .iter()
            .map(|reactor| self.inner.board_of(reactor).status(head))
            .collect()
    }

    /// One loaded reactor's status (a reactor whose task has not started yet is catching up
    /// from position 0 until it has).
    pub fn status(&self, name: &str) -> Option<ReactorStatus> {
        let head = self.inner.store.head().get();
        let reactor = self.inner.registry.reactor(name)?;
        Some(self.inner.board_of(&reactor).status(head))
    }

    /// Up to `limit` of the events reactor `name` parked after position `after`, in log
    /// order.
    pub async fn parked(
        &self,
        name: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ParkedEvent>, ReactorError> {
        self.known(name)?;
        let store = Arc::clone(&self.inner.store);
        let model = model_of(name)?;
        let page = tokio::task::spawn_blocking(move || {
            let view = store.read_model(&model)?;
            parked::page::<HeldIntents>(&*view, after, limit)
        })
        .await
        .map_err(|e| TaskError::Host(e.to_string()))??;
        Ok(page)
    }

    /// Retries the events reactor `name` parked at `position` (every parked event for
    /// `None`): each that succeeds is parked no more, and its intents are executed once.
    pub async fn retry(
        &self,
        name: &str,
        position: Option<u64>,
    ) -> Result<RetryReport, ReactorError> {
        let (reply, answer) = oneshot::channel();
        self.ask(name, Request::Retry { position, reply }).await?;
        Ok(answer
            .await
            .map_err(|_| ReactorError::NotRunning(name.to_owned()))??)
    }

    /// Discards the events reactor `name` parked at `position`; how many there were.
    pub async fn discard(&self, name: &str, position: u64) -> Result<usize, ReactorError> {
        let (reply, answer) = oneshot::channel();
        self.ask(name, Request::Discard { position, reply }).await?;
        Ok(answer
            .await
            .map_err(|_| ReactorError::NotRunning(name.to_owned()))??)
    }

    /// Starts reactor `name` again after position `from` with an empty state: a replay. The
    /// intents it issued and had not executed yet are carried over and executed. The replay's
    /// intents carry the keys they had the first time, so a command an aggregate recorded
    /// under its key is answered by the key and not executed again.
    pub async fn reset(&self, name: &str, from: u64) -> Result<ReactorStatus, ReactorError> {
        self.here(name)?;
        // On a task of its own: a caller that goes away (an HTTP request cancelled) never
        // leaves the reactor stopped half-way.
        let inner = Arc::clone(&self.inner);
        let owned = name.to_owned();
        tokio::spawn(async move { inner.reset(&owned, from).await })
            .await
            .map_err(|e| TaskError::Host(format!("the reset's task failed: {e}")))??;
        self.status(name)
            .ok_or_else(|| ReactorError::UnknownReactor(name.to_owned()))
    }

    /// Installs `bytes` as the next version of reactor `name`, or its first, built from
    /// position `from` as a reset builds it: an empty state, and the intents in flight carried
    /// over. The task of the version it replaces runs until the new one is kept, and the new
    /// version's task starts only on the model made at `from`, so it never reacts from the
    /// earlier checkpoint. The same bytes as the latest version install nothing, and reset the
    /// reactor to `from`. A component of another kind is refused before it is kept.
    pub async fn install_from(
        &self,
        name: &str,
        bytes: Vec<u8>,
        from: u64,
    ) -> Result<Uploaded, InstallError> {
        if self.inner.dormant {
            return Err(ReactorError::RunsElsewhere(name.to_owned()).into());
        }
        // On a task of its own, like a reset: a caller that goes away never leaves the new
        // version installed and not started from `from`.
        let inner = Arc::clone(&self.inner);
        let owned = name.to_owned();
        tokio::spawn(async move {
            let mut running = inner.running.lock().await;
            inner.refuse_if_stopped(&owned)?;
            let uploaded = inner
                .registry
                .upload_as(&owned, bytes, Some(ModuleKind::Reactor))
                .await?;
            inner
                .unbuilt
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(owned.clone(), from);
            match inner.remake(&mut running, &owned, from).await {
                Ok(()) => Ok(uploaded),
                Err(error) => Err(InstallError::NotBuilt {
                    name: owned,
                    version: uploaded.record.version,
                    from,
                    error,
                }),
            }
        })
        .await
        .map_err(|e| {
            InstallError::Reactor(
                TaskError::Host(format!("the installation's task failed: {e}")).into(),
            )
        })?
    }

    /// Removes reactor `name`: its task stops, and the module and its model leave the store
    /// together. Its outcome stream stays, and its name stays a reactor's. The version that was
    /// latest.
    pub async fn remove(&self, name: &str) -> Result<ModuleRecord, ReactorError> {
        self.here(name)?;
        let mut running = self.inner.running.lock().await;
        self.inner.refuse_if_stopped(name)?;
        if let Some(run) = running.remove(name) {
            run.stop.send_replace(true);
            let _ = run.task.await;
        }
        let removed = self
            .inner
            .registry
            .remove_reactor(
                name,
                ModuleRemoval {
                    module: ModuleName::new(name).map_err(|e| TaskError::Host(e.to_string()))?,
                    drop_models: vec![model_of(name)?],
                },
            )
            .await?
            .ok_or_else(|| ReactorError::UnknownReactor(name.to_owned()))?;
        self.inner
            .boards
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
        // A version uploaded again later starts where its own upload says, not where this one
        // was to be built from.
        self.inner
            .unbuilt
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
        Ok(removed)
    }

    /// [`Reactors::known`], and refused on a dormant node ([`ReactorError::RunsElsewhere`]).
    fn here(&self, name: &str) -> Result<(), ReactorError> {
        self.known(name)?;
        match self.inner.dormant {
            true => Err(ReactorError::RunsElsewhere(name.to_owned())),
            false => Ok(()),
        }
    }

    fn known(&self, name: &str) -> Result<(), ReactorError> {
        match self.inner.registry.reactor(name) {
            Some(_) => Ok(()),
            None => Err(ReactorError::UnknownReactor(name.to_owned())),
        }
    }

    async fn ask(&self, name: &str, request: Request) -> Result<(), ReactorError> {
        self.here(name)?;
        let sender = {
            let running = self.inner.running.lock().await;
            running
                .get(name)
                .filter(|run| !run.task.is_finished())
                .map(|run| run.requests.clone())
        };
        let sender = sender.ok_or_else(|| ReactorError::NotRunning(name.to_owned()))?;
        sender
            .send(request)
            .await
            .map_err(|_| ReactorError::NotRunning(name.to_owned()))
    }
}

impl Inner {
    /// [`Reactors::reset`]: the task stopped, the model made again at `from` with the ledger
    /// rows a replay must keep, and a task started on it. The reactor is looked up under the
    /// lock, so a removal or a new version that came first is what the reset sees. If making
    /// the model fails, the task starts again on what is there.
    async fn reset(&self, name: &str, from: u64) -> Result<(), ReactorError> {
        let mut running = self.running.lock().await;
        self.refuse_if_stopped(name)?;
        self.remake(&mut running, name, from).await
    }

    /// Refuses work that would start a task once [`Reactors::stop`] began (the node is letting
    /// the runner lease go). Call under the lock of the running tasks, which `stop` takes
    /// after setting the flag, so no task starts after the tasks were stopped.
    fn refuse_if_stopped(&self, name: &str) -> Result<(), ReactorError> {
        match *self.stop.borrow() {
            true => Err(ReactorError::RunsElsewhere(name.to_owned())),
            false => Ok(()),
        }
    }

    /// The steps of [`Inner::reset`], under the lock of the running tasks.
    async fn remake(
        &self,
        running: &mut BTreeMap<String, Running>,
        name: &str,
        from: u64,
    ) -> Result<(), ReactorError> {
        let reactor = self
            .registry
            .reactor(name)
            .ok_or_else(|| ReactorError::UnknownReactor(name.to_owned()))?;
        if let Some(run) = running.remove(name) {
            run.stop.send_replace(true);
            let _ = run.task.await;
        }
        let model = model_of(name)?;
        let remade = async {
            let kept = self.kept_ledger(&model).await?;
            // One write: a crash leaves the model as it was or made again, never without the
            // intents carried over.
            self.store
                .replace_model(ModelCommit {
                    model: model.clone(),
                    writes: kept.into(),
                    checkpoint: Position::new(from),
                })
                .await
                .map_err(TaskError::from)
        }
        .await;
        let mut unbuilt = self.unbuilt.lock().unwrap_or_else(PoisonError::into_inner);
        match remade {
            Ok(()) => {
                unbuilt.remove(name);
            }
            // A version installed to be built from a position does not run from anywhere
            // else: it waits, not running, for a reset (or the next sync) to build it.
            Err(error) if unbuilt.contains_key(name) => return Err(error.into()),
            Err(_) => {}
        }
        drop(unbuilt);
        running.insert(name.to_owned(), self.spawn(&reactor, model));
        Ok(remade?)
    }

    /// Starts a task for each reactor that has none or runs an older version, and stops the
    /// tasks of reactors no longer loaded.
    async fn sync(self: &Arc<Self>) {
        let mut running = self.running.lock().await;
        let loaded = self.registry.reactors();
        let names: Vec<String> = loaded.iter().map(|r| r.name().to_string()).collect();
        for gone in running
            .keys()
            .filter(|n| !names.contains(n))
            .cloned()
            .collect::<Vec<_>>()
        {
            if let Some(run) = running.remove(&gone) {
                run.stop.send_replace(true);
                let _ = run.task.await;
            }
        }
        for reactor in loaded {
            let name = reactor.name().to_string();
            if running
                .get(&name)
                .is_some_and(|run| run.version == reactor.version())
            {
                continue;
            }
            if let Some(run) = running.remove(&name) {
                run.stop.send_replace(true);
                let _ = run.task.await;
            }
            let model = match model_of(&name) {
                Ok(model) => model,
                Err(error) => {
                    tracing::error!(reactor = %name, %error, "the reactor cannot run");
                    continue;
                }
            };
            let unbuilt = self
                .unbuilt
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&name)
                .copied();
            if let Some(from) = unbuilt {
                if let Err(error) = self.remake(&mut running, &name, from).await {
                    tracing::error!(reactor = %name, from, %error, "the reactor could not be built from its position; it does not run until a reset");
                }
                continue;
            }
            if let Err(error) = self.start_if_new(&model, reactor.installed_at()).await {
                tracing::error!(reactor = %name, %error, "the reactor's model could not be started");
                continue;
            }
            running.insert(name, self.spawn(&reactor, model));
        }
    }

    /// A reactor never run starts at `at`, the head of the log when it was installed: it reacts
    /// to what happens from its upload on (a reset replays from a position).
    async fn start_if_new(&self, model: &ReadModelName, at: Position) -> Result<(), TaskError> {
        let store = Arc::clone(&self.store);
        let name = model.clone();
        let view = tokio::task::spawn_blocking(move || store.read_model(&name))
            .await
            .map_err(|e| TaskError::Host(e.to_string()))??;
        if view.checkpoint().is_some() {
            return Ok(());
        }
        drop(view);
        start_model(&*self.store, model, at, Vec::new()).await
    }

    /// The ledger rows of `model` a reset carries over: intents issued and not yet executed
    /// (those parked after the host failed them among them, issued again), outcomes not yet in
    /// the reactor's stream (invariant 2 of `ledger.rs`), and the outcomes of intents that
    /// appended nothing (invariant 4), so a replay executes each intent once.
    async fn kept_ledger(&self, model: &ReadModelName) -> Result<Vec<ModelWrite>, TaskError> {
        let store = Arc::clone(&self.store);
        let name = model.clone();
        let (rows, held) = tokio::task::spawn_blocking(move || {
            let view = store.read_model(&name)?;
            let mut held: Vec<IssuedIntent> = Vec::new();
            let mut after = 0;
            loop {
                let page = parked::page::<HeldIntents>(&*view, after, 1_000)?;
                let Some(last) = page.last().map(|entry| entry.position) else {
                    break;
                };
                held.extend(page.into_iter().flat_map(|entry| entry.held.intents));
                after = last;
            }
            let mut rows = Vec::new();
            for table in [ledger::ISSUED, ledger::OUTCOME, ledger::RECORDED] {
                rows.extend(ledger::entries(&*view, table)?);
            }
            Ok::<_, StorageError>((rows, held))
        })
        .await
        .map_err(|e| TaskError::Host(e.to_string()))??;
        let issued_again = held.iter().map(ledger::issue);
        Ok(rows
            .into_iter()
            .map(|(key, value)| ModelWrite::Put { key, value })
            .chain(issued_again)
            .collect())
    }

    /// The board of `reactor`, made if it has none yet.
    fn board_of(&self, reactor: &LoadedReactor) -> status::Board {
        let name = reactor.name().as_str();
        let mut boards = self.boards.lock().unwrap_or_else(PoisonError::into_inner);
        boards
            .entry(name.to_owned())
            .or_insert_with(|| {
                status::Board::new(
                    name,
                    reactor.version(),
                    Duration::from_millis(self.config.stall_after_ms),
                )
            })
            .clone()
    }

    fn spawn(&self, reactor: &Arc<LoadedReactor>, model: ReadModelName) -> Running {
        let name = reactor.name().to_string();
        let board = self.board_of(reactor);
        board.set_version(reactor.version());
        let (requests, receiver) = mpsc::channel(16);
        let (stop, stopped) = watch::channel(false);
        let task = Task {
            reactor: Arc::clone(reactor),
            store: Arc::clone(&self.store),
            registry: Arc::clone(&self.registry),
            commands: Arc::clone(&self.commands),
            model,
            policy: self.config.policy_of(&name),
            batch: self.config.batch,
            board,
            requests: receiver,
            stop: stopped,
            passed_over: None,
        };
        Running {
            version: reactor.version(),
            requests,
            stop,
            task: self.threads.spawn(task.run()),
        }
    }
}

/// The read model reactor `name` keeps everything in.
fn model_of(name: &str) -> Result<ReadModelName, TaskError> {
    ReadModelName::new(&format!("{name}#reactor")).map_err(|e| TaskError::Host(e.to_string()))
}

/// Creates reactor model `model` at checkpoint `at`, holding `writes` only.
async fn start_model(
    store: &dyn EventStore,
    model: &ReadModelName,
    at: Position,
    writes: Vec<ModelWrite>,
) -> Result<(), TaskError> {
    store
        .commit_model(ModelCommit {
            model: model.clone(),
            writes: writes.into(),
            checkpoint: at,
        })
        .await?;
    Ok(())
}
