//! What module calls count, through the `metrics` facade, where each call is made (the
//! server renders them on `/metrics`):
//! - `cairn_module_calls_total{module, call}`: every call, by module and export (`init`,
//!   `evolve`, `decide`, `state_json`, `apply`, `query`);
//! - `cairn_module_traps_total{module, kind}`: calls that failed by the module's fault (a trap,
//!   fuel, memory...), `kind` being [`CallError::code`];
//! - `cairn_host_faults_total{module, kind}`: calls that failed by the host's fault (storage,
//!   the backstop, the host's own failure); never counted against the module.

use crate::error::{Blame, CallError};

/// Counts one call of export `call` of `module`, and its `failure` if it failed.
pub(crate) fn count_call(module: &str, call: &'static str, failure: Option<&CallError>) {
    metrics::counter!("cairn_module_calls_total", "module" => module.to_owned(), "call" => call)
        .increment(1);
    if let Some(error) = failure {
        let counter = match error.blame() {
            Blame::Module => "cairn_module_traps_total",
            Blame::Host => "cairn_host_faults_total",
        };
        metrics::counter!(counter, "module" => module.to_owned(), "kind" => error.code())
            .increment(1);
    }
}
