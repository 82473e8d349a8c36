//! [`PostgresStore::import_image`]: a store's image (`cairn_store::ImagePart`) written into a
//! database whose tables are empty, for `cairn migrate`. Everything goes in one transaction,
//! committed only once the image's end has come: a failure, or an export that stopped, leaves
//! the database as it was.
//!
//! It keeps the invariants of `schema.rs`: the events are checked to hold positions `1..` and
//! each stream's versions `1..` with no gap (1, 2); `streams` and `log_head` are written from
//! them; each idempotency key takes its positions and time from the events it names (4), and a
//! key naming no such events is refused.

use std::collections::HashMap;

use cairn_store::{
    EventType, ImagePart, ImportError, ModuleName, ReadModelName, RecordedEvent, SnapshotKey,
    StorageError, StreamId,
};
use tokio::sync::mpsc::Receiver;
use tokio_postgres::Transaction;

use crate::append::storage;
use crate::follow::{CHANNEL, MODULES_CHANNEL};
use crate::store::PostgresStore;

fn int(value: u64) -> Result<i64, StorageError> {
    i64::try_from(value).map_err(storage)
}

fn out_of_order(why: impl Into<String>) -> ImportError {
    ImportError::OutOfOrder(why.into())
}

/// The tables an image fills: each must be empty before an import.
const TABLES: [&str; 11] = [
    "events",
    "streams",
    "append_keys",
    "snapshots",
    "commands",
    "modules",
    "module_blobs",
    "module_states",
    "removed_modules",
    "models",
    "model_rows",
];

impl PostgresStore {
    /// Writes the image `parts` brings into this database, which must hold nothing yet
    /// ([`ImportError::NotEmpty`]), and returns once it is committed. Nodes serving the
    /// database are told of the new head and modules.
    pub async fn import_image(&self, mut parts: Receiver<ImagePart>) -> Result<(), ImportError> {
        let mut client = self.pool.get().await.map_err(storage)?;
        let tx = client.transaction().await.map_err(storage)?;
        // Nodes serving the database would write into the copy, or change it before it is
        // read back: refuse while one runs the runners, and lock every table to commit.
        let serving = tx
            .query_opt(
                "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted \
                 AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $1",
                &[&crate::lease::LEASE_LOCK],
            )
            .await
            .map_err(storage)?;
        if serving.is_some() {
            return Err(ImportError::NotEmpty(
                "cairn nodes are serving this database (one holds the runner lease): stop them \
                 before importing into it"
                    .into(),
            ));
        }
        tx.batch_execute(&format!(
            "LOCK TABLE {} IN EXCLUSIVE MODE",
            TABLES.join(", ")
        ))
        .await
        .map_err(storage)?;
        // Held to commit: no append can start meanwhile (invariant 1 of `schema.rs`).
        let head: i64 = tx
            .query_one("SELECT position FROM log_head FOR UPDATE", &[])
            .await
            .map_err(storage)?
            .get(0);
        let mut holding = Vec::new();
        for table in TABLES {
            let found = tx
                .query_opt(&format!("SELECT 1 FROM {table} LIMIT 1"), &[])
                .await
                .map_err(storage)?;
            if found.is_some() {
                holding.push(table);
            }
        }
        if head != 0 || !holding.is_empty() {
            return Err(ImportError::NotEmpty(format!(
                "the database holds rows in {} (log head {head}); import into an empty database",
                holding.join(", ")
            )));
        }
        let mut filling = Filling {
            tx: &tx,
            streams: HashMap::new(),
            head: 0,
            past_events: false,
        };
        loop {
            match parts.recv().await {
                Some(ImagePart::End) => break,
                Some(part) => filling.add(part).await?,
                None => return Err(ImportError::Cut),
            }
        }
        filling.close_events().await?;
        let head = int(filling.head)?;
        tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &head.to_string()])
            .await
            .map_err(storage)?;
        tx.execute("SELECT pg_notify($1, '')", &[&MODULES_CHANNEL])
            .await
            .map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        Ok(())
    }
}

/// An import under way.
struct Filling<'a> {
    tx: &'a Transaction<'a>,
    /// Stream name -> version so far.
    streams: HashMap<String, u64>,
    head: u64,
    /// Whether the events are over and `streams` and `log_head` written.
    past_events: bool,
}

impl Filling<'_> {
    async fn add(&mut self, part: ImagePart) -> Result<(), ImportError> {
        check_names(&part)?;
        if let ImagePart::Events(events) = part {
            if self.past_events {
                return Err(out_of_order("events came after other parts"));
            }
            return self.events(events).await;
        }
        self.close_events().await?;
        let tx = self.tx;
        match part {
            ImagePart::Events(_) | ImagePart::End => {}
            ImagePart::AppendKeys(keys) => {
                let mut streams = Vec::with_capacity(keys.len());
                let (mut names, mut firsts, mut lasts) = (Vec::new(), Vec::new(), Vec::new());
                for key in &keys {
                    streams.push(key.stream.as_str());
                    names.push(key.key.as_str());
                    firsts.push(int(key.first_version.get())?);
                    lasts.push(int(key.last_version.get())?);
                }
                let written = tx
                    .execute(
                        "INSERT INTO append_keys (stream, key, first_version, last_version, \
                         first_position, last_position, recorded_at) \
                         SELECT u.s, u.k, u.f, u.l, f.position, l.position, f.recorded_at \
                         FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) \
                         AS u(s, k, f, l) \
                         JOIN events f ON f.stream = u.s AND f.version = u.f \
                         JOIN events l ON l.stream = u.s AND l.version = u.l",
                        &[&streams, &names, &firsts, &lasts],
                    )
                    .await
                    .map_err(storage)?;
                if written != keys.len() as u64 {
                    return Err(out_of_order(
                        "an idempotency key names versions its stream does not have",
                    ));
                }
            }
            ImagePart::Commands(entries) => {
                let writes = entries.iter().map(|entry| {
                    crate::command_log::write_entry(tx, &entry.command, &entry.verdict)
                });
                futures_util::future::try_join_all(writes).await?;
            }
            ImagePart::Snapshots(snapshots) => {
                let (mut streams, mut keys, mut versions, mut states) =
                    (Vec::new(), Vec::new(), Vec::new(), Vec::new());
                for kept in &snapshots {
                    streams.push(kept.stream.as_str());
                    keys.push(kept.key.as_str());
                    versions.push(int(kept.snapshot.version.get())?);
                    states.push(kept.snapshot.state.as_slice());
                }
                tx.execute(
                    "INSERT INTO snapshots (stream, key, version, state) \
                     SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[])",
                    &[&streams, &keys, &versions, &states],
                )
                .await
                .map_err(storage)?;
            }
            ImagePart::Modules(modules) => {
                let (mut names, mut versions, mut kinds, mut hashes, mut uploaded) =
                    (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
                for kept in &modules {
                    names.push(kept.record.name.as_str());
                    versions.push(int(kept.record.version)?);
                    kinds.push(kept.record.kind.as_str());
                    hashes.push(kept.record.hash.as_str());
                    uploaded.push(kept.uploaded_at.map(|at| int(at.as_millis())).transpose()?);
                }
                tx.execute(
                    "INSERT INTO modules (name, version, kind, hash, uploaded_at) \
                     SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], \
                     $5::bigint[])",
                    &[&names, &versions, &kinds, &hashes, &uploaded],
                )
                .await
                .map_err(storage)?;
            }
            ImagePart::ModuleBlob { hash, bytes } => {
                tx.execute(
                    "INSERT INTO module_blobs (hash, bytes) VALUES ($1, $2)",
                    &[&hash.as_str(), &bytes],
                )
                .await
                .map_err(storage)?;
            }
            ImagePart::ModuleStates(states) => {
                let names: Vec<&str> = states.iter().map(|(name, _)| name.as_str()).collect();
                let values: Vec<&[u8]> = states.iter().map(|(_, state)| &state[..]).collect();
                tx.execute(
                    "INSERT INTO module_states (name, state) \
                     SELECT * FROM unnest($1::text[], $2::bytea[])",
                    &[&names, &values],
                )
                .await
                .map_err(storage)?;
            }
            ImagePart::RemovedModules(removed) => {
                let names: Vec<&str> = removed.iter().map(|(name, _)| name.as_str()).collect();
                let versions = removed
                    .iter()
                    .map(|(_, version)| int(*version))
                    .collect::<Result<Vec<_>, _>>()?;
                tx.execute(
                    "INSERT INTO removed_modules (name, version) \
                     SELECT * FROM unnest($1::text[], $2::bigint[])",
                    &[&names, &versions],
                )
                .await
                .map_err(storage)?;
            }
            ImagePart::Model { name, checkpoint } => {
                tx.execute(
                    "INSERT INTO models (name, checkpoint) VALUES ($1, $2)",
                    &[&name.as_str(), &int(checkpoint.get())?],
                )
                .await
                .map_err(storage)?;
            }
            ImagePart::ModelRows { name, rows } => {
                let keys: Vec<&[u8]> = rows.iter().map(|(key, _)| &key[..]).collect();
                let values: Vec<&[u8]> = rows.iter().map(|(_, value)| &value[..]).collect();
                let written = tx
                    .execute(
                        "INSERT INTO model_rows (model, key, value) \
                         SELECT $1, u.k, u.v FROM unnest($2::bytea[], $3::bytea[]) AS u(k, v) \
                         WHERE EXISTS (SELECT 1 FROM models WHERE name = $1)",
                        &[&name.as_str(), &keys, &values],
                    )
                    .await
                    .map_err(storage)?;
                if written != rows.len() as u64 {
                    return Err(out_of_order(format!(
                        "rows of read model {name} came before it"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Writes `events` at the next positions, checked against invariants 1 and 2.
    async fn events(&mut self, events: Vec<RecordedEvent>) -> Result<(), ImportError> {
        let mut columns = EventColumns::default();
        for event in &events {
            if event.position.get() != self.head + 1 {
                return Err(out_of_order(format!(
                    "event at position {} where {} was next",
                    event.position,
                    self.head + 1
                )));
            }
            let version = self
                .streams
                .entry(event.stream.as_str().to_owned())
                .or_insert(0);
            if event.version.get() != *version + 1 {
                return Err(out_of_order(format!(
                    "event {} of stream {} where version {} was next",
                    event.version,
                    event.stream,
                    *version + 1
                )));
            }
            *version += 1;
            self.head += 1;
            columns.push(event)?;
        }
        let e = &columns;
        self.tx
            .execute(
                "INSERT INTO events (position, id, stream, version, event_type, data, metadata, \
                 recorded_at) \
                 SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], \
                 $5::text[], $6::text[], $7::text[], $8::bigint[])",
                &[
                    &e.positions,
                    &e.ids,
                    &e.streams,
                    &e.versions,
                    &e.types,
                    &e.data,
                    &e.metadata,
                    &e.recorded_at,
                ],
            )
            .await
            .map_err(storage)?;
        Ok(())
    }

    /// Once the events are over: each stream's row, and the head.
    async fn close_events(&mut self) -> Result<(), ImportError> {
        if self.past_events {
            return Ok(());
        }
        self.past_events = true;
        let names: Vec<&str> = self.streams.keys().map(String::as_str).collect();
        let versions = self
            .streams
            .values()
            .map(|version| int(*version))
            .collect::<Result<Vec<_>, _>>()?;
        self.tx
            .execute(
                "INSERT INTO streams (name, version) \
                 SELECT * FROM unnest($1::text[], $2::bigint[])",
                &[&names, &versions],
            )
            .await
            .map_err(storage)?;
        self.tx
            .execute("UPDATE log_head SET position = $1", &[&int(self.head)?])
            .await
            .map_err(storage)?;
        Ok(())
    }
}

/// Refuses a name this backend's readers would refuse (`StreamId::new` and the rest): the
/// embedded store keeps some that older releases allowed, and a copy holding them could not
/// be read back or served.
fn check_names(part: &ImagePart) -> Result<(), ImportError> {
    fn check<T, E: std::fmt::Display>(
        what: &str,
        name: &str,
        rule: impl Fn(&str) -> Result<T, E>,
    ) -> Result<(), ImportError> {
        rule(name).map(drop).map_err(|e| {
            ImportError::Unsupported(format!(
                "{what} {name:?} {e}; PostgreSQL's store takes only names of the current rule"
            ))
        })
    }
    match part {
        ImagePart::Events(events) => {
            for event in events {
                check("stream", event.stream.as_str(), StreamId::new)?;
                check("event type", event.event_type.as_str(), EventType::new)?;
            }
        }
        ImagePart::AppendKeys(keys) => {
            for key in keys {
                check("stream", key.stream.as_str(), StreamId::new)?;
            }
        }
        ImagePart::Commands(entries) => {
            for entry in entries {
                check("stream", entry.command.stream.as_str(), StreamId::new)?;
                check("module", entry.command.aggregate.as_str(), ModuleName::new)?;
            }
        }
        ImagePart::Snapshots(snapshots) => {
            for kept in snapshots {
                check("stream", kept.stream.as_str(), StreamId::new)?;
                check("snapshot key", kept.key.as_str(), SnapshotKey::new)?;
            }
        }
        ImagePart::Modules(modules) => {
            for kept in modules {
                check("module", kept.record.name.as_str(), ModuleName::new)?;
            }
        }
        ImagePart::ModuleStates(states) => {
            for (name, _) in states {
                check("module", name.as_str(), ModuleName::new)?;
            }
        }
        ImagePart::RemovedModules(removed) => {
            for (name, _) in removed {
                check("module", name.as_str(), ModuleName::new)?;
            }
        }
        ImagePart::Model { name, .. } | ImagePart::ModelRows { name, .. } => {
            check("read model", name.as_str(), ReadModelName::new)?;
        }
        ImagePart::ModuleBlob { .. } | ImagePart::End => {}
    }
    Ok(())
}

/// A part's events as one array per column.
#[derive(Default)]
struct EventColumns {
    positions: Vec<i64>,
    ids: Vec<uuid::Uuid>,
    streams: Vec<String>,
    versions: Vec<i64>,
    types: Vec<String>,
    data: Vec<String>,
    metadata: Vec<String>,
    recorded_at: Vec<i64>,
}

impl EventColumns {
    fn push(&mut self, event: &RecordedEvent) -> Result<(), StorageError> {
        self.positions.push(int(event.position.get())?);
        self.ids.push(event.id.as_uuid());
        self.streams.push(event.stream.as_str().to_owned());
        self.versions.push(int(event.version.get())?);
        self.types.push(event.event_type.as_str().to_owned());
        self.data.push(event.data.as_str().to_owned());
        self.metadata.push(event.metadata.as_str().to_owned());
        self.recorded_at.push(int(event.recorded_at.as_millis())?);
        Ok(())
    }
}
