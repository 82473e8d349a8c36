//! Appends. Each is one transaction that takes its locks in one order (`schema.rs`'s
//! invariants):
//! 0. for an append with an idempotency key, the key: a recorded key answers with the outcome
//!    it recorded; else the key's advisory lock is taken and held to commit, so of two appends
//!    under one new key the second waits, then finds the first's row;
//! 1. the stream's row is read `FOR UPDATE`, so every append to the stream that committed is
//!    seen from here on;
//! 2. the event ids it carries are looked up: if all are stored, in this stream, in order and
//!    with the same content, the append is a retry and gets the original outcome; an id stored
//!    with other content is refused, and so is any other overlap; then the stream's version is
//!    checked against the expected one and moved on (its row inserted, for a new stream): of
//!    appends racing at one expected version, the first to lock the row wins and the others
//!    see the new version; a command's append is refused if its id has appended already;
//! 3. the log head is moved on last, and its row lock held until commit, so appends commit in
//!    position order (invariant 1);
//! 4. the events are written at the head's new positions, with the key's row and the
//!    command's entry.
//!
//! An append that meets a racing one (a new stream made meanwhile, or the same event ids
//! written first) is tried again from step 1, where it is then recognised or refused.

use cairn_store::{
    AppendError, AppendKind, AppendOutcome, EventId, ExpectedVersion, IdempotencyKey,
    LoggedCommand, NewEvent, Position, ReadError, StorageError, StreamId, Timestamp, Verdict,
    Version, check_append,
};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Row, Transaction};

use crate::store::PostgresStore;

/// Tries of one append that met racing ones before it gives up.
const TRIES: usize = 5;

/// `error` as the store's. An error PostgreSQL answered with is given with what it said (its
/// `Display` alone says only "db error"); any other (a connection refused, closed or timed
/// out, a pool with none to give) is the node's I/O with the database failing, and says so.
pub(crate) fn storage(error: impl std::fmt::Display + std::fmt::Debug) -> StorageError {
    let (text, said) = (format!("{error}"), format!("{error:?}"));
    let message = if said.contains("kind: Db") {
        format!("PostgreSQL: {said}")
    } else {
        format!("I/O with PostgreSQL failed: {text}")
    };
    StorageError::backend(std::io::Error::other(message))
}

pub(crate) fn failed(error: impl std::fmt::Display + std::fmt::Debug) -> AppendError {
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
        self.append_with(stream, expected, events, None, None).await
    }

    /// Appends like [`PostgresStore::append`], and records `key` with the events; a key
    /// recorded for the stream already answers with its outcome, and nothing is appended.
    pub async fn append_keyed(
        &self,
        stream: StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        key: IdempotencyKey,
    ) -> Result<AppendOutcome, AppendError> {
        self.append_with(stream, expected, events, Some(&key), None)
            .await
    }

    /// Appends a command's events to its stream, under its idempotency key if it has one, and
    /// writes its appended entry in the same transaction (invariant 6 of `schema.rs`).
    pub(crate) async fn append_for_command(
        &self,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        command: LoggedCommand,
    ) -> Result<AppendOutcome, AppendError> {
        let stream = command.stream.clone();
        let key = command.idempotency_key.clone();
        self.append_with(stream, expected, events, key.as_ref(), Some(&command))
            .await
    }

    /// The outcome recorded for `key` on `stream`, if an append made with it was stored.
    pub async fn keyed_outcome(
        &self,
        stream: StreamId,
        key: IdempotencyKey,
    ) -> Result<Option<AppendOutcome>, ReadError> {
        let client = self
            .pool
            .get()
            .await
            .map_err(|e| ReadError::from(storage(e)))?;
        recorded(&**client, &stream, &key)
            .await
            .map_err(|e| ReadError::from(storage(e)))
    }

    async fn append_with(
        &self,
        stream: StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        key: Option<&IdempotencyKey>,
        command: Option<&LoggedCommand>,
    ) -> Result<AppendOutcome, AppendError> {
        check_append(&stream, &events)?;
        let Some(queue) = &self.queue else {
            return self
                .append_alone(stream, expected, events, key, command)
                .await;
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        queue
            .send(crate::batch::Queued {
                stream,
                expected,
                events,
                key: key.cloned(),
                command: command.cloned(),
                reply,
            })
            .map_err(|_| AppendError::Storage(StorageError::Closed))?;
        answer
            .await
            .map_err(|_| AppendError::Storage(StorageError::Closed))?
    }

    /// Writes one append in a transaction of its own, trying again after a racing append got
    /// in the way: the path of a store with no writers of its own (`batch.rs`), and of an
    /// append its batch could not settle.
    pub(crate) async fn append_alone(
        &self,
        stream: StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        key: Option<&IdempotencyKey>,
        command: Option<&LoggedCommand>,
    ) -> Result<AppendOutcome, AppendError> {
        for _ in 0..TRIES {
            let tried = self
                .try_append(&stream, expected, &events, key, command)
                .await;
            match tried {
                Ok(Some(outcome)) => {
                    self.note_write(None);
                    return Ok(outcome);
                }
                Ok(None) => {}
                Err(AppendError::Storage(error)) => {
                    self.note_write(Some(error.to_string()));
                    return Err(AppendError::Storage(error));
                }
                Err(refused) => return Err(refused),
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
        key: Option<&IdempotencyKey>,
        command: Option<&LoggedCommand>,
    ) -> Result<Option<AppendOutcome>, AppendError> {
        let mut client = self.pool.get().await.map_err(failed)?;
        let tx = client.transaction().await.map_err(failed)?;
        if let Some(key) = key {
            if let Some(outcome) = recorded(&*tx, stream, key).await.map_err(failed)? {
                return Ok(Some(outcome));
            }
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(31) || $2, 0))",
                &[&stream.as_str(), &key.as_str()],
            )
            .await
            .map_err(failed)?;
            // Recorded by an append that held the lock before this one.
            if let Some(outcome) = recorded(&*tx, stream, key).await.map_err(failed)? {
                return Ok(Some(outcome));
            }
        }
        // The stream's row first: once it is locked, every append to the stream that
        // committed is seen, so a copy of one of them is recognised below rather than taken
        // for a stale expected version.
        let name = stream.as_str();
        let current: Option<i64> = tx
            .query_opt(
                "SELECT version FROM streams WHERE name = $1 FOR UPDATE",
                &[&name],
            )
            .await
            .map_err(failed)?
            .map(|row| row.get(0));
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
            return recognise(stream, events, &stored.iter().collect::<Vec<_>>()).map(Some);
        }
        let actual = u64::try_from(current.unwrap_or(0)).map_err(failed)?;
        if !expected.admits(Version::new(actual)) {
            return Err(AppendError::WrongExpectedVersion {
                stream: stream.clone(),
                expected,
                actual: Version::new(actual),
            });
        }
        if let Some(command) = command
            && crate::command_log::has_appended(&*tx, command.id).await?
        {
            return Err(AppendError::CommandIdReused { id: command.id });
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
        if let Some(key) = key {
            tx.execute(
                "INSERT INTO append_keys (stream, key, first_version, last_version, \
                 first_position, last_position, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &stream.as_str(),
                    &key.as_str(),
                    &(last_version - count + 1),
                    &last_version,
                    &first_position,
                    &head,
                    &i64::try_from(recorded_at.as_millis()).map_err(failed)?,
                ],
            )
            .await
            .map_err(failed)?;
        }
        let outcome = AppendOutcome {
            stream: stream.clone(),
            first_version: Version::new(actual + 1),
            last_version: Version::new(actual + events.len() as u64),
            first_position: Position::new(first_position as u64),
            last_position: Position::new(head as u64),
            recorded_at,
            kind: AppendKind::Written,
        };
        if let Some(command) = command {
            let appended = Verdict::Appended {
                first_version: outcome.first_version,
                last_version: outcome.last_version,
                first_position: outcome.first_position,
                last_position: outcome.last_position,
            };
            if !crate::command_log::write_entry(&*tx, command, &appended).await? {
                return Err(AppendError::CommandIdReused { id: command.id });
            }
        }
        tx.commit().await.map_err(failed)?;
        self.head.advance(outcome.last_position);
        Ok(Some(outcome))
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
pub(crate) fn recognise(
    stream: &StreamId,
    events: &[NewEvent],
    stored: &[&Row],
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
    let first: &Row = stored[0];
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
    let last = stored[stored.len() - 1];
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

/// The outcome recorded for `key` on `stream`, recognised, if there is one.
async fn recorded(
    client: &impl tokio_postgres::GenericClient,
    stream: &StreamId,
    key: &IdempotencyKey,
) -> Result<Option<AppendOutcome>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT first_version, last_version, first_position, last_position, recorded_at \
             FROM append_keys WHERE stream = $1 AND key = $2",
            &[&stream.as_str(), &key.as_str()],
        )
        .await?;
    Ok(row.map(|row| outcome_of_key(stream, &row, 0)))
}

/// The outcome a key recorded, recognised, from an `append_keys` row whose first version is
/// column `first` (then the last version, the positions and the time).
pub(crate) fn outcome_of_key(stream: &StreamId, row: &Row, first: usize) -> AppendOutcome {
    AppendOutcome {
        stream: stream.clone(),
        first_version: Version::new(row.get::<_, i64>(first) as u64),
        last_version: Version::new(row.get::<_, i64>(first + 1) as u64),
        first_position: Position::new(row.get::<_, i64>(first + 2) as u64),
        last_position: Position::new(row.get::<_, i64>(first + 3) as u64),
        recorded_at: Timestamp::from_millis(row.get::<_, i64>(first + 4) as u64),
        kind: AppendKind::Recognised,
    }
}
