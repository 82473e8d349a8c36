//! cairn-runtime: runs authors' domain logic, compiled to WebAssembly components, in a
//! deterministic sandbox.
//!
//! Layout, in rooms and what serves them all:
//! - `call/`: one call into a module: the engine, preflight checks, the sandbox, limits, the
//!   CPU meter, blame, probation and the slow lane.
//! - `aggregates/`: [`LoadedAggregate`] and [`CommandPath`], the command path: load, decide,
//!   append, retry, with stream turns and the state cache.
//! - `projections/`: [`LoadedProjection`], its read model during a call, and [`Projections`],
//!   the runner that folds the log into read models and answers queries.
//! - `upcasters/`: [`LoadedUpcaster`] and [`UpcasterSet`], old events read as current ones by
//!   every reader.
//! - `reactors/`: [`LoadedReactor`] and [`Reactors`], the runner that turns events into
//!   commands, each executed once.
//! - `registry.rs`: [`Registry`], validating, keeping, compiling and swapping modules of every
//!   kind.
//! - `plan/`: [`CommandPath::plan`], what a candidate aggregate version would do to the history
//!   it would serve; `json_diff.rs`, the readable JSON diff its reports and time travel use.
//! - `error.rs`: one error enum per operation; `setting.rs`, what the configurations share as
//!   sections of a settings file.
//!
//! This crate never imports axum: HTTP belongs to the server.

mod aggregates;
mod call;
mod error;
pub mod json_diff;
mod plan;
mod projections;
mod reactors;
mod registry;
pub mod setting;
mod upcasters;

pub use aggregates::aggregate::{DecidedEvent, Decision, LoadedAggregate};
pub use aggregates::command_path::{
    AggregateState, Cause, Command, CommandConfig, CommandLogging, CommandOutcome, CommandPath,
};
pub use aggregates::history::{
    History, HistoryRead, HistoryStep, MAX_HISTORY_STEPS, ModuleChoice, StepFailure,
};
pub use aggregates::reader::AggregateReader;
/// What identifies a module's bytes and which world it implements; the store keeps both.
pub use cairn_store::{ModuleHash, ModuleKind};
pub use call::call_gate::Probation;
pub use call::limits::Limits;
pub use call::preflight::CompileBudget;
pub use call::sandbox::CallInput;
pub use error::{Blame, CallError, CommandError, LoadError, PlanError};
pub use plan::PlanOptions;
pub use plan::projection::{FoldFailure, ProjectionPlan, QueryComparison};
pub use plan::report::{
    AggregatePlan, DecisionDifference, DecisionFailure, MAX_EXAMPLES, PlanModule, PlanProgress,
    ProgressNow, RedecideReport, ReplayFailure, ReplayReport, StateDifference,
};
pub use projections::projection::{ApplyBatch, ApplyError, LoadedProjection, ProjectionFilter};
pub use projections::runner::{
    ControlError, Fault, GenerationStatus, ProjectionStatus, Projections, QueryError,
    RemovedProjection, RunState, RunnerConfig,
};
pub use reactors::intent::{Intent, IntentOutcome, intent_key};
pub use reactors::ledger::{HeldIntents, ParkedEvent};
pub use reactors::reactor::{LoadedReactor, ReactError, Reaction};
pub use reactors::runner::{
    FailurePolicy, InstallError, ReactorConfig, ReactorError, ReactorFault, ReactorState,
    ReactorStatus, Reactors, RetryReport, TaskError,
};
pub use registry::{Registry, Uploaded};
pub use upcasters::upcaster::{
    LoadedUpcaster, MAX_EVENTS_PER_UPCAST, UpcastError, UpcastEvent, Upgrades,
};
pub use upcasters::upcaster_set::{ReadEvent, UpcastFailure, UpcasterSet};
