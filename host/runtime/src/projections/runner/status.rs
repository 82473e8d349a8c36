//! What a projection reports: its state, progress and lag, and why it stopped; and
//! [`StatusBoard`], the one place a generation's status is written.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::projections::projection::EventPlace;

/// What a runner is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    CatchingUp,
    Live,
    Faulted,
    Paused,
    /// Another node sharing the store runs it (it holds the runner lease); the position is
    /// where that node's last commit left the read model.
    Elsewhere,
}

/// Why a runner stopped.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Fault {
    pub error: String,
    /// The position of the event it failed on (the batch's first, if the call itself failed).
    pub position: u64,
    pub event_type: String,
}

/// One generation's progress.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct GenerationStatus {
    /// The module version this generation runs.
    pub version: u64,
    /// Counts the read models built for this projection: each new version and each reset
    /// starts the next one.
    pub generation: u64,
    /// The read model's name in the store.
    pub model: String,
    pub state: RunState,
    /// The position the read model reflects.
    pub position: u64,
    /// The newest position when it last looked.
    pub head: u64,
    /// Events between the model and the head.
    pub lag_events: u64,
    /// How old, in milliseconds, the last event the model reflects is, while it catches up (0
    /// when live).
    pub lag_ms: u64,
    /// Events applied per second over the last batch.
    pub events_per_s: f64,
    pub fault: Option<Fault>,
}

/// A projection's status: the generation serving queries, and one being built beside it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ProjectionStatus {
    pub name: String,
    #[serde(flatten)]
    pub serving: GenerationStatus,
    /// A newer version, or a reset, catching up; it takes over when it is live.
    pub rebuilding: Option<GenerationStatus>,
}

impl GenerationStatus {
    /// The status measured against `head`, the store's newest position now: a runner that is
    /// paused or faulted does not look at the head, so its own idea of it goes stale.
    pub(super) fn against(mut self, head: u64) -> Self {
        if head > self.head {
            self.head = head;
            self.lag_events = head.saturating_sub(self.position);
        }
        self
    }

    /// Moves the model to `position` with the log at `head`.
    fn reach(&mut self, position: u64, head: u64) {
        self.position = position;
        self.head = head;
        self.lag_events = head.saturating_sub(position);
    }
}

/// A batch whose commit landed: what it moved the model to, and how fast.
pub(super) struct Landing {
    /// The position the model reflects now.
    pub(super) position: u64,
    /// The head when the batch was read.
    pub(super) head: u64,
    /// When the newest event the batch covers was recorded.
    pub(super) newest_time: Option<u64>,
    /// How many events it applied, since `started`.
    pub(super) applied: usize,
    pub(super) started: Instant,
}

/// A generation's status, written only through the events of its run named here: where its
/// model stands, a batch landed, caught up, paused and resumed, faulted.
///
/// Invariant: `lag_events` is `head - position` after every change, and only a fault sets
/// `fault`.
#[derive(Debug)]
pub(super) struct StatusBoard {
    /// The projection's name, for the log.
    projection: String,
    status: Mutex<GenerationStatus>,
}

impl StatusBoard {
    /// The status of a generation that has not read its checkpoint yet: the model is taken to
    /// be empty, catching up to `head`.
    pub(super) fn new(
        projection: &str,
        version: u64,
        generation: u64,
        model: String,
        head: u64,
    ) -> Self {
        Self {
            projection: projection.to_owned(),
            status: Mutex::new(GenerationStatus {
                version,
                generation,
                model,
                state: RunState::CatchingUp,
                position: 0,
                head,
                lag_events: head,
                lag_ms: 0,
                events_per_s: 0.0,
                fault: None,
            }),
        }
    }

    pub(super) fn get(&self) -> GenerationStatus {
        self.lock().clone()
    }

    /// The model reflects `position`, with the log at `head` (read before the first batch).
    pub(super) fn stands_at(&self, position: u64, head: u64) {
        self.lock().reach(position, head);
    }

    /// A batch's commit landed. Counts its events (`cairn_projection_events_applied_total`)
    /// and how long it took from its read to its commit (`cairn_projection_batch_seconds`).
    pub(super) fn landed(&self, landing: &Landing) {
        metrics::counter!("cairn_projection_events_applied_total", "projection" => self.projection.clone())
            .increment(landing.applied as u64);
        metrics::histogram!("cairn_projection_batch_seconds", "projection" => self.projection.clone())
            .record(landing.started.elapsed().as_secs_f64());
        let mut status = self.lock();
        status.reach(landing.position, landing.head);
        status.state = if landing.position >= landing.head {
            RunState::Live
        } else {
            RunState::CatchingUp
        };
        // Behind the head, the lag in time is how old the last event reflected is.
        status.lag_ms = match (status.state, landing.newest_time) {
            (RunState::CatchingUp, Some(time)) => cairn_store::Timestamp::now()
                .as_millis()
                .saturating_sub(time),
            _ => 0,
        };
        let seconds = landing.started.elapsed().as_secs_f64();
        if landing.applied > 0 && seconds > 0.0 {
            status.events_per_s = landing.applied as f64 / seconds;
        }
    }

    /// Nothing is left to read up to `head`: the model reflects `position` and is live.
    pub(super) fn caught_up(&self, position: u64, head: u64) {
        let mut status = self.lock();
        status.state = RunState::Live;
        status.reach(position, head);
        status.lag_ms = 0;
    }

    /// The runner stopped between batches for a pause. Returns the state it was in.
    pub(super) fn paused(&self) -> RunState {
        std::mem::replace(&mut self.lock().state, RunState::Paused)
    }

    /// The runner goes on after a pause, in the state `before` it.
    pub(super) fn resumed(&self, before: RunState) {
        let mut status = self.lock();
        if status.state == RunState::Paused {
            status.state = before;
        }
    }

    /// The module failed with `error` at the event `place`, if known: the runner stops until
    /// a new version replaces it.
    pub(super) fn faulted(&self, error: String, place: Option<&EventPlace>) {
        let EventPlace {
            position,
            event_type,
        } = place.cloned().unwrap_or_default();
        tracing::warn!(projection = %self.projection, position, %event_type, %error, "projection faulted");
        let mut status = self.lock();
        if status.state != RunState::Faulted {
            metrics::counter!("cairn_projection_faults_total", "projection" => self.projection.clone())
                .increment(1);
        }
        status.state = RunState::Faulted;
        status.fault = Some(Fault {
            error,
            position,
            event_type,
        });
    }

    fn lock(&self) -> MutexGuard<'_, GenerationStatus> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
