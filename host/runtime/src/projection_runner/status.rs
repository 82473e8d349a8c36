//! What a projection reports: its state, progress and lag, and why it stopped.

/// What a runner is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    CatchingUp,
    Live,
    Faulted,
    Paused,
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
