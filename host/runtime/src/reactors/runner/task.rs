//! One reactor's task: it reads the log after its checkpoint, calls `react` on each event it
//! subscribes to, commits the state, the checkpoint and the issued intents together, executes
//! the intents, and records their outcomes (the ledger's invariants, `ledger.rs`).
//!
//! Each turn of its loop:
//! 1. settle the ledger: append the outcomes recorded and not yet in the reactor's stream, then
//!    execute the intents issued and not yet executed (after a crash, these are exactly the
//!    intents whose outcome was not recorded);
//! 2. answer the operator's requests (a parked event retried or discarded), which the task
//!    alone carries out, so nothing else writes the reactor's model;
//! 3. read the next batch, react to it on a blocking thread, commit, and go to 1; or, at the
//!    head, wait for it to move.
//!
//! An event `react` fails on is tried again after a backoff, `retries` times; then the policy
//! parks it, skips it, or stops the reactor there. The later events of a parked event's stream
//! are parked behind it (`behind.rs`, invariant 7 of `ledger.rs`).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_groups::{Exhausted, ParkReason, parked};
use cairn_store::{
    AllRead, AppendError, EventStore, ExpectedVersion, MAX_MODEL_KEY, MAX_MODEL_VALUE, ModelAmend,
    ModelCommit, ModelError, ModelRead, ModelWrite, Position, ReadModelName, RecordedEvent,
    StorageError, StreamId,
};
use tokio::sync::{mpsc, oneshot, watch};

use crate::aggregates::command_path::CommandPath;
use crate::error::CallError;
use crate::projections::model_overlay::Overlay;
use crate::reactors::intent::{IntentOutcome, IssuedIntent, RecordedOutcome};
use crate::reactors::ledger::{self, Counts, HeldIntents, ISSUED, OUTCOME, ParkedEvent, StateView};
use crate::reactors::reactor::{LoadedReactor, ReactError, Reaction};
use crate::reactors::runner::config::FailurePolicy;
use crate::reactors::runner::execute::{Executed, execute_all};
use crate::reactors::runner::status::{Board, ReactorState};
use crate::reactors::runner::{behind, legacy_rows};
use crate::registry::Registry;

/// Why a turn of the task, or an operator's request, did not finish.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TaskError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Something the host did failed: an outcome event refused, an upcaster failing.
    #[error("{0}")]
    Host(String),
    /// The reactor stopped at an intent its policy stops on.
    #[error("the reactor is faulted")]
    Faulted,
}

impl From<ModelError> for TaskError {
    fn from(error: ModelError) -> Self {
        match error {
            ModelError::Storage(error) => TaskError::Storage(error),
            other => TaskError::Host(other.to_string()),
        }
    }
}

/// What an operator asks of a reactor's parked events.
#[derive(Debug)]
pub(crate) enum Request {
    /// Retry the events parked at a position (all of them for `None`); the reply is how many
    /// were retried and succeeded, and the errors of those that failed again.
    Retry {
        position: Option<u64>,
        reply: oneshot::Sender<Result<RetryReport, TaskError>>,
    },
    /// Discard the events parked at a position; the reply is how many there were.
    Discard {
        position: u64,
        reply: oneshot::Sender<Result<usize, TaskError>>,
    },
}

/// What a retry of parked events did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetryReport {
    /// Events retried that succeeded, and are parked no more.
    pub succeeded: u64,
    /// Events retried that failed again, each with its error; they stay parked.
    pub failed: Vec<(u64, String)>,
}

/// What one reactor's task runs with.
pub(crate) struct Task {
    pub(crate) reactor: Arc<LoadedReactor>,
    pub(crate) store: Arc<dyn EventStore>,
    pub(crate) registry: Arc<Registry>,
    pub(crate) commands: Arc<CommandPath>,
    pub(crate) model: ReadModelName,
    pub(crate) policy: FailurePolicy,
    pub(crate) batch: usize,
    pub(crate) board: Board,
    pub(crate) requests: mpsc::Receiver<Request>,
    pub(crate) stop: watch::Receiver<bool>,
    /// Read past the kept checkpoint up to here, with nothing to react to: committed with the
    /// next reaction, when the task waits, or after [`PASSED_OVER_COMMIT`]. Not committing
    /// each such read keeps a busy log's other events from putting a commit in front of
    /// every reaction; a restart reads them again, and they give nothing again.
    pub(crate) passed_over: Option<(Position, std::time::Instant)>,
}

/// The reactor's model as last committed: what the task reads its state and ledger from.
struct Kept {
    checkpoint: Position,
    counts: Counts,
}

/// Parked events read per page of a retry of all of them.
const RETRY_PAGE: usize = 1_000;
/// The most outcome events one append carries (an append takes at most 1,000).
const OUTCOMES_PER_APPEND: usize = 500;
/// How long the task waits before trying again after the store failed it.
const STORE_RETRY: Duration = Duration::from_millis(500);
/// The longest a checkpoint past events with nothing to react to waits to be committed.
const PASSED_OVER_COMMIT: Duration = Duration::from_secs(1);
/// How often a waiting task publishes its status to the metrics.
const METRICS_EVERY: Duration = Duration::from_secs(1);

impl Task {
    /// Runs until stopped, or faulted under the `stop` policy.
    pub(crate) async fn run(mut self) {
        if let Ok(kept) = self.kept().await {
            self.board.kept(kept.checkpoint.get(), kept.counts);
        }
        if let Err(error) = self.move_legacy_rows().await {
            tracing::warn!(reactor = %self.reactor.name(), %error, "the parked events of an older ledger could not be moved over");
        }
        if let Ok(parked) = self.parked_count().await {
            self.board.parked(parked);
        }
        match self.kept_fault().await {
            Ok(true) => return,
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(reactor = %self.reactor.name(), %error, "the reactor's fault could not be read");
            }
        }
        loop {
            if *self.stop.borrow() {
                self.board.set_state(ReactorState::Stopped);
                return;
            }
            let turn = self.turn().await;
            self.board.status(self.store.head().get());
            match turn {
                Ok(Turn::Again) => {}
                Ok(Turn::Wait(after)) => {
                    self.board.set_state(ReactorState::Live);
                    if !self.wait(after).await {
                        self.board.set_state(ReactorState::Stopped);
                        return;
                    }
                }
                Ok(Turn::Faulted) | Err(TaskError::Faulted) => return,
                Err(error) => {
                    tracing::warn!(reactor = %self.reactor.name(), %error, "the reactor's store failed; trying again");
                    self.board.failed(error.to_string());
                    if !self.pause(STORE_RETRY).await {
                        return;
                    }
                }
            }
        }
    }

    /// Waits for the head to pass `after`, a request, or the stop. False once stopped. Each
    /// second it waits, it publishes its status to the metrics (the stall alarm among them).
    async fn wait(&mut self, after: Position) -> bool {
        let mut head = self.store.watch_head();
        loop {
            self.board.status(self.store.head().get());
            let request = tokio::select! {
                moved = head.wait_past(after) => return moved.is_ok(),
                request = self.requests.recv() => request,
                _ = self.stop.wait_for(|s| *s) => return false,
                _ = tokio::time::sleep(METRICS_EVERY) => continue,
            };
            if let Some(request) = request {
                self.answer(request).await;
            }
            return true;
        }
    }

    /// Sleeps `wait`, unless stopped first. False once stopped.
    async fn pause(&mut self, wait: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(wait) => true,
            _ = self.stop.wait_for(|s| *s) => false,
        }
    }

    async fn turn(&mut self) -> Result<Turn, TaskError> {
        while let Ok(request) = self.requests.try_recv() {
            self.answer(request).await;
        }
        let kept = self.kept().await?;
        let from = match self.passed_over {
            Some((position, _)) if position > kept.checkpoint => position,
            _ => kept.checkpoint,
        };
        // The intents issued before are executed while the next batch is read and reacted to:
        // the one writes only the ledger's outcomes and `x`, the other reads the state and
        // commits after both are done (invariant 5 of `ledger.rs`).
        let (settled, next) = tokio::join!(self.settle(), self.next_batch(from));
        if !settled?.is_empty() {
            // An event was parked while this batch was reacted to: the batch is read again,
            // so its events of that stream wait behind it (invariant 7 of `ledger.rs`).
            return Ok(Turn::Again);
        }
        let (scanned_to, reacted) = match next? {
            NextBatch::Wait => {
                self.commit_passed_over(&kept).await?;
                return Ok(Turn::Wait(from));
            }
            NextBatch::UpcastFailed(error) => {
                self.board.failed(error);
                self.pause(STORE_RETRY).await;
                return Ok(Turn::Again);
            }
            NextBatch::Reacted {
                scanned_to,
                reacted,
            } => (scanned_to, reacted),
        };
        let checkpoint = match &reacted.failed {
            None => scanned_to,
            Some((group, _)) => Position::new(group[0].position.get() - 1),
        };
        if reacted.failed.is_none() && reacted.done.is_empty() && reacted.behind.is_empty() {
            let since = match self.passed_over {
                Some((_, since)) => since,
                None => std::time::Instant::now(),
            };
            self.passed_over = Some((checkpoint, since));
            self.board.passed_over(checkpoint.get());
            if since.elapsed() >= PASSED_OVER_COMMIT {
                self.commit_passed_over(&kept).await?;
            }
            return Ok(Turn::Again);
        }
        self.passed_over = None;
        let failed = if checkpoint > kept.checkpoint {
            self.commit_reacted(&kept, reacted, checkpoint).await?
        } else {
            reacted.failed
        };
        if let Some((group, error)) = failed {
            // The intents of the events before it are executed first: a retry's backoff, or a
            // stop, never holds them back. If that parks an event, the failed one may be of its
            // stream: it is read again, to wait behind it (invariant 7 of `ledger.rs`).
            if !self.settle().await?.is_empty() {
                return Ok(Turn::Again);
            }
            return self.failed_event(group, error).await;
        }
        Ok(Turn::Again)
    }

    /// Commits the checkpoint past events with nothing to react to, if the task has read past
    /// the kept one.
    async fn commit_passed_over(&mut self, kept: &Kept) -> Result<(), TaskError> {
        if let Some((position, _)) = self.passed_over.take()
            && position > kept.checkpoint
        {
            self.commit(Vec::new(), position).await?;
            self.board.kept(position.get(), kept.counts);
        }
        Ok(())
    }

    /// Reads the batch after `checkpoint`, through today's upcasters, and reacts to the events
    /// the reactor subscribes to.
    async fn next_batch(&self, checkpoint: Position) -> Result<NextBatch, TaskError> {
        let filter = self.reactor.filter().clone();
        let mut read = AllRead::after(checkpoint)
            .limit(self.batch)
            .scan_limit(self.batch.saturating_mul(64).max(10_000));
        if let [category] = filter.categories.as_slice() {
            read = read.category(category.clone());
        }
        let slice = self
            .store
            .read_all(read)
            .await
            .map_err(StorageError::from)?;
        if slice.scanned_to <= checkpoint {
            return Ok(NextBatch::Wait);
        }
        self.board.set_state(ReactorState::CatchingUp);
        let events = match self.registry.upcasters().read(slice.events).await {
            Ok(events) => events,
            Err(failure) => return Ok(NextBatch::UpcastFailed(failure.to_string())),
        };
        let events: Vec<RecordedEvent> = events.into_iter().filter(|e| filter.admits(e)).collect();
        Ok(NextBatch::Reacted {
            scanned_to: slice.scanned_to,
            reacted: self.react(events, Waiting::Honoured).await?,
        })
    }

    /// Calls `react` on `events` in order, on a blocking thread, until one fails. Under
    /// [`Waiting::Honoured`], the events of a stream with parked events are not reacted to
    /// but kept to be parked behind them (invariant 7 of `ledger.rs`); a retry of a parked
    /// event passes [`Waiting::Retried`].
    async fn react(
        &self,
        events: Vec<RecordedEvent>,
        waiting: Waiting,
    ) -> Result<Reacted, TaskError> {
        let view = self.open_view().await?;
        let reactor = Arc::clone(&self.reactor);
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let waiting = match waiting {
                Waiting::Honoured => behind::parked_streams(&*view, &events)?,
                Waiting::Retried => BTreeSet::new(),
            };
            Ok::<_, StorageError>(react_batch(&reactor, &handle, view, events, waiting))
        })
        .await
        .map_err(|e| TaskError::Host(format!("the reactor's thread failed: {e}")))?
        .map_err(TaskError::from)
    }

    /// Retries the events of one position (an upcaster may give several for one stored
    /// event) that `react` failed on, then follows the policy.
    async fn failed_event(
        &mut self,
        group: Vec<RecordedEvent>,
        mut error: ReactError,
    ) -> Result<Turn, TaskError> {
        let name = self.reactor.name().to_string();
        let position = group[0].position;
        let mut attempts = 1;
        while attempts <= self.policy.retries {
            tracing::warn!(reactor = %name, position = position.get(), %error, attempts, "the reactor failed on an event; retrying");
            self.board.failed(error.to_string());
            if !self.pause(self.policy.backoff(attempts)).await {
                return Ok(Turn::Again);
            }
            attempts += 1;
            let reacted = self.react(group.clone(), Waiting::Retried).await?;
            match reacted.failed {
                None => {
                    let kept = self.kept().await?;
                    self.commit_reacted(&kept, reacted, position).await?;
                    return Ok(Turn::Again);
                }
                Some((_, again)) => error = again,
            }
        }
        let kept = self.kept().await?;
        self.board.failed(error.to_string());
        match self.policy.on_failure {
            Exhausted::Stop => {
                tracing::error!(reactor = %name, position = position.get(), %error, "the reactor stops at the event it failed on (on_failure = stop)");
                self.fault(position.get(), error.to_string()).await?;
                Ok(Turn::Faulted)
            }
            Exhausted::Skip => {
                tracing::warn!(reactor = %name, position = position.get(), %error, "the reactor skips the event it failed on (on_failure = skip)");
                let mut counts = kept.counts;
                counts.skipped += 1;
                self.commit(vec![ledger::reacted_counts(&counts)], position)
                    .await?;
                self.board.kept(position.get(), counts);
                Ok(Turn::Again)
            }
            Exhausted::Park => {
                tracing::warn!(reactor = %name, position = position.get(), %error, "the reactor parks the event it failed on (on_failure = park)");
                let parked = behind::parked_event(
                    &group[0],
                    ParkReason::Exhausted,
                    attempts,
                    Some(error.to_string()),
                );
                self.commit(parked::park(&parked).to_vec(), position)
                    .await?;
                self.board.kept(position.get(), kept.counts);
                self.board.parked(self.parked_count().await?);
                Ok(Turn::Again)
            }
        }
    }

    /// Commits the reactions of `reacted` that succeeded, with the checkpoint at `position`,
    /// and gives back its failure. A reaction whose output the store cannot hold (a state key
    /// or an intent past the model's limits) fails its event instead, before anything is
    /// committed.
    async fn commit_reacted(
        &self,
        kept: &Kept,
        reacted: Reacted,
        position: Position,
    ) -> Result<Option<(Vec<RecordedEvent>, ReactError)>, TaskError> {
        let mut counts = kept.counts;
        let mut writes = self.reaction_writes(&reacted, &mut counts);
        writes.extend(behind::park_behind(&reacted.behind));
        writes.push(ledger::reacted_counts(&counts));
        self.commit(writes, position).await?;
        self.board.kept(position.get(), counts);
        if !reacted.behind.is_empty() {
            self.board.parked(self.parked_count().await?);
        }
        Ok(reacted.failed)
    }

    /// The writes of `reacted`'s successful reactions: their state, and each intent issued
    /// (invariant 1 of `ledger.rs`), counted in `counts`.
    fn reaction_writes(&self, reacted: &Reacted, counts: &mut Counts) -> Vec<ModelWrite> {
        let mut writes: Vec<ModelWrite> = ledger::state_writes(&reacted.state).collect();
        for (event, intents) in &reacted.done {
            for (index, intent) in intents.iter().enumerate() {
                let index = u32::try_from(index).unwrap_or(u32::MAX);
                let one =
                    IssuedIntent::new(self.reactor.name().as_str(), event, index, intent.clone());
                writes.push(ledger::issue(&one));
                counts.issued += 1;
            }
        }
        writes
    }

    /// Appends the outcomes recorded and not yet in the reactor's stream, and executes the
    /// intents issued and not yet executed, recording what came of each. Gives the positions
    /// of the events it parked, whose intents failed for the host.
    async fn settle(&self) -> Result<Vec<u64>, TaskError> {
        let view = self.open_view().await?;
        let outcomes: Vec<(Vec<u8>, RecordedOutcome)> = ledger::rows(&*view, OUTCOME)?;
        let issued: Vec<(Vec<u8>, IssuedIntent)> = ledger::rows(&*view, ISSUED)?;
        let mut counts = ledger::counts(&*view)?;
        let mut answered = Vec::new();
        for (_, intent) in &issued {
            answered.push(view.get(&ledger::recorded_key(&intent.key))?.is_some());
        }
        drop(view);
        if !outcomes.is_empty() {
            self.append_outcomes(outcomes).await?;
        }
        if issued.is_empty() {
            return Ok(Vec::new());
        }
        let mut writes = Vec::new();
        let mut intents = Vec::new();
        for ((_, intent), answered) in issued.into_iter().zip(answered) {
            if answered {
                // Executed before a reset, and it appended nothing: its outcome stands.
                counts.executed += 1;
                writes.push(ModelWrite::Delete {
                    key: ledger::intent_key(ISSUED, intent.position, intent.index),
                });
            } else {
                intents.push(intent);
            }
        }
        let name = self.reactor.name().to_string();
        let executed = execute_all(&self.commands, &name, &intents, &self.policy, &self.stop).await;
        let mut outcomes = Vec::new();
        let mut to_park: BTreeMap<(u64, String), Vec<IssuedIntent>> = BTreeMap::new();
        let mut last_error = None;
        for (issued, executed) in intents.into_iter().zip(executed) {
            match executed {
                Executed::Interrupted => {}
                Executed::Done => {
                    counts.executed += 1;
                    writes.push(ModelWrite::Delete {
                        key: ledger::intent_key(ISSUED, issued.position, issued.index),
                    });
                }
                Executed::Outcome(outcome) => {
                    counts.executed += 1;
                    let recorded = RecordedOutcome { issued, outcome };
                    writes.extend(ledger::record_outcome(&recorded));
                    outcomes.push(recorded);
                }
                Executed::HostFailed(error) => {
                    self.board.failed(error.clone());
                    match self.policy.on_failure {
                        // The row stays: the next start executes it again.
                        Exhausted::Stop => last_error = Some((issued.position, error)),
                        Exhausted::Skip => {
                            counts.executed += 1;
                            let recorded = RecordedOutcome {
                                issued,
                                outcome: IntentOutcome::Failed {
                                    reason: format!("the host failed the command: {error}"),
                                },
                            };
                            writes.extend(ledger::record_outcome(&recorded));
                            outcomes.push(recorded);
                        }
                        Exhausted::Park => {
                            writes.push(ModelWrite::Delete {
                                key: ledger::intent_key(ISSUED, issued.position, issued.index),
                            });
                            last_error = Some((issued.position, error));
                            to_park
                                .entry((issued.position, issued.event_id.clone()))
                                .or_default()
                                .push(issued);
                        }
                    }
                }
            }
        }
        // An event's intents that failed for the host are parked together, in one row.
        let parked_at: Vec<u64> = to_park.keys().map(|(position, _)| *position).collect();
        let error = last_error.clone().map(|(_, e)| e).unwrap_or_default();
        let now = cairn_store::Timestamp::now().as_millis();
        for ((position, event_id), intents) in to_park {
            let stream = intents[0].stream.clone();
            writes.extend(parked::park(&ParkedEvent {
                position,
                event_id,
                key: stream.clone(),
                stream,
                event_type: String::new(),
                reason: ParkReason::Exhausted,
                attempts: self.policy.retries + 1,
                last_error: Some(error.clone()),
                first_parked_at: now,
                parked_at: now,
                held: HeldIntents { intents },
            }));
        }
        writes.push(ledger::executed_count(&counts));
        self.amend(writes).await?;
        self.board.executed(counts.executed);
        if !parked_at.is_empty() {
            self.board.parked(self.parked_count().await?);
        }
        if !outcomes.is_empty() {
            let rows = outcomes
                .into_iter()
                .map(|o| {
                    (
                        ledger::intent_key(OUTCOME, o.issued.position, o.issued.index),
                        o,
                    )
                })
                .collect();
            self.append_outcomes(rows).await?;
        }
        if self.policy.on_failure == Exhausted::Stop
            && let Some((position, error)) = last_error
        {
            self.fault(position, error).await?;
            return Err(TaskError::Faulted);
        }
        Ok(parked_at)
    }

    /// Faults the reactor at `position`: kept (invariant 6 of `ledger.rs`), so a restart
    /// finds it faulted too, until a reset or a new version.
    async fn fault(&self, position: u64, error: String) -> Result<(), TaskError> {
        let fault = ledger::KeptFault {
            version: self.reactor.version(),
            position,
            error: error.clone(),
        };
        self.amend(vec![ModelWrite::Put {
            key: ledger::FAULT.to_vec(),
            value: ledger::encode(&fault),
        }])
        .await?;
        self.board.faulted(position, error);
        Ok(())
    }

    /// Whether the reactor was faulted by this version (it stays so); a fault of an earlier
    /// version is let go, and the new version tries the event again.
    async fn kept_fault(&self) -> Result<bool, TaskError> {
        let view = self.open_view().await?;
        let fault: Option<ledger::KeptFault> = match view.get(ledger::FAULT)? {
            Some(bytes) => Some(ledger::decode(&bytes)?),
            None => None,
        };
        drop(view);
        match fault {
            Some(fault) if fault.version == self.reactor.version() => {
                self.board.faulted(fault.position, fault.error);
                Ok(true)
            }
            Some(_) => {
                self.amend(vec![ModelWrite::Delete {
                    key: ledger::FAULT.to_vec(),
                }])
                .await?;
                Ok(false)
            }
            None => Ok(false),
        }
    }

    /// Appends the outcomes' events to the reactor's stream, in the order of their intents,
    /// then deletes their `o` rows. Their ids come from the intents' keys: an event appended
    /// already is recognised, and one appended already with other words (an outcome decided
    /// again after a crash) stands as it was first written.
    async fn append_outcomes(
        &self,
        outcomes: Vec<(Vec<u8>, RecordedOutcome)>,
    ) -> Result<(), TaskError> {
        let stream = outcome_stream(self.reactor.name().as_str())?;
        let refused = |other: AppendError| match other {
            AppendError::Storage(error) => TaskError::Storage(error),
            other => TaskError::Host(format!("the outcome event was refused: {other}")),
        };
        for chunk in outcomes.chunks(OUTCOMES_PER_APPEND) {
            let events = chunk
                .iter()
                .map(|(_, outcome)| outcome.event().map_err(TaskError::Host))
                .collect::<Result<Vec<_>, _>>()?;
            match self
                .store
                .append(stream.clone(), ExpectedVersion::Any, events.clone())
                .await
            {
                Ok(_) => {}
                Err(
                    AppendError::EventIdReused { .. } | AppendError::IdempotencyConflict { .. },
                ) => {
                    // Some were appended before: one at a time, each recognised or appended.
                    for event in events {
                        match self
                            .store
                            .append(stream.clone(), ExpectedVersion::Any, vec![event])
                            .await
                        {
                            Ok(_) | Err(AppendError::EventIdReused { .. }) => {}
                            Err(other) => return Err(refused(other)),
                        }
                    }
                }
                Err(other) => return Err(refused(other)),
            }
        }
        let writes = outcomes
            .into_iter()
            .map(|(key, _)| ModelWrite::Delete { key })
            .collect();
        self.amend(writes).await
    }

    /// Carries out an operator's request.
    async fn answer(&mut self, request: Request) {
        match request {
            Request::Retry { position, reply } => {
                let _ = reply.send(self.retry_parked(position).await);
            }
            Request::Discard { position, reply } => {
                let _ = reply.send(self.discard_parked(position).await);
            }
        }
    }

    /// Retries the events parked at `position`, or all of them: each stream's from its first
    /// parked event, in order, until one fails again (invariant 7 of `ledger.rs`). An event
    /// that waits behind another of its stream is not retried before it. Parked events are read
    /// a page at a time, never all at once.
    async fn retry_parked(&mut self, position: Option<u64>) -> Result<RetryReport, TaskError> {
        let mut report = RetryReport::default();
        match position {
            Some(position) => {
                let view = self.open_view().await?;
                let entry = parked::entry::<HeldIntents>(&*view, position)?;
                let first = match &entry {
                    Some(entry) => parked::first_of_key(&*view, &entry.key)?,
                    None => None,
                };
                drop(view);
                match (entry, first) {
                    (None, _) => {}
                    (Some(entry), Some(first)) if first != position => report.failed.push((
                        position,
                        format!(
                            "it waits behind the event parked at {first} of stream {}: retry that one",
                            entry.stream
                        ),
                    )),
                    (Some(entry), _) => {
                        self.retry_stream(&entry.key, &mut report).await?;
                    }
                }
            }
            None => {
                // Streams whose retry stopped at an event that failed again, not tried again.
                let mut stopped: HashSet<String> = HashSet::new();
                let mut after = 0;
                loop {
                    let view = self.open_view().await?;
                    let page = parked::page::<HeldIntents>(&*view, after, RETRY_PAGE)?;
                    drop(view);
                    let Some(last) = page.last().map(|entry| entry.position) else {
                        break;
                    };
                    for entry in page {
                        if !stopped.contains(&entry.key)
                            && !self.retry_stream(&entry.key, &mut report).await?
                        {
                            stopped.insert(entry.key);
                        }
                    }
                    after = last;
                }
            }
        }
        self.settle().await?;
        let kept = self.kept().await?;
        self.board.kept(kept.checkpoint.get(), kept.counts);
        self.board.parked(self.parked_count().await?);
        Ok(report)
    }

    /// Retries the events parked under `key` (a stream), from its first, in order, until one
    /// fails again; whether every one was let go.
    async fn retry_stream(
        &mut self,
        key: &str,
        report: &mut RetryReport,
    ) -> Result<bool, TaskError> {
        loop {
            let view = self.open_view().await?;
            let next = match parked::first_of_key(&*view, key)? {
                Some(position) => parked::entry::<HeldIntents>(&*view, position)?,
                None => None,
            };
            drop(view);
            let Some(entry) = next else {
                return Ok(true);
            };
            if !self.retry_one(entry, report).await? {
                return Ok(false);
            }
        }
    }

    /// Retries one parked event; whether it is let go.
    async fn retry_one(
        &mut self,
        entry: ParkedEvent,
        report: &mut RetryReport,
    ) -> Result<bool, TaskError> {
        let let_go = parked::let_go(&entry.key, entry.position);
        if !entry.held.intents.is_empty() {
            // The intents go back to the ledger, in the amendment that lets the parked row go,
            // and are executed under their keys before the events behind it.
            let mut writes: Vec<ModelWrite> =
                entry.held.intents.iter().map(ledger::issue).collect();
            writes.extend(let_go);
            self.amend(writes).await?;
            if self.settle().await?.contains(&entry.position) {
                report.failed.push((
                    entry.position,
                    "its intents failed for the host again".into(),
                ));
                return Ok(false);
            }
        } else {
            let group = self.read_position(entry.position).await?;
            // An event this version does not subscribe to reads as none: reacting to none lets
            // it go, and the events behind it go on.
            let reacted = self.react(group, Waiting::Retried).await?;
            if let Some((_, error)) = reacted.failed {
                // It stays parked, with why it failed this time.
                let again = ParkedEvent {
                    reason: ParkReason::Exhausted,
                    attempts: entry.attempts + 1,
                    last_error: Some(error.to_string()),
                    parked_at: cairn_store::Timestamp::now().as_millis(),
                    ..entry.clone()
                };
                self.amend(vec![parked::repark(&again)]).await?;
                report.failed.push((entry.position, error.to_string()));
                return Ok(false);
            }
            let kept = self.kept().await?;
            let mut counts = kept.counts;
            let mut writes = self.reaction_writes(&reacted, &mut counts);
            writes.extend(let_go);
            writes.push(ledger::reacted_counts(&counts));
            self.amend(writes).await?;
        }
        report.succeeded += 1;
        Ok(true)
    }

    async fn discard_parked(&mut self, position: u64) -> Result<usize, TaskError> {
        let view = self.open_view().await?;
        let entry = parked::entry::<HeldIntents>(&*view, position)?;
        drop(view);
        let Some(entry) = entry else {
            return Ok(0);
        };
        self.amend(parked::let_go(&entry.key, position).to_vec())
            .await?;
        let kept = self.kept().await?;
        self.board.kept(kept.checkpoint.get(), kept.counts);
        self.board.parked(self.parked_count().await?);
        Ok(1)
    }

    /// The events at `position` the reactor subscribes to, read through today's upcasters.
    async fn read_position(&self, position: u64) -> Result<Vec<RecordedEvent>, TaskError> {
        let read = AllRead::after(Position::new(position - 1))
            .limit(1)
            .scan_limit(1);
        let slice = self
            .store
            .read_all(read)
            .await
            .map_err(StorageError::from)?;
        let events = self
            .registry
            .upcasters()
            .read(slice.events)
            .await
            .map_err(|e| TaskError::Host(e.to_string()))?;
        let filter = self.reactor.filter();
        Ok(events
            .into_iter()
            .filter(|e| e.position.get() == position && filter.admits(e))
            .collect())
    }

    async fn kept(&self) -> Result<Kept, StorageError> {
        let view = self.open_view().await?;
        Ok(Kept {
            checkpoint: view.checkpoint().unwrap_or(Position::START),
            counts: ledger::counts(&*view)?,
        })
    }

    /// Moves the parked events of an older ledger to the shared one (`legacy_rows.rs`).
    async fn move_legacy_rows(&self) -> Result<(), TaskError> {
        let view = self.open_view().await?;
        let writes = legacy_rows::move_over(&*view)?;
        drop(view);
        self.amend(writes).await
    }

    async fn parked_count(&self) -> Result<u64, StorageError> {
        let view = self.open_view().await?;
        parked::count(&*view)
    }

    async fn open_view(&self) -> Result<Box<dyn ModelRead>, StorageError> {
        let store = Arc::clone(&self.store);
        let model = self.model.clone();
        tokio::task::spawn_blocking(move || store.read_model(&model))
            .await
            .map_err(StorageError::backend)?
    }

    async fn commit(&self, writes: Vec<ModelWrite>, checkpoint: Position) -> Result<(), TaskError> {
        self.store
            .commit_model(ModelCommit {
                model: self.model.clone(),
                writes: writes.into(),
                checkpoint,
            })
            .await?;
        Ok(())
    }

    async fn amend(&self, writes: Vec<ModelWrite>) -> Result<(), TaskError> {
        if writes.is_empty() {
            return Ok(());
        }
        self.store
            .amend_model(ModelAmend {
                model: self.model.clone(),
                writes,
            })
            .await?;
        Ok(())
    }
}

/// What a turn of the loop ended with.
enum Turn {
    /// Go on at once.
    Again,
    /// At the head: wait for it to pass this position.
    Wait(Position),
    /// Stopped at an event under the `stop` policy.
    Faulted,
}

/// The reactions to a batch: the events reacted to, each with its intents; the batch's writes
/// to the state; the events not reacted to, to be parked behind an earlier event of their
/// stream; and the events of the position `react` failed on, with why, if it did.
struct Reacted {
    done: Vec<(RecordedEvent, Vec<crate::reactors::intent::Intent>)>,
    state: Overlay,
    behind: Vec<RecordedEvent>,
    failed: Option<(Vec<RecordedEvent>, ReactError)>,
}

/// Whether a reaction keeps back the events of streams with parked events.
#[derive(Clone, Copy)]
enum Waiting {
    /// It does: events read from the log.
    Honoured,
    /// It does not: a parked event retried, which comes first of its stream.
    Retried,
}

/// What the next read of the log gave.
enum NextBatch {
    /// Nothing past the checkpoint: wait for the head.
    Wait,
    /// An upcaster failed on an event of the read; why.
    UpcastFailed(String),
    /// The batch, reacted to, and the last position its read examined.
    Reacted {
        scanned_to: Position,
        reacted: Reacted,
    },
}

/// Calls `react` on each event in order, each over the state as the events before it left it,
/// until one fails. The events an upcaster gave for one stored event share its position: they
/// are reacted to all or none, so a checkpoint never falls between them.
fn react_batch(
    reactor: &Arc<LoadedReactor>,
    handle: &tokio::runtime::Handle,
    view: Box<dyn ModelRead>,
    events: Vec<RecordedEvent>,
    waiting: BTreeSet<String>,
) -> Reacted {
    let committed = Arc::new(Mutex::new(view));
    let mut state = Arc::new(Overlay::new());
    let mut done: Vec<(RecordedEvent, Vec<crate::reactors::intent::Intent>)> = Vec::new();
    let mut behind = Vec::new();
    let mut at = 0;
    while at < events.len() {
        let position = events[at].position;
        let end = events[at..]
            .iter()
            .position(|e| e.position != position)
            .map_or(events.len(), |n| at + n);
        if waiting.contains(events[at].stream.as_str()) {
            // One row stands for the position's events: a retry reads them all again.
            behind.push(events[at].clone());
            at = end;
            continue;
        }
        // Siblings of one position: what the first ones did is undone if a later one fails.
        let before = (end - at > 1).then(|| ((*state).clone(), done.len()));
        for event in &events[at..end] {
            let view = StateView::new(Arc::clone(&committed), Arc::clone(&state));
            match reactor
                .blocking_react(handle, Box::new(view), event)
                .and_then(storable)
            {
                Ok(reaction) => {
                    let overlay = Arc::make_mut(&mut state);
                    for write in reaction.writes {
                        match write {
                            ModelWrite::Put { key, value } => overlay.insert(key, Some(value)),
                            ModelWrite::Delete { key } => overlay.insert(key, None),
                        };
                    }
                    done.push((event.clone(), reaction.intents));
                }
                Err(error) => {
                    if let Some((earlier, reacted)) = before {
                        state = Arc::new(earlier);
                        done.truncate(reacted);
                    }
                    let state = Arc::try_unwrap(state).unwrap_or_else(|shared| (*shared).clone());
                    return Reacted {
                        done,
                        state,
                        behind,
                        failed: Some((events[at..end].to_vec(), error)),
                    };
                }
            }
        }
        at = end;
    }
    let state = Arc::try_unwrap(state).unwrap_or_else(|shared| (*shared).clone());
    Reacted {
        done,
        state,
        behind,
        failed: None,
    }
}

/// `reaction`, if the reactor's model can hold what it writes and issues; else the module's
/// failure on the event (bad output), which the policy then handles.
fn storable(reaction: Reaction) -> Result<Reaction, ReactError> {
    let too_large = |what: String| {
        Err(ReactError::Call(CallError::BadOutput {
            message: format!("{what}; the reactor's state and intents must fit its model"),
        }))
    };
    for write in &reaction.writes {
        // The host keeps the module's key behind a one-byte prefix (`ledger.rs`).
        if write.key().len() + 1 > MAX_MODEL_KEY {
            return too_large(format!(
                "a state key of {} bytes is over {}",
                write.key().len(),
                MAX_MODEL_KEY - 1
            ));
        }
        if write.value().is_some_and(|v| v.len() > MAX_MODEL_VALUE) {
            return too_large(format!("a state value is over {MAX_MODEL_VALUE} bytes"));
        }
    }
    // An issued intent is kept as JSON with its event's id, position and key beside it.
    let room = MAX_MODEL_VALUE - 4_096;
    for intent in &reaction.intents {
        let size =
            intent.module.len() + intent.id.len() + intent.command_type.len() + intent.data.len();
        if size > room {
            return too_large(format!("an intent of {size} bytes is over {room}"));
        }
    }
    Ok(reaction)
}

/// The stream a reactor's outcome events go to: `{reactor}-outcomes`.
pub(crate) fn outcome_stream(reactor: &str) -> Result<StreamId, TaskError> {
    StreamId::new(&format!("{reactor}-outcomes"))
        .map_err(|e| TaskError::Host(format!("the reactor's stream name: {e}")))
}
