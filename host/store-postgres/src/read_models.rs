//! [`cairn_store::ReadModels`] on [`PostgresStore`] (invariant 8 of `schema.rs`): a model's
//! rows and checkpoint change in one transaction that holds its `models` row, and a read is a
//! repeatable-read transaction held for as long as the view is.

use std::collections::BTreeMap;

use cairn_store::{
    ModelAmend, ModelCommit, ModelEntry, ModelError, ModelRead, ModelWrite, Position,
    ReadModelName, ReadModels, StorageError, check_model_writes, prefix_end,
};
use std::sync::Arc;

use deadpool_postgres::Object;
use tokio_postgres::{GenericClient, Transaction};

use crate::append::storage;
use crate::store::PostgresStore;
use crate::views::Views;

fn failed(error: impl std::fmt::Display + std::fmt::Debug) -> ModelError {
    ModelError::Storage(storage(error))
}

/// The model's checkpoint, its row locked to commit; `None` if it has never committed.
async fn lock(tx: &Transaction<'_>, model: &ReadModelName) -> Result<Option<i64>, ModelError> {
    // A model's first commit inserts its row; two nodes doing so at once meet here, and the
    // second sees the first's checkpoint.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('model:' || $1, 0))",
        &[&model.as_str()],
    )
    .await
    .map_err(failed)?;
    Ok(tx
        .query_opt(
            "SELECT checkpoint FROM models WHERE name = $1 FOR UPDATE",
            &[&model.as_str()],
        )
        .await
        .map_err(failed)?
        .map(|row| row.get(0)))
}

/// Applies `writes` in order: the last write of a key decides it.
async fn write_rows(
    tx: &Transaction<'_>,
    model: &ReadModelName,
    writes: &[ModelWrite],
) -> Result<(), ModelError> {
    let mut last: BTreeMap<&[u8], Option<&[u8]>> = BTreeMap::new();
    for write in writes {
        last.insert(write.key(), write.value());
    }
    let (mut keys, mut values, mut deleted) = (Vec::new(), Vec::new(), Vec::new());
    for (key, value) in last {
        match value {
            Some(value) => {
                keys.push(key);
                values.push(value);
            }
            None => deleted.push(key),
        }
    }
    if !deleted.is_empty() {
        tx.execute(
            "DELETE FROM model_rows WHERE model = $1 AND key = ANY($2)",
            &[&model.as_str(), &deleted],
        )
        .await
        .map_err(failed)?;
    }
    if !keys.is_empty() {
        tx.execute(
            "INSERT INTO model_rows (model, key, value) \
             SELECT $1, k, v FROM unnest($2::bytea[], $3::bytea[]) AS u(k, v) \
             ON CONFLICT (model, key) DO UPDATE SET value = excluded.value",
            &[&model.as_str(), &keys, &values],
        )
        .await
        .map_err(failed)?;
    }
    Ok(())
}

async fn set_checkpoint(
    tx: &Transaction<'_>,
    model: &ReadModelName,
    checkpoint: Position,
) -> Result<(), ModelError> {
    let checkpoint = i64::try_from(checkpoint.get()).map_err(failed)?;
    tx.execute(
        "INSERT INTO models (name, checkpoint) VALUES ($1, $2) \
         ON CONFLICT (name) DO UPDATE SET checkpoint = excluded.checkpoint",
        &[&model.as_str(), &checkpoint],
    )
    .await
    .map_err(failed)?;
    Ok(())
}

/// Removes a model's rows and its checkpoint, inside `tx`.
pub(crate) async fn drop_in(
    tx: &impl GenericClient,
    model: &ReadModelName,
) -> Result<(), StorageError> {
    tx.execute(
        "DELETE FROM model_rows WHERE model = $1",
        &[&model.as_str()],
    )
    .await
    .map_err(storage)?;
    tx.execute("DELETE FROM models WHERE name = $1", &[&model.as_str()])
        .await
        .map_err(storage)?;
    Ok(())
}

/// Commits `commit` inside `tx`, refusing a checkpoint that is not past the model's.
async fn commit_in(tx: &Transaction<'_>, commit: &ModelCommit) -> Result<(), ModelError> {
    if let Some(stored) = lock(tx, &commit.model).await?
        && i64::try_from(commit.checkpoint.get()).unwrap_or(i64::MAX) <= stored
    {
        return Err(ModelError::CheckpointNotAhead {
            model: commit.model.clone(),
            stored: Position::new(u64::try_from(stored).unwrap_or(0)),
            given: commit.checkpoint,
        });
    }
    write_rows(tx, &commit.model, &commit.writes).await?;
    set_checkpoint(tx, &commit.model, commit.checkpoint).await
}

#[async_trait::async_trait]
impl ReadModels for PostgresStore {
    async fn commit_model(&self, commit: ModelCommit) -> Result<(), ModelError> {
        check_model_writes(&commit.model, &commit.writes)?;
        let mut client = self.pool.get().await.map_err(failed)?;
        let tx = client.transaction().await.map_err(failed)?;
        crate::lease::check(&tx, &self.fence).await?;
        commit_in(&tx, &commit).await?;
        tx.commit().await.map_err(failed)
    }

    async fn amend_model(&self, amend: ModelAmend) -> Result<(), ModelError> {
        check_model_writes(&amend.model, &amend.writes)?;
        let mut client = self.pool.get().await.map_err(failed)?;
        let tx = client.transaction().await.map_err(failed)?;
        crate::lease::check(&tx, &self.fence).await?;
        if lock(&tx, &amend.model).await?.is_none() {
            return Err(ModelError::NeverCommitted {
                model: amend.model.clone(),
            });
        }
        write_rows(&tx, &amend.model, &amend.writes).await?;
        tx.commit().await.map_err(failed)
    }

    async fn replace_model(&self, commit: ModelCommit) -> Result<(), ModelError> {
        check_model_writes(&commit.model, &commit.writes)?;
        let mut client = self.pool.get().await.map_err(failed)?;
        let tx = client.transaction().await.map_err(failed)?;
        crate::lease::check(&tx, &self.fence).await?;
        lock(&tx, &commit.model).await?;
        drop_in(&*tx, &commit.model).await?;
        commit_in(&tx, &commit).await?;
        tx.commit().await.map_err(failed)
    }

    async fn drop_model(&self, model: ReadModelName) -> Result<(), StorageError> {
        let mut client = self.pool.get().await.map_err(storage)?;
        let tx = client.transaction().await.map_err(storage)?;
        crate::lease::check(&tx, &self.fence).await?;
        drop_in(&*tx, &model).await?;
        tx.commit().await.map_err(storage)
    }

    fn read_model(&self, model: &ReadModelName) -> Result<Box<dyn ModelRead>, StorageError> {
        let pool = self.views.pool.clone();
        let name = model.clone();
        let (client, checkpoint) = self.views.run(async move {
            let client = pool.get().await.map_err(storage)?;
            client
                .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await
                .map_err(storage)?;
            let checkpoint: Option<i64> = client
                .query_opt(
                    "SELECT checkpoint FROM models WHERE name = $1",
                    &[&name.as_str()],
                )
                .await
                .map_err(storage)?
                .map(|row| row.get(0));
            Ok::<_, StorageError>((client, checkpoint))
        })??;
        Ok(Box::new(PostgresModelRead {
            client: Some(Arc::new(client)),
            views: Arc::clone(&self.views),
            model: model.clone(),
            checkpoint: checkpoint.map(|c| Position::new(u64::try_from(c).unwrap_or(0))),
        }))
    }
}

/// A read model as of one snapshot: a connection in a repeatable-read transaction, given back
/// to the views' pool (the transaction ended) when the view is dropped. Its reads run on the
/// views' runtime (`views.rs`).
struct PostgresModelRead {
    client: Option<Arc<Object>>,
    views: Arc<Views>,
    model: ReadModelName,
    checkpoint: Option<Position>,
}

impl std::fmt::Debug for PostgresModelRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresModelRead")
            .field("model", &self.model)
            .field("checkpoint", &self.checkpoint)
            .finish_non_exhaustive()
    }
}

impl PostgresModelRead {
    fn client(&self) -> Result<Arc<Object>, StorageError> {
        self.client.clone().ok_or(StorageError::Closed)
    }
}

impl ModelRead for PostgresModelRead {
    fn checkpoint(&self) -> Option<Position> {
        self.checkpoint
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let (client, model, key) = (self.client()?, self.model.clone(), key.to_vec());
        let row = self.views.run(async move {
            client
                .query_opt(
                    "SELECT value FROM model_rows WHERE model = $1 AND key = $2",
                    &[&model.as_str(), &key],
                )
                .await
        })?;
        Ok(row.map_err(storage)?.map(|row| row.get(0)))
    }

    fn scan(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<ModelEntry>, StorageError> {
        let (client, model) = (self.client()?, self.model.clone());
        // Keys with the prefix are those from the prefix up to (not including) the first key
        // past all of them; bytea compares byte by byte.
        let (prefix, end) = (prefix.to_vec(), prefix_end(prefix));
        let after = start_after.map(<[u8]>::to_vec);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.views.run(async move {
            client
                .query(
                    "SELECT key, value FROM model_rows WHERE model = $1 AND key >= $2 \
                     AND ($3::bytea IS NULL OR key < $3) AND ($4::bytea IS NULL OR key > $4) \
                     ORDER BY key LIMIT $5",
                    &[&model.as_str(), &prefix, &end, &after, &limit],
                )
                .await
        })?;
        Ok(rows
            .map_err(storage)?
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect())
    }
}

impl Drop for PostgresModelRead {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            // Ended on the views' runtime, so a view dropped on an async thread never blocks.
            self.views.spawn(async move {
                let _ = client.batch_execute("ROLLBACK").await;
                drop(client);
            });
        }
    }
}
