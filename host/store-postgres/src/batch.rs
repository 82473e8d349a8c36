//! Group commit: appends from many tasks are queued, and a few writer tasks each take what is
//! queued into one transaction, so one commit (one flush of PostgreSQL's WAL) and a handful of
//! round trips serve a whole batch instead of each append paying its own.
//!
//! A batch takes its locks in the order every append does (`append.rs`): the idempotency keys
//! (in one statement, in (stream, key) order), then the streams' rows (in one statement, in
//! name order; new streams inserted in name order after them), then the log head, held to
//! commit. Any two transactions therefore lock in one
//! order and never deadlock. The statements of a phase are sent together (tokio-postgres
//! pipelines them), so a batch is about six round trips whatever its size:
//! 1. the keys' locks, and the outcomes recorded for them;
//! 2. the streams' rows `FOR UPDATE`, the stored events with any of the batch's ids, and the
//!    commands of the batch that appended already;
//! 3. (decided here) new streams inserted and the others' versions moved on;
//! 4. the head moved on by the batch's event count;
//! 5. the events, keys and command entries written, and the notification;
//! 6. the commit.
//!
//! Invariants the gathering keeps, so that an append's checks never depend on another append
//! of its own batch:
//! 1. A batch holds at most one append per stream; a second waits for the next batch. (So an
//!    append sees every earlier append to its stream committed, and a repeated key or a retry
//!    of an append is recognised as it is alone.)
//! 2. No two appends of a batch share an event id or a command id.
//!
//! An append the batch cannot settle (its new stream made meanwhile by another node), and
//! every unsettled append of a batch whose transaction failed, is written alone by the path
//! of `append.rs`, which retries races and reports failures.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;

use cairn_store::{
    AppendError, AppendKind, AppendOutcome, EventId, ExpectedVersion, IdempotencyKey,
    LoggedCommand, NewEvent, Position, StreamId, Timestamp, Verdict, Version,
};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_postgres::types::ToSql;

use crate::append::{outcome_of_key, recognise};
use crate::store::PostgresStore;

/// The most appends one batch takes.
const MAX_APPENDS: usize = 256;
/// About the most bytes of event data one batch takes.
const MAX_BYTES: usize = 8 * 1024 * 1024;
/// Writer tasks: while one waits on its commit, the other gathers and checks its batch. More
/// make smaller batches that only queue on the log head (6,400 appends from 64 tasks: about
/// 300 ms with two writers, 330 with one, 360 to 400 with three, on 2026-12-04).
pub(crate) const WRITERS: usize = 2;

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
        let answer = match answer {
            Some(answer) => answer,
            None => {
                store
                    .append_alone(
                        append.stream,
                        append.expected,
                        append.events,
                        append.key.as_ref(),
                        append.command.as_ref(),
                    )
                    .await
            }
        };
        let _ = append.reply.send(answer);
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

/// The batch in one transaction. An error leaves nothing written.
async fn settle(store: &PostgresStore, batch: &[Queued]) -> Result<Settled, BatchError> {
    let mut settled: Settled = batch.iter().map(|_| None).collect();
    let mut client = store.pool.get().await?;
    let tx = client.transaction().await?;

    // 1. Keys: locked in (stream, key) order, then their recorded outcomes read.
    let mut keyed: Vec<(&str, &str)> = batch
        .iter()
        .filter_map(|a| a.key.as_ref().map(|k| (a.stream.as_str(), k.as_str())))
        .collect();
    if !keyed.is_empty() {
        keyed.sort_unstable();
        let (streams, keys): (Vec<&str>, Vec<&str>) = keyed.into_iter().unzip();
        let lock = tx
            .prepare_cached(
                "SELECT pg_advisory_xact_lock(hashtextextended(s || chr(31) || k, 0)) \
                 FROM unnest($1::text[], $2::text[]) AS u(s, k)",
            )
            .await?;
        // Keys of the batch's streams, matched to their appends below (by the primary key, not
        // a join with the arrays, for the reason `update_streams` gives).
        let recorded = tx
            .prepare_cached(
                "SELECT stream, key, first_version, last_version, first_position, \
                 last_position, recorded_at FROM append_keys \
                 WHERE stream = ANY($1::text[]) AND key = ANY($2::text[])",
            )
            .await?;
        let params: [&(dyn ToSql + Sync); 2] = [&streams, &keys];
        let (_, rows) = tokio::try_join!(tx.execute(&lock, &params), tx.query(&recorded, &params))?;
        for row in rows {
            let (stream, key): (&str, &str) = (row.get(0), row.get(1));
            if let Some(index) = batch.iter().position(|a| {
                a.stream.as_str() == stream && a.key.as_ref().is_some_and(|k| k.as_str() == key)
            }) {
                settled[index] = Some(Ok(outcome_of_key(&batch[index].stream, &row, 2)));
            }
        }
    }

    // 2. The streams' rows in name order, the events stored under the batch's ids, and the
    //    batch's commands that appended already.
    let open: Vec<usize> = (0..batch.len()).filter(|&i| settled[i].is_none()).collect();
    if open.is_empty() {
        tx.commit().await?;
        return Ok(settled);
    }
    let mut names: Vec<&str> = open.iter().map(|&i| batch[i].stream.as_str()).collect();
    names.sort_unstable();
    let ids: Vec<uuid::Uuid> = open
        .iter()
        .flat_map(|&i| batch[i].events.iter().map(|e| e.id.as_uuid()))
        .collect();
    let command_ids: Vec<uuid::Uuid> = open
        .iter()
        .filter_map(|&i| batch[i].command.as_ref().map(|c| c.id.as_uuid()))
        .collect();
    let lock_streams = tx
        .prepare_cached(
            "SELECT name, version FROM streams WHERE name = ANY($1) ORDER BY name FOR UPDATE",
        )
        .await?;
    let stored = tx
        .prepare_cached(
            "SELECT id, stream, version, position, event_type, data, metadata, recorded_at \
             FROM events WHERE id = ANY($1) ORDER BY position",
        )
        .await?;
    let appended = tx
        .prepare_cached("SELECT id FROM commands WHERE id = ANY($1) AND verdict = 'appended'")
        .await?;
    let names: [&(dyn ToSql + Sync); 1] = [&names];
    let ids: [&(dyn ToSql + Sync); 1] = [&ids];
    let command_ids: [&(dyn ToSql + Sync); 1] = [&command_ids];
    let (versions, stored, appended) = tokio::try_join!(
        tx.query(&lock_streams, &names),
        tx.query(&stored, &ids),
        tx.query(&appended, &command_ids),
    )?;
    let versions: BTreeMap<&str, i64> = versions.iter().map(|r| (r.get(0), r.get(1))).collect();
    let appended: HashSet<uuid::Uuid> = appended.iter().map(|r| r.get(0)).collect();

    // 3. Each append decided as it would be alone (invariants 1 and 2: nothing else in the
    //    batch touches its stream, ids or command).
    let mut writing = Vec::new();
    for &index in &open {
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

    //    New streams made; one another node made meanwhile is written alone, afterwards.
    let count = |w: &Writing| batch[w.index].events.len() as i64;
    let (mut new, old): (Vec<&Writing>, Vec<&Writing>) = writing.iter().partition(|w| w.new_stream);
    // Inserted in name order too: an insert that meets another transaction's uncommitted row
    // of the same name waits for it, so two batches making the same new streams in different
    // orders would deadlock.
    new.sort_by(|a, b| batch[a.index].stream.cmp(&batch[b.index].stream));
    let new_names: Vec<&str> = new.iter().map(|w| batch[w.index].stream.as_str()).collect();
    let new_versions: Vec<i64> = new.iter().map(|w| count(w)).collect();
    let old_names: Vec<&str> = old.iter().map(|w| batch[w.index].stream.as_str()).collect();
    let old_versions: Vec<i64> = old.iter().map(|w| w.before + count(w)).collect();
    let insert_streams = tx
        .prepare_cached(
            "INSERT INTO streams (name, version) SELECT * FROM unnest($1::text[], $2::bigint[]) \
             ON CONFLICT (name) DO NOTHING RETURNING name",
        )
        .await?;
    // By the primary key (`= ANY`), never a join with the arrays: without statistics the
    // planner joined them by scanning the whole table (about 2,500 appends/s instead of
    // 20,000 on 2026-12-04).
    let update_streams = tx
        .prepare_cached(
            "UPDATE streams SET version = ($2::bigint[])[array_position($1::text[], name)] \
             WHERE name = ANY($1::text[])",
        )
        .await?;
    let (new, old): ([&(dyn ToSql + Sync); 2], [&(dyn ToSql + Sync); 2]) =
        ([&new_names, &new_versions], [&old_names, &old_versions]);
    let (made, _) = tokio::try_join!(
        tx.query(&insert_streams, &new),
        tx.execute(&update_streams, &old),
    )?;
    let made: HashSet<&str> = made.iter().map(|r| r.get(0)).collect();
    writing.retain(|w| !w.new_stream || made.contains(batch[w.index].stream.as_str()));
    if writing.is_empty() {
        tx.commit().await?;
        return Ok(settled);
    }

    // 4. The head, last, held to commit.
    let total: i64 = writing.iter().map(count).sum();
    let move_head = tx
        .prepare_cached("UPDATE log_head SET position = position + $1 RETURNING position")
        .await?;
    let head: i64 = tx.query_one(&move_head, &[&total]).await?.get(0);

    // 5. The events at the head's new positions, in batch order; the keys; the commands.
    let recorded_at = Timestamp::now();
    let at = i64::try_from(recorded_at.as_millis()).unwrap_or(i64::MAX);
    let mut next_position = head - total + 1;
    let mut rows = EventRows::default();
    let mut key_rows = KeyRows::default();
    let mut outcomes = Vec::new();
    for w in &writing {
        let append = &batch[w.index];
        let first_position = next_position;
        for (offset, event) in append.events.iter().enumerate() {
            rows.positions.push(next_position);
            rows.ids.push(event.id.as_uuid());
            rows.streams.push(append.stream.as_str());
            rows.versions.push(w.before + 1 + offset as i64);
            rows.types.push(event.event_type.as_str());
            rows.data.push(event.data.as_str());
            rows.metadata.push(event.metadata.as_str());
            next_position += 1;
        }
        let outcome = AppendOutcome {
            stream: append.stream.clone(),
            first_version: Version::new(w.before as u64 + 1),
            last_version: Version::new((w.before + count(w)) as u64),
            first_position: Position::new(first_position as u64),
            last_position: Position::new((next_position - 1) as u64),
            recorded_at,
            kind: AppendKind::Written,
        };
        if let Some(key) = &append.key {
            key_rows.streams.push(append.stream.as_str());
            key_rows.keys.push(key.as_str());
            key_rows.first_versions.push(w.before + 1);
            key_rows.last_versions.push(w.before + count(w));
            key_rows.first_positions.push(first_position);
            key_rows.last_positions.push(next_position - 1);
        }
        outcomes.push((w.index, outcome));
    }
    let insert_events = tx
        .prepare_cached(
            "INSERT INTO events (position, id, stream, version, event_type, data, metadata, \
             recorded_at) \
             SELECT p, i, s, v, t, d, m, $8 FROM unnest($1::bigint[], $2::uuid[], $3::text[], \
             $4::bigint[], $5::text[], $6::text[], $7::text[]) AS u(p, i, s, v, t, d, m)",
        )
        .await?;
    let insert_keys = tx
        .prepare_cached(
            "INSERT INTO append_keys (stream, key, first_version, last_version, \
             first_position, last_position, recorded_at) \
             SELECT s, k, fv, lv, fp, lp, $7 FROM unnest($1::text[], $2::text[], $3::bigint[], \
             $4::bigint[], $5::bigint[], $6::bigint[]) AS u(s, k, fv, lv, fp, lp)",
        )
        .await?;
    let notify = tx.prepare_cached("SELECT pg_notify($1, $2)").await?;
    let head_text = head.to_string();
    let inner: &tokio_postgres::Transaction<'_> = &tx;
    let entries = outcomes.iter().filter_map(|(index, outcome)| {
        batch[*index].command.as_ref().map(|command| {
            let appended = Verdict::Appended {
                first_version: outcome.first_version,
                last_version: outcome.last_version,
                first_position: outcome.first_position,
                last_position: outcome.last_position,
            };
            async move { crate::command_log::write_entry(inner, command, &appended).await }
        })
    });
    let entries = futures_util::future::join_all(entries);
    let event_columns: [&(dyn ToSql + Sync); 8] = [
        &rows.positions,
        &rows.ids,
        &rows.streams,
        &rows.versions,
        &rows.types,
        &rows.data,
        &rows.metadata,
        &at,
    ];
    let key_columns: [&(dyn ToSql + Sync); 7] = [
        &key_rows.streams,
        &key_rows.keys,
        &key_rows.first_versions,
        &key_rows.last_versions,
        &key_rows.first_positions,
        &key_rows.last_positions,
        &at,
    ];
    // Delivered at commit to every node listening (`follow.rs`).
    let news: [&(dyn ToSql + Sync); 2] = [&crate::follow::CHANNEL, &head_text];
    let (events, keys, notified, entries) = tokio::join!(
        tx.execute(&insert_events, &event_columns),
        tx.execute(&insert_keys, &key_columns),
        tx.execute(&notify, &news),
        entries,
    );
    events?;
    keys?;
    notified?;
    for entry in entries {
        entry?;
    }

    // 6. The commit.
    tx.commit().await?;
    store.head.advance(Position::new(head as u64));
    for (index, outcome) in outcomes {
        settled[index] = Some(Ok(outcome));
    }
    Ok(settled)
}

/// The columns of the events a batch writes.
#[derive(Default)]
struct EventRows<'a> {
    positions: Vec<i64>,
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
    first_positions: Vec<i64>,
    last_positions: Vec<i64>,
}
