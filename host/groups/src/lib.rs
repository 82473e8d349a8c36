//! cairn-groups: consumer groups over cairn's global log. External services (and the host's
//! own sinks) consume the log as members of a named group, with the group's checkpoint, leases,
//! retries and parking kept in the store, so a consumer in any language keeps none of them.
//!
//! How an event moves: a group's task (`task.rs`) reads the log after its window into the
//! [`Dispatcher`](dispatch) (`dispatch/`), which queues each event the filter takes under its
//! partition key; the head of each key's queue is ready for the member that owns the key
//! (`assign.rs`); a member's poll or stream takes it under a lease; the member acknowledges
//! it, or negatively acknowledges it (`retry`, `park`, `skip`, `stop`), or its lease runs out;
//! the task then commits the group's rows (`rows.rs`: checkpoint, acknowledgements above it,
//! parked events), and answers the acknowledgement once that is durable.
//!
//! Layout:
//! - `name.rs`: [`GroupName`], [`MemberId`], [`DeliveryId`].
//! - `config.rs`: [`GroupConfig`] with its [`Filter`], [`Start`], [`PartitionKey`] and
//!   [`Exhausted`] policy.
//! - `parked.rs`: the parked ledger, kept by partition key inside a read model: a group's,
//!   and a reactor's (cairn-runtime parks through it too), so parking is written once.
//! - `rows.rs`: the group's read model and its invariants; `load.rs` reads it.
//! - `assign.rs`: rendezvous hashing of keys to members.
//! - `dispatch/`: the pure state machine, tested without a store.
//! - `task.rs`: a group's task; `groups.rs`: [`Groups`], every group of a node.
//! - `status.rs`: [`GroupStatus`]; `error.rs`: [`GroupError`].
//!
//! This crate knows nothing of WebAssembly or HTTP.

mod assign;
mod config;
mod dispatch;
mod error;
mod groups;
mod load;
mod name;
pub mod parked;
mod rows;
mod status;
mod task;

pub use config::{
    Exhausted, Filter, GroupConfig, MAX_KEY_BYTES, NamedGroup, PartitionKey, Start, backoff,
};
pub use dispatch::members::MemberStatus;
pub use dispatch::{Counts, Delivery, NackAction};
pub use error::GroupError;
pub use groups::{Created, DeliveryStream, Groups, MAX_POLL, MAX_POLL_WAIT};
pub use name::{DeliveryId, GroupName, MemberId};
pub use parked::{ParkReason, ParkedEntry};
pub use rows::Stopped;
pub use status::GroupStatus;
pub use task::Selection;
