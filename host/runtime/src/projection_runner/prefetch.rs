//! [`Prefetch`]: while a projection catches up, the next batch's read of the log is made
//! while the batch before it is applied.

use std::sync::Arc;

use cairn_store::{AllRead, AllSlice, EventStore, Position, StorageError};

use super::Inner;

/// A read of the log started ahead of time, while the batch before it is applied.
pub(super) struct Prefetch {
    pub(super) after: Position,
    pub(super) slice: tokio::task::JoinHandle<Result<AllSlice, StorageError>>,
}

impl Prefetch {
    pub(super) fn start(inner: &Inner, after: Position) -> Self {
        let store = Arc::clone(&inner.store);
        let read = AllRead::after(after)
            .limit(inner.config.batch)
            .scan_limit(inner.config.scan_limit);
        Self {
            after,
            slice: tokio::spawn(async move { read_log(&*store, read).await }),
        }
    }
}

pub(super) async fn read_after(inner: &Inner, after: Position) -> Result<AllSlice, StorageError> {
    let read = AllRead::after(after)
        .limit(inner.config.batch)
        .scan_limit(inner.config.scan_limit);
    read_log(&*inner.store, read).await
}

async fn read_log(store: &dyn EventStore, read: AllRead) -> Result<AllSlice, StorageError> {
    store.read_all(read).await.map_err(|e| match e {
        cairn_store::ReadError::Storage(e) => e,
    })
}
