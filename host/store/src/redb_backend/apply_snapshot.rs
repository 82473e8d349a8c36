//! Storing one snapshot inside the batch's write transaction.

use super::record;
use super::tables::{WriteTables, locate_stream};
use crate::error::{SnapshotError, StorageError};
use crate::snapshot::{Snapshot, SnapshotKey};
use crate::stream_id::StreamId;
use crate::version::Version;

/// A snapshot waiting in the writer's queue.
#[derive(Debug)]
pub(crate) struct SnapshotRequest {
    pub(crate) stream: StreamId,
    pub(crate) key: SnapshotKey,
    pub(crate) snapshot: Snapshot,
}

/// Stores the snapshot, refusing one that claims versions the stream does not have.
///
/// The outer error is a storage failure (drop the transaction); the inner one a refusal.
pub(crate) fn apply_snapshot(
    tables: &mut WriteTables<'_>,
    request: &SnapshotRequest,
) -> Result<Result<(), SnapshotError>, StorageError> {
    let name = request.stream.as_str();
    let stream_version = locate_stream(&tables.streams, &tables.stream_appends, name)
        .map_err(StorageError::backend)?
        .map_or(Version::NONE, |stream| Version::new(stream.version));
    if request.snapshot.version > stream_version {
        return Ok(Err(SnapshotError::AheadOfStream {
            stream: request.stream.clone(),
            snapshot: request.snapshot.version,
            stream_version,
        }));
    }
    let bytes = record::encode_snapshot(&request.snapshot);
    tables
        .snapshots
        .insert((name, request.key.as_str()), bytes.as_slice())
        .map_err(StorageError::backend)?;
    Ok(Ok(()))
}
