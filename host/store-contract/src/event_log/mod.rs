//! The promises of [`cairn_store::EventLog`], one topic a file:
//!
//! - `durability.rs`: what was acknowledged is there after a restart, at scale (promises 1, 2).
//! - `races.rs`: racing writers on one stream, one winner a version (promises 2, 3).
//! - `idempotency.rs`: appends recognised or refused by their event ids (promise 4).
//! - `keyed.rs`: appends under an idempotency key ([`cairn_store::EventLog::append_keyed`]).
//! - `refusals.rs`: bad appends are typed errors and store nothing (promise 1).
//! - `reads.rs`: streams both ways and the global log with filters and scan limits (promises 2, 5).
//! - `listing.rs`: streams listed by name prefix, paged both ways (promise 6).
//! - `head.rs`: waiting for the head to move ([`cairn_store::EventLog::watch_head`]).
//! - `byte_budgets.rs`: reads bounded by bytes, paged without loss (promise 5).

pub mod byte_budgets;
pub mod durability;
pub mod head;
pub mod idempotency;
pub mod keyed;
pub mod listing;
pub mod races;
pub mod reads;
pub mod refusals;
