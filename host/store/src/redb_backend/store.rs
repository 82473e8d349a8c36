//! [`RedbStore`]: opening the database, starting the writer, and closing it; `traits.rs`
//! implements the store traits on it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use redb::{Database, ReadableTable};
use tokio::sync::oneshot;

use super::apply_append::{Allocated, AppendRequest};
use super::damage_seen::{DamageSeen, panic_message};
use super::tables::{EVENTS, FORMAT, FORMAT_KEY, META, STREAM_NAMES, WriteTables};
use super::writer::{self, Pending, WriteOp};
use super::{backend, migrate};
use crate::append::{AppendOutcome, check_append};
use crate::error::{AppendError, Damage, StorageError};
use crate::head::{HeadSender, HeadWatch};
use crate::version::Position;

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
    /// Another process holds the database open: another cairn serves this data directory.
    #[error(
        "another cairn is using the data directory {} (its database {path} is locked); stop \
         that one, or give this one another data directory",
        data_dir(path).display()
    )]
    InUse {
        /// The database file.
        path: PathBuf,
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
    pub(super) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(super) struct Inner {
    ops: mpsc::Sender<WriteOp>,
    pub(super) failure: writer::WriteFailure,
    pub(super) damage: DamageSeen,
    pub(super) db: Arc<Database>,
    pub(super) head: HeadWatch,
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

    pub(super) async fn send_append(
        &self,
        request: AppendRequest,
    ) -> Result<AppendOutcome, AppendError> {
        check_append(&request.stream, &request.events)?;
        let (pending, reply) = Pending::new(request);
        self.send(WriteOp::Append(pending))?;
        // A retry reads stored records back, so an append can meet damage too.
        match reply.await.map_err(|_| StorageError::Closed)? {
            Err(AppendError::Storage(error)) => Err(self.inner.damage.note(error).into()),
            result => result,
        }
    }

    pub(super) fn send(&self, op: WriteOp) -> Result<(), StorageError> {
        self.inner.ops.send(op).map_err(|_| StorageError::Closed)
    }

    /// Runs `read` on the blocking pool, noting any damage it meets. redb may panic on a
    /// damaged page; such a panic is reported as damage of the file, not passed on.
    pub(super) async fn blocking<T: Send + 'static>(
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
    if matches!(source, redb::DatabaseError::DatabaseAlreadyOpen) {
        return OpenError::InUse {
            path: path.to_path_buf(),
        };
    }
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
