//! Plans: what a candidate version of an aggregate would do to the history its name already
//! has, before it serves. Nothing is installed or written.
//!
//! A plan has two halves:
//! - the replay: every stream of the module's category folded from its first event by the
//!   live version and by the candidate; states compared, and every event the candidate cannot
//!   fold named with its stream and version (`replay.rs` lists the streams and folds);
//! - the re-decide: every command of the module in the command log decided again by the
//!   candidate against the state before it, compared with the recorded decision
//!   (`redecide.rs`).
//!
//! Both are done stream by stream, in one pass that reads the stream once (`stream_pass.rs`),
//! a few streams at a time; the outcomes are counted in stream order, so a report is the same
//! every time. Where the command path's state cache holds the live version's state at the
//! stream's version, the replay takes it rather than folding the stream again.
//!
//! A projection is planned apart (`projection.rs`): the candidate folds the whole log into a
//! read model in memory, and the queries given with the plan are answered by it and by the
//! serving model.
//!
//! An upcaster is planned as the aggregate of its category read through it
//! ([`crate::CommandPath::plan`]), or, when no aggregate reads the category, by upcasting
//! every stored event it upgrades (`upcasts.rs`).
//!
//! `report.rs` holds what they find ([`AggregatePlan`]) and how far they have got
//! ([`PlanProgress`]). Both halves take `?sample=N` as every k-th stream or command, spread
//! over the whole history, and say that they sampled.

pub(crate) mod projection;
pub(crate) mod redecide;
pub(crate) mod replay;
pub(crate) mod report;
pub(crate) mod stream_pass;
pub(crate) mod upcasts;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use cairn_store::{CommandEntry, EventStore, StreamId, Version};
use futures_util::StreamExt;
use tokio_util::task::AbortOnDropHandle;

use crate::aggregates::reader::AggregateReader;
use crate::aggregates::state_cache::StateCache;
use crate::error::{CallError, PlanError};
use report::{
    AggregatePlan, PlanModule, PlanProgress, RedecideReport, ReplayReport, StateDifference, keep,
};
use stream_pass::{PassError, ReplayOutcome, StreamOutcome, StreamWork};

/// What a plan looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// At most this many streams and this many commands, spread evenly; all of them if none.
    pub sample: Option<usize>,
    /// Only the replay: no command is decided again (what an upload checks).
    pub replay_only: bool,
}

/// How many streams a plan works on at once: enough to keep both cores of a small host busy
/// while one stream waits on the store.
const STREAMS_AT_ONCE: usize = 4;

/// Plans `candidate` against the history of aggregate `module`, whose serving version is
/// `live` (none if the name serves nothing).
pub(crate) async fn plan_aggregate(
    store: &Arc<dyn EventStore>,
    module: &str,
    (live, candidate): (Option<&AggregateReader>, &AggregateReader),
    options: PlanOptions,
    fold_batch: usize,
    cache: &StateCache,
    progress: &PlanProgress,
) -> Result<AggregatePlan, PlanError> {
    let started = Instant::now();
    let streams = replay::streams_of(&**store, module).await?;
    let streams_total = streams.len();
    let streams = replay::every(streams, replay::sample_step(streams_total, options.sample));
    let commands = if options.replay_only {
        Vec::new()
    } else {
        redecide::commands_of(&**store, module).await?
    };
    let commands_total = commands.len();
    let commands = replay::every(
        commands,
        replay::sample_step(commands_total, options.sample),
    );
    progress
        .streams_total
        .store(streams.len() as u64, Ordering::Relaxed);
    progress
        .commands_total
        .store(commands.len() as u64, Ordering::Relaxed);
    let mut replayed = ReplayReport {
        streams: streams.len() as u64,
        streams_total: streams_total as u64,
        sampled: streams.len() < streams_total,
        ..ReplayReport::default()
    };
    let mut redecided = RedecideReport {
        commands: commands.len() as u64,
        commands_total: commands_total as u64,
        sampled: commands.len() < commands_total,
        ..RedecideReport::default()
    };

    // Each pass is a task of its own, so passes run on every core; `buffered` starts a pass
    // only when fewer than `STREAMS_AT_ONCE` run, and yields them in stream order.
    let mut work = work(streams, commands);
    if let Some(live) = live {
        for item in work.iter_mut().filter(|item| item.replay) {
            item.live_state = cache
                .peek(live.fold_key(), &item.stream)
                .filter(|cached| cached.version == item.version)
                .map(|cached| cached.state);
        }
    }
    let outcomes = futures_util::stream::iter(work)
        .map(|work| {
            // Aborted with the plan, should the plan be dropped midway.
            AbortOnDropHandle::new(tokio::spawn(stream_pass::pass(
                Arc::clone(store),
                live.cloned(),
                candidate.clone(),
                work,
                fold_batch,
            )))
        })
        .buffered(STREAMS_AT_ONCE);
    futures_util::pin_mut!(outcomes);
    while let Some(joined) = outcomes.next().await {
        let outcome = joined
            .map_err(|e| {
                PlanError::Host(CallError::host(format!(
                    "a plan's pass over a stream stopped: {e}"
                )))
            })?
            .map_err(|e| match e {
                PassError::Read(e) => PlanError::from(e),
                PassError::Host(e) => PlanError::Host(e),
            })?;
        merge(&mut replayed, &mut redecided, outcome, progress);
    }
    let changes = replayed.differ
        + replayed.failed
        + redecided.different
        + redecided.flipped
        + redecided.failed
        > 0;
    Ok(AggregatePlan {
        module: module.to_owned(),
        kind: "aggregate",
        category: module.to_owned(),
        live: live.map(|live| PlanModule {
            hash: live.hash().to_string(),
            version: Some(live.version()),
        }),
        candidate: PlanModule {
            hash: candidate.hash().to_string(),
            version: None,
        },
        replay: replayed,
        redecide: redecided,
        changes,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// One piece of work per stream: the streams replayed, in order, then any stream only a
/// command names (when both are sampled), each with its commands in order of their versions.
fn work(streams: Vec<(StreamId, Version)>, commands: Vec<CommandEntry>) -> Vec<StreamWork> {
    let mut by_stream: BTreeMap<StreamId, Vec<CommandEntry>> = BTreeMap::new();
    for entry in commands {
        by_stream
            .entry(entry.command.stream.clone())
            .or_default()
            .push(entry);
    }
    let mut work: Vec<StreamWork> = streams
        .into_iter()
        .map(|(stream, version)| StreamWork {
            commands: by_stream.remove(&stream).unwrap_or_default(),
            stream,
            replay: true,
            version,
            live_state: None,
        })
        .collect();
    work.extend(by_stream.into_iter().map(|(stream, commands)| StreamWork {
        stream,
        replay: false,
        version: Version::NONE,
        commands,
        live_state: None,
    }));
    for item in &mut work {
        item.commands.sort_by_key(|entry| entry.command.decided_at);
    }
    work
}

/// Counts one stream's outcome into the reports.
fn merge(
    replayed: &mut ReplayReport,
    redecided: &mut RedecideReport,
    outcome: StreamOutcome,
    progress: &PlanProgress,
) {
    let StreamOutcome {
        work,
        events,
        replay,
        decisions,
        recorded,
    } = outcome;
    if let Some(replay) = replay {
        replayed.events += events;
        match replay {
            ReplayOutcome::Equal => replayed.equal += 1,
            ReplayOutcome::LiveFailed => replayed.live_failed += 1,
            ReplayOutcome::Failed(failure) => {
                replayed.failed += 1;
                keep(&mut replayed.failures, failure.for_stream(&work.stream));
            }
            ReplayOutcome::Differ { live, candidate } => {
                replayed.differ += 1;
                keep(
                    &mut replayed.differences,
                    StateDifference {
                        stream: work.stream.to_string(),
                        version: work.version.get(),
                        diff: crate::json_diff::diff(&live, &candidate),
                        live,
                        candidate,
                    },
                );
            }
        }
        PlanProgress::add(&progress.streams_done, 1);
        PlanProgress::add(&progress.events_done, events);
    }
    for (entry, decision) in work.commands.iter().zip(decisions) {
        match decision {
            Ok(decided) => redecide::compare(
                redecided,
                entry,
                &recorded,
                &decided.candidate,
                decided.serving.as_ref(),
            ),
            Err(error) => redecide::fail(redecided, entry, error),
        }
    }
    PlanProgress::add(&progress.commands_done, work.commands.len() as u64);
}
