//! cairn-store: the durable event store under cairn.
//!
//! One stream per aggregate, optimistic concurrency on every append, one gap-free global order,
//! idempotency by event id, snapshots beside the streams, and a cheap wait for new events. This
//! crate knows nothing of WebAssembly or HTTP; it builds and tests in seconds.
//!
//! Layout:
//! - The domain types, checked once at construction: [`StreamId`] (`stream_id.rs`), [`Version`],
//!   [`Position`] and [`ExpectedVersion`] (`version.rs`), [`NewEvent`], [`RecordedEvent`] and
//!   their parts (`event.rs`), [`Json`] (`json.rs`), [`SnapshotKey`] and [`Snapshot`]
//!   (`snapshot.rs`). `name.rs` holds the name rule they share.
//! - `backend/`: the traits the rest of cairn uses, each with the promises every backend keeps:
//!   [`EventLog`], [`CommandLog`], [`Snapshots`], [`Modules`], [`ReadModels`], and
//!   [`EventStore`] for a backend that implements them all. `host/store-contract` tests any backend against them.
//! - `command.rs`: commands as the command log keeps them ([`LoggedCommand`], [`Verdict`]).
//! - `append.rs`, `read.rs` and `stream_list.rs` (listing streams by name prefix): what
//!   operations take and return; `error.rs`: one error enum
//!   per operation.
//! - `head.rs`: [`HeadWatch`], how subscribers wait for the log to grow.
//! - `image.rs`: a store's whole content as backend-neutral parts ([`ImagePart`]) and their
//!   digest ([`ImageDigest`]), for moving a store from one backend to another.
//! - `module.rs`: modules kept as named ([`ModuleName`]), hashed ([`ModuleHash`]), versioned
//!   blobs of a kind ([`ModuleKind`], [`ModuleRecord`]), their removal ([`ModuleRemoval`]), and
//!   the runtime's opaque state for each ([`ModuleState`]).
//! - `read_model.rs`: projections' key-value read models, each with a checkpoint.
//! - `redb_backend/`: [`RedbStore`], the embedded backend, with group commit on one writer thread.
//!
//! Damaged data is found, never served: every stored event record, snapshot and read model value
//! ends in a checksum that every read verifies. A mismatch is [`StorageError::Damaged`] naming
//! the record ([`Damage`], [`StoredRecord`]); the store remembers the first damage it met
//! ([`RedbStore::damage_seen`], for health checks); [`RedbStore::verify`] checks every record of
//! a file offline ([`VerifyReport`]); and a file whose redb structure is damaged fails to open
//! with [`OpenError::Damaged`], never a panic. `docs/storage.md` has the details.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use cairn_store::*;
//! let store = RedbStore::open("data", RedbOptions::default()).await?;
//! let stream = StreamId::new("customer-42")?;
//! let event = NewEvent::new(EventType::new("CustomerCreated")?, Json::parse(r#"{"name":"Ada"}"#)?);
//! store.append(stream.clone(), ExpectedVersion::NoStream, vec![event]).await?;
//! let slice = store.read_stream(stream, StreamRead::forward()).await?;
//! assert_eq!(slice.version, Version::new(1));
//! # Ok(()) }
//! ```

mod append;
mod backend;
mod command;
mod error;
mod event;
mod head;
mod image;
mod json;
mod lease;
mod module;
mod name;
mod read;
mod read_model;
mod redb_backend;
mod snapshot;
mod stream_id;
mod stream_list;
mod version;

pub use append::{
    AppendKind, AppendOutcome, IdempotencyKey, MAX_EVENT_BYTES, MAX_EVENTS_PER_APPEND, check_append,
};
pub use backend::{CommandLog, EventLog, EventStore, Modules, ReadModels, Snapshots};
pub use command::{CommandEntry, CommandId, CommandType, LoggedCommand, NothingAppended, Verdict};
pub use error::{
    AppendError, Damage, ModelError, ModulePutError, ReadError, SnapshotError, StorageError,
    StoredRecord,
};
pub use event::{EventId, EventType, NewEvent, RecordedEvent, Timestamp};
pub use head::{HeadSender, HeadWatch};
pub use image::{
    IMAGE_PART_ITEMS, IMAGE_SECTIONS, ImageDigest, ImagePart, ImportError, KeptAppendKey,
    KeptModule, KeptSnapshot, SectionDigest, image_channel,
};
pub use json::{Json, JsonError};
pub use lease::RunnerLease;
pub use module::{
    ModuleHash, ModuleKind, ModuleName, ModulePut, ModuleRecord, ModuleRemoval, ModuleState,
    NewModule, NotAModuleHash,
};
pub use name::NameError;
pub use read::{
    AllRead, AllSlice, DEFAULT_READ_BYTES, Direction, StreamInfo, StreamRead, StreamSlice,
    VersionsRead,
};
pub use read_model::{
    MAX_MODEL_KEY, MAX_MODEL_VALUE, ModelAmend, ModelCommit, ModelEntry, ModelRead, ModelRows,
    ModelWrite, ReadModelName, check_model_writes, prefix_end,
};
#[doc(hidden)]
pub use redb_backend::fuzzing;
pub use redb_backend::{
    BackupError, BackupReport, OpenError, RedbOptions, RedbStore, VerifyReport,
};
pub use snapshot::{Snapshot, SnapshotKey};
pub use stream_id::StreamId;
pub use stream_list::{ListedStream, MAX_STREAMS_PER_LISTING, StreamsPage, StreamsRead};
pub use version::{ExpectedVersion, Position, Version};
