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
//! What the plan looks at ([`PlanScope`]) is read while the candidate compiles: the streams,
//! listed by reading the category's events once (which it keeps, up to
//! [`KEPT_EVENT_BYTES`], so the passes need not read them again), and the logged commands.
//! Both halves are then done stream by stream, in one pass over the stream's events
//! (`stream_pass.rs`), by one worker per core that takes the streams a chunk at a time
//! (`pass_workers.rs`); the outcomes are counted in stream order, so a report is the same
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

pub(crate) mod pass_workers;
pub(crate) mod projection;
pub(crate) mod redecide;
pub(crate) mod replay;
pub(crate) mod report;
pub(crate) mod stream_pass;
pub(crate) mod upcasts;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use cairn_store::{CommandEntry, EventStore, RecordedEvent, StreamId, Version};

use crate::aggregates::reader::AggregateReader;
use crate::aggregates::state_cache::StateCache;
use crate::error::PlanError;
use pass_workers::Passes;
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

/// How much memory the events the listing of a plan's streams reads may take and still be
/// kept for its passes, which then need not read those streams again. Past this, nothing is
/// kept and each stream is read again when its turn comes.
const KEPT_EVENT_BYTES: usize = 64 * 1024 * 1024;

/// What a plan looks at: the streams it replays and the commands it decides again (every k-th
/// of each when sampled), how many there are in all, and the events its listing kept.
pub(crate) struct PlanScope {
    streams: Vec<(StreamId, Version)>,
    streams_total: usize,
    commands: Vec<CommandEntry>,
    commands_total: usize,
    kept: Option<HashMap<StreamId, Vec<RecordedEvent>>>,
}

/// What a plan with `options` of aggregate `module` looks at. It needs nothing of the
/// candidate, so it is read while the candidate compiles.
pub(crate) async fn scope(
    store: &dyn EventStore,
    module: &str,
    options: PlanOptions,
) -> Result<PlanScope, PlanError> {
    let replay::Listing { streams, kept } =
        replay::streams_of(store, module, KEPT_EVENT_BYTES).await?;
    let streams_total = streams.len();
    let streams = replay::every(streams, replay::sample_step(streams_total, options.sample));
    let commands = if options.replay_only {
        Vec::new()
    } else {
        redecide::commands_of(store, module).await?
    };
    let commands_total = commands.len();
    let commands = replay::every(
        commands,
        replay::sample_step(commands_total, options.sample),
    );
    Ok(PlanScope {
        streams,
        streams_total,
        commands,
        commands_total,
        kept,
    })
}

/// Plans `candidate` against `scope` of aggregate `module`, whose serving version is `live`
/// (none if the name serves nothing). The report's `elapsed_ms` is left for the caller.
pub(crate) async fn plan_aggregate(
    store: &Arc<dyn EventStore>,
    module: &str,
    (live, candidate): (Option<&AggregateReader>, &AggregateReader),
    scope: PlanScope,
    fold_batch: usize,
    cache: &StateCache,
    progress: &PlanProgress,
) -> Result<AggregatePlan, PlanError> {
    let PlanScope {
        streams,
        streams_total,
        commands,
        commands_total,
        kept,
    } = scope;
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

    let mut work = work(streams, commands, kept);
    if let Some(live) = live {
        for item in work.iter_mut().filter(|item| item.replay) {
            item.live_state = cache
                .peek(live.fold_key(), &item.stream)
                .filter(|cached| cached.version == item.version)
                .map(|cached| cached.state);
        }
    }
    let mut passes = Passes::start(store, live, candidate, work, fold_batch);
    while let Some(outcomes) = passes.next().await {
        let outcomes = outcomes.map_err(|e| match e {
            PassError::Read(e) => PlanError::from(e),
            PassError::Host(e) => PlanError::Host(e),
        })?;
        for outcome in outcomes {
            merge(&mut replayed, &mut redecided, outcome, progress);
        }
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
        // The caller knows when the plan began (its candidate's compile counts).
        elapsed_ms: 0,
    })
}

/// One piece of work per stream: the streams replayed, in order, then any stream only a
/// command names (when both are sampled), each with its commands in order of their versions,
/// and with its events where `kept` holds all the work needs.
fn work(
    streams: Vec<(StreamId, Version)>,
    commands: Vec<CommandEntry>,
    mut kept: Option<HashMap<StreamId, Vec<RecordedEvent>>>,
) -> Vec<StreamWork> {
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
            events: None,
        })
        .collect();
    work.extend(by_stream.into_iter().map(|(stream, commands)| StreamWork {
        stream,
        replay: false,
        version: Version::NONE,
        commands,
        live_state: None,
        events: None,
    }));
    for item in &mut work {
        item.commands.sort_by_key(|entry| entry.command.decided_at);
        // Kept events run from version 1 to the version listed (`replay::Listing`); a command
        // logged since may need more, and then the stream is read whole.
        let listed = kept.as_mut().and_then(|kept| kept.remove(&item.stream));
        let wanted = item.last_needed();
        item.events = listed.filter(|events| {
            events.len() as u64 == wanted.get() && events.last().map(|e| e.version) == Some(wanted)
        });
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

#[cfg(test)]
mod tests {
    use cairn_store::{
        CommandId, CommandType, EventLog, EventType, ExpectedVersion, Json, LoggedCommand,
        ModuleHash, ModuleName, NewEvent, Position, RedbOptions, RedbStore, Timestamp, Verdict,
    };

    use super::*;

    fn stream(name: &str) -> StreamId {
        StreamId::new(name).expect("a stream name")
    }

    fn events(count: usize) -> Vec<NewEvent> {
        (0..count)
            .map(|at| {
                let data = Json::parse(&format!(r#"{{"at":{at}}}"#)).expect("JSON");
                NewEvent::new(EventType::new("Deposited").expect("a type"), data)
            })
            .collect()
    }

    /// `acct-1` and `acct-2` written in turns, 5,200 events each in appends of 400 (so the
    /// listing reads more than one page of the log), with `other-1` between them.
    async fn store() -> (tempfile::TempDir, RedbStore) {
        let dir = tempfile::tempdir().expect("a directory");
        let store = RedbStore::open(dir.path(), RedbOptions::default())
            .await
            .expect("a store");
        for _ in 0..13 {
            for name in ["acct-1", "other-1", "acct-2"] {
                store
                    .append(stream(name), ExpectedVersion::Any, events(400))
                    .await
                    .expect("append");
            }
        }
        (dir, store)
    }

    #[tokio::test]
    async fn a_listing_keeps_each_stream_whole_within_its_budget_and_nothing_past_it() {
        let (_dir, store) = store().await;
        let listing = replay::streams_of(&store, "acct", KEPT_EVENT_BYTES)
            .await
            .expect("listed");
        let versions = vec![
            (stream("acct-1"), Version::new(5_200)),
            (stream("acct-2"), Version::new(5_200)),
        ];
        assert_eq!(listing.streams, versions, "in order of their first event");
        let kept = listing.kept.expect("kept: well within the budget");
        assert_eq!(kept.len(), 2, "only the category's streams");
        for (name, version) in &versions {
            let read = store
                .read_versions(name.clone(), Version::new(1), *version)
                .await
                .expect("read");
            assert!(
                kept[name] == read,
                "{name}: the same events as a read of it"
            );
        }

        let first_page: usize = 10_000 * r#"Deposited{"at":100}"#.len();
        let listing = replay::streams_of(&store, "acct", first_page)
            .await
            .expect("listed");
        assert_eq!(listing.streams, versions);
        assert!(listing.kept.is_none(), "past the budget, nothing is kept");
    }

    /// A command logged on `name` at `decided_at`, whose events are versions `first..=last`.
    fn appended(name: &str, decided_at: u64, (first, last): (u64, u64)) -> CommandEntry {
        CommandEntry {
            command: LoggedCommand {
                id: CommandId::from(uuid::Uuid::new_v4()),
                command_type: CommandType::new("Deposit").expect("a type"),
                data: Json::parse("{}").expect("JSON"),
                idempotency_key: None,
                time: Timestamp::from_millis(0),
                aggregate: ModuleName::new("acct").expect("a name"),
                stream: stream(name),
                decided_at: Version::new(decided_at),
                module_hash: ModuleHash::of(b"acct"),
            },
            verdict: Verdict::Appended {
                first_version: Version::new(first),
                last_version: Version::new(last),
                first_position: Position::new(first),
                last_position: Position::new(last),
            },
        }
    }

    #[tokio::test]
    async fn kept_events_go_only_to_work_they_cover_whole() {
        let (_dir, store) = store().await;
        let listing = replay::streams_of(&store, "acct", KEPT_EVENT_BYTES)
            .await
            .expect("listed");
        let commands = vec![
            // Within what was listed.
            appended("acct-1", 99, (100, 100)),
            // Logged after the listing: its event is past what was kept.
            appended("acct-2", 5_200, (5_201, 5_201)),
            // A stream the listing did not replay (a sample left it out).
            appended("acct-3", 0, (1, 1)),
        ];
        let work = work(listing.streams, commands, listing.kept);
        let has_events: Vec<(String, bool)> = work
            .iter()
            .map(|item| (item.stream.to_string(), item.events.is_some()))
            .collect();
        assert_eq!(
            has_events,
            [
                ("acct-1".to_owned(), true),
                ("acct-2".to_owned(), false),
                ("acct-3".to_owned(), false),
            ]
        );
        assert_eq!(
            work[0].events.as_ref().map(Vec::len),
            Some(5_200),
            "versions 1 to 5,200"
        );
    }
}
