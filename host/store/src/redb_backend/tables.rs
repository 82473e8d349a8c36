//! The redb tables, and the invariants that tie them together.
//!
//! Streams get a dense numeric id when first written, so the large tables key on 16 fixed bytes
//! rather than on names. A stream's events are stored under the stream (a stream read is one
//! range scan), and the global log points at them.
//!
//! | table | key | value |
//! |---|---|---|
//! | `meta` | setting name | number |
//! | `streams` | stream name | stream id |
//! | `stream_names` | stream id | stream name |
//! | `stream_events` | (stream id, version) | event record (see `record.rs`) |
//! | `log` | global position | (stream id, version) |
//! | `event_ids` | event id (UUID as u128) | (stream id, version) |
//! | `snapshots` | (stream name, snapshot key) | snapshot (see `record.rs`) |
//! | `commands` | (stream id, idempotency key) | (first version, last version) |
//! | `modules` | (module name, version) | (kind, hash) |
//! | `module_blobs` | hash | the module's bytes |
//! | `models` | read model name | (model id, checkpoint position) |
//! | `model_entries` | (model id, key) | value |
//! | `module_states` | module name | the runtime's bookkeeping for it (opaque bytes) |
//!
//! Invariants, kept by `apply_append.rs` inside one write transaction per batch:
//! 1. `streams[name] = id` exactly when `stream_names[id] = name`; ids are 1, 2, 3, ... in
//!    order of each stream's first append. Neither row changes after that append.
//! 2. A stream at version `v` has `stream_events[(id, 1..=v)]` and no other rows, so its version
//!    is its last key there ([`locate_stream`]). The version is stored nowhere else: an append
//!    to an existing stream then dirties only pages it must write anyway.
//! 3. `log` holds positions `1..=head` with no gap, where head is its last key; `log[p] = (id, v)`
//!    exactly when the record at `stream_events[(id, v)]` carries position `p`.
//! 4. `event_ids[e] = (id, v)` exactly when the record at `stream_events[(id, v)]` has id `e`.
//! 5. Snapshots live apart from events: nothing that reads events reads `snapshots`.
//! 6. `commands[(id, key)] = (first, last)` is written in the transaction that appended
//!    versions `first..=last` of stream `id` with that key.
//! 7. `modules[(name, 1..=n)]` exist for a name with `n` versions, each naming a hash that
//!    `module_blobs` holds. Consecutive versions of a name have different hashes.
//! 8. `model_entries[(id, _)]` rows exist only for an id that `models` names; a model's entries
//!    and its checkpoint change only together, in one transaction (`apply_model.rs`), and the
//!    checkpoint only grows. Dropping a model removes its entries and its row together.
//! 9. `module_states[name]` is replaced whole, in the transaction that drops the read models
//!    the new state stops naming (`apply_module.rs`). The store never reads the value.

use redb::{ReadableTable, TableDefinition, TableError, WriteTransaction};

use super::record;
use crate::append::{AppendOutcome, IdempotencyKey};
use crate::error::StorageError;
use crate::event::Timestamp;
use crate::stream_id::StreamId;
use crate::version::{Position, Version};

/// Settings of the database itself; today only [`FORMAT_KEY`].
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
pub(crate) const STREAMS: TableDefinition<&str, u64> = TableDefinition::new("streams");
pub(crate) const STREAM_NAMES: TableDefinition<u64, &str> = TableDefinition::new("stream_names");
pub(crate) const STREAM_EVENTS: TableDefinition<(u64, u64), &[u8]> =
    TableDefinition::new("stream_events");
pub(crate) const LOG: TableDefinition<u64, (u64, u64)> = TableDefinition::new("log");
pub(crate) const EVENT_IDS: TableDefinition<u128, (u64, u64)> = TableDefinition::new("event_ids");
pub(crate) const SNAPSHOTS: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("snapshots");

pub(crate) const COMMANDS: TableDefinition<(u64, &str), (u64, u64)> =
    TableDefinition::new("commands");
pub(crate) const MODULES: TableDefinition<(&str, u64), (&str, &str)> =
    TableDefinition::new("modules");
pub(crate) const MODULE_BLOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("module_blobs");
pub(crate) const MODELS: TableDefinition<&str, (u64, u64)> = TableDefinition::new("models");
pub(crate) const MODEL_ENTRIES: TableDefinition<(u64, &[u8]), &[u8]> =
    TableDefinition::new("model_entries");
pub(crate) const MODULE_STATES: TableDefinition<&str, &[u8]> =
    TableDefinition::new("module_states");

/// The `meta` key holding the layout version of this file.
pub(crate) const FORMAT_KEY: &str = "format";
/// The layout this code reads and writes.
pub(crate) const FORMAT: u64 = 1;

/// Every table, opened in one write transaction.
pub(crate) struct WriteTables<'txn> {
    pub(crate) streams: redb::Table<'txn, &'static str, u64>,
    pub(crate) stream_names: redb::Table<'txn, u64, &'static str>,
    pub(crate) stream_events: redb::Table<'txn, (u64, u64), &'static [u8]>,
    pub(crate) log: redb::Table<'txn, u64, (u64, u64)>,
    pub(crate) event_ids: redb::Table<'txn, u128, (u64, u64)>,
    pub(crate) snapshots: redb::Table<'txn, (&'static str, &'static str), &'static [u8]>,
    pub(crate) commands: redb::Table<'txn, (u64, &'static str), (u64, u64)>,
    pub(crate) modules: redb::Table<'txn, (&'static str, u64), (&'static str, &'static str)>,
    pub(crate) module_blobs: redb::Table<'txn, &'static str, &'static [u8]>,
    pub(crate) models: redb::Table<'txn, &'static str, (u64, u64)>,
    pub(crate) model_entries: redb::Table<'txn, (u64, &'static [u8]), &'static [u8]>,
    pub(crate) module_states: redb::Table<'txn, &'static str, &'static [u8]>,
}

impl<'txn> WriteTables<'txn> {
    pub(crate) fn open(txn: &'txn WriteTransaction) -> Result<Self, TableError> {
        Ok(Self {
            streams: txn.open_table(STREAMS)?,
            stream_names: txn.open_table(STREAM_NAMES)?,
            stream_events: txn.open_table(STREAM_EVENTS)?,
            log: txn.open_table(LOG)?,
            event_ids: txn.open_table(EVENT_IDS)?,
            snapshots: txn.open_table(SNAPSHOTS)?,
            commands: txn.open_table(COMMANDS)?,
            modules: txn.open_table(MODULES)?,
            module_blobs: txn.open_table(MODULE_BLOBS)?,
            models: txn.open_table(MODELS)?,
            model_entries: txn.open_table(MODEL_ENTRIES)?,
            module_states: txn.open_table(MODULE_STATES)?,
        })
    }
}

/// A stream as stored: its id and its version (invariants 1 and 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StoredStream {
    pub(crate) id: u64,
    pub(crate) version: u64,
}

/// Finds stream `name`, in a read or a write transaction. `None` if it has never been written.
pub(crate) fn locate_stream(
    streams: &impl ReadableTable<&'static str, u64>,
    stream_events: &impl ReadableTable<(u64, u64), &'static [u8]>,
    name: &str,
) -> Result<Option<StoredStream>, redb::StorageError> {
    let Some(id) = streams.get(name)?.map(|row| row.value()) else {
        return Ok(None);
    };
    let last = stream_events
        .range((id, 0)..=(id, u64::MAX))?
        .next_back()
        .transpose()?;
    let version = last.map_or(0, |(key, _)| key.value().1);
    Ok(Some(StoredStream { id, version }))
}

/// Where event `version` of stream `stream_id` sits in the global log, and when it was
/// recorded, from its record.
pub(crate) fn stored_place(
    stream_events: &impl ReadableTable<(u64, u64), &'static [u8]>,
    stream_id: u64,
    version: u64,
) -> Result<(Position, Timestamp), StorageError> {
    let row = stream_events
        .get((stream_id, version))
        .map_err(StorageError::backend)?
        .ok_or_else(|| {
            StorageError::Corrupt(format!(
                "a reference to missing event {stream_id}/{version}"
            ))
        })?;
    record::decode_event(row.value())
        .map(|stored| (stored.position, stored.recorded_at))
        .map_err(|e| StorageError::Corrupt(e.0))
}

/// The outcome of the append that stored versions `first..=last` of stream `stream_id`.
pub(crate) fn stored_outcome(
    stream_events: &impl ReadableTable<(u64, u64), &'static [u8]>,
    stream: &StreamId,
    stream_id: u64,
    first: u64,
    last: u64,
) -> Result<AppendOutcome, StorageError> {
    let (first_position, recorded_at) = stored_place(stream_events, stream_id, first)?;
    let (last_position, _) = stored_place(stream_events, stream_id, last)?;
    Ok(AppendOutcome {
        stream: stream.clone(),
        first_version: Version::new(first),
        last_version: Version::new(last),
        first_position,
        last_position,
        recorded_at,
    })
}

/// The outcome recorded for `key` on stream `stream_id`, if any (invariant 6).
pub(crate) fn keyed_outcome(
    commands: &impl ReadableTable<(u64, &'static str), (u64, u64)>,
    stream_events: &impl ReadableTable<(u64, u64), &'static [u8]>,
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
    stored_outcome(stream_events, stream, stream_id, first, last).map(Some)
}
