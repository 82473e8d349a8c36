//! [`RedbStore`]: opening the database, starting the writer, and the async API.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use redb::{Database, ReadableTable};
use tokio::sync::oneshot;

use super::apply_append::{Allocated, AppendRequest};
use super::apply_snapshot::SnapshotRequest;
use super::model_reads::RedbModelRead;
use super::reads;
use super::tables::{EVENTS, FORMAT, FORMAT_KEY, META, STREAM_NAMES, WriteTables};
use super::writer::{self, Pending, WriteOp};
use super::{backend, migrate};
use crate::append::{AppendOutcome, IdempotencyKey, check_append};
use crate::backend::EventStore;
use crate::error::{
    AppendError, ModelError, ModulePutError, ReadError, SnapshotError, StorageError,
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
const DATABASE_FILE: &str = "cairn.redb";

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
        let db = builder(options)
            .create(&path)
            .map_err(|source| OpenError::Database {
                path: path.clone(),
                source: Box::new(source),
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
            let db = builder(&options)
                .create_with_backend(backend)
                .map_err(|source| OpenError::Database {
                    path: path.clone(),
                    source: Box::new(source),
                })?;
            Self::start(db, path)
        })
        .await
        .map_err(|e| OpenError::Thread(std::io::Error::other(e)))?
    }

    /// Prepares the tables and starts the writer thread.
    fn start(db: Database, path: PathBuf) -> Result<Self, OpenError> {
        let allocated = prepare(&db, &path)?;
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
        reply.await.map_err(|_| StorageError::Closed)?
    }

    fn send(&self, op: WriteOp) -> Result<(), StorageError> {
        self.inner.ops.send(op).map_err(|_| StorageError::Closed)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Database) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let db = Arc::clone(&self.inner.db);
        tokio::task::spawn_blocking(move || read(&db))
            .await
            .map_err(StorageError::backend)?
    }
}

fn builder(options: &RedbOptions) -> redb::Builder {
    let mut builder = Database::builder();
    if let Some(bytes) = options.cache_bytes {
        builder.set_cache_size(bytes);
    }
    builder
}

/// Creates the tables, checks the layout (moving a layout 1 file to this one), and reads back
/// what the writer has allocated.
fn prepare(db: &Database, path: &Path) -> Result<Allocated, OpenError> {
    match prepare_tables(db) {
        Ok(Ok(allocated)) => Ok(allocated),
        Ok(Err(found)) => Err(OpenError::UnknownFormat {
            path: path.to_path_buf(),
            found,
        }),
        Err(source) => Err(OpenError::Storage {
            path: path.to_path_buf(),
            source,
        }),
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
                "the database moved from layout 1 to layout {FORMAT}"
            );
        }
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
        reply.await.map_err(|_| StorageError::Closed)?
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
        Ok(Box::new(RedbModelRead::open(&self.inner.db, model)?))
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

    fn watch_head(&self) -> HeadWatch {
        self.inner.head.clone()
    }
}
