//! [`cairn_store::Modules`] on [`PostgresStore`] (invariant 7 of `schema.rs`). A put or a
//! removal of a name holds the name's advisory lock until it commits, so of racing puts of one
//! name exactly one makes each version, and of racing kinds exactly one wins.

use cairn_store::{
    ModuleHash, ModuleKind, ModuleName, ModulePut, ModulePutError, ModuleRecord, ModuleRemoval,
    ModuleState, Modules, NewModule, ReadError, StorageError, Timestamp,
};
use tokio_postgres::{GenericClient, Row, Transaction};

use crate::append::storage;
use crate::read_models::drop_in;
use crate::store::PostgresStore;

fn corrupt(what: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(format!("a module row does not read: {what}"))
}

/// A `(name, version, kind, hash)` row as a record.
pub(crate) fn record_of(row: &Row) -> Result<ModuleRecord, StorageError> {
    Ok(ModuleRecord {
        name: ModuleName::new(row.get::<_, &str>(0)).map_err(corrupt)?,
        version: u64::try_from(row.get::<_, i64>(1)).map_err(corrupt)?,
        kind: ModuleKind::parse(row.get::<_, &str>(2))
            .ok_or_else(|| corrupt(format!("kind {:?}", row.get::<_, &str>(2))))?,
        hash: ModuleHash::parse(row.get::<_, &str>(3)).map_err(corrupt)?,
    })
}

/// Takes the name's lock, to commit.
async fn lock(tx: &Transaction<'_>, name: &ModuleName) -> Result<(), StorageError> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('module:' || $1, 0))",
        &[&name.as_str()],
    )
    .await
    .map_err(storage)?;
    Ok(())
}

/// The name's latest version, and whether the name is removed.
async fn latest(
    client: &impl GenericClient,
    name: &ModuleName,
) -> Result<Option<(ModuleRecord, bool)>, StorageError> {
    let row = client
        .query_opt(
            "SELECT m.name, m.version, m.kind, m.hash, r.version = m.version \
             FROM modules m LEFT JOIN removed_modules r ON r.name = m.name \
             WHERE m.name = $1 ORDER BY m.version DESC LIMIT 1",
            &[&name.as_str()],
        )
        .await
        .map_err(storage)?;
    row.map(|row| {
        Ok((
            record_of(&row)?,
            row.get::<_, Option<bool>>(4).unwrap_or(false),
        ))
    })
    .transpose()
}

/// Tells every node, at commit, that module `name` changed (`follow.rs` hears it).
async fn notify(
    tx: &tokio_postgres::Transaction<'_>,
    name: &ModuleName,
) -> Result<(), StorageError> {
    tx.execute(
        "SELECT pg_notify($1, $2)",
        &[&crate::follow::MODULES_CHANNEL, &name.as_str()],
    )
    .await
    .map_err(storage)?;
    Ok(())
}

#[async_trait::async_trait]
impl Modules for PostgresStore {
    async fn put_module(&self, module: NewModule) -> Result<ModulePut, ModulePutError> {
        let mut client = self.pool.get().await.map_err(storage)?;
        let tx = client.transaction().await.map_err(storage)?;
        lock(&tx, module.name()).await?;
        let before = latest(&*tx, module.name()).await?;
        if let Some((record, removed)) = &before {
            // A removed projection's or upcaster's name may be taken by any kind; an
            // aggregate's or a reactor's keeps its kind, since its streams stay.
            let free = *removed && !record.kind.owns_streams();
            if record.kind != module.kind() && !free {
                return Err(ModulePutError::NameTaken {
                    name: module.name().clone(),
                    held_by: record.kind,
                });
            }
            if !removed && record.hash == *module.hash() {
                return Ok(ModulePut::Unchanged(record.clone()));
            }
        }
        let version = before.map_or(1, |(record, _)| record.version + 1);
        tx.execute(
            "INSERT INTO module_blobs (hash, bytes) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&module.hash().as_str(), &module.bytes()],
        )
        .await
        .map_err(storage)?;
        let now = i64::try_from(Timestamp::now().as_millis()).map_err(storage)?;
        tx.execute(
            "INSERT INTO modules (name, version, kind, hash, uploaded_at) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &module.name().as_str(),
                &i64::try_from(version).map_err(storage)?,
                &module.kind().as_str(),
                &module.hash().as_str(),
                &now,
            ],
        )
        .await
        .map_err(storage)?;
        tx.execute(
            "DELETE FROM removed_modules WHERE name = $1",
            &[&module.name().as_str()],
        )
        .await
        .map_err(storage)?;
        notify(&tx, module.name()).await?;
        tx.commit().await.map_err(storage)?;
        Ok(ModulePut::Created(ModuleRecord {
            name: module.name().clone(),
            version,
            kind: module.kind(),
            hash: module.hash().clone(),
        }))
    }

    async fn modules(&self) -> Result<Vec<ModuleRecord>, ReadError> {
        let client = self.pool.get().await.map_err(storage)?;
        let rows = client
            .query(
                "SELECT DISTINCT ON (m.name) m.name, m.version, m.kind, m.hash, \
                 r.version = m.version \
                 FROM modules m LEFT JOIN removed_modules r ON r.name = m.name \
                 ORDER BY m.name, m.version DESC",
                &[],
            )
            .await
            .map_err(storage)?;
        let mut records = Vec::new();
        for row in &rows {
            if !row.get::<_, Option<bool>>(4).unwrap_or(false) {
                records.push(record_of(row)?);
            }
        }
        Ok(records)
    }

    async fn module_bytes(&self, hash: ModuleHash) -> Result<Option<Vec<u8>>, ReadError> {
        let client = self.pool.get().await.map_err(storage)?;
        Ok(client
            .query_opt(
                "SELECT bytes FROM module_blobs WHERE hash = $1",
                &[&hash.as_str()],
            )
            .await
            .map_err(storage)?
            .map(|row| row.get(0)))
    }

    async fn module_version(
        &self,
        name: ModuleName,
        version: u64,
    ) -> Result<Option<ModuleRecord>, ReadError> {
        let client = self.pool.get().await.map_err(storage)?;
        let row = client
            .query_opt(
                "SELECT name, version, kind, hash FROM modules WHERE name = $1 AND version = $2",
                &[&name.as_str(), &i64::try_from(version).unwrap_or(i64::MAX)],
            )
            .await
            .map_err(storage)?;
        Ok(row.as_ref().map(record_of).transpose()?)
    }

    async fn module_uploaded_at(
        &self,
        name: ModuleName,
        version: u64,
    ) -> Result<Option<Timestamp>, ReadError> {
        let client = self.pool.get().await.map_err(storage)?;
        let row = client
            .query_opt(
                "SELECT uploaded_at FROM modules WHERE name = $1 AND version = $2",
                &[&name.as_str(), &i64::try_from(version).unwrap_or(i64::MAX)],
            )
            .await
            .map_err(storage)?;
        // A version kept by the embedded store of a release that did not record upload times
        // comes through `cairn migrate` with none.
        Ok(row
            .and_then(|row| row.get::<_, Option<i64>>(0))
            .map(|at| u64::try_from(at).map(Timestamp::from_millis))
            .transpose()
            .map_err(corrupt)?)
    }

    async fn put_module_state(&self, state: ModuleState) -> Result<(), StorageError> {
        let mut client = self.pool.get().await.map_err(storage)?;
        let tx = client.transaction().await.map_err(storage)?;
        // The runners' lifecycles are kept here: fenced like their read models (`lease.rs`).
        crate::lease::check(&tx, &self.fence).await?;
        lock(&tx, &state.module).await?;
        // A removed module's state is not kept (promise 4 of `Modules`).
        if let Some((_, true)) = latest(&*tx, &state.module).await? {
            return Ok(());
        }
        tx.execute(
            "INSERT INTO module_states (name, state) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET state = excluded.state",
            &[&state.module.as_str(), &state.state],
        )
        .await
        .map_err(storage)?;
        for model in &state.drop_models {
            drop_in(&*tx, model).await?;
        }
        notify(&tx, &state.module).await?;
        tx.commit().await.map_err(storage)
    }

    async fn remove_module(
        &self,
        removal: ModuleRemoval,
    ) -> Result<Option<ModuleRecord>, StorageError> {
        let mut client = self.pool.get().await.map_err(storage)?;
        let tx = client.transaction().await.map_err(storage)?;
        if !removal.drop_models.is_empty() {
            // Read models dropped by a runner's removal: fenced like its writes (`lease.rs`).
            crate::lease::check(&tx, &self.fence).await?;
        }
        lock(&tx, &removal.module).await?;
        let Some((record, false)) = latest(&*tx, &removal.module).await? else {
            return Ok(None);
        };
        tx.execute(
            "INSERT INTO removed_modules (name, version) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET version = excluded.version",
            &[
                &removal.module.as_str(),
                &i64::try_from(record.version).map_err(storage)?,
            ],
        )
        .await
        .map_err(storage)?;
        tx.execute(
            "DELETE FROM module_states WHERE name = $1",
            &[&removal.module.as_str()],
        )
        .await
        .map_err(storage)?;
        for model in &removal.drop_models {
            drop_in(&*tx, model).await?;
        }
        notify(&tx, &removal.module).await?;
        tx.commit().await.map_err(storage)?;
        Ok(Some(record))
    }

    fn watch_modules(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        Some(self.module_changes.subscribe())
    }

    async fn module_state(&self, name: ModuleName) -> Result<Option<Vec<u8>>, ReadError> {
        let client = self.pool.get().await.map_err(storage)?;
        Ok(client
            .query_opt(
                "SELECT state FROM module_states WHERE name = $1",
                &[&name.as_str()],
            )
            .await
            .map_err(storage)?
            .map(|row| row.get(0)))
    }
}
