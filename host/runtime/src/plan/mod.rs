//! Plans: what a candidate version of an aggregate would do to the history its name already
//! has, before it serves. Nothing is installed or written.
//!
//! A plan has two halves, run one after the other over the store as it is:
//! - `replay.rs`: every stream of the module's category folded from its first event by the live
//!   version and by the candidate; states compared as JSON, and every event the candidate
//!   cannot fold named with its stream and version;
//! - `redecide.rs`: every command of the module in the command log decided again by the
//!   candidate against the state before it, compared with the recorded decision.
//!
//! `report.rs` holds what they find ([`AggregatePlan`]) and how far they have got
//! ([`PlanProgress`]). Both halves take `?sample=N` as every k-th stream or command, spread
//! over the whole history, and say that they sampled.

pub(crate) mod redecide;
pub(crate) mod replay;
pub(crate) mod report;

use std::sync::Arc;
use std::time::Instant;

use cairn_store::EventStore;

use crate::aggregates::aggregate::LoadedAggregate;
use report::{AggregatePlan, PlanModule, PlanProgress};

/// What a plan looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// At most this many streams and this many commands, spread evenly; all of them if none.
    pub sample: Option<usize>,
    /// Only the replay: no command is decided again (what an upload checks).
    pub replay_only: bool,
}

/// Plans `candidate` against the history of aggregate `module`, whose serving version is
/// `live` (none if the name serves nothing).
pub(crate) async fn plan_aggregate(
    store: &dyn EventStore,
    module: &str,
    live: Option<&Arc<LoadedAggregate>>,
    candidate: &Arc<LoadedAggregate>,
    options: PlanOptions,
    fold_batch: usize,
    progress: &PlanProgress,
) -> Result<AggregatePlan, cairn_store::ReadError> {
    let started = Instant::now();
    let streams = replay::streams_of(store, module).await?;
    let streams_total = streams.len();
    let streams = replay::every(streams, replay::sample_step(streams_total, options.sample));
    progress
        .streams_total
        .store(streams.len() as u64, std::sync::atomic::Ordering::Relaxed);
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
    progress
        .commands_total
        .store(commands.len() as u64, std::sync::atomic::Ordering::Relaxed);

    let mut replayed =
        replay::replay(store, live, candidate, &streams, fold_batch, progress).await?;
    replayed.streams_total = streams_total as u64;
    replayed.sampled = streams.len() < streams_total;
    let mut redecided =
        redecide::redecide(store, candidate, commands, fold_batch, progress).await?;
    redecided.commands_total = commands_total as u64;
    redecided.sampled = (redecided.commands as usize) < commands_total;
    let changes = replayed.differ
        + replayed.failed
        + redecided.different
        + redecided.flipped
        + redecided.failed
        > 0;
    Ok(AggregatePlan {
        module: module.to_owned(),
        kind: "aggregate",
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
