//! What a reactor reports ([`ReactorStatus`]), and the [`Board`] its task writes it on: the
//! task is the one writer; readers take a copy.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::reactors::ledger::Counts;

/// Where a reactor's task stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReactorState {
    /// Reacting to events the log holds past its checkpoint.
    CatchingUp,
    /// At the head, waiting for events.
    Live,
    /// Stopped at an event under the `stop` policy (its `fault`), until it is reset or a new
    /// version is uploaded.
    Faulted,
    /// Not running (the node is stopping, or the reactor was removed).
    Stopped,
}

/// Where and why a reactor stopped under the `stop` policy.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReactorFault {
    /// The position of the event it failed on.
    pub position: u64,
    pub error: String,
}

/// A reactor's status, as `GET /v1/reactors/{name}` gives it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReactorStatus {
    pub name: String,
    pub version: u64,
    pub state: ReactorState,
    /// When faulted: where and why.
    pub fault: Option<ReactorFault>,
    /// The position of the last event reacted to (or parked, or skipped).
    pub position: u64,
    /// The head of the log when the status was taken.
    pub head: u64,
    /// Events between the checkpoint and the head (of every stream: the reactor may want only
    /// some of them).
    pub lag: u64,
    /// Parked events.
    pub parked: u64,
    pub intents_issued: u64,
    pub intents_executed: u64,
    pub skipped: u64,
    /// Why the last failure happened (a retry that succeeded since does not clear it).
    pub last_error: Option<String>,
    /// The head has moved past the checkpoint, and the checkpoint has not moved, for longer
    /// than `[reactors] stall_after_ms`.
    pub stalled: bool,
}

/// What a task knows of itself, which a status is made from.
#[derive(Debug)]
struct Known {
    version: u64,
    state: ReactorState,
    fault: Option<ReactorFault>,
    position: u64,
    parked: u64,
    counts: Counts,
    last_error: Option<String>,
    /// When the checkpoint last moved, or the task found nothing to do.
    progressed: Instant,
}

/// A reactor's status, written by its task.
#[derive(Clone, Debug)]
pub(crate) struct Board {
    name: Arc<str>,
    stall_after: Duration,
    known: Arc<Mutex<Known>>,
}

impl Board {
    pub(crate) fn new(name: &str, version: u64, stall_after: Duration) -> Self {
        Self {
            name: Arc::from(name),
            stall_after,
            known: Arc::new(Mutex::new(Known {
                version,
                state: ReactorState::CatchingUp,
                fault: None,
                position: 0,
                parked: 0,
                counts: Counts::default(),
                last_error: None,
                progressed: Instant::now(),
            })),
        }
    }

    fn with<T>(&self, change: impl FnOnce(&mut Known) -> T) -> T {
        change(&mut self.known.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn set_version(&self, version: u64) {
        self.with(|k| k.version = version);
    }

    /// The checkpoint and the counts as kept, after a commit.
    pub(crate) fn kept(&self, position: u64, counts: Counts) {
        self.with(|k| {
            if position != k.position {
                k.progressed = Instant::now();
            }
            k.position = position;
            k.counts = counts;
        });
    }

    /// The count of intents executed, after outcomes were recorded.
    pub(crate) fn executed(&self, executed: u64) {
        self.with(|k| k.counts.executed = executed);
    }

    /// How many events are parked, after an event was parked or let go (only then: counting
    /// them reads every parked row).
    pub(crate) fn parked(&self, parked: u64) {
        self.with(|k| k.parked = parked);
    }

    /// The task has read past events with nothing to react to up to `position`, not yet
    /// committed.
    pub(crate) fn passed_over(&self, position: u64) {
        self.with(|k| {
            if position > k.position {
                k.progressed = Instant::now();
                k.position = position;
            }
        });
    }

    pub(crate) fn set_state(&self, state: ReactorState) {
        self.with(|k| {
            if state == ReactorState::Live {
                k.progressed = Instant::now();
            }
            k.state = state;
            k.fault = None;
        });
    }

    /// Faulted at `position`, for `error`.
    pub(crate) fn faulted(&self, position: u64, error: String) {
        self.with(|k| {
            k.state = ReactorState::Faulted;
            k.fault = Some(ReactorFault { position, error });
        });
    }

    pub(crate) fn failed(&self, error: String) {
        self.with(|k| k.last_error = Some(error));
    }

    /// The status, measured against `head`; it also sets the reactor's gauges.
    pub(crate) fn status(&self, head: u64) -> ReactorStatus {
        let status = self.with(|k| ReactorStatus {
            name: self.name.to_string(),
            version: k.version,
            state: k.state,
            fault: k.fault.clone(),
            position: k.position,
            head,
            lag: head.saturating_sub(k.position),
            parked: k.parked,
            intents_issued: k.counts.issued,
            intents_executed: k.counts.executed,
            skipped: k.counts.skipped,
            last_error: k.last_error.clone(),
            stalled: head > k.position && k.progressed.elapsed() > self.stall_after,
        });
        let reactor = self.name.to_string();
        metrics::gauge!("cairn_reactor_lag", "reactor" => reactor.clone()).set(status.lag as f64);
        metrics::gauge!("cairn_reactor_parked", "reactor" => reactor.clone())
            .set(status.parked as f64);
        metrics::gauge!("cairn_reactor_intents_issued", "reactor" => reactor.clone())
            .set(status.intents_issued as f64);
        metrics::gauge!("cairn_reactor_intents_executed", "reactor" => reactor.clone())
            .set(status.intents_executed as f64);
        metrics::gauge!("cairn_reactor_stalled", "reactor" => reactor).set(if status.stalled {
            1.0
        } else {
            0.0
        });
        status
    }
}
