//! Helpers for cairn's end-to-end tests: where the guests that `build.rs` built are.
//!
//! The tests themselves are in `tests/`:
//! - `runtime.rs`: the example modules through the real runtime and store;
//! - `sandbox.rs`: misbehaving guests, each stopped with a clear error and nothing appended;
//! - `typescript.rs`: modules written in TypeScript (`guest-sdk-ts/`), built at test time:
//!   decisions, snapshots, misbehaviour and determinism as for Rust modules;
//! - `upload.rs`: what the registry refuses, and why;
//! - `projections.rs`: the example projections through the runtime's projection calls and the
//!   store's read models;
//! - `http_streams.rs`, `http_aggregates.rs`, `http_projections.rs`, `http_live.rs`: the HTTP
//!   API against the real server on 127.0.0.1:0 (`common/server.rs` starts it);
//! - `http_bad_input.rs`: bad bodies, names, values and uploads, table-driven;
//! - `http_upcasters.rs`: upcasters on every read path, snapshots keyed by them, and
//!   misbehaving ones; `http_plan.rs`, `http_projection_plan.rs`: plans of aggregates and of
//!   projections;
//! - `http_guests.rs`: misbehaving guests over HTTP under concurrent load;
//! - `http_races.rs`: writers racing on one stream over HTTP;
//! - `http_modules.rs`: removing modules, and a name held by the other kind;
//! - `http_reactors.rs`: reactors: the `transfers` process manager, replays, the failure
//!   policy, sandboxing and intents that cannot be executed;
//! - `http_metrics.rs`: `/metrics` after a known workload;
//! - `http_errors.rs`: mistakes answered in cairn's words with what to do;
//! - `http_openapi.rs`: the served OpenAPI document, checked by `openapi-spec-validator`;
//! - `http_stream_list.rs`: streams listed by prefix and category, paged both ways;
//! - `console.rs`: the web console in a real headless Chromium (`common/browser.rs`): every
//!   page, the live parts, escaping of hostile event data, and signing in with a key;
//! - `pressure.rs`: commands and a projection on a busy host, with no failure and no probation;
//! - `common/test_store.rs`: a store over the real one that counts stream reads and fails on
//!   demand (appends, read model reads), for the loader and host-fault tests;
//! - `host_faults.rs`: storage that fails under a command and under a projection: the host's
//!   fault, answered and retried as such, never blamed on the module.

use std::path::PathBuf;

/// The bytes of guest `name` (`bank_account`, `customers`, `customer_directory`,
/// `account_balances`, `customers_upcaster`, `misbehaving`, `misbehaving-upcaster`,
/// `bank-account-v2`, `wrong-world`, `bad-import`, `picky-projection` and its fix
/// `picky-projection-fixed`).
pub fn guest(name: &str) -> Vec<u8> {
    let path = guest_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Where guest `name`'s component is, for a test that hands the file itself to a client.
pub fn guest_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CAIRN_GUESTS")).join(cairn_guest_build::wasm_file_name(name))
}

/// Guest `name` with a custom section added: the same code under another hash, as a new build
/// of a module would be.
pub fn rebuilt(name: &str) -> Vec<u8> {
    cairn_guest_build::rebuilt(guest(name))
}
