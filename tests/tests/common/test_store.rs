//! [`TestStore`]: a store over another that counts the stream reads made through it (so a test
//! can see whether the command path read a stream or used the state it had cached) and fails
//! on demand, as a disk or a storage service fails: appends, or reads of read models.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use cairn_store::{
    AllRead, AllSlice, AppendError, AppendOutcome, CommandEntry, CommandId, CommandLog, EventLog,
    EventStore, ExpectedVersion, HeadWatch, IdempotencyKey, LoggedCommand, ModelAmend, ModelCommit,
    ModelEntry, ModelError, ModelRead, ModuleHash, ModuleName, ModulePut, ModulePutError,
    ModuleRecord, ModuleRemoval, ModuleState, Modules, NewEvent, NewModule, NothingAppended,
    Position, ReadError, ReadModelName, ReadModels, Snapshot, SnapshotError, SnapshotKey,
    Snapshots, StorageError, StreamId, StreamInfo, StreamRead, StreamSlice, StreamsPage,
    StreamsRead, Timestamp,
};

/// Passes everything to `inner`, counting `read_stream` calls, and failing what its switches
/// say with a storage error.
#[derive(Debug)]
pub struct TestStore {
    inner: Arc<dyn EventStore>,
    stream_reads: AtomicU64,
    faults: Arc<Faults>,
}

/// What a [`TestStore`] fails, switched on and off while it runs.
#[derive(Debug, Default)]
pub struct Faults {
    /// Every append and keyed append fails.
    pub appends: AtomicBool,
    /// Every `get` and `scan` of a read model fails.
    pub model_reads: AtomicBool,
    /// How many reads of a read model failed.
    pub failed_model_reads: AtomicU64,
}

impl Faults {
    fn failure(what: &str) -> StorageError {
        StorageError::backend(std::io::Error::other(format!("injected: {what} failed")))
    }

    /// An append's storage error, while [`Faults::appends`] is on.
    fn check_append(&self) -> Result<(), AppendError> {
        if self.appends.load(Ordering::SeqCst) {
            return Err(AppendError::Storage(Self::failure("an append")));
        }
        Ok(())
    }
}

impl TestStore {
    pub fn new(inner: Arc<dyn EventStore>) -> Self {
        Self {
            inner,
            stream_reads: AtomicU64::new(0),
            faults: Arc::new(Faults::default()),
        }
    }

    /// How many stream reads were made so far.
    pub fn stream_reads(&self) -> u64 {
        self.stream_reads.load(Ordering::SeqCst)
    }

    /// Its switches.
    pub fn faults(&self) -> Arc<Faults> {
        Arc::clone(&self.faults)
    }
}

/// A read model whose reads fail while [`Faults::model_reads`] is on.
#[derive(Debug)]
struct FaultyModel {
    inner: Box<dyn ModelRead>,
    faults: Arc<Faults>,
}

impl FaultyModel {
    fn check(&self) -> Result<(), StorageError> {
        if self.faults.model_reads.load(Ordering::SeqCst) {
            self.faults
                .failed_model_reads
                .fetch_add(1, Ordering::SeqCst);
            return Err(Faults::failure("a read of the read model"));
        }
        Ok(())
    }
}

impl ModelRead for FaultyModel {
    fn checkpoint(&self) -> Option<Position> {
        self.inner.checkpoint()
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.check()?;
        self.inner.get(key)
    }

    fn scan(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<ModelEntry>, StorageError> {
        self.check()?;
        self.inner.scan(prefix, start_after, limit)
    }
}

#[async_trait::async_trait]
impl EventLog for TestStore {
    async fn append(
        &self,
        stream: StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, AppendError> {
        self.faults.check_append()?;
        self.inner.append(stream, expected, events).await
    }

    async fn append_keyed(
        &self,
        stream: StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        key: IdempotencyKey,
    ) -> Result<AppendOutcome, AppendError> {
        self.faults.check_append()?;
        self.inner.append_keyed(stream, expected, events, key).await
    }

    async fn keyed_outcome(
        &self,
        stream: StreamId,
        key: IdempotencyKey,
    ) -> Result<Option<AppendOutcome>, ReadError> {
        self.inner.keyed_outcome(stream, key).await
    }

    async fn read_stream(
        &self,
        stream: StreamId,
        read: StreamRead,
    ) -> Result<StreamSlice, ReadError> {
        self.stream_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.read_stream(stream, read).await
    }

    async fn read_all(&self, read: AllRead) -> Result<AllSlice, ReadError> {
        self.inner.read_all(read).await
    }

    async fn stream_info(&self, stream: StreamId) -> Result<StreamInfo, ReadError> {
        self.inner.stream_info(stream).await
    }

    async fn list_streams(&self, read: StreamsRead) -> Result<StreamsPage, ReadError> {
        self.inner.list_streams(read).await
    }

    fn head(&self) -> Position {
        self.inner.head()
    }

    fn watch_head(&self) -> HeadWatch {
        self.inner.watch_head()
    }
}

#[async_trait::async_trait]
impl Snapshots for TestStore {
    async fn put_snapshot(
        &self,
        stream: StreamId,
        key: SnapshotKey,
        snapshot: Snapshot,
    ) -> Result<(), SnapshotError> {
        self.inner.put_snapshot(stream, key, snapshot).await
    }

    async fn get_snapshot(
        &self,
        stream: StreamId,
        key: SnapshotKey,
    ) -> Result<Option<Snapshot>, ReadError> {
        self.inner.get_snapshot(stream, key).await
    }
}

#[async_trait::async_trait]
impl CommandLog for TestStore {
    async fn append_command(
        &self,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        command: LoggedCommand,
    ) -> Result<AppendOutcome, AppendError> {
        self.faults.check_append()?;
        self.inner.append_command(expected, events, command).await
    }

    async fn record_command(
        &self,
        command: LoggedCommand,
        verdict: NothingAppended,
    ) -> Result<(), StorageError> {
        self.inner.record_command(command, verdict).await
    }

    async fn command(&self, id: CommandId) -> Result<Option<CommandEntry>, ReadError> {
        self.inner.command(id).await
    }

    async fn read_commands(
        &self,
        after: Option<CommandId>,
        limit: usize,
    ) -> Result<Vec<CommandEntry>, ReadError> {
        self.inner.read_commands(after, limit).await
    }
}

#[async_trait::async_trait]
impl Modules for TestStore {
    async fn put_module(&self, module: NewModule) -> Result<ModulePut, ModulePutError> {
        self.inner.put_module(module).await
    }

    async fn modules(&self) -> Result<Vec<ModuleRecord>, ReadError> {
        self.inner.modules().await
    }

    async fn module_bytes(&self, hash: ModuleHash) -> Result<Option<Vec<u8>>, ReadError> {
        self.inner.module_bytes(hash).await
    }

    async fn module_version(
        &self,
        name: ModuleName,
        version: u64,
    ) -> Result<Option<ModuleRecord>, ReadError> {
        self.inner.module_version(name, version).await
    }

    async fn module_uploaded_at(
        &self,
        name: ModuleName,
        version: u64,
    ) -> Result<Option<Timestamp>, ReadError> {
        self.inner.module_uploaded_at(name, version).await
    }

    async fn put_module_state(&self, state: ModuleState) -> Result<(), StorageError> {
        self.inner.put_module_state(state).await
    }

    async fn remove_module(
        &self,
        removal: ModuleRemoval,
    ) -> Result<Option<ModuleRecord>, StorageError> {
        self.inner.remove_module(removal).await
    }

    async fn module_state(&self, name: ModuleName) -> Result<Option<Vec<u8>>, ReadError> {
        self.inner.module_state(name).await
    }
}

#[async_trait::async_trait]
impl ReadModels for TestStore {
    async fn commit_model(&self, commit: ModelCommit) -> Result<(), ModelError> {
        self.inner.commit_model(commit).await
    }

    async fn amend_model(&self, amend: ModelAmend) -> Result<(), ModelError> {
        self.inner.amend_model(amend).await
    }

    async fn replace_model(&self, commit: ModelCommit) -> Result<(), ModelError> {
        self.inner.replace_model(commit).await
    }

    async fn drop_model(&self, model: ReadModelName) -> Result<(), StorageError> {
        self.inner.drop_model(model).await
    }

    fn read_model(&self, model: &ReadModelName) -> Result<Box<dyn ModelRead>, StorageError> {
        Ok(Box::new(FaultyModel {
            inner: self.inner.read_model(model)?,
            faults: Arc::clone(&self.faults),
        }))
    }
}

impl EventStore for TestStore {
    fn write_failure(&self) -> Option<String> {
        self.inner.write_failure()
    }

    fn damage_seen(&self) -> Option<cairn_store::Damage> {
        self.inner.damage_seen()
    }
}
