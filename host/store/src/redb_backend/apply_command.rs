//! Recording a command that appended nothing, inside the batch's write transaction
//! (invariant 12 of `tables.rs`).

use redb::ReadableTable;

use super::command_record::{self, CommandBody};
use super::tables::WriteTables;
use crate::command::{NothingAppended, Verdict};
use crate::error::StorageError;

/// A command that appended nothing, waiting in the writer's queue: its entry up to the
/// verdict, encoded by the caller, and the verdict.
#[derive(Debug)]
pub(crate) struct CommandRequest {
    pub(crate) body: CommandBody,
    pub(crate) verdict: NothingAppended,
}

/// Writes the entry, unless the log holds an entry of the same id that appended events, which
/// never changes. The outer error is a storage failure (drop the transaction); the inner one
/// a damaged entry found in the way, which refuses this request alone, having written nothing.
pub(crate) fn apply_command(
    tables: &mut WriteTables<'_>,
    request: &CommandRequest,
) -> Result<Result<(), StorageError>, StorageError> {
    let key = request.body.id.as_uuid().as_u128();
    if let Some(row) = tables.command_log.get(key).map_err(StorageError::backend)? {
        match command_record::is_appended(request.body.id, row.value()) {
            Ok(true) => return Ok(Ok(())),
            Ok(false) => {}
            Err(damage) => return Ok(Err(StorageError::Damaged(damage))),
        }
    }
    let entry = request
        .body
        .seal(&Verdict::NothingAppended(request.verdict.clone()));
    tables
        .command_log
        .insert(key, entry.as_slice())
        .map_err(StorageError::backend)?;
    Ok(Ok(()))
}
