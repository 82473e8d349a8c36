//! [`EventStore`]: the boundary between cairn and the storage backend.
//!
//! The runtime and the server use only this trait, so a second backend (PostgreSQL, for several
//! nodes sharing one database) can be added without touching them.

use crate::append::{AppendOutcome, IdempotencyKey};
use crate::error::{
    AppendError, ModelError, ModulePutError, ReadError, SnapshotError, StorageError,
};
use crate::event::NewEvent;
use crate::head::HeadWatch;
use crate::module::{ModuleName, ModulePut, ModuleRecord, ModuleState, NewModule};
use crate::read::{AllRead, AllSlice, StreamInfo, StreamRead, StreamSlice};
use crate::read_model::{ModelCommit, ModelRead, ReadModelName};
use crate::snapshot::{Snapshot, SnapshotKey};
use crate::stream_id::StreamId;
use crate::version::{ExpectedVersion, Position};

/// A durable event store with one stream per aggregate, optimistic concurrency and one global
/// order.
///
/// What every backend promises:
/// 1. An append is atomic (all of its events or none) and durable when it returns `Ok`.
/// 2. Stream versions are 1-based and gap-free; global positions are 1-based and gap-free.
/// 3. An append happens only if `expected` admits the stream's version at that moment; exactly
///    one of several racing appends at the same expected version wins.
/// 4. Event ids are unique across the store, and an id names one event. An append whose ids
///    are all stored already, in the same stream and order, each with the same type, data and
///    metadata (byte for byte), returns the original outcome and stores nothing. An append
///    carrying a stored id with other content is refused ([`AppendError::EventIdReused`]); one
///    that overlaps only in part is refused ([`AppendError::IdempotencyConflict`]).
/// 5. Snapshots never change what a read of events returns.
/// 6. A read model's writes and its checkpoint commit together or not at all, and its
///    checkpoint only grows.
/// 7. A module's state changes together with the dropping of the read models it lets go.
/// 8. A module name keeps its kind: a new version has the kind of the version before it.
/// 9. A read of events returns at most its `limit` of events and its `max_bytes` of their
///    types, data and metadata, but never nothing when there is an event to return: the first
///    is returned whatever its size. A read cut by its bytes says so (`truncated`), and
///    paging on from where it ends returns every event exactly once.
#[async_trait::async_trait]
pub trait EventStore: Send + Sync + std::fmt::Debug + 'static {
    /// Appends `events` to `stream` if its version satisfies `expected`.
    async fn append(
        &self,
        stream: StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, AppendError>;

    /// Appends like [`EventStore::append`], and records `key` with the events in the same
    /// transaction. If `key` is already recorded for the stream, returns the outcome it
    /// recorded and appends nothing.
    ///
    /// The key names a command, not its events: a retry under a recorded key is answered by the
    /// key before its events are looked at, since a command decided again may make other
    /// events. None of them is stored or compared, even where an id matches a stored one; the
    /// outcome names the events the first append stored, which the caller reads back rather
    /// than assuming its own. An append under a key not yet recorded goes through every check
    /// of [`EventStore::append`], event ids included.
    async fn append_keyed(
        &self,
        stream: StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        key: IdempotencyKey,
    ) -> Result<AppendOutcome, AppendError>;

    /// The outcome recorded for `key` on `stream`, if an append made with it was stored.
    async fn keyed_outcome(
        &self,
        stream: StreamId,
        key: IdempotencyKey,
    ) -> Result<Option<AppendOutcome>, ReadError>;

    /// Reads part of a stream, within the read's count and bytes (promise 9); going on from
    /// the version after the last event returned (before it, backward) reads the rest. A
    /// missing stream is version 0 with no events.
    async fn read_stream(
        &self,
        stream: StreamId,
        read: StreamRead,
    ) -> Result<StreamSlice, ReadError>;

    /// Reads the global log in position order, within the read's count, scan limit and bytes
    /// (promise 9); going on after `scanned_to` reads the rest.
    async fn read_all(&self, read: AllRead) -> Result<AllSlice, ReadError>;

    /// A stream's version and whether it exists.
    async fn stream_info(&self, stream: StreamId) -> Result<StreamInfo, ReadError>;

    /// Stores `snapshot` for `(stream, key)`, replacing any earlier one.
    async fn put_snapshot(
        &self,
        stream: StreamId,
        key: SnapshotKey,
        snapshot: Snapshot,
    ) -> Result<(), SnapshotError>;

    /// The snapshot stored for `(stream, key)`, if any.
    async fn get_snapshot(
        &self,
        stream: StreamId,
        key: SnapshotKey,
    ) -> Result<Option<Snapshot>, ReadError>;

    /// Keeps a module. Bytes that differ from the name's latest version make a new version.
    /// A name keeps its kind: a module whose name is held by a module of another kind is
    /// refused ([`ModulePutError::NameTaken`]), in the transaction that would have kept it, so
    /// of racing puts of one name with different kinds exactly one kind wins.
    async fn put_module(&self, module: NewModule) -> Result<ModulePut, ModulePutError>;

    /// The latest version of every module, by name.
    async fn modules(&self) -> Result<Vec<ModuleRecord>, ReadError>;

    /// The bytes of the module with this hash.
    async fn module_bytes(&self, hash: String) -> Result<Option<Vec<u8>>, ReadError>;

    /// Version `version` of module `name`, if it was kept.
    async fn module_version(
        &self,
        name: ModuleName,
        version: u64,
    ) -> Result<Option<ModuleRecord>, ReadError>;

    /// Replaces the runtime's state for a module, and drops the read models it names to drop,
    /// atomically.
    async fn put_module_state(&self, state: ModuleState) -> Result<(), StorageError>;

    /// The state last put for module `name`.
    async fn module_state(&self, name: ModuleName) -> Result<Option<Vec<u8>>, ReadError>;

    /// Applies a read model's writes and moves its checkpoint, atomically. Refused if the
    /// checkpoint is not past the model's.
    async fn commit_model(&self, commit: ModelCommit) -> Result<(), ModelError>;

    /// Removes a read model: its entries and its checkpoint.
    async fn drop_model(&self, model: ReadModelName) -> Result<(), StorageError>;

    /// A consistent view of a read model (empty, with no checkpoint, if it was never
    /// committed). This blocks on the database: call it from a blocking thread.
    fn read_model(&self, model: &ReadModelName) -> Result<Box<dyn ModelRead>, StorageError>;

    /// The position of the newest event (0 for an empty store).
    fn head(&self) -> Position;

    /// Why writes are failing, if the last write failed (a full disk, an I/O error); `None`
    /// once one commits again. With redb, a failed commit fails every later one until the
    /// store is reopened.
    fn write_failure(&self) -> Option<String>;

    /// The first damaged stored record this store met since it opened (a checksum that did
    /// not match, say), if any; `None` for a backend that keeps no checksums. Cheap: for health
    /// checks. It stays set until the store is reopened.
    fn damage_seen(&self) -> Option<crate::error::Damage> {
        None
    }

    /// A watch on the head, for waiting on new events.
    fn watch_head(&self) -> HeadWatch;
}
