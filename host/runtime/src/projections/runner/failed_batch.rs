//! A batch the module failed on: before the generation is faulted, the event it failed on is
//! found and the events before it are committed on their own, so a faulted model reflects the
//! log up to that event, whatever the batch boundaries happened to be.
//!
//! A failed batch's writes are all discarded, and where a batch begins and ends depends on how
//! many events were waiting when it was read. Without this step a projection failing on event 3
//! could stand at 2 on one run and at 0 on another, and a trap would be reported at the batch's
//! first event rather than the one that caused it.
//!
//! A refusal names its event: the events before it are applied once more, alone. A trap, a
//! stack overflow, running out of memory or bad output names none: prefixes of the batch are
//! applied, halving the range where the failure starts, until it is one event (about
//! log2(batch) calls, each failing fast). Running out of fuel or time is not searched: such a
//! call can take its whole budget, and on a busy machine its outcome depends on the load, so
//! it is reported, as before, at the first event the model does not reflect. The tries are
//! quiet: the batch's own call logged what the guest wrote and how it failed, once.

use std::time::Instant;

use cairn_store::{ModelWrite, Position, StorageError};
use tokio::runtime::Handle;

use super::env::RunnerEnv;
use super::fold::Fold;
use super::in_flight::{InFlight, Landed, land, send_commit};
use super::prefetch::read_after;
use crate::error::CallError;
use crate::projections::projection::{ApplyBatch, ApplyError, EventPlace};

/// What to fault the generation with, once the events before the failure are committed.
pub(super) enum Failure {
    /// The error, and the event it is reported at.
    At {
        error: ApplyError,
        place: Option<EventPlace>,
    },
    /// A call of the search failed by the host's fault, which says nothing of the events:
    /// nothing is faulted, and the batch is applied again later.
    Host(CallError),
    /// The store refused the commit because the checkpoint had moved (a runner being
    /// replaced): read again from the store.
    Superseded,
}

/// A batch that failed: the fold it was applied in, the position the model reflects (the batch
/// before it has landed), how many events it held, and why it failed.
pub(super) struct FailedBatch<'a> {
    pub(super) fold: &'a Fold,
    pub(super) after: Position,
    pub(super) len: usize,
    pub(super) error: ApplyError,
}

/// Finds the event of the failed batch that its error came from, and commits the events
/// before it. Runs on the runner's blocking thread, like `generation::step`.
pub(super) fn commit_before_failure(
    handle: &Handle,
    env: &RunnerEnv,
    failed: FailedBatch<'_>,
) -> Result<Failure, StorageError> {
    let FailedBatch {
        fold,
        after,
        len,
        error,
    } = failed;
    let projection = &fold.projection;
    // The log does not change below its head, so the read gives the same events again.
    let again = handle.block_on(read_after(env, projection.filter(), &fold.upcasters, after))?;
    if let Some(failure) = again.failed_upcast {
        // The upcast passed the first time, so this can only be the host's doing.
        if let crate::upcasters::upcaster::UpcastError::Call(call) = &failure.error
            && call.is_host_fault()
        {
            return Ok(Failure::Host(call.clone()));
        }
        tracing::warn!(projection = %projection.name(), %failure, "a failed batch was not read again as it was; nothing of it committed");
        return Ok(Failure::At { error, place: None });
    }
    let batch = again.batch;
    if batch.len() != len {
        tracing::warn!(projection = %projection.name(), len, again = batch.len(), "a failed batch was not read again as it was; nothing of it committed");
        let place = first_failing(&error, &batch);
        return Ok(Failure::At { error, place });
    }
    let apply = |events: usize| {
        let view = env.store.read_model(&fold.model)?;
        Ok::<_, StorageError>(projection.blocking_probe(handle, view, batch.first(events)))
    };
    let Search {
        good,
        writes,
        error,
    } = search(len, error, apply)?;
    if let ApplyError::Call(call) = &error
        && call.is_host_fault()
    {
        return Ok(Failure::Host(call.clone()));
    }
    // Events upcast from one stored event share its position, and the checkpoint can only fall
    // between positions: the events before the failing one's stored event are committed.
    let (good, writes) = match batch.first_at_position_of(good) {
        start if start < good && start > 0 => match apply(start)? {
            Ok(writes) => (start, writes),
            Err(ApplyError::Call(call)) if call.is_host_fault() => {
                return Ok(Failure::Host(call));
            }
            Err(_) => (0, Vec::new()),
        },
        start if start < good => (0, Vec::new()),
        _ => (good, writes),
    };
    let place = batch.place(good);
    let failing_at = match &place {
        Some(place) if good > 0 => place.position,
        _ => return Ok(Failure::At { error, place }),
    };
    let applied = batch.first(good);
    let landed = commit(handle, env, fold, applied, writes, failing_at, again.head)?;
    Ok(match landed {
        Landed::Superseded => Failure::Superseded,
        // A commit the store refused for good (too large) faulted the generation already; the
        // module's failure, the first cause, is what it reports.
        Landed::Done | Landed::Faulted => Failure::At { error, place },
    })
}

/// Where a search ended: the first `good` events apply, with `writes`; the first `good + 1`
/// fail with `error` (or, if the search stopped early, some later prefix does).
struct Search {
    good: usize,
    writes: Vec<ModelWrite>,
    error: ApplyError,
}

/// Narrows down where the batch of `len` events, which failed with `error`, starts to fail,
/// calling `apply(n)` on its first `n` events.
fn search(
    len: usize,
    error: ApplyError,
    mut apply: impl FnMut(usize) -> Result<Result<Vec<ModelWrite>, ApplyError>, StorageError>,
) -> Result<Search, StorageError> {
    let mut found = Search {
        good: 0,
        writes: Vec::new(),
        error,
    };
    // The shortest prefix known to fail, and the prefix to try next. Invariant: every call is
    // of more events than `found.good` and fewer than `bad`, and moves one of them, so the
    // search ends.
    let (mut bad, mut next) = match &found.error {
        ApplyError::Refused { index, .. } if *index < len => (index + 1, Some(*index)),
        ApplyError::Call(call) if searchable(call) => (len, None),
        // A refusal naming no event of the batch, or running out of fuel or time.
        _ => return Ok(found),
    };
    while bad > found.good + 1 {
        let events = next.take().unwrap_or(found.good + (bad - found.good) / 2);
        match apply(events)? {
            Ok(writes) => {
                found.good = events;
                found.writes = writes;
            }
            Err(error) => {
                bad = match &error {
                    // An event of this prefix not known to apply: the events before it next.
                    ApplyError::Refused { index, .. } if (found.good..events).contains(index) => {
                        next = Some(*index);
                        index + 1
                    }
                    ApplyError::Call(call) if searchable(call) => events,
                    // Out of fuel or time, or a module that answers differently now: stop.
                    _ => found.good + 1,
                };
                found.error = error;
            }
        }
    }
    Ok(found)
}

/// Whether a failed call says something about its events that a shorter batch would repeat
/// quickly: not running out of fuel or CPU (slow to repeat), nor the host's backstop.
fn searchable(error: &CallError) -> bool {
    match error {
        CallError::Trap { .. }
        | CallError::StackOverflow
        | CallError::OutOfMemory { .. }
        | CallError::BadOutput { .. } => true,
        CallError::OutOfFuel { .. }
        | CallError::CpuExceeded { .. }
        | CallError::HostBackstop { .. }
        | CallError::HostStorage { .. }
        | CallError::HostFailed { .. } => false,
    }
}

/// Where `error` is reported when the batch is not searched: the event a refusal names, or
/// the batch's first.
fn first_failing(error: &ApplyError, batch: &ApplyBatch) -> Option<EventPlace> {
    match error {
        ApplyError::Refused {
            position,
            event_type,
            ..
        } => Some(EventPlace {
            position: *position,
            event_type: event_type.clone(),
        }),
        ApplyError::Call(_) => batch.place(0),
    }
}

/// Commits `writes`, those of the events `applied` (the batch's events before the failing one,
/// at `failing_at`), with the checkpoint just before that event: every position up to there was
/// scanned, and the filter passed over the events of it not applied.
fn commit(
    handle: &Handle,
    env: &RunnerEnv,
    fold: &Fold,
    applied: ApplyBatch,
    writes: Vec<ModelWrite>,
    failing_at: u64,
    head: Position,
) -> Result<Landed, StorageError> {
    let checkpoint = Position::new(failing_at - 1);
    let (commit, writes) = send_commit(handle, &env.store, fold.model.clone(), writes, checkpoint);
    let in_flight = InFlight {
        commit,
        writes,
        checkpoint,
        head,
        newest_time: applied.newest_time(),
        applied: applied.len(),
        started: Instant::now(),
        first: applied.place(0),
    };
    handle.block_on(land(&fold.status, Some(in_flight)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(index: usize) -> ApplyError {
        ApplyError::Refused {
            index,
            position: index as u64 + 1,
            event_type: "E".into(),
            message: "no".into(),
        }
    }

    fn trapped() -> ApplyError {
        ApplyError::Call(CallError::Trap {
            message: "boom".into(),
        })
    }

    /// A module that applies events one write each and fails as `fail(n)` says for a batch of
    /// the first `n` events, recording the prefixes asked for.
    fn module<'a>(
        fail: impl Fn(usize) -> Option<ApplyError> + 'a,
        asked: &'a mut Vec<usize>,
    ) -> impl FnMut(usize) -> Result<Result<Vec<ModelWrite>, ApplyError>, StorageError> + 'a {
        move |n| {
            asked.push(n);
            Ok(match fail(n) {
                Some(error) => Err(error),
                None => Ok((0..n)
                    .map(|i| ModelWrite::Put {
                        key: vec![i as u8],
                        value: vec![],
                    })
                    .collect()),
            })
        }
    }

    #[test]
    fn a_refusal_applies_the_events_before_it_once() {
        let mut asked = Vec::new();
        let fail = |n: usize| (n > 5).then(|| refused(5));
        let found = search(10, refused(5), module(fail, &mut asked)).expect("searched");
        assert_eq!((found.good, found.writes.len()), (5, 5));
        assert_eq!(found.error, refused(5));
        assert_eq!(asked, [5]);
    }

    #[test]
    fn a_refusal_naming_no_event_of_the_batch_calls_nothing() {
        let mut asked = Vec::new();
        let fail = |_| Some(refused(15));
        let found = search(10, refused(15), module(fail, &mut asked)).expect("searched");
        assert_eq!(found.good, 0);
        assert!(asked.is_empty());

        // Nor does a probe's refusal outside its prefix run the search in circles.
        let mut asked = Vec::new();
        let fail = |n: usize| (n > 3).then(|| refused(15));
        let found = search(10, trapped(), module(fail, &mut asked)).expect("searched");
        assert_eq!((found.good, asked), (0, vec![5]));
    }

    #[test]
    fn a_refusal_of_the_first_event_calls_nothing() {
        let mut asked = Vec::new();
        let found = search(10, refused(0), module(|_| None, &mut asked)).expect("searched");
        assert_eq!(found.good, 0);
        assert!(asked.is_empty());
    }

    #[test]
    fn a_trap_is_narrowed_down_to_its_event() {
        for culprit in 0..40 {
            let mut asked = Vec::new();
            let fail = |n: usize| (n > culprit).then(trapped);
            let found = search(40, trapped(), module(fail, &mut asked)).expect("searched");
            assert_eq!(found.good, culprit, "culprit {culprit}");
            assert_eq!(found.writes.len(), culprit);
            assert_eq!(found.error, trapped());
            assert!(asked.len() <= 6, "{asked:?}: about log2(40) calls");
        }
    }

    #[test]
    fn a_probe_refused_jumps_to_the_refused_event() {
        let mut asked = Vec::new();
        // The batch trapped; a prefix of 13 to 30 events is refused at its event 12.
        let fail = |n: usize| match n {
            0..=12 => None,
            _ if n <= 30 => Some(refused(12)),
            _ => Some(trapped()),
        };
        let found = search(40, trapped(), module(fail, &mut asked)).expect("searched");
        assert_eq!(found.good, 12);
        assert_eq!(found.error, refused(12));
        assert_eq!(asked, [20, 12]);
    }

    #[test]
    fn running_out_of_fuel_is_not_searched_and_stops_a_search() {
        let fuel = || ApplyError::Call(CallError::OutOfFuel { fuel: 1 });
        let mut asked = Vec::new();
        let found = search(40, fuel(), module(|_| Some(fuel()), &mut asked)).expect("searched");
        assert_eq!(found.good, 0);
        assert!(asked.is_empty());

        // A trap searched, whose second prefix runs out of fuel: what applied stays.
        let mut asked = Vec::new();
        let fail = |n: usize| (n > 25).then(fuel);
        let found = search(40, trapped(), module(fail, &mut asked)).expect("searched");
        assert_eq!((found.good, found.error), (20, fuel()));
        assert_eq!(asked, [20, 30]);
    }

    #[test]
    fn a_host_fault_is_not_searched_and_stops_a_search_with_the_hosts_error() {
        let storage = || {
            ApplyError::Call(CallError::HostStorage {
                message: "the disk failed".into(),
            })
        };
        let mut asked = Vec::new();
        let found =
            search(40, storage(), module(|_| Some(storage()), &mut asked)).expect("searched");
        assert_eq!(found.good, 0);
        assert!(
            asked.is_empty(),
            "a host fault says nothing of the events: {asked:?}"
        );

        // A trap searched, whose first probe fails by the host's fault: the search stops there
        // and ends with the host's error, which `commit_before_failure` retries, never faults.
        let mut asked = Vec::new();
        let fail = |n: usize| (n > 10).then(storage);
        let found = search(40, trapped(), module(fail, &mut asked)).expect("searched");
        assert_eq!(found.error, storage());
        assert_eq!(asked, [20]);
        let ApplyError::Call(call) = &found.error else {
            panic!("a call error")
        };
        assert!(call.is_host_fault());
    }
}
