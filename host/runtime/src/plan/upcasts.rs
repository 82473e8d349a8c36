//! The plan of an upcaster for a category no aggregate reads: every stored event of the
//! category it upgrades is upcast by the candidate set, and each stream it fails on is named
//! with the event. There is no fold to compare, so a stream read through is counted equal.

use std::sync::atomic::Ordering;

use cairn_store::{EventStore, ReadError, StreamRead, Version};

use crate::plan::replay;
use crate::plan::report::{PlanProgress, ReplayFailure, ReplayReport, keep};
use crate::upcasters::upcaster::UpcastError;
use crate::upcasters::upcaster_set::UpcasterSet;

/// How many stored events one read takes.
const EVENTS_PER_READ: usize = 1_000;

/// What may stop an upcast pass: the store, or the host around a call.
#[derive(Debug)]
pub(crate) enum UpcastPassError {
    Read(ReadError),
    Host(crate::error::CallError),
}

/// Upcasts every stream of `category` (or every k-th, for a `sample`) with `upcasters`.
pub(crate) async fn upcast_category(
    store: &dyn EventStore,
    category: &str,
    upcasters: &UpcasterSet,
    sample: Option<usize>,
    progress: &PlanProgress,
) -> Result<ReplayReport, UpcastPassError> {
    // Each stream is read again below, a page at a time: nothing is kept.
    let streams = replay::streams_of(store, category, 0)
        .await
        .map_err(UpcastPassError::Read)?
        .streams;
    let total = streams.len();
    let streams = replay::every(streams, replay::sample_step(total, sample));
    progress
        .streams_total
        .store(streams.len() as u64, Ordering::Relaxed);
    let mut report = ReplayReport {
        streams: streams.len() as u64,
        streams_total: total as u64,
        sampled: streams.len() < total,
        ..ReplayReport::default()
    };
    for (stream, _) in streams {
        let mut from = Version::new(1);
        let failed = loop {
            let read = StreamRead::forward().from(from).limit(EVENTS_PER_READ);
            let slice = store
                .read_stream(stream.clone(), read)
                .await
                .map_err(UpcastPassError::Read)?;
            let Some(last) = slice.events.last().map(|e| e.version) else {
                break None;
            };
            let count = slice.events.len() as u64;
            match upcasters.read(slice.events).await {
                Ok(_) => {
                    report.events += count;
                    PlanProgress::add(&progress.events_done, count);
                }
                Err(failure) => match &failure.error {
                    UpcastError::Call(error) if error.is_host_fault() => {
                        return Err(UpcastPassError::Host(error.clone()));
                    }
                    _ => {
                        break Some(ReplayFailure {
                            stream: stream.to_string(),
                            version: failure.version.get(),
                            event_type: Some(failure.event_type.to_string()),
                            error: failure.to_string(),
                        });
                    }
                },
            }
            from = Version::new(last.get() + 1);
        };
        match failed {
            Some(failure) => {
                report.failed += 1;
                keep(&mut report.failures, failure);
            }
            None => report.equal += 1,
        }
        PlanProgress::add(&progress.streams_done, 1);
    }
    Ok(report)
}
