//! cairn-store-postgres: cairn's event store on PostgreSQL, so that several stateless cairn
//! nodes can share one database, with the promises the embedded store keeps: 1-based,
//! gap-free global positions handed out at append, commit order equal to position order, and
//! exactly one winner per expected version.
//!
//! How appends move: queued, and taken a batch at a time into one transaction of two
//! pipelined round trips (three when it makes a stream) by the node's writer task (`batch.rs`, group commit), with the locks
//! and checks of a lone append. A lone
//! append (`append.rs`), inside one transaction, checks the event ids it
//! carries, takes its stream's row with a conditional update, then takes the one-row log head
//! last and holds it to commit, and writes its events at the head's next positions. Appends
//! therefore commit one after another in position order, and a reader of the log never meets
//! a hole that a later commit fills: no gap detection is needed.
//!
//! Layout:
//! - `schema.rs`: the tables and their invariants, and the schema's versions, moved on at open
//!   under an advisory lock; a newer schema than this build knows is refused.
//! - `store.rs`: [`PostgresStore`], a connection pool opened on a URL, and [`OpenError`].
//! - `append.rs`: appends.
//! - `reads.rs`: reads of a stream and of the global log.
//! - `follow.rs`: the head of the log followed across nodes (LISTEN/NOTIFY, and a read each
//!   second as a fallback).
//! - `image_export.rs` and `image_import.rs`: the whole store as an image
//!   ([`cairn_store::ImagePart`]) and a store filled from one, for `cairn migrate`.
//! - `lease.rs`: the runner lease, an advisory lock on a session of its own, and the fence
//!   that refuses a former holder's read model writes.
//! - `event_log.rs`: [`cairn_store::EventLog`] on the store; `snapshots.rs`,
//!   [`cairn_store::Snapshots`]; `command_log.rs`, [`cairn_store::CommandLog`]; `modules.rs`,
//!   [`cairn_store::Modules`]; `read_models.rs`, [`cairn_store::ReadModels`], whose views are
//!   repeatable-read transactions read through `views.rs`, a runtime of the store's own, so a
//!   view's synchronous reads work from any thread.
//!
//! Why tokio-postgres with deadpool-postgres: both are asynchronous like the rest of cairn, need
//! no database while compiling (sqlx's checked queries do), and add little; the pool hands each
//! append its own connection, so appends from many tasks run side by side.
//!
//! The store passes the contract suite of `host/store-contract` (`tests/contract.rs`), as the
//! embedded store does.

mod append;
mod batch;
mod command_log;
mod event_log;
mod follow;
mod image_export;
mod image_import;
mod lease;
mod modules;
mod read_models;
mod reads;
mod schema;
mod snapshots;
mod store;
mod views;

pub use schema::SCHEMA_VERSION;
pub use store::{OpenError, PostgresStore};
