//! The deterministic sandbox a call runs in: a fresh [`Store`] per call, holding a WASI context
//! with no filesystem, network, environment or arguments, a clock that reads the call's time,
//! random numbers seeded from the call's seed, stdout and stderr captured for the log, a memory
//! limit, fuel, a CPU limit and a wall-clock backstop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{
    HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView,
};

use crate::call::call_gate::CallGate;
use crate::call::callee::CallBudget;
use crate::call::cpu_meter::CpuMeter;
use crate::call::limits::Limits;

/// What makes a call deterministic: the time its clock reads and the seed of its randomness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallInput {
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// Seeds every random number generator the guest can reach.
    pub seed: [u8; 32],
}

impl CallInput {
    /// The input of a call that no command or event drives (`init`'s empty state, a
    /// projection's `subscription` and `query`): the clock at 0, randomness seeded with zeros.
    pub const FIXED: CallInput = CallInput {
        time_ms: 0,
        seed: [0; 32],
    };
}

/// How much of the guest's stderr a failed call's error quotes.
const LAST_WORDS_BYTES: usize = 512;

/// The state of one call's store.
pub(crate) struct Sandbox {
    wasi: WasiCtx,
    table: ResourceTable,
    memory: MemoryLimit,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
    /// The module's name, for the log.
    pub(crate) module: Arc<str>,
    /// A projection call's read model; `None` in aggregate calls.
    pub(crate) kv: Option<crate::projections::kv_session::KvSession>,
    /// The module's gate, told when the call runs out of fuel or CPU.
    pub(crate) gate: Arc<CallGate>,
    /// The CPU the call has used, over every thread that ran it.
    cpu: Arc<CpuMeter>,
    /// Whether the guest's output and the call's failure go to the log.
    pub(crate) log: CallLog,
}

/// Whether a call's output and failure are logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallLog {
    /// The guest's stdout and stderr at info, a failure as a warning: every call but these.
    Logged,
    /// Only a failure, at debug: a call that repeats part of one logged already (the search
    /// for the event a projection's batch failed on, `projections/runner/failed_batch.rs`).
    Quiet,
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl Sandbox {
    /// The CPU time the call has used so far.
    pub(crate) fn cpu_used(&self) -> Duration {
        self.cpu.used()
    }

    /// Whether the guest asked for more memory than its limit.
    pub(crate) fn memory_exceeded(&self) -> bool {
        self.memory.exceeded
    }

    /// The end of what the guest wrote to stderr, on one line, at most [`LAST_WORDS_BYTES`];
    /// `None` if it wrote nothing. Rust's hint about `RUST_BACKTRACE` is left out: no guest can
    /// act on it.
    pub(crate) fn last_words(&self) -> Option<String> {
        let bytes = self.stderr.contents();
        let text = String::from_utf8_lossy(&bytes);
        let words = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
            .collect::<Vec<_>>()
            .join(" ");
        if words.is_empty() {
            return None;
        }
        let mut start = words.len().saturating_sub(LAST_WORDS_BYTES);
        while !words.is_char_boundary(start) {
            start += 1;
        }
        Some(words[start..].to_owned())
    }

    /// Sends what the guest wrote to stdout and stderr to the log, tagged with its name.
    pub(crate) fn flush_output(&self) {
        for (stream, pipe) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let bytes = pipe.contents();
            for line in String::from_utf8_lossy(&bytes)
                .lines()
                .filter(|l| !l.is_empty())
            {
                tracing::info!(module = %self.module, stream, "{line}");
            }
        }
    }
}

/// A new store for one call of `module`, with `fuel`, within `budget`.
pub(crate) fn new_store(
    engine: &Engine,
    module: Arc<str>,
    gate: Arc<CallGate>,
    input: CallInput,
    limits: &Limits,
    fuel: u64,
    budget: &CallBudget,
) -> wasmtime::Result<Store<Sandbox>> {
    let stdout = MemoryOutputPipe::new(limits.output_bytes);
    let stderr = MemoryOutputPipe::new(limits.output_bytes);
    let mut insecure_seed = [0u8; 16];
    insecure_seed.copy_from_slice(&input.seed[..16]);
    let wasi = WasiCtxBuilder::new()
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .wall_clock(FixedClock(Duration::from_millis(input.time_ms)))
        .monotonic_clock(StoppedClock)
        .secure_random(StdRng::from_seed(input.seed))
        .insecure_random(StdRng::from_seed(input.seed))
        .insecure_random_seed(u128::from_le_bytes(insecure_seed))
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build();
    let sandbox = Sandbox {
        wasi,
        table: ResourceTable::new(),
        memory: MemoryLimit {
            max_bytes: limits.memory_bytes,
            exceeded: false,
        },
        stdout,
        stderr,
        module,
        kv: None,
        gate,
        cpu: Arc::clone(&budget.meter),
        log: CallLog::Logged,
    };
    let mut store = Store::new(engine, sandbox);
    store.limiter(|sandbox| &mut sandbox.memory);
    store.set_fuel(fuel)?;
    // At each epoch tick the call is checked (`check_at_tick`): past its CPU limit, or past its
    // backstop (a moment in wall time, so a call that hangs still ends), it stops; after its
    // first tick it yields to the executor at every tick, so a long call never holds a thread.
    // Short calls (nearly all) run straight through.
    let mut first_tick = true;
    let (meter, cpu_limit, backstop_at) =
        (Arc::clone(&budget.meter), budget.cpu, budget.backstop_at);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        check_at_tick(meter.used(), cpu_limit, Instant::now(), backstop_at)?;
        if std::mem::take(&mut first_tick) {
            Ok(UpdateDeadline::Continue(1))
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });
    Ok(store)
}

/// What a call is checked for at an epoch tick: the CPU it has `used` against its limit (the
/// module's fault), then `now` against its backstop (the host's). CPU first: a call that has
/// both used its CPU and reached its backstop did the work that made it late.
fn check_at_tick(
    used: Duration,
    cpu_limit: Duration,
    now: Instant,
    backstop_at: Instant,
) -> wasmtime::Result<()> {
    if used >= cpu_limit {
        return Err(wasmtime::Error::new(CpuLimitReached));
    }
    if now >= backstop_at {
        return Err(wasmtime::Error::new(BackstopReached));
    }
    Ok(())
}

/// The error a call ends with when it has used its CPU limit.
#[derive(Debug, thiserror::Error)]
#[error("the call used its CPU limit")]
pub(crate) struct CpuLimitReached;

/// The error a call ends with when it reaches its wall-clock backstop.
#[derive(Debug, thiserror::Error)]
#[error("the call reached its backstop")]
pub(crate) struct BackstopReached;

/// The error a call ends with when the store failed under a host import it called: the call
/// stops at once, as the host's fault ([`crate::CallError::HostStorage`]).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ImportStorageFailed(pub(crate) String);

/// Refuses growth past the memory limit, and remembers that it did.
struct MemoryLimit {
    max_bytes: usize,
    exceeded: bool,
}

impl ResourceLimiter for MemoryLimit {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.exceeded = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

/// A wall clock stopped at the call's time.
struct FixedClock(Duration);

impl HostWallClock for FixedClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn now(&self) -> Duration {
        self.0
    }
}

/// A monotonic clock that never moves: elapsed time inside a call is always zero.
struct StoppedClock;

impl HostMonotonicClock for StoppedClock {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tick_stops_a_call_for_its_cpu_first_and_for_the_backstop_only_when_it_is_reached() {
        let now = Instant::now();
        let later = now + Duration::from_secs(30);
        let limit = Duration::from_millis(250);
        let stops = |used, at| check_at_tick(used, limit, at, later);
        // A starved call: little CPU, long after it began, before the backstop.
        assert!(stops(Duration::from_millis(1), later - Duration::from_millis(1)).is_ok());
        assert!(
            stops(limit, now)
                .expect_err("over its CPU")
                .is::<CpuLimitReached>()
        );
        assert!(
            stops(Duration::ZERO, later)
                .expect_err("at the backstop")
                .is::<BackstopReached>()
        );
        assert!(
            stops(limit * 2, later)
                .expect_err("both")
                .is::<CpuLimitReached>()
        );
    }
}
