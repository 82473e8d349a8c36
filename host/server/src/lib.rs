//! cairn-server: the body of the `cairn` binary (`host/cairn`), an event store and a runtime
//! for event-sourced domain logic in one process. It is a library so end-to-end tests and the
//! benches (`host/bench`) can start the real server in process.
//!
//! Layout:
//! - `node.rs`: [`node::Node`], the store, the module registry and the command path, opened on
//!   a data directory.
//! - `http/`: the HTTP API (axum): `app(state) -> Router` and `serve(listener, state, signal)`;
//!   `console/`, the web console it serves at `/ui`.
//! - `telemetry.rs`: the Prometheus recorder and what cairn counts.
//! - `serve.rs`: `cairn serve`; `dev/`: `cairn dev` (build, load, watch, hot-swap);
//!   `project.rs`: `cairn.toml`'s modules; `settings.rs`: its runtime settings.
//! - `client/`: the commands that talk to a running server (`deploy`, `undeploy`, `send`,
//!   `read`, `tail`, `state`, `query`, `projections`).
//! - `guests.rs`: building a module crate for `wasm32-wasip2`.
//! - `verify.rs`: `cairn verify`, the offline check of a data directory; `backup.rs`, a
//!   backup's files (the copy and its manifest), which `cairn backup` (`client/backup.rs`)
//!   writes from `GET /v1/backup` and `restore.rs`, `cairn restore`, starts a data directory
//!   from; `migrate.rs`, `cairn migrate`, a whole store copied to another backend and checked.
//! - `new/`: `cairn new`, a new module crate; `completions.rs`: `cairn completions`.
//! - `cli.rs`: the command line (clap); the binary parses it and runs each command here, but
//!   `cairn bench`, which `cairn-bench` runs.

pub mod backup;
pub mod cli;
pub mod client;
pub mod completions;
mod console;
pub mod dev;
pub mod guests;
pub mod http;
pub mod migrate;
pub mod new;
pub mod node;
pub mod project;
pub mod restore;
pub mod runners;
pub mod serve;
pub mod settings;
pub mod telemetry;
pub mod verify;
