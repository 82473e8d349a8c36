//! The streams a plan replays (every stream of the module's category, or a sample of them),
//! with their events when they fit in memory, and folding one from `init` so that a failure
//! names its event.

use std::collections::HashMap;

use cairn_store::{AllRead, EventStore, Position, RecordedEvent, StreamId, Version};

use crate::aggregates::reader::AggregateReader;
use crate::error::CallError;
use crate::plan::report::ReplayFailure;

/// The streams of a category, in order of their first event, each with its version; and the
/// events read to list them, kept when they fit in the budget the listing was given.
pub(crate) struct Listing {
    pub(crate) streams: Vec<(StreamId, Version)>,
    /// Every listed stream's events, versions 1 to the version listed, or none at all: the
    /// listing reads every event of the category once, in order, so a stream's events are
    /// whole (the log's positions are gap-free and each stream's versions rise with them).
    pub(crate) kept: Option<HashMap<StreamId, Vec<RecordedEvent>>>,
}

/// The streams of `category`, with their versions, in order of their first event, and their
/// events if they take at most `keep_bytes` in memory.
pub(crate) async fn streams_of(
    store: &dyn EventStore,
    category: &str,
    keep_bytes: usize,
) -> Result<Listing, cairn_store::ReadError> {
    let mut order: Vec<StreamId> = Vec::new();
    let mut versions: HashMap<StreamId, Version> = HashMap::new();
    let mut kept: Option<HashMap<StreamId, Vec<RecordedEvent>>> = Some(HashMap::new());
    let mut kept_bytes = 0usize;
    let mut after = Position::START;
    loop {
        let slice = store
            .read_all(AllRead::after(after).category(category).limit(10_000))
            .await?;
        if kept.is_some() {
            kept_bytes = kept_bytes.saturating_add(slice.events.iter().map(bytes_of).sum());
            if kept_bytes > keep_bytes {
                kept = None;
            }
        }
        // A stream's name is cloned once, for its first event, not for every event.
        for event in slice.events {
            match versions.get_mut(&event.stream) {
                Some(version) => *version = event.version,
                None => {
                    versions.insert(event.stream.clone(), event.version);
                    order.push(event.stream.clone());
                }
            }
            if let Some(kept) = kept.as_mut() {
                match kept.get_mut(&event.stream) {
                    Some(events) => events.push(event),
                    None => {
                        kept.insert(event.stream.clone(), vec![event]);
                    }
                }
            }
        }
        if slice.scanned_to >= slice.head || slice.scanned_to == after {
            break;
        }
        after = slice.scanned_to;
    }
    let streams = order
        .into_iter()
        .map(|stream| {
            let version = versions.get(&stream).copied().unwrap_or(Version::NONE);
            (stream, version)
        })
        .collect();
    Ok(Listing { streams, kept })
}

/// What a kept event takes in memory, about: its record, its stream's name, type, data and
/// metadata, and the headers of their allocations.
fn bytes_of(event: &RecordedEvent) -> usize {
    const ALLOCATIONS: usize = 64;
    std::mem::size_of::<RecordedEvent>()
        + event.stream.as_str().len()
        + event.event_type.as_str().len()
        + event.data.as_str().len()
        + event.metadata.as_str().len()
        + ALLOCATIONS
}

/// Every `step`-th of `items` (all of them for a step of 1).
pub(crate) fn every<T>(items: Vec<T>, step: usize) -> Vec<T> {
    items.into_iter().step_by(step.max(1)).collect()
}

/// The step that takes at most `sample` of `total` items, spread evenly.
pub(crate) fn sample_step(total: usize, sample: Option<usize>) -> usize {
    match sample {
        Some(sample) if sample > 0 && sample < total => total.div_ceil(sample),
        _ => 1,
    }
}

/// Where a fold failed: the event's index in the stream (none: `init` or `state-json`).
#[derive(Clone, Debug)]
pub(crate) struct FoldFailure {
    pub(crate) at: Option<(Version, String)>,
    pub(crate) error: CallError,
}

impl FoldFailure {
    /// What went wrong while `doing`, naming the event.
    pub(crate) fn describe(&self, doing: &str) -> String {
        let at = self
            .at
            .as_ref()
            .map_or(String::new(), |(version, event_type)| {
                format!(" at version {version} ({event_type})")
            });
        format!("{doing}{at}: {}", self.error)
    }

    pub(crate) fn for_stream(self, stream: &StreamId) -> ReplayFailure {
        ReplayFailure {
            stream: stream.to_string(),
            version: self.at.as_ref().map_or(0, |(version, _)| version.get()),
            event_type: self.at.map(|(_, event_type)| event_type),
            error: self.error.to_string(),
        }
    }
}

/// `init`, then `events` folded in batches of `fold_batch`. A batch that fails is folded again
/// one event at a time, so the failure names its event.
pub(crate) async fn fold_from_init(
    aggregate: &AggregateReader,
    events: &[RecordedEvent],
    fold_batch: usize,
) -> Result<Vec<u8>, FoldFailure> {
    let state = aggregate
        .initial_state()
        .await
        .map_err(|error| FoldFailure { at: None, error })?;
    fold_events(aggregate, state, events, fold_batch).await
}

/// `events` folded into `state` in batches of `fold_batch`, as [`fold_from_init`] folds them.
pub(crate) async fn fold_events(
    aggregate: &AggregateReader,
    mut state: Vec<u8>,
    events: &[RecordedEvent],
    fold_batch: usize,
) -> Result<Vec<u8>, FoldFailure> {
    for batch in events.chunks(fold_batch.max(1)) {
        match aggregate.fold(state.clone(), batch).await {
            Ok(folded) => state = folded,
            Err(batch_error) => {
                for event in batch {
                    match aggregate.fold(state, std::slice::from_ref(event)).await {
                        Ok(folded) => state = folded,
                        Err(error) => {
                            return Err(FoldFailure {
                                at: Some((event.version, event.event_type.to_string())),
                                error,
                            });
                        }
                    }
                }
                // The batch failed but no event alone did: name the batch's last event.
                let last = batch.last().map(|e| (e.version, e.event_type.to_string()));
                return Err(FoldFailure {
                    at: last,
                    error: batch_error,
                });
            }
        }
    }
    Ok(state)
}
