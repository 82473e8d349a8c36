//! [`SlowLane`]: one thread apart from the executor's, at the lowest CPU priority there is,
//! where the calls of modules on probation run (see `call_gate.rs`).
//!
//! A guest that loops would otherwise hold an executor thread for its whole fuel budget, taking
//! turns with the requests of everyone else. On the slow lane it gets only the CPU time that
//! nothing else wants: on Linux its thread is `SCHED_IDLE`, which any other thread waking on its
//! core preempts at once, so the executor, the store's writer and the HTTP server run first;
//! and one core is always left to them. Its calls still end: fuel or CPU runs out, or the
//! wall-clock backstop is reached.
//!
//! One thread, not one per core: a low-priority thread on every core would leave no core idle
//! for the others' wake-ups, and on two cores that put the other commands' p99 at about twice
//! its baseline (docs/performance.md, `cairn bench sandbox`).
//!
//! Elsewhere the lane's thread keeps normal priority, which still keeps the executor's threads
//! free.
//!
//! The lane is starved whenever the host is busy, so a call there can wait long for the CPU.
//! That costs the module nothing: a call is blamed only for the CPU it used (`cpu_meter.rs`),
//! and only the backstop, the host's fault, ends a wait.

use std::future::Future;

use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinHandle;

thread_local! {
    /// Whether this thread is a slow lane's.
    static ON_THE_LANE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the calling thread is a slow lane's.
pub(crate) fn on_the_lane() -> bool {
    ON_THE_LANE.get()
}

/// The lane's thread, running until the lane is dropped.
#[derive(Debug)]
pub(crate) struct SlowLane {
    runtime: Option<Runtime>,
}

impl SlowLane {
    pub(crate) fn start() -> std::io::Result<Self> {
        let runtime = Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("cairn-slow-lane")
            // Every thread of the lane, its blocking ones too.
            .on_thread_start(|| {
                ON_THE_LANE.set(true);
                lower_priority();
            })
            .enable_time()
            .build()?;
        Ok(Self {
            runtime: Some(runtime),
        })
    }

    /// Starts `call` on the lane. `None` if the lane has stopped.
    pub(crate) fn spawn<T: Send + 'static>(
        &self,
        call: impl Future<Output = T> + Send + 'static,
    ) -> Option<JoinHandle<T>> {
        Some(self.runtime.as_ref()?.spawn(call))
    }
}

impl Drop for SlowLane {
    fn drop(&mut self) {
        // Calls still running are dropped, and their callers get an error. Dropping a runtime
        // the usual way would block, which an async caller may not.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    use thread_priority::ThreadPriority;
    use thread_priority::unix::{
        NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
        thread_native_id,
    };
    let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
    if let Err(error) =
        set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle)
    {
        tracing::warn!(?error, "the slow lane keeps normal priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_on_the_lane_runs_on_its_own_thread_and_returns_its_result() {
        let lane = SlowLane::start().expect("the lane starts");
        let here = std::thread::current().id();
        let (result, there) = lane
            .spawn(async { (6 * 7, std::thread::current().id()) })
            .expect("the lane is running")
            .await
            .expect("the call ends");
        assert_eq!(result, 42);
        assert_ne!(there, here);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_lanes_thread_runs_only_when_a_core_is_otherwise_idle() {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, thread_native_id,
            thread_schedule_policy_param,
        };
        let lane = SlowLane::start().expect("the lane starts");
        let (policy, _) = lane
            .spawn(async { thread_schedule_policy_param(thread_native_id()) })
            .expect("the lane is running")
            .await
            .expect("the call ends")
            .expect("the policy reads");
        assert_eq!(
            policy,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle)
        );
    }
}
