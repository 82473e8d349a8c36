//! Reads, each in its own redb read transaction, so each sees one committed state. These are
//! blocking calls: `store.rs` runs them on tokio's blocking pool.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use redb::{Database, ReadableDatabase, ReadableTable};

use super::record::{self, Corrupt};
use super::tables::{LOG, SNAPSHOTS, STREAM_EVENTS, STREAM_NAMES, STREAMS};
use crate::error::StorageError;
use crate::event::RecordedEvent;
use crate::read::{AllRead, AllSlice, Direction, StreamInfo, StreamRead, StreamSlice};
use crate::snapshot::{Snapshot, SnapshotKey};
use crate::stream_id::{StreamId, category_of};
use crate::version::{Position, Version};

fn backend(e: impl Into<redb::Error>) -> StorageError {
    StorageError::backend(e.into())
}

fn corrupt(e: Corrupt) -> StorageError {
    StorageError::Corrupt(e.0)
}

pub(crate) fn stream_info(db: &Database, stream: &StreamId) -> Result<StreamInfo, StorageError> {
    let txn = db.begin_read().map_err(backend)?;
    let streams = txn.open_table(STREAMS).map_err(backend)?;
    let version = streams
        .get(stream.as_str())
        .map_err(backend)?
        .map_or(0, |row| row.value().1);
    Ok(StreamInfo {
        version: Version::new(version),
    })
}

pub(crate) fn read_stream(
    db: &Database,
    stream: &StreamId,
    read: StreamRead,
) -> Result<StreamSlice, StorageError> {
    let txn = db.begin_read().map_err(backend)?;
    let streams = txn.open_table(STREAMS).map_err(backend)?;
    let Some((stream_id, version)) = streams
        .get(stream.as_str())
        .map_err(backend)?
        .map(|r| r.value())
    else {
        return Ok(StreamSlice {
            stream: stream.clone(),
            version: Version::NONE,
            events: Vec::new(),
        });
    };
    let table = txn.open_table(STREAM_EVENTS).map_err(backend)?;
    let (low, high) = match read.direction {
        Direction::Forward => (read.from.map_or(1, |v| v.get().max(1)), version),
        Direction::Backward => (1, read.from.map_or(version, |v| v.get().min(version))),
    };
    let mut events = Vec::new();
    if low <= high && read.limit > 0 {
        let range = table
            .range((stream_id, low)..=(stream_id, high))
            .map_err(backend)?;
        let decode = |entry| to_recorded(stream, entry);
        events = match read.direction {
            Direction::Forward => range.take(read.limit).map(decode).collect::<Result<_, _>>(),
            Direction::Backward => range
                .rev()
                .take(read.limit)
                .map(decode)
                .collect::<Result<_, _>>(),
        }?;
    }
    Ok(StreamSlice {
        stream: stream.clone(),
        version: Version::new(version),
        events,
    })
}

/// One row of `stream_events`, as a range yields it.
type StreamEventRow<'a> = (
    redb::AccessGuard<'a, (u64, u64)>,
    redb::AccessGuard<'a, &'static [u8]>,
);

fn to_recorded(
    stream: &StreamId,
    row: Result<StreamEventRow<'_>, redb::StorageError>,
) -> Result<RecordedEvent, StorageError> {
    let (key, value) = row.map_err(backend)?;
    record::decode_event(value.value())
        .and_then(|stored| stored.into_recorded(stream.clone(), Version::new(key.value().1)))
        .map_err(corrupt)
}

pub(crate) fn read_all(db: &Database, read: &AllRead) -> Result<AllSlice, StorageError> {
    let txn = db.begin_read().map_err(backend)?;
    let log = txn.open_table(LOG).map_err(backend)?;
    let table = txn.open_table(STREAM_EVENTS).map_err(backend)?;
    let names = txn.open_table(STREAM_NAMES).map_err(backend)?;
    let head = log.last().map_err(backend)?.map_or(0, |(k, _)| k.value());
    let mut slice = AllSlice {
        events: Vec::new(),
        scanned_to: read.after,
        head: Position::new(head),
    };
    if read.limit == 0 || read.after.get() >= head {
        return Ok(slice);
    }
    // Stream id -> its name, or `None` when its category is filtered out.
    let mut streams: HashMap<u64, Option<StreamId>> = HashMap::new();
    for entry in log.range(read.after.get() + 1..).map_err(backend)? {
        let (position, place) = entry.map_err(backend)?;
        let (position, (stream_id, version)) = (position.value(), place.value());
        slice.scanned_to = Position::new(position);
        let stream = match streams.entry(stream_id) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(slot) => {
                let row = names.get(stream_id).map_err(backend)?.ok_or_else(|| {
                    StorageError::Corrupt(format!(
                        "log position {position} names unknown stream {stream_id}"
                    ))
                })?;
                let name = StreamId::new(row.value())
                    .map_err(|e| StorageError::Corrupt(format!("stored stream name {e}")))?;
                let wanted = read
                    .category
                    .as_deref()
                    .is_none_or(|category| category_of(name.as_str()) == category);
                slot.insert(wanted.then_some(name))
            }
        };
        let Some(stream) = stream else { continue };
        let row = table
            .get((stream_id, version))
            .map_err(backend)?
            .ok_or_else(|| {
                StorageError::Corrupt(format!("log position {position} points at missing event"))
            })?;
        let stored = record::decode_event(row.value()).map_err(corrupt)?;
        if read
            .event_type
            .as_ref()
            .is_some_and(|wanted| wanted.as_str() != stored.event_type)
        {
            continue;
        }
        slice.events.push(
            stored
                .into_recorded(stream.clone(), Version::new(version))
                .map_err(corrupt)?,
        );
        if slice.events.len() >= read.limit {
            return Ok(slice);
        }
    }
    slice.scanned_to = Position::new(head);
    Ok(slice)
}

pub(crate) fn get_snapshot(
    db: &Database,
    stream: &StreamId,
    key: &SnapshotKey,
) -> Result<Option<Snapshot>, StorageError> {
    let txn = db.begin_read().map_err(backend)?;
    let snapshots = txn.open_table(SNAPSHOTS).map_err(backend)?;
    let row = snapshots
        .get((stream.as_str(), key.as_str()))
        .map_err(backend)?;
    row.map(|row| record::decode_snapshot(row.value()).map_err(corrupt))
        .transpose()
}
