//! [`LoadedAggregate`]: an aggregate module ready to run, and its four calls. Each call gets a
//! fresh store from the cached `InstancePre`, so nothing one call does can be seen by the next,
//! and runs where and when the module's `Callee` says (the slow lane while it is on probation).

use std::sync::Arc;

use cairn_store::{EventType, Json, MAX_EVENTS_PER_APPEND, ModuleName};
use wasmtime::{Engine, Store};

use crate::call::bindings::aggregate::cairn::module::types::{Command, Event};
use crate::call::bindings::aggregate::exports::cairn::module::aggregate::DecideError;
use crate::call::bindings::aggregate::{AggregateModule, AggregateModulePre};
use crate::call::callee::{CallBudget, CallThread, Callee, call_store, classify, finish_call};
use crate::call::limits::Limits;
use crate::call::sandbox::{CallInput, Sandbox};
use crate::call::slow_lane::SlowLane;
use crate::error::CallError;
use cairn_store::ModuleHash;

/// An event `decide` produced, checked: a valid type name and valid JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecidedEvent {
    pub event_type: EventType,
    pub data: Json,
}

/// What `decide` answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The command causes these events (possibly none).
    Events(Vec<DecidedEvent>),
    /// The aggregate refused the command.
    Rejected(String),
    /// The module could not understand the command.
    Invalid(String),
}

/// An aggregate module, compiled and linked.
pub struct LoadedAggregate {
    name: ModuleName,
    hash: ModuleHash,
    version: u64,
    callee: Callee,
    pre: AggregateModulePre<Sandbox>,
    engine: Engine,
    limits: Arc<Limits>,
    /// `init`'s answer, once asked for (see [`LoadedAggregate::initial_state`]).
    initial_state: tokio::sync::OnceCell<Vec<u8>>,
}

impl std::fmt::Debug for LoadedAggregate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedAggregate")
            .field("name", &self.name)
            .field("hash", &self.hash)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl LoadedAggregate {
    pub(crate) fn new(
        name: ModuleName,
        hash: ModuleHash,
        version: u64,
        pre: AggregateModulePre<Sandbox>,
        engine: Engine,
        limits: Arc<Limits>,
        slow_lane: Arc<SlowLane>,
    ) -> Self {
        Self {
            callee: Callee::new(name.as_str(), slow_lane),
            name,
            hash,
            version,
            pre,
            engine,
            limits,
            initial_state: tokio::sync::OnceCell::new(),
        }
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

    /// The state of every aggregate with no events: `init` with the clock at 0 and randomness
    /// seeded with zeros, so the same bytes every time. Computed by the first call that needs
    /// it, then kept for the life of the loaded module.
    pub async fn initial_state(self: &Arc<Self>) -> Result<Vec<u8>, CallError> {
        self.initial_state
            .get_or_try_init(|| self.init(CallInput::FIXED))
            .await
            .cloned()
    }

    /// The state of an aggregate with no events, from a call of `init` with `input`.
    pub async fn init(self: &Arc<Self>, input: CallInput) -> Result<Vec<u8>, CallError> {
        let fuel = self.limits.fuel_per_call;
        let budget = CallBudget::from_now(&self.limits, fuel);
        let this = Arc::clone(self);
        self.callee
            .run_metered("init", &budget, move |budget| async move {
                let (mut store, instance) = this.instantiate(input, fuel, &budget).await?;
                let result = instance
                    .cairn_module_aggregate()
                    .call_init(&mut store)
                    .await;
                finish_call(&store, fuel, &this.limits, result)
            })
            .await
    }

    /// Folds `events` (type name, JSON data), oldest first, into `state`.
    pub async fn evolve(
        self: &Arc<Self>,
        state: Vec<u8>,
        events: Vec<(String, String)>,
        input: CallInput,
    ) -> Result<Vec<u8>, CallError> {
        let fuel = self.limits.fuel_for_batch(events.len());
        let budget = CallBudget::from_now(&self.limits, fuel);
        let this = Arc::clone(self);
        self.callee
            .run_metered("evolve", &budget, move |budget| async move {
                let events: Vec<Event> = events
                    .into_iter()
                    .map(|(event_type, data)| Event { event_type, data })
                    .collect();
                let (mut store, instance) = this.instantiate(input, fuel, &budget).await?;
                let result = instance
                    .cairn_module_aggregate()
                    .call_evolve(&mut store, &state, &events)
                    .await;
                finish_call(&store, fuel, &this.limits, result)?.map_err(|message| {
                    CallError::BadOutput {
                        message: format!("evolve failed: {message}"),
                    }
                })
            })
            .await
    }

    /// Decides what a command (type name, JSON data) does given `state`.
    pub async fn decide(
        self: &Arc<Self>,
        state: Vec<u8>,
        command_type: String,
        data: String,
        input: CallInput,
    ) -> Result<Decision, CallError> {
        let fuel = self.limits.fuel_per_call;
        let budget = CallBudget::from_now(&self.limits, fuel);
        let this = Arc::clone(self);
        self.callee
            .run_metered("decide", &budget, move |budget| async move {
                let command = Command { command_type, data };
                let (mut store, instance) = this.instantiate(input, fuel, &budget).await?;
                let result = instance
                    .cairn_module_aggregate()
                    .call_decide(&mut store, &state, &command)
                    .await;
                match finish_call(&store, fuel, &this.limits, result)? {
                    Ok(events) => check_events(events).map(Decision::Events),
                    Err(DecideError::Rejected(message)) => Ok(Decision::Rejected(message)),
                    Err(DecideError::Invalid(message)) => Ok(Decision::Invalid(message)),
                }
            })
            .await
    }

    /// The state as JSON.
    pub async fn state_json(
        self: &Arc<Self>,
        state: Vec<u8>,
        input: CallInput,
    ) -> Result<Json, CallError> {
        let fuel = self.limits.fuel_per_call;
        let budget = CallBudget::from_now(&self.limits, fuel);
        let this = Arc::clone(self);
        self.callee
            .run_metered("state_json", &budget, move |budget| async move {
                let (mut store, instance) = this.instantiate(input, fuel, &budget).await?;
                let result = instance
                    .cairn_module_aggregate()
                    .call_state_json(&mut store, &state)
                    .await;
                let text = finish_call(&store, fuel, &this.limits, result)?.map_err(|message| {
                    CallError::BadOutput {
                        message: format!("state-json failed: {message}"),
                    }
                })?;
                Json::parse(&text).map_err(|e| CallError::BadOutput {
                    message: format!("state-json returned {e}"),
                })
            })
            .await
    }

    async fn instantiate(
        &self,
        input: CallInput,
        fuel: u64,
        budget: &CallBudget,
    ) -> Result<(Store<Sandbox>, AggregateModule), CallError> {
        let mut store = call_store(
            &self.engine,
            &self.callee,
            input,
            &self.limits,
            fuel,
            budget,
            CallThread::Shared,
        )?;
        match self.pre.instantiate_async(&mut store).await {
            Ok(instance) => Ok((store, instance)),
            Err(error) => Err(classify(error, &store, fuel, &self.limits)),
        }
    }
}

/// Checks what `decide` returned: at most the events one append may hold, each with a valid
/// type name and valid JSON data.
fn check_events(events: Vec<Event>) -> Result<Vec<DecidedEvent>, CallError> {
    if events.len() > MAX_EVENTS_PER_APPEND {
        return Err(CallError::BadOutput {
            message: format!(
                "decide returned {} events; one command may produce at most {MAX_EVENTS_PER_APPEND}",
                events.len()
            ),
        });
    }
    events
        .into_iter()
        .enumerate()
        .map(|(index, event)| {
            let event_type =
                EventType::new(&event.event_type).map_err(|e| CallError::BadOutput {
                    message: format!("event {index}: type {e}"),
                })?;
            let data = Json::parse(&event.data).map_err(|e| CallError::BadOutput {
                message: format!("event {index} ({event_type}): data is {e}"),
            })?;
            Ok(DecidedEvent { event_type, data })
        })
        .collect()
}
