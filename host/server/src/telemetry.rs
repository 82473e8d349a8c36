//! Metrics: the Prometheus recorder that `/metrics` renders, and what cairn counts.
//!
//! - `cairn_appends_total{outcome}` and `cairn_appended_events_total`: appends over HTTP.
//! - `cairn_append_seconds`: their latency.
//! - `cairn_commands_total{module, outcome}` and `cairn_command_seconds{module}`: commands.
//! - `cairn_module_traps_total{module, kind}`: module calls that failed by the module's fault
//!   (trap, fuel, memory...).
//! - `cairn_host_faults_total{module, kind}`: module calls that failed by the host's fault
//!   (storage, the backstop, the host's own failure); never counted against the module.

use std::sync::OnceLock;
use std::time::Duration;

use cairn_runtime::{Blame, CallError, CommandError, CommandOutcome};
use cairn_store::{AppendError, AppendOutcome};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::http::call_error_code;

/// Latency buckets, in seconds: 100 µs to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    10.0,
];

/// The process's Prometheus recorder, installed on first use.
pub fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            // Buckets make latencies Prometheus histograms (cheap to record, and they add up
            // across servers) rather than summaries.
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS);
            let recorder = match builder {
                Ok(builder) => builder,
                Err(error) => {
                    tracing::warn!(%error, "latency buckets refused; latencies are summaries");
                    PrometheusBuilder::new()
                }
            }
            .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("another metrics recorder is installed; /metrics will be empty");
            }
            handle
        })
        .clone()
}

/// Counts an append over HTTP.
pub fn appended(outcome: &Result<AppendOutcome, AppendError>, events: usize, took: Duration) {
    let label = match outcome {
        Ok(_) => "ok",
        Err(
            AppendError::WrongExpectedVersion { .. }
            | AppendError::IdempotencyConflict { .. }
            | AppendError::EventIdReused { .. },
        ) => "conflict",
        Err(AppendError::Storage(_)) => "failed",
        Err(_) => "invalid",
    };
    metrics::counter!("cairn_appends_total", "outcome" => label).increment(1);
    if outcome.is_ok() {
        metrics::counter!("cairn_appended_events_total").increment(events as u64);
        metrics::histogram!("cairn_append_seconds").record(took.as_secs_f64());
    }
}

/// Counts a command.
pub fn commanded(module: &str, outcome: &Result<CommandOutcome, CommandError>, took: Duration) {
    let label = match outcome {
        Ok(_) => "ok",
        Err(CommandError::Rejected(_)) => "rejected",
        Err(CommandError::InvalidCommand(_) | CommandError::InvalidId(_)) => "invalid",
        Err(CommandError::Conflict(_)) => "conflict",
        Err(CommandError::UnknownModule(_)) => "unknown_module",
        Err(CommandError::Module(e)) => {
            trapped(module, e);
            match e.blame() {
                Blame::Module => "module_failed",
                Blame::Host => "failed",
            }
        }
        Err(CommandError::Storage(_)) => "failed",
    };
    if matches!(outcome, Err(CommandError::UnknownModule(_))) {
        // Unknown names are the caller's to choose; they do not become label values.
        metrics::counter!("cairn_commands_total", "module" => "", "outcome" => label).increment(1);
        return;
    }
    let module = module.to_owned();
    metrics::counter!("cairn_commands_total", "module" => module.clone(), "outcome" => label)
        .increment(1);
    metrics::histogram!("cairn_command_seconds", "module" => module).record(took.as_secs_f64());
}

/// Counts a module call that failed, under the module's failures or the host's by its
/// [`Blame`].
pub fn trapped(module: &str, error: &CallError) {
    let counter = match error.blame() {
        Blame::Module => "cairn_module_traps_total",
        Blame::Host => "cairn_host_faults_total",
    };
    metrics::counter!(
        counter,
        "module" => module.to_owned(),
        "kind" => call_error_code(error)
    )
    .increment(1);
}
