//! [`StoreModelTest`]: the store under test, stepped as the reference is; after each step its
//! answer must equal the model's, and its heads, versions, snapshots and read models too.

use std::marker::PhantomData;

use cairn_store::{
    AllRead, AppendError, AppendOutcome, EventId, EventLog, EventType, Json, ModelCommit,
    ModelError, ModelWrite, NewEvent, Position, ReadModelName, ReadModels, RecordedEvent, Snapshot,
    SnapshotError, SnapshotKey, Snapshots, StreamRead, StreamsRead, Version,
};
use proptest_state_machine::StateMachineTest;

use super::machine::StoreReference;
use super::reference::Model;
use super::transition::{
    CATEGORIES, EventSpec, Expected, KEYS, MODELS, ModelEvent, STREAM_CURSORS, STREAM_PREFIXES,
    STREAMS, TYPES, Transition, prefix_of,
};
use crate::Backend;
use crate::fixtures;

fn model_name(model: usize) -> ReadModelName {
    ReadModelName::new(MODELS[model]).expect("valid")
}

/// The model test run on backend `B`: the store under test, stepped as the reference is.
pub(super) struct StoreModelTest<B>(PhantomData<B>);

/// A store under test, with the runtime that drives it and the place it is kept.
pub(super) struct System<B: Backend> {
    runtime: tokio::runtime::Runtime,
    backend: B,
    store: Option<B::Store>,
}

impl<B: Backend> System<B> {
    fn store(&self) -> &B::Store {
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

impl<B: Backend> StateMachineTest for StoreModelTest<B> {
    type SystemUnderTest = System<B>;
    type Reference = StoreReference;

    fn init_test(_: &Model) -> System<B> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let backend = runtime.block_on(B::create());
        let store = runtime.block_on(backend.open());
        System {
            runtime,
            backend,
            store: Some(store),
        }
    }

    fn apply(mut sys: System<B>, model: &Model, transition: Transition) -> System<B> {
        let observed = match transition {
            Transition::Append {
                stream,
                expected,
                events,
            } => {
                let events = events.iter().map(to_new_event).collect();
                let result = sys.runtime.block_on(sys.store().append(
                    fixtures::stream(STREAMS[stream]),
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
                            .read_stream(fixtures::stream(STREAMS[stream]), read),
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
                    fixtures::stream(STREAMS[stream]),
                    key,
                    snapshot,
                )) {
                    Ok(()) => Expected::SnapshotStored,
                    Err(SnapshotError::AheadOfStream { .. }) => Expected::SnapshotAhead,
                    Err(other) => panic!("unexpected snapshot error: {other}"),
                }
            }
            Transition::ReplaceModel {
                model,
                writes,
                checkpoint,
            } => {
                let commit = model_commit(model, &writes, checkpoint);
                sys.runtime
                    .block_on(sys.store().replace_model(commit))
                    .expect("replaces");
                Expected::ModelCommitted
            }
            Transition::CommitModel {
                model,
                writes,
                checkpoint,
            } => {
                let commit = model_commit(model, &writes, checkpoint);
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
            Transition::ListStreams {
                prefix,
                from,
                direction,
                limit,
            } => {
                let read = StreamsRead {
                    prefix: STREAM_PREFIXES[prefix].to_owned(),
                    from: from.map(|c| STREAM_CURSORS[c].to_owned()),
                    direction,
                    limit,
                };
                let page = sys
                    .runtime
                    .block_on(sys.store().list_streams(read))
                    .expect("list streams");
                Expected::Streams(
                    page.streams
                        .into_iter()
                        .map(|s| (s.stream.as_str().to_owned(), s.version.get()))
                        .collect(),
                    page.more,
                )
            }
            Transition::Reopen => {
                let store = sys.store.take().expect("open");
                sys.runtime.block_on(B::close(store));
                sys.store = Some(sys.runtime.block_on(sys.backend.open()));
                Expected::Nothing
            }
        };
        assert_eq!(Some(&observed), model.last.as_ref());
        sys
    }

    fn check_invariants(sys: &System<B>, model: &Model) {
        let store = sys.store();
        assert_eq!(store.head().get(), model.log.len() as u64, "head");
        for (index, name) in STREAMS.iter().enumerate() {
            let info = sys
                .runtime
                .block_on(store.stream_info(fixtures::stream(name)))
                .expect("info");
            assert_eq!(
                info.version.get(),
                model.version(index),
                "version of {name}"
            );
            let key = SnapshotKey::new("module-hash").expect("valid");
            let snapshot = sys
                .runtime
                .block_on(store.get_snapshot(fixtures::stream(name), key))
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

    fn teardown(mut sys: System<B>, _: Model) {
        if let Some(store) = sys.store.take() {
            sys.runtime.block_on(B::close(store));
        }
    }
}

/// The commit of `writes` ((key, value); no value is a delete) to model `model` at `checkpoint`.
fn model_commit(model: usize, writes: &[(usize, Option<u8>)], checkpoint: u64) -> ModelCommit {
    ModelCommit {
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
    }
}
