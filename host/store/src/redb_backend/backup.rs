//! [`RedbStore::backup`]: a consistent copy of a running store. One read transaction sees the
//! store as of its last commit while the writer goes on; every table is copied from it, row by
//! row, into a new database file, which then opens as a store of its own at that commit's head.
//!
//! The copy is written under a temporary name beside the target and renamed once synced, so a
//! backup that stops half way leaves no file that looks whole. Every table the source holds
//! must be one this file copies (`copy_all`); one it does not know fails the backup rather than
//! leave it out, so a table added to `tables.rs` and not here is found by the first backup.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use redb::{
    Database, Durability, Key, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition,
    TableError, TableHandle, Value, WriteTransaction,
};

use super::store::RedbStore;
use super::tables::{
    COMMAND_LOG, COMMANDS, EVENT_IDS, EVENTS, META, MODEL_ENTRIES, MODELS, MODULE_BLOBS,
    MODULE_STATES, MODULE_UPLOADS, MODULES, REMOVED_MODULES, SNAPSHOTS, STREAM_APPENDS,
    STREAM_NAMES, STREAMS,
};
use crate::error::StorageError;

/// Rows copied per write transaction of the copy, so a large store is not held in one.
const ROWS_PER_COMMIT: u64 = 50_000;

/// What a backup copied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupReport {
    /// The position of the newest event in the copy.
    pub head: u64,
    /// Rows copied, over all tables.
    pub rows: u64,
    /// The copy's size in bytes.
    pub bytes: u64,
}

/// Why a backup failed. The target is left as it was.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The target exists: a backup never writes over a file.
    #[error("the backup's file {path} exists already; give a new path")]
    Exists { path: PathBuf },
    /// The copy could not be written or put in place.
    #[error("the backup could not be written to {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    /// The store could not be read.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

fn storage(error: impl std::fmt::Display) -> StorageError {
    StorageError::backend(std::io::Error::other(format!("backup: {error}")))
}

/// A copy in progress: the snapshot read from, and the new database written to.
struct Copy<'a> {
    from: &'a ReadTransaction,
    to: &'a Database,
    rows: u64,
    copied: BTreeSet<String>,
}

impl Copy<'_> {
    /// Copies `table` whole, committing every [`ROWS_PER_COMMIT`] rows.
    fn table<K: Key + 'static, V: Value + 'static>(
        &mut self,
        table: TableDefinition<K, V>,
    ) -> Result<(), StorageError> {
        self.copied.insert(table.name().to_owned());
        let source = match self.from.open_table(table) {
            Ok(source) => source,
            Err(TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(error) => return Err(storage(error)),
        };
        let mut write = self.begin()?;
        let mut in_write = 0;
        for row in source.iter().map_err(storage)? {
            let (key, value) = row.map_err(storage)?;
            write
                .open_table(table)
                .map_err(storage)?
                .insert(key.value(), value.value())
                .map_err(storage)?;
            in_write += 1;
            self.rows += 1;
            if in_write == ROWS_PER_COMMIT {
                write.commit().map_err(storage)?;
                write = self.begin()?;
                in_write = 0;
            }
        }
        // A table with no rows is made too, as the source has it.
        write.open_table(table).map_err(storage)?;
        write.commit().map_err(storage)
    }

    fn begin(&self) -> Result<WriteTransaction, StorageError> {
        let mut write = self.to.begin_write().map_err(storage)?;
        write.set_durability(Durability::None).map_err(storage)?;
        Ok(write)
    }
}

/// Copies every table of the snapshot `from` into `to`; fails on a table it does not know.
fn copy_all(from: &ReadTransaction, to: &Database) -> Result<u64, StorageError> {
    let mut copy = Copy {
        from,
        to,
        rows: 0,
        copied: BTreeSet::new(),
    };
    copy.table(META)?;
    copy.table(STREAMS)?;
    copy.table(STREAM_NAMES)?;
    copy.table(EVENTS)?;
    copy.table(STREAM_APPENDS)?;
    copy.table(EVENT_IDS)?;
    copy.table(SNAPSHOTS)?;
    copy.table(COMMANDS)?;
    copy.table(MODULES)?;
    copy.table(MODULE_BLOBS)?;
    copy.table(MODULE_UPLOADS)?;
    copy.table(MODELS)?;
    copy.table(MODEL_ENTRIES)?;
    copy.table(MODULE_STATES)?;
    copy.table(REMOVED_MODULES)?;
    copy.table(COMMAND_LOG)?;
    for table in from.list_tables().map_err(storage)? {
        if !copy.copied.contains(table.name()) {
            return Err(storage(format!(
                "the store has a table `{}` that a backup does not copy",
                table.name()
            )));
        }
    }
    // The last commit makes every one before it durable.
    let mut last = to.begin_write().map_err(storage)?;
    last.set_durability(Durability::Immediate)
        .map_err(storage)?;
    last.commit().map_err(storage)?;
    Ok(copy.rows)
}

impl RedbStore {
    /// Writes a consistent copy of the store, as of its last commit, to the new file `path`,
    /// while writes go on. Blocking: call it from a blocking thread.
    pub fn backup_blocking(&self, path: &Path) -> Result<BackupReport, BackupError> {
        if path.exists() {
            return Err(BackupError::Exists {
                path: path.to_path_buf(),
            });
        }
        let written = |reason: String| BackupError::Write {
            path: path.to_path_buf(),
            reason,
        };
        let partial = partial_path(path);
        let _ = std::fs::remove_file(&partial);
        let snapshot = self.inner.db.begin_read().map_err(storage)?;
        let head = match snapshot.open_table(EVENTS) {
            Ok(events) => events
                .last()
                .map_err(storage)?
                .map_or(0, |(position, _)| position.value()),
            Err(TableError::TableDoesNotExist(_)) => 0,
            Err(error) => return Err(storage(error).into()),
        };
        let rows = {
            let target = Database::create(&partial).map_err(|e| written(e.to_string()))?;
            copy_all(&snapshot, &target).inspect_err(|_| {
                let _ = std::fs::remove_file(&partial);
            })?
        };
        drop(snapshot);
        std::fs::rename(&partial, path).map_err(|e| written(e.to_string()))?;
        if let Some(dir) = path.parent()
            && let Ok(dir) = std::fs::File::open(dir)
        {
            let _ = dir.sync_all();
        }
        let bytes = std::fs::metadata(path)
            .map_err(|e| written(e.to_string()))?
            .len();
        Ok(BackupReport { head, rows, bytes })
    }

    /// [`RedbStore::backup_blocking`] on tokio's blocking pool.
    pub async fn backup(&self, path: PathBuf) -> Result<BackupReport, BackupError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.backup_blocking(&path))
            .await
            .map_err(|e| BackupError::Storage(storage(e)))?
    }
}

/// Where a backup to `path` is written until it is whole.
fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}
