//! One pass over one stream, doing both halves of a plan for it, over the stream's events read
//! once (by `pass_workers.rs`, as [`StreamWork::wanted`] names them): the candidate folds them
//! from `init`, stopping at each recorded command's version to decide it again, then on to
//! the end; the live version folds them whole; and the two end states are compared (as bytes
//! first: equal bytes need no `state-json`).

use cairn_store::{CommandEntry, RecordedEvent, StreamId, Verdict, Version, VersionsRead};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::aggregates::aggregate::Decision;
use crate::aggregates::reader::AggregateReader;
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
    /// The stream's events, all of those [`StreamWork::wanted`] names, once read (or kept
    /// from the listing of the streams).
    pub(crate) events: Option<Vec<RecordedEvent>>,
}

/// What one pass found.
pub(crate) struct StreamOutcome {
    pub(crate) work: StreamWork,
    /// Events read and folded by the candidate.
    pub(crate) events: u64,
    /// The replay's finding, if the stream was replayed.
    pub(crate) replay: Option<ReplayOutcome>,
    /// For each command of the work, in order: the candidate's decision and what it is
    /// compared with, or why the candidate has none.
    pub(crate) decisions: Vec<Result<Decided, String>>,
    /// The events the commands were decided over, to compare their recorded decisions with.
    pub(crate) recorded: Vec<RecordedEvent>,
}

/// The candidate's decision of a command, and the serving version's decision of it on its own
/// state, when the command was recorded by an older version than the serving one: a plan
/// shows what the candidate changes from what serves, not what an older version did.
pub(crate) struct Decided {
    pub(crate) candidate: Decision,
    pub(crate) serving: Option<Decision>,
}

/// Why a pass could not be finished: the store failed, or the host did (a module call that
/// hit the backstop is the host's fault, never a finding about the candidate).
#[derive(Debug)]
pub(crate) enum PassError {
    Read(cairn_store::ReadError),
    Host(CallError),
}

impl From<cairn_store::ReadError> for PassError {
    fn from(e: cairn_store::ReadError) -> Self {
        Self::Read(e)
    }
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

/// One version's fold of a stream, moved forward as the commands need.
struct Walker<'a> {
    aggregate: &'a AggregateReader,
    state: Result<Vec<u8>, FoldFailure>,
    folded: usize,
}

impl<'a> Walker<'a> {
    async fn start(aggregate: &'a AggregateReader) -> Result<Walker<'a>, PassError> {
        let state = aggregate
            .initial_state()
            .await
            .map_err(|error| FoldFailure { at: None, error });
        let walker = Self {
            aggregate,
            state,
            folded: 0,
        };
        walker.host_fault()?;
        Ok(walker)
    }

    /// Folds on to the first `to` of `events`.
    async fn advance(
        &mut self,
        events: &[RecordedEvent],
        to: usize,
        fold_batch: usize,
    ) -> Result<(), PassError> {
        let to = to.min(events.len());
        if to <= self.folded {
            return Ok(());
        }
        if let Ok(state) = &mut self.state {
            let state = std::mem::take(state);
            self.state =
                fold_events(self.aggregate, state, &events[self.folded..to], fold_batch).await;
        }
        self.folded = to;
        self.host_fault()
    }

    /// The host's fault, if the fold failed by it.
    fn host_fault(&self) -> Result<(), PassError> {
        match &self.state {
            Err(failure) if failure.error.is_host_fault() => {
                Err(PassError::Host(failure.error.clone()))
            }
            _ => Ok(()),
        }
    }

    /// This version's decision of `entry` on the state it has reached.
    async fn decide(&self, entry: &CommandEntry) -> Result<Result<Decision, String>, PassError> {
        match &self.state {
            Ok(state) => match decide(self.aggregate, state.clone(), entry).await {
                Ok(decision) => Ok(Ok(decision)),
                Err(error) if error.is_host_fault() => Err(PassError::Host(error)),
                Err(error) => Ok(Err(error.to_string())),
            },
            Err(failure) => Ok(Err(failure.describe("folding the stream"))),
        }
    }
}

impl StreamWork {
    /// The last version the work needs: the replay's version or the last event a command
    /// appended, whichever is later.
    pub(crate) fn last_needed(&self) -> Version {
        self.commands
            .iter()
            .map(|entry| match entry.verdict {
                Verdict::Appended { last_version, .. } => last_version,
                Verdict::NothingAppended(_) => entry.command.decided_at,
            })
            .chain(self.replay.then_some(self.version))
            .max()
            .unwrap_or(Version::NONE)
    }

    /// The stream's events the work needs: versions 1 to [`StreamWork::last_needed`].
    pub(crate) fn wanted(&self) -> VersionsRead {
        VersionsRead {
            stream: self.stream.clone(),
            first: Version::new(1),
            last: self.last_needed(),
        }
    }
}

/// Does `work` with `live` (none when the name serves nothing) and `candidate`, over the
/// stream's `events` ([`StreamWork::wanted`]).
pub(crate) async fn pass(
    live: Option<&AggregateReader>,
    candidate: &AggregateReader,
    work: StreamWork,
    events: Vec<RecordedEvent>,
    fold_batch: usize,
) -> Result<StreamOutcome, PassError> {
    let replay_len = (work.version.get() as usize).min(events.len());

    // Both versions fold forward to each command in turn; each end state is taken at the
    // replay's version, whatever commands (logged after the streams were listed) lie beyond.
    let mut candidate_walk = Walker::start(candidate).await?;
    let mut live_walk: Option<Walker<'_>> = None;
    let mut ends: Option<Ends> = None;
    let mut decisions = Vec::with_capacity(work.commands.len());
    for entry in &work.commands {
        let to = (entry.command.decided_at.get() as usize).min(events.len());
        if work.replay && ends.is_none() && to >= replay_len {
            ends = Some(
                take_ends(
                    &mut candidate_walk,
                    live_walk.as_mut(),
                    &events,
                    replay_len,
                    fold_batch,
                )
                .await?,
            );
        }
        candidate_walk.advance(&events, to, fold_batch).await?;
        let candidate_decision = candidate_walk.decide(entry).await?;
        let older = live.filter(|live| *live.hash() != entry.command.module_hash);
        let serving = match older {
            None => None,
            Some(live) => {
                if live_walk.is_none() {
                    live_walk = Some(Walker::start(live).await?);
                }
                match live_walk.as_mut() {
                    Some(walk) => {
                        walk.advance(&events, to, fold_batch).await?;
                        walk.decide(entry).await?.ok()
                    }
                    None => None,
                }
            }
        };
        decisions.push(candidate_decision.map(|candidate| Decided { candidate, serving }));
    }
    let replay = if work.replay {
        let (candidate_end, live_end) = match ends {
            Some(ends) => ends,
            None => {
                take_ends(
                    &mut candidate_walk,
                    live_walk.as_mut(),
                    &events,
                    replay_len,
                    fold_batch,
                )
                .await?
            }
        };
        let live_known = live_end.or_else(|| work.live_state.clone());
        let replayed = &events[..replay_len];
        Some(
            compare(
                live,
                candidate,
                candidate_end,
                live_known,
                replayed,
                fold_batch,
            )
            .await?,
        )
    } else {
        None
    };
    Ok(StreamOutcome {
        events: replay_len as u64,
        work,
        replay,
        decisions,
        recorded: events,
    })
}

/// The candidate's state at the replay's version (or where it failed), and the live version's
/// there if its walk had begun.
type Ends = (Result<Vec<u8>, FoldFailure>, Option<Vec<u8>>);

/// Both walks moved to the replay's version, and their states there.
async fn take_ends(
    candidate: &mut Walker<'_>,
    live: Option<&mut Walker<'_>>,
    events: &[RecordedEvent],
    replay_len: usize,
    fold_batch: usize,
) -> Result<Ends, PassError> {
    candidate.advance(events, replay_len, fold_batch).await?;
    let live_end = match live {
        Some(live) if live.folded <= replay_len => {
            live.advance(events, replay_len, fold_batch).await?;
            live.state.as_ref().ok().cloned()
        }
        _ => None,
    };
    Ok((candidate.state.clone(), live_end))
}

/// Decides `entry`'s command again on `state`, with its own time and seed.
async fn decide(
    aggregate: &AggregateReader,
    state: Vec<u8>,
    entry: &CommandEntry,
) -> Result<Decision, CallError> {
    let input = CallInput {
        time_ms: entry.command.time.as_millis(),
        seed: Sha256::digest(entry.command.id.as_uuid().as_bytes()).into(),
    };
    aggregate
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
    live: Option<&AggregateReader>,
    candidate: &AggregateReader,
    candidate_end: Result<Vec<u8>, FoldFailure>,
    live_known: Option<Vec<u8>>,
    events: &[RecordedEvent],
    fold_batch: usize,
) -> Result<ReplayOutcome, PassError> {
    let candidate_end = match candidate_end {
        Ok(state) => state,
        // A stream the serving version cannot read either is no change the candidate makes.
        Err(failure) => {
            let live_fails = match (live, &live_known) {
                (Some(live), None) => {
                    host(fold_from_init(live, events, fold_batch).await)?.is_err()
                }
                _ => false,
            };
            return Ok(if live_fails {
                ReplayOutcome::LiveFailed
            } else {
                ReplayOutcome::Failed(failure)
            });
        }
    };
    let Some(live) = live else {
        // Nothing to compare with: the candidate must still show its state.
        return Ok(match host(shown(candidate, candidate_end, events).await)? {
            Ok(_) => ReplayOutcome::Equal,
            Err(failure) => ReplayOutcome::Failed(failure),
        });
    };
    let live_end = match live_known {
        Some(state) => state,
        None => match host(fold_from_init(live, events, fold_batch).await)? {
            Ok(state) => state,
            Err(_) => return Ok(ReplayOutcome::LiveFailed),
        },
    };
    if live_end == candidate_end {
        return Ok(ReplayOutcome::Equal);
    }
    let candidate_shown = match host(shown(candidate, candidate_end, events).await)? {
        Ok(shown) => shown,
        Err(failure) => return Ok(ReplayOutcome::Failed(failure)),
    };
    let Ok(live_shown) = host(shown(live, live_end, events).await)? else {
        return Ok(ReplayOutcome::LiveFailed);
    };
    Ok(if live_shown == candidate_shown {
        ReplayOutcome::Equal
    } else {
        ReplayOutcome::Differ {
            live: live_shown,
            candidate: candidate_shown,
        }
    })
}

/// A fold's result, unless it failed by the host's fault, which ends the pass.
fn host<T>(result: Result<T, FoldFailure>) -> Result<Result<T, FoldFailure>, PassError> {
    match result {
        Err(failure) if failure.error.is_host_fault() => Err(PassError::Host(failure.error)),
        other => Ok(other),
    }
}

/// The state as `aggregate` shows it, after `events`.
async fn shown(
    aggregate: &AggregateReader,
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
