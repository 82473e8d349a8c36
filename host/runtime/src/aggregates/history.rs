//! Time travel: an aggregate's state after each event of a range of its stream, and which
//! event moved it there ([`History`]).
//!
//! Each state is computed by a module version of [`ModuleChoice`]: the one that wrote the event
//! (`module_hash` in its provenance), or the one installed now. A state is the fold, from the
//! stream's first event, of everything up to that event by that one version, since that is
//! the state the version would have decided the next command on: the host never passes one
//! version's state bytes to another.
//!
//! How: the range is read once. For each version it needs, a fold starts from that version's
//! snapshot (if it lies before the range) or from `init`, and folds what comes before the range
//! in batches; then, event by event, the fold of the event's version catches up to the event
//! (one batched call for whatever it skipped) and renders the state. A version that cannot
//! fold an event, or render the state, ends the history there with a [`StepFailure`].

use std::collections::HashMap;
use std::sync::Arc;

use cairn_store::{EventStore, EventType, Json, ModuleHash, RecordedEvent, StreamId, Version};

use crate::aggregates::aggregate::LoadedAggregate;
use crate::aggregates::command_path::{fold_forward, snapshot_or_initial};
use crate::aggregates::reader::AggregateReader;
use crate::call::sandbox::CallInput;
use crate::error::{CallError, CommandError, LoadError};
use crate::registry::Registry;

/// The most steps one history holds; a longer range is read in pages.
pub const MAX_HISTORY_STEPS: usize = 10_000;

/// Which module version computes each state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ModuleChoice {
    /// The version that wrote each event, from its provenance. An event without provenance
    /// (appended directly, not by a command) is folded by the version of the event before it,
    /// or by the installed version when none before it in the range names one.
    #[default]
    AsRecorded,
    /// The version installed now, for every event.
    Current,
}

/// What to read: versions `from..=to` of aggregate `id` of `module`, at most `limit` steps.
#[derive(Clone, Debug)]
pub struct HistoryRead {
    pub from: Version,
    /// The last version; the stream's version when `None`.
    pub to: Option<Version>,
    pub limit: usize,
    pub module: ModuleChoice,
}

/// The state after one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryStep {
    /// The event that moved the aggregate here.
    pub event: RecordedEvent,
    /// The module version whose fold this is.
    pub module_hash: ModuleHash,
    /// The state after the event, as the module shows it.
    pub state: Json,
}

/// Where a module version could not go on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepFailure {
    pub version: Version,
    pub event_type: EventType,
    pub module_hash: ModuleHash,
    /// What the module said.
    pub error: String,
}

/// An aggregate's states over a range of its stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct History {
    pub stream: StreamId,
    /// The stream's version now.
    pub version: Version,
    /// One step per event from the range's first version, in order, up to the first failure.
    pub steps: Vec<HistoryStep>,
    /// Where computing the states stopped, if a module version failed.
    pub failure: Option<StepFailure>,
    /// The first version after the range, if the stream goes on past it.
    pub next: Option<Version>,
}

/// One module version's fold, and how far it has got.
struct Fold {
    aggregate: AggregateReader,
    state: Vec<u8>,
    at: Version,
}

/// Reads the history `read` of aggregate `id` of `module`, whose installed version is
/// `installed`, from `store`, folding `fold_batch` events a call before the range. Every
/// version reads the events through the upcasters `installed` reads through: the states are
/// those each version computes from the events as readers see them now.
pub(crate) async fn read_history(
    registry: &Registry,
    store: &dyn EventStore,
    installed: &AggregateReader,
    stream: StreamId,
    read: &HistoryRead,
    fold_batch: usize,
) -> Result<History, CommandError> {
    let version = store.stream_info(stream.clone()).await?.version;
    let from = Version::new(read.from.get().max(1));
    let limit = read.limit.clamp(1, MAX_HISTORY_STEPS) as u64;
    let to = read
        .to
        .unwrap_or(version)
        .get()
        .min(version.get())
        .min(from.get().saturating_add(limit - 1));
    let mut history = History {
        stream: stream.clone(),
        version,
        steps: Vec::new(),
        failure: None,
        next: (to < version.get()).then(|| Version::new(to + 1)),
    };
    if from.get() > to {
        return Ok(history);
    }
    let events = store
        .read_versions(stream.clone(), from, Version::new(to))
        .await?;
    let hashes = folding_hashes(installed, &events, read.module);
    let mut folds: HashMap<ModuleHash, Fold> = HashMap::new();
    for (index, event) in events.iter().enumerate() {
        let hash = &hashes[index];
        if !folds.contains_key(hash) {
            let aggregate = match registry
                .aggregate_by_hash(installed.name().as_str(), hash)
                .await
            {
                Ok(aggregate) => aggregate,
                // The store failed reading the version's bytes: no finding about it.
                Err(LoadError::Read(error)) => return Err(error.into()),
                Err(LoadError::Storage(error)) => return Err(CommandError::Storage(error)),
                Err(error) => {
                    history.failure = Some(failure(event, hash, error.to_string()));
                    break;
                }
            };
            let aggregate = AggregateReader::new(aggregate, installed.upcasters());
            let start = start_fold(store, &stream, aggregate, from, fold_batch).await;
            match start {
                Ok(fold) => folds.insert(hash.clone(), fold),
                Err(CommandError::Module(error)) if !error.is_host_fault() => {
                    history.failure = Some(failure(event, hash, error.to_string()));
                    break;
                }
                Err(error) => return Err(error),
            };
        }
        let Some(fold) = folds.get_mut(hash) else {
            break;
        };
        // The events this version skipped while others folded, and this one.
        let skipped = usize::try_from(event.version.get() - fold.at.get() - 1).unwrap_or(0);
        let batch = &events[index - skipped..=index];
        let state = std::mem::take(&mut fold.state);
        let step = match fold.aggregate_step(state, batch, event).await {
            Ok(step) => step,
            // The host failed around the call: no finding about the version.
            Err(error) if error.is_host_fault() => return Err(CommandError::Module(error)),
            Err(error) => {
                history.failure = Some(failure(event, hash, error.to_string()));
                break;
            }
        };
        history.steps.push(step);
    }
    Ok(history)
}

impl Fold {
    /// Folds `batch`, which ends with `event`, and renders the state after it.
    async fn aggregate_step(
        &mut self,
        state: Vec<u8>,
        batch: &[RecordedEvent],
        event: &RecordedEvent,
    ) -> Result<HistoryStep, CallError> {
        let state = self.aggregate.fold(state, batch).await?;
        let input = CallInput {
            time_ms: event.recorded_at.as_millis(),
            seed: [0; 32],
        };
        let shown = self.aggregate.state_json(state.clone(), input).await?;
        self.state = state;
        self.at = event.version;
        Ok(HistoryStep {
            event: event.clone(),
            module_hash: self.aggregate.hash().clone(),
            state: shown,
        })
    }
}

/// The hash of the version that folds each of `events`.
fn folding_hashes(
    installed: &Arc<LoadedAggregate>,
    events: &[RecordedEvent],
    choice: ModuleChoice,
) -> Vec<ModuleHash> {
    let mut last = installed.hash().clone();
    events
        .iter()
        .map(|event| {
            if choice == ModuleChoice::AsRecorded
                && let Some(hash) = written_by(event, installed.name().as_str())
            {
                last = hash;
            }
            last.clone()
        })
        .collect()
}

/// The hash of the module that wrote `event`, from its provenance, if module `name` wrote it.
pub(crate) fn written_by(event: &RecordedEvent, name: &str) -> Option<ModuleHash> {
    #[derive(serde::Deserialize)]
    struct Provenance {
        module: Option<String>,
        module_hash: Option<String>,
    }
    let provenance: Provenance = serde_json::from_str(event.metadata.as_str()).ok()?;
    if provenance.module.as_deref() != Some(name) {
        return None;
    }
    ModuleHash::parse(provenance.module_hash.as_deref()?).ok()
}

/// A fold by `aggregate` of everything before version `from`: from its snapshot if that lies
/// before `from`, else from `init`.
async fn start_fold(
    store: &dyn EventStore,
    stream: &StreamId,
    aggregate: AggregateReader,
    from: Version,
    fold_batch: usize,
) -> Result<Fold, CommandError> {
    let mut loaded = snapshot_or_initial(store, &aggregate, stream, Some(from)).await?;
    let until = Version::new(from.get().saturating_sub(1));
    fold_forward(
        store,
        &aggregate,
        stream,
        &mut loaded,
        Some(until),
        fold_batch,
    )
    .await?;
    Ok(Fold {
        aggregate,
        state: loaded.state,
        at: loaded.version,
    })
}

fn failure(event: &RecordedEvent, hash: &ModuleHash, error: String) -> StepFailure {
    StepFailure {
        version: event.version,
        event_type: event.event_type.clone(),
        module_hash: hash.clone(),
        error,
    }
}
