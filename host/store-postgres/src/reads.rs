//! Reads of a stream and of the global log, within the read's count and bytes: the first event
//! is returned whatever its size, and a read cut by its bytes says so. A log read takes the
//! head first and reads no further than it: appends commit in position order (invariant 1 of
//! `schema.rs`), so every position up to that head is committed and the read has no hole.

use cairn_store::{
    AllRead, AllSlice, Direction, EventId, EventType, Json, ListedStream, Position, ReadError,
    RecordedEvent, StorageError, StreamId, StreamInfo, StreamRead, StreamSlice, StreamsPage,
    StreamsRead, Timestamp, Version,
};
use tokio_postgres::Row;

use crate::append::storage;
use crate::store::PostgresStore;

const COLUMNS: &str = "position, id, stream, version, event_type, data, metadata, recorded_at";

fn failed(error: impl std::fmt::Display + std::fmt::Debug) -> ReadError {
    ReadError::from(storage(error))
}

fn corrupt(what: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(format!("a stored event does not read: {what}"))
}

/// A row of `events` as an event.
pub(crate) fn event_of(row: &Row) -> Result<RecordedEvent, StorageError> {
    Ok(RecordedEvent {
        position: Position::new(u64::try_from(row.get::<_, i64>(0)).map_err(corrupt)?),
        id: EventId::from(row.get::<_, uuid::Uuid>(1)),
        stream: StreamId::new(row.get::<_, &str>(2)).map_err(corrupt)?,
        version: Version::new(u64::try_from(row.get::<_, i64>(3)).map_err(corrupt)?),
        event_type: EventType::new(row.get::<_, &str>(4)).map_err(corrupt)?,
        data: Json::parse(row.get::<_, &str>(5)).map_err(corrupt)?,
        metadata: Json::parse(row.get::<_, &str>(6)).map_err(corrupt)?,
        recorded_at: Timestamp::from_millis(u64::try_from(row.get::<_, i64>(7)).map_err(corrupt)?),
    })
}

/// The bytes a read budget counts of an event: its type, data and metadata.
fn bytes_of(event: &RecordedEvent) -> usize {
    event.event_type.as_str().len() + event.data.as_str().len() + event.metadata.as_str().len()
}

/// `rows` as events, up to `max_bytes` (the first whatever its size); whether cut by them.
fn within_budget(rows: &[Row], max_bytes: usize) -> Result<(Vec<RecordedEvent>, bool), ReadError> {
    let mut events = Vec::with_capacity(rows.len());
    let mut bytes = 0usize;
    for row in rows {
        let event = event_of(row)?;
        bytes = bytes.saturating_add(bytes_of(&event));
        if !events.is_empty() && bytes > max_bytes {
            return Ok((events, true));
        }
        events.push(event);
    }
    Ok((events, false))
}

fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl PostgresStore {
    /// The position of the newest committed event, as the database has it (0 for an empty
    /// log).
    pub async fn stored_head(&self) -> Result<Position, ReadError> {
        let client = self.pool.get().await.map_err(failed)?;
        let head: i64 = client
            .query_one("SELECT position FROM log_head", &[])
            .await
            .map_err(failed)?
            .get(0);
        Ok(Position::new(u64::try_from(head).map_err(failed)?))
    }

    /// Reads part of a stream; a missing stream is version 0 with no events.
    pub async fn read_stream(
        &self,
        stream: StreamId,
        read: StreamRead,
    ) -> Result<StreamSlice, ReadError> {
        let client = self.pool.get().await.map_err(failed)?;
        let name = stream.as_str();
        let from = read
            .from
            .map(|v| i64::try_from(v.get()).unwrap_or(i64::MAX));
        let limit = sql_limit(read.limit);
        // One statement, so the version and the events are of one snapshot: a stream with no
        // events in the range still gives one row, its version with no event (an empty read
        // followed by a separate read of the version could see a version whose events it
        // missed; the linearizability checker caught that).
        let (order, bound) = match read.direction {
            Direction::Forward => ("", "version >= coalesce($2::bigint, 1)"),
            Direction::Backward => (
                " DESC",
                "version <= coalesce($2::bigint, 9223372036854775807)",
            ),
        };
        let statement = format!(
            "SELECT e.position, e.id, e.stream, e.version, e.event_type, e.data, e.metadata, \
             e.recorded_at, v.version AS stream_version \
             FROM (SELECT coalesce((SELECT version FROM streams WHERE name = $1), 0) AS version) v \
             LEFT JOIN LATERAL (SELECT {COLUMNS} FROM events WHERE stream = $1 AND {bound} \
             ORDER BY version{order} LIMIT $3) e ON true \
             ORDER BY e.version{order}"
        );
        let mut rows = client
            .query(&statement, &[&name, &from, &limit])
            .await
            .map_err(failed)?;
        let version: i64 = rows.first().map_or(0, |row| row.get(8));
        rows.retain(|row| row.get::<_, Option<i64>>(0).is_some());
        let (events, truncated) = within_budget(&rows, read.max_bytes)?;
        Ok(StreamSlice {
            stream,
            version: Version::new(u64::try_from(version).map_err(failed)?),
            events,
            truncated,
        })
    }

    /// Reads the global log after `read.after`, in position order, within its count, scan
    /// limit and bytes; going on after `scanned_to` reads the rest.
    pub async fn read_all(&self, read: AllRead) -> Result<AllSlice, ReadError> {
        let client = self.pool.get().await.map_err(failed)?;
        let after = i64::try_from(read.after.get()).map_err(failed)?;
        let head = {
            let head: i64 = client
                .query_one("SELECT position FROM log_head", &[])
                .await
                .map_err(failed)?
                .get(0);
            head
        };
        // The last position this read examines.
        let scan_end = after.saturating_add(sql_limit(read.scan_limit)).min(head);
        let category = read.category.as_deref();
        let event_type = read.event_type.as_ref().map(EventType::as_str);
        let rows = if category.is_none() && event_type.is_none() {
            // Unfiltered, the events wanted are the positions right after `after` (invariant
            // 1): asked for by count alone, with no upper bound, so the planner takes the
            // primary key's order even before the table has statistics (with a range it chose
            // a bitmap scan and a sort of the whole range, 30 ms for 1,000 of 200,000 events).
            // Rows past the head, committed since it was read, are left out below.
            // None for a read from at or past the head.
            let count = sql_limit(read.limit)
                .min(scan_end.saturating_sub(after))
                .max(0);
            let statement = client
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2"
                ))
                .await
                .map_err(failed)?;
            let mut rows = client
                .query(&statement, &[&after, &count])
                .await
                .map_err(failed)?;
            rows.retain(|row| row.get::<_, i64>(0) <= scan_end);
            rows
        } else {
            client
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM events WHERE position > $1 AND position <= $2 \
                         AND ($3::text IS NULL OR split_part(stream, '-', 1) = $3) \
                         AND ($4::text IS NULL OR event_type = $4) \
                         ORDER BY position LIMIT $5"
                    ),
                    &[
                        &after,
                        &scan_end,
                        &category,
                        &event_type,
                        &sql_limit(read.limit),
                    ],
                )
                .await
                .map_err(failed)?
        };
        let (events, truncated) = within_budget(&rows, read.max_bytes)?;
        // Where the next read starts: past everything examined, and no further than the first
        // event this one could not return.
        let scanned_to = if read.limit == 0 || after >= head {
            read.after
        } else if truncated {
            let cut: i64 = rows[events.len()].get(0);
            Position::new(u64::try_from(cut - 1).map_err(failed)?)
        } else if events.len() == read.limit {
            events.last().map_or(read.after, |last| last.position)
        } else {
            Position::new(u64::try_from(scan_end).map_err(failed)?)
        };
        Ok(AllSlice {
            events,
            scanned_to,
            head: Position::new(u64::try_from(head).map_err(failed)?),
            truncated,
        })
    }

    /// A stream's version (0 for a stream with no events).
    pub async fn stream_info(&self, stream: StreamId) -> Result<StreamInfo, ReadError> {
        let client = self.pool.get().await.map_err(failed)?;
        let version: i64 = client
            .query_opt(
                "SELECT version FROM streams WHERE name = $1",
                &[&stream.as_str()],
            )
            .await
            .map_err(failed)?
            .map_or(0, |row| row.get(0));
        Ok(StreamInfo {
            version: Version::new(u64::try_from(version).map_err(failed)?),
        })
    }

    /// A page of the streams whose names begin with the read's prefix, in name order
    /// (descending backward), strictly after (before) its `from`, each with its version.
    pub async fn list_streams(&self, read: StreamsRead) -> Result<StreamsPage, ReadError> {
        let client = self.pool.get().await.map_err(failed)?;
        let limit = read.capped_limit();
        // One more than the page, to say whether more follow. Names are compared byte for
        // byte (`COLLATE "C"`), as the embedded store orders them.
        let statement = match read.direction {
            Direction::Forward => {
                "SELECT name, version FROM streams WHERE starts_with(name, $1) \
                 AND ($2::text IS NULL OR name COLLATE \"C\" > $2) \
                 ORDER BY name COLLATE \"C\" LIMIT $3"
            }
            Direction::Backward => {
                "SELECT name, version FROM streams WHERE starts_with(name, $1) \
                 AND ($2::text IS NULL OR name COLLATE \"C\" < $2) \
                 ORDER BY name COLLATE \"C\" DESC LIMIT $3"
            }
        };
        let rows = client
            .query(
                statement,
                &[
                    &read.prefix,
                    &read.from,
                    &sql_limit(limit.saturating_add(1)),
                ],
            )
            .await
            .map_err(failed)?;
        let more = rows.len() > limit;
        let streams = rows
            .iter()
            .take(limit)
            .map(|row| {
                Ok(ListedStream {
                    stream: StreamId::new(row.get::<_, &str>(0)).map_err(corrupt)?,
                    version: Version::new(u64::try_from(row.get::<_, i64>(1)).map_err(corrupt)?),
                })
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        Ok(StreamsPage { streams, more })
    }
}
