//! [`Snapshots`]: a stream's folded state, saved beside it so a load reads only what follows.

use crate::error::{ReadError, SnapshotError};
use crate::snapshot::{Snapshot, SnapshotKey};
use crate::stream_id::StreamId;

/// Snapshots of streams, one per stream and key.
///
/// What every backend promises:
/// 1. Snapshots never change what a read of events returns.
/// 2. A snapshot read back is the one last stored for its stream and key, byte for byte, or
///    none; a snapshot of one stream or key is never returned for another.
#[async_trait::async_trait]
pub trait Snapshots: Send + Sync {
    /// Stores `snapshot` for `(stream, key)`, replacing any earlier one.
    async fn put_snapshot(
        &self,
        stream: StreamId,
        key: SnapshotKey,
        snapshot: Snapshot,
    ) -> Result<(), SnapshotError>;

    /// The snapshot stored for `(stream, key)`, if any.
    async fn get_snapshot(
        &self,
        stream: StreamId,
        key: SnapshotKey,
    ) -> Result<Option<Snapshot>, ReadError>;
}
