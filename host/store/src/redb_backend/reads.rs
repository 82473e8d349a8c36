//! Reads, each in its own redb read transaction, so each sees one committed state. These are
//! blocking calls: `store.rs` runs them on tokio's blocking pool.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use redb::{Database, ReadableDatabase, ReadableTable};

use super::backend;
use super::record::{self, PageBuilder};
use super::tables::{
    COMMANDS, EVENTS, EventTables, MODULE_BLOBS, MODULE_STATES, MODULE_UPLOADS, MODULES,
    REMOVED_MODULES, SNAPSHOTS, STREAM_APPENDS, STREAM_NAMES, STREAMS, StoredStream, StreamAppend,
    append_holding, check_place, locate_stream,
};
use crate::append::{AppendOutcome, IdempotencyKey};
use crate::error::{Damage, StorageError, StoredRecord};
use crate::event::{RecordedEvent, Timestamp};
use crate::module::{ModuleHash, ModuleKind, ModuleName, ModuleRecord};
use crate::read::{
    AllRead, AllSlice, Direction, StreamInfo, StreamRead, StreamSlice, VersionsPaging, VersionsRead,
};
use crate::snapshot::{Snapshot, SnapshotKey};
use crate::stream_id::{StreamId, category_of};
use crate::version::{Position, Version};

pub(crate) fn stream_info(db: &Database, stream: &StreamId) -> Result<StreamInfo, StorageError> {
    let txn = db.begin_read().map_err(backend)?;
    let streams = txn.open_table(STREAMS).map_err(backend)?;
    let appends = txn.open_table(STREAM_APPENDS).map_err(backend)?;
    let version = locate_stream(&streams, &appends, stream.as_str())
        .map_err(backend)?
        .map_or(0, |stored| stored.version);
    Ok(StreamInfo {
        version: Version::new(version),
    })
}

/// Versions `first..=last` of a stream, paging on past each read's byte budget (fewer if the
/// stream ends before `last`), as [`crate::EventLog::read_versions`] promises.
pub(crate) fn read_versions(
    db: &Database,
    wanted: &VersionsRead,
) -> Result<Vec<RecordedEvent>, StorageError> {
    let mut paging = VersionsPaging::new(wanted.clone());
    while let Some(page) = paging.next_page() {
        let slice = read_stream(db, paging.stream(), page)?;
        paging.take(slice);
    }
    Ok(paging.into_events())
}

pub(crate) fn read_stream(
    db: &Database,
    stream: &StreamId,
    read: StreamRead,
) -> Result<StreamSlice, StorageError> {
    let txn = db.begin_read().map_err(backend)?;
    let streams = txn.open_table(STREAMS).map_err(backend)?;
    let appends = txn.open_table(STREAM_APPENDS).map_err(backend)?;
    let events = txn.open_table(EVENTS).map_err(backend)?;
    let Some(StoredStream {
        id: stream_id,
        version,
    }) = locate_stream(&streams, &appends, stream.as_str()).map_err(backend)?
    else {
        return Ok(StreamSlice {
            stream: stream.clone(),
            version: Version::NONE,
            events: Vec::new(),
            truncated: false,
        });
    };
    let (low, high) = match read.direction {
        Direction::Forward => (read.from.map_or(1, |v| v.get().max(1)), version),
        Direction::Backward => (1, read.from.map_or(version, |v| v.get().min(version))),
    };
    let mut page = PageBuilder::default();
    let mut budget = Budget::new(read.limit, read.max_bytes);
    if low <= high && read.limit > 0 {
        let available = usize::try_from(high - low + 1).unwrap_or(usize::MAX);
        page = PageBuilder::with_capacity(available.min(read.limit).min(65_536));
        let reader = AppendReader {
            events: &events,
            stream,
            stream_id,
            wanted: low..=high,
            direction: read.direction,
        };
        match read.direction {
            Direction::Forward => {
                // From the append holding `low`, which may begin before it.
                let start = append_holding(&appends, stream_id, low)
                    .map_err(backend)?
                    .map_or(low, |append| append.first_version);
                let rows = appends
                    .range((stream_id, start)..=(stream_id, high))
                    .map_err(backend)?;
                for row in rows {
                    let append = StreamAppend::from_row(row.map_err(backend)?);
                    if reader.push(&mut page, append, &mut budget)? {
                        break;
                    }
                }
            }
            Direction::Backward => {
                let rows = appends
                    .range((stream_id, 0)..=(stream_id, high))
                    .map_err(backend)?;
                for row in rows.rev() {
                    let append = StreamAppend::from_row(row.map_err(backend)?);
                    if reader.push(&mut page, append, &mut budget)? {
                        break;
                    }
                }
            }
        }
    }
    Ok(StreamSlice {
        stream: stream.clone(),
        version: Version::new(version),
        events: page.finish(),
        truncated: budget.truncated,
    })
}

/// What one read may still return: at most `limit` events, and at most `max_bytes` bytes of
/// their types, data and metadata, except that the first event always fits, so a reader
/// paging through always moves on.
struct Budget {
    limit: usize,
    max_bytes: usize,
    bytes: usize,
    /// Whether an event was turned away for its bytes.
    truncated: bool,
}

impl Budget {
    fn new(limit: usize, max_bytes: usize) -> Self {
        Self {
            limit,
            max_bytes,
            bytes: 0,
            truncated: false,
        }
    }

    /// Whether a page holding `held` events takes `event` too; counts it if so. Turning it
    /// away for its bytes marks the read truncated.
    fn take(&mut self, held: usize, event: &record::StoredEvent<'_>) -> bool {
        if held >= self.limit {
            return false;
        }
        let bytes = event.event_type.len() + event.data.len() + event.metadata.len();
        if held > 0 && self.bytes.saturating_add(bytes) > self.max_bytes {
            self.truncated = true;
            return false;
        }
        self.bytes = self.bytes.saturating_add(bytes);
        true
    }

    /// Whether a page holding `held` events takes no more.
    fn spent(&self, held: usize) -> bool {
        held >= self.limit || self.truncated
    }
}

/// Reads the events of a stream's appends that a stream read wants, one range scan of `events`
/// per append (an append's events have consecutive positions, invariant 3).
struct AppendReader<'a> {
    events: &'a redb::ReadOnlyTable<u64, &'static [u8]>,
    stream: &'a StreamId,
    stream_id: u64,
    wanted: std::ops::RangeInclusive<u64>,
    direction: Direction,
}

impl AppendReader<'_> {
    /// Adds the wanted events of `append`, in the read's direction, until `budget` is spent.
    /// Returns whether it is.
    fn push(
        &self,
        page: &mut PageBuilder,
        append: StreamAppend,
        budget: &mut Budget,
    ) -> Result<bool, StorageError> {
        let first = append.first_version.max(*self.wanted.start());
        let last = append.last_version().min(*self.wanted.end());
        if first > last {
            return Ok(budget.spent(page.len()));
        }
        let (Some(from), Some(to)) = (append.position_of(first), append.position_of(last)) else {
            return Ok(budget.spent(page.len()));
        };
        let range = self.events.range(from..=to).map_err(backend)?;
        let seen = match self.direction {
            Direction::Forward => self.push_rows(page, range.zip(first..=last), budget)?,
            Direction::Backward => {
                self.push_rows(page, range.rev().zip((first..=last).rev()), budget)?
            }
        };
        if budget.spent(page.len()) {
            return Ok(true);
        }
        if seen != last - first + 1 {
            return Err(StorageError::Corrupt(format!(
                "the log holds {seen} of the {} events of stream {} from version {first}",
                last - first + 1,
                self.stream_id
            )));
        }
        Ok(false)
    }

    /// Adds the events of `rows` (records of `events` with the version each should hold) until
    /// `budget` is spent; returns how many it added.
    fn push_rows<'r>(
        &self,
        page: &mut PageBuilder,
        rows: impl Iterator<Item = (Result<EventRow<'r>, redb::StorageError>, u64)>,
        budget: &mut Budget,
    ) -> Result<u64, StorageError> {
        let mut seen = 0;
        for (row, version) in rows {
            let (position, record) = row.map_err(backend)?;
            let stored = record::decode_event(record.value(), Position::new(position.value()))?;
            check_place(&stored, self.stream_id, version)?;
            if !budget.take(page.len(), &stored) {
                break;
            }
            page.push(stored, self.stream.clone())?;
            seen += 1;
            if budget.spent(page.len()) {
                break;
            }
        }
        Ok(seen)
    }
}

/// A row of `events`, as a range yields it.
type EventRow<'a> = (
    redb::AccessGuard<'a, u64>,
    redb::AccessGuard<'a, &'static [u8]>,
);

pub(crate) fn read_all(db: &Database, read: &AllRead) -> Result<AllSlice, StorageError> {
    let txn = db.begin_read().map_err(backend)?;
    let events = txn.open_table(EVENTS).map_err(backend)?;
    let names = txn.open_table(STREAM_NAMES).map_err(backend)?;
    let head = events
        .last()
        .map_err(backend)?
        .map_or(0, |(k, _)| k.value());
    let mut page = PageBuilder::default();
    let mut budget = Budget::new(read.limit, read.max_bytes);
    // A scan looks at everything up to the head, unless a limit stops it early or is 0.
    let mut scanned_to = match read.limit {
        0 => read.after,
        _ => Position::new(head.max(read.after.get())),
    };
    if read.limit > 0 && read.after.get() < head {
        page = PageBuilder::with_capacity(read.limit.min(4_096));
        // Stream id -> its name, or `None` when its category is filtered out.
        let mut streams: HashMap<u64, Option<StreamId>> = HashMap::new();
        for (examined, entry) in events
            .range(read.after.get() + 1..)
            .map_err(backend)?
            .enumerate()
        {
            let (position, record) = entry.map_err(backend)?;
            let position = position.value();
            if examined >= read.scan_limit {
                // Bounded work: report how far the scan got; the caller goes on from there.
                scanned_to = Position::new(position - 1);
                break;
            }
            let stored = record::decode_event(record.value(), Position::new(position))?;
            let stream = match streams.entry(stored.place.stream_id) {
                Entry::Occupied(known) => known.into_mut(),
                Entry::Vacant(slot) => {
                    slot.insert(stream_if_wanted(&names, stored.place.stream_id, read)?)
                }
            };
            let Some(stream) = stream else { continue };
            if read
                .event_type
                .as_ref()
                .is_some_and(|wanted| wanted.as_str().as_bytes() != stored.event_type)
            {
                continue;
            }
            if !budget.take(page.len(), &stored) {
                // Out of bytes: this event is the next read's first.
                scanned_to = Position::new(position - 1);
                break;
            }
            page.push(stored, stream.clone())?;
            if page.len() >= read.limit {
                scanned_to = Position::new(position);
                break;
            }
        }
    }
    Ok(AllSlice {
        events: page.finish(),
        scanned_to,
        head: Position::new(head),
        truncated: budget.truncated,
    })
}

/// The name of stream `stream_id`, or `None` if `read` filters out its category.
fn stream_if_wanted(
    names: &redb::ReadOnlyTable<u64, &'static str>,
    stream_id: u64,
    read: &AllRead,
) -> Result<Option<StreamId>, StorageError> {
    let row = names.get(stream_id).map_err(backend)?.ok_or_else(|| {
        StorageError::Corrupt(format!("the log names unknown stream {stream_id}"))
    })?;
    let name = StreamId::from_stored(row.value())
        .map_err(|e| StorageError::Corrupt(format!("stored stream name {e}")))?;
    let wanted = read
        .category
        .as_deref()
        .is_none_or(|category| category_of(name.as_str()) == category);
    Ok(wanted.then_some(name))
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
    row.map(|row| {
        record::decode_snapshot(row.value()).map_err(|e| {
            StorageError::from(Damage {
                record: StoredRecord::Snapshot {
                    stream: stream.as_str().to_owned(),
                    key: key.as_str().to_owned(),
                },
                reason: e.0,
            })
        })
    })
    .transpose()
}

pub(crate) fn keyed_outcome(
    db: &Database,
    stream: &StreamId,
    key: &IdempotencyKey,
) -> Result<Option<AppendOutcome>, StorageError> {
    let txn = db.begin_read().map_err(backend)?;
    let streams = txn.open_table(STREAMS).map_err(backend)?;
    let appends = txn.open_table(STREAM_APPENDS).map_err(backend)?;
    let events = txn.open_table(EVENTS).map_err(backend)?;
    let commands = txn.open_table(COMMANDS).map_err(backend)?;
    let tables = EventTables {
        events: &events,
        stream_appends: &appends,
    };
    match locate_stream(&streams, &appends, stream.as_str()).map_err(backend)? {
        Some(stored) => tables.keyed_outcome(&commands, stream, stored.id, key),
        None => Ok(None),
    }
}

/// The latest version of every module kept, by name: removed ones are left out.
pub(crate) fn modules(db: &Database) -> Result<Vec<ModuleRecord>, StorageError> {
    let txn = db.begin_read().map_err(backend)?;
    let table = txn.open_table(MODULES).map_err(backend)?;
    let removed = txn.open_table(REMOVED_MODULES).map_err(backend)?;
    let mut latest: Vec<ModuleRecord> = Vec::new();
    for row in table.iter().map_err(backend)? {
        let (key, value) = row.map_err(backend)?;
        let (name, version) = key.value();
        let name = ModuleName::kept(name)
            .map_err(|e| StorageError::Corrupt(format!("stored module name {e}")))?;
        let record = module_record(name, version, value.value())?;
        // Rows come in (name, version) order, so a name's last row is its latest version.
        match latest.last_mut() {
            Some(last) if last.name == record.name => *last = record,
            _ => latest.push(record),
        }
    }
    let mut kept = Vec::with_capacity(latest.len());
    for record in latest {
        // A removal row counts only for the version it removed (invariant 11).
        let removed_at = removed
            .get(record.name.as_str())
            .map_err(backend)?
            .map(|row| row.value());
        if removed_at != Some(record.version) {
            kept.push(record);
        }
    }
    Ok(kept)
}

/// A `modules` row as a [`ModuleRecord`]; a kind or hash that does not read back is damage of
/// the row.
pub(crate) fn module_record(
    name: ModuleName,
    version: u64,
    (kind, hash): (&str, &str),
) -> Result<ModuleRecord, StorageError> {
    let damaged = |reason: String| {
        StorageError::Damaged(Damage {
            record: StoredRecord::Row {
                table: "modules",
                key: format!("({name}, {version})"),
            },
            reason,
        })
    };
    let kind = ModuleKind::parse(kind).ok_or_else(|| damaged(format!("unknown kind {kind:?}")))?;
    let hash = ModuleHash::parse(hash).map_err(|e| damaged(e.to_string()))?;
    Ok(ModuleRecord {
        name,
        version,
        kind,
        hash,
    })
}

pub(crate) fn module_bytes(
    db: &Database,
    hash: &ModuleHash,
) -> Result<Option<Vec<u8>>, StorageError> {
    let txn = db.begin_read().map_err(backend)?;
    let table = txn.open_table(MODULE_BLOBS).map_err(backend)?;
    let row = table.get(hash.as_str()).map_err(backend)?;
    Ok(row.map(|row| row.value().to_vec()))
}

pub(crate) fn module_version(
    db: &Database,
    name: &ModuleName,
    version: u64,
) -> Result<Option<ModuleRecord>, StorageError> {
    let txn = db.begin_read().map_err(backend)?;
    let table = txn.open_table(MODULES).map_err(backend)?;
    let row = table.get((name.as_str(), version)).map_err(backend)?;
    row.map(|row| module_record(name.clone(), version, row.value()))
        .transpose()
}

/// When version `version` of module `name` was kept; `None` if it was not, or if a release
/// that recorded no upload times kept it (a file of such a release has no `module_uploads`).
pub(crate) fn module_uploaded_at(
    db: &Database,
    name: &ModuleName,
    version: u64,
) -> Result<Option<Timestamp>, StorageError> {
    let txn = db.begin_read().map_err(backend)?;
    let table = match txn.open_table(MODULE_UPLOADS) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(backend(e)),
    };
    let row = table.get((name.as_str(), version)).map_err(backend)?;
    Ok(row.map(|row| Timestamp::from_millis(row.value())))
}

pub(crate) fn module_state(
    db: &Database,
    name: &ModuleName,
) -> Result<Option<Vec<u8>>, StorageError> {
    let txn = db.begin_read().map_err(backend)?;
    let table = txn.open_table(MODULE_STATES).map_err(backend)?;
    let row = table.get(name.as_str()).map_err(backend)?;
    Ok(row.map(|row| row.value().to_vec()))
}

#[cfg(test)]
mod tests {
    use crate::{
        AllRead, EventLog, EventType, ExpectedVersion, Json, ModuleKind, ModuleName, Modules,
        NewEvent, NewModule, Position, RedbOptions, RedbStore, StreamId, StreamRead,
    };

    /// Names the store kept before it refused format characters are read back, not called
    /// corrupt: the stream's name, the event's type and the module's name.
    #[tokio::test]
    async fn names_kept_under_the_earlier_rule_stay_readable() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = RedbStore::open(dir.path(), RedbOptions::default())
            .await
            .expect("open");
        let old_name = "zero\u{200B}width-1";
        assert!(StreamId::new(old_name).is_err(), "refused today");
        let stream = StreamId::from_stored(old_name).expect("kept earlier");
        let event_type = EventType::from_stored("Bidi\u{202E}Type").expect("kept earlier");
        let event = NewEvent::new(event_type.clone(), Json::empty_object());
        store
            .append(stream.clone(), ExpectedVersion::Any, vec![event])
            .await
            .expect("append");
        let module = ModuleName::kept("soft\u{AD}module").expect("kept earlier");
        store
            .put_module(NewModule::new(
                module.clone(),
                ModuleKind::Aggregate,
                vec![1],
            ))
            .await
            .expect("put");
        store.close().await;

        let store = RedbStore::open(dir.path(), RedbOptions::default())
            .await
            .expect("reopen");
        let all = store
            .read_all(AllRead::after(Position::new(0)))
            .await
            .expect("the log reads");
        assert_eq!(all.events[0].stream, stream);
        assert_eq!(all.events[0].event_type, event_type);
        let slice = store
            .read_stream(stream, StreamRead::forward())
            .await
            .expect("the stream reads");
        assert_eq!(slice.events.len(), 1);
        let modules = store.modules().await.expect("the modules read");
        assert_eq!(modules[0].name, module);
    }
}
