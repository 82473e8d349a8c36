//! [`StoreReference`]: the reference state machine, which draws each step from the model's
//! state (fresh appends, exact and partial retries, altered ids, reads, snapshots, read model
//! commits, drops and scans, and reopening) and applies it to the model.

use cairn_store::{Direction, ExpectedVersion, Version};
use proptest::prelude::*;
use proptest_state_machine::ReferenceStateMachine;

use super::reference::Model;
use super::transition::{
    CATEGORIES, EventSpec, Expected, KEYS, MODELS, STREAM_CURSORS, STREAM_PREFIXES, STREAMS, TYPES,
    Transition, prefix_of,
};

/// The reference state machine over [`Model`].
pub(super) struct StoreReference;

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

impl ReferenceStateMachine for StoreReference {
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
        let replace_model = (
            0..MODELS.len(),
            proptest::collection::vec((0..KEYS.len(), proptest::option::of(any::<u8>())), 0..4),
            0u64..4,
        )
            .prop_map(|(model, writes, checkpoint)| Transition::ReplaceModel {
                model,
                writes,
                checkpoint,
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
        let list_streams = (
            0..STREAM_PREFIXES.len(),
            proptest::option::of(0..STREAM_CURSORS.len()),
            any::<bool>(),
            prop_oneof![0usize..4, Just(usize::MAX)],
        )
            .prop_map(|(prefix, from, forward, limit)| Transition::ListStreams {
                prefix,
                from,
                direction: if forward {
                    Direction::Forward
                } else {
                    Direction::Backward
                },
                limit,
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
            (2, commit_model.boxed()),
            (1, drop_model.boxed()),
            (1, replace_model.boxed()),
            (1, scan_model.boxed()),
            (1, list_streams.boxed()),
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
            Transition::ReplaceModel {
                model,
                writes,
                checkpoint,
            } => {
                state.models.remove(model);
                state.commit_model(*model, writes, *checkpoint)
            }
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
            Transition::ListStreams {
                prefix,
                from,
                direction,
                limit,
            } => state.list_streams(
                STREAM_PREFIXES[*prefix],
                from.map(|c| STREAM_CURSORS[c]),
                *direction,
                *limit,
            ),
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
