//! [`Prefetch`]: while a projection catches up, the next batch's read of the log is made
//! while the batch before it is applied.

use std::sync::Arc;

use cairn_store::{AllRead, AllSlice, Position, StorageError};

use super::Inner;
use crate::projection::ProjectionFilter;

/// A read of the log started ahead of time, while the batch before it is applied.
pub(super) struct Prefetch {
    pub(super) after: Position,
    pub(super) slice: tokio::task::JoinHandle<Result<AllSlice, StorageError>>,
}

impl Prefetch {
    pub(super) fn start(inner: &Inner, filter: &ProjectionFilter, after: Position) -> Self {
        let store = Arc::clone(&inner.store);
        let read = batch_read(inner, filter, after);
        Self {
            after,
            slice: tokio::spawn(async move { Ok(store.read_all(read).await?) }),
        }
    }
}

/// Reads the batch after `after` now.
pub(super) async fn read_after(
    inner: &Inner,
    filter: &ProjectionFilter,
    after: Position,
) -> Result<AllSlice, StorageError> {
    Ok(inner
        .store
        .read_all(batch_read(inner, filter, after))
        .await?)
}

/// The read of one batch: at most `batch` events, scanning at most `scan_limit` positions.
/// A projection of one category has the store skip the others' events without decoding them
/// (the store filters by one category at most; any other filter is applied after the read).
fn batch_read(inner: &Inner, filter: &ProjectionFilter, after: Position) -> AllRead {
    let read = AllRead::after(after)
        .limit(inner.config.batch)
        .scan_limit(inner.config.scan_limit);
    match filter.categories.as_slice() {
        [category] => read.category(category.clone()),
        _ => read,
    }
}
