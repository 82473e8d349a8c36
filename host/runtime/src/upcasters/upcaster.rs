//! [`LoadedUpcaster`]: an upcaster module ready to run. Like every call, each `upcast` gets a
//! fresh instance from the cached `InstancePre`, runs under the module's `Callee` (the slow
//! lane while it is on probation), with the clock at 0 and randomness seeded with zeros: an
//! upcast depends on the stored event alone.

use std::collections::BTreeSet;
use std::sync::Arc;

use cairn_store::{EventType, Json, ModuleHash, ModuleName, StreamId};
use wasmtime::{Engine, Store};

use crate::call::bindings::aggregate::cairn::module::types::Event;
use crate::call::bindings::upcaster::{UpcasterModule, UpcasterModulePre};
use crate::call::callee::{CallBudget, CallThread, Callee, call_store, classify, finish_call};
use crate::call::limits::Limits;
use crate::call::sandbox::{CallInput, Sandbox};
use crate::call::slow_lane::SlowLane;
use crate::error::{CallError, LoadError};

/// The most events an upcaster may give for one stored event.
pub const MAX_EVENTS_PER_UPCAST: usize = 100;

/// What an upcaster upgrades: the stored events of these types in streams of this category.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upgrades {
    pub category: String,
    pub event_types: BTreeSet<EventType>,
}

impl Upgrades {
    /// Checks what the module said: a category that names streams, and at least one valid event
    /// type.
    fn checked(category: String, event_types: Vec<String>) -> Result<Self, String> {
        let stream = format!("{category}-x");
        if category.is_empty()
            || category.contains('-')
            || StreamId::new(&stream)
                .map(|s| s.category() != category || s.is_system())
                .unwrap_or(true)
        {
            return Err(format!(
                "its category {category:?} does not name streams: a category is the part of a \
                 stream name before the first `-`, such as `customers`"
            ));
        }
        if event_types.is_empty() {
            return Err("it upgrades no event types; name the stored types it reads".into());
        }
        let event_types = event_types
            .iter()
            .map(|t| EventType::new(t).map_err(|e| format!("its event type {t:?}: {e}")))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            category,
            event_types,
        })
    }

    /// Whether a stored event of `event_type` in a stream of `category` is upgraded.
    pub fn covers(&self, category: &str, event_type: &EventType) -> bool {
        self.category == category && self.event_types.contains(event_type)
    }
}

/// An event an upcaster gave, checked: a valid type name and valid JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpcastEvent {
    pub event_type: EventType,
    pub data: Json,
}

/// Why an `upcast` call gave no events.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpcastError {
    /// The module refused the event at `index` of the batch.
    #[error("it refused the event: {message}")]
    Refused { index: usize, message: String },
    /// The call failed (trap, fuel, CPU, memory, bad output, or the host's backstop).
    #[error(transparent)]
    Call(#[from] CallError),
}

/// An upcaster module, compiled and linked.
pub struct LoadedUpcaster {
    name: ModuleName,
    hash: ModuleHash,
    version: u64,
    callee: Callee,
    pre: UpcasterModulePre<Sandbox>,
    engine: Engine,
    limits: Arc<Limits>,
    upgrades: Upgrades,
}

impl std::fmt::Debug for LoadedUpcaster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedUpcaster")
            .field("name", &self.name)
            .field("hash", &self.hash)
            .field("version", &self.version)
            .field("upgrades", &self.upgrades)
            .finish_non_exhaustive()
    }
}

impl LoadedUpcaster {
    /// Links the module and asks it what it upgrades.
    pub(crate) async fn new(
        name: ModuleName,
        hash: ModuleHash,
        version: u64,
        pre: UpcasterModulePre<Sandbox>,
        engine: Engine,
        limits: Arc<Limits>,
        slow_lane: Arc<SlowLane>,
    ) -> Result<Self, LoadError> {
        let callee = Callee::new(name.as_str(), slow_lane);
        let fuel = limits.fuel_per_call;
        let budget = CallBudget::from_now(&limits, fuel);
        let asked = budget
            .metered(async {
                let mut store = call_store(
                    &engine,
                    &callee,
                    CallInput::FIXED,
                    &limits,
                    fuel,
                    &budget,
                    CallThread::Shared,
                )?;
                let instance = match pre.instantiate_async(&mut store).await {
                    Ok(instance) => instance,
                    Err(error) => return Err(classify(error, &store, fuel, &limits)),
                };
                let result = instance
                    .cairn_module_upcaster()
                    .call_upgrades(&mut store)
                    .await;
                finish_call(&store, fuel, &limits, result)
            })
            .await
            .map_err(LoadError::Module)?;
        let upgrades = Upgrades::checked(asked.category, asked.event_types)
            .map_err(|reason| LoadError::Upgrades { reason })?;
        Ok(Self {
            name,
            hash,
            version,
            callee,
            pre,
            engine,
            limits,
            upgrades,
        })
    }

    /// This module as version `version` of its name, once the store keeps it.
    pub(crate) fn kept_as(self, version: u64) -> Self {
        Self { version, ..self }
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

    /// What the module upgrades.
    pub fn upgrades(&self) -> &Upgrades {
        &self.upgrades
    }

    /// How the module's calls have stood: offences and probations since it was loaded.
    pub fn probation(&self) -> crate::Probation {
        self.callee.gate.probation()
    }

    /// The events readers see in place of each of `events` (type name, JSON data), in order.
    pub async fn upcast(
        self: &Arc<Self>,
        events: Vec<(String, String)>,
    ) -> Result<Vec<Vec<UpcastEvent>>, UpcastError> {
        let count = events.len();
        let fuel = self.limits.fuel_for_batch(count);
        let budget = CallBudget::from_now(&self.limits, fuel);
        let this = Arc::clone(self);
        let answer = self
            .callee
            .run_metered("upcast", &budget, move |budget| async move {
                let events: Vec<Event> = events
                    .into_iter()
                    .map(|(event_type, data)| Event { event_type, data })
                    .collect();
                let (mut store, instance) = this.instantiate(fuel, &budget).await?;
                let result = instance
                    .cairn_module_upcaster()
                    .call_upcast(&mut store, &events)
                    .await;
                Ok(finish_call(&store, fuel, &this.limits, result)?
                    .map_err(|refusal| (refusal.index, refusal.message)))
            })
            .await?;
        match answer {
            Ok(lists) => Ok(check_output(lists, count)?),
            Err((index, message)) => Err(UpcastError::Refused {
                index: index as usize,
                message,
            }),
        }
    }

    async fn instantiate(
        &self,
        fuel: u64,
        budget: &CallBudget,
    ) -> Result<(Store<Sandbox>, UpcasterModule), CallError> {
        let mut store = call_store(
            &self.engine,
            &self.callee,
            CallInput::FIXED,
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

/// Checks what `upcast` returned for `count` stored events: one list for each, of at most
/// [`MAX_EVENTS_PER_UPCAST`] events, each with a valid type name and valid JSON data.
fn check_output(lists: Vec<Vec<Event>>, count: usize) -> Result<Vec<Vec<UpcastEvent>>, CallError> {
    let bad = |message: String| CallError::BadOutput { message };
    if lists.len() != count {
        return Err(bad(format!(
            "upcast returned {} lists for {count} events; it must return one list per event",
            lists.len()
        )));
    }
    lists
        .into_iter()
        .enumerate()
        .map(|(index, events)| {
            if events.len() > MAX_EVENTS_PER_UPCAST {
                return Err(bad(format!(
                    "upcast gave {} events for event {index}; at most {MAX_EVENTS_PER_UPCAST}",
                    events.len()
                )));
            }
            events
                .into_iter()
                .map(|event| {
                    let event_type = EventType::new(&event.event_type).map_err(|e| {
                        bad(format!(
                            "upcast gave, for event {index}, an event whose type {e}"
                        ))
                    })?;
                    let data = Json::parse(&event.data).map_err(|e| {
                        bad(format!(
                            "upcast gave, for event {index}, a {event_type} whose data is {e}"
                        ))
                    })?;
                    Ok(UpcastEvent { event_type, data })
                })
                .collect()
        })
        .collect()
}
