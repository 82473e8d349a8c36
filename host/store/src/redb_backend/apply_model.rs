//! Committing a read model's writes with its checkpoint, amending its entries alone,
//! replacing a read model whole, and dropping one, inside the batch's write transaction
//! (invariant 8 of `tables.rs`).

use redb::ReadableTable;

use super::record;
use super::tables::WriteTables;
use crate::error::{ModelError, StorageError};
use crate::read_model::{ModelAmend, ModelCommit, ModelWrite, ReadModelName};
use crate::version::Position;

/// Applies `commit`'s writes and moves its checkpoint, or refuses it whole.
///
/// The outer error is a storage failure (drop the transaction); the inner one a refusal.
pub(crate) fn apply_model_commit(
    tables: &mut WriteTables<'_>,
    commit: &ModelCommit,
) -> Result<Result<(), ModelError>, StorageError> {
    if let Err(refusal) = crate::read_model::check_model_writes(&commit.model, &commit.writes) {
        return Ok(Err(refusal));
    }
    let name = commit.model.as_str();
    let stored = tables
        .models
        .get(name)
        .map_err(StorageError::backend)?
        .map(|row| row.value());
    let id = match stored {
        Some((_, checkpoint)) if commit.checkpoint.get() <= checkpoint => {
            return Ok(Err(ModelError::CheckpointNotAhead {
                model: commit.model.clone(),
                stored: Position::new(checkpoint),
                given: commit.checkpoint,
            }));
        }
        Some((id, _)) => id,
        None => next_model_id(tables)?,
    };
    write_entries(tables, id, &commit.writes)?;
    tables
        .models
        .insert(name, (id, commit.checkpoint.get()))
        .map_err(StorageError::backend)?;
    Ok(Ok(()))
}

/// Applies `amend`'s writes, leaving the checkpoint where it is, or refuses it whole: a model
/// that has never committed has no checkpoint to keep.
pub(crate) fn apply_model_amend(
    tables: &mut WriteTables<'_>,
    amend: &ModelAmend,
) -> Result<Result<(), ModelError>, StorageError> {
    if let Err(refusal) = crate::read_model::check_model_writes(&amend.model, &amend.writes) {
        return Ok(Err(refusal));
    }
    let stored = tables
        .models
        .get(amend.model.as_str())
        .map_err(StorageError::backend)?
        .map(|row| row.value());
    let Some((id, _)) = stored else {
        return Ok(Err(ModelError::NeverCommitted {
            model: amend.model.clone(),
        }));
    };
    write_entries(tables, id, &amend.writes)?;
    Ok(Ok(()))
}

/// Drops `commit`'s model and commits `commit` to it, or refuses it whole (before anything is
/// dropped) if a write is over the size limits.
pub(crate) fn apply_model_replace(
    tables: &mut WriteTables<'_>,
    commit: &ModelCommit,
) -> Result<Result<(), ModelError>, StorageError> {
    if let Err(refusal) = crate::read_model::check_model_writes(&commit.model, &commit.writes) {
        return Ok(Err(refusal));
    }
    apply_model_drop(tables, &commit.model)?;
    apply_model_commit(tables, commit)
}

/// Writes `writes`, in order, to the entries of model `id`.
fn write_entries(
    tables: &mut WriteTables<'_>,
    id: u64,
    writes: &[ModelWrite],
) -> Result<(), StorageError> {
    for write in writes {
        match write {
            ModelWrite::Put { key, value } => {
                tables
                    .model_entries
                    .insert((id, key.as_slice()), record::seal_value(value).as_slice())
                    .map_err(StorageError::backend)?;
            }
            ModelWrite::Delete { key } => {
                tables
                    .model_entries
                    .remove((id, key.as_slice()))
                    .map_err(StorageError::backend)?;
            }
        }
    }
    Ok(())
}

/// Removes a read model: its entries and its checkpoint. Nothing if it does not exist.
pub(crate) fn apply_model_drop(
    tables: &mut WriteTables<'_>,
    model: &ReadModelName,
) -> Result<(), StorageError> {
    let Some(id) = tables
        .models
        .remove(model.as_str())
        .map_err(StorageError::backend)?
        .map(|row| row.value().0)
    else {
        return Ok(());
    };
    let start: (u64, &[u8]) = (id, &[]);
    let end: (u64, &[u8]) = (id + 1, &[]);
    tables
        .model_entries
        .retain_in(start..end, |_, _| false)
        .map_err(StorageError::backend)
}

/// An id no model has: one past the largest in use. Models are few, so this scans them.
fn next_model_id(tables: &WriteTables<'_>) -> Result<u64, StorageError> {
    let mut largest = 0;
    for row in tables.models.iter().map_err(StorageError::backend)? {
        let (_, value) = row.map_err(StorageError::backend)?;
        largest = largest.max(value.value().0);
    }
    Ok(largest + 1)
}
