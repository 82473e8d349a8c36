//! [`cairn_store::EventLog`] on [`PostgresStore`]: the trait's methods, each the store's own
//! (`append.rs`, `reads.rs`, `follow.rs`).

use cairn_store::{
    AllRead, AllSlice, AppendError, AppendOutcome, EventLog, ExpectedVersion, HeadWatch,
    IdempotencyKey, NewEvent, Position, ReadError, StreamId, StreamInfo, StreamRead, StreamSlice,
    StreamsPage, StreamsRead,
};

use crate::store::PostgresStore;

#[async_trait::async_trait]
impl EventLog for PostgresStore {
    async fn append(
        &self,
        stream: StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, AppendError> {
        PostgresStore::append(self, stream, expected, events).await
    }

    async fn append_keyed(
        &self,
        stream: StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        key: IdempotencyKey,
    ) -> Result<AppendOutcome, AppendError> {
        PostgresStore::append_keyed(self, stream, expected, events, key).await
    }

    async fn keyed_outcome(
        &self,
        stream: StreamId,
        key: IdempotencyKey,
    ) -> Result<Option<AppendOutcome>, ReadError> {
        PostgresStore::keyed_outcome(self, stream, key).await
    }

    async fn read_stream(
        &self,
        stream: StreamId,
        read: StreamRead,
    ) -> Result<StreamSlice, ReadError> {
        PostgresStore::read_stream(self, stream, read).await
    }

    async fn read_all(&self, read: AllRead) -> Result<AllSlice, ReadError> {
        PostgresStore::read_all(self, read).await
    }

    async fn stream_info(&self, stream: StreamId) -> Result<StreamInfo, ReadError> {
        PostgresStore::stream_info(self, stream).await
    }

    async fn list_streams(&self, read: StreamsRead) -> Result<StreamsPage, ReadError> {
        PostgresStore::list_streams(self, read).await
    }

    fn head(&self) -> Position {
        PostgresStore::head(self)
    }

    fn watch_head(&self) -> HeadWatch {
        PostgresStore::watch_head(self)
    }
}
