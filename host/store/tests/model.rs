//! The store against an in-memory reference model (proptest state machine): random appends with
//! every expected-version kind, exact and partial retries, reads of streams and of the global
//! log with filters and scan limits, snapshots, read models (commits with checkpoints, drops and
//! scans), and closing and reopening the database between steps. After each step the store must
//! answer exactly as the model does.

mod common;

use std::collections::{BTreeMap, HashMap};

use cairn_store::{
    AllRead, AppendError, AppendOutcome, Direction, EventId, EventStore, EventType,
    ExpectedVersion, Json, ModelCommit, ModelError, ModelWrite, NewEvent, Position, ReadModelName,
    RecordedEvent, RedbStore, Snapshot, SnapshotError, SnapshotKey, StreamRead, Version,
};
use proptest::prelude::*;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};

const STREAMS: [&str; 4] = ["acct-1", "acct-2", "cust-1", "solo"];
const CATEGORIES: [&str; 4] = ["acct", "cust", "solo", "none"];
const TYPES: [&str; 3] = ["Opened", "Deposited", "Withdrawn"];
const MODELS: [&str; 2] = ["blue", "green"];
const KEYS: [&[u8]; 5] = [b"a", b"ab", b"abc", b"b", b"\xff"];

/// A read model in the reference: its checkpoint and its entries.
type ModelState = (u64, BTreeMap<Vec<u8>, Vec<u8>>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct ModelEvent {
    id: u128,
    stream: usize,
    version: u64,
    position: u64,
    event_type: usize,
    data: String,
}

impl ModelEvent {
    /// What a read's byte budget counts of the event: its type, data and metadata (`{}`).
    fn bytes(&self) -> usize {
        TYPES[self.event_type].len() + self.data.len() + 2
    }
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
        max_bytes: usize,
    },
    ReadAll {
        after: u64,
        limit: usize,
        category: Option<usize>,
        event_type: Option<usize>,
        scan_limit: usize,
        max_bytes: usize,
    },
    CommitModel {
        model: usize,
        /// (key, value); no value is a delete.
        writes: Vec<(usize, Option<u8>)>,
        checkpoint: u64,
    },
    DropModel {
        model: usize,
    },
    ScanModel {
        model: usize,
        prefix: usize,
        start_after: Option<usize>,
        limit: usize,
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
    EventIdReused,
    DuplicateId,
    NoEvents,
    Events {
        version: u64,
        events: Vec<ModelEvent>,
        truncated: bool,
    },
    All {
        events: Vec<ModelEvent>,
        scanned_to: u64,
        head: u64,
        truncated: bool,
    },
    SnapshotStored,
    SnapshotAhead,
    ModelCommitted,
    ModelNotAhead,
    ModelEntries(Vec<(Vec<u8>, Vec<u8>)>),
}

#[derive(Clone, Debug, Default)]
struct Model {
    log: Vec<ModelEvent>,
    streams: HashMap<usize, Vec<u64>>, // stream -> positions, in version order
    ids: HashMap<u128, u64>,           // event id -> position
    snapshots: HashMap<usize, (u64, Vec<u8>)>,
    models: HashMap<usize, ModelState>,
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
        let reused = events.iter().any(|e| {
            self.ids.get(&e.id).is_some_and(|p| {
                let stored = &self.log[*p as usize - 1];
                (stored.event_type, &stored.data) != (e.event_type, &e.data)
            })
        });
        if reused {
            return Expected::EventIdReused;
        }
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
        max_bytes: usize,
    ) -> Expected {
        let positions = self.streams.get(&stream).cloned().unwrap_or_default();
        let version = positions.len() as u64;
        let wanted: Vec<ModelEvent> = match direction {
            Direction::Forward => {
                let from = from.unwrap_or(1).max(1);
                positions
                    .iter()
                    .skip((from - 1) as usize)
                    .map(|p| self.log[*p as usize - 1].clone())
                    .collect()
            }
            Direction::Backward => {
                let from = from.unwrap_or(version).min(version);
                positions
                    .iter()
                    .take(from as usize)
                    .rev()
                    .map(|p| self.log[*p as usize - 1].clone())
                    .collect()
            }
        };
        let (mut events, mut bytes, mut truncated) = (Vec::new(), 0, false);
        for event in wanted {
            if events.len() == limit {
                break;
            }
            if !events.is_empty() && bytes + event.bytes() > max_bytes {
                truncated = true;
                break;
            }
            bytes += event.bytes();
            events.push(event);
        }
        Expected::Events {
            version,
            events,
            truncated,
        }
    }

    fn read_all(
        &self,
        after: u64,
        limit: usize,
        category: Option<usize>,
        event_type: Option<usize>,
        scan_limit: usize,
        max_bytes: usize,
    ) -> Expected {
        let head = self.log.len() as u64;
        // The positions a read may examine: `after + 1 ..= window_end`.
        let window_end = after.saturating_add(scan_limit as u64).min(head);
        let matches = |e: &&ModelEvent| {
            category.is_none_or(|c| STREAMS[e.stream].split('-').next() == Some(CATEGORIES[c]))
                && event_type.is_none_or(|t| e.event_type == t)
        };
        let (mut events, mut bytes, mut cut_before) = (Vec::new(), 0, None);
        for event in self
            .log
            .iter()
            .filter(|e| e.position > after && e.position <= window_end)
            .filter(matches)
        {
            if events.len() == limit {
                break;
            }
            if !events.is_empty() && bytes + event.bytes() > max_bytes {
                cut_before = Some(event.position);
                break;
            }
            bytes += event.bytes();
            events.push(event.clone());
        }
        let scanned_to = if limit == 0 || after >= head {
            after
        } else if let Some(position) = cut_before {
            position - 1
        } else if events.len() == limit {
            events.last().expect("limit > 0").position
        } else {
            window_end
        };
        Expected::All {
            events,
            scanned_to,
            head,
            truncated: cut_before.is_some(),
        }
    }
}

impl Model {
    fn commit_model(
        &mut self,
        model: usize,
        writes: &[(usize, Option<u8>)],
        checkpoint: u64,
    ) -> Expected {
        let entry = self.models.entry(model);
        let (stored, entries) = match entry {
            std::collections::hash_map::Entry::Occupied(found) => {
                if checkpoint <= found.get().0 {
                    return Expected::ModelNotAhead;
                }
                found.into_mut()
            }
            std::collections::hash_map::Entry::Vacant(slot) => slot.insert((0, BTreeMap::new())),
        };
        for (key, value) in writes {
            match value {
                Some(v) => entries.insert(KEYS[*key].to_vec(), vec![*v]),
                None => entries.remove(KEYS[*key]),
            };
        }
        *stored = checkpoint;
        Expected::ModelCommitted
    }

    fn scan_model(
        &self,
        model: usize,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Vec<(Vec<u8>, Vec<u8>)> {
        let Some((_, entries)) = self.models.get(&model) else {
            return Vec::new();
        };
        entries
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .filter(|(k, _)| start_after.is_none_or(|after| k.as_slice() > after))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
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
        // Model events are 10 to 27 bytes: a budget under 60 holds 1 to 5 of them.
        let max_bytes = prop_oneof![0usize..60, Just(usize::MAX)];
        let read_stream = (
            0..STREAMS.len(),
            any::<bool>(),
            proptest::option::of(0u64..8),
            limit.clone(),
            max_bytes.clone(),
        )
            .prop_map(
                |(stream, forward, from, limit, max_bytes)| Transition::ReadStream {
                    stream,
                    direction: if forward {
                        Direction::Forward
                    } else {
                        Direction::Backward
                    },
                    from,
                    limit,
                    max_bytes,
                },
            );
        let read_all = (
            0..=head + 1,
            limit.clone(),
            proptest::option::of(0..CATEGORIES.len()),
            proptest::option::of(0..TYPES.len()),
            prop_oneof![0usize..5, Just(usize::MAX)],
            max_bytes,
        )
            .prop_map(
                |(after, limit, category, event_type, scan_limit, max_bytes)| Transition::ReadAll {
                    after,
                    limit,
                    category,
                    event_type,
                    scan_limit,
                    max_bytes,
                },
            );
        let checkpoints: Vec<u64> = (0..MODELS.len())
            .map(|m| state.models.get(&m).map_or(0, |(c, _)| *c))
            .collect();
        let commit_model = (
            0..MODELS.len(),
            proptest::collection::vec((0..KEYS.len(), proptest::option::of(any::<u8>())), 0..4),
            0u64..3,
        )
            .prop_map(move |(model, writes, step)| Transition::CommitModel {
                model,
                writes,
                // One behind, equal to, or one past the checkpoint.
                checkpoint: (checkpoints[model] + step).saturating_sub(1),
            });
        let drop_model = (0..MODELS.len()).prop_map(|model| Transition::DropModel { model });
        let scan_model = (
            0..MODELS.len(),
            0..KEYS.len() + 1,
            proptest::option::of(0..KEYS.len()),
            limit.clone(),
        )
            .prop_map(
                |(model, prefix, start_after, limit)| Transition::ScanModel {
                    model,
                    prefix,
                    start_after,
                    limit,
                },
            );
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
            (2, commit_model.boxed()),
            (1, drop_model.boxed()),
            (1, scan_model.boxed()),
            (1, Just(Transition::Reopen).boxed()),
        ];
        if !state.appends.is_empty() {
            let appends = state.appends.clone();
            let appends_for_altered = state.appends.clone();
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
            // An earlier append with one event's data changed: a reused id, if it was stored.
            let altered = (0..appends_for_altered.len(), any::<prop::sample::Index>()).prop_map(
                move |(i, which)| {
                    let (stream, mut events) = appends_for_altered[i].clone();
                    if !events.is_empty() {
                        let at = which.index(events.len());
                        events[at].data = r#"{"altered":true}"#.into();
                    }
                    Transition::Append {
                        stream,
                        expected: ExpectedVersion::Any,
                        events,
                    }
                },
            );
            choices.push((2, retry.boxed()));
            choices.push((1, partial.boxed()));
            choices.push((1, altered.boxed()));
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
                max_bytes,
            } => state.read_stream(*stream, *direction, *from, *limit, *max_bytes),
            Transition::ReadAll {
                after,
                limit,
                category,
                event_type,
                scan_limit,
                max_bytes,
            } => state.read_all(
                *after,
                *limit,
                *category,
                *event_type,
                *scan_limit,
                *max_bytes,
            ),
            Transition::CommitModel {
                model,
                writes,
                checkpoint,
            } => state.commit_model(*model, writes, *checkpoint),
            Transition::DropModel { model } => {
                state.models.remove(model);
                Expected::Nothing
            }
            Transition::ScanModel {
                model,
                prefix,
                start_after,
                limit,
            } => Expected::ModelEntries(state.scan_model(
                *model,
                prefix_of(*prefix),
                start_after.map(|k| KEYS[k]),
                *limit,
            )),
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

/// Prefix `n` of the generated ones: a key, or (past the last key) the empty prefix.
fn prefix_of(n: usize) -> &'static [u8] {
    KEYS.get(n).copied().unwrap_or(b"")
}

fn model_name(model: usize) -> ReadModelName {
    ReadModelName::new(MODELS[model]).expect("valid")
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
        Err(AppendError::EventIdReused { .. }) => Expected::EventIdReused,
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
                max_bytes,
            } => {
                let read = StreamRead {
                    from: from.map(Version::new),
                    direction,
                    limit,
                    max_bytes,
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
                    truncated: slice.truncated,
                }
            }
            Transition::ReadAll {
                after,
                limit,
                category,
                event_type,
                scan_limit,
                max_bytes,
            } => {
                let mut read = AllRead::after(Position::new(after))
                    .limit(limit)
                    .scan_limit(scan_limit)
                    .max_bytes(max_bytes);
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
                    truncated: slice.truncated,
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
            Transition::CommitModel {
                model,
                writes,
                checkpoint,
            } => {
                let commit = ModelCommit {
                    model: model_name(model),
                    writes: writes
                        .iter()
                        .map(|(key, value)| match value {
                            Some(v) => ModelWrite::Put {
                                key: KEYS[*key].to_vec(),
                                value: vec![*v],
                            },
                            None => ModelWrite::Delete {
                                key: KEYS[*key].to_vec(),
                            },
                        })
                        .collect(),
                    checkpoint: Position::new(checkpoint),
                };
                match sys.runtime.block_on(sys.store().commit_model(commit)) {
                    Ok(()) => Expected::ModelCommitted,
                    Err(ModelError::CheckpointNotAhead { .. }) => Expected::ModelNotAhead,
                    Err(other) => panic!("unexpected model error: {other}"),
                }
            }
            Transition::DropModel { model } => {
                sys.runtime
                    .block_on(sys.store().drop_model(model_name(model)))
                    .expect("drops");
                Expected::Nothing
            }
            Transition::ScanModel {
                model,
                prefix,
                start_after,
                limit,
            } => {
                let view = sys.store().read_model(&model_name(model)).expect("view");
                Expected::ModelEntries(
                    view.scan(prefix_of(prefix), start_after.map(|k| KEYS[k]), limit)
                        .expect("scan"),
                )
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
        for (index, name) in MODELS.iter().enumerate() {
            let view = store.read_model(&model_name(index)).expect("view");
            let reference = model.models.get(&index);
            assert_eq!(
                view.checkpoint().map(|p| p.get()),
                reference.map(|(c, _)| *c),
                "checkpoint of {name}"
            );
            assert_eq!(
                view.scan(b"", None, usize::MAX).expect("scan"),
                model.scan_model(index, b"", None, usize::MAX),
                "entries of {name}"
            );
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
