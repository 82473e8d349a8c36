//! [`cairn_store::Snapshots`] on [`PostgresStore`]: one row per (stream, key), replaced whole,
//! and never ahead of its stream (invariant 5 of `schema.rs`).

use cairn_store::{ReadError, Snapshot, SnapshotError, SnapshotKey, Snapshots, StreamId, Version};

use crate::append::storage;
use crate::store::PostgresStore;

#[async_trait::async_trait]
impl Snapshots for PostgresStore {
    async fn put_snapshot(
        &self,
        stream: StreamId,
        key: SnapshotKey,
        snapshot: Snapshot,
    ) -> Result<(), SnapshotError> {
        let client = self.pool.get().await.map_err(storage)?;
        let version = i64::try_from(snapshot.version.get()).map_err(storage)?;
        // Written only if the stream has reached the snapshot's version, in one statement.
        let written = client
            .execute(
                "INSERT INTO snapshots (stream, key, version, state) \
                 SELECT $1, $2, $3, $4 \
                 WHERE $3 <= coalesce((SELECT version FROM streams WHERE name = $1), 0) \
                 ON CONFLICT (stream, key) DO UPDATE \
                 SET version = excluded.version, state = excluded.state",
                &[&stream.as_str(), &key.as_str(), &version, &snapshot.state],
            )
            .await
            .map_err(storage)?;
        if written == 0 {
            let stream_version: i64 = client
                .query_opt(
                    "SELECT version FROM streams WHERE name = $1",
                    &[&stream.as_str()],
                )
                .await
                .map_err(storage)?
                .map_or(0, |row| row.get(0));
            return Err(SnapshotError::AheadOfStream {
                stream,
                snapshot: snapshot.version,
                stream_version: Version::new(u64::try_from(stream_version).map_err(storage)?),
            });
        }
        Ok(())
    }

    async fn get_snapshot(
        &self,
        stream: StreamId,
        key: SnapshotKey,
    ) -> Result<Option<Snapshot>, ReadError> {
        let client = self.pool.get().await.map_err(storage)?;
        let row = client
            .query_opt(
                "SELECT version, state FROM snapshots WHERE stream = $1 AND key = $2",
                &[&stream.as_str(), &key.as_str()],
            )
            .await
            .map_err(storage)?;
        row.map(|row| {
            Ok(Snapshot {
                version: Version::new(u64::try_from(row.get::<_, i64>(0)).map_err(storage)?),
                state: row.get(1),
            })
        })
        .transpose()
    }
}
