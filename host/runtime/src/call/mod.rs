//! One call into a module, whatever its world: the engine that compiles modules, the sandbox a
//! call runs in, what the call may use, and who is blamed when it fails.
//!
//! A call flows through it like this: `preflight.rs` checked the component before `engine.rs`
//! compiled it; `callee.rs` takes the call, asks `call_gate.rs` whether the module is on
//! probation (if so, the call waits its turn on `slow_lane.rs`, the low-priority thread), makes
//! the call's store in `sandbox.rs` with the budget of `limits.rs`, runs it while `cpu_meter.rs`
//! reads the CPU clock of every thread that ran it, and names the failure, if any, and whether
//! it counts against the module.
//!
//! - `engine.rs`: the wasmtime engine (determinism, pooling, disk cache) and its epoch ticker.
//! - `preflight.rs`: what an upload is checked for before it is compiled (its world, its
//!   imports, its size to compile).
//! - `limits.rs`: [`Limits`](crate::Limits), what one call may use (fuel, CPU, memory, stack, a
//!   backstop).
//! - `sandbox.rs`: the store of one call: deterministic WASI, memory limit, fuel, the CPU limit
//!   and the backstop checked at each epoch tick.
//! - `cpu_meter.rs`: the CPU a call has used, on every thread that ran it.
//! - `callee.rs`: where a call runs, making its store, naming its failure, and whether that
//!   counts against its module (fuel and CPU do; waiting and the backstop, the host's fault,
//!   never do).
//! - `call_gate.rs`: a module whose calls run out of fuel or CPU is put on probation;
//!   `slow_lane.rs`: the low-priority thread where its calls then run one at a time.
//! - `call_metrics.rs`: what every call counts (calls, the module's faults, the host's).
//! - `bindings.rs`: host bindings generated from `wit/`; `host_log.rs`: the log import.

pub(crate) mod bindings;
pub(crate) mod call_gate;
pub(crate) mod call_metrics;
pub(crate) mod callee;
pub(crate) mod cpu_meter;
pub(crate) mod engine;
pub(crate) mod host_log;
pub(crate) mod limits;
pub(crate) mod preflight;
pub(crate) mod sandbox;
pub(crate) mod slow_lane;
