//! [`LoadedProjection`]: a projection module ready to run, and its calls. Like an aggregate's,
//! each call gets a fresh store from the cached `InstancePre`.
//!
//! `apply` and `query` read the read model through the `kv` import, which reads redb
//! synchronously; they run on the blocking pool, never on the async executor's threads. A
//! projection's runner, already on a blocking thread, calls `blocking_apply` there.

use crate::call::call_metrics::count_call;
use std::sync::Arc;

use cairn_store::{Json, ModelRead, ModelWrite, ModuleName, RecordedEvent};
use wasmtime::{Engine, Store};

use crate::call::bindings::projection::exports::cairn::module::projection::RecordedEvent as WitEvent;
use crate::call::bindings::projection::{ProjectionModule, ProjectionModulePre};
use crate::call::callee::{CallBudget, CallThread, Callee, call_store, classify, finish_call};
use crate::call::limits::Limits;
use crate::call::sandbox::{CallInput, CallLog, Sandbox};
use crate::call::slow_lane::SlowLane;
use crate::error::CallError;
use crate::projections::kv_session::KvSession;
use cairn_store::ModuleHash;

/// Which events a projection wants. An empty list lets everything through.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectionFilter {
    pub categories: Vec<String>,
    pub event_types: Vec<String>,
}

impl ProjectionFilter {
    /// Whether `event` gets through.
    pub fn admits(&self, event: &RecordedEvent) -> bool {
        (self.categories.is_empty() || self.categories.iter().any(|c| c == event.stream.category()))
            && (self.event_types.is_empty()
                || self
                    .event_types
                    .iter()
                    .any(|t| t == event.event_type.as_str()))
    }
}

/// Why `apply` did not take a batch. Its writes are discarded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The module refused the event at `index` of the batch, at `position` in the log, of
    /// type `event_type`.
    #[error("the projection failed at event {index} of the batch: {message}")]
    Refused {
        index: usize,
        position: u64,
        event_type: String,
        message: String,
    },
    /// The call failed (trap, fuel, CPU, memory, bad output, or the host's backstop).
    #[error(transparent)]
    Call(#[from] CallError),
}

/// A projection module, compiled and linked.
pub struct LoadedProjection {
    name: ModuleName,
    hash: ModuleHash,
    version: u64,
    callee: Callee,
    pre: ProjectionModulePre<Sandbox>,
    engine: Engine,
    limits: Arc<Limits>,
    filter: ProjectionFilter,
}

impl std::fmt::Debug for LoadedProjection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedProjection")
            .field("name", &self.name)
            .field("hash", &self.hash)
            .field("version", &self.version)
            .field("filter", &self.filter)
            .finish_non_exhaustive()
    }
}

impl LoadedProjection {
    /// Links the module and asks it for its filter.
    pub(crate) async fn new(
        name: ModuleName,
        hash: ModuleHash,
        version: u64,
        pre: ProjectionModulePre<Sandbox>,
        engine: Engine,
        limits: Arc<Limits>,
        slow_lane: Arc<SlowLane>,
    ) -> Result<Self, CallError> {
        let mut loaded = Self {
            callee: Callee::new(name.as_str(), slow_lane),
            name,
            hash,
            version,
            pre,
            engine,
            limits,
            filter: ProjectionFilter::default(),
        };
        let fuel = loaded.limits.fuel_per_call;
        let input = CallInput::FIXED;
        let budget = CallBudget::from_now(&loaded.limits, fuel);
        let filter = budget
            .metered(async {
                let (mut store, instance) = loaded.instantiate(input, fuel, &budget, None).await?;
                let result = instance
                    .cairn_module_projection()
                    .call_subscription(&mut store)
                    .await;
                finish_call(&store, fuel, &loaded.limits, result)
            })
            .await?;
        loaded.filter = ProjectionFilter {
            categories: filter.categories,
            event_types: filter.event_types,
        };
        Ok(loaded)
    }

    pub fn name(&self) -> &ModuleName {
        &self.name
    }

    pub fn hash(&self) -> &ModuleHash {
        &self.hash
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// How the module's calls have stood: offences and probations since it was loaded.
    pub fn probation(&self) -> crate::Probation {
        self.callee.gate.probation()
    }

    /// The events the module asked for.
    pub fn filter(&self) -> &ProjectionFilter {
        &self.filter
    }

    /// Applies `batch` over the read model `view`, and returns the writes to commit with the
    /// batch's checkpoint. The clock reads the last event's time. The call runs on a blocking
    /// thread (see [`LoadedProjection::blocking_apply`]).
    pub async fn apply(
        self: &Arc<Self>,
        view: Box<dyn ModelRead>,
        batch: ApplyBatch,
    ) -> Result<Vec<ModelWrite>, ApplyError> {
        let this = Arc::clone(self);
        let handle = tokio::runtime::Handle::current();
        let call = tokio::task::spawn_blocking(move || this.blocking_apply(&handle, view, batch));
        call.await.map_err(|e| {
            ApplyError::Call(CallError::host(format!("the call's thread failed: {e}")))
        })?
    }

    /// [`LoadedProjection::apply`] on the current thread, which must be one that may block (of
    /// the runtime's blocking pool): the module reads the model through `view` synchronously,
    /// and the call runs here, on `handle`'s runtime, until it returns.
    pub fn blocking_apply(
        self: &Arc<Self>,
        handle: &tokio::runtime::Handle,
        view: Box<dyn ModelRead>,
        batch: ApplyBatch,
    ) -> Result<Vec<ModelWrite>, ApplyError> {
        self.apply_here(handle, view, batch, CallLog::Logged)
    }

    /// [`LoadedProjection::blocking_apply`] of part of a batch that was applied already and
    /// failed, to find where it fails: what the guest writes, and how the call fails, were
    /// logged by that first call, and are not logged again for each try.
    pub(crate) fn blocking_probe(
        self: &Arc<Self>,
        handle: &tokio::runtime::Handle,
        view: Box<dyn ModelRead>,
        batch: ApplyBatch,
    ) -> Result<Vec<ModelWrite>, ApplyError> {
        self.apply_here(handle, view, batch, CallLog::Quiet)
    }

    fn apply_here(
        self: &Arc<Self>,
        handle: &tokio::runtime::Handle,
        view: Box<dyn ModelRead>,
        batch: ApplyBatch,
        log: CallLog,
    ) -> Result<Vec<ModelWrite>, ApplyError> {
        if batch.events.is_empty() {
            return Ok(Vec::new());
        }
        let fuel = self.limits.fuel_for_batch(batch.events.len());
        let budget = CallBudget::from_now(&self.limits, fuel);
        let call = async {
            let session = KvSession::new(view, false);
            let (mut store, instance) = self
                .instantiate(batch.input, fuel, &budget, Some(session))
                .await?;
            store.data_mut().log = log;
            let events: Vec<WitEvent<'_>> = batch.events.iter().map(to_wit).collect();
            let result = instance
                .cairn_module_projection()
                .call_apply(&mut store, &events)
                .await;
            drop(events);
            let answer = finish_call(&store, fuel, &self.limits, result)?;
            let session = take_session(&mut store)?;
            let outcome = match answer {
                Ok(()) => Ok(session.into_writes()),
                Err(refusal) => {
                    let index = refusal.index as usize;
                    let EventPlace {
                        position,
                        event_type,
                    } = batch.place(index).unwrap_or_default();
                    Err(ApplyError::Refused {
                        index,
                        position,
                        event_type,
                        message: refusal.message,
                    })
                }
            };
            // Releasing the instance clears the memory the call wrote, and the batch is
            // thousands of strings: another thread does both, so the result goes back now.
            tokio::task::spawn_blocking(move || drop((store, batch)));
            outcome
        };
        let backstop = budget.backstop_at.into();
        let result = handle.block_on(async {
            tokio::time::timeout_at(backstop, budget.metered(call))
                .await
                .unwrap_or_else(|_| Err(ApplyError::Call(budget.backstop_reached())))
        });
        // The probes of a failed batch's search (quiet calls) repeat a call already counted.
        if log == CallLog::Logged {
            let failure = match &result {
                Err(ApplyError::Call(error)) => Some(error),
                _ => None,
            };
            count_call(&self.callee.label, "apply", failure);
        }
        result
    }

    /// Answers the JSON `request` from the read model `view` (reads only). Queries run where
    /// the module's `Callee` says: the slow lane while the module is on probation.
    pub async fn query(
        self: &Arc<Self>,
        view: Box<dyn ModelRead>,
        request: Json,
    ) -> Result<Result<Json, String>, CallError> {
        let fuel = self.limits.fuel_per_call;
        let input = CallInput::FIXED;
        let budget = CallBudget::from_now(&self.limits, fuel);
        let this = Arc::clone(self);
        let inner = budget.clone();
        self.callee
            .run("query", &budget, async move {
                // The runtime the call runs on: the executor's, or the slow lane's (whose
                // blocking threads inherit its priority).
                let handle = tokio::runtime::Handle::current();
                let call = tokio::task::spawn_blocking(move || {
                    handle.block_on(inner.clone().metered(async move {
                        let session = KvSession::new(view, true);
                        let (mut store, instance) =
                            this.instantiate(input, fuel, &inner, Some(session)).await?;
                        let result = instance
                            .cairn_module_projection()
                            .call_query(&mut store, request.as_str())
                            .await;
                        let answer = finish_call(&store, fuel, &this.limits, result)?;
                        take_session(&mut store)?;
                        Ok(answer.and_then(|text| {
                            Json::parse(&text).map_err(|e| format!("the module answered {e}"))
                        }))
                    }))
                });
                call.await
                    .map_err(|e| CallError::host(format!("the call's thread failed: {e}")))?
            })
            .await
    }

    async fn instantiate(
        &self,
        input: CallInput,
        fuel: u64,
        budget: &CallBudget,
        session: Option<KvSession>,
    ) -> Result<(Store<Sandbox>, ProjectionModule), CallError> {
        let mut store = call_store(
            &self.engine,
            &self.callee,
            input,
            &self.limits,
            fuel,
            budget,
            CallThread::Own,
        )?;
        store.data_mut().kv = session;
        match self.pre.instantiate_async(&mut store).await {
            Ok(instance) => Ok((store, instance)),
            Err(error) => Err(classify(error, &store, fuel, &self.limits)),
        }
    }
}

/// The call's session, or the failure the guest could not be told about.
pub(crate) fn take_session(store: &mut Store<Sandbox>) -> Result<KvSession, CallError> {
    let session = store
        .data_mut()
        .kv
        .take()
        .ok_or_else(|| CallError::host("the call lost its read model"))?;
    match &session.failure {
        Some(why) => Err(CallError::BadOutput {
            message: why.clone(),
        }),
        None => Ok(session),
    }
}

/// A batch of events for [`LoadedProjection::apply`], with the call's clock (the last event's
/// time) and seed. The module reads the events' texts where they lie: they are copied once,
/// into the module's memory, and never into strings of their own.
pub struct ApplyBatch {
    events: Vec<RecordedEvent>,
    input: CallInput,
}

impl std::fmt::Debug for ApplyBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplyBatch")
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

impl ApplyBatch {
    pub fn new(events: Vec<RecordedEvent>) -> Self {
        let input = match events.last() {
            Some(last) => CallInput {
                time_ms: last.recorded_at.as_millis(),
                seed: seed_of(last),
            },
            None => CallInput::FIXED,
        };
        Self { events, input }
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// When the newest event was recorded, in milliseconds since the Unix epoch.
    pub fn newest_time(&self) -> Option<u64> {
        self.events
            .last()
            .map(|event| event.recorded_at.as_millis())
    }

    /// A batch of this one's first `events`, as if it had been read up to there (its call's
    /// time and seed are then those of its own last event).
    pub fn first(&self, events: usize) -> Self {
        Self::new(self.events.iter().take(events).cloned().collect())
    }

    /// The index of the first event of this batch at the position of the event at `index`
    /// (events an upcaster gave for one stored event share its position); `index` itself if
    /// it is past the end.
    pub(crate) fn first_at_position_of(&self, index: usize) -> usize {
        let Some(position) = self.events.get(index).map(|e| e.position) else {
            return index;
        };
        let mut start = index;
        while start > 0 && self.events[start - 1].position == position {
            start -= 1;
        }
        start
    }

    /// Where the event at `index` is, to name it in a fault.
    pub(crate) fn place(&self, index: usize) -> Option<EventPlace> {
        self.events.get(index).map(|event| EventPlace {
            position: event.position.get(),
            event_type: event.event_type.to_string(),
        })
    }
}

/// An event a projection failed on, as a fault names it: its position and its type.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct EventPlace {
    pub(crate) position: u64,
    pub(crate) event_type: String,
}

/// The module's view of `event`, borrowing its texts.
fn to_wit(event: &RecordedEvent) -> WitEvent<'_> {
    WitEvent {
        stream_name: event.stream.as_str(),
        version: event.version.get(),
        position: event.position.get(),
        event_type: event.event_type.as_str(),
        data: event.data.as_str(),
        metadata: event.metadata.as_str(),
        recorded_at: event.recorded_at.as_millis(),
    }
}

/// Randomness in `apply` is seeded from the batch's last event id, so a replay is identical.
fn seed_of(event: &RecordedEvent) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(event.id.as_uuid().as_bytes()).into()
}
