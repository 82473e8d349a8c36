//! Blocking reads of the command log, each in one read transaction.

use redb::{Database, ReadableDatabase};

use super::backend;
use super::command_record;
use super::tables::COMMAND_LOG;
use crate::command::{CommandEntry, CommandId};
use crate::error::StorageError;

/// The entry of command `id`, if any. A file no command was logged in has no table yet.
pub(crate) fn command(db: &Database, id: CommandId) -> Result<Option<CommandEntry>, StorageError> {
    let txn = db.begin_read().map_err(backend)?;
    let table = match txn.open_table(COMMAND_LOG) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(backend(e)),
    };
    let Some(row) = table.get(id.as_uuid().as_u128()).map_err(backend)? else {
        return Ok(None);
    };
    Ok(Some(command_record::decode(id, row.value())?))
}

/// Up to `limit` entries in id order, after `after`.
pub(crate) fn read_commands(
    db: &Database,
    after: Option<CommandId>,
    limit: usize,
) -> Result<Vec<CommandEntry>, StorageError> {
    let txn = db.begin_read().map_err(backend)?;
    let table = match txn.open_table(COMMAND_LOG) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(backend(e)),
    };
    let rows = match after.map(|id| id.as_uuid().as_u128()) {
        None => table.range(0..),
        Some(u128::MAX) => return Ok(Vec::new()),
        Some(after) => table.range(after + 1..),
    }
    .map_err(backend)?;
    let mut entries = Vec::with_capacity(limit.min(1_024));
    for row in rows.take(limit) {
        let (key, value) = row.map_err(backend)?;
        let id = CommandId::from(uuid::Uuid::from_u128(key.value()));
        entries.push(command_record::decode(id, value.value())?);
    }
    Ok(entries)
}
