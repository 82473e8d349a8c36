//! What every module call shares, whatever its world: the module as a [`Callee`] (where and
//! when its calls run), the [`CallBudget`] of one call (fuel, CPU and the wall-clock backstop),
//! a store made for the call, and the call's failure named as a [`CallError`].
//!
//! Blame follows work. A module is put on probation only for what its call did: running out of
//! fuel, or using more CPU than allowed on the CPU clock of the threads that ran it
//! (`cpu_meter.rs`). Time a call spends waiting (for a busy host's CPU, for its turn) is never
//! its fault. The backstop, in seconds of wall time, ends a call that uses neither fuel nor CPU
//! (a host import that hangs, a host too busy to run it); reaching it is the host's fault.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Engine, Store, Trap};

use crate::call::call_gate::CallGate;
use crate::call::call_metrics::count_call;
use crate::call::cpu_meter::{CpuMeter, Metered};
use crate::call::limits::Limits;
use crate::call::sandbox::{
    self, BackstopReached, CallInput, CallLog, CpuLimitReached, ImportStorageFailed, Sandbox,
};
use crate::call::slow_lane::SlowLane;
use crate::error::CallError;

/// What one call may use: its CPU limit, measured by its [`CpuMeter`], and its backstop, a
/// moment in wall time counted from when the call was asked for (a wait for its turn at the
/// gate counts, so a caller always hears back).
#[derive(Clone, Debug)]
pub(crate) struct CallBudget {
    pub(crate) cpu: Duration,
    pub(crate) backstop_at: Instant,
    backstop: Duration,
    pub(crate) meter: Arc<CpuMeter>,
}

impl CallBudget {
    /// The budget of a call asked for now with `fuel`.
    pub(crate) fn from_now(limits: &Limits, fuel: u64) -> Self {
        let backstop = limits.backstop_for(fuel);
        Self {
            cpu: limits.cpu_for(fuel),
            backstop_at: Instant::now() + backstop,
            backstop,
            meter: Arc::new(CpuMeter::default()),
        }
    }

    /// `call`, the future that runs the guest, metered on every poll. Every call's innermost
    /// future (the one whose polls run the guest) is metered exactly once.
    pub(crate) fn metered<F: Future>(&self, call: F) -> Metered<F> {
        Metered::new(call, Arc::clone(&self.meter))
    }

    pub(crate) fn backstop_reached(&self) -> CallError {
        CallError::HostBackstop {
            after: self.backstop,
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

    /// Runs the call `make` builds from its own copy of `budget`, metered on every poll
    /// ([`CallBudget::metered`]), as [`Callee::run`] does: the usual shape of a call whose
    /// guest runs in the future it is given.
    pub(crate) async fn run_metered<T, F>(
        &self,
        export: &'static str,
        budget: &CallBudget,
        make: impl FnOnce(CallBudget) -> F,
    ) -> Result<T, CallError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, CallError>> + Send + 'static,
    {
        self.run(export, budget, budget.metered(make(budget.clone())))
            .await
    }

    /// Runs `call`, a whole call of this module (metered by the caller, see
    /// [`CallBudget::metered`]): here and at once, or, while the module is on probation, on the
    /// slow lane when its turn comes. A call waits for its turn as long as it must: it did no
    /// wrong. Only the backstop ends a wait or a run, as the host's fault; a call still
    /// running then is cancelled at its next yield (holding its turn until then).
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        export: &'static str,
        budget: &CallBudget,
        call: impl Future<Output = Result<T, CallError>> + Send + 'static,
    ) -> Result<T, CallError> {
        let result = self.run_uncounted(budget, call).await;
        count_call(&self.label, export, result.as_ref().err());
        result
    }

    async fn run_uncounted<T: Send + 'static>(
        &self,
        budget: &CallBudget,
        call: impl Future<Output = Result<T, CallError>> + Send + 'static,
    ) -> Result<T, CallError> {
        let backstop = budget.backstop_at.into();
        if !self.gate.on_probation() {
            return tokio::time::timeout_at(backstop, call)
                .await
                .unwrap_or_else(|_| Err(budget.backstop_reached()));
        }
        let turn = tokio::time::timeout_at(backstop, self.gate.take_turn())
            .await
            .map_err(|_| budget.backstop_reached())?;
        let stopped = || CallError::host("the runtime stopped during the call");
        let mut running = self
            .slow_lane
            .spawn(async move {
                let _turn = turn;
                call.await
            })
            .ok_or_else(stopped)?;
        match tokio::time::timeout_at(backstop, &mut running).await {
            Ok(ended) => ended.unwrap_or_else(|_| Err(stopped())),
            Err(_) => {
                running.abort();
                Err(budget.backstop_reached())
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

/// A fresh store for one call of `callee`, with `fuel`, within `budget`, taking turns as it
/// burns fuel where its thread is shared.
pub(crate) fn call_store(
    engine: &Engine,
    callee: &Callee,
    input: CallInput,
    limits: &Limits,
    fuel: u64,
    budget: &CallBudget,
    thread: CallThread,
) -> Result<Store<Sandbox>, CallError> {
    let mut store = sandbox::new_store(
        engine,
        Arc::clone(&callee.label),
        Arc::clone(&callee.gate),
        input,
        limits,
        fuel,
        budget,
    )
    .map_err(not_set_up)?;
    // Long calls take turns with other work on the executor (`Limits::fuel_yield_interval`).
    // On a thread of their own they need not: a yield there comes straight back. The slow
    // lane's threads serve nothing else either, and the kernel preempts them for everyone
    // else's. The epoch callback (`sandbox.rs`) checks the CPU limit and the backstop wherever
    // the call runs.
    if thread == CallThread::Shared && !crate::call::slow_lane::on_the_lane() {
        store
            .fuel_async_yield_interval(Some(limits.fuel_yield_interval.max(1)))
            .map_err(not_set_up)?;
    }
    Ok(store)
}

fn not_set_up(e: wasmtime::Error) -> CallError {
    CallError::host(format!("the sandbox could not be set up: {e}"))
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

/// Names what went wrong in a call. A call that ran out of fuel or CPU puts its module on
/// probation at its gate, or keeps it there: those [count against the
/// module](counts_against_module). A host fault is logged as the host's.
pub(crate) fn classify(
    error: wasmtime::Error,
    store: &Store<Sandbox>,
    fuel: u64,
    limits: &Limits,
) -> CallError {
    let error = name_failure(error, store, fuel, limits);
    let sandbox = store.data();
    if counts_against_module(&error) {
        if sandbox.gate.offended() {
            tracing::warn!(
                module = %sandbox.module,
                %error,
                cpu_us = sandbox.cpu_used().as_micros(),
                "the module is on probation: its calls take turns on the slow lane until {} s \
                 pass without another call that runs out of fuel or CPU",
                crate::call::call_gate::PROBATION.as_secs()
            );
        }
    } else if error.is_host_fault() {
        tracing::warn!(
            module = %sandbox.module,
            cpu_us = sandbox.cpu_used().as_micros(),
            %error,
            "a call failed by the host's fault; not counted against its module"
        );
    }
    error
}

/// Whether a failed call counts against its module (puts it on probation, or keeps it there):
/// only what the module did with its own work, running out of fuel or of CPU time. Never a
/// wait, and never the backstop.
fn counts_against_module(error: &CallError) -> bool {
    matches!(
        error,
        CallError::OutOfFuel { .. } | CallError::CpuExceeded { .. }
    )
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
    if error.is::<CpuLimitReached>() {
        return CallError::CpuExceeded {
            limit: limits.cpu_for(fuel),
        };
    }
    if error.is::<BackstopReached>() {
        return CallError::HostBackstop {
            after: limits.backstop_for(fuel),
        };
    }
    if let Some(failed) = error.downcast_ref::<ImportStorageFailed>() {
        return CallError::HostStorage {
            message: failed.0.clone(),
        };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => CallError::OutOfFuel { fuel },
        Some(Trap::StackOverflow) => CallError::StackOverflow,
        Some(Trap::Interrupt) => CallError::HostBackstop {
            after: limits.backstop_for(fuel),
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
    use crate::call::slow_lane::on_the_lane;

    fn callee() -> Callee {
        Callee::new("m", Arc::new(SlowLane::start().expect("the lane starts")))
    }

    #[tokio::test]
    async fn a_call_runs_here_until_its_module_is_on_probation_then_on_the_slow_lane() {
        let callee = callee();
        let budget = CallBudget::from_now(&Limits::default(), 1);
        let here = callee
            .run("test", &budget, async { Ok(on_the_lane()) })
            .await;
        assert_eq!(here.ok(), Some(false));

        callee.gate.offended();
        let budget = CallBudget::from_now(&Limits::default(), 1);
        let there = callee
            .run("test", &budget, async { Ok(on_the_lane()) })
            .await;
        assert_eq!(there.ok(), Some(true));
    }

    fn budget_with_backstop(backstop: Duration) -> CallBudget {
        let limits = Limits {
            backstop,
            ..Limits::default()
        };
        CallBudget::from_now(&limits, 1)
    }

    #[tokio::test]
    async fn a_call_on_probation_waits_for_its_turn_however_long_and_then_runs() {
        let callee = callee();
        callee.gate.offended();
        let held = callee.gate.take_turn().await;
        let ran = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&ran);
        let budget = CallBudget::from_now(&Limits::default(), 1);
        let call = callee.run("test", &budget, async move {
            flag.store(true, Ordering::SeqCst);
            Ok(())
        });
        let release = async {
            // Many times what the call itself takes.
            tokio::time::sleep(Duration::from_millis(300)).await;
            drop(held);
        };
        let (result, ()) = tokio::join!(call, release);
        assert!(result.is_ok(), "{result:?}");
        assert!(ran.load(Ordering::SeqCst), "the call did not run");
        assert!(
            !callee.gate.offended(),
            "waiting changed the probation (it was prolonged by this test only)"
        );
    }

    #[tokio::test]
    async fn a_wait_past_the_backstop_is_the_hosts_fault_and_the_call_never_runs() {
        let callee = callee();
        let held = callee.gate.take_turn().await;
        callee.gate.offended();
        let ran = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&ran);
        let budget = budget_with_backstop(Duration::from_millis(20));
        let result = callee
            .run("test", &budget, async move {
                flag.store(true, Ordering::SeqCst);
                Ok(())
            })
            .await;
        assert!(
            matches!(&result, Err(e @ CallError::HostBackstop { .. }) if e.is_host_fault()),
            "{result:?}"
        );
        assert!(
            !ran.load(Ordering::SeqCst),
            "the call ran after its backstop"
        );
        drop(held);
    }

    #[tokio::test]
    async fn a_call_still_running_at_its_backstop_fails_then_and_gives_its_turn_back() {
        let callee = callee();
        callee.gate.offended();
        let budget = budget_with_backstop(Duration::from_millis(20));
        let (ended_tx, ended_rx) = tokio::sync::oneshot::channel::<()>();
        let result = callee
            .run("test", &budget, async move {
                // Stands for a host import that hangs; it ends when cancelled.
                let _ended = ended_tx;
                tokio::time::sleep(Duration::from_secs(600)).await;
                Ok(())
            })
            .await;
        assert!(
            matches!(result, Err(CallError::HostBackstop { .. })),
            "{result:?}"
        );
        let _ = ended_rx.await;
        let next = tokio::time::timeout(Duration::from_secs(10), callee.gate.take_turn()).await;
        assert!(next.is_ok(), "the turn was never given back");
    }

    #[tokio::test]
    async fn off_probation_the_backstop_also_ends_a_call() {
        let callee = callee();
        let budget = budget_with_backstop(Duration::from_millis(20));
        let result = callee
            .run("test", &budget, async move {
                tokio::time::sleep(Duration::from_secs(600)).await;
                Ok(())
            })
            .await;
        assert!(
            matches!(result, Err(CallError::HostBackstop { .. })),
            "{result:?}"
        );
        assert!(
            !callee.gate.on_probation(),
            "the host's fault was blamed on the module"
        );
    }

    /// A call of `callee` that failed with `error` (as the epoch callback raises it), classified
    /// as a real call's failure is, in a store made for the call.
    fn classified(callee: &Callee, error: wasmtime::Error) -> CallError {
        let limits = Limits::default();
        let cache = tempfile::tempdir().expect("a cache directory");
        let engine = crate::call::engine::build(&limits, cache.path()).expect("the engine builds");
        let fuel = limits.fuel_per_call;
        let budget = CallBudget::from_now(&limits, fuel);
        let store = call_store(
            &engine,
            callee,
            CallInput::FIXED,
            &limits,
            fuel,
            &budget,
            CallThread::Shared,
        )
        .expect("a store");
        classify(error, &store, fuel, &limits)
    }

    #[test]
    fn a_call_past_its_backstop_is_a_host_fault_and_not_counted() {
        let callee = callee();
        let error = classified(&callee, wasmtime::Error::new(BackstopReached));
        assert!(
            matches!(error, CallError::HostBackstop { .. }) && error.is_host_fault(),
            "{error:?}"
        );
        assert!(!callee.gate.on_probation());
    }

    #[test]
    fn a_call_past_its_cpu_limit_is_the_modules_fault_and_counts() {
        let callee = callee();
        let error = classified(&callee, wasmtime::Error::new(CpuLimitReached));
        assert!(
            matches!(error, CallError::CpuExceeded { limit } if limit == Limits::default().cpu_per_call),
            "{error:?}"
        );
        assert!(!error.is_host_fault());
        assert!(callee.gate.on_probation());
    }

    #[test]
    fn only_fuel_and_cpu_count_against_a_module() {
        assert!(counts_against_module(&CallError::OutOfFuel { fuel: 1 }));
        assert!(counts_against_module(&CallError::CpuExceeded {
            limit: Duration::from_millis(1)
        }));
        for not_counted in [
            CallError::HostBackstop {
                after: Duration::from_secs(1),
            },
            CallError::Trap {
                message: "unreachable".into(),
            },
            CallError::StackOverflow,
            CallError::OutOfMemory { limit: 1 },
            CallError::BadOutput {
                message: "bad".into(),
            },
        ] {
            assert!(!counts_against_module(&not_counted), "{not_counted:?}");
        }
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
        let engine = crate::call::engine::build(&limits, cache.path()).expect("the engine builds");
        let fuel = limits.fuel_per_call;
        let mut store = call_store(
            &engine,
            &callee(),
            CallInput::FIXED,
            &limits,
            fuel,
            &CallBudget::from_now(&limits, fuel),
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
