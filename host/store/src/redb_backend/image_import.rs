//! [`RedbStore::import_image`]: a new store file written from an image (`image.rs`), in one
//! write transaction, under a temporary name that becomes `cairn.redb` only once it is
//! committed and synced. Nothing is left half made: a failed import removes its file.
//!
//! The tables are filled as appends would have filled them (the invariants of `tables.rs`):
//! stream ids are handed out in the order of each stream's first event; each run of
//! consecutive positions of one stream becomes one `stream_appends` row (the image does not say
//! where one append ended and the next began, and nothing reads that boundary); read models get
//! ids in the order they come.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use redb::{Database, WriteTransaction};
use tokio::sync::mpsc::Receiver;

use super::command_record::CommandBody;
use super::record::{self, EventPlace};
use super::store::DATABASE_FILE;
use super::tables::{FORMAT, FORMAT_KEY, META, StreamAppend, WriteTables};
use super::{RedbStore, backend};
use crate::error::StorageError;
use crate::event::{NewEvent, RecordedEvent};
use crate::image::{ImagePart, ImportError};
use crate::read_model::ReadModelName;

impl RedbStore {
    /// Writes a new store in `data_dir` from the image `parts` brings, and returns once it is
    /// durable. `data_dir` must hold no store yet ([`ImportError::NotEmpty`]). The store is not
    /// opened: open it with [`RedbStore::open`] afterwards.
    pub async fn import_image(
        data_dir: impl AsRef<Path>,
        parts: Receiver<ImagePart>,
    ) -> Result<(), ImportError> {
        let data_dir = data_dir.as_ref().to_path_buf();
        tokio::task::spawn_blocking(move || import(&data_dir, parts))
            .await
            .map_err(|e| StorageError::backend(std::io::Error::other(e)))?
    }
}

fn import(data_dir: &Path, parts: Receiver<ImagePart>) -> Result<(), ImportError> {
    let io = |e: std::io::Error| ImportError::Storage(StorageError::backend(e));
    let target = data_dir.join(DATABASE_FILE);
    if target.exists() {
        return Err(ImportError::NotEmpty(format!(
            "{} exists; import into a data directory that holds no store",
            target.display()
        )));
    }
    std::fs::create_dir_all(data_dir).map_err(io)?;
    let partial = data_dir.join(format!("{DATABASE_FILE}.partial"));
    let _ = std::fs::remove_file(&partial);
    let outcome = write(&partial, parts).and_then(|()| {
        std::fs::rename(&partial, &target).map_err(io)?;
        std::fs::File::open(data_dir)
            .and_then(|dir| dir.sync_all())
            .map_err(io)
    });
    if outcome.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    outcome
}

fn write(path: &PathBuf, mut parts: Receiver<ImagePart>) -> Result<(), ImportError> {
    let db = Database::builder()
        .create(path)
        .map_err(|e| StorageError::backend(redb::Error::from(e)))?;
    let txn = db.begin_write().map_err(backend)?;
    {
        let mut filling = Filling::new(&txn)?;
        loop {
            match parts.blocking_recv() {
                Some(ImagePart::End) => break,
                Some(part) => filling.add(part)?,
                None => return Err(ImportError::Cut),
            }
        }
        filling.finish()?;
    }
    txn.commit().map_err(backend)?;
    Ok(())
}

/// The tables being filled, and what the parts so far have handed out.
struct Filling<'txn> {
    tables: WriteTables<'txn>,
    /// Stream name -> (id, version so far).
    streams: HashMap<String, (u64, u64)>,
    /// The run of the last stream's events not yet written to `stream_appends`: its stream id
    /// and the append it makes.
    run: Option<(u64, StreamAppend)>,
    head: u64,
    /// Read model name -> id.
    models: HashMap<ReadModelName, u64>,
    /// Whether a part other than events came: no event may follow (invariant 1 of an image).
    past_events: bool,
}

impl<'txn> Filling<'txn> {
    fn new(txn: &'txn WriteTransaction) -> Result<Self, StorageError> {
        txn.open_table(META)
            .map_err(backend)?
            .insert(FORMAT_KEY, FORMAT)
            .map_err(backend)?;
        Ok(Self {
            tables: WriteTables::open(txn).map_err(backend)?,
            streams: HashMap::new(),
            run: None,
            head: 0,
            models: HashMap::new(),
            past_events: false,
        })
    }

    fn add(&mut self, part: ImagePart) -> Result<(), ImportError> {
        if !matches!(part, ImagePart::Events(_)) && !self.past_events {
            self.close_run()?;
            self.past_events = true;
        }
        match part {
            ImagePart::Events(events) => {
                if self.past_events {
                    return Err(out_of_order("events came after other parts"));
                }
                for event in events {
                    self.event(event)?;
                }
            }
            ImagePart::AppendKeys(keys) => {
                for kept in keys {
                    let Some(&(id, version)) = self.streams.get(kept.stream.as_str()) else {
                        return Err(out_of_order(format!(
                            "a key of stream {} with no events",
                            kept.stream
                        )));
                    };
                    if kept.last_version.get() > version {
                        return Err(out_of_order(format!(
                            "a key of stream {} names version {} past its last event",
                            kept.stream, kept.last_version
                        )));
                    }
                    self.tables
                        .commands
                        .insert(
                            (id, kept.key.as_str()),
                            (kept.first_version.get(), kept.last_version.get()),
                        )
                        .map_err(backend)?;
                }
            }
            ImagePart::Commands(entries) => {
                for entry in entries {
                    let sealed = CommandBody::encode(&entry.command).seal(&entry.verdict);
                    self.tables
                        .command_log
                        .insert(entry.command.id.as_uuid().as_u128(), sealed.as_slice())
                        .map_err(backend)?;
                }
            }
            ImagePart::Snapshots(snapshots) => {
                for kept in snapshots {
                    let bytes = record::encode_snapshot(&kept.snapshot);
                    self.tables
                        .snapshots
                        .insert((kept.stream.as_str(), kept.key.as_str()), bytes.as_slice())
                        .map_err(backend)?;
                }
            }
            ImagePart::Modules(modules) => {
                for kept in modules {
                    let record = &kept.record;
                    let key = (record.name.as_str(), record.version);
                    self.tables
                        .modules
                        .insert(key, (record.kind.as_str(), record.hash.as_str()))
                        .map_err(backend)?;
                    if let Some(at) = kept.uploaded_at {
                        self.tables
                            .module_uploads
                            .insert(key, at.as_millis())
                            .map_err(backend)?;
                    }
                }
            }
            ImagePart::ModuleBlob { hash, bytes } => {
                self.tables
                    .module_blobs
                    .insert(hash.as_str(), bytes.as_slice())
                    .map_err(backend)?;
            }
            ImagePart::ModuleStates(states) => {
                for (name, state) in states {
                    self.tables
                        .module_states
                        .insert(name.as_str(), state.as_slice())
                        .map_err(backend)?;
                }
            }
            ImagePart::RemovedModules(removed) => {
                for (name, version) in removed {
                    self.tables
                        .removed_modules
                        .insert(name.as_str(), version)
                        .map_err(backend)?;
                }
            }
            ImagePart::Model { name, checkpoint } => {
                let id = self.models.len() as u64 + 1;
                if self.models.insert(name.clone(), id).is_some() {
                    return Err(out_of_order(format!("read model {name} came twice")));
                }
                self.tables
                    .models
                    .insert(name.as_str(), (id, checkpoint.get()))
                    .map_err(backend)?;
            }
            ImagePart::ModelRows { name, rows } => {
                let Some(&id) = self.models.get(&name) else {
                    return Err(out_of_order(format!(
                        "rows of read model {name} came before it"
                    )));
                };
                for (key, value) in rows {
                    self.tables
                        .model_entries
                        .insert((id, key.as_slice()), record::seal_value(&value).as_slice())
                        .map_err(backend)?;
                }
            }
            ImagePart::End => return Err(out_of_order("the end came twice")),
        }
        Ok(())
    }

    /// Writes `event` at the next position (invariants 1 to 4 of `tables.rs`).
    fn event(&mut self, event: RecordedEvent) -> Result<(), ImportError> {
        let position = self.head + 1;
        if event.position.get() != position {
            return Err(out_of_order(format!(
                "event at position {} where {position} was next",
                event.position
            )));
        }
        let next_id = self.streams.len() as u64 + 1;
        let (stream_id, version) = match self.streams.get_mut(event.stream.as_str()) {
            Some(stream) => stream,
            None => {
                self.tables
                    .streams
                    .insert(event.stream.as_str(), next_id)
                    .map_err(backend)?;
                self.tables
                    .stream_names
                    .insert(next_id, event.stream.as_str())
                    .map_err(backend)?;
                self.streams
                    .entry(event.stream.as_str().to_owned())
                    .or_insert((next_id, 0))
            }
        };
        if event.version.get() != *version + 1 {
            return Err(out_of_order(format!(
                "event {} of stream {} where version {} was next",
                event.version,
                event.stream,
                *version + 1
            )));
        }
        *version += 1;
        let stream_id = *stream_id;
        let place = EventPlace {
            position: event.position,
            stream_id,
            version: event.version.get(),
        };
        let new = NewEvent {
            id: event.id,
            event_type: event.event_type,
            data: event.data,
            metadata: event.metadata,
        };
        let bytes = record::encode_event(&new, place, event.recorded_at);
        self.tables
            .events
            .insert(position, bytes.as_slice())
            .map_err(backend)?;
        let id = event.id.as_uuid().as_u128();
        if self
            .tables
            .event_ids
            .insert(id, (stream_id, place.version))
            .map_err(backend)?
            .is_some()
        {
            return Err(out_of_order(format!("event id {} came twice", event.id)));
        }
        self.head = position;
        match &mut self.run {
            Some((id, run)) if *id == stream_id => run.count += 1,
            _ => {
                self.close_run()?;
                self.run = Some((
                    stream_id,
                    StreamAppend {
                        first_version: place.version,
                        first_position: position,
                        count: 1,
                    },
                ));
            }
        }
        Ok(())
    }

    /// Writes the open run of one stream's events as its `stream_appends` row.
    fn close_run(&mut self) -> Result<(), StorageError> {
        if let Some((stream_id, run)) = self.run.take() {
            run.insert(&mut self.tables.stream_appends, stream_id)
                .map_err(backend)?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(), StorageError> {
        self.close_run()
    }
}

fn out_of_order(why: impl Into<String>) -> ImportError {
    ImportError::OutOfOrder(why.into())
}
