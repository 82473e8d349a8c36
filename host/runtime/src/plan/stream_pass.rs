//! One pass over one stream, doing both halves of a plan for it: the stream is read once; the
//! candidate folds it from `init`, stopping at each recorded command's version to decide it
//! again, then on to the end; the live version folds it whole; and the two end states are
//! compared (as bytes first: equal bytes need no `state-json`).

use std::sync::Arc;

use cairn_store::{CommandEntry, EventStore, RecordedEvent, StreamId, Verdict, Version};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::aggregates::aggregate::{Decision, LoadedAggregate};
use crate::call::sandbox::CallInput;
use crate::error::CallError;
use crate::plan::replay::{FoldFailure, fold_events, fold_from_init};

/// What to do with one stream.
pub(crate) struct StreamWork {
    pub(crate) stream: StreamId,
    /// Whether its states are compared (it is among the streams the replay looks at).
    pub(crate) replay: bool,
    /// Its version when the replay listed it (what the replay folds up to).
    pub(crate) version: Version,
    /// The recorded commands to decide again, in order of the version they were decided at.
    pub(crate) commands: Vec<CommandEntry>,
    /// The live version's state at `version`, when the command path holds it already: the
    /// replay need not fold the stream with the live version again.
    pub(crate) live_state: Option<Vec<u8>>,
}

/// What one pass found.
pub(crate) struct StreamOutcome {
    pub(crate) work: StreamWork,
    /// Events read and folded by the candidate.
    pub(crate) events: u64,
    /// The replay's finding, if the stream was replayed.
    pub(crate) replay: Option<ReplayOutcome>,
    /// For each command of the work, in order: the candidate's decision, or why it has none.
    pub(crate) decisions: Vec<Result<Decision, String>>,
    /// The events the commands were decided over, to compare their recorded decisions with.
    pub(crate) recorded: Vec<RecordedEvent>,
}

/// How the two versions' states of a replayed stream compare.
pub(crate) enum ReplayOutcome {
    Equal,
    Differ {
        live: Value,
        candidate: Value,
    },
    /// The candidate failed: on the event named (none: `init` or `state-json`).
    Failed(FoldFailure),
    /// The live version itself failed: nothing to compare with.
    LiveFailed,
}

/// Does `work` with `live` (none when the name serves nothing) and `candidate`.
pub(crate) async fn pass(
    store: Arc<dyn EventStore>,
    live: Option<Arc<LoadedAggregate>>,
    candidate: Arc<LoadedAggregate>,
    work: StreamWork,
    fold_batch: usize,
) -> Result<StreamOutcome, cairn_store::ReadError> {
    let (live, candidate) = (live.as_ref(), &candidate);
    let last_needed = work
        .commands
        .iter()
        .map(|entry| match entry.verdict {
            Verdict::Appended { last_version, .. } => last_version,
            Verdict::NothingAppended(_) => entry.command.decided_at,
        })
        .chain(work.replay.then_some(work.version))
        .max()
        .unwrap_or(Version::NONE);
    let events = store
        .read_versions(work.stream.clone(), Version::new(1), last_needed)
        .await?;
    let replayed = &events[..events.len().min(work.version.get() as usize)];

    // The candidate: up to each command, decide it, then on to the end of what is replayed.
    let mut decisions = Vec::with_capacity(work.commands.len());
    let mut candidate_state = candidate
        .initial_state()
        .await
        .map_err(|error| FoldFailure { at: None, error });
    let mut folded = 0usize;
    for entry in &work.commands {
        let to = (entry.command.decided_at.get() as usize).min(events.len());
        candidate_state = match candidate_state {
            Ok(state) if to > folded => {
                let next = fold_events(candidate, state, &events[folded..to], fold_batch).await;
                folded = to;
                next
            }
            other => other,
        };
        let decision = match &candidate_state {
            Ok(state) => decide(candidate, state.clone(), entry)
                .await
                .map_err(|e| e.to_string()),
            Err(failure) => Err(failure.describe("folding the stream")),
        };
        decisions.push(decision);
    }
    let replay = if work.replay {
        let candidate_end = match candidate_state {
            Ok(state) if replayed.len() > folded => {
                fold_events(candidate, state, &replayed[folded..], fold_batch).await
            }
            other => other,
        };
        let known = work.live_state.clone();
        Some(compare(live, candidate, candidate_end, known, replayed, fold_batch).await)
    } else {
        None
    };
    Ok(StreamOutcome {
        events: replayed.len() as u64,
        work,
        replay,
        decisions,
        recorded: events,
    })
}

/// Decides `entry`'s command again on `state`, with its own time and seed.
async fn decide(
    candidate: &Arc<LoadedAggregate>,
    state: Vec<u8>,
    entry: &CommandEntry,
) -> Result<Decision, CallError> {
    let input = CallInput {
        time_ms: entry.command.time.as_millis(),
        seed: Sha256::digest(entry.command.id.as_uuid().as_bytes()).into(),
    };
    candidate
        .decide(
            state,
            entry.command.command_type.as_str().to_owned(),
            entry.command.data.as_str().to_owned(),
            input,
        )
        .await
}

/// The candidate's end state against the live version's fold of `events`.
async fn compare(
    live: Option<&Arc<LoadedAggregate>>,
    candidate: &Arc<LoadedAggregate>,
    candidate_end: Result<Vec<u8>, FoldFailure>,
    live_known: Option<Vec<u8>>,
    events: &[RecordedEvent],
    fold_batch: usize,
) -> ReplayOutcome {
    let candidate_end = match candidate_end {
        Ok(state) => state,
        Err(failure) => return ReplayOutcome::Failed(failure),
    };
    let Some(live) = live else {
        // Nothing to compare with: the candidate must still show its state.
        return match shown(candidate, candidate_end, events).await {
            Ok(_) => ReplayOutcome::Equal,
            Err(failure) => ReplayOutcome::Failed(failure),
        };
    };
    let live_end = match live_known {
        Some(state) => state,
        None => match fold_from_init(live, events, fold_batch).await {
            Ok(state) => state,
            Err(_) => return ReplayOutcome::LiveFailed,
        },
    };
    if live_end == candidate_end {
        return ReplayOutcome::Equal;
    }
    let candidate_shown = match shown(candidate, candidate_end, events).await {
        Ok(shown) => shown,
        Err(failure) => return ReplayOutcome::Failed(failure),
    };
    let Ok(live_shown) = shown(live, live_end, events).await else {
        return ReplayOutcome::LiveFailed;
    };
    if live_shown == candidate_shown {
        ReplayOutcome::Equal
    } else {
        ReplayOutcome::Differ {
            live: live_shown,
            candidate: candidate_shown,
        }
    }
}

/// The state as `aggregate` shows it, after `events`.
async fn shown(
    aggregate: &Arc<LoadedAggregate>,
    state: Vec<u8>,
    events: &[RecordedEvent],
) -> Result<Value, FoldFailure> {
    let input = CallInput {
        time_ms: events.last().map_or(0, |e| e.recorded_at.as_millis()),
        seed: [0; 32],
    };
    let shown = aggregate
        .state_json(state, input)
        .await
        .map_err(|error| FoldFailure { at: None, error })?;
    serde_json::from_str(shown.as_str()).map_err(|e| FoldFailure {
        at: None,
        error: CallError::BadOutput {
            message: format!("state-json returned {e}"),
        },
    })
}
