//! [`LoadedReactor`]: a reactor module ready to run, and its calls. Like a projection's, each
//! call gets a fresh store from the cached `InstancePre`, and reads its state through the `kv`
//! import, which reads redb synchronously: `react` runs on the runner's blocking thread.

use std::sync::Arc;

use cairn_store::{ModelRead, ModelWrite, ModuleHash, ModuleName, Position, RecordedEvent};
use sha2::Digest;
use wasmtime::{Engine, Store};

use crate::call::bindings::reactor::exports::cairn::module::reactor::RecordedEvent as WitEvent;
use crate::call::bindings::reactor::{ReactorModule, ReactorModulePre};
use crate::call::callee::{CallBudget, CallThread, Callee, call_store, classify, finish_call};
use crate::call::limits::Limits;
use crate::call::sandbox::{CallInput, Sandbox};
use crate::call::slow_lane::SlowLane;
use crate::error::CallError;
use crate::projections::kv_session::KvSession;
use crate::projections::projection::{ProjectionFilter, take_session};
use crate::reactors::intent::Intent;

/// What `react` made of one event: the intents, in order, and the writes to the reactor's
/// state, one per key touched, in key order.
#[derive(Debug, Default)]
pub struct Reaction {
    pub intents: Vec<Intent>,
    pub writes: Vec<ModelWrite>,
}

/// Why `react` gave no reaction. Its writes are discarded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReactError {
    /// The module returned an error for the event; the message is the module's.
    #[error("the reactor refused the event: {0}")]
    Refused(String),
    /// The call failed (trap, fuel, CPU, memory, bad output, or the host's backstop).
    #[error(transparent)]
    Call(#[from] CallError),
}

/// A reactor module, compiled and linked.
pub struct LoadedReactor {
    name: ModuleName,
    hash: ModuleHash,
    version: u64,
    callee: Callee,
    pre: ReactorModulePre<Sandbox>,
    engine: Engine,
    limits: Arc<Limits>,
    filter: ProjectionFilter,
    /// The head of the log when this version was installed: where a reactor never run starts.
    installed_at: Position,
}

impl std::fmt::Debug for LoadedReactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedReactor")
            .field("name", &self.name)
            .field("hash", &self.hash)
            .field("version", &self.version)
            .field("filter", &self.filter)
            .finish_non_exhaustive()
    }
}

impl LoadedReactor {
    /// Links the module and asks it for its subscription. `installed_at` is the head of the
    /// log as it is installed.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn new(
        name: ModuleName,
        hash: ModuleHash,
        version: u64,
        pre: ReactorModulePre<Sandbox>,
        engine: Engine,
        limits: Arc<Limits>,
        slow_lane: Arc<SlowLane>,
        installed_at: Position,
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
            installed_at,
        };
        let fuel = loaded.limits.fuel_per_call;
        let budget = CallBudget::from_now(&loaded.limits, fuel);
        let filter = budget
            .metered(async {
                let (mut store, instance) = loaded
                    .instantiate(CallInput::FIXED, fuel, &budget, None)
                    .await?;
                let result = instance
                    .cairn_module_reactor()
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

    /// The head of the log when this version was installed.
    pub fn installed_at(&self) -> Position {
        self.installed_at
    }

    /// The events the module asked for.
    pub fn filter(&self) -> &ProjectionFilter {
        &self.filter
    }

    /// How the module's calls have stood: offences and probations since it was loaded.
    pub fn probation(&self) -> crate::Probation {
        self.callee.gate.probation()
    }

    /// Calls `react` on `event` over the reactor's state `view`, on the current thread, which
    /// must be one that may block: the module reads its state through `view` synchronously,
    /// and the call runs here, on `handle`'s runtime, until it returns. The clock reads the
    /// event's time, and randomness is seeded from its id. While the module is on probation
    /// (it ran out of fuel or CPU lately), the call waits its turn on the slow lane, so a
    /// misbehaving reactor never takes the command path's threads.
    pub fn blocking_react(
        self: &Arc<Self>,
        handle: &tokio::runtime::Handle,
        view: Box<dyn ModelRead>,
        event: &RecordedEvent,
    ) -> Result<Reaction, ReactError> {
        let fuel = self.limits.fuel_per_call;
        let budget = CallBudget::from_now(&self.limits, fuel);
        let input = CallInput {
            time_ms: event.recorded_at.as_millis(),
            seed: sha2::Sha256::digest(event.id.as_uuid().as_bytes()).into(),
        };
        let this = Arc::clone(self);
        let event = event.clone();
        let inner = budget.clone();
        let call = async move {
            let session = KvSession::new(view, false);
            let (mut store, instance) =
                this.instantiate(input, fuel, &inner, Some(session)).await?;
            let id = event.id.to_string();
            let result = instance
                .cairn_module_reactor()
                .call_react(&mut store, to_wit(&event, &id))
                .await;
            let answer = finish_call(&store, fuel, &this.limits, result)?;
            let session = take_session(&mut store)?;
            tokio::task::spawn_blocking(move || drop(store));
            Ok(match answer {
                Ok(intents) => Ok(Reaction {
                    intents: intents.into_iter().map(Intent::from).collect(),
                    writes: session.into_writes(),
                }),
                Err(message) => Err(ReactError::Refused(message)),
            })
        };
        let callee = &self.callee;
        let result: Result<Result<Reaction, ReactError>, CallError> =
            handle.block_on(callee.run("react", &budget, budget.metered(call)));
        match result {
            Ok(reaction) => reaction,
            Err(error) => Err(ReactError::Call(error)),
        }
    }

    async fn instantiate(
        &self,
        input: CallInput,
        fuel: u64,
        budget: &CallBudget,
        session: Option<KvSession>,
    ) -> Result<(Store<Sandbox>, ReactorModule), CallError> {
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

/// The module's view of `event`, borrowing its texts.
fn to_wit<'a>(event: &'a RecordedEvent, id: &'a str) -> WitEvent<'a> {
    WitEvent {
        id,
        stream_name: event.stream.as_str(),
        version: event.version.get(),
        position: event.position.get(),
        event_type: event.event_type.as_str(),
        data: event.data.as_str(),
        metadata: event.metadata.as_str(),
        recorded_at: event.recorded_at.as_millis(),
    }
}
