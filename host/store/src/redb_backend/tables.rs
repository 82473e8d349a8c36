//! The redb tables, and the invariants that tie them together.
//!
//! Streams get a dense numeric id when first written, so the large tables key on numbers rather
//! than on names. Events are stored in the order of the global log, so the records a commit
//! writes go to the end of one table. A stream's index holds one small row per append, which
//! names the append's first version and where its events lie in the log: an append's events
//! have consecutive positions, so a stream read is a range scan of the index and one range
//! scan of the log per append.
//!
//! | table | key | value |
//! |---|---|---|
//! | `meta` | setting name | number |
//! | `streams` | stream name | stream id |
//! | `stream_names` | stream id | stream name |
//! | `events` | global position | event record, ending in its checksum (see `record.rs`) |
//! | `stream_appends` | (stream id, first version) | (first position, event count) |
//! | `event_ids` | event id (UUID as u128) | (stream id, version) |
//! | `snapshots` | (stream name, snapshot key) | snapshot, ending in its checksum (see `record.rs`) |
//! | `commands` | (stream id, idempotency key) | (first version, last version) |
//! | `modules` | (module name, version) | (kind, hash) |
//! | `module_blobs` | hash | the module's bytes |
//! | `module_uploads` | (module name, version) | when the version was kept, in ms since the Unix epoch |
//! | `models` | read model name | (model id, checkpoint position) |
//! | `model_entries` | (model id, key) | value, then its checksum (see `record.rs`) |
//! | `module_states` | module name | the runtime's bookkeeping for it (opaque bytes) |
//! | `removed_modules` | module name | the version that was latest when it was removed |
//! | `command_log` | command id (UUID as u128) | the command and its verdict, ending in its checksum (see `command_record.rs`) |
//!
//! Invariants, kept by `apply_append.rs` inside one write transaction per batch:
//! 1. `streams[name] = id` exactly when `stream_names[id] = name`; ids are 1, 2, 3, ... in
//!    order of each stream's first append. Neither row changes after that append.
//! 2. The rows `stream_appends[(id, f)] = (p, n)` of a stream at version `v` cover versions
//!    `1..=v` exactly once, in order, each with `n >= 1` events: the next row's `f` is this one's
//!    `f + n`. So the stream's version is its last row's `f + n - 1` ([`locate_stream`]); it is
//!    stored nowhere else, and an append to an existing stream dirties only pages it must write
//!    anyway.
//! 3. `events` holds positions `1..=head` with no gap, where head is its last key. The record at
//!    `events[p + i]` carries that position, stream id `id` and version `f + i`, for every
//!    `i < n`, exactly when `stream_appends[(id, f)] = (p, n)`.
//! 4. `event_ids[e] = (id, v)` exactly when the record of `(id, v)` (invariant 3) has id `e`.
//! 5. Snapshots live apart from events: nothing that reads events reads `snapshots`.
//! 6. `commands[(id, key)] = (first, last)` is written in the transaction that appended
//!    versions `first..=last` of stream `id` with that key.
//! 7. `modules[(name, 1..=n)]` exist for a name with `n` versions, each naming a hash that
//!    `module_blobs` holds. Consecutive versions of a name have different hashes unless the
//!    name was removed between them, and a new version has the kind of the version before it
//!    unless that was a removed projection or upcaster (`apply_module.rs` refuses another
//!    kind; a removed aggregate's or reactor's streams stay, and so does its kind). `module_uploads[(name, v)]` is written with `modules[(name, v)]` and never
//!    changes; a version kept by a release that did not record upload times has no row.
//! 8. `model_entries[(id, _)]` rows exist only for an id that `models` names; a model's entries
//!    and its checkpoint change only together, in one transaction (`apply_model.rs`), and the
//!    checkpoint only grows; an amendment changes entries alone, of a model that has a row.
//!    Dropping a model removes its entries and its row together; a replacement drops and
//!    commits in one transaction, and is the one write that may move a checkpoint back.
//! 9. `module_states[name]` is replaced whole, in the transaction that drops the read models
//!    the new state stops naming (`apply_module.rs`). The store never reads the value.
//! 10. Every value of `events`, `snapshots` and `model_entries` ends in a checksum of its bytes
//!     (an event's also covers its position), written with it and verified by every read of
//!     it; a value whose checksum does not match is reported as damaged, never returned
//!     (`record.rs`). `verify.rs` checks every one of them, and invariants 1 to 4 and 8.
//! 11. `removed_modules[name] = n`, with `n` the name's latest version, exactly when the name
//!     was removed after version `n` was kept: such a name has no `module_states` row (a state
//!     put for it is not written) and is not listed as kept. A put of the name deletes the
//!     row (`apply_module.rs`). A row naming an older version than the latest is stale (a
//!     release that knew nothing of removal kept a version after it) and means nothing.
//! 12. `command_log[c]` with an appended verdict naming versions `f..=l` of stream `s` at
//!     positions `p..=q` is written in the transaction that appended exactly those events, by
//!     the append that wrote them (`apply_append.rs`), and never changes: an append recognised
//!     as an earlier one writes no entry. An entry whose verdict appended nothing is replaced
//!     by any later entry of the same id (`apply_command.rs`). Its value ends in a checksum
//!     of the id and its bytes (`command_record.rs`).

use redb::{ReadableTable, TableDefinition, TableError, WriteTransaction};

use super::record;
use crate::append::{AppendKind, AppendOutcome, IdempotencyKey};
use crate::error::StorageError;
use crate::event::Timestamp;
use crate::stream_id::StreamId;
use crate::version::{Position, Version};

/// Settings of the database itself; today only [`FORMAT_KEY`].
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
pub(crate) const STREAMS: TableDefinition<&str, u64> = TableDefinition::new("streams");
pub(crate) const STREAM_NAMES: TableDefinition<u64, &str> = TableDefinition::new("stream_names");
pub(crate) const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
pub(crate) const STREAM_APPENDS: TableDefinition<(u64, u64), (u64, u64)> =
    TableDefinition::new("stream_appends");
pub(crate) const EVENT_IDS: TableDefinition<u128, (u64, u64)> = TableDefinition::new("event_ids");
pub(crate) const SNAPSHOTS: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("snapshots");

pub(crate) const COMMANDS: TableDefinition<(u64, &str), (u64, u64)> =
    TableDefinition::new("commands");
pub(crate) const MODULES: TableDefinition<(&str, u64), (&str, &str)> =
    TableDefinition::new("modules");
pub(crate) const MODULE_BLOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("module_blobs");
pub(crate) const MODULE_UPLOADS: TableDefinition<(&str, u64), u64> =
    TableDefinition::new("module_uploads");
pub(crate) const MODELS: TableDefinition<&str, (u64, u64)> = TableDefinition::new("models");
pub(crate) const MODEL_ENTRIES: TableDefinition<(u64, &[u8]), &[u8]> =
    TableDefinition::new("model_entries");
pub(crate) const MODULE_STATES: TableDefinition<&str, &[u8]> =
    TableDefinition::new("module_states");
pub(crate) const REMOVED_MODULES: TableDefinition<&str, u64> =
    TableDefinition::new("removed_modules");
pub(crate) const COMMAND_LOG: TableDefinition<u128, &[u8]> = TableDefinition::new("command_log");

/// The `meta` key holding the layout version of this file.
pub(crate) const FORMAT_KEY: &str = "format";
/// The layout this code reads and writes. Layout 1 kept the records under their streams and
/// the log as pointers to them; layout 2 kept them as layout 3 does, without checksums.
/// `migrate.rs` turns a file of either into this one at open.
pub(crate) const FORMAT: u64 = 3;

/// Every table, opened in one write transaction.
pub(crate) struct WriteTables<'txn> {
    pub(crate) streams: redb::Table<'txn, &'static str, u64>,
    pub(crate) stream_names: redb::Table<'txn, u64, &'static str>,
    pub(crate) events: redb::Table<'txn, u64, &'static [u8]>,
    pub(crate) stream_appends: redb::Table<'txn, (u64, u64), (u64, u64)>,
    pub(crate) event_ids: redb::Table<'txn, u128, (u64, u64)>,
    pub(crate) snapshots: redb::Table<'txn, (&'static str, &'static str), &'static [u8]>,
    pub(crate) commands: redb::Table<'txn, (u64, &'static str), (u64, u64)>,
    pub(crate) modules: redb::Table<'txn, (&'static str, u64), (&'static str, &'static str)>,
    pub(crate) module_blobs: redb::Table<'txn, &'static str, &'static [u8]>,
    pub(crate) module_uploads: redb::Table<'txn, (&'static str, u64), u64>,
    pub(crate) models: redb::Table<'txn, &'static str, (u64, u64)>,
    pub(crate) model_entries: redb::Table<'txn, (u64, &'static [u8]), &'static [u8]>,
    pub(crate) module_states: redb::Table<'txn, &'static str, &'static [u8]>,
    pub(crate) removed_modules: redb::Table<'txn, &'static str, u64>,
    pub(crate) command_log: redb::Table<'txn, u128, &'static [u8]>,
}

impl<'txn> WriteTables<'txn> {
    pub(crate) fn open(txn: &'txn WriteTransaction) -> Result<Self, TableError> {
        Ok(Self {
            streams: txn.open_table(STREAMS)?,
            stream_names: txn.open_table(STREAM_NAMES)?,
            events: txn.open_table(EVENTS)?,
            stream_appends: txn.open_table(STREAM_APPENDS)?,
            event_ids: txn.open_table(EVENT_IDS)?,
            snapshots: txn.open_table(SNAPSHOTS)?,
            commands: txn.open_table(COMMANDS)?,
            modules: txn.open_table(MODULES)?,
            module_blobs: txn.open_table(MODULE_BLOBS)?,
            module_uploads: txn.open_table(MODULE_UPLOADS)?,
            models: txn.open_table(MODELS)?,
            model_entries: txn.open_table(MODEL_ENTRIES)?,
            module_states: txn.open_table(MODULE_STATES)?,
            removed_modules: txn.open_table(REMOVED_MODULES)?,
            command_log: txn.open_table(COMMAND_LOG)?,
        })
    }
}

/// [`EventTables`] inside a write transaction.
pub(crate) type WriteEventTables<'a, 'txn> = EventTables<
    'a,
    redb::Table<'txn, u64, &'static [u8]>,
    redb::Table<'txn, (u64, u64), (u64, u64)>,
>;

impl<'txn> WriteTables<'txn> {
    /// The tables that hold events, for reading them back inside the transaction.
    pub(crate) fn event_tables(&self) -> WriteEventTables<'_, 'txn> {
        EventTables {
            events: &self.events,
            stream_appends: &self.stream_appends,
        }
    }
}

/// A stream as stored: its id and its version (invariants 1 and 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StoredStream {
    pub(crate) id: u64,
    pub(crate) version: u64,
}

/// One row of `stream_appends`: versions `first_version..first_version + count` of a stream,
/// at positions from `first_position` on (invariants 2 and 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StreamAppend {
    pub(crate) first_version: u64,
    pub(crate) first_position: u64,
    pub(crate) count: u64,
}

/// A row of `stream_appends`, as a range yields it.
pub(crate) type StreamAppendRow<'a> = (
    redb::AccessGuard<'a, (u64, u64)>,
    redb::AccessGuard<'a, (u64, u64)>,
);

impl StreamAppend {
    pub(crate) fn from_row(row: StreamAppendRow<'_>) -> Self {
        let ((_, first_version), (first_position, count)) = (row.0.value(), row.1.value());
        Self {
            first_version,
            first_position,
            count,
        }
    }

    /// Writes this append as stream `stream_id`'s row of `stream_appends`.
    pub(crate) fn insert(
        &self,
        stream_appends: &mut redb::Table<'_, (u64, u64), (u64, u64)>,
        stream_id: u64,
    ) -> Result<(), redb::StorageError> {
        stream_appends.insert(
            (stream_id, self.first_version),
            (self.first_position, self.count),
        )?;
        Ok(())
    }

    /// The last version this append wrote; `first_version - 1` for an empty row.
    pub(crate) fn last_version(&self) -> u64 {
        (self.first_version + self.count).saturating_sub(1)
    }

    /// Where `version` lies in the log, if this append wrote it.
    pub(crate) fn position_of(&self, version: u64) -> Option<u64> {
        (self.first_version..=self.last_version())
            .contains(&version)
            .then(|| self.first_position + (version - self.first_version))
    }
}

/// Finds stream `name`, in a read or a write transaction. `None` if it has never been written.
pub(crate) fn locate_stream(
    streams: &impl ReadableTable<&'static str, u64>,
    stream_appends: &impl ReadableTable<(u64, u64), (u64, u64)>,
    name: &str,
) -> Result<Option<StoredStream>, redb::StorageError> {
    let Some(id) = streams.get(name)?.map(|row| row.value()) else {
        return Ok(None);
    };
    let last = stream_appends
        .range((id, 0)..=(id, u64::MAX))?
        .next_back()
        .transpose()?;
    let version = last.map_or(0, |row| StreamAppend::from_row(row).last_version());
    Ok(Some(StoredStream { id, version }))
}

/// The append of stream `stream_id` that wrote `version`, if any.
pub(crate) fn append_holding(
    stream_appends: &impl ReadableTable<(u64, u64), (u64, u64)>,
    stream_id: u64,
    version: u64,
) -> Result<Option<StreamAppend>, redb::StorageError> {
    let row = stream_appends
        .range((stream_id, 0)..=(stream_id, version))?
        .next_back()
        .transpose()?;
    Ok(row
        .map(StreamAppend::from_row)
        .filter(|append| append.position_of(version).is_some()))
}

/// The tables that hold events, for reading them back by stream and version.
pub(crate) struct EventTables<'a, E, A> {
    pub(crate) events: &'a E,
    pub(crate) stream_appends: &'a A,
}

impl<E, A> EventTables<'_, E, A>
where
    E: ReadableTable<u64, &'static [u8]>,
    A: ReadableTable<(u64, u64), (u64, u64)>,
{
    /// Where event `version` of stream `stream_id` sits in the global log, and when it was
    /// recorded, from its record.
    pub(crate) fn stored_place(
        &self,
        stream_id: u64,
        version: u64,
    ) -> Result<(Position, Timestamp), StorageError> {
        let position = append_holding(self.stream_appends, stream_id, version)
            .map_err(StorageError::backend)?
            .and_then(|append| append.position_of(version))
            .ok_or_else(|| {
                StorageError::Corrupt(format!(
                    "a reference to missing event {stream_id}/{version}"
                ))
            })?;
        let row = self
            .events
            .get(position)
            .map_err(StorageError::backend)?
            .ok_or_else(|| {
                StorageError::Corrupt(format!(
                    "event {stream_id}/{version} points at empty log position {position}"
                ))
            })?;
        let stored = record::decode_event(row.value(), Position::new(position))?;
        check_place(&stored, stream_id, version)?;
        Ok((stored.place.position, stored.recorded_at))
    }

    /// The outcome of the append that stored versions `first..=last` of stream `stream_id`.
    pub(crate) fn stored_outcome(
        &self,
        stream: &StreamId,
        stream_id: u64,
        first: u64,
        last: u64,
    ) -> Result<AppendOutcome, StorageError> {
        let (first_position, recorded_at) = self.stored_place(stream_id, first)?;
        let (last_position, _) = self.stored_place(stream_id, last)?;
        Ok(AppendOutcome {
            stream: stream.clone(),
            first_version: Version::new(first),
            last_version: Version::new(last),
            first_position,
            last_position,
            recorded_at,
            kind: AppendKind::Recognised,
        })
    }

    /// The outcome recorded for `key` on stream `stream_id`, if any (invariant 6).
    pub(crate) fn keyed_outcome(
        &self,
        commands: &impl ReadableTable<(u64, &'static str), (u64, u64)>,
        stream: &StreamId,
        stream_id: u64,
        key: &IdempotencyKey,
    ) -> Result<Option<AppendOutcome>, StorageError> {
        let recorded = commands
            .get((stream_id, key.as_str()))
            .map_err(StorageError::backend)?
            .map(|row| row.value());
        let Some((first, last)) = recorded else {
            return Ok(None);
        };
        self.stored_outcome(stream, stream_id, first, last)
            .map(Some)
    }
}

/// Checks that a record read where event `version` of stream `stream_id` should be is that
/// event (invariant 3).
pub(crate) fn check_place(
    stored: &record::StoredEvent<'_>,
    stream_id: u64,
    version: u64,
) -> Result<(), StorageError> {
    let place = stored.place;
    if (place.stream_id, place.version) == (stream_id, version) {
        return Ok(());
    }
    Err(StorageError::Corrupt(format!(
        "log position {} should hold event {stream_id}/{version} but holds {}/{}",
        place.position, place.stream_id, place.version
    )))
}
