//! [`EventLog`]: streams and the one global order they share.

use crate::append::{AppendOutcome, IdempotencyKey};
use crate::error::{AppendError, ReadError};
use crate::event::{NewEvent, RecordedEvent};
use crate::head::HeadWatch;
use crate::read::{
    AllRead, AllSlice, StreamInfo, StreamRead, StreamSlice, VersionsPaging, VersionsRead,
};
use crate::stream_id::StreamId;
use crate::stream_list::{StreamsPage, StreamsRead};
use crate::version::{ExpectedVersion, Position, Version};

/// A durable log of events with one stream per aggregate, optimistic concurrency and one
/// global order.
///
/// What every backend promises:
/// 1. An append is atomic (all of its events or none) and durable when it returns `Ok`.
/// 2. Stream versions are 1-based and gap-free; global positions are 1-based and gap-free.
/// 3. An append happens only if `expected` admits the stream's version at that moment; exactly
///    one of several racing appends at the same expected version wins.
/// 4. Event ids are unique across the store, and an id names one event. An append whose ids
///    are all stored already, in the same stream and order, each with the same type, data and
///    metadata (byte for byte), returns the original outcome, recognised
///    ([`crate::AppendKind::Recognised`]), and stores nothing. An append carrying a stored id
///    with other content is refused ([`AppendError::EventIdReused`]); one that overlaps only
///    in part is refused ([`AppendError::IdempotencyConflict`]).
/// 5. A read of events returns at most its `limit` of events and its `max_bytes` of their
///    types, data and metadata, but never nothing when there is an event to return: the first
///    is returned whatever its size. A read cut by its bytes says so (`truncated`), and
///    paging on from where it ends returns every event exactly once.
/// 6. A listing of streams returns, in name order (descending backward), the streams that
///    exist (hold an event) whose names begin with its prefix and lie strictly after its
///    `from` (before it, backward), at most its capped limit of them, each with its version,
///    and says whether more follow.
#[async_trait::async_trait]
pub trait EventLog: Send + Sync {
    /// Appends `events` to `stream` if its version satisfies `expected`.
    async fn append(
        &self,
        stream: StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, AppendError>;

    /// Appends like [`EventLog::append`], and records `key` with the events in the same
    /// transaction. If `key` is already recorded for the stream, returns the outcome it
    /// recorded, recognised, and appends nothing.
    ///
    /// The key names a command, not its events: a retry under a recorded key is answered by the
    /// key before its events are looked at, since a command decided again may make other
    /// events. None of them is stored or compared, even where an id matches a stored one; the
    /// outcome names the events the first append stored, which the caller reads back rather
    /// than assuming its own. An append under a key not yet recorded goes through every check
    /// of [`EventLog::append`], event ids included.
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

    /// Reads part of a stream, within the read's count and bytes (promise 5); going on from
    /// the version after the last event returned (before it, backward) reads the rest. A
    /// missing stream is version 0 with no events.
    async fn read_stream(
        &self,
        stream: StreamId,
        read: StreamRead,
    ) -> Result<StreamSlice, ReadError>;

    /// Versions `first..=last` of `stream`, read in as many pages as the byte budget needs
    /// (fewer if the stream ends before `last`).
    async fn read_versions(
        &self,
        stream: StreamId,
        first: Version,
        last: Version,
    ) -> Result<Vec<RecordedEvent>, ReadError> {
        let mut paging = VersionsPaging::new(VersionsRead {
            stream,
            first,
            last,
        });
        while let Some(page) = paging.next_page() {
            let slice = self.read_stream(paging.stream().clone(), page).await?;
            paging.take(slice);
        }
        Ok(paging.into_events())
    }

    /// [`EventLog::read_versions`] of each of `reads`, answered in the same order, each as it
    /// would be alone. For work over many small streams (a plan), where one read each would
    /// cost more in hand-offs than in reading: a backend may answer them together, as redb
    /// does in one hop to its blocking pool.
    async fn read_versions_of(
        &self,
        reads: Vec<VersionsRead>,
    ) -> Result<Vec<Vec<RecordedEvent>>, ReadError> {
        let mut answers = Vec::with_capacity(reads.len());
        for read in reads {
            answers.push(
                self.read_versions(read.stream, read.first, read.last)
                    .await?,
            );
        }
        Ok(answers)
    }

    /// Reads the global log in position order, within the read's count, scan limit and bytes
    /// (promise 5); going on after `scanned_to` reads the rest.
    async fn read_all(&self, read: AllRead) -> Result<AllSlice, ReadError>;

    /// A stream's version and whether it exists.
    async fn stream_info(&self, stream: StreamId) -> Result<StreamInfo, ReadError>;

    /// A page of the streams whose names begin with a prefix (promise 6).
    async fn list_streams(&self, read: StreamsRead) -> Result<StreamsPage, ReadError>;

    /// The position of the newest event (0 for an empty store).
    fn head(&self) -> Position;

    /// A watch on the head, for waiting on new events.
    fn watch_head(&self) -> HeadWatch;
}
