//! The redb backend: [`RedbStore`].
//!
//! - `tables.rs`: the tables and the invariants between them.
//! - `record.rs`: the byte layout of stored events, snapshots and read model entries, with
//!   their checksums.
//! - `writer.rs`: the writer thread and group commit; `stream_cache.rs`, where the streams it
//!   wrote lately stand.
//! - `command_record.rs`: the byte layout of a command log entry, with its checksum.
//! - `apply_append.rs` (with a command's entry), `apply_command.rs`, `apply_snapshot.rs`,
//!   `apply_module.rs`, `apply_model.rs`: one operation inside a write transaction.
//! - `reads.rs`: blocking reads of events, each in one read transaction; `model_reads.rs`, the
//!   same for read model entries; `command_reads.rs`, for the command log;
//!   `stream_list.rs`, listing streams by name prefix.
//! - `migrate.rs`: moving a file of an older layout to the current one, at open.
//! - `store.rs`: opening and closing; `traits.rs`, the store traits ([`crate::EventLog`] and
//!   the rest) on [`RedbStore`];
//!   `damage_seen.rs`, the first damaged record the store met, for health checks.
//! - `verify.rs`: [`RedbStore::verify`], the offline check of every record of a file.
//! - `backup.rs`: [`RedbStore::backup`], a consistent copy of a running store into a new file.
//! - `image_export.rs` and `image_import.rs`: [`RedbStore::export_image`], the whole store
//!   as an image (`image.rs`), and [`RedbStore::import_image`], a new store from one.
//! - `fuzzing.rs`: the decoders of stored values, for the fuzz targets in `fuzz/`.

mod apply_append;
mod apply_command;
mod apply_model;
mod apply_module;
mod apply_snapshot;
mod backup;
mod command_reads;
mod command_record;
mod damage_seen;
pub mod fuzzing;
mod image_export;
mod image_import;
mod migrate;
mod model_reads;
mod reads;
mod record;
mod store;
mod stream_cache;
mod stream_list;
mod tables;
mod traits;
mod verify;
mod writer;

pub use backup::{BackupError, BackupReport};
pub use store::{OpenError, RedbOptions, RedbStore};
pub use verify::VerifyReport;

/// A redb error of any kind as a [`crate::StorageError`].
fn backend(e: impl Into<redb::Error>) -> crate::StorageError {
    crate::StorageError::backend(e.into())
}
