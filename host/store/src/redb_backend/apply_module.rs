//! Keeping one module, removing one, or replacing the runtime's state for one, inside the
//! batch's write transaction (invariants 7, 9 and 11 of `tables.rs`).

use redb::ReadableTable;

use super::apply_model::apply_model_drop;
use super::reads::module_record;
use super::tables::WriteTables;
use crate::error::{ModulePutError, StorageError};
use crate::event::Timestamp;
use crate::module::{ModuleName, ModulePut, ModuleRecord, ModuleRemoval, ModuleState, NewModule};

/// Keeps `module` as its name's next version, unless the latest version has the same hash, or
/// the name is held by a module of another kind (invariant 7 of `tables.rs`). The kind is
/// checked here, inside the write transaction, so no put can slip between the check and the
/// write: racing puts of one name with different kinds are applied one after the other, and
/// every put after the first sees the kind it wrote.
///
/// A new version is stamped with `now`, the batch's time, in `module_uploads`.
///
/// The outer error is a storage failure (drop the transaction); the inner one a refusal.
pub(crate) fn apply_module(
    tables: &mut WriteTables<'_>,
    module: &NewModule,
    now: Timestamp,
) -> Result<Result<ModulePut, ModulePutError>, StorageError> {
    let name = module.name().as_str();
    let latest = latest_version(tables, module.name())?;
    let removed = is_removed(tables, name, latest.as_ref())?;
    // A removed projection or upcaster leaves nothing under its name; a removed aggregate
    // leaves its streams, and a removed reactor its outcome stream, which stay theirs.
    let name_is_free = removed && latest.as_ref().is_some_and(|l| !l.kind.owns_streams());
    if let Some(latest) = latest
        .as_ref()
        .filter(|latest| latest.kind != module.kind() && !name_is_free)
    {
        return Ok(Err(ModulePutError::NameTaken {
            name: module.name().clone(),
            held_by: latest.kind,
        }));
    }
    if let Some(latest) = latest
        .as_ref()
        .filter(|latest| latest.hash == *module.hash() && !removed)
    {
        return Ok(Ok(ModulePut::Unchanged(latest.clone())));
    }
    if removed {
        tables
            .removed_modules
            .remove(name)
            .map_err(StorageError::backend)?;
    }
    let version = latest.map_or(1, |latest| latest.version + 1);
    let hash = module.hash().as_str();
    if tables
        .module_blobs
        .get(hash)
        .map_err(StorageError::backend)?
        .is_none()
    {
        tables
            .module_blobs
            .insert(hash, module.bytes())
            .map_err(StorageError::backend)?;
    }
    tables
        .modules
        .insert((name, version), (module.kind().as_str(), hash))
        .map_err(StorageError::backend)?;
    tables
        .module_uploads
        .insert((name, version), now.as_millis())
        .map_err(StorageError::backend)?;
    Ok(Ok(ModulePut::Created(ModuleRecord {
        name: module.name().clone(),
        version,
        kind: module.kind(),
        hash: module.hash().clone(),
    })))
}

/// The latest version kept of module `name`, removed or not.
fn latest_version(
    tables: &WriteTables<'_>,
    name: &ModuleName,
) -> Result<Option<ModuleRecord>, StorageError> {
    let key = name.as_str();
    let mut versions = tables
        .modules
        .range((key, 0)..=(key, u64::MAX))
        .map_err(StorageError::backend)?;
    match versions.next_back() {
        Some(row) => {
            let (key, value) = row.map_err(StorageError::backend)?;
            Ok(Some(module_record(
                name.clone(),
                key.value().1,
                value.value(),
            )?))
        }
        None => Ok(None),
    }
}

/// Whether `name`, whose latest version is `latest`, is removed: a `removed_modules` row names
/// that very version (invariant 11). A row naming an older version is stale (a version was
/// kept after it by a release that knew nothing of removal) and does not count.
fn is_removed(
    tables: &WriteTables<'_>,
    name: &str,
    latest: Option<&ModuleRecord>,
) -> Result<bool, StorageError> {
    let row = tables
        .removed_modules
        .get(name)
        .map_err(StorageError::backend)?
        .map(|row| row.value());
    Ok(row.is_some() && row == latest.map(|l| l.version))
}

/// Replaces a module's state and drops the read models it names to drop. A removed module
/// keeps no state (invariant 11): its state is not written, though the models are dropped.
pub(crate) fn apply_module_state(
    tables: &mut WriteTables<'_>,
    update: &ModuleState,
) -> Result<(), StorageError> {
    for model in &update.drop_models {
        apply_model_drop(tables, model)?;
    }
    let name = update.module.as_str();
    let latest = latest_version(tables, &update.module)?;
    if is_removed(tables, name, latest.as_ref())? {
        return Ok(());
    }
    tables
        .module_states
        .insert(update.module.as_str(), update.state.as_slice())
        .map_err(StorageError::backend)?;
    Ok(())
}

/// Removes `removal.module` if it is kept: marks its latest version removed, deletes its state
/// and drops the read models named with it (invariant 11 of `tables.rs`).
pub(crate) fn apply_module_removal(
    tables: &mut WriteTables<'_>,
    removal: &ModuleRemoval,
) -> Result<Option<ModuleRecord>, StorageError> {
    let name = removal.module.as_str();
    let Some(latest) = latest_version(tables, &removal.module)? else {
        return Ok(None);
    };
    if is_removed(tables, name, Some(&latest))? {
        return Ok(None);
    }
    for model in &removal.drop_models {
        apply_model_drop(tables, model)?;
    }
    tables
        .module_states
        .remove(name)
        .map_err(StorageError::backend)?;
    tables
        .removed_modules
        .insert(name, latest.version)
        .map_err(StorageError::backend)?;
    Ok(Some(latest))
}
