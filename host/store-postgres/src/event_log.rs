//! [`cairn_store::EventLog`] on [`PostgresStore`]: the trait's methods, each the store's own
//! (`append.rs`, `reads.rs`, `follow.rs`).

use cairn_store::{
    AllRead, AllSlice, AppendError, AppendOutcome, EventLog, ExpectedVersion, HeadWatch,
    IdempotencyKey, NewEvent, Position, ReadError, RecordedEvent, StreamId, StreamInfo, StreamRead,
    StreamSlice, StreamsPage, StreamsRead, VersionsRead,
};
use futures_util::{StreamExt, TryStreamExt};

use crate::store::PostgresStore;

/// How many of a batch of reads ([`EventLog::read_versions_of`]) take connections of the pool
/// at once: enough to overlap their round trips, few enough to leave the pool to the others.
const READS_AT_ONCE: usize = 4;

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

    /// The reads on a few connections at once, so the round trips overlap.
    async fn read_versions_of(
        &self,
        reads: Vec<VersionsRead>,
    ) -> Result<Vec<Vec<RecordedEvent>>, ReadError> {
        futures_util::stream::iter(reads)
            .map(|read| self.read_versions(read.stream, read.first, read.last))
            .buffered(READS_AT_ONCE)
            .try_collect()
            .await
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
