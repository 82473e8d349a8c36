//! The store traits on [`RedbStore`]: each write goes to the writer thread as a [`Pending`]
//! operation and waits for its commit; each read runs on a blocking thread in one read
//! transaction (`reads.rs`, `model_reads.rs`).

use super::apply_append::AppendRequest;
use super::apply_command::CommandRequest;
use super::apply_snapshot::SnapshotRequest;
use super::command_reads;
use super::command_record::CommandBody;
use super::model_reads::RedbModelRead;
use super::reads;
use super::store::RedbStore;
use super::stream_list;
use super::writer::{Pending, WriteOp};
use crate::append::{AppendOutcome, IdempotencyKey};
use crate::backend::{CommandLog, EventLog, EventStore, Modules, ReadModels, Snapshots};
use crate::command::{CommandEntry, CommandId, LoggedCommand, NothingAppended};
use crate::error::{
    AppendError, Damage, ModelError, ModulePutError, ReadError, SnapshotError, StorageError,
};
use crate::event::{NewEvent, RecordedEvent, Timestamp};
use crate::head::HeadWatch;
use crate::module::{
    ModuleHash, ModuleName, ModulePut, ModuleRecord, ModuleRemoval, ModuleState, NewModule,
};
use crate::read::{AllRead, AllSlice, StreamInfo, StreamRead, StreamSlice, VersionsRead};
use crate::read_model::{ModelAmend, ModelCommit, ModelRead, ReadModelName};
use crate::snapshot::{Snapshot, SnapshotKey};
use crate::stream_id::StreamId;
use crate::stream_list::{StreamsPage, StreamsRead};
use crate::version::{ExpectedVersion, Position, Version};

#[async_trait::async_trait]
impl EventLog for RedbStore {
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
            command: None,
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
            command: None,
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

    async fn read_versions(
        &self,
        stream: StreamId,
        first: Version,
        last: Version,
    ) -> Result<Vec<RecordedEvent>, ReadError> {
        let wanted = VersionsRead {
            stream,
            first,
            last,
        };
        Ok(self
            .blocking(move |db| reads::read_versions(db, &wanted))
            .await?)
    }

    async fn read_versions_of(
        &self,
        wanted: Vec<VersionsRead>,
    ) -> Result<Vec<Vec<RecordedEvent>>, ReadError> {
        Ok(self
            .blocking(move |db| {
                wanted
                    .iter()
                    .map(|read| reads::read_versions(db, read))
                    .collect()
            })
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

    async fn list_streams(&self, read: StreamsRead) -> Result<StreamsPage, ReadError> {
        Ok(self
            .blocking(move |db| stream_list::list_streams(db, &read))
            .await?)
    }

    fn head(&self) -> Position {
        self.inner.head.head()
    }

    fn watch_head(&self) -> HeadWatch {
        self.inner.head.clone()
    }
}

#[async_trait::async_trait]
impl CommandLog for RedbStore {
    async fn append_command(
        &self,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        command: LoggedCommand,
    ) -> Result<AppendOutcome, AppendError> {
        self.send_append(AppendRequest {
            stream: command.stream.clone(),
            expected,
            events,
            key: command.idempotency_key.clone(),
            command: Some(CommandBody::encode(&command)),
        })
        .await
    }

    async fn record_command(
        &self,
        command: LoggedCommand,
        verdict: NothingAppended,
    ) -> Result<(), StorageError> {
        let (pending, reply) = Pending::new(CommandRequest {
            body: CommandBody::encode(&command),
            verdict,
        });
        self.send(WriteOp::RecordCommand(pending))?;
        match reply.await.map_err(|_| StorageError::Closed)? {
            Err(error) => Err(self.inner.damage.note(error)),
            result => result,
        }
    }

    async fn command(&self, id: CommandId) -> Result<Option<CommandEntry>, ReadError> {
        Ok(self
            .blocking(move |db| command_reads::command(db, id))
            .await?)
    }

    async fn read_commands(
        &self,
        after: Option<CommandId>,
        limit: usize,
    ) -> Result<Vec<CommandEntry>, ReadError> {
        Ok(self
            .blocking(move |db| command_reads::read_commands(db, after, limit))
            .await?)
    }
}

#[async_trait::async_trait]
impl Snapshots for RedbStore {
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
}

#[async_trait::async_trait]
impl Modules for RedbStore {
    async fn put_module(&self, module: NewModule) -> Result<ModulePut, ModulePutError> {
        let (pending, reply) = Pending::new(module);
        self.send(WriteOp::PutModule(pending))?;
        reply.await.map_err(|_| StorageError::Closed)?
    }

    async fn modules(&self) -> Result<Vec<ModuleRecord>, ReadError> {
        Ok(self.blocking(reads::modules).await?)
    }

    async fn module_bytes(&self, hash: ModuleHash) -> Result<Option<Vec<u8>>, ReadError> {
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

    async fn module_uploaded_at(
        &self,
        name: ModuleName,
        version: u64,
    ) -> Result<Option<Timestamp>, ReadError> {
        Ok(self
            .blocking(move |db| reads::module_uploaded_at(db, &name, version))
            .await?)
    }

    async fn put_module_state(&self, state: ModuleState) -> Result<(), StorageError> {
        let (pending, reply) = Pending::new(state);
        self.send(WriteOp::PutModuleState(pending))?;
        reply.await.map_err(|_| StorageError::Closed)?
    }

    async fn remove_module(
        &self,
        removal: ModuleRemoval,
    ) -> Result<Option<ModuleRecord>, StorageError> {
        let (pending, reply) = Pending::new(removal);
        self.send(WriteOp::RemoveModule(pending))?;
        reply.await.map_err(|_| StorageError::Closed)?
    }

    async fn module_state(&self, name: ModuleName) -> Result<Option<Vec<u8>>, ReadError> {
        Ok(self
            .blocking(move |db| reads::module_state(db, &name))
            .await?)
    }
}

#[async_trait::async_trait]
impl ReadModels for RedbStore {
    async fn commit_model(&self, commit: ModelCommit) -> Result<(), ModelError> {
        let (pending, reply) = Pending::new(commit);
        self.send(WriteOp::CommitModel(pending))?;
        reply.await.map_err(|_| StorageError::Closed)?
    }

    async fn amend_model(&self, amend: ModelAmend) -> Result<(), ModelError> {
        let (pending, reply) = Pending::new(amend);
        self.send(WriteOp::AmendModel(pending))?;
        reply.await.map_err(|_| StorageError::Closed)?
    }

    async fn replace_model(&self, commit: ModelCommit) -> Result<(), ModelError> {
        let (pending, reply) = Pending::new(commit);
        self.send(WriteOp::ReplaceModel(pending))?;
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
}

impl EventStore for RedbStore {
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
}
