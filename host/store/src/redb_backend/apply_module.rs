//! Keeping one module, or the runtime's state for one, inside the batch's write transaction
//! (invariants 7 and 9 of `tables.rs`).

use redb::ReadableTable;

use super::apply_model::apply_model_drop;
use super::tables::WriteTables;
use crate::error::StorageError;
use crate::module::{ModulePut, ModuleRecord, ModuleState, NewModule};

pub(crate) fn apply_module(
    tables: &mut WriteTables<'_>,
    module: &NewModule,
) -> Result<ModulePut, StorageError> {
    let name = module.name.as_str();
    let latest = {
        let mut versions = tables
            .modules
            .range((name, 0)..=(name, u64::MAX))
            .map_err(StorageError::backend)?;
        match versions.next_back() {
            Some(row) => {
                let (key, value) = row.map_err(StorageError::backend)?;
                let (kind, hash) = value.value();
                Some(ModuleRecord {
                    name: module.name.clone(),
                    version: key.value().1,
                    kind: kind.to_owned(),
                    hash: hash.to_owned(),
                })
            }
            None => None,
        }
    };
    if let Some(latest) = latest.as_ref().filter(|latest| latest.hash == module.hash) {
        return Ok(ModulePut::Unchanged(latest.clone()));
    }
    let version = latest.map_or(1, |latest| latest.version + 1);
    let hash = module.hash.as_str();
    if tables
        .module_blobs
        .get(hash)
        .map_err(StorageError::backend)?
        .is_none()
    {
        tables
            .module_blobs
            .insert(hash, module.bytes.as_slice())
            .map_err(StorageError::backend)?;
    }
    tables
        .modules
        .insert((name, version), (module.kind.as_str(), hash))
        .map_err(StorageError::backend)?;
    Ok(ModulePut::Created(ModuleRecord {
        name: module.name.clone(),
        version,
        kind: module.kind.clone(),
        hash: module.hash.clone(),
    }))
}

/// Replaces a module's state and drops the read models it names to drop.
pub(crate) fn apply_module_state(
    tables: &mut WriteTables<'_>,
    update: &ModuleState,
) -> Result<(), StorageError> {
    for model in &update.drop_models {
        apply_model_drop(tables, model)?;
    }
    tables
        .module_states
        .insert(update.module.as_str(), update.state.as_slice())
        .map_err(StorageError::backend)?;
    Ok(())
}
