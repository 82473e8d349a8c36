//! [`NextBatch`]: a batch read from the log, upcast and filtered for the module; [`Prefetch`]: while
//! a projection catches up, the next one is read while the batch before it is applied, so the
//! runner's own thread only applies.

use std::sync::Arc;

use cairn_store::{AllRead, AllSlice, Position, RecordedEvent, StorageError};

use super::env::RunnerEnv;
use crate::projections::projection::{ApplyBatch, ProjectionFilter};
use crate::upcasters::upcaster_set::{UpcastFailure, UpcasterSet};

/// The events of one batch, ready for `apply`, and where the batch ends.
pub(super) struct NextBatch {
    pub(super) batch: ApplyBatch,
    /// The position the model reflects once the batch is committed: where the scan ended, or
    /// the batch's last event if the batch was cut at its size in bytes.
    pub(super) checkpoint: Position,
    /// The last position the read examined.
    pub(super) scanned_to: Position,
    /// The head of the log when it was read.
    pub(super) head: Position,
    /// An upcaster failed on an event of the read: the batch is empty, and the generation
    /// stops at the event (or, for the host's fault, tries again).
    pub(super) failed_upcast: Option<UpcastFailure>,
}

/// A read of the log started ahead of time, while the batch before it is applied.
pub(super) struct Prefetch {
    pub(super) after: Position,
    pub(super) next: tokio::task::JoinHandle<Result<NextBatch, StorageError>>,
}

impl Prefetch {
    pub(super) fn start(
        env: &RunnerEnv,
        filter: &ProjectionFilter,
        upcasters: &UpcasterSet,
        after: Position,
    ) -> Self {
        let store = Arc::clone(&env.store);
        let read = batch_read(env, filter, after);
        let (filter, upcasters) = (filter.clone(), upcasters.clone());
        let batch_bytes = env.config.batch_bytes;
        Self {
            after,
            next: tokio::spawn(async move {
                let slice = store.read_all(read).await?;
                Ok(next_batch(slice, &filter, &upcasters, batch_bytes).await)
            }),
        }
    }
}

/// Reads the batch after `after` now.
pub(super) async fn read_after(
    env: &RunnerEnv,
    filter: &ProjectionFilter,
    upcasters: &UpcasterSet,
    after: Position,
) -> Result<NextBatch, StorageError> {
    let slice = env.store.read_all(batch_read(env, filter, after)).await?;
    Ok(next_batch(slice, filter, upcasters, env.config.batch_bytes).await)
}

/// Reads the batch after `after` now, of the positions before `before` only: the events an
/// upcast failure at `before` leaves to apply first.
pub(super) async fn read_before(
    env: &RunnerEnv,
    filter: &ProjectionFilter,
    upcasters: &UpcasterSet,
    after: Position,
    before: Position,
) -> Result<NextBatch, StorageError> {
    let positions = usize::try_from(before.get().saturating_sub(after.get() + 1)).unwrap_or(0);
    let read = batch_read(env, filter, after);
    let scan_limit = read.scan_limit.min(positions);
    let read = read.scan_limit(scan_limit);
    let slice = env.store.read_all(read).await?;
    Ok(next_batch(slice, filter, upcasters, env.config.batch_bytes).await)
}

/// The read of one batch: at most `batch` events, scanning at most `scan_limit` positions.
/// A projection of one category has the store skip the others' events without decoding them
/// (the store filters by one category at most; any other filter is applied after the read).
fn batch_read(env: &RunnerEnv, filter: &ProjectionFilter, after: Position) -> AllRead {
    let read = AllRead::after(after)
        .limit(env.config.batch)
        .scan_limit(env.config.scan_limit);
    match filter.categories.as_slice() {
        [category] => read.category(category.clone()),
        _ => read,
    }
}

/// The events of `slice`, read through `upcasters`, that `filter` admits, as a batch: the
/// filter sees the events as the module will (an upcast event's new type). A batch also stops
/// at `batch_bytes` (after its first event), so large events never make one call too big for
/// the module's memory; its checkpoint is then its last event, and the events upcast from that
/// one stored event are all in it.
async fn next_batch(
    slice: AllSlice,
    filter: &ProjectionFilter,
    upcasters: &UpcasterSet,
    batch_bytes: usize,
) -> NextBatch {
    let (scanned_to, head) = (slice.scanned_to, slice.head);
    let read = match upcasters.read(slice.events).await {
        Ok(read) => read,
        Err(failure) => {
            return NextBatch {
                batch: ApplyBatch::new(Vec::new()),
                checkpoint: scanned_to,
                scanned_to,
                head,
                failed_upcast: Some(failure),
            };
        }
    };
    let mut events: Vec<_> = read.into_iter().filter(|e| filter.admits(e)).collect();
    let mut checkpoint = scanned_to;
    if let Some(mut keep) = within_bytes(&events, batch_bytes) {
        while keep < events.len() && events[keep].position == events[keep - 1].position {
            keep += 1;
        }
        events.truncate(keep);
        if let Some(last) = events.last() {
            checkpoint = last.position;
        }
    }
    NextBatch {
        batch: ApplyBatch::new(events),
        checkpoint,
        scanned_to,
        head,
        failed_upcast: None,
    }
}

/// How many of `events` fit in `bytes` (the first always does), or `None` if all do.
fn within_bytes(events: &[RecordedEvent], bytes: usize) -> Option<usize> {
    let mut total = 0;
    for (index, event) in events.iter().enumerate() {
        total += event.data.as_str().len()
            + event.metadata.as_str().len()
            + event.stream.as_str().len()
            + event.event_type.as_str().len();
        if index > 0 && total > bytes {
            return Some(index);
        }
    }
    None
}
