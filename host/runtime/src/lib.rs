//! cairn-runtime: runs authors' domain logic, compiled to WebAssembly components, in a
//! deterministic sandbox.
//!
//! Layout:
//! - `limits.rs`: [`Limits`], what one call may use (fuel, CPU, memory, stack, a backstop).
//! - `engine.rs`: the wasmtime engine (determinism, pooling, disk cache) and its epoch ticker.
//! - `sandbox.rs`: the store of one call: deterministic WASI, memory limit, fuel, the CPU limit
//!   and the backstop checked at each epoch tick; `cpu_meter.rs`: the CPU a call has used, on
//!   every thread that ran it; `call.rs`: where a call runs, making its store, naming its
//!   failure, and whether that counts against its module (fuel and CPU do; waiting and the
//!   backstop, the host's fault, never do); `call_gate.rs`: a module whose calls run out of fuel
//!   or CPU is put on probation, and `slow_lane.rs`: the low-priority thread where its calls
//!   then run one at a time.
//! - `bindings.rs`: host bindings generated from `wit/`; `host_log.rs`: the log import.
//! - `module.rs`: [`ModuleHash`] and [`ModuleKind`].
//! - `aggregate.rs`: [`LoadedAggregate`], an aggregate module and its calls.
//! - `registry.rs`: [`Registry`], validating, keeping, compiling and swapping modules;
//!   `preflight.rs`: what an upload is checked for before it is compiled (its world, its
//!   imports, its size to compile).
//! - `commands.rs`: [`Aggregates`], the command path: load, decide, append, retry;
//!   `stream_turns.rs`: commands on one stream take turns, so they do not race each other;
//!   `state_cache.rs`: the hot states, filled after a command has answered.
//! - `projection.rs`: [`LoadedProjection`], a projection module and its calls;
//!   `kv_session.rs`: its read model during a call, behind the `kv` import;
//!   `model_overlay.rs`: uncommitted writes laid over a committed read model.
//! - `projection_runner/`: [`Projections`], which runs every projection over the log, builds
//!   new versions and resets beside the serving one, keeps that lifecycle across restarts, and
//!   answers queries.
//! - `error.rs`: one error enum per operation.
//!
//! This crate never imports axum: HTTP belongs to the server.

mod aggregate;
mod bindings;
mod call;
mod call_gate;
mod commands;
mod cpu_meter;
mod engine;
mod error;
mod host_log;
mod kv_session;
mod limits;
mod model_overlay;
mod module;
mod preflight;
mod projection;
mod projection_runner;
mod registry;
mod sandbox;
mod slow_lane;
mod state_cache;
mod stream_turns;

pub use aggregate::{DecidedEvent, Decision, LoadedAggregate};
pub use call_gate::Probation;
pub use commands::{AggregateState, Aggregates, Command, CommandConfig, CommandOutcome};
pub use error::{CallError, CommandError, LoadError};
pub use limits::Limits;
pub use module::{ModuleHash, ModuleKind};
pub use preflight::CompileBudget;
pub use projection::{ApplyBatch, ApplyError, LoadedProjection, ProjectionFilter};
pub use projection_runner::{
    ControlError, Fault, GenerationStatus, ProjectionStatus, Projections, QueryError, RunState,
    RunnerConfig,
};
pub use registry::{Registry, Uploaded};
pub use sandbox::CallInput;
