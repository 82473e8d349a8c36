//! [`cairn_store::CommandLog`] on [`PostgresStore`]: one `commands` row per command id
//! (invariant 6 of `schema.rs`). A command's appended entry is written by its append, in the
//! append's transaction (`append.rs`); an entry of a command that appended nothing is written
//! here, unless its id has appended already.

use cairn_store::{
    AppendError, AppendOutcome, CommandEntry, CommandId, CommandLog, CommandType, ExpectedVersion,
    IdempotencyKey, Json, LoggedCommand, ModuleHash, ModuleName, NewEvent, NothingAppended,
    Position, ReadError, StorageError, StreamId, Timestamp, Verdict, Version,
};
use tokio_postgres::{GenericClient, Row, Statement};

use crate::append::storage;
use crate::store::PostgresStore;

pub(crate) const COLUMNS: &str = "id, command_type, data, idempotency_key, time, aggregate, stream, \
                       decided_at, module_hash, verdict, message, first_version, last_version, \
                       first_position, last_position";

/// How an entry is written over one of the same id: in full, unless that one appended (an
/// appended entry never changes, invariant 6 of `schema.rs`).
const OVER_UNAPPENDED: &str = "ON CONFLICT (id) DO UPDATE SET command_type = excluded.command_type, \
     data = excluded.data, idempotency_key = excluded.idempotency_key, time = excluded.time, \
     aggregate = excluded.aggregate, stream = excluded.stream, \
     decided_at = excluded.decided_at, module_hash = excluded.module_hash, \
     verdict = excluded.verdict, message = excluded.message, \
     first_version = excluded.first_version, last_version = excluded.last_version, \
     first_position = excluded.first_position, last_position = excluded.last_position \
     WHERE commands.verdict <> 'appended'";

fn corrupt(what: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(format!("a command log entry does not read: {what}"))
}

fn int(value: u64) -> Result<i64, StorageError> {
    i64::try_from(value).map_err(storage)
}

/// Writes `command`'s entry with `verdict`, only over an entry that did not append. False when
/// an appended entry holds the id (for an appended verdict, one another transaction committed
/// after its append checked: the append must then roll back).
pub(crate) async fn write_entry(
    client: &impl GenericClient,
    command: &LoggedCommand,
    verdict: &Verdict,
) -> Result<bool, StorageError> {
    let (name, message, places) = match verdict {
        Verdict::Appended {
            first_version,
            last_version,
            first_position,
            last_position,
        } => (
            "appended",
            None,
            Some([
                int(first_version.get())?,
                int(last_version.get())?,
                int(first_position.get())?,
                int(last_position.get())?,
            ]),
        ),
        Verdict::NothingAppended(NothingAppended::Unchanged) => ("unchanged", None, None),
        Verdict::NothingAppended(NothingAppended::Rejected { message }) => {
            ("rejected", Some(message.as_str()), None)
        }
        Verdict::NothingAppended(NothingAppended::Invalid { message }) => {
            ("invalid", Some(message.as_str()), None)
        }
    };
    let place = |i: usize| places.map(|p| p[i]);
    client
        .execute(
            &format!(
                "INSERT INTO commands ({COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
                 {OVER_UNAPPENDED}"
            ),
            &[
                &command.id.as_uuid(),
                &command.command_type.as_str(),
                &command.data.as_str(),
                &command.idempotency_key.as_ref().map(IdempotencyKey::as_str),
                &int(command.time.as_millis())?,
                &command.aggregate.as_str(),
                &command.stream.as_str(),
                &int(command.decided_at.get())?,
                &command.module_hash.as_str(),
                &name,
                &message,
                &place(0),
                &place(1),
                &place(2),
                &place(3),
            ],
        )
        .await
        .map_err(storage)
        .map(|written| written == 1)
}

/// The appended entries of a batch's commands, as columns, written in one statement with
/// their positions counted back from the log head the batch has moved (`batch.rs`): an
/// entry's positions are `head - total + ordinal`, its events' places in the batch numbered
/// from 1. Each is written over an entry that did not append, as [`write_entry`] writes; an
/// appended entry of the same id, committed by another transaction since the batch checked,
/// fails the statement, and with it the batch.
#[derive(Default)]
pub(crate) struct AppendedEntries<'a> {
    ids: Vec<uuid::Uuid>,
    types: Vec<&'a str>,
    data: Vec<&'a str>,
    keys: Vec<Option<&'a str>>,
    times: Vec<i64>,
    aggregates: Vec<&'a str>,
    streams: Vec<&'a str>,
    decided_at: Vec<i64>,
    hashes: Vec<&'a str>,
    first_versions: Vec<i64>,
    last_versions: Vec<i64>,
    first_ordinals: Vec<i64>,
    last_ordinals: Vec<i64>,
}

impl<'a> AppendedEntries<'a> {
    /// Adds `command`'s entry: it appended `versions` (first, last) at the batch's
    /// `ordinals` (first, last).
    pub(crate) fn push(
        &mut self,
        command: &'a LoggedCommand,
        versions: [i64; 2],
        ordinals: [i64; 2],
    ) -> Result<(), StorageError> {
        self.ids.push(command.id.as_uuid());
        self.types.push(command.command_type.as_str());
        self.data.push(command.data.as_str());
        self.keys
            .push(command.idempotency_key.as_ref().map(IdempotencyKey::as_str));
        self.times.push(int(command.time.as_millis())?);
        self.aggregates.push(command.aggregate.as_str());
        self.streams.push(command.stream.as_str());
        self.decided_at.push(int(command.decided_at.get())?);
        self.hashes.push(command.module_hash.as_str());
        self.first_versions.push(versions[0]);
        self.last_versions.push(versions[1]);
        self.first_ordinals.push(ordinals[0]);
        self.last_ordinals.push(ordinals[1]);
        Ok(())
    }

    /// The statement that writes the entries, prepared (before the batch's last flight, whose
    /// statements must be sent in order). It answers one row; when an entry was not written
    /// (another transaction's appended entry holds its id) it fails by dividing by zero, the
    /// one way plain SQL has to fail a statement on what it found, so the transaction rolls
    /// back.
    pub(crate) async fn prepare(
        client: &deadpool_postgres::Object,
    ) -> Result<Statement, tokio_postgres::Error> {
        client
            .prepare_cached(&format!(
                "WITH w AS (INSERT INTO commands ({COLUMNS}) \
                 SELECT i, ct, d, k, t, a, s, da, mh, 'appended', NULL, fv, lv, \
                 h.position - $14 + fo, h.position - $14 + lo \
                 FROM log_head h, unnest($1::uuid[], $2::text[], $3::text[], $4::text[], \
                 $5::bigint[], $6::text[], $7::text[], $8::bigint[], $9::text[], $10::bigint[], \
                 $11::bigint[], $12::bigint[], $13::bigint[]) \
                 AS u(i, ct, d, k, t, a, s, da, mh, fv, lv, fo, lo) \
                 {OVER_UNAPPENDED} RETURNING 1) \
                 SELECT 1 / (CASE WHEN count(*) = $15 THEN 1 ELSE 0 END) FROM w"
            ))
            .await
    }

    /// Writes the entries with `statement` (from [`Self::prepare`]), in the transaction of
    /// `client` after the head was moved on by `total` events. Sends nothing when there are
    /// none.
    pub(crate) async fn write(
        &self,
        client: &deadpool_postgres::Object,
        statement: &Statement,
        total: i64,
    ) -> Result<u64, tokio_postgres::Error> {
        if self.ids.is_empty() {
            return Ok(0);
        }
        let entries = i64::try_from(self.ids.len()).unwrap_or(i64::MAX);
        client
            .execute(
                statement,
                &[
                    &self.ids,
                    &self.types,
                    &self.data,
                    &self.keys,
                    &self.times,
                    &self.aggregates,
                    &self.streams,
                    &self.decided_at,
                    &self.hashes,
                    &self.first_versions,
                    &self.last_versions,
                    &self.first_ordinals,
                    &self.last_ordinals,
                    &total,
                    &entries,
                ],
            )
            .await
    }
}

/// Whether command `id` has an entry that appended events.
pub(crate) async fn has_appended(
    client: &impl GenericClient,
    id: CommandId,
) -> Result<bool, StorageError> {
    Ok(client
        .query_opt(
            "SELECT 1 FROM commands WHERE id = $1 AND verdict = 'appended'",
            &[&id.as_uuid()],
        )
        .await
        .map_err(storage)?
        .is_some())
}

/// A `commands` row as an entry.
pub(crate) fn entry_of(row: &Row) -> Result<CommandEntry, StorageError> {
    let version = |i: usize| -> Result<Version, StorageError> {
        let value: Option<i64> = row.get(i);
        Ok(Version::new(
            u64::try_from(value.ok_or_else(|| corrupt("an appended entry names no versions"))?)
                .map_err(corrupt)?,
        ))
    };
    let message = || -> String { row.get::<_, Option<String>>(10).unwrap_or_default() };
    let verdict = match row.get::<_, &str>(9) {
        "appended" => Verdict::Appended {
            first_version: version(11)?,
            last_version: version(12)?,
            first_position: Position::new(version(13)?.get()),
            last_position: Position::new(version(14)?.get()),
        },
        "unchanged" => Verdict::NothingAppended(NothingAppended::Unchanged),
        "rejected" => Verdict::NothingAppended(NothingAppended::Rejected { message: message() }),
        "invalid" => Verdict::NothingAppended(NothingAppended::Invalid { message: message() }),
        other => return Err(corrupt(format!("verdict {other:?}"))),
    };
    let command = LoggedCommand {
        id: CommandId::from(row.get::<_, uuid::Uuid>(0)),
        command_type: CommandType::new(row.get::<_, &str>(1)).map_err(corrupt)?,
        data: Json::parse(row.get::<_, &str>(2)).map_err(corrupt)?,
        idempotency_key: row
            .get::<_, Option<&str>>(3)
            .map(IdempotencyKey::new)
            .transpose()
            .map_err(corrupt)?,
        time: Timestamp::from_millis(u64::try_from(row.get::<_, i64>(4)).map_err(corrupt)?),
        aggregate: ModuleName::new(row.get::<_, &str>(5)).map_err(corrupt)?,
        stream: StreamId::new(row.get::<_, &str>(6)).map_err(corrupt)?,
        decided_at: Version::new(u64::try_from(row.get::<_, i64>(7)).map_err(corrupt)?),
        module_hash: ModuleHash::parse(row.get::<_, &str>(8)).map_err(corrupt)?,
    };
    Ok(CommandEntry { command, verdict })
}

#[async_trait::async_trait]
impl CommandLog for PostgresStore {
    async fn append_command(
        &self,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        command: LoggedCommand,
    ) -> Result<AppendOutcome, AppendError> {
        self.append_for_command(expected, events, command).await
    }

    async fn record_command(
        &self,
        command: LoggedCommand,
        verdict: NothingAppended,
    ) -> Result<(), StorageError> {
        let client = self.pool.get().await.map_err(storage)?;
        // Over an appended entry nothing is written: what the command did stands.
        write_entry(&**client, &command, &Verdict::NothingAppended(verdict))
            .await
            .map(drop)
    }

    async fn command(&self, id: CommandId) -> Result<Option<CommandEntry>, ReadError> {
        let client = self.pool.get().await.map_err(storage)?;
        let row = client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM commands WHERE id = $1"),
                &[&id.as_uuid()],
            )
            .await
            .map_err(storage)?;
        Ok(row.as_ref().map(entry_of).transpose()?)
    }

    async fn read_commands(
        &self,
        after: Option<CommandId>,
        limit: usize,
    ) -> Result<Vec<CommandEntry>, ReadError> {
        let client = self.pool.get().await.map_err(storage)?;
        let after = after.map(|id| id.as_uuid());
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM commands WHERE $1::uuid IS NULL OR id > $1 \
                     ORDER BY id LIMIT $2"
                ),
                &[&after, &i64::try_from(limit).unwrap_or(i64::MAX)],
            )
            .await
            .map_err(storage)?;
        Ok(rows.iter().map(entry_of).collect::<Result<_, _>>()?)
    }
}
