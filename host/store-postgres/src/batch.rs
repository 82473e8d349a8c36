//! Group commit: appends from many tasks are queued, and the node's writer task takes what is
//! queued into one transaction, so one commit (one flush of PostgreSQL's WAL) and two round
//! trips serve a whole batch instead of each append paying its own.
//!
//! A batch takes its locks in the order every append does (`append.rs`): the idempotency keys
//! (in one statement, in (stream, key) order), then the streams' rows (in one statement, in
//! name order; new streams inserted in name order after them), then the log head, held to
//! commit. Any two transactions therefore lock in one order and never deadlock.
//!
//! A batch is two round trips whatever its size (three when it makes a new stream), and
//! holds the head for the last alone. Each is one flight of statements sent together
//! (tokio-postgres pipelines them; PostgreSQL runs a connection's statements in the order
//! sent, and after a failed one the rest of the transaction fails and its `COMMIT` rolls back):
//! 1. `BEGIN`; the keys' locks and the outcomes recorded for them; the streams' rows `FOR
//!    UPDATE`; the stored events with any of the batch's ids; the batch's commands that
//!    appended already. Then each append is decided here, as it would be alone.
//! 2. Only when the batch makes new streams: they are inserted (and the others' versions moved
//!    on). One that another transaction made meanwhile is left out of the batch.
//! 3. The streams' versions moved on (unless done in 2); the head moved on by the batch's
//!    event count; the events, keys and command entries written at positions the server
//!    counts back from the head it has just moved; the notification; `COMMIT`.
//!
//! Invariants the gathering keeps, so that an append's checks never depend on another append
//! of its own batch:
//! 1. A batch holds at most one append per stream; a second waits for the next batch. (So an
//!    append sees every earlier append to its stream committed, and a repeated key or a retry
//!    of an append is recognised as it is alone.)
//! 2. No two appends of a batch share an event id or a command id.
//!
//! An append the batch cannot settle (its new stream made meanwhile by another transaction),
//! and every unsettled append of a batch whose transaction failed, is written alone by the
//! path of `append.rs`, which retries races and reports failures, on a task of its own.
//!
//! Measured on 2026-12-04 (`cairn bench http --postgres`, two nodes over HTTP): with six
//! round trips, three of them holding the head, and two writers a node, 6,348 to 7,627
//! appends/s; as here, 11,171 to 12,790 (BENCHMARKS.md).

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cairn_store::{
    AppendError, AppendKind, AppendOutcome, EventId, ExpectedVersion, IdempotencyKey,
    LoggedCommand, NewEvent, Position, StreamId, Timestamp, Version,
};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_postgres::types::ToSql;

use crate::append::{outcome_of_key, recognise};
use crate::store::PostgresStore;

/// The most appends one batch takes.
const MAX_APPENDS: usize = 256;
/// About the most bytes of event data one batch takes.
const MAX_BYTES: usize = 8 * 1024 * 1024;
/// Writer tasks per node. One: its batch takes all that came while the one before was written,
/// and the nodes' batches take turns at the log head. Two made smaller batches (two nodes over
/// HTTP, `cairn bench http --postgres` on 2026-12-04: 10,056 to 10,826 appends/s with two,
/// 12,905 to 13,568 with one), and still did when the second writer gathered only once the
/// first batch had reached its last flight (11,207 to 12,516).
pub(crate) const WRITERS: usize = 1;

/// An append waiting for a batch.
pub(crate) struct Queued {
    pub(crate) stream: StreamId,
    pub(crate) expected: ExpectedVersion,
    pub(crate) events: Vec<NewEvent>,
    pub(crate) key: Option<IdempotencyKey>,
    pub(crate) command: Option<LoggedCommand>,
    pub(crate) reply: oneshot::Sender<Result<AppendOutcome, AppendError>>,
}

impl Queued {
    fn bytes(&self) -> usize {
        self.events
            .iter()
            .map(|e| e.data.as_str().len() + e.metadata.as_str().len())
            .sum()
    }
}

/// Where appends are queued for the writers. The writers stop when it is dropped.
pub(crate) type Queue = mpsc::UnboundedSender<Queued>;

/// Starts the writers, which write with `store` (a store without a queue of its own, so an
/// append it makes is written alone).
pub(crate) fn start(store: &PostgresStore) -> Queue {
    let (queue, queued) = mpsc::unbounded_channel();
    let queued = Arc::new(Mutex::new(queued));
    for _ in 0..WRITERS {
        tokio::spawn(write(store.clone(), Arc::clone(&queued)));
    }
    queue
}

/// One writer: gathers a batch, writes it, and again, until the queue is closed.
async fn write(store: PostgresStore, queued: Arc<Mutex<mpsc::UnboundedReceiver<Queued>>>) {
    let mut carried: VecDeque<Queued> = VecDeque::new();
    loop {
        let batch = if carried.is_empty() {
            let mut queued = queued.lock().await;
            match queued.recv().await {
                Some(first) => carried.push_back(first),
                None => return,
            }
            gather(&mut carried, Some(&mut queued))
        } else {
            // What was carried is written now: the writer holding the queue may be waiting on
            // it for nothing.
            match queued.try_lock() {
                Ok(mut queued) => gather(&mut carried, Some(&mut queued)),
                Err(_) => gather(&mut carried, None),
            }
        };
        write_batch(&store, batch).await;
    }
}

/// A batch from `carried` (first) and what is queued (if the queue is at hand), keeping the
/// invariants; what would break them is carried to this writer's next batch.
fn gather(
    carried: &mut VecDeque<Queued>,
    queued: Option<&mut mpsc::UnboundedReceiver<Queued>>,
) -> Vec<Queued> {
    let mut batch = Gathering::default();
    while let Some(append) = carried.pop_front() {
        batch.take(append);
    }
    let Some(queued) = queued else {
        *carried = batch.next_round;
        return batch.appends;
    };
    while batch.appends.len() < MAX_APPENDS && batch.next_round.len() < MAX_APPENDS {
        match queued.try_recv() {
            Ok(append) => batch.take(append),
            Err(_) => break,
        }
    }
    *carried = batch.next_round;
    batch.appends
}

/// A batch being gathered: its appends, what they touch, and what waits for the next batch.
#[derive(Default)]
struct Gathering {
    appends: Vec<Queued>,
    streams: HashSet<StreamId>,
    ids: HashSet<EventId>,
    commands: HashSet<cairn_store::CommandId>,
    bytes: usize,
    next_round: VecDeque<Queued>,
}

impl Gathering {
    /// Takes `append` into the batch, or into the next round if it would break an invariant
    /// or overfill the batch.
    fn take(&mut self, append: Queued) {
        let clashes = self.streams.contains(&append.stream)
            || append.events.iter().any(|e| self.ids.contains(&e.id))
            || append
                .command
                .as_ref()
                .is_some_and(|c| self.commands.contains(&c.id));
        let full = self.appends.len() == MAX_APPENDS
            || (!self.appends.is_empty() && self.bytes + append.bytes() > MAX_BYTES);
        if clashes || full {
            self.next_round.push_back(append);
            return;
        }
        self.streams.insert(append.stream.clone());
        self.ids.extend(append.events.iter().map(|e| e.id));
        if let Some(command) = &append.command {
            self.commands.insert(command.id);
        }
        self.bytes += append.bytes();
        self.appends.push(append);
    }
}

/// Writes `batch`, answering each append.
async fn write_batch(store: &PostgresStore, batch: Vec<Queued>) {
    let settled = match settle(store, &batch).await {
        Ok(settled) => {
            store.note_write(None);
            settled
        }
        Err(error) => {
            tracing::debug!(%error, appends = batch.len(), "a batch failed; its appends are written alone");
            batch.iter().map(|_| None).collect()
        }
    };
    for (append, answer) in batch.into_iter().zip(settled) {
        match answer {
            Some(answer) => {
                let _ = append.reply.send(answer);
            }
            // Each on a task of its own, so the writer goes on to the next batch.
            None => {
                let store = store.clone();
                tokio::spawn(async move {
                    let answer = store
                        .append_alone(
                            append.stream,
                            append.expected,
                            append.events,
                            append.key.as_ref(),
                            append.command.as_ref(),
                        )
                        .await;
                    let _ = append.reply.send(answer);
                });
            }
        }
    }
}

/// What a batch's transaction settled for each append: its answer, or `None` for one to write
/// alone.
type Settled = Vec<Option<Result<AppendOutcome, AppendError>>>;

/// An append the batch writes: its index in the batch, the stream's version before it, and
/// whether the stream is new.
struct Writing {
    index: usize,
    before: i64,
    new_stream: bool,
}

/// Why a batch's transaction failed: for the log only, since its appends are then written
/// alone, which reports the cause to each.
type BatchError = Box<dyn std::error::Error + Send + Sync>;

/// A pooled connection a batch's transaction runs on. The batch sends `BEGIN` and `COMMIT`
/// among its flights' statements, so no `Transaction` handle would roll it back: unless
/// [`BatchConnection::release`] is called once the transaction has ended, the connection is
/// closed instead of going back to the pool, and PostgreSQL rolls back what was begun.
struct BatchConnection(Option<deadpool_postgres::Object>);

impl BatchConnection {
    fn client(&self) -> Result<&deadpool_postgres::Object, BatchError> {
        self.0
            .as_ref()
            .ok_or_else(|| "the connection was released".into())
    }

    /// The transaction has ended: the connection goes back to the pool.
    fn release(mut self) {
        drop(self.0.take());
    }
}

impl Drop for BatchConnection {
    fn drop(&mut self) {
        if let Some(connection) = self.0.take() {
            drop(deadpool_postgres::Object::take(connection));
        }
    }
}

/// The batch in one transaction, in two or three flights (see the module's docs). An error
/// leaves nothing written.
async fn settle(store: &PostgresStore, batch: &[Queued]) -> Result<Settled, BatchError> {
    let mut settled: Settled = batch.iter().map(|_| None).collect();
    let connection = BatchConnection(Some(store.pool.get().await?));
    let client = connection.client()?;

    // Every statement prepared first: preparing one is a round trip the first time on a
    // connection, and a flight's statements must go out in the order written.
    let lock_keys = client
        .prepare_cached(
            "SELECT pg_advisory_xact_lock(hashtextextended(s || chr(31) || k, 0)) \
             FROM unnest($1::text[], $2::text[]) AS u(s, k)",
        )
        .await?;
    // Keys of the batch's streams, matched to their appends below (by the primary key, not a
    // join with the arrays, for the reason `move_streams` gives).
    let recorded_keys = client
        .prepare_cached(
            "SELECT stream, key, first_version, last_version, first_position, \
             last_position, recorded_at FROM append_keys \
             WHERE stream = ANY($1::text[]) AND key = ANY($2::text[])",
        )
        .await?;
    let lock_streams = client
        .prepare_cached(
            "SELECT name, version FROM streams WHERE name = ANY($1) ORDER BY name FOR UPDATE",
        )
        .await?;
    let stored_events = client
        .prepare_cached(
            "SELECT id, stream, version, position, event_type, data, metadata, recorded_at \
             FROM events WHERE id = ANY($1) ORDER BY position",
        )
        .await?;
    let appended_commands = client
        .prepare_cached("SELECT id FROM commands WHERE id = ANY($1) AND verdict = 'appended'")
        .await?;
    // New streams are inserted in name order: an insert that meets another transaction's
    // uncommitted row of the same name waits for it, so two batches making the same new
    // streams in different orders would deadlock. The others are found by their primary key
    // (`= ANY`), never by a join with the arrays: without statistics the planner joined them by
    // scanning the whole table (about 2,500 appends/s instead of 20,000 on 2026-12-04).
    let move_streams = client
        .prepare_cached(
            "WITH made AS (INSERT INTO streams (name, version) \
             SELECT * FROM unnest($1::text[], $2::bigint[]) \
             ON CONFLICT (name) DO NOTHING RETURNING name), \
             moved AS (UPDATE streams \
             SET version = ($4::bigint[])[array_position($3::text[], name)] \
             WHERE name = ANY($3::text[])) \
             SELECT name FROM made",
        )
        .await?;
    // The head moved on, the events written at positions counted back from it, and the news
    // sent (delivered at commit to every node listening, `follow.rs`).
    let write_events = client
        .prepare_cached(
            "WITH h AS (UPDATE log_head SET position = position + $9 RETURNING position), \
             e AS (INSERT INTO events (position, id, stream, version, event_type, data, \
             metadata, recorded_at) \
             SELECT h.position - $9 + o, i, s, v, t, d, m, $8 FROM h, \
             unnest($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], $5::text[], \
             $6::text[], $7::text[]) AS u(o, i, s, v, t, d, m)) \
             SELECT h.position FROM h, LATERAL pg_notify($10, h.position::text)",
        )
        .await?;
    let write_keys = client
        .prepare_cached(
            "INSERT INTO append_keys (stream, key, first_version, last_version, \
             first_position, last_position, recorded_at) \
             SELECT s, k, fv, lv, h.position - $8 + fo, h.position - $8 + lo, $7 \
             FROM log_head h, unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], \
             $5::bigint[], $6::bigint[]) AS u(s, k, fv, lv, fo, lo)",
        )
        .await?;
    let write_entries = crate::command_log::AppendedEntries::prepare(client).await?;

    // The first flight: the transaction begun; the keys locked in (stream, key) order and
    // their recorded outcomes read; the streams' rows locked in name order; the stored
    // events with any of the batch's ids; the batch's commands that appended already.
    let mut keyed: Vec<(&str, &str)> = batch
        .iter()
        .filter_map(|a| a.key.as_ref().map(|k| (a.stream.as_str(), k.as_str())))
        .collect();
    keyed.sort_unstable();
    let (key_streams, keys): (Vec<&str>, Vec<&str>) = keyed.into_iter().unzip();
    let mut names: Vec<&str> = batch.iter().map(|a| a.stream.as_str()).collect();
    names.sort_unstable();
    let ids: Vec<uuid::Uuid> = batch
        .iter()
        .flat_map(|a| a.events.iter().map(|e| e.id.as_uuid()))
        .collect();
    let command_ids: Vec<uuid::Uuid> = batch
        .iter()
        .filter_map(|a| a.command.as_ref().map(|c| c.id.as_uuid()))
        .collect();
    let key_params: [&(dyn ToSql + Sync); 2] = [&key_streams, &keys];
    let name_params: [&(dyn ToSql + Sync); 1] = [&names];
    let id_params: [&(dyn ToSql + Sync); 1] = [&ids];
    let command_params: [&(dyn ToSql + Sync); 1] = [&command_ids];
    let lock_keys = async {
        if keys.is_empty() {
            return Ok(0);
        }
        client.execute(&lock_keys, &key_params).await
    };
    let recorded_keys = async {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        client.query(&recorded_keys, &key_params).await
    };
    let appended_commands = async {
        if command_ids.is_empty() {
            return Ok(Vec::new());
        }
        client.query(&appended_commands, &command_params).await
    };
    // `biased`: the futures are polled in the order written, and each sends its statement
    // when first polled.
    let (begun, keys_locked, recorded, versions, stored, appended) = tokio::join!(
        biased;
        client.batch_execute("BEGIN"),
        lock_keys,
        recorded_keys,
        client.query(&lock_streams, &name_params),
        client.query(&stored_events, &id_params),
        appended_commands,
    );
    begun?;
    keys_locked?;
    let (recorded, versions, stored, appended) = (recorded?, versions?, stored?, appended?);
    for row in recorded {
        let (stream, key): (&str, &str) = (row.get(0), row.get(1));
        if let Some(index) = batch.iter().position(|a| {
            a.stream.as_str() == stream && a.key.as_ref().is_some_and(|k| k.as_str() == key)
        }) {
            settled[index] = Some(Ok(outcome_of_key(&batch[index].stream, &row, 2)));
        }
    }
    let versions: BTreeMap<&str, i64> = versions.iter().map(|r| (r.get(0), r.get(1))).collect();
    let appended: HashSet<uuid::Uuid> = appended.iter().map(|r| r.get(0)).collect();

    // Each append not settled by its key decided as it would be alone (invariants 1 and 2:
    // nothing else in the batch touches its stream, ids or command).
    let mut writing = Vec::new();
    let open: Vec<usize> = (0..batch.len()).filter(|&i| settled[i].is_none()).collect();
    for index in open {
        let append = &batch[index];
        let own: Vec<&tokio_postgres::Row> = stored
            .iter()
            .filter(|row| {
                let id: uuid::Uuid = row.get(0);
                append.events.iter().any(|e| e.id.as_uuid() == id)
            })
            .collect();
        if !own.is_empty() {
            settled[index] = Some(recognise(&append.stream, &append.events, &own));
            continue;
        }
        let current = versions.get(append.stream.as_str()).copied();
        let actual = Version::new(u64::try_from(current.unwrap_or(0)).unwrap_or(0));
        if !append.expected.admits(actual) {
            settled[index] = Some(Err(AppendError::WrongExpectedVersion {
                stream: append.stream.clone(),
                expected: append.expected,
                actual,
            }));
            continue;
        }
        if let Some(command) = &append.command
            && appended.contains(&command.id.as_uuid())
        {
            settled[index] = Some(Err(AppendError::CommandIdReused { id: command.id }));
            continue;
        }
        writing.push(Writing {
            index,
            before: current.unwrap_or(0),
            new_stream: current.is_none(),
        });
    }
    if writing.is_empty() {
        client.batch_execute("COMMIT").await?;
        connection.release();
        return Ok(settled);
    }

    // New streams, if the batch makes any, are made in a round trip of their own (with the
    // others' versions), so that one another transaction made meanwhile is left out, to be
    // written alone, instead of failing the batch.
    let count = |w: &Writing| batch[w.index].events.len() as i64;
    let (mut new, old): (Vec<&Writing>, Vec<&Writing>) = writing.iter().partition(|w| w.new_stream);
    new.sort_by(|a, b| batch[a.index].stream.cmp(&batch[b.index].stream));
    let new_names: Vec<&str> = new.iter().map(|w| batch[w.index].stream.as_str()).collect();
    let new_versions: Vec<i64> = new.iter().map(|w| count(w)).collect();
    let old_names: Vec<&str> = old.iter().map(|w| batch[w.index].stream.as_str()).collect();
    let old_versions: Vec<i64> = old.iter().map(|w| w.before + count(w)).collect();
    let stream_columns: [&(dyn ToSql + Sync); 4] =
        [&new_names, &new_versions, &old_names, &old_versions];
    let streams_moved = !new_names.is_empty();
    if streams_moved {
        let made = client.query(&move_streams, &stream_columns).await?;
        let made: HashSet<&str> = made.iter().map(|r| r.get(0)).collect();
        writing.retain(|w| !w.new_stream || made.contains(batch[w.index].stream.as_str()));
        if writing.is_empty() {
            client.batch_execute("COMMIT").await?;
            connection.release();
            return Ok(settled);
        }
    }

    // The second flight: the streams' versions moved on (unless done above); the head moved
    // on by the batch's event count and the events written at positions the server counts
    // back from it (`head - total + ordinal`, the batch's ordinals numbered from 1); the keys
    // and command entries likewise; and the commit. Statements of one connection run in the
    // order sent, and after a failed one the rest fail and the commit rolls back, so the batch
    // is committed exactly when every answer is a success.
    let total: i64 = writing.iter().map(count).sum();
    let recorded_at = Timestamp::now();
    let at = i64::try_from(recorded_at.as_millis()).unwrap_or(i64::MAX);
    let mut ordinal = 0i64;
    let mut rows = EventRows::default();
    let mut key_rows = KeyRows::default();
    let mut entries = crate::command_log::AppendedEntries::default();
    let mut placed = Vec::new();
    for w in &writing {
        let append = &batch[w.index];
        let first_ordinal = ordinal + 1;
        for (offset, event) in append.events.iter().enumerate() {
            ordinal += 1;
            rows.ordinals.push(ordinal);
            rows.ids.push(event.id.as_uuid());
            rows.streams.push(append.stream.as_str());
            rows.versions.push(w.before + 1 + offset as i64);
            rows.types.push(event.event_type.as_str());
            rows.data.push(event.data.as_str());
            rows.metadata.push(event.metadata.as_str());
        }
        let (first_version, last_version) = (w.before + 1, w.before + count(w));
        if let Some(key) = &append.key {
            key_rows.streams.push(append.stream.as_str());
            key_rows.keys.push(key.as_str());
            key_rows.first_versions.push(first_version);
            key_rows.last_versions.push(last_version);
            key_rows.first_ordinals.push(first_ordinal);
            key_rows.last_ordinals.push(ordinal);
        }
        if let Some(command) = &append.command {
            entries.push(
                command,
                [first_version, last_version],
                [first_ordinal, ordinal],
            )?;
        }
        placed.push((
            w.index,
            [first_version, last_version],
            [first_ordinal, ordinal],
        ));
    }
    let event_columns: [&(dyn ToSql + Sync); 10] = [
        &rows.ordinals,
        &rows.ids,
        &rows.streams,
        &rows.versions,
        &rows.types,
        &rows.data,
        &rows.metadata,
        &at,
        &total,
        &crate::follow::CHANNEL,
    ];
    let key_columns: [&(dyn ToSql + Sync); 8] = [
        &key_rows.streams,
        &key_rows.keys,
        &key_rows.first_versions,
        &key_rows.last_versions,
        &key_rows.first_ordinals,
        &key_rows.last_ordinals,
        &at,
        &total,
    ];
    let write_keys = async {
        if key_rows.keys.is_empty() {
            return Ok(0);
        }
        client.execute(&write_keys, &key_columns).await
    };
    let move_streams = async {
        if streams_moved {
            return Ok(Vec::new());
        }
        client.query(&move_streams, &stream_columns).await
    };
    // A statement the client fails to send (one it cannot encode) fails at once, before the
    // commit is polled: then no `COMMIT` is sent, and the guard's closing the connection rolls
    // the transaction back. The server rolls back for a statement that fails there.
    let unsent = AtomicBool::new(false);
    let commit = async {
        if unsent.load(Ordering::Relaxed) {
            return Err("a statement of the batch could not be sent".into());
        }
        client
            .batch_execute("COMMIT")
            .await
            .map_err(BatchError::from)
    };
    let (streams, head, keys_written, entries_written, committed) = tokio::join!(
        biased;
        noting(&unsent, move_streams),
        noting(&unsent, client.query_one(&write_events, &event_columns)),
        noting(&unsent, write_keys),
        noting(&unsent, entries.write(client, &write_entries, total)),
        commit,
    );
    streams?;
    let head: i64 = head?.get(0);
    keys_written?;
    entries_written?;
    committed?;
    connection.release();

    store.head.advance(Position::new(head as u64));
    let base = head - total;
    for (index, [first_version, last_version], [first_ordinal, last_ordinal]) in placed {
        settled[index] = Some(Ok(AppendOutcome {
            stream: batch[index].stream.clone(),
            first_version: Version::new(first_version as u64),
            last_version: Version::new(last_version as u64),
            first_position: Position::new((base + first_ordinal) as u64),
            last_position: Position::new((base + last_ordinal) as u64),
            recorded_at,
            kind: AppendKind::Written,
        }));
    }
    Ok(settled)
}

/// `statement`'s result, noting in `failed` that it failed.
async fn noting<T>(
    failed: &AtomicBool,
    statement: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, tokio_postgres::Error> {
    let result = statement.await;
    if result.is_err() {
        failed.store(true, Ordering::Relaxed);
    }
    result
}

/// The columns of the events a batch writes.
#[derive(Default)]
struct EventRows<'a> {
    /// Each event's place in the batch, from 1.
    ordinals: Vec<i64>,
    ids: Vec<uuid::Uuid>,
    streams: Vec<&'a str>,
    versions: Vec<i64>,
    types: Vec<&'a str>,
    data: Vec<&'a str>,
    metadata: Vec<&'a str>,
}

/// The columns of the keys a batch records.
#[derive(Default)]
struct KeyRows<'a> {
    streams: Vec<&'a str>,
    keys: Vec<&'a str>,
    first_versions: Vec<i64>,
    last_versions: Vec<i64>,
    first_ordinals: Vec<i64>,
    last_ordinals: Vec<i64>,
}
