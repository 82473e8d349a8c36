//! The runtime's errors: one enum per operation.

use std::time::Duration;

use cairn_store::{AppendError, ModuleKind, ModulePutError, NameError, ReadError, StorageError};

/// Whose fault a failed call is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blame {
    /// The module's own doing (a trap, fuel, CPU, memory, its stack or bad output). The same
    /// call on the same input fails the same way.
    Module,
    /// The host's (a backstop reached, storage that failed, a sandbox or thread that failed).
    /// It says nothing about the module or its input: the same call may succeed when retried,
    /// it never faults a projection, and it never counts against the module.
    Host,
}

/// Why a call into a module failed. Nothing the call produced is used. Each variant has one
/// [`Blame`]: the module's variants first, then the host's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The call used its whole fuel budget. Fuel is deterministic, so a replay fails the same way.
    #[error("the module ran out of fuel (its budget was {fuel} units)")]
    OutOfFuel { fuel: u64 },
    /// The call used more CPU time than its limit: the module's own work, measured on the CPU
    /// clock of the threads that ran it, so time spent waiting never counts.
    #[error("the module used more than its {limit:?} of CPU time")]
    CpuExceeded { limit: Duration },
    /// The call did not end within the wall-clock backstop. That is the host's fault, not the
    /// module's (the host was too busy to run it, or a host import hung): the module is not
    /// blamed, nothing was appended, and a retry may succeed.
    #[error(
        "the host could not finish the call within its backstop of {after:?} (the host is busy \
         or a host import hung); the module is not blamed, and nothing was written"
    )]
    HostBackstop { after: Duration },
    /// The module asked for more memory than its limit.
    #[error("the module ran out of memory (its limit is {limit} bytes)")]
    OutOfMemory { limit: usize },
    /// The module's stack overflowed.
    #[error("the module overflowed its stack")]
    StackOverflow,
    /// The module trapped: a panic, an `unreachable`, a bad memory access.
    #[error("the module trapped: {message}")]
    Trap { message: String },
    /// The module returned something the host cannot use.
    #[error("the module returned bad output: {message}")]
    BadOutput { message: String },
    /// The store failed under a host import the module called (its read model, during a
    /// projection call): the call was stopped at once. The host's fault.
    #[error("the host's storage failed during the call: {message}; the module is not blamed")]
    HostStorage { message: String },
    /// The host failed around the call: its sandbox could not be set up, its thread failed, or
    /// the host could not use what it was given for reasons of its own. The host's fault.
    #[error("the host failed during the call: {message}; the module is not blamed")]
    HostFailed { message: String },
}

impl CallError {
    /// Whose fault the failure is.
    pub fn blame(&self) -> Blame {
        match self {
            CallError::OutOfFuel { .. }
            | CallError::CpuExceeded { .. }
            | CallError::OutOfMemory { .. }
            | CallError::StackOverflow
            | CallError::Trap { .. }
            | CallError::BadOutput { .. } => Blame::Module,
            CallError::HostBackstop { .. }
            | CallError::HostStorage { .. }
            | CallError::HostFailed { .. } => Blame::Host,
        }
    }

    /// The failure's stable name, as the HTTP API's error code and the metrics' `kind` label
    /// say it: `module_*` for the module's faults, and `host_backstop`, `storage_failed` and
    /// `internal` for the host's.
    pub fn code(&self) -> &'static str {
        match self {
            CallError::OutOfFuel { .. } => "module_out_of_fuel",
            CallError::CpuExceeded { .. } => "module_cpu_exceeded",
            CallError::HostBackstop { .. } => "host_backstop",
            CallError::OutOfMemory { .. } => "module_out_of_memory",
            CallError::StackOverflow => "module_stack_overflow",
            CallError::Trap { .. } => "module_trapped",
            CallError::BadOutput { .. } => "module_bad_output",
            CallError::HostStorage { .. } => "storage_failed",
            CallError::HostFailed { .. } => "internal",
        }
    }

    /// Whether the failure is the host's ([`Blame::Host`]).
    pub fn is_host_fault(&self) -> bool {
        self.blame() == Blame::Host
    }

    /// A failure of the host around the call, described by `message`.
    pub(crate) fn host(message: impl Into<String>) -> Self {
        CallError::HostFailed {
            message: message.into(),
        }
    }
}

/// Why a module was refused at upload (or could not be loaded back).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The module's name is not valid.
    #[error("invalid module name: {0}")]
    Name(#[from] NameError),
    /// The bytes are not a WebAssembly component.
    #[error("not a valid WebAssembly component: {reason}")]
    Invalid { reason: String },
    /// The component is valid but needs more than the runtime's limits allow (a larger
    /// initial memory or table): raise `Limits`, or make the module smaller.
    #[error("the module needs more than the runtime's limits allow: {reason}")]
    ExceedsLimits { reason: String },
    /// The bytes are a core module: it must be built as a component.
    #[error(
        "this is a core WebAssembly module, not a component; build it with \
         `cargo build --target wasm32-wasip2`"
    )]
    CoreModule,
    /// The component does not implement a cairn world.
    #[error("the component does not implement a cairn world: {reason}")]
    WrongWorld { reason: String },
    /// The component imports something the sandbox does not provide.
    #[error("the component imports what the sandbox does not provide: {reason}")]
    BadImport { reason: String },
    /// The name is held by a module of the other kind: a name keeps the kind it was first
    /// uploaded with.
    #[error(
        "the name '{name}' is held by {held_by} module; a name keeps its kind, so upload this \
         one under another name"
    )]
    NameTaken { name: String, held_by: String },
    /// Storing or reading the module failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Reading the module back failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// An upcaster said it upgrades something that cannot be upgraded: a category that names
    /// no streams, no event types, or a type that is not a valid name.
    #[error("the upcaster's upgrades are not valid: {reason}")]
    Upgrades { reason: String },
    /// Another upcaster already reads this category: a category has one upcaster, which maps
    /// every old shape of its events.
    #[error(
        "the category '{category}' is upcast by '{held_by}' already; a category has one \
         upcaster: upload this one as a new version of '{held_by}', or remove that one first"
    )]
    CategoryTaken { category: String, held_by: String },
    /// The upload asked for a module of one kind (a reactor, to build it from a position) and
    /// the component is of another.
    #[error(
        "the upload asked for a module of kind '{expected}' (`from` gives where a reactor \
         starts), and this component is of kind '{found}'"
    )]
    UnexpectedKind {
        expected: ModuleKind,
        found: ModuleKind,
    },
    /// The module failed in the call the host makes when it loads it.
    #[error("the module failed when it was loaded: {0}")]
    Module(CallError),
    /// The host could not set up the engine or compile the module.
    #[error("the runtime failed: {0}")]
    Host(String),
}

/// Why a command produced no result.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// No aggregate module has this name.
    #[error("no aggregate module is named '{0}'")]
    UnknownModule(String),
    /// The aggregate id cannot be part of a stream name.
    #[error("invalid aggregate id: {0}")]
    InvalidId(NameError),
    /// The aggregate refused the command; the message is the module's.
    #[error("{0}")]
    Rejected(String),
    /// The module could not understand the command (undecodable data, an unknown type).
    #[error("the command is not valid for this aggregate: {0}")]
    InvalidCommand(String),
    /// The caller's expected version does not match, or writers kept racing past the retries.
    #[error(transparent)]
    Conflict(AppendError),
    /// The module failed.
    #[error(transparent)]
    Module(#[from] CallError),
    /// The store failed.
    #[error(transparent)]
    Storage(StorageError),
}

/// Why a plan could not be made. What the candidate does to the history is the plan's
/// report, never an error.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The candidate is not an aggregate module this host can run.
    #[error(transparent)]
    Candidate(#[from] LoadError),
    /// The module's name is a projection's, and the candidate is an aggregate or upcaster.
    #[error("'{0}' is a projection; the candidate is not")]
    NotAnAggregate(String),
    /// The module's name is an aggregate's or an upcaster's, and the candidate a projection.
    #[error("'{0}' is not a projection; the candidate is")]
    NotAProjection(String),
    /// The candidate is a reactor, which has no history of its own to replay: a new version
    /// goes on from the last one's checkpoint, or from the position its upload names.
    #[error(
        "the candidate for '{0}' is a reactor, which a plan does not replay: a plan reads the \
         history of aggregates, upcasters and projections, and a new version of a reactor \
         reacts to the events after the last one's checkpoint (or after `?from=P` on upload)"
    )]
    Reactor(String),
    /// The store failed while the plan read the history.
    #[error(transparent)]
    Storage(StorageError),
    /// The host failed around a module call (the backstop on a busy host, say): the plan says
    /// nothing of the candidate then, and may be asked again.
    #[error(transparent)]
    Host(CallError),
}

impl From<ReadError> for PlanError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Storage(e) => Self::Storage(e),
        }
    }
}

impl From<ReadError> for CommandError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Storage(e) => Self::Storage(e),
        }
    }
}

impl From<ModulePutError> for LoadError {
    fn from(e: ModulePutError) -> Self {
        match e {
            ModulePutError::NameTaken { name, held_by } => LoadError::NameTaken {
                name: name.to_string(),
                held_by: match held_by.as_str() {
                    "aggregate" => "an aggregate".to_owned(),
                    "projection" => "a projection".to_owned(),
                    other => format!("a module of kind '{other}'"),
                },
            },
            ModulePutError::Storage(e) => LoadError::Storage(e),
        }
    }
}
