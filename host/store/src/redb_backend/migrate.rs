//! Turning a file of an older layout into the current one, at open, in the same write
//! transaction that checks the layout: a crash during it leaves the old file as it was.
//!
//! Layout 1 kept each record in `stream_events[(stream id, version)]` and the global log as
//! `log[position] = (stream id, version)`. Layout 2 keeps the records in `events[position]`
//! and a stream's index as one row per run of its events at consecutive positions,
//! `stream_appends[(stream id, first version)] = (first position, count)` (`tables.rs`).
//! Every other table is the same in both.
//!
//! Layout 3 is layout 2 with a checksum at the end of every value of `events`, `snapshots` and
//! `model_entries` (`record.rs`). A layout 1 file goes through layout 2 on its way to 3, in the
//! same transaction.

use std::ops::Bound;

use redb::{ReadableTable, ReadableTableMetadata, TableDefinition, TableHandle, WriteTransaction};

use super::backend;
use super::record;
use super::tables::{
    EVENTS, FORMAT_KEY, META, MODEL_ENTRIES, SNAPSHOTS, STREAM_APPENDS, StreamAppend,
};
use crate::error::{Damage, StorageError, StoredRecord};
use crate::version::Position;

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
                .insert(position, record::encode_layout_2_event(&stored).as_slice())
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

/// What [`layout_2_to_3`] gave a checksum to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Sealed {
    pub(crate) events: u64,
    pub(crate) snapshots: u64,
    pub(crate) model_entries: u64,
}

/// The most values, and about the most bytes, read before they are written back: a table
/// cannot be written while a range over it is open, and a whole table may not fit in memory.
const CHUNK_ROWS: usize = 1_024;
const CHUNK_BYTES: usize = 4 << 20;

/// Values read from one table, with their keys, to be written back.
struct Chunk<K> {
    rows: Vec<(K, Vec<u8>)>,
    bytes: usize,
}

impl<K> Chunk<K> {
    fn new() -> Self {
        Self {
            rows: Vec::new(),
            bytes: 0,
        }
    }

    /// Adds a row; returns whether the chunk is full.
    fn push(&mut self, key: K, value: Vec<u8>) -> bool {
        self.bytes += value.len();
        self.rows.push((key, value));
        self.rows.len() >= CHUNK_ROWS || self.bytes >= CHUNK_BYTES
    }
}

/// Rewrites every value of `events`, `snapshots` and `model_entries` of a layout 2 file with its
/// checksum, and records layout 3. A value that does not decode stops it with
/// [`StorageError::Damaged`] naming the value; nothing is committed then.
pub(crate) fn layout_2_to_3(txn: &WriteTransaction) -> Result<Sealed, StorageError> {
    let sealed = Sealed {
        events: seal_events(txn)?,
        snapshots: seal_snapshots(txn)?,
        model_entries: seal_model_entries(txn)?,
    };
    txn.open_table(META)
        .map_err(backend)?
        .insert(FORMAT_KEY, 3)
        .map_err(backend)?;
    Ok(sealed)
}

fn seal_events(txn: &WriteTransaction) -> Result<u64, StorageError> {
    let mut events = txn.open_table(EVENTS).map_err(backend)?;
    let mut sealed = 0;
    let mut from = Some(0);
    while let Some(start) = from {
        let mut chunk = Chunk::new();
        for row in events.range(start..).map_err(backend)? {
            let (key, value) = row.map_err(backend)?;
            let position = Position::new(key.value());
            let stored = record::decode_layout_2_event(value.value(), position)
                .map_err(|e| Damage::event(position, e.0))?;
            if chunk.push(position.get(), record::reencode(&stored)) {
                break;
            }
        }
        from = chunk.rows.last().and_then(|(last, _)| last.checked_add(1));
        for (position, value) in &chunk.rows {
            events.insert(position, value.as_slice()).map_err(backend)?;
        }
        sealed += chunk.rows.len() as u64;
    }
    Ok(sealed)
}

fn seal_snapshots(txn: &WriteTransaction) -> Result<u64, StorageError> {
    let mut snapshots = txn.open_table(SNAPSHOTS).map_err(backend)?;
    let mut sealed = 0;
    let mut after: Option<(String, String)> = None;
    loop {
        let mut chunk = Chunk::new();
        let start = after.as_ref().map_or(Bound::Unbounded, |(stream, key)| {
            Bound::Excluded((stream.as_str(), key.as_str()))
        });
        for row in snapshots
            .range::<(&str, &str)>((start, Bound::Unbounded))
            .map_err(backend)?
        {
            let (key, value) = row.map_err(backend)?;
            let (stream, key) = key.value();
            let snapshot = record::decode_layout_2_snapshot(value.value()).map_err(|e| Damage {
                record: StoredRecord::Snapshot {
                    stream: stream.to_owned(),
                    key: key.to_owned(),
                },
                reason: e.0,
            })?;
            let full = chunk.push(
                (stream.to_owned(), key.to_owned()),
                record::encode_snapshot(&snapshot),
            );
            if full {
                break;
            }
        }
        for ((stream, key), value) in &chunk.rows {
            snapshots
                .insert((stream.as_str(), key.as_str()), value.as_slice())
                .map_err(backend)?;
        }
        sealed += chunk.rows.len() as u64;
        match chunk.rows.pop() {
            Some((last, _)) => after = Some(last),
            None => return Ok(sealed),
        }
    }
}

fn seal_model_entries(txn: &WriteTransaction) -> Result<u64, StorageError> {
    let mut entries = txn.open_table(MODEL_ENTRIES).map_err(backend)?;
    let mut sealed = 0;
    let mut after: Option<(u64, Vec<u8>)> = None;
    loop {
        let mut chunk = Chunk::new();
        let start = after.as_ref().map_or(Bound::Unbounded, |(id, key)| {
            Bound::Excluded((*id, key.as_slice()))
        });
        for row in entries
            .range::<(u64, &[u8])>((start, Bound::Unbounded))
            .map_err(backend)?
        {
            let (key, value) = row.map_err(backend)?;
            let (id, key) = key.value();
            if chunk.push((id, key.to_vec()), record::seal_value(value.value())) {
                break;
            }
        }
        for ((id, key), value) in &chunk.rows {
            entries
                .insert((*id, key.as_slice()), value.as_slice())
                .map_err(backend)?;
        }
        sealed += chunk.rows.len() as u64;
        match chunk.rows.pop() {
            Some((last, _)) => after = Some(last),
            None => return Ok(sealed),
        }
    }
}
