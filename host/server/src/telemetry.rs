//! Metrics: the Prometheus recorder that `/metrics` renders, and what cairn counts.
//!
//! Each metric is counted where its event happens, through the `metrics` facade: the store
//! counts its commits, the runtime its module calls, projection batches and state cache, and
//! the server its HTTP appends, commands and subscribers. Gauges of state are read when
//! `/metrics` is scraped: the head ([`observe`]), and each projection's position, lag and state
//! ([`scraped_gauges`], written as text so a removed projection leaves no series behind).
//! [`METRICS`] is the one list of them all, with the help text `/metrics` gives each.

use std::sync::OnceLock;
use std::time::Duration;

use cairn_runtime::{Blame, CommandError, CommandOutcome, ProjectionStatus, RunState};
use cairn_store::{AppendError, AppendOutcome};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

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
            describe();
            handle
        })
        .clone()
}

/// Counts an append over HTTP (the events it wrote are counted by the store, with every other
/// append's, in `cairn_appended_events_total`).
pub fn appended(outcome: &Result<AppendOutcome, AppendError>, took: Duration) {
    let label = match outcome {
        Ok(_) => "ok",
        Err(
            AppendError::WrongExpectedVersion { .. }
            | AppendError::IdempotencyConflict { .. }
            | AppendError::EventIdReused { .. }
            | AppendError::CommandIdReused { .. },
        ) => "conflict",
        Err(AppendError::Storage(_)) => "failed",
        Err(_) => "invalid",
    };
    metrics::counter!("cairn_appends_total", "outcome" => label).increment(1);
    if outcome.is_ok() {
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
        Err(CommandError::Module(e)) => match e.blame() {
            Blame::Module => "module_failed",
            Blame::Host => "failed",
        },
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

/// Every metric cairn exports: its name, its kind, and the help `/metrics` gives it.
pub const METRICS: &[(&str, MetricKind, &str)] = &[
    (
        "cairn_appends_total",
        MetricKind::Counter,
        "Appends over HTTP, by outcome (ok, conflict, invalid, failed).",
    ),
    (
        "cairn_append_seconds",
        MetricKind::Histogram,
        "Latency of successful appends over HTTP, in seconds.",
    ),
    (
        "cairn_appended_events_total",
        MetricKind::Counter,
        "Events written to the log, by every append: over HTTP and by commands (recognised retries write none).",
    ),
    (
        "cairn_commands_total",
        MetricKind::Counter,
        "Commands, by module and outcome (ok, rejected, invalid, conflict, module_failed, failed, unknown_module).",
    ),
    (
        "cairn_command_seconds",
        MetricKind::Histogram,
        "Latency of commands, by module, in seconds.",
    ),
    (
        "cairn_module_calls_total",
        MetricKind::Counter,
        "Calls into modules, by module and export (init, evolve, decide, state_json, apply, query).",
    ),
    (
        "cairn_module_traps_total",
        MetricKind::Counter,
        "Module calls that failed by the module's fault, by module and kind.",
    ),
    (
        "cairn_host_faults_total",
        MetricKind::Counter,
        "Module calls that failed by the host's fault (storage, the backstop, the host), by module and kind; never counted against the module.",
    ),
    (
        "cairn_state_cache_hits_total",
        MetricKind::Counter,
        "Commands that found their aggregate's state in the state cache.",
    ),
    (
        "cairn_state_cache_misses_total",
        MetricKind::Counter,
        "Commands that loaded their aggregate's state from the store.",
    ),
    (
        "cairn_store_commit_seconds",
        MetricKind::Histogram,
        "Duration of the store's group commits, in seconds, from the first write to durable.",
    ),
    (
        "cairn_store_commit_operations",
        MetricKind::Histogram,
        "Operations (appends, snapshots, read model commits...) in each group commit.",
    ),
    (
        "cairn_store_commit_failures_total",
        MetricKind::Counter,
        "Group commits the storage failed; none of their operations was stored.",
    ),
    (
        "cairn_log_head",
        MetricKind::Gauge,
        "The position of the newest event in the log.",
    ),
    (
        "cairn_subscribers",
        MetricKind::Gauge,
        "Live subscriptions to the log (GET /v1/subscribe).",
    ),
    (
        "cairn_projection_position",
        MetricKind::Gauge,
        "The last log position the projection's serving read model reflects, by projection.",
    ),
    (
        "cairn_projection_lag_events",
        MetricKind::Gauge,
        "Events between the log's head and the projection's position, by projection.",
    ),
    (
        "cairn_projection_state",
        MetricKind::Gauge,
        "1 for the state the projection is in (catching_up, live, paused, faulted, or elsewhere: run by another node), 0 for the others, by projection.",
    ),
    (
        "cairn_projection_events_applied_total",
        MetricKind::Counter,
        "Events the projection's generations applied and committed, by projection.",
    ),
    (
        "cairn_projection_batch_seconds",
        MetricKind::Histogram,
        "Duration of projection batches, from read to commit, in seconds, by projection.",
    ),
    (
        "cairn_projection_faults_total",
        MetricKind::Counter,
        "Times a projection faulted on an event, by projection.",
    ),
    (
        "cairn_reactor_lag",
        MetricKind::Gauge,
        "Log positions between the head and the reactor's checkpoint, by reactor.",
    ),
    (
        "cairn_reactor_parked",
        MetricKind::Gauge,
        "Events the reactor parked, by reactor.",
    ),
    (
        "cairn_reactor_intents_issued",
        MetricKind::Gauge,
        "Intents the reactor's reactions gave since it started from scratch, by reactor.",
    ),
    (
        "cairn_reactor_intents_executed",
        MetricKind::Gauge,
        "Intents whose command was executed (appended, recognised, rejected or failed), by reactor.",
    ),
    (
        "cairn_reactor_stalled",
        MetricKind::Gauge,
        "1 while the head has moved and the reactor's checkpoint has not for [reactors] stall_after_ms, by reactor.",
    ),
];

/// What kind of metric a name in [`METRICS`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
    /// A gauge written into `/metrics` when it is scraped, from the state of the moment
    /// ([`scraped_gauges`]): it has no series left behind once what it measures is gone (a
    /// removed projection).
    ScrapedGauge,
}

/// Gives every metric in [`METRICS`] its help text.
fn describe() {
    for (name, kind, help) in METRICS {
        match kind {
            MetricKind::Counter => metrics::describe_counter!(*name, *help),
            MetricKind::Gauge => metrics::describe_gauge!(*name, *help),
            MetricKind::Histogram => metrics::describe_histogram!(*name, *help),
            MetricKind::ScrapedGauge => {}
        }
    }
}

/// The states a projection's state gauge is given for.
const PROJECTION_STATES: [(RunState, &str); 5] = [
    (RunState::CatchingUp, "catching_up"),
    (RunState::Live, "live"),
    (RunState::Paused, "paused"),
    (RunState::Faulted, "faulted"),
    (RunState::Elsewhere, "elsewhere"),
];

/// Sets the log's head gauge, before a scrape renders the recorder.
pub fn observe(head: u64) {
    metrics::gauge!("cairn_log_head").set(head as f64);
}

/// The gauges of each projection now (position, lag, and its state as one gauge per state), in
/// the Prometheus text format, with their help: appended to what the recorder renders.
pub fn scraped_gauges(projections: &[ProjectionStatus]) -> String {
    use std::fmt::Write;
    let mut text = String::new();
    let help = |name: &str| {
        METRICS
            .iter()
            .find(|(metric, _, _)| *metric == name)
            .map_or("", |(_, _, help)| *help)
    };
    let family = |text: &mut String, name: &str, samples: Vec<(String, f64)>| {
        let _ = writeln!(text, "# HELP {name} {}", help(name));
        let _ = writeln!(text, "# TYPE {name} gauge");
        for (labels, value) in samples {
            let _ = writeln!(text, "{name}{{{labels}}} {value}");
        }
    };
    if projections.is_empty() {
        return text;
    }
    let label = |name: &str| format!("projection=\"{}\"", name.replace(['\\', '"', '\n'], "_"));
    family(
        &mut text,
        "cairn_projection_position",
        projections
            .iter()
            .map(|p| (label(&p.name), p.serving.position as f64))
            .collect(),
    );
    family(
        &mut text,
        "cairn_projection_lag_events",
        projections
            .iter()
            .map(|p| (label(&p.name), p.serving.lag_events as f64))
            .collect(),
    );
    family(
        &mut text,
        "cairn_projection_state",
        projections
            .iter()
            .flat_map(|p| {
                PROJECTION_STATES.iter().map(move |(state, name)| {
                    (
                        format!("{},state=\"{name}\"", label(&p.name)),
                        if p.serving.state == *state { 1.0 } else { 0.0 },
                    )
                })
            })
            .collect(),
    );
    text
}

/// One live subscription, counted in `cairn_subscribers` from its making to its drop.
#[derive(Debug)]
pub struct LiveSubscriber(());

impl LiveSubscriber {
    pub fn new() -> Self {
        metrics::gauge!("cairn_subscribers").increment(1.0);
        Self(())
    }
}

impl Default for LiveSubscriber {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for LiveSubscriber {
    fn drop(&mut self) {
        metrics::gauge!("cairn_subscribers").decrement(1.0);
    }
}
