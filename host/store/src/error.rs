//! The errors of the store's operations: one enum per operation, and [`StorageError`] for the
//! failures of the storage underneath, which any operation can meet. [`Damage`] names a stored
//! record that failed its checksum or could not be decoded.

use std::sync::Arc;

use crate::event::EventId;
use crate::stream_id::StreamId;
use crate::version::{ExpectedVersion, Position, Version};

/// The storage under the store failed. The operation did not take effect.
///
/// It is `Clone` because one failed commit fails every append in its batch.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StorageError {
    /// The backend (the database or the disk under it) reported an error.
    #[error("storage failed: {0}")]
    Backend(#[source] Arc<dyn std::error::Error + Send + Sync>),
    /// Stored data could not be decoded, or the tables disagree with each other.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A stored record failed its checksum, or could not be decoded: the file was changed
    /// under the store. Nothing of the record is served.
    #[error("stored data is damaged: {0}")]
    Damaged(#[from] Damage),
    /// The store was closed, or its writer stopped.
    #[error("the store is closed")]
    Closed,
}

impl StorageError {
    /// Wraps a backend's error.
    pub fn backend(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Arc::new(error))
    }
}

/// A damaged stored record: which one, and why it is taken for damaged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{record} is damaged: {reason}")]
pub struct Damage {
    /// The record.
    pub record: StoredRecord,
    /// What is wrong with it, such as a checksum that does not match its bytes.
    pub reason: String,
}

impl Damage {
    /// The event record at `position` is damaged.
    pub fn event(position: Position, reason: impl Into<String>) -> Self {
        Self {
            record: StoredRecord::Event { position },
            reason: reason.into(),
        }
    }
}

/// A record of the store, as a damage report names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoredRecord {
    /// The event at this position of the global log.
    Event {
        /// Its position.
        position: Position,
    },
    /// The snapshot of a stream under a key.
    Snapshot {
        /// The stream's name.
        stream: String,
        /// The snapshot key.
        key: String,
    },
    /// An entry of a read model.
    ModelEntry {
        /// The read model's name, or its number when no model row names it.
        model: String,
        /// The entry's key.
        key: Vec<u8>,
    },
    /// The command log's entry of a command.
    Command {
        /// The command's id.
        id: crate::command::CommandId,
    },
    /// A row of one of the tables that index or name things (`streams`, `stream_appends`, ...).
    Row {
        /// The table.
        table: &'static str,
        /// The row's key, as text.
        key: String,
    },
    /// The database file's own structure (redb's pages), or data the reason describes.
    File,
}

impl std::fmt::Display for StoredRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Event { position } => write!(f, "the event at position {position}"),
            Self::Snapshot { stream, key } => {
                write!(f, "the snapshot '{key}' of stream '{stream}'")
            }
            Self::ModelEntry { model, key } => write!(
                f,
                "the entry '{}' of read model '{model}'",
                String::from_utf8_lossy(key).escape_debug()
            ),
            Self::Command { id } => write!(f, "the command log's entry of command {id}"),
            Self::Row { table, key } => write!(f, "the row {key} of table '{table}'"),
            Self::File => f.write_str("the database file"),
        }
    }
}

/// Why an append was refused. Nothing of a refused append is stored.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Streams whose names begin with `$` belong to the system.
    #[error("stream '{0}' is reserved: names beginning with '$' belong to the system")]
    ReservedStream(StreamId),
    /// An append must carry at least one event.
    #[error("an append needs at least one event")]
    NoEvents,
    /// An append carries more events than the limit.
    #[error("an append holds at most {max} events; this one has {count}")]
    TooManyEvents {
        /// Events in the append.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// One event id appears twice in the same append.
    #[error("event id {id} appears more than once in the append")]
    DuplicateEventId {
        /// The repeated id.
        id: EventId,
    },
    /// An event is larger than the limit.
    #[error("event {index} of the append is {bytes} bytes; the limit is {max}")]
    EventTooLarge {
        /// The event's index in the append, from 0.
        index: usize,
        /// Its type, data and metadata together, in bytes.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// An event's metadata is not a JSON object.
    #[error("event {index} of the append: metadata must be a JSON object")]
    MetadataNotObject {
        /// The event's index in the append, from 0.
        index: usize,
    },
    /// The stream's version is not what the writer expected (optimistic concurrency).
    #[error("stream '{stream}' is at version {actual}, but the append expected {expected}")]
    WrongExpectedVersion {
        /// The stream.
        stream: StreamId,
        /// What the writer expected.
        expected: ExpectedVersion,
        /// The stream's version when the append was checked.
        actual: Version,
    },
    /// Some of the append's event ids are stored already, but the append is not an exact retry
    /// of the append that stored them (same stream, same ids, same order).
    #[error(
        "event id {id} is already stored, but this append is not an exact retry of the one that \
         stored it: a retry must repeat the same events, in the same order, to stream '{stream}'"
    )]
    IdempotencyConflict {
        /// The stream this append was for.
        stream: StreamId,
        /// The first of the append's ids that is already stored.
        id: EventId,
    },
    /// The append is a command's, and the command log holds an entry of that command id whose
    /// events were appended already: an id names one command (promise 2 of `CommandLog`).
    #[error("command {id} has appended its events already; a new command needs a new id")]
    CommandIdReused {
        /// The command's id.
        id: crate::command::CommandId,
    },
    /// An event id of the append is already stored with another type, data or metadata. An id
    /// names one event: a retry repeats the same events, and a new event takes a new id.
    #[error(
        "event id {id} is already stored with a different type, data or metadata: a retry must \
         repeat the same events to stream '{stream}', and a new event needs a new id"
    )]
    EventIdReused {
        /// The stream this append was for.
        stream: StreamId,
        /// The first of the append's ids that is stored with other content.
        id: EventId,
    },
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<ReadError> for StorageError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::Storage(e) => e,
        }
    }
}

/// Why a snapshot could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A snapshot cannot reflect events the stream does not have.
    #[error(
        "a snapshot of stream '{stream}' at version {snapshot} is ahead of the stream, which is \
         at version {stream_version}"
    )]
    AheadOfStream {
        /// The stream.
        stream: StreamId,
        /// The version the snapshot claims to reflect.
        snapshot: Version,
        /// The stream's version.
        stream_version: Version,
    },
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Why a module was not kept. Nothing of a refused module is stored.
#[derive(Debug, thiserror::Error)]
pub enum ModulePutError {
    /// The name is held by a module of another kind: a name keeps the kind it was first kept
    /// with, so one name never stands for both an aggregate and a projection.
    #[error("module name '{name}' is held by a module of kind '{held_by}'; a name keeps its kind")]
    NameTaken {
        /// The name.
        name: crate::module::ModuleName,
        /// The kind of the module that holds it (its latest version).
        held_by: crate::module::ModuleKind,
    },
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Why a read model's commit was refused. Nothing of a refused commit is stored.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The commit's checkpoint is not past the model's: the batch was committed already, or a
    /// second runner is writing the same model.
    #[error(
        "read model '{model}' is at position {stored}; a commit must move it past that, not to \
         {given}"
    )]
    CheckpointNotAhead {
        model: crate::read_model::ReadModelName,
        stored: crate::version::Position,
        given: crate::version::Position,
    },
    /// An amendment of a model that has never committed a checkpoint.
    #[error("read model '{model}' has never committed; only a commit with a checkpoint starts it")]
    NeverCommitted {
        model: crate::read_model::ReadModelName,
    },
    /// A key or a value is larger than the limit.
    #[error(
        "read model '{model}': a key is at most {max_key} bytes and a value at most {max_value}; one write has a {key} byte key and a {value} byte value"
    )]
    TooLarge {
        model: crate::read_model::ReadModelName,
        key: usize,
        value: usize,
        max_key: usize,
        max_value: usize,
    },
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}
