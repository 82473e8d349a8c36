//! The store against an in-memory reference model (proptest state machine): random appends with
//! every expected-version kind, exact and partial retries, reads of streams and of the global
//! log with filters, snapshots, and closing and reopening the database between steps. After each
//! step the store must answer exactly as the model does.

mod common;

use std::collections::HashMap;

use cairn_store::{
    AllRead, AppendError, AppendOutcome, Direction, EventId, EventStore, EventType,
    ExpectedVersion, Json, NewEvent, Position, RecordedEvent, RedbStore, Snapshot, SnapshotError,
    SnapshotKey, StreamRead, Version,
};
use proptest::prelude::*;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};

const STREAMS: [&str; 4] = ["acct-1", "acct-2", "cust-1", "solo"];
const CATEGORIES: [&str; 4] = ["acct", "cust", "solo", "none"];
const TYPES: [&str; 3] = ["Opened", "Deposited", "Withdrawn"];

#[derive(Clone, Debug, PartialEq, Eq)]
struct ModelEvent {
    id: u128,
    stream: usize,
    version: u64,
    position: u64,
    event_type: usize,
    data: String,
}

#[derive(Clone, Debug)]
struct EventSpec {
    id: u128,
    event_type: usize,
    data: String,
}

#[derive(Clone, Debug)]
enum Transition {
    Append {
        stream: usize,
        expected: ExpectedVersion,
        events: Vec<EventSpec>,
    },
    ReadStream {
        stream: usize,
        direction: Direction,
        from: Option<u64>,
        limit: usize,
    },
    ReadAll {
        after: u64,
        limit: usize,
        category: Option<usize>,
        event_type: Option<usize>,
    },
    PutSnapshot {
        stream: usize,
        version: u64,
        state: Vec<u8>,
    },
    Reopen,
}

/// What the last transition must have returned.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Expected {
    Nothing,
    Appended {
        first_version: u64,
        last_version: u64,
        first_position: u64,
        last_position: u64,
    },
    WrongVersion {
        actual: u64,
    },
    IdempotencyConflict,
    DuplicateId,
    NoEvents,
    Events {
        version: u64,
        events: Vec<ModelEvent>,
    },
    All {
        events: Vec<ModelEvent>,
        scanned_to: u64,
        head: u64,
    },
    SnapshotStored,
    SnapshotAhead,
}

#[derive(Clone, Debug, Default)]
struct Model {
    log: Vec<ModelEvent>,
    streams: HashMap<usize, Vec<u64>>, // stream -> positions, in version order
    ids: HashMap<u128, u64>,           // event id -> position
    snapshots: HashMap<usize, (u64, Vec<u8>)>,
    last: Option<Expected>,
    appends: Vec<(usize, Vec<EventSpec>)>, // every append attempted, for retries
}

impl Model {
    fn version(&self, stream: usize) -> u64 {
        self.streams.get(&stream).map_or(0, |p| p.len() as u64)
    }

    fn append(
        &mut self,
        stream: usize,
        expected: ExpectedVersion,
        events: &[EventSpec],
    ) -> Expected {
        if events.is_empty() {
            return Expected::NoEvents;
        }
        let mut seen = std::collections::HashSet::new();
        if events.iter().any(|e| !seen.insert(e.id)) {
            return Expected::DuplicateId;
        }
        let stored: Vec<u64> = events
            .iter()
            .filter_map(|e| self.ids.get(&e.id).copied())
            .collect();
        if !stored.is_empty() {
            let first = &self.log[stored[0] as usize - 1];
            let exact = stored.len() == events.len()
                && first.stream == stream
                && stored.iter().enumerate().all(|(i, p)| {
                    let e = &self.log[*p as usize - 1];
                    e.stream == stream && e.version == first.version + i as u64
                });
            if !exact {
                return Expected::IdempotencyConflict;
            }
            let last = &self.log[*stored.last().expect("non-empty") as usize - 1];
            return Expected::Appended {
                first_version: first.version,
                last_version: last.version,
                first_position: first.position,
                last_position: last.position,
            };
        }
        // Written out here rather than calling `ExpectedVersion::admits`, so the model does not
        // share the code it checks.
        let actual = self.version(stream);
        let admitted = match expected {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::StreamExists => actual > 0,
            ExpectedVersion::Exact(v) => v.get() == actual,
        };
        if !admitted {
            return Expected::WrongVersion { actual };
        }
        let first_position = self.log.len() as u64 + 1;
        for spec in events {
            let position = self.log.len() as u64 + 1;
            let positions = self.streams.entry(stream).or_default();
            positions.push(position);
            self.log.push(ModelEvent {
                id: spec.id,
                stream,
                version: positions.len() as u64,
                position,
                event_type: spec.event_type,
                data: spec.data.clone(),
            });
            self.ids.insert(spec.id, position);
        }
        let version = self.version(stream);
        Expected::Appended {
            first_version: version - events.len() as u64 + 1,
            last_version: version,
            first_position,
            last_position: self.log.len() as u64,
        }
    }

    fn read_stream(
        &self,
        stream: usize,
        direction: Direction,
        from: Option<u64>,
        limit: usize,
    ) -> Expected {
        let positions = self.streams.get(&stream).cloned().unwrap_or_default();
        let version = positions.len() as u64;
        let events: Vec<ModelEvent> = match direction {
            Direction::Forward => {
                let from = from.unwrap_or(1).max(1);
                positions
                    .iter()
                    .skip((from - 1) as usize)
                    .take(limit)
                    .map(|p| self.log[*p as usize - 1].clone())
                    .collect()
            }
            Direction::Backward => {
                let from = from.unwrap_or(version).min(version);
                positions
                    .iter()
                    .take(from as usize)
                    .rev()
                    .take(limit)
                    .map(|p| self.log[*p as usize - 1].clone())
                    .collect()
            }
        };
        Expected::Events { version, events }
    }

    fn read_all(
        &self,
        after: u64,
        limit: usize,
        category: Option<usize>,
        event_type: Option<usize>,
    ) -> Expected {
        let head = self.log.len() as u64;
        let matches = |e: &&ModelEvent| {
            category.is_none_or(|c| STREAMS[e.stream].split('-').next() == Some(CATEGORIES[c]))
                && event_type.is_none_or(|t| e.event_type == t)
        };
        let events: Vec<ModelEvent> = self
            .log
            .iter()
            .filter(|e| e.position > after)
            .filter(matches)
            .take(limit)
            .cloned()
            .collect();
        let scanned_to = if limit == 0 || after >= head {
            after
        } else if events.len() == limit {
            events.last().expect("limit > 0").position
        } else {
            head
        };
        Expected::All {
            events,
            scanned_to,
            head,
        }
    }
}

struct StoreModel;

fn event_specs(next_id: u128) -> impl Strategy<Value = Vec<EventSpec>> {
    proptest::collection::vec((0..TYPES.len(), 0u32..1000), 0..4).prop_map(move |specs| {
        specs
            .into_iter()
            .enumerate()
            .map(|(i, (event_type, n))| EventSpec {
                id: next_id + i as u128,
                event_type,
                data: format!(r#"{{"n":{n}}}"#),
            })
            .collect()
    })
}

impl ReferenceStateMachine for StoreModel {
    type State = Model;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::default()).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Transition> {
        // Fresh ids never collide: they start past every id used so far.
        let next_id = state
            .appends
            .iter()
            .flat_map(|(_, events)| events.iter().map(|e| e.id))
            .max()
            .unwrap_or(0)
            + 1;
        let versions: Vec<u64> = (0..STREAMS.len()).map(|s| state.version(s)).collect();
        let head = state.log.len() as u64;
        let expected = (0..STREAMS.len(), 0u64..3, 0u8..4).prop_map(move |(stream, near, kind)| {
            let exact = versions[stream].saturating_sub(1) + near; // actual-1, actual, actual+1
            (
                stream,
                match kind {
                    0 => ExpectedVersion::Any,
                    1 => ExpectedVersion::NoStream,
                    2 => ExpectedVersion::StreamExists,
                    _ => ExpectedVersion::Exact(Version::new(exact)),
                },
            )
        });
        let append = (expected, event_specs(next_id)).prop_map(|((stream, expected), events)| {
            Transition::Append {
                stream,
                expected,
                events,
            }
        });
        let limit = prop_oneof![0usize..4, Just(usize::MAX)];
        let read_stream = (
            0..STREAMS.len(),
            any::<bool>(),
            proptest::option::of(0u64..8),
            limit.clone(),
        )
            .prop_map(|(stream, forward, from, limit)| Transition::ReadStream {
                stream,
                direction: if forward {
                    Direction::Forward
                } else {
                    Direction::Backward
                },
                from,
                limit,
            });
        let read_all = (
            0..=head + 1,
            limit,
            proptest::option::of(0..CATEGORIES.len()),
            proptest::option::of(0..TYPES.len()),
        )
            .prop_map(|(after, limit, category, event_type)| Transition::ReadAll {
                after,
                limit,
                category,
                event_type,
            });
        let snapshot = (
            0..STREAMS.len(),
            0u64..6,
            proptest::collection::vec(any::<u8>(), 0..8),
        )
            .prop_map(|(stream, version, state)| Transition::PutSnapshot {
                stream,
                version,
                state,
            });
        let mut choices = vec![
            (6, append.boxed()),
            (2, read_stream.boxed()),
            (2, read_all.boxed()),
            (1, snapshot.boxed()),
            (1, Just(Transition::Reopen).boxed()),
        ];
        if !state.appends.is_empty() {
            let appends = state.appends.clone();
            // An exact retry of an earlier append, to any stream with any expectation.
            let retry = (0..appends.len(), 0..STREAMS.len(), any::<bool>()).prop_map({
                let appends = appends.clone();
                move |(i, stream, same_stream)| {
                    let (original, events) = appends[i].clone();
                    Transition::Append {
                        stream: if same_stream { original } else { stream },
                        expected: ExpectedVersion::NoStream,
                        events,
                    }
                }
            });
            // An earlier append with a fresh event added: a partial overlap.
            let partial = (0..appends.len(), any::<bool>()).prop_map(move |(i, front)| {
                let (stream, mut events) = appends[i].clone();
                let fresh = EventSpec {
                    id: next_id + 100,
                    event_type: 0,
                    data: "{}".into(),
                };
                if front {
                    events.insert(0, fresh)
                } else {
                    events.push(fresh)
                }
                Transition::Append {
                    stream,
                    expected: ExpectedVersion::Any,
                    events,
                }
            });
            choices.push((2, retry.boxed()));
            choices.push((1, partial.boxed()));
        }
        proptest::strategy::Union::new_weighted(choices).boxed()
    }

    fn apply(mut state: Model, transition: &Transition) -> Model {
        let outcome = match transition {
            Transition::Append {
                stream,
                expected,
                events,
            } => {
                state.appends.push((*stream, events.clone()));
                state.append(*stream, *expected, events)
            }
            Transition::ReadStream {
                stream,
                direction,
                from,
                limit,
            } => state.read_stream(*stream, *direction, *from, *limit),
            Transition::ReadAll {
                after,
                limit,
                category,
                event_type,
            } => state.read_all(*after, *limit, *category, *event_type),
            Transition::PutSnapshot {
                stream,
                version,
                state: bytes,
            } => {
                if *version > state.version(*stream) {
                    Expected::SnapshotAhead
                } else {
                    state.snapshots.insert(*stream, (*version, bytes.clone()));
                    Expected::SnapshotStored
                }
            }
            Transition::Reopen => Expected::Nothing,
        };
        state.last = Some(outcome);
        state
    }
}

struct System {
    runtime: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    store: Option<RedbStore>,
}

impl System {
    fn store(&self) -> &RedbStore {
        self.store.as_ref().expect("store is open between steps")
    }
}

fn to_new_event(spec: &EventSpec) -> NewEvent {
    NewEvent::new(
        EventType::new(TYPES[spec.event_type]).expect("valid"),
        Json::parse(&spec.data).expect("valid"),
    )
    .with_id(EventId::from(uuid::Uuid::from_u128(spec.id)))
}

fn to_model(event: &RecordedEvent) -> ModelEvent {
    ModelEvent {
        id: event.id.as_uuid().as_u128(),
        stream: STREAMS
            .iter()
            .position(|s| *s == event.stream.as_str())
            .expect("known stream"),
        version: event.version.get(),
        position: event.position.get(),
        event_type: TYPES
            .iter()
            .position(|t| *t == event.event_type.as_str())
            .expect("known type"),
        data: event.data.as_str().to_owned(),
    }
}

fn observed_append(result: Result<AppendOutcome, AppendError>) -> Expected {
    match result {
        Ok(o) => Expected::Appended {
            first_version: o.first_version.get(),
            last_version: o.last_version.get(),
            first_position: o.first_position.get(),
            last_position: o.last_position.get(),
        },
        Err(AppendError::WrongExpectedVersion { actual, .. }) => Expected::WrongVersion {
            actual: actual.get(),
        },
        Err(AppendError::IdempotencyConflict { .. }) => Expected::IdempotencyConflict,
        Err(AppendError::DuplicateEventId { .. }) => Expected::DuplicateId,
        Err(AppendError::NoEvents) => Expected::NoEvents,
        Err(other) => panic!("unexpected append error: {other}"),
    }
}

impl StateMachineTest for StoreModel {
    type SystemUnderTest = System;
    type Reference = StoreModel;

    fn init_test(_: &Model) -> System {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let store = runtime.block_on(common::open(dir.path()));
        System {
            runtime,
            dir,
            store: Some(store),
        }
    }

    fn apply(mut sys: System, model: &Model, transition: Transition) -> System {
        let observed = match transition {
            Transition::Append {
                stream,
                expected,
                events,
            } => {
                let events = events.iter().map(to_new_event).collect();
                let result = sys.runtime.block_on(sys.store().append(
                    common::stream(STREAMS[stream]),
                    expected,
                    events,
                ));
                observed_append(result)
            }
            Transition::ReadStream {
                stream,
                direction,
                from,
                limit,
            } => {
                let read = StreamRead {
                    from: from.map(Version::new),
                    direction,
                    limit,
                };
                let slice = sys
                    .runtime
                    .block_on(
                        sys.store()
                            .read_stream(common::stream(STREAMS[stream]), read),
                    )
                    .expect("read");
                assert!(
                    slice
                        .events
                        .iter()
                        .all(|e| e.stream.as_str() == STREAMS[stream])
                );
                Expected::Events {
                    version: slice.version.get(),
                    events: slice.events.iter().map(to_model).collect(),
                }
            }
            Transition::ReadAll {
                after,
                limit,
                category,
                event_type,
            } => {
                let mut read = AllRead::after(Position::new(after)).limit(limit);
                if let Some(c) = category {
                    read = read.category(CATEGORIES[c]);
                }
                if let Some(t) = event_type {
                    read = read.event_type(EventType::new(TYPES[t]).expect("valid"));
                }
                let slice = sys
                    .runtime
                    .block_on(sys.store().read_all(read))
                    .expect("read");
                Expected::All {
                    events: slice.events.iter().map(to_model).collect(),
                    scanned_to: slice.scanned_to.get(),
                    head: slice.head.get(),
                }
            }
            Transition::PutSnapshot {
                stream,
                version,
                state,
            } => {
                let key = SnapshotKey::new("module-hash").expect("valid");
                let snapshot = Snapshot {
                    version: Version::new(version),
                    state,
                };
                match sys.runtime.block_on(sys.store().put_snapshot(
                    common::stream(STREAMS[stream]),
                    key,
                    snapshot,
                )) {
                    Ok(()) => Expected::SnapshotStored,
                    Err(SnapshotError::AheadOfStream { .. }) => Expected::SnapshotAhead,
                    Err(other) => panic!("unexpected snapshot error: {other}"),
                }
            }
            Transition::Reopen => {
                let store = sys.store.take().expect("open");
                sys.runtime.block_on(store.close());
                sys.store = Some(sys.runtime.block_on(common::open(sys.dir.path())));
                Expected::Nothing
            }
        };
        assert_eq!(Some(&observed), model.last.as_ref());
        sys
    }

    fn check_invariants(sys: &System, model: &Model) {
        let store = sys.store();
        assert_eq!(store.head().get(), model.log.len() as u64, "head");
        for (index, name) in STREAMS.iter().enumerate() {
            let info = sys
                .runtime
                .block_on(store.stream_info(common::stream(name)))
                .expect("info");
            assert_eq!(
                info.version.get(),
                model.version(index),
                "version of {name}"
            );
            let key = SnapshotKey::new("module-hash").expect("valid");
            let snapshot = sys
                .runtime
                .block_on(store.get_snapshot(common::stream(name), key))
                .expect("snapshot");
            let expected = model.snapshots.get(&index).map(|(v, s)| Snapshot {
                version: Version::new(*v),
                state: s.clone(),
            });
            assert_eq!(snapshot, expected, "snapshot of {name}");
        }
    }

    fn teardown(mut sys: System, _: Model) {
        if let Some(store) = sys.store.take() {
            sys.runtime.block_on(store.close());
        }
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig {
        cases: 1_000,
        max_shrink_iters: 2_000,
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    #[test]
    fn store_behaves_like_the_model(sequential 1..24 => StoreModel);
}
