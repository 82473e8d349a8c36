//! [`PostgresStore::export_image`]: a store's image (`cairn_store::ImagePart`) read out of
//! PostgreSQL, for `cairn migrate`. Every table is read in one repeatable-read, read-only
//! transaction, so the image is of one moment while other nodes go on writing; each table is
//! streamed, not loaded whole. The log is checked to be gap-free on the way.

use cairn_store::{
    IMAGE_PART_ITEMS, ImagePart, KeptAppendKey, KeptModule, KeptSnapshot, ModuleHash, ModuleName,
    Position, ReadModelName, RecordedEvent, Snapshot, SnapshotKey, StorageError, StreamId,
    Timestamp, Version,
};
use futures_util::{StreamExt, TryStreamExt, pin_mut};
use tokio::sync::mpsc::Sender;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Transaction};

use crate::append::storage;
use crate::store::PostgresStore;

fn corrupt(what: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(format!("a row does not read: {what}"))
}

fn natural(row: &Row, i: usize) -> Result<u64, StorageError> {
    u64::try_from(row.get::<_, i64>(i)).map_err(corrupt)
}

impl PostgresStore {
    /// Sends the database's whole content, as of one moment, to `parts` (see `image.rs` of
    /// cairn-store for the order). Fails with [`StorageError::Closed`] if the receiver goes
    /// away first.
    pub async fn export_image(&self, parts: Sender<ImagePart>) -> Result<(), StorageError> {
        let mut client = self.pool.get().await.map_err(storage)?;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(storage)?;
        let export = Export { tx: &tx, parts };
        export.events().await?;
        export
            .rows(
                "SELECT stream, key, first_version, last_version FROM append_keys",
                ImagePart::AppendKeys,
                |row| {
                    Ok(KeptAppendKey {
                        stream: StreamId::new(row.get::<_, &str>(0)).map_err(corrupt)?,
                        key: cairn_store::IdempotencyKey::new(row.get::<_, &str>(1))
                            .map_err(corrupt)?,
                        first_version: Version::new(natural(row, 2)?),
                        last_version: Version::new(natural(row, 3)?),
                    })
                },
            )
            .await?;
        export
            .rows(
                &format!("SELECT {} FROM commands", crate::command_log::COLUMNS),
                ImagePart::Commands,
                crate::command_log::entry_of,
            )
            .await?;
        export
            .rows(
                "SELECT stream, key, version, state FROM snapshots",
                ImagePart::Snapshots,
                |row| {
                    Ok(KeptSnapshot {
                        stream: StreamId::new(row.get::<_, &str>(0)).map_err(corrupt)?,
                        key: SnapshotKey::new(row.get::<_, &str>(1)).map_err(corrupt)?,
                        snapshot: Snapshot {
                            version: Version::new(natural(row, 2)?),
                            state: row.get::<_, Vec<u8>>(3),
                        },
                    })
                },
            )
            .await?;
        export
            .rows(
                "SELECT name, version, kind, hash, uploaded_at FROM modules",
                ImagePart::Modules,
                |row| {
                    let uploaded_at = row
                        .get::<_, Option<i64>>(4)
                        .map(|at| u64::try_from(at).map(Timestamp::from_millis))
                        .transpose()
                        .map_err(corrupt)?;
                    Ok(KeptModule {
                        record: crate::modules::record_of(row)?,
                        uploaded_at,
                    })
                },
            )
            .await?;
        export.blobs().await?;
        export
            .rows(
                "SELECT name, state FROM module_states",
                ImagePart::ModuleStates,
                |row| {
                    Ok((
                        ModuleName::new(row.get::<_, &str>(0)).map_err(corrupt)?,
                        row.get::<_, Vec<u8>>(1),
                    ))
                },
            )
            .await?;
        export
            .rows(
                "SELECT name, version FROM removed_modules",
                ImagePart::RemovedModules,
                |row| {
                    Ok((
                        ModuleName::new(row.get::<_, &str>(0)).map_err(corrupt)?,
                        natural(row, 1)?,
                    ))
                },
            )
            .await?;
        export.models().await?;
        // Ended before the end is sent: once the import has the end it commits, and nothing
        // here may fail after that.
        let Export { parts, .. } = export;
        tx.commit().await.map_err(storage)?;
        parts
            .send(ImagePart::End)
            .await
            .map_err(|_| StorageError::Closed)
    }
}

/// An export under way: its transaction and where its parts go.
struct Export<'a> {
    tx: &'a Transaction<'a>,
    parts: Sender<ImagePart>,
}

impl Export<'_> {
    async fn send(&self, part: ImagePart) -> Result<(), StorageError> {
        self.parts
            .send(part)
            .await
            .map_err(|_| StorageError::Closed)
    }

    async fn stream(
        &self,
        query: &str,
    ) -> Result<impl futures_util::Stream<Item = Result<Row, StorageError>>, StorageError> {
        let none: [&(dyn ToSql + Sync); 0] = [];
        let rows = self
            .tx
            .query_raw(query, none.iter().copied())
            .await
            .map_err(storage)?;
        Ok(rows.map_err(storage))
    }

    /// Every row of `query`, each read by `item`, sent in parts made by `part`.
    async fn rows<T>(
        &self,
        query: &str,
        part: impl Fn(Vec<T>) -> ImagePart,
        item: impl Fn(&Row) -> Result<T, StorageError>,
    ) -> Result<(), StorageError> {
        let rows = self.stream(query).await?;
        pin_mut!(rows);
        let mut items = Vec::new();
        while let Some(row) = rows.next().await {
            items.push(item(&row?)?);
            if items.len() >= IMAGE_PART_ITEMS {
                self.send(part(std::mem::take(&mut items))).await?;
            }
        }
        if !items.is_empty() {
            self.send(part(items)).await?;
        }
        Ok(())
    }

    /// The log, in position order, checked to be gap-free (invariant 1 of `schema.rs`).
    async fn events(&self) -> Result<(), StorageError> {
        let rows = self
            .stream(
                "SELECT position, id, stream, version, event_type, data, metadata, recorded_at \
                 FROM events ORDER BY position",
            )
            .await?;
        pin_mut!(rows);
        let mut events: Vec<RecordedEvent> = Vec::with_capacity(IMAGE_PART_ITEMS);
        let mut expected = 1;
        while let Some(row) = rows.next().await {
            let event = crate::reads::event_of(&row?)?;
            if event.position.get() != expected {
                return Err(StorageError::Corrupt(format!(
                    "the log has no event at position {expected}"
                )));
            }
            expected += 1;
            events.push(event);
            if events.len() >= IMAGE_PART_ITEMS {
                self.send(ImagePart::Events(std::mem::take(&mut events)))
                    .await?;
            }
        }
        if !events.is_empty() {
            self.send(ImagePart::Events(events)).await?;
        }
        Ok(())
    }

    /// Module bytes, one part each.
    async fn blobs(&self) -> Result<(), StorageError> {
        let rows = self.stream("SELECT hash, bytes FROM module_blobs").await?;
        pin_mut!(rows);
        while let Some(row) = rows.next().await {
            let row = row?;
            self.send(ImagePart::ModuleBlob {
                hash: ModuleHash::parse(row.get::<_, &str>(0)).map_err(corrupt)?,
                bytes: row.get::<_, Vec<u8>>(1),
            })
            .await?;
        }
        Ok(())
    }

    /// Every read model, then every row, model by model (invariant 2 of an image).
    async fn models(&self) -> Result<(), StorageError> {
        let models = self.stream("SELECT name, checkpoint FROM models").await?;
        pin_mut!(models);
        while let Some(row) = models.next().await {
            let row = row?;
            self.send(ImagePart::Model {
                name: ReadModelName::new(row.get::<_, &str>(0)).map_err(corrupt)?,
                checkpoint: Position::new(natural(&row, 1)?),
            })
            .await?;
        }
        let rows = self
            .stream("SELECT model, key, value FROM model_rows ORDER BY model, key")
            .await?;
        pin_mut!(rows);
        let mut current: Option<ModelRowsOf> = None;
        while let Some(row) = rows.next().await {
            let row = row?;
            let model: &str = row.get(0);
            let entry = (row.get::<_, Vec<u8>>(1), row.get::<_, Vec<u8>>(2));
            match &mut current {
                Some((name, rows)) if name == model && rows.len() < IMAGE_PART_ITEMS => {
                    rows.push(entry);
                }
                _ => {
                    if let Some(full) = current.take() {
                        self.send(model_rows(full)?).await?;
                    }
                    current = Some((model.to_owned(), vec![entry]));
                }
            }
        }
        if let Some(last) = current {
            self.send(model_rows(last)?).await?;
        }
        Ok(())
    }
}

/// Rows (key, value) of the read model named first.
type ModelRowsOf = (String, Vec<(Vec<u8>, Vec<u8>)>);

fn model_rows((name, rows): ModelRowsOf) -> Result<ImagePart, StorageError> {
    Ok(ImagePart::ModelRows {
        name: ReadModelName::new(&name).map_err(corrupt)?,
        rows,
    })
}
