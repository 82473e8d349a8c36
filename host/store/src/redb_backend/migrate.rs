//! Turning a file of an older layout into the current one, at open, in the same write
//! transaction that checks the layout: a crash during it leaves the old file as it was.
//!
//! Layout 1 kept each record in `stream_events[(stream id, version)]` and the global log as
//! `log[position] = (stream id, version)`. Layout 2 keeps the records in `events[position]`
//! and a stream's index as one row per run of its events at consecutive positions,
//! `stream_appends[(stream id, first version)] = (first position, count)` (`tables.rs`).
//! Every other table is the same in both.

use redb::{ReadableTable, ReadableTableMetadata, TableDefinition, TableHandle, WriteTransaction};

use super::backend;
use super::record;
use super::tables::{EVENTS, FORMAT_KEY, META, STREAM_APPENDS, StreamAppend};
use crate::error::StorageError;

const LAYOUT_1_STREAM_EVENTS: TableDefinition<(u64, u64), &[u8]> =
    TableDefinition::new("stream_events");
const LAYOUT_1_LOG: TableDefinition<u64, (u64, u64)> = TableDefinition::new("log");

/// Whether `txn`'s file has tables of layout 1, for a file that names no layout.
pub(crate) fn has_layout_1_tables(txn: &WriteTransaction) -> Result<bool, StorageError> {
    let layout_1 = [LAYOUT_1_LOG.name(), LAYOUT_1_STREAM_EVENTS.name()];
    Ok(txn
        .list_tables()
        .map_err(backend)?
        .any(|table| layout_1.contains(&table.name())))
}

/// Rewrites a layout 1 file's events as layout 2, drops the layout 1 tables and records the new
/// layout. Returns how many events moved. A record that does not decode, or a log that does not
/// match the records, stops it with [`StorageError::Corrupt`]; nothing is committed then.
pub(crate) fn layout_1_to_2(txn: &WriteTransaction) -> Result<u64, StorageError> {
    let mut moved = 0;
    {
        let log = txn.open_table(LAYOUT_1_LOG).map_err(backend)?;
        let old = txn.open_table(LAYOUT_1_STREAM_EVENTS).map_err(backend)?;
        let mut events = txn.open_table(EVENTS).map_err(backend)?;
        let mut appends = txn.open_table(STREAM_APPENDS).map_err(backend)?;
        // The records in stream order; each run of consecutive versions at consecutive
        // positions becomes one row of `stream_appends`.
        let mut run: Option<(u64, StreamAppend)> = None;
        for entry in old.iter().map_err(backend)? {
            let (key, value) = entry.map_err(backend)?;
            let (stream_id, version) = key.value();
            let stored = record::decode_layout_1_event(value.value(), stream_id, version)?;
            let position = stored.place.position.get();
            let pointed = log.get(position).map_err(backend)?.map(|p| p.value());
            if pointed != Some((stream_id, version)) {
                return Err(StorageError::Corrupt(format!(
                    "event {stream_id}/{version} is at log position {position}, which points at {pointed:?}"
                )));
            }
            events
                .insert(position, record::reencode(&stored).as_slice())
                .map_err(backend)?;
            moved += 1;
            match &mut run {
                Some((id, append))
                    if *id == stream_id
                        && append.first_version + append.count == version
                        && append.first_position + append.count == position =>
                {
                    append.count += 1;
                }
                _ => {
                    if let Some((id, append)) = run.take() {
                        append.insert(&mut appends, id).map_err(backend)?;
                    }
                    run = Some((
                        stream_id,
                        StreamAppend {
                            first_version: version,
                            first_position: position,
                            count: 1,
                        },
                    ));
                }
            }
        }
        if let Some((id, append)) = run {
            append.insert(&mut appends, id).map_err(backend)?;
        }
        let positions = log.len().map_err(backend)?;
        if positions != moved {
            return Err(StorageError::Corrupt(format!(
                "the log has {positions} positions for {moved} stream events"
            )));
        }
    }
    txn.delete_table(LAYOUT_1_LOG).map_err(backend)?;
    txn.delete_table(LAYOUT_1_STREAM_EVENTS).map_err(backend)?;
    txn.open_table(META)
        .map_err(backend)?
        .insert(FORMAT_KEY, 2)
        .map_err(backend)?;
    Ok(moved)
}
