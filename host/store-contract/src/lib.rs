//! cairn-store-contract: the contract suite of cairn's store, the promises of its traits
//! ([`cairn_store::EventLog`], [`cairn_store::CommandLog`], [`cairn_store::Snapshots`], [`cairn_store::Modules`],
//! [`cairn_store::ReadModels`] and [`cairn_store::EventStore`]) as tests written against the
//! traits only, so that every backend is held to the same behaviour, equally strictly.
//!
//! Each test is a function generic over a [`Backend`], `pub async fn some_behaviour<B:
//! Backend>()` (the model test is a plain `pub fn`, since it builds its own runtime), and its
//! doc names the promises it checks by trait and number ("EventLog promise 3"), or the method
//! whose doc it checks where the trait numbers none.
//!
//! A backend runs the suite by implementing [`Backend`], how to make a place for a store, open
//! it, open it on storage that fails on demand ([`WriteFaults`]) and close it, and invoking
//! [`contract_suite!`] with that type in one of its integration tests:
//!
//! ```text
//! struct RedbBackend { dir: tempfile::TempDir }
//! impl cairn_store_contract::Backend for RedbBackend { /* ... */ }
//! cairn_store_contract::contract_suite!(RedbBackend);
//! ```
//!
//! `tests/redb.rs` does so for [`cairn_store::RedbStore`]. Tests of what only one backend does
//! (for redb: its file format, migrations, damage to its pages, a failed commit poisoning the
//! writer until reopened) stay with that backend, in `host/store/tests` for redb.
//!
//! Layout:
//! - `backend.rs`: [`Backend`] and [`WriteFaults`], the harness a backend implements.
//! - `suite.rs`: [`contract_suite!`], one test per suite function; `suite/completeness.rs`
//!   checks that none is left out.
//! - `fixtures.rs`: what tests share: names and events in one line, a restart, a store shared
//!   by racing tasks.
//! - `event_log/`: [`cairn_store::EventLog`], one topic a file: `durability.rs`, `races.rs`,
//!   `idempotency.rs` (event ids), `keyed.rs` (idempotency keys), `refusals.rs` (bad appends),
//!   `reads.rs`, `head.rs` (waiting for new events), `byte_budgets.rs`.
//! - `command_log.rs`: [`cairn_store::CommandLog`], commands kept with their events.
//! - `snapshots.rs`: [`cairn_store::Snapshots`].
//! - `modules.rs`: [`cairn_store::Modules`]: versions and kinds; `removal.rs`, removing a
//!   module.
//! - `read_models.rs`: [`cairn_store::ReadModels`], and a module's state with the read models
//!   it drops.
//! - `faults.rs`: storage that fills up or fails under the store
//!   ([`cairn_store::EventStore::write_failure`]).
//! - `model/`: the store against an in-memory reference model, as a proptest state machine.

pub mod backend;
pub mod command_log;
pub mod event_log;
pub mod faults;
mod fixtures;
pub mod model;
pub mod modules;
pub mod read_models;
pub mod removal;
pub mod snapshots;
mod suite;

pub use backend::{Backend, WriteFaults};
