//! One append inside the batch's write transaction: the idempotency check, the expected-version
//! check, then the writes that keep the invariants listed in `tables.rs`.

use redb::ReadableTable;

use super::command_record::{self, CommandBody};
use super::record::{self, Corrupt, EventPlace};
use super::stream_cache::StreamCache;
use super::tables::{
    StoredStream, StreamAppend, WriteTables, append_holding, check_place, locate_stream,
};
use crate::append::{AppendKind, AppendOutcome, IdempotencyKey};
use crate::command::Verdict;
use crate::error::{AppendError, StorageError};
use crate::event::{EventId, NewEvent, Timestamp};
use crate::stream_id::StreamId;
use crate::version::{ExpectedVersion, Position, Version};

/// An append waiting in the writer's queue. It has passed `append::check_append`.
#[derive(Debug)]
pub(crate) struct AppendRequest {
    pub(crate) stream: StreamId,
    pub(crate) expected: ExpectedVersion,
    pub(crate) events: Vec<NewEvent>,
    /// Recorded with the events (invariant 6 of `tables.rs`); an append whose key is already
    /// recorded for the stream gets the original outcome.
    pub(crate) key: Option<IdempotencyKey>,
    /// The command that decided the events, if the append is a command's: its entry is written
    /// with the events (invariant 12).
    pub(crate) command: Option<CommandBody>,
}

/// What the writer has allocated so far. A batch works on a copy, which replaces the original
/// only when the batch commits.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Allocated {
    /// The position of the newest event (invariant 3 of `tables.rs`).
    pub(crate) head: u64,
    /// The newest stream id (invariant 1).
    pub(crate) last_stream_id: u64,
}

/// Why an append did not apply.
#[derive(Debug)]
pub(crate) enum ApplyError {
    /// The append itself was refused. It wrote nothing, and the transaction stays usable.
    Refused(AppendError),
    /// The storage failed. The transaction may hold part of this append and must be dropped.
    Storage(StorageError),
}

impl From<redb::StorageError> for ApplyError {
    fn from(e: redb::StorageError) -> Self {
        Self::Storage(StorageError::backend(e))
    }
}

impl From<StorageError> for ApplyError {
    fn from(e: StorageError) -> Self {
        Self::Storage(e)
    }
}

impl From<Corrupt> for ApplyError {
    fn from(e: Corrupt) -> Self {
        Self::Storage(StorageError::Corrupt(e.0))
    }
}

/// Applies `request` at the end of the log. `streams` tells where the stream stands, and
/// learns where it stands after.
pub(crate) fn apply_append(
    tables: &mut WriteTables<'_>,
    allocated: &mut Allocated,
    streams: &mut StreamCache,
    request: &AppendRequest,
    now: Timestamp,
) -> Result<AppendOutcome, ApplyError> {
    let name = request.stream.as_str();
    let current = streams.locate(name, || {
        locate_stream(&tables.streams, &tables.stream_appends, name)
    })?;
    if let (Some(stream), Some(key)) = (current, &request.key) {
        let recorded = tables.event_tables().keyed_outcome(
            &tables.commands,
            &request.stream,
            stream.id,
            key,
        )?;
        if let Some(original) = recorded {
            return Ok(original);
        }
    }
    if let Some(original) = find_retry(tables, request, current)? {
        return Ok(original);
    }
    let actual = Version::new(current.map_or(0, |stream| stream.version));
    if !request.expected.admits(actual) {
        return Err(ApplyError::Refused(AppendError::WrongExpectedVersion {
            stream: request.stream.clone(),
            expected: request.expected,
            actual,
        }));
    }
    if let Some(command) = &request.command {
        refuse_reused_command(tables, command)?;
    }
    let stream_id = match current {
        Some(stream) => stream.id,
        None => {
            allocated.last_stream_id += 1;
            tables.streams.insert(name, allocated.last_stream_id)?;
            tables.stream_names.insert(allocated.last_stream_id, name)?;
            allocated.last_stream_id
        }
    };
    let first_version = actual.get() + 1;
    let first_position = allocated.head + 1;
    for (offset, event) in (0u64..).zip(&request.events) {
        let (version, position) = (first_version + offset, first_position + offset);
        let place = EventPlace {
            position: Position::new(position),
            stream_id,
            version,
        };
        let record = record::encode_event(event, place, now);
        tables.events.insert(position, record.as_slice())?;
        tables
            .event_ids
            .insert(event.id.as_uuid().as_u128(), (stream_id, version))?;
    }
    let count = request.events.len() as u64;
    StreamAppend {
        first_version,
        first_position,
        count,
    }
    .insert(&mut tables.stream_appends, stream_id)?;
    let last_version = first_version + count - 1;
    allocated.head += count;
    streams.appended(
        name,
        StoredStream {
            id: stream_id,
            version: last_version,
        },
    );
    if let Some(key) = &request.key {
        tables
            .commands
            .insert((stream_id, key.as_str()), (first_version, last_version))?;
    }
    let outcome = AppendOutcome {
        stream: request.stream.clone(),
        first_version: Version::new(first_version),
        last_version: Version::new(last_version),
        first_position: Position::new(first_position),
        last_position: Position::new(allocated.head),
        recorded_at: now,
        kind: AppendKind::Written,
    };
    if let Some(command) = &request.command {
        let entry = command.seal(&Verdict::Appended {
            first_version: outcome.first_version,
            last_version: outcome.last_version,
            first_position: outcome.first_position,
            last_position: outcome.last_position,
        });
        tables
            .command_log
            .insert(command.id.as_uuid().as_u128(), entry.as_slice())?;
    }
    Ok(outcome)
}

/// Refuses an append for a command whose entry says it appended events already (invariant 12).
fn refuse_reused_command(
    tables: &WriteTables<'_>,
    command: &CommandBody,
) -> Result<(), ApplyError> {
    let Some(row) = tables.command_log.get(command.id.as_uuid().as_u128())? else {
        return Ok(());
    };
    // A damaged entry refuses this append alone: nothing is written yet, and the batch's
    // other operations commit.
    let appended = command_record::is_appended(command.id, row.value()).map_err(|damage| {
        ApplyError::Refused(AppendError::Storage(StorageError::Damaged(damage)))
    })?;
    if appended {
        return Err(ApplyError::Refused(AppendError::CommandIdReused {
            id: command.id,
        }));
    }
    Ok(())
}

/// If every event id of `request` is stored already, in this stream, at consecutive versions
/// and in the same order, each with the same type, data and metadata, the request is a retry:
/// returns the original outcome. If none is stored, returns `None`.
///
/// An id stored with another type, data or metadata is refused first, as
/// [`AppendError::EventIdReused`], wherever it is stored: an id names one event, so a request
/// that carries it with other content is not a retry, and answering with the original outcome
/// would drop the new content unseen. Contents are compared as the store keeps them, byte for
/// byte: a retry sends the same text again. Any other overlap (some ids stored, another
/// stream, another order) is an [`AppendError::IdempotencyConflict`].
fn find_retry(
    tables: &WriteTables<'_>,
    request: &AppendRequest,
    current: Option<StoredStream>,
) -> Result<Option<AppendOutcome>, ApplyError> {
    let mut stored = Vec::new();
    for event in &request.events {
        if let Some(row) = tables.event_ids.get(event.id.as_uuid().as_u128())? {
            stored.push((event, row.value()));
        }
    }
    let Some(&(first, (stream_id, first_version))) = stored.first() else {
        return Ok(None);
    };
    let first_id = first.id;
    if let Some(id) = first_reused(tables, &stored)? {
        return Err(ApplyError::Refused(AppendError::EventIdReused {
            stream: request.stream.clone(),
            id,
        }));
    }
    let conflict = || {
        ApplyError::Refused(AppendError::IdempotencyConflict {
            stream: request.stream.clone(),
            id: first_id,
        })
    };
    let same_stream = current.is_some_and(|stream| stream.id == stream_id);
    let in_order = (0u64..)
        .zip(&stored)
        .all(|(offset, (_, place))| *place == (stream_id, first_version + offset));
    if stored.len() != request.events.len() || !same_stream || !in_order {
        return Err(conflict());
    }
    let last_version = first_version + stored.len() as u64 - 1;
    let original = tables.event_tables().stored_outcome(
        &request.stream,
        stream_id,
        first_version,
        last_version,
    )?;
    Ok(Some(original))
}

/// The first of `stored` (the request's ids that are stored, with where) whose stored event has
/// another type, data or metadata than the request's event of that id.
fn first_reused(
    tables: &WriteTables<'_>,
    stored: &[(&NewEvent, (u64, u64))],
) -> Result<Option<EventId>, ApplyError> {
    for &(event, (stream_id, version)) in stored {
        let id = event.id;
        let position = append_holding(&tables.stream_appends, stream_id, version)?
            .and_then(|append| append.position_of(version))
            .ok_or_else(|| {
                StorageError::Corrupt(format!(
                    "event id {id} names missing event {stream_id}/{version}"
                ))
            })?;
        let row = tables.events.get(position)?.ok_or_else(|| {
            StorageError::Corrupt(format!(
                "event {stream_id}/{version} points at empty log position {position}"
            ))
        })?;
        let record = record::decode_event(row.value(), Position::new(position))
            .map_err(|damage| ApplyError::Storage(StorageError::Damaged(damage)))?;
        check_place(&record, stream_id, version)?;
        if record.id != id {
            return Err(ApplyError::Storage(StorageError::Corrupt(format!(
                "event id {id} names event {stream_id}/{version}, which has id {}",
                record.id
            ))));
        }
        let same = record.event_type == event.event_type.as_str().as_bytes()
            && record.data == event.data.as_str().as_bytes()
            && record.metadata == event.metadata.as_str().as_bytes();
        if !same {
            return Ok(Some(id));
        }
    }
    Ok(None)
}
