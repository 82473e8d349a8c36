//! The one wasmtime [`Engine`], configured for determinism and speed, and the ticker that
//! drives its epoch deadlines.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::{
    Cache, CacheConfig, Config, Enabled, Engine, InstanceAllocationStrategy,
    PoolingAllocationConfig, ProfilingStrategy,
};

use crate::call::limits::Limits;

/// How much of each instance's linear memory stays mapped between calls, where Linux has
/// `PAGEMAP_SCAN` (6.7 and later). Memory kept is cleared on release instead of being handed
/// back to the kernel, so the next call neither faults it in again nor makes the kernel flush
/// every core's TLB. With the scan only the pages a call wrote are cleared, so a small call
/// pays for its few pages however large this is, and a projection's batch, which writes a few
/// MiB, keeps them mapped (faulting them in again for every batch was a twentieth of a replay).
const KEEP_RESIDENT_SCANNED: usize = 8 * 1024 * 1024;
/// The same without the scan: then the first this-many bytes are cleared whether written or
/// not, so it stays small.
const KEEP_RESIDENT: usize = 512 * 1024;

/// Set, this environment variable makes the engine write `/tmp/perf-<pid>.map`, so `perf`
/// can name the functions of the guests it samples.
const PERF_MAP_VAR: &str = "CAIRN_PERF_MAP";

/// How often the epoch advances. A call's deadline is counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Builds the engine. Compiled modules are cached in `cache_dir`, keyed by a hash of their
/// bytes and of this configuration, so a restart does not compile them again.
pub(crate) fn build(limits: &Limits, cache_dir: &Path) -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        // Guests get no threads (wasmtime is built without its `threads` feature), no
        // component-model concurrency (it costs about 250 ns a call), and NaNs with one bit
        // pattern, so floating point replays exactly.
        .concurrency_support(false)
        .cranelift_nan_canonicalization(true)
        .relaxed_simd_deterministic(true)
        .consume_fuel(true)
        .epoch_interruption(true)
        .max_wasm_stack(limits.stack_bytes)
        .async_stack_size(limits.stack_bytes + 256 * 1024);
    let mut pool = PoolingAllocationConfig::default();
    let instances = limits.concurrent_instances;
    // A Rust component holds a few core instances (the program and its adapters).
    pool.total_component_instances(instances)
        .total_core_instances(instances * 4)
        .total_memories(instances * 2)
        .total_tables(instances * 4)
        .total_stacks(instances)
        .max_memory_size(limits.memory_bytes)
        .table_elements(limits.table_elements)
        // Return freed instances' memory to the kernel in batches: one `madvise` per batch
        // rather than per call.
        .decommit_batch_size(16)
        .table_keep_resident(64 * 1024);
    if PoolingAllocationConfig::is_pagemap_scan_available() {
        pool.pagemap_scan(Enabled::Yes)
            .linear_memory_keep_resident(KEEP_RESIDENT_SCANNED);
    } else {
        pool.linear_memory_keep_resident(KEEP_RESIDENT);
    }
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    // `CAIRN_PERF_MAP=1` names the guests' compiled functions for `perf` (docs/runtime.md).
    if std::env::var_os(PERF_MAP_VAR).is_some() {
        config.profiler(ProfilingStrategy::PerfMap);
    }
    let mut cache = CacheConfig::new();
    // wasmtime wants an absolute path; a relative one is taken from the working directory.
    cache.with_directory(std::path::absolute(cache_dir)?);
    config.cache(Some(Cache::new(cache)?));
    Engine::new(&config)
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
#[derive(Debug)]
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    pub(crate) fn start(engine: Engine) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("cairn-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })?;
        Ok(Self { stop })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
