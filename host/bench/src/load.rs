//! A closed-loop load: `workers` tasks, each doing its operations one after another, every
//! measured operation's latency recorded.

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
    drive_after_warmup(workers, 0, per_worker, operation).await
}

/// Like [`drive`], but each task first runs `warmup` operations (n in `0..warmup`) that are not
/// measured, then `per_worker` that are (n from `warmup` on). Tasks that start in the same
/// instant move in lockstep at first; the warm-up lets that settle before anything is measured.
/// Tasks do not wait for each other after it, which would put them back in lockstep. The
/// measured wall time runs from the first measured start to the last finish, so warm-up
/// operations still running then count against the rate, never for it.
pub(crate) async fn drive_after_warmup<F, Fut>(
    workers: usize,
    warmup: usize,
    per_worker: usize,
    operation: F,
) -> anyhow::Result<LoadResult>
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let tasks: Vec<_> = (0..workers)
        .map(|worker| {
            let operation = operation.clone();
            tokio::spawn(async move {
                for n in 0..warmup {
                    operation(worker, n).await?;
                }
                let measured_from = Instant::now();
                let mut latency = new_histogram();
                for n in warmup..warmup + per_worker {
                    let began = Instant::now();
                    operation(worker, n).await?;
                    latency.saturating_record(began.elapsed().as_micros() as u64);
                }
                Ok::<_, anyhow::Error>((measured_from, latency))
            })
        })
        .collect();
    let mut latency_us = new_histogram();
    let mut first_start: Option<Instant> = None;
    for task in tasks {
        let (measured_from, latency) = task.await??;
        first_start = Some(first_start.map_or(measured_from, |first| first.min(measured_from)));
        latency_us.add(latency)?;
    }
    Ok(LoadResult {
        operations: latency_us.len(),
        elapsed: first_start.map_or(Duration::ZERO, |first| first.elapsed()),
        latency_us,
    })
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs to 60 s at 3 significant figures.
    Histogram::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|_| unreachable!("valid bounds"))
}
