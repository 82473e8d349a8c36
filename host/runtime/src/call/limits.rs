//! [`Limits`]: what one call into a module may use: fuel, CPU time, memory, stack, and a
//! wall-clock backstop that blames the host, not the module; and what compiling one may take.

use std::time::Duration;

use serde::Deserialize;

use crate::call::preflight::CompileBudget;
use crate::setting::{self, InvalidSetting, at_least, number, within};

/// The most linear memory a 32-bit WebAssembly instance can address.
const MAX_MEMORY_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// What one call into a module may use, and what compiling one may take. Every field is
/// configurable (the `[limits]` section of cairn.toml, keys as named by `rename`, the rest by
/// field); the defaults suit the example modules with a wide margin.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Fuel for one call, about one unit per WebAssembly instruction. Fuel is deterministic: a
    /// call that runs out does so at the same point on every replay.
    pub fuel_per_call: u64,
    /// Extra fuel for each event in a batch passed to `evolve`.
    pub fuel_per_event: u64,
    /// A call yields to the executor each time it has used this much fuel (about 10 µs of
    /// work by default), so a few guests that run long cannot hold the executor's threads
    /// from everyone else's requests. A call that uses less never yields.
    pub fuel_yield_interval: u64,
    /// The CPU time one call with the base fuel budget may use, read from the CPU clock of the
    /// threads that ran it (`cpu_meter.rs`), so time spent waiting for a busy host's CPU never
    /// counts. Fuel stops a loop first; this bounds work the module asks of the host that burns
    /// no fuel. A call that uses more is the module's fault. A call given more fuel (an
    /// `evolve` or `apply` of a batch) may use more in proportion.
    #[serde(
        rename = "cpu_ms_per_call",
        deserialize_with = "setting::millis::deserialize"
    )]
    pub cpu_per_call: Duration,
    /// The wall-clock backstop for one call with the base fuel budget, counted from when the
    /// call was asked for (a wait for its turn counts, see `call_gate.rs`). It catches a call
    /// that uses neither fuel nor CPU (a host import that hangs). Reaching it is the host's
    /// fault, never the module's. A call given more fuel gets a backstop longer in proportion.
    #[serde(
        rename = "backstop_secs",
        deserialize_with = "setting::secs::deserialize"
    )]
    pub backstop: Duration,
    /// Linear memory for one instance, in bytes (64 MiB by default).
    pub memory_bytes: usize,
    /// Elements in one table.
    pub table_elements: usize,
    /// The WebAssembly stack, in bytes.
    pub stack_bytes: usize,
    /// How many instances may be alive at once (slots in the pooling allocator).
    pub concurrent_instances: u32,
    /// Bytes of a call's stdout and of its stderr kept for the log.
    pub output_bytes: usize,
    /// The most functions an uploaded module may have to compile; more is refused before
    /// compiling (`preflight.rs`).
    pub compile_functions: u64,
    /// The most bytes of function bodies an uploaded module may have to compile.
    pub compile_code_bytes: u64,
    /// Modules compiled at once (uploads and loads); others wait their turn.
    pub concurrent_compilations: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel_per_call: 50_000_000,
            fuel_per_event: 200_000,
            fuel_yield_interval: 100_000,
            // Well above the CPU a looping guest uses before the base fuel budget stops it
            // (`loop_stopped_cpu_ms`, BENCHMARKS.md): fuel always stops a loop first.
            cpu_per_call: Duration::from_millis(250),
            // Seconds, not milliseconds: a busy host makes calls slower, and slow is not wrong.
            backstop: Duration::from_secs(30),
            memory_bytes: 64 * 1024 * 1024,
            table_elements: 20_000,
            stack_bytes: 512 * 1024,
            concurrent_instances: 256,
            output_bytes: 64 * 1024,
            compile_functions: CompileBudget::default().functions,
            compile_code_bytes: CompileBudget::default().code_bytes,
            // Compiling is parallel inside (Cranelift uses every core): one at a time keeps an
            // upload storm from holding every core and gigabytes of memory at once.
            concurrent_compilations: 1,
        }
    }
}

impl Limits {
    /// Refuses a value the runtime cannot run with (a zero budget, a memory past 4 GiB),
    /// naming its key.
    pub fn check(&self) -> Result<(), InvalidSetting> {
        at_least("fuel_per_call", self.fuel_per_call, 1)?;
        at_least("fuel_yield_interval", self.fuel_yield_interval, 1)?;
        at_least("cpu_ms_per_call", number(self.cpu_per_call.as_millis()), 1)?;
        at_least("backstop_secs", self.backstop.as_secs(), 1)?;
        // At least one WebAssembly page: an instance with less cannot hold anything.
        within(
            "memory_bytes",
            number(self.memory_bytes),
            65_536..=MAX_MEMORY_BYTES,
        )?;
        at_least("stack_bytes", number(self.stack_bytes), 4_096)?;
        at_least("table_elements", number(self.table_elements), 1)?;
        at_least("concurrent_instances", number(self.concurrent_instances), 1)?;
        at_least("compile_functions", self.compile_functions, 1)?;
        at_least("compile_code_bytes", self.compile_code_bytes, 1)?;
        at_least(
            "concurrent_compilations",
            number(self.concurrent_compilations),
            1,
        )
    }

    /// The most an uploaded module may ask of the compiler.
    pub fn compile_budget(&self) -> CompileBudget {
        CompileBudget {
            functions: self.compile_functions,
            code_bytes: self.compile_code_bytes,
        }
    }

    /// The CPU a call given `fuel` may use: [`Limits::cpu_per_call`] for each base budget it
    /// holds, rounded up.
    pub(crate) fn cpu_for(&self, fuel: u64) -> Duration {
        self.cpu_per_call.saturating_mul(self.budgets_in(fuel))
    }

    /// The backstop of a call given `fuel`: [`Limits::backstop`] for each base budget it holds,
    /// rounded up.
    pub(crate) fn backstop_for(&self, fuel: u64) -> Duration {
        self.backstop.saturating_mul(self.budgets_in(fuel))
    }

    fn budgets_in(&self, fuel: u64) -> u32 {
        let budgets = fuel.div_ceil(self.fuel_per_call.max(1)).max(1);
        u32::try_from(budgets).unwrap_or(u32::MAX)
    }

    /// The fuel for an `evolve` call folding `events` events.
    pub(crate) fn fuel_for_batch(&self, events: usize) -> u64 {
        let events = u64::try_from(events).unwrap_or(u64::MAX);
        self.fuel_per_call
            .saturating_add(self.fuel_per_event.saturating_mul(events))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_given_more_fuel_gets_more_cpu_and_a_longer_backstop_in_proportion() {
        let limits = Limits::default();
        assert_eq!(limits.cpu_for(1), limits.cpu_per_call);
        assert_eq!(limits.backstop_for(1), limits.backstop);
        assert_eq!(limits.cpu_for(limits.fuel_per_call), limits.cpu_per_call);
        let batch = limits.fuel_for_batch(2_000);
        assert_eq!(limits.cpu_for(batch), limits.cpu_per_call * 9);
        assert_eq!(limits.backstop_for(batch), limits.backstop * 9);
        assert_eq!(limits.cpu_for(u64::MAX), limits.cpu_per_call * u32::MAX);
    }
}
