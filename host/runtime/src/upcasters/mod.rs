//! Upcasters: events stored in an older shape, read as the current one, by every reader.
//!
//! An upcaster module names a stream category and the stored event types it upgrades
//! ([`Upgrades`]), and maps each stored event of those types to the events readers see in its
//! place: none, one or several. Stored events are never rewritten.
//!
//! - `upcaster.rs`: [`LoadedUpcaster`], one module ready to run, and its checked `upcast` call.
//! - `upcaster_set.rs`: [`UpcasterSet`], the upcasters one reader reads with (one per category
//!   at most), which turns a batch of stored events into what the reader sees
//!   ([`UpcasterSet::read`]), and its [`UpcasterSet::fingerprint`], which keys what was built
//!   from upcast events (snapshots, cached states, read models) so nothing built under one set
//!   is used under another.
//!
//! Data moves one way: a reader reads stored events from the store, passes them through its
//! set, and folds, applies or serves what comes out. Each output event keeps the stored
//! event's id, stream, version, position, metadata and time.

pub(crate) mod upcaster;
pub(crate) mod upcaster_set;
