//! [`AggregatePlan`]: what a plan found, as the CLI prints it and the API returns it. Counts
//! cover everything the plan looked at; the examples (differences, flips, failures) are the
//! first [`MAX_EXAMPLES`] of each kind, in stream order.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde_json::Value;

/// The most examples of each kind a report holds.
pub const MAX_EXAMPLES: usize = 10;

/// A module version the plan names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlanModule {
    pub hash: String,
    /// Its version among the name's kept versions; none for a candidate, which is not kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

/// The plan of a candidate aggregate version against the history of its name.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AggregatePlan {
    /// The module planned: the aggregate, or the upcaster.
    pub module: String,
    /// `aggregate` or `upcaster`.
    pub kind: &'static str,
    /// The category whose streams were replayed: the aggregate's, or the one the upcaster
    /// upgrades.
    pub category: String,
    /// The version serving now; none when the name serves nothing yet.
    pub live: Option<PlanModule>,
    pub candidate: PlanModule,
    pub replay: ReplayReport,
    pub redecide: RedecideReport,
    /// Whether anything failed or differed: what `cairn deploy --plan` exits non-zero on.
    pub changes: bool,
    /// How long the plan took, from its start (the candidate's compile included) to its report.
    pub elapsed_ms: u64,
}

/// Every stream of the module's category folded by the live version and by the candidate.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ReplayReport {
    /// Streams folded.
    pub streams: u64,
    /// Streams in the category.
    pub streams_total: u64,
    /// Whether `streams` is a sample of `streams_total`.
    pub sampled: bool,
    /// Events folded by the candidate.
    pub events: u64,
    /// Streams whose state the two versions show alike.
    pub equal: u64,
    /// Streams whose states differ.
    pub differ: u64,
    /// Streams the candidate could not fold, or whose state it could not show.
    pub failed: u64,
    /// Streams the live version itself could not fold (nothing to compare with).
    pub live_failed: u64,
    pub differences: Vec<StateDifference>,
    pub failures: Vec<ReplayFailure>,
}

/// A stream whose state differs between the live version and the candidate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StateDifference {
    pub stream: String,
    pub version: u64,
    pub live: Value,
    pub candidate: Value,
    /// The changes from the live state to the candidate's, one per line.
    pub diff: Vec<String>,
}

/// Where the candidate could not go on with a stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReplayFailure {
    pub stream: String,
    /// The version of the event it failed on (0: before any event, in `init`).
    pub version: u64,
    /// That event's type; none for a failure in `init` or in showing the state.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    pub error: String,
}

impl std::fmt::Display for ReplayFailure {
    /// `customers-c1 at version 1 (CustomerCreated): the error`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at version {}", self.stream, self.version)?;
        if let Some(event_type) = &self.event_type {
            write!(f, " ({event_type})")?;
        }
        write!(f, ": {}", self.error)
    }
}

/// Every recorded command of the module decided again by the candidate, against the state
/// before it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RedecideReport {
    /// Commands decided again.
    pub commands: u64,
    /// Commands of the module in the command log.
    pub commands_total: u64,
    pub sampled: bool,
    /// Decided as recorded: the same events (type and data), or the same refusal.
    pub same: u64,
    /// Accepted both times, or refused both times, but otherwise.
    pub different: u64,
    /// Accepted once and refused the other time.
    pub flipped: u64,
    /// The candidate failed on them (a trap, running out of fuel, events it cannot fold).
    pub failed: u64,
    pub differences: Vec<DecisionDifference>,
    pub flips: Vec<DecisionDifference>,
    pub failures: Vec<DecisionFailure>,
}

/// A command the candidate decides otherwise than was recorded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DecisionDifference {
    pub command_id: String,
    pub stream: String,
    pub decided_at: u64,
    #[serde(rename = "type")]
    pub command_type: String,
    /// `recorded`: `recorded` is the decision the log holds; `serving`: the command was decided
    /// by a version older than the serving one, and `recorded` is the serving version's
    /// decision of it now (what the candidate would change).
    pub compared_with: &'static str,
    pub recorded: Value,
    pub candidate: Value,
    pub diff: Vec<String>,
}

/// A command the candidate could not decide again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DecisionFailure {
    pub command_id: String,
    pub stream: String,
    pub decided_at: u64,
    #[serde(rename = "type")]
    pub command_type: String,
    pub error: String,
}

/// How far a plan has got, for a caller to show while it runs.
#[derive(Debug, Default)]
pub struct PlanProgress {
    pub streams_total: AtomicU64,
    pub streams_done: AtomicU64,
    pub events_done: AtomicU64,
    pub commands_total: AtomicU64,
    pub commands_done: AtomicU64,
}

/// [`PlanProgress`] read at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProgressNow {
    pub streams_done: u64,
    pub streams_total: u64,
    pub events_done: u64,
    pub commands_done: u64,
    pub commands_total: u64,
}

impl PlanProgress {
    /// How far the plan has got now.
    pub fn read(&self) -> ProgressNow {
        ProgressNow {
            streams_done: self.streams_done.load(Ordering::Relaxed),
            streams_total: self.streams_total.load(Ordering::Relaxed),
            events_done: self.events_done.load(Ordering::Relaxed),
            commands_done: self.commands_done.load(Ordering::Relaxed),
            commands_total: self.commands_total.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Keeps `example` if fewer than [`MAX_EXAMPLES`] are kept.
pub(crate) fn keep<T>(examples: &mut Vec<T>, example: T) {
    if examples.len() < MAX_EXAMPLES {
        examples.push(example);
    }
}
