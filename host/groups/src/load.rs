//! Reading a group's rows (`rows.rs`): its whole durable state when its task starts, and pages
//! of parked events, never all of them at once. These read the store synchronously: call them
//! from a blocking thread.

use std::collections::HashMap;
use std::sync::Arc;

use cairn_store::{ModelRead, StorageError};

use crate::config::GroupConfig;
use crate::dispatch::{Durable, ParkedKey};
use crate::error::GroupError;
use crate::parked::{self, ParkedEntry};
use crate::rows::{self, Stopped};

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

/// The event parked at `position`, with whether a replay released it.
pub(crate) fn parked_entry(
    view: &dyn ModelRead,
    position: u64,
) -> Result<Option<ParkedEntry>, GroupError> {
    let Some(mut entry) = parked::entry::<parked::Released>(view, position)? else {
        return Ok(None);
    };
    entry.held.released = view.get(&rows::released(position))?.is_some();
    Ok(Some(entry))
}

/// Up to `limit` parked events after `after`, in log order, each with whether a replay
/// released it.
pub(crate) fn parked_page(
    view: &dyn ModelRead,
    after: u64,
    limit: usize,
) -> Result<Vec<ParkedEntry>, GroupError> {
    let mut page = parked::page::<parked::Released>(view, after, limit)?;
    for entry in &mut page {
        entry.held.released = view.get(&rows::released(entry.position))?.is_some();
    }
    Ok(page)
}

/// Up to `limit` released positions after `after`, in order.
pub(crate) fn released_after(
    view: &dyn ModelRead,
    after: u64,
    limit: usize,
) -> Result<Vec<u64>, GroupError> {
    let start = rows::released(after);
    Ok(view
        .scan(&[rows::RELEASED], Some(&start), limit)?
        .iter()
        .filter_map(|(key, _)| parked::position_of(key))
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
        &[parked::PARKED],
        Some(parked::row_key(checkpoint)),
        |key, _| {
            durable
                .parked_above
                .insert(parked::position_of(key).ok_or_else(|| corrupt("a p row's key"))?);
            Ok(())
        },
    )?;
    let mut keys: HashMap<Arc<str>, ParkedKey> = HashMap::new();
    scan_all(view, &[parked::BY_KEY], None, |key, _| {
        let (partition_key, _) =
            parked::split_by_key(key).ok_or_else(|| corrupt("a k row's key"))?;
        keys.entry(Arc::from(partition_key)).or_default().count += 1;
        Ok(())
    })?;
    scan_all(view, &[rows::RELEASED], None, |key, _| {
        let position = parked::position_of(key).ok_or_else(|| corrupt("an r row's key"))?;
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
