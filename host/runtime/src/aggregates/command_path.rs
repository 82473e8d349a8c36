//! [`CommandPath`]: the command path.
//!
//! 1. Load the state: a cached state if this module version has one, else the latest snapshot
//!    for the module's hash, then the events after it, folded in batches.
//! 2. Call `decide`. A rejection, or a decision with no events, made on a cached state is
//!    made again on the stored state before it is answered: no append would catch it stale.
//! 3. Append the new events at the loaded version, with provenance in their metadata, and the
//!    command's entry in the command log in the same transaction (`[commands] log`; with
//!    `log = "all"` a command that appended nothing is kept too, before it is answered).
//! 4. On a conflict, load again and retry, a bounded number of times.
//!
//! Commands on one stream take turns within this host ([`StreamTurns`]), so they never race
//! each other; a conflict comes only from a writer this host does not order (a direct append,
//! another host), and the retries are for those.
//!
//! Alongside: a snapshot every `snapshot_every` events (when a command crosses a multiple of
//! it, or a load folds at least that many events), an LRU cache of hot states
//! (`state_cache.rs`), and commands idempotent by key (the key is recorded atomically with the
//! events). A command answers once its events are durable; folding them into the cached state
//! and the snapshot come after, on a task that holds the stream's turn until the state is cached.
//!
//! Event ids are derived from the command id and its time, so the attempts of one command
//! (retries after a conflict) carry the same ids: one that decides the same events is
//! recognised by the store, and one that decides different events collides with the stored
//! ids and is refused. A keyed command is recognised by its key, recorded with its events.

use std::num::NonZeroUsize;
use std::sync::Arc;

use cairn_store::{
    AppendError, AppendKind, AppendOutcome, CommandId, CommandType, EventId, EventStore,
    ExpectedVersion, IdempotencyKey, Json, LoggedCommand, ModuleName, NameError, NewEvent,
    NothingAppended, Position, RecordedEvent, Snapshot, StreamId, StreamRead, Timestamp, Version,
};
use futures_util::TryFutureExt;
use sha2::{Digest, Sha256};

use crate::aggregates::aggregate::{DecidedEvent, Decision, LoadedAggregate};
use crate::aggregates::history::{History, HistoryRead, ModuleChoice, read_history};
use crate::aggregates::reader::AggregateReader;
use crate::aggregates::state_cache::{Loaded, StateCache};
use crate::aggregates::stream_turns::{StreamTurns, Turn};
use crate::call::sandbox::CallInput;
use crate::error::{CallError, CommandError, PlanError};
use crate::plan::report::{AggregatePlan, PlanModule, PlanProgress, RedecideReport};
use crate::plan::upcasts::{UpcastPassError, upcast_category};
use crate::plan::{self, PlanOptions, plan_aggregate};
use crate::registry::{Registry, not_an_aggregate};
use crate::setting::{InvalidSetting, MAX_EVENTS_PER_CALL, at_least, number, within};

/// How the command path behaves (the `[commands]` section of cairn.toml, keys as the fields).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CommandConfig {
    /// Take a snapshot when a command moves a stream past a multiple of this many events.
    pub snapshot_every: u64,
    /// How many times a command is tried again after losing a race.
    pub max_retries: u32,
    /// How many events one `evolve` call folds.
    pub fold_batch: usize,
    /// How many aggregate states the cache keeps.
    pub cache_entries: NonZeroUsize,
    /// Which commands the command log keeps (`log = "accepted"`, `"all"` or `"off"`).
    pub log: CommandLogging,
}

/// Which commands the command log keeps ([`cairn_store::CommandLog`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandLogging {
    /// Every command that appended events, in the transaction of its events (the default).
    #[default]
    Accepted,
    /// Those, and every command that appended nothing: rejected, invalid, or accepted with no
    /// events. A new module version may decide them otherwise, so a plan can try them again.
    All,
    /// None: events still name their command in their provenance, but the command is not kept.
    Off,
}

impl CommandConfig {
    /// Refuses a value the command path cannot run with, naming its key.
    pub fn check(&self) -> Result<(), InvalidSetting> {
        at_least("snapshot_every", self.snapshot_every, 1)?;
        within(
            "fold_batch",
            number(self.fold_batch),
            1..=MAX_EVENTS_PER_CALL,
        )
    }
}

impl Default for CommandConfig {
    fn default() -> Self {
        Self {
            snapshot_every: 100,
            max_retries: 16,
            fold_batch: 1_000,
            cache_entries: NonZeroUsize::new(10_000).unwrap_or(NonZeroUsize::MIN),
            log: CommandLogging::Accepted,
        }
    }
}

/// A command for an aggregate.
#[derive(Clone, Debug)]
pub struct Command {
    /// The command's type name, such as `Withdraw`.
    pub command_type: CommandType,
    /// Its payload.
    pub data: Json,
    /// If given, the aggregate must be at exactly this version, or the command is a conflict.
    pub expected_version: Option<Version>,
    /// If given, a retry with the same key gets the original result.
    pub idempotency_key: Option<IdempotencyKey>,
}

/// The event that caused a command, named in the provenance of the events the command appends,
/// so a chain of reactions can be followed back to its first command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    /// The reactor that sent the command.
    pub reactor: String,
    /// The id of the event it reacted to.
    pub causation_id: String,
    /// The chain's correlation id: the first command's id.
    pub correlation_id: String,
}

/// What a command did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandOutcome {
    pub stream: StreamId,
    /// The aggregate's version after the command.
    pub version: Version,
    /// The events the command appended (none if it changed nothing).
    pub events: Vec<RecordedEvent>,
}

/// An aggregate's current state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggregateState {
    pub stream: StreamId,
    pub version: Version,
    pub state: Json,
}

/// Whether a load may use a cached state as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Freshness {
    TrustCache,
    Read,
}

/// Runs commands against aggregate modules.
pub struct CommandPath {
    registry: Arc<Registry>,
    store: Arc<dyn EventStore>,
    config: CommandConfig,
    cache: StateCache,
    /// Commands on one stream run one at a time, in arrival order.
    turns: Arc<StreamTurns>,
}

impl std::fmt::Debug for CommandPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandPath")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl CommandPath {
    pub fn new(registry: Arc<Registry>, store: Arc<dyn EventStore>, config: CommandConfig) -> Self {
        Self {
            registry,
            store,
            cache: StateCache::new(config.cache_entries),
            config,
            turns: Arc::default(),
        }
    }

    /// Waits until the work commands left running after they answered (caching their states,
    /// taking snapshots) has finished. Call it before closing the store.
    pub async fn settle(&self) {
        self.cache.settle().await;
    }

    /// The registry whose modules this runs.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The stream of aggregate `id` of module `module`: `{module}-{id}`, exactly the category
    /// `module` ([`StreamId::of_aggregate`]).
    pub fn stream_of(module: &str, id: &str) -> Result<StreamId, NameError> {
        StreamId::of_aggregate(&ModuleName::new(module)?, id)
    }

    /// Runs `command` against aggregate `id` of module `module`, in the steps the module docs
    /// list: a keyed command answered already is answered again; otherwise the state is
    /// loaded, `decide` called, and the decided events appended at the loaded version, again
    /// after each conflict, up to `max_retries` times.
    pub async fn execute(
        &self,
        module: &str,
        id: &str,
        command: Command,
    ) -> Result<CommandOutcome, CommandError> {
        self.execute_caused(module, id, command, None).await
    }

    /// [`CommandPath::execute`] of a command that an event caused (a reactor's intent): the
    /// events it appends name `cause` in their provenance, beside the command's own.
    pub async fn execute_caused(
        &self,
        module: &str,
        id: &str,
        command: Command,
        cause: Option<Cause>,
    ) -> Result<CommandOutcome, CommandError> {
        let aggregate = self.module(module)?;
        let stream = Self::stream_of(module, id).map_err(CommandError::InvalidId)?;
        let turn = self.turns.take(&stream).await;
        if let Some(answered) = self.answered_by_key(&stream, &command).await? {
            return Ok(answered);
        }
        let run = CommandRun::new(&stream, &command, cause);
        // A caller's expected version is checked against what is stored, not the cache.
        let mut freshness = match command.expected_version {
            None => Freshness::TrustCache,
            Some(_) => Freshness::Read,
        };
        let mut attempt = 0;
        loop {
            let loaded = self.load(&aggregate, &stream, freshness).await?;
            check_expected(&command, &stream, &loaded)?;
            let decided = match decide(&aggregate, &command, &run, &loaded, freshness).await? {
                Decided::Events(events) => events,
                Decided::AgainOnTheStoredState => {
                    freshness = Freshness::Read;
                    continue;
                }
                Decided::Nothing(verdict) => {
                    let logged = run.logged(&aggregate, &stream, &command, loaded.version);
                    self.log_nothing_appended(logged, &verdict).await?;
                    return match verdict {
                        NothingAppended::Unchanged => Ok(CommandOutcome {
                            stream,
                            version: loaded.version,
                            events: Vec::new(),
                        }),
                        NothingAppended::Rejected { message } => {
                            Err(CommandError::Rejected(message))
                        }
                        NothingAppended::Invalid { message } => {
                            Err(CommandError::InvalidCommand(message))
                        }
                    };
                }
            };
            let events = run.new_events(&aggregate, decided)?;
            let logged = run.logged(&aggregate, &stream, &command, loaded.version);
            match self.append(&command, logged, &loaded, events.clone()).await {
                Ok(outcome) => {
                    let recorded = match outcome.kind {
                        AppendKind::Written => recorded_from(&stream, events, &outcome),
                        // An earlier append with these ids or this key: its events as stored.
                        AppendKind::Recognised => {
                            self.store
                                .read_versions(
                                    stream.clone(),
                                    outcome.first_version,
                                    outcome.last_version,
                                )
                                .await?
                        }
                    };
                    self.remember(turn, &aggregate, &stream, loaded, &recorded);
                    return Ok(CommandOutcome {
                        stream,
                        version: outcome.last_version,
                        events: recorded,
                    });
                }
                Err(AppendError::WrongExpectedVersion { .. })
                    if attempt < self.config.max_retries =>
                {
                    // Another writer came first: load what it wrote and decide again.
                    attempt += 1;
                    freshness = Freshness::Read;
                    self.cache.forget(aggregate.fold_key(), &stream);
                }
                Err(error) => return Err(self.append_failed(&aggregate, &stream, error)),
            }
        }
    }

    /// The answer to a keyed `command` whose key this stream has recorded: the events that
    /// append wrote, read back. `None` for a command without a key, or with a new one.
    async fn answered_by_key(
        &self,
        stream: &StreamId,
        command: &Command,
    ) -> Result<Option<CommandOutcome>, CommandError> {
        let Some(key) = &command.idempotency_key else {
            return Ok(None);
        };
        let Some(outcome) = self
            .store
            .keyed_outcome(stream.clone(), key.clone())
            .await?
        else {
            return Ok(None);
        };
        let events = self
            .store
            .read_versions(stream.clone(), outcome.first_version, outcome.last_version)
            .await?;
        Ok(Some(CommandOutcome {
            stream: stream.clone(),
            version: outcome.last_version,
            events,
        }))
    }

    /// Appends `events` at the version `loaded` is at, under the command's key if it has one,
    /// with the command's entry in the command log unless the log is off.
    async fn append(
        &self,
        command: &Command,
        logged: LoggedCommand,
        loaded: &Loaded,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, AppendError> {
        let expected = ExpectedVersion::Exact(loaded.version);
        let stream = logged.stream.clone();
        match (self.config.log, &command.idempotency_key) {
            (CommandLogging::Accepted | CommandLogging::All, _) => {
                self.store.append_command(expected, events, logged).await
            }
            (CommandLogging::Off, Some(key)) => {
                self.store
                    .append_keyed(stream, expected, events, key.clone())
                    .await
            }
            (CommandLogging::Off, None) => self.store.append(stream, expected, events).await,
        }
    }

    /// Keeps a command that appended nothing in the command log, if it keeps all commands.
    /// Its answer waits for the entry: a command whose entry the log was asked to keep, and
    /// could not, answers the storage's failure, as an append would.
    async fn log_nothing_appended(
        &self,
        logged: LoggedCommand,
        verdict: &NothingAppended,
    ) -> Result<(), CommandError> {
        if self.config.log != CommandLogging::All {
            return Ok(());
        }
        self.store
            .record_command(logged, verdict.clone())
            .await
            .map_err(CommandError::Storage)
    }

    /// What a refused append answers, once retrying is over: a conflict (the cached state is
    /// let go), the store's failure, or whose output the store could not hold.
    fn append_failed(
        &self,
        aggregate: &AggregateReader,
        stream: &StreamId,
        error: AppendError,
    ) -> CommandError {
        match error {
            AppendError::WrongExpectedVersion { .. }
            | AppendError::IdempotencyConflict { .. }
            | AppendError::EventIdReused { .. }
            | AppendError::CommandIdReused { .. } => {
                self.cache.forget(aggregate.fold_key(), stream);
                CommandError::Conflict(error)
            }
            AppendError::Storage(error) => CommandError::Storage(error),
            // Events the module decided that the store cannot hold: the module's output.
            AppendError::TooManyEvents { .. } | AppendError::EventTooLarge { .. } => {
                CommandError::Module(CallError::BadOutput {
                    message: error.to_string(),
                })
            }
            // The stream name, the ids and the metadata are the host's: a refusal of them is
            // the host's fault.
            AppendError::ReservedStream(_)
            | AppendError::NoEvents
            | AppendError::DuplicateEventId { .. }
            | AppendError::MetadataNotObject { .. } => CommandError::Module(CallError::host(
                format!("the store refused the append the host built: {error}"),
            )),
        }
    }

    /// The current state of aggregate `id` of module `module`, as JSON.
    pub async fn state(&self, module: &str, id: &str) -> Result<AggregateState, CommandError> {
        let aggregate = self.module(module)?;
        let stream = Self::stream_of(module, id).map_err(CommandError::InvalidId)?;
        let loaded = self.load(&aggregate, &stream, Freshness::Read).await?;
        let input = CallInput {
            time_ms: loaded.last_time.as_millis(),
            seed: [0; 32],
        };
        let state = aggregate.state_json(loaded.state, input).await?;
        Ok(AggregateState {
            stream,
            version: loaded.version,
            state,
        })
    }

    /// The states of aggregate `id` of module `module` over a range of its stream
    /// (`history.rs`).
    pub async fn history(
        &self,
        module: &str,
        id: &str,
        read: &HistoryRead,
    ) -> Result<History, CommandError> {
        let aggregate = self.module(module)?;
        let stream = Self::stream_of(module, id).map_err(CommandError::InvalidId)?;
        read_history(
            &self.registry,
            &*self.store,
            &aggregate,
            stream,
            read,
            self.config.fold_batch,
        )
        .await
    }

    /// What `candidate` (a component's bytes) would do to the history of aggregate `module`:
    /// its streams folded by it and by the serving version, and its recorded commands decided
    /// again by it (`plan/`). Installs and writes nothing.
    pub async fn plan(
        &self,
        module: &str,
        candidate: Vec<u8>,
        options: PlanOptions,
        progress: &PlanProgress,
    ) -> Result<AggregatePlan, PlanError> {
        if self.registry.kind_of(module) == Some(cairn_store::ModuleKind::Projection) {
            return Err(PlanError::NotAnAggregate(module.to_owned()));
        }
        // Only the world's exports are read here: a candidate of another kind is not compiled.
        match self.registry.kind_of_bytes(candidate.clone()).await? {
            cairn_store::ModuleKind::Aggregate => {}
            cairn_store::ModuleKind::Upcaster => {
                return self
                    .plan_upcaster(module, candidate, options, progress)
                    .await;
            }
            cairn_store::ModuleKind::Reactor => return Err(PlanError::Reactor(module.to_owned())),
            kind @ cairn_store::ModuleKind::Projection => {
                return Err(PlanError::Candidate(not_an_aggregate(kind)));
            }
        }
        let started = std::time::Instant::now();
        let (candidate, scope) = tokio::try_join!(
            self.registry
                .compile_aggregate(module, candidate)
                .map_err(PlanError::from),
            plan::scope(&*self.store, module, options),
        )?;
        let candidate = AggregateReader::new(candidate, &self.registry.upcasters());
        let live = self.registry.aggregate_reader(module);
        let mut report = plan_aggregate(
            &self.store,
            module,
            (live.as_ref(), &candidate),
            scope,
            self.config.fold_batch,
            &self.cache,
            progress,
        )
        .await?;
        report.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Ok(report)
    }

    /// The plan of upcaster `name` (a candidate's bytes): the aggregate of its category, read
    /// through the serving upcasters and through the candidate in place of its category's,
    /// replayed and deciding the recorded commands again. When no aggregate reads the
    /// category, every stored event the candidate upgrades is upcast, and the events it fails
    /// on are named.
    async fn plan_upcaster(
        &self,
        name: &str,
        candidate: Vec<u8>,
        options: PlanOptions,
        progress: &PlanProgress,
    ) -> Result<AggregatePlan, PlanError> {
        let started = std::time::Instant::now();
        let upcaster = self.registry.compile_upcaster(name, candidate).await?;
        let category = upcaster.upgrades().category.clone();
        let serving = self.registry.upcasters();
        let with_candidate = serving.with(Arc::clone(&upcaster));
        let mut report = match self.registry.aggregate(&category) {
            Some(aggregate) => {
                let live = AggregateReader::new(Arc::clone(&aggregate), &serving);
                let candidate = AggregateReader::new(aggregate, &with_candidate);
                let scope = plan::scope(&*self.store, &category, options).await?;
                plan_aggregate(
                    &self.store,
                    &category,
                    (Some(&live), &candidate),
                    scope,
                    self.config.fold_batch,
                    &self.cache,
                    progress,
                )
                .await?
            }
            None => {
                let replay = upcast_category(
                    &*self.store,
                    &category,
                    &with_candidate.only(|c| c == category),
                    options.sample,
                    progress,
                )
                .await
                .map_err(|e| match e {
                    UpcastPassError::Read(e) => PlanError::from(e),
                    UpcastPassError::Host(e) => PlanError::Host(e),
                })?;
                AggregatePlan {
                    module: String::new(),
                    kind: "upcaster",
                    category: String::new(),
                    live: None,
                    candidate: PlanModule {
                        hash: String::new(),
                        version: None,
                    },
                    changes: replay.failed > 0,
                    replay,
                    redecide: RedecideReport::default(),
                    elapsed_ms: 0,
                }
            }
        };
        report.module = name.to_owned();
        report.kind = "upcaster";
        report.category = category;
        report.live = serving
            .upcasters()
            .find(|u| u.name().as_str() == name)
            .map(|u| PlanModule {
                hash: u.hash().to_string(),
                version: Some(u.version()),
            });
        report.candidate = PlanModule {
            hash: upcaster.hash().to_string(),
            version: None,
        };
        report.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Ok(report)
    }

    /// Whether aggregate `module` serves `bytes` already: a plan of them would find nothing.
    pub fn serves(&self, module: &str, bytes: &[u8]) -> bool {
        let hash = cairn_store::ModuleHash::of(bytes);
        self.registry
            .aggregate(module)
            .map(|serving| serving.hash().clone())
            .or_else(|| self.registry.upcaster(module).map(|u| u.hash().clone()))
            .is_some_and(|serving| serving == hash)
    }

    /// Whether `candidate` can read the history it would serve: the replay half of a plan over
    /// every stream of the module's category. `Some` with the report when it fails on a stored
    /// event (an upload should be refused), `None` when it reads them all, or when the
    /// candidate is not an aggregate this host can run (the upload says why itself).
    pub async fn check_history(
        &self,
        module: &str,
        candidate: Vec<u8>,
    ) -> Result<Option<AggregatePlan>, PlanError> {
        if self.serves(module, &candidate) {
            return Ok(None);
        }
        let options = PlanOptions {
            sample: None,
            replay_only: true,
        };
        match self
            .plan(module, candidate, options, &PlanProgress::default())
            .await
        {
            Ok(report) if report.replay.failed > 0 => Ok(Some(report)),
            Ok(_)
            | Err(PlanError::Candidate(_) | PlanError::NotAnAggregate(_) | PlanError::Reactor(_)) => {
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// The state of aggregate `id` of module `module` at version `at`, computed by the version
    /// `choice` names. `None` if the stream has not reached `at`. A module version that fails
    /// to fold the events up to `at` is that version's fault, with what it said.
    pub async fn state_at(
        &self,
        module: &str,
        id: &str,
        at: Version,
        choice: ModuleChoice,
    ) -> Result<Option<AggregateState>, CommandError> {
        let stream = Self::stream_of(module, id).map_err(CommandError::InvalidId)?;
        if at == Version::NONE {
            let aggregate = self.module(module)?;
            let state = aggregate.initial_state().await?;
            let state = aggregate.state_json(state, CallInput::FIXED).await?;
            return Ok(Some(AggregateState {
                stream,
                version: at,
                state,
            }));
        }
        let read = HistoryRead {
            from: at,
            to: Some(at),
            limit: 1,
            module: choice,
        };
        let mut history = self.history(module, id, &read).await?;
        if let Some(failure) = history.failure {
            return Err(CommandError::Module(CallError::BadOutput {
                message: format!(
                    "module {} could not fold the stream up to version {} ({}): {}",
                    failure.module_hash.short(),
                    failure.version,
                    failure.event_type,
                    failure.error
                ),
            }));
        }
        Ok(history.steps.pop().map(|step| AggregateState {
            stream,
            version: step.event.version,
            state: step.state,
        }))
    }

    /// Loads aggregate `id` of module `module` (from the cache, a snapshot and the events after
    /// it) and returns the version it is at.
    pub async fn version(&self, module: &str, id: &str) -> Result<Version, CommandError> {
        let aggregate = self.module(module)?;
        let stream = Self::stream_of(module, id).map_err(CommandError::InvalidId)?;
        Ok(self
            .load(&aggregate, &stream, Freshness::Read)
            .await?
            .version)
    }

    /// Aggregate `name` as it serves: the installed version, reading through the upcasters
    /// of its category.
    fn module(&self, name: &str) -> Result<AggregateReader, CommandError> {
        self.registry
            .aggregate_reader(name)
            .ok_or_else(|| CommandError::UnknownModule(name.to_owned()))
    }

    /// Loads the state: cached, else from the snapshot for this module version, then folding
    /// whatever came after. A command trusts a cached state without reading the stream (a stale
    /// one makes its append conflict, and the retry loads afresh; a rejection or a decision
    /// with no events, which append nothing, is decided again on a read state before it is
    /// answered); `Freshness::Read` always reads what came after.
    async fn load(
        &self,
        aggregate: &AggregateReader,
        stream: &StreamId,
        freshness: Freshness,
    ) -> Result<Loaded, CommandError> {
        let cached = self.cache.get(aggregate.fold_key(), stream);
        if let (Some(loaded), Freshness::TrustCache) = (&cached, freshness) {
            return Ok(loaded.clone());
        }
        let store = &*self.store;
        let mut loaded = match cached {
            Some(loaded) => loaded,
            None => snapshot_or_initial(store, aggregate, stream, None).await?,
        };
        let start = loaded.version;
        let fold_batch = self.config.fold_batch;
        fold_forward(store, aggregate, stream, &mut loaded, None, fold_batch).await?;
        // A load that folded more than a snapshot's worth leaves a snapshot behind.
        if loaded.version.get() - start.get() >= self.config.snapshot_every.max(1) {
            take_snapshot(&*self.store, aggregate, stream, &loaded).await;
        }
        self.cache.put(aggregate.fold_key(), stream, loaded.clone());
        Ok(loaded)
    }

    /// Folds a command's own events into the state it was decided on, caches the result, and
    /// snapshots it if the stream crossed a multiple of `snapshot_every`: on a task of the
    /// cache's, which holds the command's `turn` until the new state is cached
    /// (`state_cache.rs`).
    fn remember(
        &self,
        turn: Turn,
        aggregate: &AggregateReader,
        stream: &StreamId,
        before: Loaded,
        events: &[RecordedEvent],
    ) {
        let Some(last) = events.last() else { return };
        if events.first().map(|e| e.version.get()) != Some(before.version.get() + 1) {
            // Not contiguous with what was loaded (an idempotent replay): load afresh next time.
            self.cache.forget(aggregate.fold_key(), stream);
            return;
        }
        let every = self.config.snapshot_every.max(1);
        let snapshot_due = before.version.get() / every != last.version.get() / every;
        let (version, last_time) = (last.version, last.recorded_at);
        let (cache, store) = (self.cache.clone(), Arc::clone(&self.store));
        let (aggregate, stream, events) = (aggregate.clone(), stream.clone(), events.to_vec());
        self.cache.in_background(async move {
            // Through the upcasters, as a load from the store would fold them.
            let state = match aggregate.fold(before.state, &events).await {
                Ok(state) => state,
                // The command has its answer either way; the next one loads from the store.
                Err(error) if error.is_host_fault() => {
                    // The host failed or was too busy to fold in time: not a fault of the fold.
                    tracing::debug!(module = %aggregate.name(), %stream, %error, "a command's own events were not folded into the cache");
                    cache.forget(aggregate.fold_key(), &stream);
                    return;
                }
                Err(error) => {
                    tracing::warn!(module = %aggregate.name(), %stream, %error, "folding a command's own events failed");
                    cache.forget(aggregate.fold_key(), &stream);
                    return;
                }
            };
            let after = Loaded {
                version,
                state,
                last_time,
            };
            let snapshot = snapshot_due.then(|| after.clone());
            cache.put(aggregate.fold_key(), &stream, after);
            // The state is cached: the next command on the stream need not wait for the snapshot.
            drop(turn);
            if let Some(snapshot) = snapshot {
                take_snapshot(&*store, &aggregate, &stream, &snapshot).await;
            }
        });
    }
}

/// What every attempt of one command shares: its id, from which its events' ids and its
/// randomness derive, and its time, which its clock reads. So a retry after a conflict that
/// decides the same events appends the same ids, and the store recognises it.
struct CommandRun {
    id: uuid::Uuid,
    time: Timestamp,
    input: CallInput,
    cause: Option<Cause>,
}

impl CommandRun {
    fn new(stream: &StreamId, command: &Command, cause: Option<Cause>) -> Self {
        let id = command_id(stream, &command.idempotency_key);
        let time = Timestamp::now();
        let input = CallInput {
            time_ms: time.as_millis(),
            seed: Sha256::digest(id.as_bytes()).into(),
        };
        Self {
            id,
            time,
            input,
            cause,
        }
    }

    /// The command as the command log keeps it, decided at `decided_at`.
    fn logged(
        &self,
        aggregate: &LoadedAggregate,
        stream: &StreamId,
        command: &Command,
        decided_at: Version,
    ) -> LoggedCommand {
        LoggedCommand {
            id: CommandId::from(self.id),
            command_type: command.command_type.clone(),
            data: command.data.clone(),
            idempotency_key: command.idempotency_key.clone(),
            time: self.time,
            aggregate: aggregate.name().clone(),
            stream: stream.clone(),
            decided_at,
            module_hash: aggregate.hash().clone(),
        }
    }

    /// The events to append for what `aggregate` decided: their ids derived from the
    /// command's, and its provenance in their metadata.
    fn new_events(
        &self,
        aggregate: &LoadedAggregate,
        decided: Vec<DecidedEvent>,
    ) -> Result<Vec<NewEvent>, CommandError> {
        let metadata = provenance(&self.id, aggregate, self.time, self.cause.as_ref())?;
        Ok(decided
            .into_iter()
            .enumerate()
            .map(|(index, e)| {
                NewEvent::new(e.event_type, e.data)
                    .with_id(event_id(&self.id, self.time, index))
                    .with_metadata(metadata.clone())
            })
            .collect())
    }
}

/// A refusal unless the aggregate is at the version the caller expects, if it expects one.
fn check_expected(
    command: &Command,
    stream: &StreamId,
    loaded: &Loaded,
) -> Result<(), CommandError> {
    match command.expected_version {
        Some(expected) if expected != loaded.version => {
            Err(CommandError::Conflict(AppendError::WrongExpectedVersion {
                stream: stream.clone(),
                expected: ExpectedVersion::Exact(expected),
                actual: loaded.version,
            }))
        }
        _ => Ok(()),
    }
}

/// What `decide` gave, as the command path acts on it.
enum Decided {
    /// Events to append.
    Events(Vec<DecidedEvent>),
    /// Nothing to append, decided on the stored state: the answer.
    Nothing(NothingAppended),
    /// A rejection or nothing to append, decided on a cached state. No append would catch that
    /// state stale, so the stream is read and the command decided again first.
    AgainOnTheStoredState,
}

/// Calls `decide` on the `loaded` state.
async fn decide(
    aggregate: &Arc<LoadedAggregate>,
    command: &Command,
    run: &CommandRun,
    loaded: &Loaded,
    freshness: Freshness,
) -> Result<Decided, CommandError> {
    let decision = aggregate
        .decide(
            loaded.state.clone(),
            command.command_type.as_str().to_owned(),
            command.data.as_str().to_owned(),
            run.input,
        )
        .await?;
    let appends_nothing = match &decision {
        Decision::Events(events) => events.is_empty(),
        Decision::Rejected(_) => true,
        Decision::Invalid(_) => false,
    };
    if appends_nothing && freshness == Freshness::TrustCache {
        return Ok(Decided::AgainOnTheStoredState);
    }
    Ok(match decision {
        Decision::Events(events) if events.is_empty() => {
            Decided::Nothing(NothingAppended::Unchanged)
        }
        Decision::Events(events) => Decided::Events(events),
        Decision::Rejected(message) => Decided::Nothing(NothingAppended::Rejected { message }),
        Decision::Invalid(message) => Decided::Nothing(NothingAppended::Invalid { message }),
    })
}

/// The events of `outcome` as stored: each append's events take consecutive versions and
/// positions, recorded at one time.
fn recorded_from(
    stream: &StreamId,
    events: Vec<NewEvent>,
    outcome: &AppendOutcome,
) -> Vec<RecordedEvent> {
    events
        .into_iter()
        .zip(0u64..)
        .map(|(event, offset)| RecordedEvent {
            id: event.id,
            stream: stream.clone(),
            version: Version::new(outcome.first_version.get() + offset),
            position: Position::new(outcome.first_position.get() + offset),
            event_type: event.event_type,
            data: event.data,
            metadata: event.metadata,
            recorded_at: outcome.recorded_at,
        })
        .collect()
}

/// Where a load of `stream` by `aggregate` starts: its snapshot under the reader's fold key (one
/// before version `before`, if given), else the initial state.
pub(crate) async fn snapshot_or_initial(
    store: &dyn EventStore,
    aggregate: &AggregateReader,
    stream: &StreamId,
    before: Option<Version>,
) -> Result<Loaded, CommandError> {
    let snapshot = store
        .get_snapshot(stream.clone(), aggregate.snapshot_key())
        .await?
        .filter(|snapshot| before.is_none_or(|before| snapshot.version < before));
    Ok(match snapshot {
        Some(snapshot) => Loaded {
            version: snapshot.version,
            state: snapshot.state,
            last_time: Timestamp::from_millis(0),
        },
        None => Loaded {
            version: Version::NONE,
            state: aggregate.initial_state().await?,
            last_time: Timestamp::from_millis(0),
        },
    })
}

/// Folds what `stream` holds after `loaded` into it, reading and folding `fold_batch` events at
/// a time, up to version `until` if given, else to the stream's end.
pub(crate) async fn fold_forward(
    store: &dyn EventStore,
    aggregate: &AggregateReader,
    stream: &StreamId,
    loaded: &mut Loaded,
    until: Option<Version>,
    fold_batch: usize,
) -> Result<(), CommandError> {
    loop {
        let mut limit = fold_batch;
        if let Some(until) = until {
            let left = until.get().saturating_sub(loaded.version.get());
            if left == 0 {
                return Ok(());
            }
            limit = limit.min(usize::try_from(left).unwrap_or(usize::MAX));
        }
        let read = StreamRead::forward()
            .from(Version::new(loaded.version.get() + 1))
            .limit(limit);
        let slice = store.read_stream(stream.clone(), read).await?;
        let Some(last) = slice.events.last() else {
            return Ok(());
        };
        let (version, time) = (last.version, last.recorded_at);
        let state = std::mem::take(&mut loaded.state);
        loaded.state = aggregate.fold(state, &slice.events).await?;
        loaded.version = version;
        loaded.last_time = time;
    }
}

async fn take_snapshot(
    store: &dyn EventStore,
    aggregate: &AggregateReader,
    stream: &StreamId,
    loaded: &Loaded,
) {
    let snapshot = Snapshot {
        version: loaded.version,
        state: loaded.state.clone(),
    };
    let key = aggregate.snapshot_key();
    if let Err(error) = store.put_snapshot(stream.clone(), key, snapshot).await {
        tracing::warn!(%stream, %error, "taking a snapshot failed");
    }
}

/// The command's id: derived from its idempotency key and its stream if it has a key, so
/// retries share it. A key is scoped to the aggregate it is sent to: the same key sent to two
/// aggregates names two commands, with two ids and so events with different ids, whenever they
/// are sent.
fn command_id(stream: &StreamId, key: &Option<IdempotencyKey>) -> uuid::Uuid {
    match key {
        Some(key) => {
            let mut hasher = Sha256::new();
            // The stream's length first, so no (stream, key) pair spells another's bytes.
            hasher.update((stream.as_str().len() as u64).to_le_bytes());
            hasher.update(stream.as_str().as_bytes());
            hasher.update(key.as_str().as_bytes());
            uuid_from_digest(hasher.finalize().into())
        }
        None => uuid::Uuid::now_v7(),
    }
}

/// Event `index` of command `command_id`, decided at `time`.
///
/// The first 48 bits are the command's time in milliseconds, as in a UUIDv7, so the ids of new
/// events sort by time: the store's index of event ids then grows at its end instead of
/// dirtying a random page for every event. The other bits come from the command id and the
/// index, so every attempt of one command (its retries after a conflict) has the same ids.
fn event_id(command_id: &uuid::Uuid, time: Timestamp, index: usize) -> EventId {
    let mut hasher = Sha256::new();
    hasher.update(command_id.as_bytes());
    hasher.update((index as u64).to_le_bytes());
    let digest: [u8; 32] = hasher.finalize().into();
    let mut bytes = [0; 16];
    bytes[..6].copy_from_slice(&time.as_millis().to_be_bytes()[2..]);
    bytes[6..].copy_from_slice(&digest[..10]);
    EventId::from(uuid::Uuid::new_v8(bytes))
}

/// A UUIDv8 made of the first half of a sha256 digest.
fn uuid_from_digest(digest: [u8; 32]) -> uuid::Uuid {
    let mut bytes = [0; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Uuid::new_v8(bytes)
}

/// Where an event came from, so it can be re-executed: the command id, the module's name and
/// hash, and the command's time.
fn provenance(
    command_id: &uuid::Uuid,
    aggregate: &LoadedAggregate,
    time: Timestamp,
    cause: Option<&Cause>,
) -> Result<Json, CommandError> {
    let mut value = serde_json::json!({
        "command_id": command_id.to_string(),
        "module": aggregate.name().as_str(),
        "module_hash": aggregate.hash().as_str(),
        "command_time": time.as_millis(),
    });
    if let (Some(cause), Some(fields)) = (cause, value.as_object_mut()) {
        fields.insert("reactor".into(), cause.reactor.clone().into());
        fields.insert("causation_id".into(), cause.causation_id.clone().into());
        fields.insert("correlation_id".into(), cause.correlation_id.clone().into());
    }
    Json::from_value(&value).map_err(|e| {
        CommandError::Module(CallError::host(format!(
            "the command's provenance could not be encoded: {e}"
        )))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_names_one_command_per_stream() {
        let key = Some(IdempotencyKey::new("order-7").expect("a key"));
        let (a, b) = (
            StreamId::new("bank-a").expect("a stream"),
            StreamId::new("bank-b").expect("a stream"),
        );
        assert_eq!(command_id(&a, &key), command_id(&a, &key));
        assert_ne!(command_id(&a, &key), command_id(&b, &key));
        let at = Timestamp::from_millis(1_795_000_000_000);
        assert_ne!(
            event_id(&command_id(&a, &key), at, 0),
            event_id(&command_id(&b, &key), at, 0),
            "the same key on two aggregates in the same millisecond gave one event id"
        );
        // No pair of stream and key spells another pair's bytes.
        let split = |stream: &str, key: &str| {
            command_id(
                &StreamId::new(stream).expect("a stream"),
                &Some(IdempotencyKey::new(key).expect("a key")),
            )
        };
        assert_ne!(split("ab", "c"), split("a", "bc"));
    }

    #[test]
    fn event_ids_repeat_per_attempt_and_sort_by_time() {
        let command = uuid::Uuid::now_v7();
        let at = Timestamp::from_millis(1_795_000_000_000);
        assert_eq!(event_id(&command, at, 0), event_id(&command, at, 0));
        assert_ne!(event_id(&command, at, 0), event_id(&command, at, 1));
        assert_ne!(
            event_id(&command, at, 0),
            event_id(&uuid::Uuid::now_v7(), at, 0)
        );
        let later = Timestamp::from_millis(at.as_millis() + 1);
        for _ in 0..100 {
            let (a, b) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
            assert!(event_id(&a, at, 7) < event_id(&b, later, 0));
        }
    }
}
