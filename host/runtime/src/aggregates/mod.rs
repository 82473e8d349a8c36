//! CommandPath: the loaded aggregate module and the command path that runs it.
//!
//! A command flows through it like this: `command_path.rs` waits for the stream's turn
//! (`stream_turns.rs`), takes the aggregate's state from `state_cache.rs` or loads it (a
//! snapshot, then the events after it, folded by `evolve`), asks the module to `decide` through
//! `aggregate.rs`, appends the decided events at the version it loaded, and, once the command
//! has answered, folds the new events into the cached state.
//!
//! - `aggregate.rs`: [`LoadedAggregate`](crate::LoadedAggregate), an aggregate module and its
//!   calls (`init`, `evolve`, `decide`).
//! - `command_path.rs`: [`CommandPath`](crate::CommandPath), the command path: load, decide, append,
//!   retry.
//! - `reader.rs`: [`AggregateReader`](crate::AggregateReader), an aggregate version and the
//!   upcasters its streams are read through; every fold of stored events goes through one.
//! - `stream_turns.rs`: commands on one stream take turns, so they do not race each other.
//! - `state_cache.rs`: the hot states, filled after a command has answered.
//! - `history.rs`: time travel, the state after each event of a range, by the module version
//!   that wrote it or the installed one.

pub(crate) mod aggregate;
pub(crate) mod command_path;
pub(crate) mod history;
pub(crate) mod reader;
pub(crate) mod state_cache;
pub(crate) mod stream_turns;
