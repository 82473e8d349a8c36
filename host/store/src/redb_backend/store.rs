//! [`RedbStore`]: opening the database, starting the writer, and the async API.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use redb::{Database, ReadableTable};
use tokio::sync::oneshot;

use super::apply_append::{Allocated, AppendRequest};
use super::apply_snapshot::SnapshotRequest;
use super::damage_seen::{DamageSeen, panic_message};
use super::model_reads::RedbModelRead;
use super::reads;
use super::tables::{EVENTS, FORMAT, FORMAT_KEY, META, STREAM_NAMES, WriteTables};
use super::writer::{self, Pending, WriteOp};
use super::{backend, migrate};
use crate::append::{AppendOutcome, IdempotencyKey, check_append};
use crate::backend::EventStore;
use crate::error::{
    AppendError, Damage, ModelError, ModulePutError, ReadError, SnapshotError, StorageError,
};
use crate::event::NewEvent;
use crate::head::{HeadSender, HeadWatch};
use crate::module::{ModuleName, ModulePut, ModuleRecord, ModuleState, NewModule};
use crate::read::{AllRead, AllSlice, StreamInfo, StreamRead, StreamSlice};
use crate::read_model::{ModelCommit, ModelRead, ReadModelName};
use crate::snapshot::{Snapshot, SnapshotKey};
use crate::stream_id::StreamId;
use crate::version::{ExpectedVersion, Position};

/// The database file inside the data directory.
pub(crate) const DATABASE_FILE: &str = "cairn.redb";

/// Settings for [`RedbStore::open`].
#[derive(Clone, Debug, Default)]
pub struct RedbOptions {
    /// redb's page cache in bytes; `None` keeps redb's default.
    pub cache_bytes: Option<usize>,
}

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    CreateDirectory {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// redb could not open the file (it may be open in another process, or damaged).
    #[error("cannot open the database {path}: {source}")]
    Database {
        /// The database file.
        path: PathBuf,
        /// redb's reason.
        source: Box<redb::DatabaseError>,
    },
    /// The file was written by a version of cairn with another layout.
    #[error("the database {path} has layout {found}; this cairn reads layout {FORMAT}")]
    UnknownFormat {
        /// The database file.
        path: PathBuf,
        /// The layout it has.
        found: u64,
    },
    /// The file is damaged: redb found its structure broken (or panicked reading it), or a
    /// record failed its checksum while the file was moved to this layout. The store wrote
    /// nothing to it (redb may have run its crash recovery).
    #[error(
        "the database {path} is damaged ({reason}); run `cairn verify {}` to list what is \
         damaged, and restore the data directory from a backup",
        data_dir(path).display()
    )]
    Damaged {
        /// The database file.
        path: PathBuf,
        /// What was found.
        reason: String,
    },
    /// Reading or preparing the file failed.
    #[error("cannot prepare the database {path}: {source}")]
    Storage {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: StorageError,
    },
    /// The writer thread could not be started.
    #[error("cannot start the writer thread: {0}")]
    Thread(std::io::Error),
}

/// The embedded event store: a redb file in a data directory, a writer thread doing group
/// commit, and reads on tokio's blocking pool. Cloning is cheap and shares the store.
#[derive(Clone, Debug)]
pub struct RedbStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    ops: mpsc::Sender<WriteOp>,
    failure: writer::WriteFailure,
    damage: DamageSeen,
    db: Arc<Database>,
    head: HeadWatch,
    writer: Mutex<Option<JoinHandle<()>>>,
    path: PathBuf,
}

impl RedbStore {
    /// Opens the store in `data_dir`, creating the directory and the database if needed.
    pub async fn open(data_dir: impl AsRef<Path>, options: RedbOptions) -> Result<Self, OpenError> {
        let data_dir = data_dir.as_ref().to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(&data_dir, &options))
            .await
            .map_err(|e| OpenError::Thread(std::io::Error::other(e)))?
    }

    fn open_blocking(data_dir: &Path, options: &RedbOptions) -> Result<Self, OpenError> {
        std::fs::create_dir_all(data_dir).map_err(|source| OpenError::CreateDirectory {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(DATABASE_FILE);
        let db = unless_panic(&path, || {
            builder(options)
                .create(&path)
                .map_err(|source| database_error(&path, source))
        })?;
        Self::start(db, path)
    }

    /// Opens the store on a redb storage backend of the caller's: one that injects I/O errors
    /// (the store's fault tests use one), or redb's in-memory backend. `label` stands for the
    /// file in errors and logs.
    pub async fn open_with_backend(
        backend: impl redb::StorageBackend,
        label: impl Into<PathBuf>,
        options: RedbOptions,
    ) -> Result<Self, OpenError> {
        let path = label.into();
        tokio::task::spawn_blocking(move || {
            let db = unless_panic(&path, || {
                builder(&options)
                    .create_with_backend(backend)
                    .map_err(|source| database_error(&path, source))
            })?;
            Self::start(db, path)
        })
        .await
        .map_err(|e| OpenError::Thread(std::io::Error::other(e)))?
    }

    /// Prepares the tables and starts the writer thread.
    fn start(db: Database, path: PathBuf) -> Result<Self, OpenError> {
        let allocated = unless_panic(&path, || prepare(&db, &path))?;
        let db = Arc::new(db);
        let head = HeadSender::new(Position::new(allocated.head));
        let watch = head.watch();
        let (ops, receiver) = mpsc::channel();
        let failure: writer::WriteFailure = Arc::default();
        let writer_db = Arc::clone(&db);
        let writer = std::thread::Builder::new()
            .name("cairn-store-writer".into())
            .spawn({
                let failure = Arc::clone(&failure);
                move || writer::run(writer_db, receiver, allocated, head, failure)
            })
            .map_err(OpenError::Thread)?;
        tracing::info!(path = %path.display(), head = allocated.head, "event store open");
        Ok(Self {
            inner: Arc::new(Inner {
                ops,
                failure,
                damage: DamageSeen::default(),
                db,
                head: watch,
                writer: Mutex::new(Some(writer)),
                path,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The first damaged record this store met since it opened (a checksum that did not match,
    /// a record that did not decode, tables that disagree), if any. Cheap, no I/O: for health
    /// checks. Once set it stays set: the file needs `verify` and a repair or a backup.
    pub fn damage_seen(&self) -> Option<Damage> {
        self.inner.damage.get()
    }

    /// Finishes the writes queued so far, stops the writer, and releases the database file once
    /// the last clone of this store is dropped. Writes sent after this fail with
    /// [`StorageError::Closed`].
    pub async fn close(self) {
        let (done, finished) = oneshot::channel();
        if self.inner.ops.send(WriteOp::Close(done)).is_ok() {
            let _ = finished.await;
        }
        let writer = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(writer) = writer {
            let _ = tokio::task::spawn_blocking(move || writer.join()).await;
        }
    }

    async fn send_append(&self, request: AppendRequest) -> Result<AppendOutcome, AppendError> {
        check_append(&request.stream, &request.events)?;
        let (pending, reply) = Pending::new(request);
        self.send(WriteOp::Append(pending))?;
        // A retry reads stored records back, so an append can meet damage too.
        match reply.await.map_err(|_| StorageError::Closed)? {
            Err(AppendError::Storage(error)) => Err(self.inner.damage.note(error).into()),
            result => result,
        }
    }

    fn send(&self, op: WriteOp) -> Result<(), StorageError> {
        self.inner.ops.send(op).map_err(|_| StorageError::Closed)
    }

    /// Runs `read` on the blocking pool, noting any damage it meets. redb may panic on a
    /// damaged page; such a panic is reported as damage of the file, not passed on.
    async fn blocking<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Database) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let db = Arc::clone(&self.inner.db);
        let result = match tokio::task::spawn_blocking(move || read(&db)).await {
            Ok(result) => result,
            Err(error) if error.is_panic() => Err(StorageError::Damaged(Damage {
                record: crate::error::StoredRecord::File,
                reason: format!(
                    "a read panicked inside the database: {}",
                    panic_message(error.into_panic().as_ref())
                ),
            })),
            Err(error) => Err(StorageError::backend(error)),
        };
        self.inner.damage.check(result)
    }
}

/// The data directory of database file `path`, for messages.
fn data_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// redb's refusal to open `path`, as an [`OpenError`]: [`OpenError::Damaged`] when redb says
/// the file is corrupt or not a database.
pub(super) fn database_error(path: &Path, source: redb::DatabaseError) -> OpenError {
    let damaged = match &source {
        redb::DatabaseError::Storage(redb::StorageError::Corrupted(reason)) => Some(reason.clone()),
        redb::DatabaseError::Storage(redb::StorageError::Io(io))
            if io.kind() == std::io::ErrorKind::InvalidData =>
        {
            Some(io.to_string())
        }
        _ => None,
    };
    match damaged {
        Some(reason) => OpenError::Damaged {
            path: path.to_path_buf(),
            reason,
        },
        None => OpenError::Database {
            path: path.to_path_buf(),
            source: Box::new(source),
        },
    }
}

/// Runs `open`, a step of opening the file, turning a panic into [`OpenError::Damaged`].
///
/// redb trusts the pages it wrote: a page changed under it can make it panic (an `unreachable!`,
/// an index out of bounds) rather than return an error. Opening runs no code of the caller's and
/// holds no lock a panic could poison, and everything it built is dropped while unwinding, so
/// the panic is caught here (`AssertUnwindSafe`) and the open fails cleanly. The panic's message
/// is still printed by the process's panic hook.
pub(super) fn unless_panic<T>(
    path: &Path,
    open: impl FnOnce() -> Result<T, OpenError>,
) -> Result<T, OpenError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(open)).unwrap_or_else(|payload| {
        Err(OpenError::Damaged {
            path: path.to_path_buf(),
            reason: format!("reading it panicked: {}", panic_message(payload.as_ref())),
        })
    })
}

fn builder(options: &RedbOptions) -> redb::Builder {
    let mut builder = Database::builder();
    if let Some(bytes) = options.cache_bytes {
        builder.set_cache_size(bytes);
    }
    builder
}

/// Creates the tables, checks the layout (moving a layout 1 or 2 file to this one), and reads
/// back what the writer has allocated.
fn prepare(db: &Database, path: &Path) -> Result<Allocated, OpenError> {
    match prepare_tables(db) {
        Ok(Ok(allocated)) => Ok(allocated),
        Ok(Err(found)) => Err(OpenError::UnknownFormat {
            path: path.to_path_buf(),
            found,
        }),
        Err(source) => {
            // Damage met while preparing (a record of an older layout that fails to decode,
            // redb reporting a corrupt page) is damage of the file.
            let seen = DamageSeen::default();
            let source = seen.note(source);
            Err(match seen.get() {
                Some(damage) => OpenError::Damaged {
                    path: path.to_path_buf(),
                    reason: damage.to_string(),
                },
                None => OpenError::Storage {
                    path: path.to_path_buf(),
                    source,
                },
            })
        }
    }
}

/// The inner `Err` is the layout found, when it is neither [`FORMAT`] nor one this code can move
/// from. Nothing is committed then.
fn prepare_tables(db: &Database) -> Result<Result<Allocated, u64>, StorageError> {
    let txn = db.begin_write().map_err(backend)?;
    let format = txn
        .open_table(META)
        .and_then(|meta| Ok(meta.get(FORMAT_KEY)?.map(|v| v.value())))
        .map_err(backend)?;
    match format {
        Some(FORMAT) => {}
        Some(1) => {
            let moved = migrate::layout_1_to_2(&txn)?;
            tracing::info!(
                events = moved,
                "the database moved from layout 1 to layout 2"
            );
            seal(&txn)?;
        }
        Some(2) => seal(&txn)?,
        None if migrate::has_layout_1_tables(&txn)? => return Ok(Err(0)),
        None => {
            // A new file.
            let mut meta = txn.open_table(META).map_err(backend)?;
            meta.insert(FORMAT_KEY, FORMAT).map_err(backend)?;
        }
        Some(found) => return Ok(Err(found)),
    }
    let allocated = {
        drop(WriteTables::open(&txn).map_err(backend)?);
        let events = txn.open_table(EVENTS).map_err(backend)?;
        let names = txn.open_table(STREAM_NAMES).map_err(backend)?;
        Allocated {
            head: events
                .last()
                .map_err(backend)?
                .map_or(0, |(k, _)| k.value()),
            last_stream_id: names.last().map_err(backend)?.map_or(0, |(k, _)| k.value()),
        }
    };
    txn.commit().map_err(backend)?;
    Ok(Ok(allocated))
}

/// Moves a layout 2 file to layout 3, inside `txn`.
fn seal(txn: &redb::WriteTransaction) -> Result<(), StorageError> {
    let sealed = migrate::layout_2_to_3(txn)?;
    tracing::info!(
        events = sealed.events,
        snapshots = sealed.snapshots,
        model_entries = sealed.model_entries,
        "the database moved from layout 2 to layout {FORMAT}: its records have checksums"
    );
    Ok(())
}

#[async_trait::async_trait]
impl EventStore for RedbStore {
    async fn append(
        &self,
        stream: StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, AppendError> {
        self.send_append(AppendRequest {
            stream,
            expected,
            events,
            key: None,
        })
        .await
    }

    async fn append_keyed(
        &self,
        stream: StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        key: IdempotencyKey,
    ) -> Result<AppendOutcome, AppendError> {
        self.send_append(AppendRequest {
            stream,
            expected,
            events,
            key: Some(key),
        })
        .await
    }

    async fn keyed_outcome(
        &self,
        stream: StreamId,
        key: IdempotencyKey,
    ) -> Result<Option<AppendOutcome>, ReadError> {
        Ok(self
            .blocking(move |db| reads::keyed_outcome(db, &stream, &key))
            .await?)
    }

    async fn read_stream(
        &self,
        stream: StreamId,
        read: StreamRead,
    ) -> Result<StreamSlice, ReadError> {
        Ok(self
            .blocking(move |db| reads::read_stream(db, &stream, read))
            .await?)
    }

    async fn read_all(&self, read: AllRead) -> Result<AllSlice, ReadError> {
        Ok(self.blocking(move |db| reads::read_all(db, &read)).await?)
    }

    async fn stream_info(&self, stream: StreamId) -> Result<StreamInfo, ReadError> {
        Ok(self
            .blocking(move |db| reads::stream_info(db, &stream))
            .await?)
    }

    async fn put_snapshot(
        &self,
        stream: StreamId,
        key: SnapshotKey,
        snapshot: Snapshot,
    ) -> Result<(), SnapshotError> {
        let (pending, reply) = Pending::new(SnapshotRequest {
            stream,
            key,
            snapshot,
        });
        self.send(WriteOp::PutSnapshot(pending))?;
        match reply.await.map_err(|_| StorageError::Closed)? {
            Err(SnapshotError::Storage(error)) => Err(self.inner.damage.note(error).into()),
            result => result,
        }
    }

    async fn get_snapshot(
        &self,
        stream: StreamId,
        key: SnapshotKey,
    ) -> Result<Option<Snapshot>, ReadError> {
        Ok(self
            .blocking(move |db| reads::get_snapshot(db, &stream, &key))
            .await?)
    }

    async fn put_module(&self, module: NewModule) -> Result<ModulePut, ModulePutError> {
        let (pending, reply) = Pending::new(module);
        self.send(WriteOp::PutModule(pending))?;
        reply.await.map_err(|_| StorageError::Closed)?
    }

    async fn modules(&self) -> Result<Vec<ModuleRecord>, ReadError> {
        Ok(self.blocking(reads::modules).await?)
    }

    async fn module_bytes(&self, hash: String) -> Result<Option<Vec<u8>>, ReadError> {
        Ok(self
            .blocking(move |db| reads::module_bytes(db, &hash))
            .await?)
    }

    async fn module_version(
        &self,
        name: ModuleName,
        version: u64,
    ) -> Result<Option<ModuleRecord>, ReadError> {
        Ok(self
            .blocking(move |db| reads::module_version(db, &name, version))
            .await?)
    }

    async fn put_module_state(&self, state: ModuleState) -> Result<(), StorageError> {
        let (pending, reply) = Pending::new(state);
        self.send(WriteOp::PutModuleState(pending))?;
        reply.await.map_err(|_| StorageError::Closed)?
    }

    async fn module_state(&self, name: ModuleName) -> Result<Option<Vec<u8>>, ReadError> {
        Ok(self
            .blocking(move |db| reads::module_state(db, &name))
            .await?)
    }

    async fn commit_model(&self, commit: ModelCommit) -> Result<(), ModelError> {
        let (pending, reply) = Pending::new(commit);
        self.send(WriteOp::CommitModel(pending))?;
        reply.await.map_err(|_| StorageError::Closed)?
    }

    async fn drop_model(&self, model: ReadModelName) -> Result<(), StorageError> {
        let (pending, reply) = Pending::new(model);
        self.send(WriteOp::DropModel(pending))?;
        reply.await.map_err(|_| StorageError::Closed)?
    }

    fn read_model(&self, model: &ReadModelName) -> Result<Box<dyn ModelRead>, StorageError> {
        let damage = self.inner.damage.clone();
        let read = damage.check(RedbModelRead::open(&self.inner.db, model, damage.clone()))?;
        Ok(Box::new(read))
    }

    fn head(&self) -> Position {
        self.inner.head.head()
    }

    fn write_failure(&self) -> Option<String> {
        self.inner
            .failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn damage_seen(&self) -> Option<Damage> {
        RedbStore::damage_seen(self)
    }

    fn watch_head(&self) -> HeadWatch {
        self.inner.head.clone()
    }
}
