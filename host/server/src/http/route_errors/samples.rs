//! One error of every variant of each error type the HTTP layer turns into replies, for the
//! tests of the error table. After each list, a `match` with no wildcard names every variant:
//! a new variant does not compile there until it is named, and its sample goes in the list.

use std::time::Duration;

use cairn_runtime::{
    CallError, CommandError, ControlError, LoadError, QueryError, ReactorError, TaskError,
};
use cairn_store::{
    AppendError, Damage, EventId, ExpectedVersion, NameError, Position, ReadError, StorageError,
    StreamId, Version,
};

fn stream() -> StreamId {
    StreamId::new("sample-1").expect("a stream name")
}

/// Every [`StorageError`].
pub(super) fn storage_errors() -> Vec<StorageError> {
    let all = vec![
        StorageError::backend(std::io::Error::other("the disk failed")),
        StorageError::Corrupt("tables disagree".to_owned()),
        StorageError::Damaged(Damage::event(Position::new(1), "checksum")),
        StorageError::Closed,
    ];
    for e in &all {
        match e {
            StorageError::Backend(_)
            | StorageError::Corrupt(_)
            | StorageError::Damaged(_)
            | StorageError::Closed => {}
        }
    }
    all
}

/// Every [`cairn_runtime::PlanError`].
pub(super) fn plan_errors() -> Vec<cairn_runtime::PlanError> {
    use cairn_runtime::PlanError;
    let mut all: Vec<PlanError> = load_errors()
        .into_iter()
        .map(PlanError::Candidate)
        .collect();
    all.push(PlanError::NotAnAggregate("sample".to_owned()));
    all.push(PlanError::NotAProjection("sample".to_owned()));
    all.push(PlanError::Reactor("sample".to_owned()));
    all.extend(storage_errors().into_iter().map(PlanError::Storage));
    all.extend(
        call_errors()
            .into_iter()
            .filter(CallError::is_host_fault)
            .map(PlanError::Host),
    );
    for e in &all {
        match e {
            PlanError::Candidate(_)
            | PlanError::NotAnAggregate(_)
            | PlanError::NotAProjection(_)
            | PlanError::Reactor(_)
            | PlanError::Storage(_)
            | PlanError::Host(_) => {}
        }
    }
    all
}

/// A plan whose candidate failed on one stream.
pub(super) fn plan() -> cairn_runtime::AggregatePlan {
    cairn_runtime::AggregatePlan {
        module: "sample".to_owned(),
        kind: "aggregate",
        category: "sample".to_owned(),
        live: None,
        candidate: cairn_runtime::PlanModule {
            hash: "0".repeat(64),
            version: None,
        },
        replay: cairn_runtime::ReplayReport {
            streams: 1,
            failed: 1,
            ..cairn_runtime::ReplayReport::default()
        },
        redecide: cairn_runtime::RedecideReport::default(),
        changes: true,
        elapsed_ms: 0,
    }
}

/// Every [`AppendError`] an append over HTTP can meet: all but `CommandIdReused`, which only a
/// command's append (`CommandLog::append_command`) meets.
pub(super) fn append_errors() -> Vec<AppendError> {
    let mut all = vec![
        AppendError::ReservedStream(stream()),
        AppendError::NoEvents,
        AppendError::TooManyEvents { count: 2, max: 1 },
        AppendError::DuplicateEventId { id: EventId::new() },
        AppendError::EventTooLarge {
            index: 0,
            bytes: 2,
            max: 1,
        },
        AppendError::MetadataNotObject { index: 0 },
    ];
    all.extend(
        conflicts()
            .into_iter()
            .filter(|e| !matches!(e, AppendError::CommandIdReused { .. })),
    );
    all.extend(storage_errors().into_iter().map(AppendError::Storage));
    for e in &all {
        match e {
            AppendError::ReservedStream(_)
            | AppendError::NoEvents
            | AppendError::TooManyEvents { .. }
            | AppendError::DuplicateEventId { .. }
            | AppendError::EventTooLarge { .. }
            | AppendError::MetadataNotObject { .. }
            | AppendError::WrongExpectedVersion { .. }
            | AppendError::IdempotencyConflict { .. }
            | AppendError::EventIdReused { .. }
            | AppendError::CommandIdReused { .. }
            | AppendError::Storage(_) => {}
        }
    }
    all
}

/// The [`AppendError`]s that are conflicts: what a command's `CommandError::Conflict` holds
/// (`CommandPath::append_failed`).
fn conflicts() -> Vec<AppendError> {
    vec![
        AppendError::WrongExpectedVersion {
            stream: stream(),
            expected: ExpectedVersion::Any,
            actual: Version::new(1),
        },
        AppendError::IdempotencyConflict {
            stream: stream(),
            id: EventId::new(),
        },
        AppendError::EventIdReused {
            stream: stream(),
            id: EventId::new(),
        },
        AppendError::CommandIdReused {
            id: cairn_store::CommandId::from(uuid::Uuid::nil()),
        },
    ]
}

/// Every [`CallError`].
pub(super) fn call_errors() -> Vec<CallError> {
    let message = || "it failed".to_owned();
    let all = vec![
        CallError::OutOfFuel { fuel: 1 },
        CallError::CpuExceeded {
            limit: Duration::from_secs(1),
        },
        CallError::HostBackstop {
            after: Duration::from_secs(1),
        },
        CallError::OutOfMemory { limit: 1 },
        CallError::StackOverflow,
        CallError::Trap { message: message() },
        CallError::BadOutput { message: message() },
        CallError::HostStorage { message: message() },
        CallError::HostFailed { message: message() },
    ];
    for e in &all {
        match e {
            CallError::OutOfFuel { .. }
            | CallError::CpuExceeded { .. }
            | CallError::HostBackstop { .. }
            | CallError::OutOfMemory { .. }
            | CallError::StackOverflow
            | CallError::Trap { .. }
            | CallError::BadOutput { .. }
            | CallError::HostStorage { .. }
            | CallError::HostFailed { .. } => {}
        }
    }
    all
}

/// Every [`LoadError`].
pub(super) fn load_errors() -> Vec<LoadError> {
    let reason = || "a reason".to_owned();
    let mut all = vec![
        LoadError::Name(NameError::Empty),
        LoadError::Invalid { reason: reason() },
        LoadError::ExceedsLimits { reason: reason() },
        LoadError::CoreModule,
        LoadError::WrongWorld { reason: reason() },
        LoadError::BadImport { reason: reason() },
        LoadError::NameTaken {
            name: "sample".to_owned(),
            held_by: "an aggregate".to_owned(),
        },
        LoadError::Upgrades { reason: reason() },
        LoadError::CategoryTaken {
            category: "customers".into(),
            held_by: "customers_upcaster".into(),
        },
        LoadError::UnexpectedKind {
            expected: cairn_store::ModuleKind::Reactor,
            found: cairn_store::ModuleKind::Aggregate,
        },
        LoadError::Host(reason()),
    ];
    all.extend(call_errors().into_iter().map(LoadError::Module));
    all.extend(storage_errors().into_iter().map(LoadError::Storage));
    all.extend(
        storage_errors()
            .into_iter()
            .map(|e| LoadError::Read(ReadError::Storage(e))),
    );
    for e in &all {
        match e {
            LoadError::Name(_)
            | LoadError::Invalid { .. }
            | LoadError::ExceedsLimits { .. }
            | LoadError::CoreModule
            | LoadError::WrongWorld { .. }
            | LoadError::BadImport { .. }
            | LoadError::NameTaken { .. }
            | LoadError::Upgrades { .. }
            | LoadError::CategoryTaken { .. }
            | LoadError::Storage(_)
            | LoadError::Read(_)
            | LoadError::Module(_)
            | LoadError::UnexpectedKind { .. }
            | LoadError::Host(_) => {}
        }
    }
    all
}

/// Every [`CommandError`] of `CommandPath::execute`.
pub(super) fn command_errors() -> Vec<CommandError> {
    let mut all = vec![
        CommandError::UnknownModule("sample".to_owned()),
        CommandError::InvalidId(NameError::Empty),
        CommandError::Rejected("no".to_owned()),
        CommandError::InvalidCommand("what".to_owned()),
    ];
    all.extend(conflicts().into_iter().map(CommandError::Conflict));
    all.extend(call_errors().into_iter().map(CommandError::Module));
    all.extend(storage_errors().into_iter().map(CommandError::Storage));
    for e in &all {
        match e {
            CommandError::UnknownModule(_)
            | CommandError::InvalidId(_)
            | CommandError::Rejected(_)
            | CommandError::InvalidCommand(_)
            | CommandError::Conflict(_)
            | CommandError::Module(_)
            | CommandError::Storage(_) => {}
        }
    }
    all
}

/// The [`CommandError`]s of `CommandPath::state`, which decides nothing and appends nothing:
/// no rejection, no invalid command, no conflict.
pub(super) fn state_errors() -> Vec<CommandError> {
    command_errors()
        .into_iter()
        .filter(|e| {
            !matches!(
                e,
                CommandError::Rejected(_)
                    | CommandError::InvalidCommand(_)
                    | CommandError::Conflict(_)
            )
        })
        .collect()
}

/// Every [`QueryError`].
pub(super) fn query_errors() -> Vec<QueryError> {
    let mut all = vec![
        QueryError::UnknownProjection("sample".to_owned()),
        QueryError::Refused("no".to_owned()),
    ];
    all.extend(call_errors().into_iter().map(QueryError::Module));
    all.extend(storage_errors().into_iter().map(QueryError::Storage));
    for e in &all {
        match e {
            QueryError::UnknownProjection(_)
            | QueryError::Refused(_)
            | QueryError::Module(_)
            | QueryError::Storage(_) => {}
        }
    }
    all
}

/// Every [`ControlError`].
pub(super) fn control_errors() -> Vec<ControlError> {
    let mut all = vec![
        ControlError::UnknownProjection("sample".to_owned()),
        ControlError::RunsElsewhere("sample".to_owned()),
    ];
    all.extend(storage_errors().into_iter().map(ControlError::Storage));
    for e in &all {
        match e {
            ControlError::UnknownProjection(_)
            | ControlError::RunsElsewhere(_)
            | ControlError::Storage(_) => {}
        }
    }
    all
}

/// Every [`ReactorError`].
pub(super) fn reactor_errors() -> Vec<ReactorError> {
    let mut all = vec![
        ReactorError::UnknownReactor("sample".to_owned()),
        ReactorError::NotRunning("sample".to_owned()),
        ReactorError::RunsElsewhere("sample".to_owned()),
        ReactorError::Task(TaskError::Faulted),
        ReactorError::Task(TaskError::Host("sample".to_owned())),
    ];
    all.extend(storage_errors().into_iter().map(ReactorError::Storage));
    all.extend(
        storage_errors()
            .into_iter()
            .map(|e| ReactorError::Task(TaskError::Storage(e))),
    );
    for e in &all {
        match e {
            ReactorError::UnknownReactor(_)
            | ReactorError::NotRunning(_)
            | ReactorError::RunsElsewhere(_)
            | ReactorError::Storage(_)
            | ReactorError::Task(TaskError::Faulted | TaskError::Host(_) | TaskError::Storage(_)) =>
                {}
        }
    }
    all
}

/// Every [`cairn_groups::GroupError`].
pub(super) fn group_errors() -> Vec<cairn_groups::GroupError> {
    use cairn_groups::GroupError;
    let mut all = vec![
        GroupError::InvalidName("sample".to_owned()),
        GroupError::InvalidMember("sample".to_owned()),
        GroupError::InvalidDelivery("sample".to_owned()),
        GroupError::InvalidConfig("sample".to_owned()),
        GroupError::NotFound("sample".to_owned()),
        GroupError::RunsElsewhere,
        GroupError::Exists("sample".to_owned()),
        GroupError::UnknownDeliveries(vec!["0-1".to_owned()]),
        GroupError::BadRequest("sample".to_owned()),
        GroupError::Behind {
            position: 2,
            first: 1,
        },
        GroupError::NotParked(1),
        GroupError::Gone,
        GroupError::Failed("sample".to_owned()),
        GroupError::Model(cairn_store::ModelError::NeverCommitted {
            model: cairn_store::ReadModelName::new("sample").expect("a model name"),
        }),
    ];
    all.extend(storage_errors().into_iter().map(GroupError::Storage));
    for e in &all {
        match e {
            GroupError::InvalidName(_)
            | GroupError::InvalidMember(_)
            | GroupError::InvalidDelivery(_)
            | GroupError::InvalidConfig(_)
            | GroupError::NotFound(_)
            | GroupError::RunsElsewhere
            | GroupError::Exists(_)
            | GroupError::UnknownDeliveries(_)
            | GroupError::BadRequest(_)
            | GroupError::Behind { .. }
            | GroupError::NotParked(_)
            | GroupError::Gone
            | GroupError::Failed(_)
            | GroupError::Model(_)
            | GroupError::Storage(_) => {}
        }
    }
    all
}

/// Every [`cairn_sinks::SinkError`].
pub(super) fn sink_errors() -> Vec<cairn_sinks::SinkError> {
    use cairn_sinks::SinkError;
    let mut all = vec![
        SinkError::Invalid("sample".to_owned()),
        SinkError::NotFound("sample".to_owned()),
        SinkError::Exists("sample".to_owned()),
        SinkError::Unreachable("sample".to_owned()),
        SinkError::Model(cairn_store::ModelError::NeverCommitted {
            model: cairn_store::ReadModelName::new("sample").expect("a model name"),
        }),
    ];
    all.extend(group_errors().into_iter().map(SinkError::Group));
    all.extend(storage_errors().into_iter().map(SinkError::Storage));
    for e in &all {
        match e {
            SinkError::Invalid(_)
            | SinkError::NotFound(_)
            | SinkError::Exists(_)
            | SinkError::Unreachable(_)
            | SinkError::Group(_)
            | SinkError::Storage(_)
            | SinkError::Model(_) => {}
        }
    }
    all
}
