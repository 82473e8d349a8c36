//! [`CountingStore`]: a store that counts the stream reads made through it, so a test can see
//! whether the command path read a stream or used the state it had cached.

use std::sync::atomic::{AtomicU64, Ordering};

use cairn_store::{
    AllRead, AllSlice, AppendError, AppendOutcome, EventStore, ExpectedVersion, HeadWatch,
    IdempotencyKey, ModelCommit, ModelError, ModelRead, ModuleName, ModulePut, ModulePutError,
    ModuleRecord, ModuleState, NewEvent, NewModule, Position, ReadError, ReadModelName, RedbStore,
    Snapshot, SnapshotError, SnapshotKey, StorageError, StreamId, StreamInfo, StreamRead,
    StreamSlice,
};

/// Passes everything to a [`RedbStore`], counting `read_stream` calls.
#[derive(Debug)]
pub struct CountingStore {
    inner: RedbStore,
    stream_reads: AtomicU64,
}

impl CountingStore {
    pub fn new(inner: RedbStore) -> Self {
        Self {
            inner,
            stream_reads: AtomicU64::new(0),
        }
    }

    /// How many stream reads were made so far.
    pub fn stream_reads(&self) -> u64 {
        self.stream_reads.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl EventStore for CountingStore {
    async fn append(
        &self,
        stream: StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, AppendError> {
        self.inner.append(stream, expected, events).await
    }

    async fn append_keyed(
        &self,
        stream: StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        key: IdempotencyKey,
    ) -> Result<AppendOutcome, AppendError> {
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

    async fn put_module(&self, module: NewModule) -> Result<ModulePut, ModulePutError> {
        self.inner.put_module(module).await
    }

    async fn modules(&self) -> Result<Vec<ModuleRecord>, ReadError> {
        self.inner.modules().await
    }

    async fn module_bytes(&self, hash: String) -> Result<Option<Vec<u8>>, ReadError> {
        self.inner.module_bytes(hash).await
    }

    async fn module_version(
        &self,
        name: ModuleName,
        version: u64,
    ) -> Result<Option<ModuleRecord>, ReadError> {
        self.inner.module_version(name, version).await
    }

    async fn put_module_state(&self, state: ModuleState) -> Result<(), StorageError> {
        self.inner.put_module_state(state).await
    }

    async fn module_state(&self, name: ModuleName) -> Result<Option<Vec<u8>>, ReadError> {
        self.inner.module_state(name).await
    }

    async fn commit_model(&self, commit: ModelCommit) -> Result<(), ModelError> {
        self.inner.commit_model(commit).await
    }

    async fn drop_model(&self, model: ReadModelName) -> Result<(), StorageError> {
        self.inner.drop_model(model).await
    }

    fn read_model(&self, model: &ReadModelName) -> Result<Box<dyn ModelRead>, StorageError> {
        self.inner.read_model(model)
    }

    fn head(&self) -> Position {
        self.inner.head()
    }

    fn damage_seen(&self) -> Option<cairn_store::Damage> {
        self.inner.damage_seen()
    }

    fn write_failure(&self) -> Option<String> {
        self.inner.write_failure()
    }

    fn watch_head(&self) -> HeadWatch {
        self.inner.watch_head()
    }
}
