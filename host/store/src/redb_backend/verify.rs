//! [`RedbStore::verify`]: the offline check of a store's file, for `cairn verify`.
//!
//! It opens the file read-only (a file that was not closed cleanly needs redb's recovery first,
//! which only a writable open runs; then it opens it as the store would), and reads every row of
//! every table, each table in its own read transaction:
//!
//! - `events`: every record's checksum and layout, its texts, the log's positions `1..=head`
//!   without a gap, and each stream's versions rising by one along the log (invariant 3);
//! - `streams` and `stream_names`: each the other's inverse (invariant 1);
//! - `stream_appends`: each stream's rows covering `1..=v` in order, `v` being the last version
//!   the log holds for it, and the first and last record of each row being the events it names
//!   (invariants 2 and 3);
//! - `event_ids`: each id naming the event that carries it (invariant 4);
//! - `snapshots` and `model_entries`: every value's checksum and layout, and each entry's model
//!   (invariant 8);
//! - `modules`: each naming bytes that `module_blobs` holds (invariant 7);
//! - `command_log`: every entry's checksum and layout, and the first and last event an
//!   appended entry names being in its stream at those versions and positions (invariant 12);
//! - every other table is read through, so each of its pages is read.
//!
//! Each damaged record is reported, not only the first. redb reporting a corrupt page, or
//! panicking on one, ends the check of that table (the rest of it cannot be trusted to be
//! found) with one report, and the check goes on with the next table.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata};

use super::command_record;
use super::damage_seen::panic_message;
use super::record::{self, StoredEvent};
use super::store::{DATABASE_FILE, database_error, unless_panic};
use super::tables::{
    COMMAND_LOG, COMMANDS, EVENT_IDS, EVENTS, FORMAT, FORMAT_KEY, META, MODEL_ENTRIES, MODELS,
    MODULE_BLOBS, MODULE_STATES, MODULE_UPLOADS, MODULES, REMOVED_MODULES, SNAPSHOTS,
    STREAM_APPENDS, STREAM_NAMES, STREAMS, StreamAppend, append_holding,
};
use super::{OpenError, RedbStore};
use crate::command::{CommandId, Verdict};
use crate::error::{Damage, StoredRecord};
use crate::version::Position;

/// What [`RedbStore::verify`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// The database file.
    pub path: PathBuf,
    /// Its layout: 3, or 2 for a file no cairn of layout 3 has opened yet (its records have no
    /// checksums, so only their layout is checked).
    pub layout: u64,
    /// Events read from the log.
    pub events: u64,
    /// Streams named in `streams`.
    pub streams: u64,
    /// Snapshots read.
    pub snapshots: u64,
    /// Read model entries read.
    pub model_entries: u64,
    /// Command log entries read.
    pub commands: u64,
    /// Every damaged record found, in the order the check met them. Empty for a sound file.
    pub damage: Vec<Damage>,
}

impl VerifyReport {
    /// Whether nothing damaged was found.
    pub fn is_sound(&self) -> bool {
        self.damage.is_empty()
    }
}

impl RedbStore {
    /// Checks every record of the store in `data_dir` without changing it (see `verify.rs` for
    /// what is checked) and reports every damaged one. The store must not be open: redb's lock
    /// refuses a second open with [`OpenError::InUse`]. A file whose structure is too damaged
    /// to open is [`OpenError::Damaged`].
    pub async fn verify(data_dir: impl AsRef<Path>) -> Result<VerifyReport, OpenError> {
        let path = data_dir.as_ref().join(DATABASE_FILE);
        tokio::task::spawn_blocking(move || verify_file(&path))
            .await
            .map_err(|e| OpenError::Thread(std::io::Error::other(e)))?
    }
}

fn verify_file(path: &Path) -> Result<VerifyReport, OpenError> {
    if !path.is_file() {
        return Err(database_error(
            path,
            redb::DatabaseError::Storage(redb::StorageError::Io(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such file",
            ))),
        ));
    }
    unless_panic(path, || match Database::builder().open_read_only(path) {
        Ok(db) => check(&db, path),
        Err(redb::DatabaseError::RepairAborted) => {
            // Not closed cleanly: redb's recovery runs on a writable open, as it would when the
            // store opens it.
            let db = Database::builder()
                .open(path)
                .map_err(|source| database_error(path, source))?;
            check(&db, path)
        }
        Err(source) => Err(database_error(path, source)),
    })
}

fn check(db: &impl ReadableDatabase, path: &Path) -> Result<VerifyReport, OpenError> {
    let layout = layout_of(db).map_err(|reason| OpenError::Damaged {
        path: path.to_path_buf(),
        reason,
    })?;
    if layout != FORMAT && layout != 2 {
        return Err(OpenError::UnknownFormat {
            path: path.to_path_buf(),
            found: layout,
        });
    }
    let mut walk = Walk {
        report: VerifyReport {
            path: path.to_path_buf(),
            layout,
            ..VerifyReport::default()
        },
        stream_versions: HashMap::new(),
        undecoded: 0,
    };
    walk.table(db, "events", Walk::events);
    walk.table(db, "streams", Walk::streams);
    walk.table(db, "stream_appends", Walk::stream_appends);
    walk.table(db, "event_ids", Walk::event_ids);
    walk.table(db, "snapshots", Walk::snapshots);
    walk.table(db, "model_entries", Walk::model_entries);
    walk.table(db, "modules", Walk::modules);
    walk.table(db, "command_log", Walk::command_log);
    walk.table(
        db,
        "commands, module_states, removed_modules, meta",
        Walk::read_through,
    );
    Ok(walk.report)
}

/// The file's layout; `Err` when it names none.
fn layout_of(db: &impl ReadableDatabase) -> Result<u64, String> {
    let read = || -> Result<Option<u64>, redb::Error> {
        let txn = db.begin_read()?;
        let meta = txn.open_table(META)?;
        Ok(meta.get(FORMAT_KEY)?.map(|v| v.value()))
    };
    match read() {
        Ok(Some(layout)) => Ok(layout),
        Ok(None) | Err(redb::Error::TableDoesNotExist(_)) => {
            Err("it names no layout: it is not a cairn store".to_owned())
        }
        Err(error) => Err(format!("its layout cannot be read: {error}")),
    }
}

/// The check in progress.
struct Walk {
    report: VerifyReport,
    /// The last version the log holds of each stream, by stream id.
    stream_versions: HashMap<u64, u64>,
    /// Records of the log that did not decode: their streams are unknown, so a stream that
    /// seems to skip versions may have them there.
    undecoded: u64,
}

impl Walk {
    fn damage(&mut self, record: StoredRecord, reason: impl Into<String>) {
        self.report.damage.push(Damage {
            record,
            reason: reason.into(),
        });
    }

    fn row(&mut self, table: &'static str, key: impl std::fmt::Display, reason: impl Into<String>) {
        self.damage(
            StoredRecord::Row {
                table,
                key: key.to_string(),
            },
            reason,
        );
    }

    /// Runs `check` in a read transaction of its own; a redb error or a panic ends it with one
    /// report.
    fn table(
        &mut self,
        db: &impl ReadableDatabase,
        name: &str,
        check: fn(&mut Self, &ReadTransaction) -> Result<(), redb::Error>,
    ) {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let txn = db.begin_read()?;
            check(self, &txn)
        }));
        let reason = match outcome {
            Ok(Ok(())) => return,
            Ok(Err(redb::Error::TableDoesNotExist(_))) => return,
            Ok(Err(error)) => format!("reading {name} failed: {error}"),
            Err(payload) => format!(
                "reading {name} panicked: {}",
                panic_message(payload.as_ref())
            ),
        };
        self.damage(StoredRecord::File, reason);
    }

    /// Decodes the record at `position` as this layout stores it.
    fn decode<'a>(&self, bytes: &'a [u8], position: u64) -> Result<StoredEvent<'a>, Damage> {
        let position = Position::new(position);
        if self.report.layout == FORMAT {
            record::decode_event(bytes, position)
        } else {
            record::decode_layout_2_event(bytes, position).map_err(|e| Damage::event(position, e.0))
        }
    }

    fn events(&mut self, txn: &ReadTransaction) -> Result<(), redb::Error> {
        let events = txn.open_table(EVENTS)?;
        let mut expected = 1;
        for row in events.iter()? {
            let (key, value) = row?;
            let position = key.value();
            if position != expected {
                self.row(
                    "events",
                    format!("{expected}..={}", position.saturating_sub(1)),
                    "these positions are missing from the log",
                );
            }
            expected = position.saturating_add(1);
            self.report.events += 1;
            let stored = match self.decode(value.value(), position) {
                Ok(stored) => stored,
                Err(damage) => {
                    self.report.damage.push(damage);
                    self.undecoded += 1;
                    continue;
                }
            };
            if let Err(e) = record::check_texts(&stored) {
                self.damage(
                    StoredRecord::Event {
                        position: Position::new(position),
                    },
                    e.0,
                );
            }
            let (stream_id, version) = (stored.place.stream_id, stored.place.version);
            let last = self.stream_versions.entry(stream_id).or_insert(0);
            let after = *last;
            *last = after.max(version);
            let skipped = version > after + 1;
            if version <= after || (skipped && self.undecoded == 0) {
                self.damage(
                    StoredRecord::Event {
                        position: Position::new(position),
                    },
                    format!(
                        "it is version {version} of stream {stream_id}, but the log's last \
                         version of that stream before it is {after}"
                    ),
                );
            }
        }
        Ok(())
    }

    fn streams(&mut self, txn: &ReadTransaction) -> Result<(), redb::Error> {
        let streams = txn.open_table(STREAMS)?;
        let names = txn.open_table(STREAM_NAMES)?;
        for row in streams.iter()? {
            let (name, id) = row?;
            let (name, id) = (name.value(), id.value());
            self.report.streams += 1;
            let back = names.get(id)?.map(|n| n.value().to_owned());
            if back.as_deref() != Some(name) {
                self.row(
                    "streams",
                    name,
                    format!("it names stream id {id}, whose name is {back:?}"),
                );
            }
        }
        for row in names.iter()? {
            let (id, name) = row?;
            let (id, name) = (id.value(), name.value());
            let back = streams.get(name)?.map(|i| i.value());
            if back != Some(id) {
                self.row(
                    "stream_names",
                    id,
                    format!("it names '{name}', whose id is {back:?}"),
                );
            }
        }
        Ok(())
    }

    fn stream_appends(&mut self, txn: &ReadTransaction) -> Result<(), redb::Error> {
        let appends = txn.open_table(STREAM_APPENDS)?;
        let events = txn.open_table(EVENTS)?;
        // The stream whose rows are being read, and the version its next row must start at.
        let mut current: Option<(u64, u64)> = None;
        let mut indexed = HashSet::new();
        for row in appends.iter()? {
            let row = row?;
            let stream_id = row.0.value().0;
            let append = StreamAppend::from_row(row);
            let key = format!("({stream_id}, {})", append.first_version);
            let next = match current {
                Some((id, next)) if id == stream_id => next,
                _ => {
                    if let Some((id, next)) = current {
                        self.stream_end(id, next - 1);
                    }
                    indexed.insert(stream_id);
                    1
                }
            };
            if append.count == 0 {
                self.row("stream_appends", &key, "it holds no events");
            }
            if append.first_version != next {
                self.row(
                    "stream_appends",
                    &key,
                    format!("the stream's previous row ends at version {}", next - 1),
                );
            }
            current = Some((stream_id, append.first_version.saturating_add(append.count)));
            if append.count == 0 {
                continue;
            }
            let last_position = append.first_position.saturating_add(append.count - 1);
            for (version, position) in [
                (append.first_version, append.first_position),
                (append.last_version(), last_position),
            ] {
                let Some(value) = events.get(position)? else {
                    self.row(
                        "stream_appends",
                        &key,
                        format!("version {version} is at position {position}, which is empty"),
                    );
                    continue;
                };
                // A record that does not decode is reported by the check of `events`.
                if let Ok(stored) = self.decode(value.value(), position)
                    && (stored.place.stream_id, stored.place.version) != (stream_id, version)
                {
                    self.row(
                        "stream_appends",
                        &key,
                        format!(
                            "version {version} is at position {position}, which holds version \
                             {} of stream {}",
                            stored.place.version, stored.place.stream_id
                        ),
                    );
                }
            }
        }
        if let Some((id, next)) = current {
            self.stream_end(id, next - 1);
        }
        let unindexed: Vec<u64> = self
            .stream_versions
            .keys()
            .filter(|id| !indexed.contains(*id))
            .copied()
            .collect();
        for id in unindexed {
            self.row(
                "stream_appends",
                format!("({id}, _)"),
                "the log holds events of this stream, but its index has no row",
            );
        }
        Ok(())
    }

    /// Compares where stream `id`'s index ends with where the log's events of it end (the last
    /// events may be among those that did not decode).
    fn stream_end(&mut self, id: u64, indexed: u64) {
        let logged = self.stream_versions.get(&id).copied().unwrap_or(0);
        if logged > indexed || (logged < indexed && self.undecoded == 0) {
            self.row(
                "stream_appends",
                format!("({id}, _)"),
                format!("the index ends at version {indexed}, the log at version {logged}"),
            );
        }
    }

    fn event_ids(&mut self, txn: &ReadTransaction) -> Result<(), redb::Error> {
        let ids = txn.open_table(EVENT_IDS)?;
        let appends = txn.open_table(STREAM_APPENDS)?;
        let events = txn.open_table(EVENTS)?;
        for row in ids.iter()? {
            let (id, place) = row?;
            let (id, (stream_id, version)) = (id.value(), place.value());
            let key = uuid::Uuid::from_u128(id);
            let position = append_holding(&appends, stream_id, version)?
                .and_then(|append| append.position_of(version));
            let Some(position) = position else {
                self.row(
                    "event_ids",
                    key,
                    format!("it names event {stream_id}/{version}, which the index lacks"),
                );
                continue;
            };
            let Some(value) = events.get(position)? else {
                continue; // Reported by the check of `stream_appends`.
            };
            if let Ok(stored) = self.decode(value.value(), position)
                && stored.id.as_uuid().as_u128() != id
            {
                self.row(
                    "event_ids",
                    key,
                    format!(
                        "it names event {stream_id}/{version}, at position {position}, whose id \
                         is {}",
                        stored.id
                    ),
                );
            }
        }
        let (count, events) = (ids.len()?, self.report.events);
        if count != events {
            self.row(
                "event_ids",
                "*",
                format!("it holds {count} ids for {events} events"),
            );
        }
        Ok(())
    }

    fn snapshots(&mut self, txn: &ReadTransaction) -> Result<(), redb::Error> {
        let snapshots = txn.open_table(SNAPSHOTS)?;
        for row in snapshots.iter()? {
            let (key, value) = row?;
            self.report.snapshots += 1;
            let decoded = if self.report.layout == FORMAT {
                record::decode_snapshot(value.value())
            } else {
                record::decode_layout_2_snapshot(value.value())
            };
            if let Err(e) = decoded {
                let (stream, key) = key.value();
                self.damage(
                    StoredRecord::Snapshot {
                        stream: stream.to_owned(),
                        key: key.to_owned(),
                    },
                    e.0,
                );
            }
        }
        Ok(())
    }

    fn model_entries(&mut self, txn: &ReadTransaction) -> Result<(), redb::Error> {
        let mut models = HashMap::new();
        for row in txn.open_table(MODELS)?.iter()? {
            let (name, value) = row?;
            models.insert(value.value().0, name.value().to_owned());
        }
        let entries = txn.open_table(MODEL_ENTRIES)?;
        for row in entries.iter()? {
            let (key, value) = row?;
            let (id, key) = key.value();
            self.report.model_entries += 1;
            let model = models.get(&id).cloned();
            let record = StoredRecord::ModelEntry {
                model: model.clone().unwrap_or_else(|| format!("#{id}")),
                key: key.to_vec(),
            };
            if model.is_none() {
                self.damage(record.clone(), format!("no read model has id {id}"));
            }
            if self.report.layout == FORMAT
                && let Err(e) = record::open_value(value.value())
            {
                self.damage(record, e.0);
            }
        }
        Ok(())
    }

    fn modules(&mut self, txn: &ReadTransaction) -> Result<(), redb::Error> {
        let blobs = txn.open_table(MODULE_BLOBS)?;
        for row in txn.open_table(MODULES)?.iter()? {
            let (key, value) = row?;
            let ((name, version), (_, hash)) = (key.value(), value.value());
            if blobs.get(hash)?.is_none() {
                self.row(
                    "modules",
                    format!("({name}, {version})"),
                    format!("its bytes ({hash}) are missing from module_blobs"),
                );
            }
        }
        for row in blobs.iter()? {
            row?;
        }
        let uploads = match txn.open_table(MODULE_UPLOADS) {
            Ok(uploads) => uploads,
            // A file written before upload times were recorded.
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let modules = txn.open_table(MODULES)?;
        for row in uploads.iter()? {
            let (key, _) = row?;
            let (name, version) = key.value();
            if modules.get((name, version))?.is_none() {
                self.row(
                    "module_uploads",
                    format!("({name}, {version})"),
                    "it stamps a version that modules lacks".to_owned(),
                );
            }
        }
        Ok(())
    }

    fn command_log(&mut self, txn: &ReadTransaction) -> Result<(), redb::Error> {
        let log = match txn.open_table(COMMAND_LOG) {
            Ok(log) => log,
            // A file written before the command log.
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let streams = txn.open_table(STREAMS)?;
        let appends = txn.open_table(STREAM_APPENDS)?;
        let events = txn.open_table(EVENTS)?;
        for row in log.iter()? {
            let (key, value) = row?;
            self.report.commands += 1;
            let id = CommandId::from(uuid::Uuid::from_u128(key.value()));
            let entry = match command_record::decode(id, value.value()) {
                Ok(entry) => entry,
                Err(damage) => {
                    self.report.damage.push(damage);
                    continue;
                }
            };
            let Verdict::Appended {
                first_version,
                last_version,
                first_position,
                last_position,
            } = entry.verdict
            else {
                continue;
            };
            let stream = entry.command.stream.as_str();
            let Some(stream_id) = streams.get(stream)?.map(|row| row.value()) else {
                self.damage(
                    StoredRecord::Command { id },
                    format!("it names stream '{stream}', which the store lacks"),
                );
                continue;
            };
            for (version, position) in [
                (first_version.get(), first_position.get()),
                (last_version.get(), last_position.get()),
            ] {
                let found = append_holding(&appends, stream_id, version)?
                    .and_then(|append| append.position_of(version));
                if found != Some(position) || events.get(position)?.is_none() {
                    self.damage(
                        StoredRecord::Command { id },
                        format!(
                            "it names version {version} of '{stream}' at position {position}, \
                             which the log does not hold there"
                        ),
                    );
                }
            }
        }
        Ok(())
    }

    /// Reads every row of the tables nothing else checks, so their pages are read.
    fn read_through(&mut self, txn: &ReadTransaction) -> Result<(), redb::Error> {
        for row in txn.open_table(COMMANDS)?.iter()? {
            row?;
        }
        for row in txn.open_table(MODULE_STATES)?.iter()? {
            row?;
        }
        match txn.open_table(REMOVED_MODULES) {
            Ok(table) => {
                for row in table.iter()? {
                    row?;
                }
            }
            // A file no module was removed from by a release that knew of removal.
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(e.into()),
        }
        for row in txn.open_table(META)?.iter()? {
            row?;
        }
        Ok(())
    }
}
