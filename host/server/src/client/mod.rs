//! The commands that talk to a running server over HTTP: `deploy`, `undeploy`, `send`, `read`,
//! `streams`, `tail`, `state`, `history`, `query`, `projections`, `reactors`, `groups`, `sinks`,
//! `stats` and `backup`.
//!
//! - `api.rs`: [`api::Api`], requests with the API key, and error replies turned into messages
//!   that say what to do.
//! - `commands.rs`: the commands on streams and aggregates; `history.rs`, an aggregate's
//!   states over its stream; `plan.rs`, `deploy --plan`; `projections.rs`, the commands on projections;
//!   `reactors.rs`, those on reactors; `groups.rs`, those on consumer groups;
//!   `sinks.rs`, those on sinks;
//!   `streams.rs`, streams listed by name; `stats.rs`, the server's figures; `backup.rs`, a
//!   copy of the server's store written to a directory.
//! - `print.rs`: their output for people; `sse.rs`, the server-sent event streams they read.

mod api;
mod backup;
mod commands;
mod groups;
mod history;
mod plan;
mod print;
mod projections;
mod reactors;
mod sinks;
mod sse;
mod stats;
mod streams;

pub use api::Api;
pub use backup::backup;
pub use commands::{deploy, read, send, state, tail, undeploy};
pub use groups::groups;
pub use history::history;
pub use projections::{projections, query};
pub use reactors::reactors;
pub use sinks::{sink_target, sinks};
pub use stats::stats;
pub use streams::streams;
