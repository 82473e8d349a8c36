//! [`RedbStore::export_image`]: every table, read in one read transaction, sent as the parts of
//! an image (`image.rs`), the log first. Every record is decoded and its checksum checked on
//! the way, so a damaged record stops the export with the damage named.

use std::collections::HashMap;

use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable};
use tokio::sync::mpsc::Sender;

use super::reads::module_record;
use super::record::{self, PageBuilder};
use super::tables::{
    COMMAND_LOG, COMMANDS, EVENTS, MODEL_ENTRIES, MODELS, MODULE_BLOBS, MODULE_STATES,
    MODULE_UPLOADS, MODULES, REMOVED_MODULES, SNAPSHOTS, STREAM_NAMES,
};
use super::{RedbStore, backend, command_record};
use crate::append::IdempotencyKey;
use crate::command::CommandId;
use crate::error::StorageError;
use crate::event::Timestamp;
use crate::image::{IMAGE_PART_ITEMS, ImagePart, KeptAppendKey, KeptModule, KeptSnapshot};
use crate::module::{ModuleHash, ModuleName};
use crate::read_model::ReadModelName;
use crate::snapshot::SnapshotKey;
use crate::stream_id::StreamId;
use crate::version::{Position, Version};

impl RedbStore {
    /// Sends the store's whole content, as of one moment, to `parts` (see `image.rs` for the
    /// order). Writes may go on meanwhile; they are not part of the image. Fails with
    /// [`StorageError::Closed`] if the receiver goes away first.
    pub async fn export_image(&self, parts: Sender<ImagePart>) -> Result<(), StorageError> {
        self.blocking(move |db| export(db, &parts)).await
    }
}

fn export(db: &Database, parts: &Sender<ImagePart>) -> Result<(), StorageError> {
    let txn = db.begin_read().map_err(backend)?;
    let names = stream_names(&txn)?;
    let send = |part: ImagePart| parts.blocking_send(part).map_err(|_| StorageError::Closed);
    export_events(&txn, &names, &send)?;
    export_keys(&txn, &names, &send)?;
    export_commands(&txn, &send)?;
    export_snapshots(&txn, &send)?;
    export_modules(&txn, &send)?;
    export_models(&txn, &send)?;
    send(ImagePart::End)
}

fn corrupt(what: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(what.to_string())
}

/// Stream id -> name (invariant 1).
fn stream_names(txn: &ReadTransaction) -> Result<HashMap<u64, StreamId>, StorageError> {
    let table = txn.open_table(STREAM_NAMES).map_err(backend)?;
    let mut names = HashMap::new();
    for row in table.iter().map_err(backend)? {
        let (id, name) = row.map_err(backend)?;
        let name = StreamId::from_stored(name.value())
            .map_err(|e| corrupt(format!("stored stream name {e}")))?;
        names.insert(id.value(), name);
    }
    Ok(names)
}

fn name_of(names: &HashMap<u64, StreamId>, id: u64) -> Result<StreamId, StorageError> {
    names
        .get(&id)
        .cloned()
        .ok_or_else(|| corrupt(format!("the log names unknown stream {id}")))
}

/// Sends `items` in parts of [`IMAGE_PART_ITEMS`], each made by `part`.
struct Chunks<'a, T, F: Fn(Vec<T>) -> ImagePart> {
    items: Vec<T>,
    part: F,
    send: &'a dyn Fn(ImagePart) -> Result<(), StorageError>,
}

impl<'a, T, F: Fn(Vec<T>) -> ImagePart> Chunks<'a, T, F> {
    fn new(send: &'a dyn Fn(ImagePart) -> Result<(), StorageError>, part: F) -> Self {
        Self {
            items: Vec::new(),
            part,
            send,
        }
    }

    fn push(&mut self, item: T) -> Result<(), StorageError> {
        self.items.push(item);
        if self.items.len() >= IMAGE_PART_ITEMS {
            (self.send)((self.part)(std::mem::take(&mut self.items)))?;
        }
        Ok(())
    }

    fn finish(self) -> Result<(), StorageError> {
        if self.items.is_empty() {
            return Ok(());
        }
        (self.send)((self.part)(self.items))
    }
}

fn export_events(
    txn: &ReadTransaction,
    names: &HashMap<u64, StreamId>,
    send: &dyn Fn(ImagePart) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    let events = txn.open_table(EVENTS).map_err(backend)?;
    let mut page = PageBuilder::with_capacity(IMAGE_PART_ITEMS);
    for (expected, row) in (1..).zip(events.iter().map_err(backend)?) {
        let (position, value) = row.map_err(backend)?;
        let position = position.value();
        if position != expected {
            return Err(corrupt(format!(
                "the log has no event at position {expected} (invariant 3)"
            )));
        }
        let stored = record::decode_event(value.value(), Position::new(position))?;
        let stream = name_of(names, stored.place.stream_id)?;
        page.push(stored, stream)?;
        if page.len() >= IMAGE_PART_ITEMS {
            let full = std::mem::replace(&mut page, PageBuilder::with_capacity(IMAGE_PART_ITEMS));
            send(ImagePart::Events(full.finish()))?;
        }
    }
    if page.len() > 0 {
        send(ImagePart::Events(page.finish()))?;
    }
    Ok(())
}

fn export_keys(
    txn: &ReadTransaction,
    names: &HashMap<u64, StreamId>,
    send: &dyn Fn(ImagePart) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    let table = txn.open_table(COMMANDS).map_err(backend)?;
    let mut chunks = Chunks::new(send, ImagePart::AppendKeys);
    for row in table.iter().map_err(backend)? {
        let (key, value) = row.map_err(backend)?;
        let ((stream_id, key), (first, last)) = (key.value(), value.value());
        chunks.push(KeptAppendKey {
            stream: name_of(names, stream_id)?,
            key: IdempotencyKey::from_stored(key)
                .map_err(|e| corrupt(format!("stored idempotency key {e}")))?,
            first_version: Version::new(first),
            last_version: Version::new(last),
        })?;
    }
    chunks.finish()
}

fn export_commands(
    txn: &ReadTransaction,
    send: &dyn Fn(ImagePart) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    let table = txn.open_table(COMMAND_LOG).map_err(backend)?;
    let mut chunks = Chunks::new(send, ImagePart::Commands);
    for row in table.iter().map_err(backend)? {
        let (id, value) = row.map_err(backend)?;
        let id = CommandId::from(uuid::Uuid::from_u128(id.value()));
        chunks.push(command_record::decode(id, value.value())?)?;
    }
    chunks.finish()
}

fn export_snapshots(
    txn: &ReadTransaction,
    send: &dyn Fn(ImagePart) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    let table = txn.open_table(SNAPSHOTS).map_err(backend)?;
    let mut chunks = Chunks::new(send, ImagePart::Snapshots);
    for row in table.iter().map_err(backend)? {
        let (key, value) = row.map_err(backend)?;
        let (stream, key) = key.value();
        chunks.push(KeptSnapshot {
            stream: StreamId::from_stored(stream)
                .map_err(|e| corrupt(format!("snapshot stream name {e}")))?,
            key: SnapshotKey::from_stored(key).map_err(|e| corrupt(format!("snapshot key {e}")))?,
            snapshot: record::decode_snapshot(value.value())?,
        })?;
    }
    chunks.finish()
}

fn export_modules(
    txn: &ReadTransaction,
    send: &dyn Fn(ImagePart) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    let module_name =
        |name: &str| ModuleName::kept(name).map_err(|e| corrupt(format!("stored module name {e}")));
    let uploads = txn.open_table(MODULE_UPLOADS).map_err(backend)?;
    let table = txn.open_table(MODULES).map_err(backend)?;
    let mut chunks = Chunks::new(send, ImagePart::Modules);
    for row in table.iter().map_err(backend)? {
        let (key, value) = row.map_err(backend)?;
        let (name, version) = key.value();
        let uploaded_at = uploads
            .get((name, version))
            .map_err(backend)?
            .map(|at| Timestamp::from_millis(at.value()));
        chunks.push(KeptModule {
            record: module_record(module_name(name)?, version, value.value())?,
            uploaded_at,
        })?;
    }
    chunks.finish()?;
    let blobs = txn.open_table(MODULE_BLOBS).map_err(backend)?;
    for row in blobs.iter().map_err(backend)? {
        let (hash, bytes) = row.map_err(backend)?;
        send(ImagePart::ModuleBlob {
            hash: ModuleHash::parse(hash.value()).map_err(corrupt)?,
            bytes: bytes.value().to_vec(),
        })?;
    }
    let states = txn.open_table(MODULE_STATES).map_err(backend)?;
    let mut chunks = Chunks::new(send, ImagePart::ModuleStates);
    for row in states.iter().map_err(backend)? {
        let (name, state) = row.map_err(backend)?;
        chunks.push((module_name(name.value())?, state.value().to_vec()))?;
    }
    chunks.finish()?;
    let removed = txn.open_table(REMOVED_MODULES).map_err(backend)?;
    let mut chunks = Chunks::new(send, ImagePart::RemovedModules);
    for row in removed.iter().map_err(backend)? {
        let (name, version) = row.map_err(backend)?;
        chunks.push((module_name(name.value())?, version.value()))?;
    }
    chunks.finish()
}

fn export_models(
    txn: &ReadTransaction,
    send: &dyn Fn(ImagePart) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    let models = txn.open_table(MODELS).map_err(backend)?;
    let entries = txn.open_table(MODEL_ENTRIES).map_err(backend)?;
    for row in models.iter().map_err(backend)? {
        let (name, value) = row.map_err(backend)?;
        let (id, checkpoint) = value.value();
        let name = ReadModelName::from_stored(name.value())
            .map_err(|e| corrupt(format!("stored read model name {e}")))?;
        send(ImagePart::Model {
            name: name.clone(),
            checkpoint: Position::new(checkpoint),
        })?;
        let mut chunks = Chunks::new(send, |rows| ImagePart::ModelRows {
            name: name.clone(),
            rows,
        });
        let start: (u64, &[u8]) = (id, &[]);
        for entry in entries.range(start..).map_err(backend)? {
            let (key, value) = entry.map_err(backend)?;
            let (model, key) = key.value();
            if model != id {
                break;
            }
            chunks.push((key.to_vec(), record::open_value(value.value())?.to_vec()))?;
        }
        chunks.finish()?;
    }
    Ok(())
}
