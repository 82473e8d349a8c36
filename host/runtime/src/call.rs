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
use crate::sandbox::{self, CallInput, CallLog, DeadlineExceeded, Sandbox};
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

/// Logs the call's output (unless the call is [quiet](CallLog::Quiet)) and turns a failure
/// into a [`CallError`].
pub(crate) fn finish_call<T>(
    store: &Store<Sandbox>,
    fuel: u64,
    limits: &Limits,
    result: wasmtime::Result<T>,
) -> Result<T, CallError> {
    let sandbox = store.data();
    if sandbox.log == CallLog::Logged {
        sandbox.flush_output();
    }
    result.map_err(|error| {
        let error = classify(error, store, fuel, limits);
        match sandbox.log {
            CallLog::Logged => tracing::warn!(module = %sandbox.module, %error, "call failed"),
            CallLog::Quiet => tracing::debug!(module = %sandbox.module, %error, "call failed"),
        }
        error
    })
}

/// Names what went wrong in a call. A call that ran out of fuel or time puts its module on
/// probation at its gate, or keeps it there, if it [counts against the
/// module](counts_against_module).
pub(crate) fn classify(
    error: wasmtime::Error,
    store: &Store<Sandbox>,
    fuel: u64,
    limits: &Limits,
) -> CallError {
    let error = name_failure(error, store, fuel, limits);
    let sandbox = store.data();
    let lane_cpu = sandbox.lane_cpu();
    if counts_against_module(&error, lane_cpu) {
        if sandbox.gate.offended() {
            tracing::warn!(
                module = %sandbox.module,
                %error,
                "the module is on probation: its calls take turns on the slow lane until {} s \
                 pass without another call that runs out of fuel or time",
                crate::call_gate::PROBATION.as_secs()
            );
        }
    } else if let (CallError::DeadlineExceeded { .. }, Some(cpu)) = (&error, lane_cpu) {
        tracing::debug!(
            module = %sandbox.module,
            cpu_us = cpu.as_micros(),
            %error,
            "a call on the slow lane was starved of CPU; not counted against its module"
        );
    }
    error
}

/// Whether a failed call counts against its module (puts it on probation, or keeps it there).
/// Running out of fuel always does: fuel is the module's own work. Passing the deadline does
/// off the slow lane (`lane_cpu` is `None`), and on it only if the call had the CPU for at
/// least a quarter of its allowed time. There a call can pass its deadline without having run:
/// the lane is starved while the host is busy with other work, and a call whose turn came just
/// before its deadline has almost no time; neither says anything about the module, and
/// counting them would keep a module that looped once on probation for as long as its host
/// stays busy or its callers keep it queued.
fn counts_against_module(error: &CallError, lane_cpu: Option<Duration>) -> bool {
    match error {
        CallError::OutOfFuel { .. } => true,
        CallError::DeadlineExceeded { deadline } => {
            lane_cpu.is_none_or(|cpu| cpu.saturating_mul(4) >= *deadline)
        }
        _ => false,
    }
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

    /// A call of `callee` that fails by passing its deadline, classified as a real call's
    /// failure is: in a store made where the call runs, after `meanwhile` has run in it.
    /// Returns whether the failure was named as the deadline.
    fn pass_the_deadline(
        callee: &Callee,
        limits: &Limits,
        meanwhile: impl FnOnce(&Store<Sandbox>),
    ) -> bool {
        let cache = tempfile::tempdir().expect("a cache directory");
        let engine = crate::engine::build(limits, cache.path()).expect("the engine builds");
        let fuel = limits.fuel_per_call;
        let deadline = CallDeadline::from_now(limits, fuel);
        let store = call_store(
            &engine,
            callee,
            CallInput::FIXED,
            limits,
            fuel,
            deadline,
            CallThread::Shared,
        )
        .expect("a store");
        meanwhile(&store);
        let error = classify(wasmtime::Error::new(DeadlineExceeded), &store, fuel, limits);
        matches!(error, CallError::DeadlineExceeded { .. })
    }

    fn short_deadline() -> Limits {
        Limits {
            deadline: Duration::from_millis(4),
            ..Limits::default()
        }
    }

    #[tokio::test]
    async fn a_call_starved_on_the_lane_past_its_deadline_does_not_count_against_its_module() {
        let callee = Arc::new(callee());
        let limits = short_deadline();
        let lane = Arc::clone(&callee.slow_lane);
        let on_the_lane = Arc::clone(&callee);
        let named = lane
            .spawn(async move {
                pass_the_deadline(&on_the_lane, &limits, |_| {
                    // The thread is off the CPU until the deadline has passed, as when the
                    // host's other work takes every core.
                    std::thread::sleep(Duration::from_millis(8));
                })
            })
            .expect("the lane is running")
            .await
            .expect("the call ends");
        assert!(named, "the failure was not named as the deadline");
        assert!(
            !callee.gate.on_probation(),
            "a call that never had the CPU put its module on probation"
        );
    }

    #[tokio::test]
    async fn a_call_that_had_the_cpu_on_the_lane_and_passed_its_deadline_counts() {
        let callee = Arc::new(callee());
        let limits = short_deadline();
        let quarter = limits.deadline / 4;
        let lane = Arc::clone(&callee.slow_lane);
        let on_the_lane = Arc::clone(&callee);
        let named = lane
            .spawn(async move {
                pass_the_deadline(&on_the_lane, &limits, |store| {
                    // Busy, as a looping guest is, until the thread has had a quarter of the
                    // allowed time on the CPU (read from the thread's own clock, not the wall).
                    let mut spins = 0u64;
                    while store.data().lane_cpu().is_some_and(|cpu| cpu < quarter) {
                        spins = std::hint::black_box(spins.wrapping_add(1));
                    }
                })
            })
            .expect("the lane is running")
            .await
            .expect("the call ends");
        assert!(named, "the failure was not named as the deadline");
        assert!(
            callee.gate.on_probation(),
            "a call that had the CPU and passed its deadline did not count"
        );
    }

    #[test]
    fn off_the_lane_a_call_past_its_deadline_counts_however_little_it_ran() {
        let callee = callee();
        let limits = short_deadline();
        let named = pass_the_deadline(&callee, &limits, |_| {
            std::thread::sleep(Duration::from_millis(8));
        });
        assert!(named, "the failure was not named as the deadline");
        assert!(callee.gate.on_probation());
    }

    #[test]
    fn fuel_always_counts_and_the_deadline_on_the_lane_only_after_a_quarter_of_it_on_the_cpu() {
        let allowed = Duration::from_millis(40);
        let deadline = CallError::DeadlineExceeded { deadline: allowed };
        let fuel = CallError::OutOfFuel { fuel: 1 };
        assert!(counts_against_module(&fuel, None));
        assert!(counts_against_module(&fuel, Some(Duration::ZERO)));
        assert!(counts_against_module(&deadline, None));
        assert!(counts_against_module(&deadline, Some(allowed / 4)));
        assert!(counts_against_module(&deadline, Some(allowed)));
        assert!(!counts_against_module(
            &deadline,
            Some(allowed / 4 - Duration::from_micros(1))
        ));
        assert!(!counts_against_module(&deadline, Some(Duration::ZERO)));
        let trap = CallError::Trap {
            message: "unreachable".into(),
        };
        assert!(!counts_against_module(&trap, None));
        assert!(!counts_against_module(&CallError::StackOverflow, None));
    }

    /// What [`finish_call`] logs, at every level, for a call of a store whose log is `log`
    /// that failed with a trap.
    fn logged_failure(log: CallLog) -> String {
        #[derive(Clone, Default)]
        struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Captured {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0
                    .lock()
                    .expect("not poisoned")
                    .extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let limits = Limits::default();
        let cache = tempfile::tempdir().expect("a cache directory");
        let engine = crate::engine::build(&limits, cache.path()).expect("the engine builds");
        let fuel = limits.fuel_per_call;
        let mut store = call_store(
            &engine,
            &callee(),
            CallInput::FIXED,
            &limits,
            fuel,
            CallDeadline::from_now(&limits, fuel),
            CallThread::Own,
        )
        .expect("a store");
        store.data_mut().log = log;
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let failed = wasmtime::Error::msg("the guest gave up");
            let result = finish_call::<()>(&store, fuel, &limits, Err(failed));
            assert!(matches!(result, Err(CallError::Trap { .. })), "{result:?}");
        });
        let bytes = captured.0.lock().expect("not poisoned").clone();
        String::from_utf8(bytes).expect("the log is text")
    }

    #[test]
    fn a_failed_call_is_a_warning_and_a_quiet_ones_only_a_debug_line() {
        let logged = logged_failure(CallLog::Logged);
        assert!(
            logged.contains("WARN") && logged.contains("the guest gave up"),
            "{logged}"
        );
        let quiet = logged_failure(CallLog::Quiet);
        assert!(
            !quiet.contains("WARN")
                && quiet.contains("DEBUG")
                && quiet.contains("the guest gave up"),
            "{quiet}"
        );
    }
}
