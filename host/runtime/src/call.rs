//! What every module call shares, whatever its world: the module as a [`Callee`] (where and
//! when its calls run), a store made for the call, and the call's failure named as a
//! [`CallError`].

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Engine, Store, Trap};

use crate::call_gate::CallGate;
use crate::error::CallError;
use crate::limits::Limits;
use crate::sandbox::{self, CallInput, DeadlineExceeded, Sandbox};
use crate::slow_lane::SlowLane;

/// When a call must be over, counted from when it was asked for: a wait for its turn at the
/// gate counts, so a caller hears back within the deadline even while the module is on
/// probation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CallDeadline {
    pub(crate) at: Instant,
    allowed: Duration,
}

impl CallDeadline {
    /// The deadline of a call asked for now with `fuel`.
    pub(crate) fn from_now(limits: &Limits, fuel: u64) -> Self {
        let allowed = limits.deadline_for(fuel);
        Self {
            at: Instant::now() + allowed,
            allowed,
        }
    }

    fn exceeded(self) -> CallError {
        CallError::DeadlineExceeded {
            deadline: self.allowed,
        }
    }
}

/// A loaded module as its calls see it: its name for the log, its [`CallGate`], and the
/// [`SlowLane`] its calls move to while it is on probation.
#[derive(Debug)]
pub(crate) struct Callee {
    pub(crate) label: Arc<str>,
    pub(crate) gate: Arc<CallGate>,
    slow_lane: Arc<SlowLane>,
}

impl Callee {
    pub(crate) fn new(label: &str, slow_lane: Arc<SlowLane>) -> Self {
        Self {
            label: Arc::from(label),
            gate: Arc::new(CallGate::new()),
            slow_lane,
        }
    }

    /// Runs `call`, a whole call of this module: here and at once, or, while the module is on
    /// probation, on the slow lane when its turn comes. There the caller keeps the deadline
    /// itself, because a call starved of CPU is not running to check it: a call whose turn
    /// does not come in time fails without running (`NoTurnBeforeDeadline`), and one still
    /// running at its deadline fails at once and is cancelled at its next yield (holding its
    /// turn until then).
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        deadline: CallDeadline,
        call: impl Future<Output = Result<T, CallError>> + Send + 'static,
    ) -> Result<T, CallError> {
        if !self.gate.on_probation() {
            return call.await;
        }
        let turn = tokio::time::timeout_at(deadline.at.into(), self.gate.take_turn())
            .await
            .map_err(|_| CallError::NoTurnBeforeDeadline {
                deadline: deadline.allowed,
            })?;
        let stopped = || CallError::Trap {
            message: "the runtime stopped during the call".into(),
        };
        let mut running = self
            .slow_lane
            .spawn(async move {
                let _turn = turn;
                call.await
            })
            .ok_or_else(stopped)?;
        match tokio::time::timeout_at(deadline.at.into(), &mut running).await {
            Ok(ended) => ended.unwrap_or_else(|_| Err(stopped())),
            Err(_) => {
                running.abort();
                Err(deadline.exceeded())
            }
        }
    }
}

/// Where a call runs, which decides whether it takes turns as it burns fuel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallThread {
    /// The async executor's threads, shared with other tasks and HTTP (aggregate calls).
    Shared,
    /// A blocking thread that serves this call alone (projection calls, whose `kv` reads
    /// redb synchronously).
    Own,
}

/// A fresh store for one call of `callee`, with `fuel`, that ends at `deadline`, taking turns
/// as it burns fuel where its thread is shared.
pub(crate) fn call_store(
    engine: &Engine,
    callee: &Callee,
    input: CallInput,
    limits: &Limits,
    fuel: u64,
    deadline: CallDeadline,
    thread: CallThread,
) -> Result<Store<Sandbox>, CallError> {
    let mut store = sandbox::new_store(
        engine,
        Arc::clone(&callee.label),
        Arc::clone(&callee.gate),
        input,
        limits,
        fuel,
        deadline.at,
    )
    .map_err(not_set_up)?;
    // Long calls take turns with other work on the executor (`Limits::fuel_yield_interval`).
    // On a thread of their own they need not: a yield there comes straight back. The slow
    // lane's threads serve nothing else either, and the kernel preempts them for everyone
    // else's. The epoch deadline (`sandbox.rs`) stops a long call wherever it runs.
    if thread == CallThread::Shared && !crate::slow_lane::on_the_lane() {
        store
            .fuel_async_yield_interval(Some(limits.fuel_yield_interval.max(1)))
            .map_err(not_set_up)?;
    }
    Ok(store)
}

fn not_set_up(e: wasmtime::Error) -> CallError {
    CallError::Trap {
        message: format!("the sandbox could not be set up: {e}"),
    }
}

/// Logs the call's output and turns a failure into a [`CallError`].
pub(crate) fn finish_call<T>(
    store: &Store<Sandbox>,
    fuel: u64,
    limits: &Limits,
    result: wasmtime::Result<T>,
) -> Result<T, CallError> {
    store.data().flush_output();
    result.map_err(|error| {
        let error = classify(error, store, fuel, limits);
        tracing::warn!(module = %store.data().module, %error, "call failed");
        error
    })
}

/// Names what went wrong in a call. A call that ran out of fuel or time puts its module on
/// probation at its gate.
pub(crate) fn classify(
    error: wasmtime::Error,
    store: &Store<Sandbox>,
    fuel: u64,
    limits: &Limits,
) -> CallError {
    let error = name_failure(error, store, fuel, limits);
    if matches!(
        error,
        CallError::OutOfFuel { .. } | CallError::DeadlineExceeded { .. }
    ) {
        store.data().gate.offended();
    }
    error
}

fn name_failure(
    error: wasmtime::Error,
    store: &Store<Sandbox>,
    fuel: u64,
    limits: &Limits,
) -> CallError {
    if store.data().memory_exceeded() {
        return CallError::OutOfMemory {
            limit: limits.memory_bytes,
        };
    }
    if error.is::<DeadlineExceeded>() {
        return CallError::DeadlineExceeded {
            deadline: limits.deadline_for(fuel),
        };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => CallError::OutOfFuel { fuel },
        Some(Trap::StackOverflow) => CallError::StackOverflow,
        Some(Trap::Interrupt) => CallError::DeadlineExceeded {
            deadline: limits.deadline_for(fuel),
        },
        // A trap's own words, without the backtrace of unnamed wasm functions around them.
        Some(trap) => CallError::Trap {
            message: with_last_words(trap.to_string(), store.data()),
        },
        None => CallError::Trap {
            message: with_last_words(format!("{error:#}"), store.data()),
        },
    }
}

/// `message`, and what the guest last wrote to stderr if anything: a Rust guest's panic
/// message is there, and says far more than the trap it ends in.
fn with_last_words(message: String, sandbox: &Sandbox) -> String {
    match sandbox.last_words() {
        Some(words) => format!("{message}; its stderr: {words}"),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::slow_lane::on_the_lane;

    fn callee() -> Callee {
        Callee::new("m", Arc::new(SlowLane::start().expect("the lane starts")))
    }

    #[tokio::test]
    async fn a_call_runs_here_until_its_module_is_on_probation_then_on_the_slow_lane() {
        let callee = callee();
        let deadline = CallDeadline::from_now(&Limits::default(), 1);
        let here = callee.run(deadline, async { Ok(on_the_lane()) }).await;
        assert_eq!(here.ok(), Some(false));

        callee.gate.offended();
        let deadline = CallDeadline::from_now(&Limits::default(), 1);
        let there = callee.run(deadline, async { Ok(on_the_lane()) }).await;
        assert_eq!(there.ok(), Some(true));
    }

    #[tokio::test]
    async fn a_call_whose_turn_does_not_come_before_its_deadline_fails_without_running() {
        let callee = callee();
        callee.gate.offended();
        let held = callee.gate.take_turn().await;
        let ran = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&ran);
        let allowed = Duration::from_millis(20);
        let deadline = CallDeadline {
            at: Instant::now() + allowed,
            allowed,
        };
        let result = callee
            .run(deadline, async move {
                flag.store(true, Ordering::SeqCst);
                Ok(())
            })
            .await;
        assert!(
            matches!(result, Err(CallError::NoTurnBeforeDeadline { deadline }) if deadline == allowed),
            "{result:?}"
        );
        assert!(
            !ran.load(Ordering::SeqCst),
            "the call ran after its deadline"
        );
        drop(held);
    }

    #[tokio::test]
    async fn a_call_still_running_on_the_lane_at_its_deadline_fails_then() {
        let callee = callee();
        callee.gate.offended();
        let allowed = Duration::from_millis(20);
        let deadline = CallDeadline {
            at: Instant::now() + allowed,
            allowed,
        };
        let (ended_tx, ended_rx) = tokio::sync::oneshot::channel::<()>();
        let result = callee
            .run(deadline, async move {
                // Stands for a call the lane cannot finish in time; it ends when cancelled.
                let _ended = ended_tx;
                tokio::time::sleep(Duration::from_secs(600)).await;
                Ok(())
            })
            .await;
        assert!(
            matches!(result, Err(CallError::DeadlineExceeded { .. })),
            "{result:?}"
        );
        // The cancelled call lets its turn go only when it has ended.
        let _ = ended_rx.await;
        let next = tokio::time::timeout(Duration::from_secs(10), callee.gate.take_turn()).await;
        assert!(next.is_ok(), "the turn was never given back");
    }
}
