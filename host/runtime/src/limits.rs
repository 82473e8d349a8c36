//! [`Limits`]: what one call into a module may use.

use std::time::Duration;

/// What one call into a module may use. Every field is configurable; the defaults suit the
/// example modules with a wide margin.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// The wall-clock backstop for one call with the base fuel budget, counted from when the
    /// call was asked for (a wait for its turn counts, see `call_gate.rs`). A call given more
    /// fuel (an `evolve` or `apply` of a batch) gets a deadline longer in proportion.
    pub deadline: Duration,
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
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel_per_call: 50_000_000,
            fuel_per_event: 200_000,
            fuel_yield_interval: 100_000,
            // Inside the 100 ms within which a looping guest must be stopped, with room for the
            // 5 ms between deadline checks and for the reply.
            deadline: Duration::from_millis(50),
            memory_bytes: 64 * 1024 * 1024,
            table_elements: 20_000,
            stack_bytes: 512 * 1024,
            concurrent_instances: 256,
            output_bytes: 64 * 1024,
        }
    }
}

impl Limits {
    /// The deadline of a call given `fuel`: [`Limits::deadline`] for each base budget it holds,
    /// rounded up.
    pub(crate) fn deadline_for(&self, fuel: u64) -> Duration {
        let budgets = fuel.div_ceil(self.fuel_per_call.max(1)).max(1);
        self.deadline
            .saturating_mul(u32::try_from(budgets).unwrap_or(u32::MAX))
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
    fn a_batch_given_more_fuel_gets_a_longer_deadline_in_proportion() {
        let limits = Limits::default();
        assert_eq!(limits.deadline_for(1), limits.deadline);
        assert_eq!(limits.deadline_for(limits.fuel_per_call), limits.deadline);
        let batch = limits.fuel_for_batch(2_000);
        assert_eq!(limits.deadline_for(batch), limits.deadline * 9);
        assert_eq!(limits.deadline_for(u64::MAX), limits.deadline * u32::MAX);
    }
}
