//! Reading a group's rows (`rows.rs`): its whole durable state when its task starts, and pages
//! of parked events, never all of them at once. These read the store synchronously: call them
//! from a blocking thread.

use std::collections::HashMap;
use std::sync::Arc;

use cairn_store::{ModelRead, StorageError};

use crate::config::GroupConfig;
use crate::dispatch::{Durable, ParkedKey};
use crate::error::GroupError;
use crate::rows::{self, ParkedEntry, Stopped};

/// Rows read per scan.
const PAGE: usize = 4_096;

/// A group as its rows hold it.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub config: GroupConfig,
    pub durable: Durable,
}

fn corrupt(what: impl std::fmt::Display) -> GroupError {
    GroupError::Storage(StorageError::Corrupt(format!("group rows: {what}")))
}

/// Every row with `prefix`, page by page, each handed to `each`.
fn scan_all(
    view: &dyn ModelRead,
    prefix: &[u8],
    start_after: Option<Vec<u8>>,
    mut each: impl FnMut(&[u8], &[u8]) -> Result<(), GroupError>,
) -> Result<(), GroupError> {
    let mut after = start_after;
    loop {
        let page = view.scan(prefix, after.as_deref(), PAGE)?;
        for (key, value) in &page {
            each(key, value)?;
        }
        if page.len() < PAGE {
            return Ok(());
        }
        after = page.last().map(|(key, _)| key.clone());
    }
}

/// The group's config, if its model holds one.
pub(crate) fn config(view: &dyn ModelRead) -> Result<Option<GroupConfig>, GroupError> {
    view.get(rows::CONFIG)?
        .map(|bytes| serde_json::from_slice(&bytes).map_err(corrupt))
        .transpose()
}

pub(crate) fn parked_entry(
    view: &dyn ModelRead,
    position: u64,
) -> Result<Option<ParkedEntry>, GroupError> {
    let Some(bytes) = view.get(&rows::at(rows::PARKED, position))? else {
        return Ok(None);
    };
    let mut entry: ParkedEntry = serde_json::from_slice(&bytes).map_err(corrupt)?;
    entry.released = view.get(&rows::at(rows::RELEASED, position))?.is_some();
    Ok(Some(entry))
}

/// Up to `limit` parked events after `after`, in log order.
pub(crate) fn parked_page(
    view: &dyn ModelRead,
    after: u64,
    limit: usize,
) -> Result<Vec<ParkedEntry>, GroupError> {
    let start = rows::at(rows::PARKED, after);
    let page = view.scan(&[rows::PARKED], Some(&start), limit)?;
    page.into_iter()
        .map(|(key, value)| {
            let position = rows::position_of(&key).ok_or_else(|| corrupt("a p row's key"))?;
            let mut entry: ParkedEntry = serde_json::from_slice(&value).map_err(corrupt)?;
            entry.released = view.get(&rows::at(rows::RELEASED, position))?.is_some();
            Ok(entry)
        })
        .collect()
}

/// Positions of the `k` rows of `key`, in order, up to `limit` of them.
pub(crate) fn positions_of_key(
    view: &dyn ModelRead,
    key: &str,
    after: Option<u64>,
    limit: usize,
) -> Result<Vec<u64>, GroupError> {
    let prefix = rows::by_key_prefix(key);
    let start = after.map(|position| rows::by_key(key, position));
    Ok(view
        .scan(&prefix, start.as_deref(), limit)?
        .iter()
        .filter_map(|(k, _)| rows::split_by_key(k).map(|(_, position)| position))
        .collect())
}

/// Up to `limit` released positions after `after`, in order.
pub(crate) fn released_after(
    view: &dyn ModelRead,
    after: u64,
    limit: usize,
) -> Result<Vec<u64>, GroupError> {
    let start = rows::at(rows::RELEASED, after);
    Ok(view
        .scan(&[rows::RELEASED], Some(&start), limit)?
        .iter()
        .filter_map(|(key, _)| rows::position_of(key))
        .collect())
}

/// The whole durable state of a group, for its task to start from. Holds one entry per key
/// with parked events and one per position settled above the checkpoint, never the events.
pub(crate) fn load(view: &dyn ModelRead) -> Result<Loaded, GroupError> {
    let config = config(view)?.ok_or_else(|| corrupt("no config row"))?;
    let checkpoint = view
        .checkpoint()
        .ok_or_else(|| corrupt("no checkpoint"))?
        .get();
    let mut durable = Durable {
        checkpoint,
        ..Durable::default()
    };
    if let Some(bytes) = view.get(rows::ACKED)? {
        durable.acked =
            rows::read_acked_row(checkpoint, &bytes).ok_or_else(|| corrupt("the a row"))?;
    }
    scan_all(
        view,
        &[rows::PARKED],
        Some(rows::at(rows::PARKED, checkpoint)),
        |key, _| {
            durable
                .parked_above
                .insert(rows::position_of(key).ok_or_else(|| corrupt("a p row's key"))?);
            Ok(())
        },
    )?;
    let mut keys: HashMap<Arc<str>, ParkedKey> = HashMap::new();
    scan_all(view, &[rows::BY_KEY], None, |key, _| {
        let (partition_key, _) = rows::split_by_key(key).ok_or_else(|| corrupt("a k row's key"))?;
        keys.entry(Arc::from(partition_key)).or_default().count += 1;
        Ok(())
    })?;
    scan_all(view, &[rows::RELEASED], None, |key, _| {
        let position = rows::position_of(key).ok_or_else(|| corrupt("an r row's key"))?;
        if let Some(entry) = parked_entry(view, position)?
            && let Some(counted) = keys.get_mut(entry.key.as_str())
        {
            counted.released += 1;
        }
        Ok(())
    })?;
    durable.parked_keys = keys;
    durable.stopped = view
        .get(rows::STOPPED)?
        .map(|bytes| serde_json::from_slice::<Stopped>(&bytes).map_err(corrupt))
        .transpose()?;
    Ok(Loaded { config, durable })
}
