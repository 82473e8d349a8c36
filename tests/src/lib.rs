//! Helpers for cairn's end-to-end tests: where the guests that `build.rs` built are.
//!
//! The tests themselves are in `tests/`:
//! - `runtime.rs`: the example modules through the real runtime and store;
//! - `sandbox.rs`: misbehaving guests, each stopped with a clear error and nothing appended;
//! - `upload.rs`: what the registry refuses, and why;
//! - `projections.rs`: the example projections through the runtime's projection calls and the
//!   store's read models;
//! - `http_streams.rs`, `http_aggregates.rs`, `http_live.rs`: the HTTP API against the real
//!   server on 127.0.0.1:0 (`common/server.rs` starts it).

use std::path::PathBuf;

/// The bytes of guest `name` (`bank-account`, `customers`, `customer-directory`,
/// `account-balances`, `misbehaving`, `wrong-world`, `bad-import`).
pub fn guest(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CAIRN_GUESTS")).join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}
