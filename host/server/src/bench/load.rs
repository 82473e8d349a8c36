//! A closed-loop load: `workers` tasks, each doing its operations one after another, every
//! operation's latency recorded.

use std::future::Future;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// What a load did.
pub(crate) struct LoadResult {
    /// Operations completed.
    pub(crate) operations: u64,
    /// Wall time from the first start to the last finish.
    pub(crate) elapsed: Duration,
    /// Latency of each operation, in microseconds.
    pub(crate) latency_us: Histogram<u64>,
}

impl LoadResult {
    pub(crate) fn per_second(&self, units_per_operation: u64) -> f64 {
        (self.operations * units_per_operation) as f64 / self.elapsed.as_secs_f64()
    }

    pub(crate) fn quantile_ms(&self, q: f64) -> f64 {
        self.latency_us.value_at_quantile(q) as f64 / 1_000.0
    }
}

/// Runs `operation(worker, n)` for n in `0..per_worker` on each of `workers` tasks at once.
pub(crate) async fn drive<F, Fut>(
    workers: usize,
    per_worker: usize,
    operation: F,
) -> anyhow::Result<LoadResult>
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let start = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|worker| {
            let operation = operation.clone();
            tokio::spawn(async move {
                let mut latency = new_histogram();
                for n in 0..per_worker {
                    let began = Instant::now();
                    operation(worker, n).await?;
                    latency.saturating_record(began.elapsed().as_micros() as u64);
                }
                Ok::<_, anyhow::Error>(latency)
            })
        })
        .collect();
    let mut latency_us = new_histogram();
    for task in tasks {
        latency_us.add(task.await??)?;
    }
    Ok(LoadResult {
        operations: latency_us.len(),
        elapsed: start.elapsed(),
        latency_us,
    })
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs to 60 s at 3 significant figures.
    Histogram::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|_| unreachable!("valid bounds"))
}
