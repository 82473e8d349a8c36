//! The passes of a plan (`stream_pass.rs`), worked through by one worker per core.
//!
//! The streams' work is cut into chunks (at most [`STREAMS_PER_CHUNK`] streams and about
//! [`EVENTS_PER_CHUNK`] events each), numbered in stream order. Each worker takes the next
//! chunk from the queue, reads those of its streams whose events the listing did not keep, in
//! one store call ([`cairn_store::EventLog::read_versions_of`]), starts reading the chunk
//! after it if that one needs a read, works through this one stream by stream, and sends back
//! the chunk's outcomes, or why it failed. [`Passes::next`] hands them on in chunk order,
//! whatever order the chunks end in, so a report (and the failure a failed plan names) is
//! the same every time.
//!
//! Each worker is a thread of the blocking pool that runs its loop to the end
//! (`Handle::block_on`). A pass is CPU work that seldom waits: on an executor thread a worker
//! would hold that thread for the whole plan, and a task left in its thread's LIFO slot (which
//! other threads cannot steal), another worker among them, would wait as long, leaving a core
//! idle. On threads of their own the kernel shares the cores among the workers and the
//! executor.
//!
//! Invariants:
//! 1. At most one worker per core runs, over every plan of the process: a worker takes a
//!    permit of [`cores`] before its thread starts and holds it to its end. Workers beyond
//!    wait for a permit as tasks, in the order they asked, without a thread.
//! 2. A worker works on chunk `i` only once `i < handed + AHEAD_PER_WORKER * workers`, where
//!    `handed` counts the chunks [`Passes::next`] has handed on; so the outcomes waiting to be
//!    handed on stay bounded, however slow one chunk is. Chunks are taken in order, so the
//!    chunk `handed` is always held by a worker free to work on it.
//! 3. Every chunk a worker takes is reported (its outcomes, or its failure, a panic included)
//!    unless nobody awaits its report any more: the plan was dropped, or failed.
//!
//! Why chunks: a pass over a short stream is a few module calls of tens of microseconds each.
//! A task and a store read per stream cost about as much again in hand-offs between threads,
//! and left the cores idle for a third of a plan.

use std::collections::BTreeMap;
use std::iter::Peekable;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, OnceLock};

use cairn_store::EventStore;
use futures_util::FutureExt;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_util::task::AbortOnDropHandle;

use crate::aggregates::reader::AggregateReader;
use crate::error::CallError;
use crate::plan::stream_pass::{self, PassError, StreamOutcome, StreamWork};

/// The most streams in one chunk.
const STREAMS_PER_CHUNK: usize = 64;
/// A chunk takes streams until it holds this many events (a stream longer than this is a
/// chunk of its own), so a worker's chunk and the one it reads ahead stay small in memory.
const EVENTS_PER_CHUNK: u64 = 16_384;
/// Chunks per worker, at least, where there are streams enough: so that a plan of few streams
/// still keeps every worker busy.
const CHUNKS_PER_WORKER: usize = 4;
/// How many chunks per worker a worker may run ahead of the chunk handed on next (invariant 2).
const AHEAD_PER_WORKER: usize = 2;

/// The host's cores: how many workers a plan starts, and how many run at once (invariant 1).
fn host_cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The permits of invariant 1: one per core of the host.
fn cores() -> Arc<Semaphore> {
    static CORES: OnceLock<Arc<Semaphore>> = OnceLock::new();
    Arc::clone(CORES.get_or_init(|| Arc::new(Semaphore::new(host_cores()))))
}

/// One chunk: its place in stream order, and its streams' work.
type Chunk = (usize, Vec<StreamWork>);

/// What a worker sends back for the chunk numbered `index`.
struct ChunkReport {
    index: usize,
    outcome: Result<Vec<StreamOutcome>, PassError>,
}

/// What the workers of one plan share.
struct Shared {
    /// The chunks no worker has taken yet, in order.
    queue: Mutex<Peekable<std::vec::IntoIter<Chunk>>>,
    /// How many chunks may be worked on ahead of the one handed on next (invariant 2).
    ahead: usize,
}

impl Shared {
    /// The next chunk.
    fn take(&self) -> Option<Chunk> {
        self.queue.lock().ok()?.next()
    }

    /// The next chunk, if it needs a read: one the listing kept every event of is left for
    /// whichever worker is free first.
    fn take_to_read(&self) -> Option<Chunk> {
        let mut queue = self.queue.lock().ok()?;
        let (_, work) = queue.peek()?;
        if work.iter().all(|item| item.events.is_some()) {
            return None;
        }
        queue.next()
    }
}

/// A chunk whose streams are being read, or that needs no read (the listing kept its events).
enum Reading {
    Ready(Chunk),
    Reading(usize, AbortOnDropHandle<Result<Chunk, PassError>>),
}

impl Reading {
    fn index(&self) -> usize {
        match self {
            Self::Ready((index, _)) | Self::Reading(index, _) => *index,
        }
    }

    /// The chunk's work, every stream's events in it.
    async fn done(self) -> Result<Vec<StreamWork>, PassError> {
        match self {
            Self::Ready((_, work)) => Ok(work),
            Self::Reading(_, read) => match read.await {
                Ok(read) => read.map(|(_, work)| work),
                Err(error) if error.is_panic() => {
                    Err(panicked("reading its streams", error.into_panic().as_ref()))
                }
                Err(error) => Err(PassError::Host(CallError::host(format!(
                    "a plan's read of its streams stopped: {error}"
                )))),
            },
        }
    }
}

/// A plan's failure for a panic while `doing`.
fn panicked(doing: &str, payload: &(dyn std::any::Any + Send)) -> PassError {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned());
    PassError::Host(CallError::host(format!(
        "a plan's worker panicked {doing}: {message}"
    )))
}

/// The passes of one plan, running; dropped, they stop (each worker before its next stream,
/// and workers still waiting for a core before they start).
pub(crate) struct Passes {
    received: mpsc::UnboundedReceiver<ChunkReport>,
    /// Reports of chunks that ended before one ahead of them in order.
    waiting: BTreeMap<usize, Result<Vec<StreamOutcome>, PassError>>,
    /// The chunk to hand on next.
    next: usize,
    chunks: usize,
    /// How many chunks have been handed on, for the workers (invariant 2).
    handed: watch::Sender<usize>,
    _launchers: Vec<AbortOnDropHandle<()>>,
}

impl Passes {
    /// Starts the passes of `work`, in stream order, with `live` (none when the name serves
    /// nothing) and `candidate`.
    pub(crate) fn start(
        store: &Arc<dyn EventStore>,
        live: Option<&AggregateReader>,
        candidate: &AggregateReader,
        work: Vec<StreamWork>,
        fold_batch: usize,
    ) -> Self {
        let runtime = tokio::runtime::Handle::current();
        let workers = host_cores();
        let chunks = chunks(work, workers);
        let count = chunks.len();
        let shared = Arc::new(Shared {
            queue: Mutex::new(chunks.into_iter().peekable()),
            ahead: AHEAD_PER_WORKER * workers,
        });
        let (send, received) = mpsc::unbounded_channel();
        let (handed, _) = watch::channel(0);
        let launchers = (0..workers.min(count))
            .map(|_| {
                let work = worker(
                    Arc::clone(store),
                    (live.cloned(), candidate.clone()),
                    Arc::clone(&shared),
                    (handed.subscribe(), send.clone()),
                    fold_batch,
                );
                let runtime = runtime.clone();
                AbortOnDropHandle::new(tokio::spawn(async move {
                    let Ok(core) = cores().acquire_owned().await else {
                        return;
                    };
                    // Detached: the worker ends by itself once the queue is empty, the plan
                    // is dropped or has failed (invariant 3).
                    drop(tokio::task::spawn_blocking(move || {
                        let _core = core;
                        runtime.block_on(work)
                    }));
                }))
            })
            .collect();
        Self {
            received,
            waiting: BTreeMap::new(),
            next: 0,
            chunks: count,
            handed,
            _launchers: launchers,
        }
    }

    /// The next chunk's outcomes, in stream order; `None` once every chunk's are handed on.
    /// A chunk's failure is handed on in its place, and ends the plan: nothing follows it.
    pub(crate) async fn next(&mut self) -> Option<Result<Vec<StreamOutcome>, PassError>> {
        loop {
            if self.next == self.chunks {
                return None;
            }
            if let Some(outcome) = self.waiting.remove(&self.next) {
                self.next = if outcome.is_ok() {
                    self.next + 1
                } else {
                    self.chunks
                };
                self.handed.send_replace(self.next);
                return Some(outcome);
            }
            match self.received.recv().await {
                Some(report) => {
                    self.waiting.insert(report.index, report.outcome);
                }
                // Every worker has ended with this chunk not reported: none could start (the
                // runtime is shutting down).
                None => {
                    self.next = self.chunks;
                    return Some(Err(PassError::Host(CallError::host(
                        "a plan's workers stopped before its passes were done",
                    ))));
                }
            }
        }
    }
}

/// `work` cut into chunks, in order: each at most [`STREAMS_PER_CHUNK`] streams, a share of
/// the streams small enough to give each of `workers` [`CHUNKS_PER_WORKER`] chunks, and
/// streams of about [`EVENTS_PER_CHUNK`] events in all (never less than one stream).
fn chunks(work: Vec<StreamWork>, workers: usize) -> Vec<Chunk> {
    let most = (work.len() / (workers * CHUNKS_PER_WORKER)).clamp(1, STREAMS_PER_CHUNK);
    let mut chunks: Vec<Chunk> = Vec::new();
    let mut current: Vec<StreamWork> = Vec::new();
    let mut events = 0u64;
    for item in work {
        let needs = item.last_needed().get();
        if !current.is_empty() && (current.len() == most || events + needs > EVENTS_PER_CHUNK) {
            chunks.push((chunks.len(), std::mem::take(&mut current)));
            events = 0;
        }
        events += needs;
        current.push(item);
    }
    if !current.is_empty() {
        chunks.push((chunks.len(), current));
    }
    chunks
}

/// Takes chunks until the queue is empty, reading the next one's streams while it works
/// through the one before, and reports each chunk (invariant 3); stops after a failure, or
/// when nobody awaits its reports any more.
async fn worker(
    store: Arc<dyn EventStore>,
    (live, candidate): (Option<AggregateReader>, AggregateReader),
    shared: Arc<Shared>,
    (mut handed, send): (watch::Receiver<usize>, mpsc::UnboundedSender<ChunkReport>),
    fold_batch: usize,
) {
    let mut ahead: Option<Reading> = None;
    loop {
        if send.is_closed() {
            return;
        }
        let Some(current) = ahead
            .take()
            .or_else(|| shared.take().map(|c| read(&store, c)))
        else {
            return;
        };
        let index = current.index();
        ahead = shared.take_to_read().map(|chunk| read(&store, chunk));
        let outcome = match current.done().await {
            Ok(work) => {
                // Invariant 2: wait for the chunks before this one to be handed on.
                while index >= *handed.borrow_and_update() + shared.ahead {
                    if handed.changed().await.is_err() {
                        return;
                    }
                }
                let passes = work_through(live.as_ref(), &candidate, work, fold_batch, &send);
                match AssertUnwindSafe(passes).catch_unwind().await {
                    Ok(Some(outcome)) => outcome,
                    Ok(None) => return,
                    Err(payload) => Err(panicked("on its streams", payload.as_ref())),
                }
            }
            Err(error) => Err(error),
        };
        let failed = outcome.is_err();
        if send.send(ChunkReport { index, outcome }).is_err() || failed {
            return;
        }
    }
}

/// Starts reading the streams of `chunk` whose events the listing did not keep.
fn read(store: &Arc<dyn EventStore>, (index, mut work): Chunk) -> Reading {
    let unread: Vec<usize> = (0..work.len())
        .filter(|&at| work[at].events.is_none())
        .collect();
    if unread.is_empty() {
        return Reading::Ready((index, work));
    }
    let store = Arc::clone(store);
    let wanted = unread.iter().map(|&at| work[at].wanted()).collect();
    let reading = tokio::spawn(async move {
        let read = store.read_versions_of(wanted).await?;
        if read.len() != unread.len() {
            return Err(PassError::Host(CallError::host(format!(
                "the store answered {} of a plan's {} stream reads",
                read.len(),
                unread.len()
            ))));
        }
        for (at, events) in unread.into_iter().zip(read) {
            work[at].events = Some(events);
        }
        Ok((index, work))
    });
    Reading::Reading(index, AbortOnDropHandle::new(reading))
}

/// The passes over one chunk's streams, in order; none once the plan no longer awaits them
/// (`send` is closed).
async fn work_through(
    live: Option<&AggregateReader>,
    candidate: &AggregateReader,
    work: Vec<StreamWork>,
    fold_batch: usize,
    send: &mpsc::UnboundedSender<ChunkReport>,
) -> Option<Result<Vec<StreamOutcome>, PassError>> {
    let mut outcomes = Vec::with_capacity(work.len());
    for mut work in work {
        if send.is_closed() {
            return None;
        }
        let Some(events) = work.events.take() else {
            return Some(Err(PassError::Host(CallError::host(format!(
                "a plan reached stream {} before its events were read",
                work.stream
            )))));
        };
        match stream_pass::pass(live, candidate, work, events, fold_batch).await {
            Ok(outcome) => outcomes.push(outcome),
            Err(error) => return Some(Err(error)),
        }
    }
    Some(Ok(outcomes))
}

#[cfg(test)]
mod tests {
    use cairn_store::{StreamId, Version};

    use super::*;

    /// Replay-only work over streams of these many events.
    fn work(lengths: &[u64]) -> Vec<StreamWork> {
        lengths
            .iter()
            .enumerate()
            .map(|(at, &events)| StreamWork {
                stream: StreamId::new(&format!("bank-{at}")).expect("a stream name"),
                replay: true,
                version: Version::new(events),
                commands: Vec::new(),
                live_state: None,
                events: None,
            })
            .collect()
    }

    /// The chunks' streams, by their indexes, and the chunks' own indexes.
    fn shape(chunks: &[Chunk]) -> Vec<(usize, Vec<String>)> {
        chunks
            .iter()
            .map(|(index, work)| {
                let streams = work.iter().map(|w| w.stream.to_string()).collect();
                (*index, streams)
            })
            .collect()
    }

    #[test]
    fn chunks_keep_stream_order_and_are_numbered_in_it() {
        let cut = chunks(work(&[10; 1_000]), 2);
        let streams: Vec<String> = shape(&cut).into_iter().flat_map(|(_, s)| s).collect();
        let expected: Vec<String> = (0..1_000).map(|at| format!("bank-{at}")).collect();
        assert_eq!(streams, expected, "every stream once, in order");
        let indexes: Vec<usize> = cut.iter().map(|(index, _)| *index).collect();
        assert_eq!(indexes, (0..cut.len()).collect::<Vec<_>>());
        assert!(cut.iter().all(|(_, w)| w.len() <= STREAMS_PER_CHUNK));
        assert_eq!(cut.len(), 1_000usize.div_ceil(STREAMS_PER_CHUNK));
    }

    #[test]
    fn only_a_chunk_that_needs_a_read_is_taken_to_read_ahead() {
        let mut kept = work(&[10, 10]);
        for item in &mut kept {
            item.events = Some(Vec::new());
        }
        let shared = Shared {
            queue: Mutex::new(vec![(0, kept), (1, work(&[10]))].into_iter().peekable()),
            ahead: 2,
        };
        assert!(shared.take_to_read().is_none(), "its events were kept");
        assert_eq!(shared.take().map(|(index, _)| index), Some(0));
        assert_eq!(shared.take_to_read().map(|(index, _)| index), Some(1));
        assert!(shared.take().is_none());
    }

    #[test]
    fn few_streams_are_cut_so_that_every_worker_has_chunks() {
        let cut = chunks(work(&[10; 16]), 2);
        assert_eq!(cut.len(), 8, "two streams a chunk: four chunks a worker");
        assert_eq!(
            chunks(work(&[10; 3]), 4).len(),
            3,
            "never less than a stream"
        );
        assert!(chunks(Vec::new(), 2).is_empty());
    }

    #[test]
    fn a_chunk_holds_about_its_events_and_a_long_stream_is_one_of_its_own() {
        let long = EVENTS_PER_CHUNK * 3;
        let mut lengths = vec![6_000, 6_000, 6_000, long];
        lengths.extend([10; 36]);
        // 40 streams for one worker: at most 10 streams a chunk.
        let cut = chunks(work(&lengths), 1);
        let sizes: Vec<usize> = cut.iter().map(|(_, w)| w.len()).collect();
        assert_eq!(sizes, [2, 1, 1, 10, 10, 10, 6]);
        assert_eq!(shape(&cut)[2].1, ["bank-3"], "the long stream alone");
    }
}
