//! Appends. Each is one transaction that takes its locks in one order (`schema.rs`'s
//! invariants):
//! 1. the event ids it carries are looked up: if all are stored, in this stream, in order and
//!    with the same content, the append is a retry and gets the original outcome; an id stored
//!    with other content is refused, and so is any other overlap;
//! 2. the stream's row is read `FOR UPDATE` (or inserted, for a new stream), its version
//!    checked against the expected one, and moved on: of appends racing at one expected
//!    version, the first to lock the row wins and the others see the new version;
//! 3. the log head is moved on last, and its row lock held until commit, so appends commit in
//!    position order (invariant 1);
//! 4. the events are written at the head's new positions.
//!
//! An append that meets a racing one (a new stream made meanwhile, or the same event ids
//! written first) is tried again from step 1, where it is then recognised or refused.

use cairn_store::{
    AppendError, AppendKind, AppendOutcome, EventId, ExpectedVersion, NewEvent, Position,
    StorageError, StreamId, Timestamp, Version, check_append,
};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Row, Transaction};

use crate::store::PostgresStore;

/// Tries of one append that met racing ones before it gives up.
const TRIES: usize = 5;

/// `error` as the store's, with what PostgreSQL said (its `Display` alone says only "db
/// error").
pub(crate) fn storage(error: impl std::fmt::Display + std::fmt::Debug) -> StorageError {
    let text = format!("{error}");
    let said = format!("{error:?}");
    let message = if text.len() < 20 { said } else { text };
    StorageError::backend(std::io::Error::other(format!("PostgreSQL: {message}")))
}

fn failed(error: impl std::fmt::Display + std::fmt::Debug) -> AppendError {
    AppendError::Storage(storage(error))
}

fn is_unique_violation(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

impl PostgresStore {
    /// Appends `events` to `stream` if its version satisfies `expected`; durable (committed)
    /// when it returns.
    pub async fn append(
        &self,
        stream: StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, AppendError> {
        check_append(&stream, &events)?;
        for _ in 0..TRIES {
            if let Some(outcome) = self.try_append(&stream, expected, &events).await? {
                return Ok(outcome);
            }
        }
        Err(failed(format!(
            "an append to {stream} met a racing append {TRIES} times"
        )))
    }

    /// One try: the outcome, or `None` when a racing append got in the way.
    async fn try_append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<Option<AppendOutcome>, AppendError> {
        let mut client = self.pool.get().await.map_err(failed)?;
        let tx = client.transaction().await.map_err(failed)?;
        let ids: Vec<uuid::Uuid> = events.iter().map(|e| e.id.as_uuid()).collect();
        let stored = tx
            .query(
                "SELECT id, stream, version, position, event_type, data, metadata, recorded_at \
                 FROM events WHERE id = ANY($1) ORDER BY position",
                &[&ids],
            )
            .await
            .map_err(failed)?;
        if !stored.is_empty() {
            return recognise(stream, events, &stored).map(Some);
        }
        let name = stream.as_str();
        let current: Option<i64> = tx
            .query_opt(
                "SELECT version FROM streams WHERE name = $1 FOR UPDATE",
                &[&name],
            )
            .await
            .map_err(failed)?
            .map(|row| row.get(0));
        let actual = u64::try_from(current.unwrap_or(0)).map_err(failed)?;
        if !expected.admits(Version::new(actual)) {
            return Err(AppendError::WrongExpectedVersion {
                stream: stream.clone(),
                expected,
                actual: Version::new(actual),
            });
        }
        let count = i64::try_from(events.len()).map_err(failed)?;
        let last_version = current.unwrap_or(0) + count;
        if current.is_some() {
            tx.execute(
                "UPDATE streams SET version = $2 WHERE name = $1",
                &[&name, &last_version],
            )
            .await
            .map_err(failed)?;
        } else {
            let made = tx
                .execute(
                    "INSERT INTO streams (name, version) VALUES ($1, $2) \
                     ON CONFLICT (name) DO NOTHING",
                    &[&name, &last_version],
                )
                .await
                .map_err(failed)?;
            if made == 0 {
                // Made by a racing append meanwhile: its version is checked from the start.
                return Ok(None);
            }
        }
        let head: i64 = tx
            .query_one(
                "UPDATE log_head SET position = position + $1 RETURNING position",
                &[&count],
            )
            .await
            .map_err(failed)?
            .get(0);
        // Delivered at commit to every node listening (`follow.rs`).
        tx.execute(
            "SELECT pg_notify($1, $2)",
            &[&crate::follow::CHANNEL, &head.to_string()],
        )
        .await
        .map_err(failed)?;
        let first_position = head - count + 1;
        let recorded_at = Timestamp::now();
        if !insert(
            &tx,
            stream,
            events,
            first_position,
            last_version - count + 1,
            recorded_at,
        )
        .await?
        {
            return Ok(None);
        }
        tx.commit().await.map_err(failed)?;
        self.head.advance(Position::new(head as u64));
        Ok(Some(AppendOutcome {
            stream: stream.clone(),
            first_version: Version::new(actual + 1),
            last_version: Version::new(actual + events.len() as u64),
            first_position: Position::new(first_position as u64),
            last_position: Position::new(head as u64),
            recorded_at,
            kind: AppendKind::Written,
        }))
    }
}

/// Writes `events` at consecutive positions and versions from the first ones given. False if
/// one of their ids was written by a racing append first.
async fn insert(
    tx: &Transaction<'_>,
    stream: &StreamId,
    events: &[NewEvent],
    first_position: i64,
    first_version: i64,
    recorded_at: Timestamp,
) -> Result<bool, AppendError> {
    let count = events.len() as i64;
    let positions: Vec<i64> = (first_position..first_position + count).collect();
    let versions: Vec<i64> = (first_version..first_version + count).collect();
    let ids: Vec<uuid::Uuid> = events.iter().map(|e| e.id.as_uuid()).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let data: Vec<&str> = events.iter().map(|e| e.data.as_str()).collect();
    let metadata: Vec<&str> = events.iter().map(|e| e.metadata.as_str()).collect();
    let at = i64::try_from(recorded_at.as_millis()).map_err(failed)?;
    let written = tx
        .execute(
            "INSERT INTO events (position, id, stream, version, event_type, data, metadata, \
             recorded_at) \
             SELECT p, i, $3, v, t, d, m, $8 \
             FROM unnest($1::bigint[], $2::uuid[], $4::bigint[], $5::text[], $6::text[], \
             $7::text[]) AS u(p, i, v, t, d, m)",
            &[
                &positions,
                &ids,
                &stream.as_str(),
                &versions,
                &types,
                &data,
                &metadata,
                &at,
            ],
        )
        .await;
    match written {
        Ok(_) => Ok(true),
        Err(error) if is_unique_violation(&error) => Ok(false),
        Err(error) => Err(failed(error)),
    }
}

/// The outcome of an append whose ids are stored (`stored`, their rows in position order): the
/// original's if it is an exact retry, else why it is refused.
fn recognise(
    stream: &StreamId,
    events: &[NewEvent],
    stored: &[Row],
) -> Result<AppendOutcome, AppendError> {
    let by_id = |id: uuid::Uuid| stored.iter().find(|row| row.get::<_, uuid::Uuid>(0) == id);
    // An id stored with other content is refused first: it names another event.
    for event in events {
        if let Some(row) = by_id(event.id.as_uuid()) {
            let same = row.get::<_, &str>(4) == event.event_type.as_str()
                && row.get::<_, &str>(5) == event.data.as_str()
                && row.get::<_, &str>(6) == event.metadata.as_str();
            if !same {
                return Err(AppendError::EventIdReused {
                    stream: stream.clone(),
                    id: event.id,
                });
            }
        }
    }
    let first: &Row = &stored[0];
    let first_id = EventId::from(first.get::<_, uuid::Uuid>(0));
    let first_version: i64 = first.get(2);
    let in_order = stored.len() == events.len()
        && events
            .iter()
            .zip(stored)
            .enumerate()
            .all(|(offset, (event, row))| {
                row.get::<_, uuid::Uuid>(0) == event.id.as_uuid()
                    && row.get::<_, &str>(1) == stream.as_str()
                    && row.get::<_, i64>(2) == first_version + offset as i64
            });
    if !in_order {
        return Err(AppendError::IdempotencyConflict {
            stream: stream.clone(),
            id: first_id,
        });
    }
    let last = &stored[stored.len() - 1];
    Ok(AppendOutcome {
        stream: stream.clone(),
        first_version: Version::new(first_version as u64),
        last_version: Version::new(last.get::<_, i64>(2) as u64),
        first_position: Position::new(first.get::<_, i64>(3) as u64),
        last_position: Position::new(last.get::<_, i64>(3) as u64),
        recorded_at: Timestamp::from_millis(first.get::<_, i64>(7) as u64),
        kind: AppendKind::Recognised,
    })
}
