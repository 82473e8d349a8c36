//! [`CpuMeter`]: the CPU time one call has used, read from the CPU clock of whichever thread ran
//! it, so that a module is blamed for its own work and never for time it spent waiting.
//!
//! A call's future is polled on many threads over its life (an aggregate call yields to the
//! executor as it burns fuel and may come back on another worker; a call on the slow lane may
//! wait for the CPU for a long time while the host is busy). Wall time says nothing about what
//! the call did. [`Metered`] wraps the call's future and, around every poll, reads the polling
//! thread's CPU clock: what the thread used during the poll is what the call used. The
//! epoch callback (`sandbox.rs`) runs inside a poll, on the same thread, and adds the part of
//! the running poll so far ([`CpuMeter::used`]).
//!
//! Invariants:
//! 1. `spent` only grows, by the CPU of a poll that has ended; `poll_began` is non-zero exactly
//!    while a poll of the call runs, and only that poll's thread writes it.
//! 2. One call's future is polled by one thread at a time (a future is `!Sync` in use), so the
//!    two fields never describe two polls at once.
//!
//! Where there is no per-thread CPU clock (not Linux), the meter reads zero and only fuel and
//! the wall-clock backstop bound a call.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

/// The CPU time one call has used so far, over all the polls of its future.
#[derive(Debug, Default)]
pub(crate) struct CpuMeter {
    /// Nanoseconds of CPU used by the polls that have ended (invariant 1).
    spent: AtomicU64,
    /// The polling thread's CPU clock, in nanoseconds plus one, when the running poll began;
    /// zero between polls (invariant 1).
    poll_began: AtomicU64,
}

impl CpuMeter {
    /// The CPU the call has used: the ended polls, and the running one so far if the caller is
    /// inside it (the epoch callback is).
    pub(crate) fn used(&self) -> Duration {
        let spent = self.spent.load(Ordering::Relaxed);
        let running = match self.poll_began.load(Ordering::Relaxed) {
            0 => 0,
            began => thread_cpu_nanos().map_or(0, |now| now.saturating_sub(began - 1)),
        };
        Duration::from_nanos(spent.saturating_add(running))
    }

    fn begin_poll(&self) -> Option<u64> {
        let now = thread_cpu_nanos()?;
        self.poll_began
            .store(now.saturating_add(1), Ordering::Relaxed);
        Some(now)
    }

    fn end_poll(&self, began: Option<u64>) {
        self.poll_began.store(0, Ordering::Relaxed);
        if let (Some(began), Some(now)) = (began, thread_cpu_nanos()) {
            self.spent
                .fetch_add(now.saturating_sub(began), Ordering::Relaxed);
        }
    }
}

/// A call's future, metered by its [`CpuMeter`] around every poll.
pub(crate) struct Metered<F> {
    call: Pin<Box<F>>,
    meter: std::sync::Arc<CpuMeter>,
}

impl<F> std::fmt::Debug for Metered<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metered")
            .field("meter", &self.meter)
            .finish_non_exhaustive()
    }
}

impl<F: Future> Metered<F> {
    pub(crate) fn new(call: F, meter: std::sync::Arc<CpuMeter>) -> Self {
        Self {
            call: Box::pin(call),
            meter,
        }
    }
}

impl<F: Future> Future for Metered<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let began = self.meter.begin_poll();
        let polled = self.call.as_mut().poll(cx);
        self.meter.end_poll(began);
        polled
    }
}

/// The calling thread's CPU clock, in nanoseconds.
#[cfg(target_os = "linux")]
pub(crate) fn thread_cpu_nanos() -> Option<u64> {
    use rustix::time::{ClockId, clock_gettime};
    let now = clock_gettime(ClockId::ThreadCPUTime);
    let seconds = u64::try_from(now.tv_sec).ok()?;
    let nanos = u64::try_from(now.tv_nsec).ok()?;
    Some(seconds.saturating_mul(1_000_000_000).saturating_add(nanos))
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn thread_cpu_nanos() -> Option<u64> {
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;

    fn spin_for_cpu(cpu: Duration) {
        let start = thread_cpu_nanos().expect("a thread clock");
        let mut spins = 0u64;
        while thread_cpu_nanos().expect("a thread clock") - start < cpu.as_nanos() as u64 {
            spins = std::hint::black_box(spins.wrapping_add(1));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn counts_the_cpu_of_every_poll_and_none_of_the_waits_between() {
        let meter = Arc::new(CpuMeter::default());
        let began = Instant::now();
        Metered::new(
            async {
                for _ in 0..3 {
                    spin_for_cpu(Duration::from_millis(5));
                    // Waiting costs the call nothing: it is not running.
                    tokio::time::sleep(Duration::from_millis(30)).await;
                }
            },
            Arc::clone(&meter),
        )
        .await;
        let wall = began.elapsed();
        let used = meter.used();
        assert!(used >= Duration::from_millis(15), "{used:?}");
        assert!(
            used < Duration::from_millis(60) && wall >= Duration::from_millis(90),
            "the waits were counted: {used:?} of CPU over {wall:?}"
        );
    }

    #[test]
    fn a_thread_off_the_cpu_uses_nothing() {
        let meter = Arc::new(CpuMeter::default());
        let call = Metered::new(
            async { std::thread::sleep(Duration::from_millis(50)) },
            Arc::clone(&meter),
        );
        futures_executor_block_on(call);
        assert!(
            meter.used() < Duration::from_millis(10),
            "{:?}",
            meter.used()
        );
    }

    #[test]
    fn inside_a_poll_the_running_part_counts() {
        let meter = Arc::new(CpuMeter::default());
        let seen = Arc::new(AtomicU64::new(0));
        let (inner, out) = (Arc::clone(&meter), Arc::clone(&seen));
        futures_executor_block_on(Metered::new(
            async move {
                spin_for_cpu(Duration::from_millis(10));
                let used = inner.used().as_nanos() as u64;
                out.store(used, Ordering::Relaxed);
            },
            Arc::clone(&meter),
        ));
        assert!(seen.load(Ordering::Relaxed) >= 10_000_000);
    }

    fn futures_executor_block_on<F: Future>(call: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
            .block_on(call)
    }
}
