//! The store's API against an in-memory model, with random operations: appends with every
//! kind of expected version (and retries of earlier appends by their ids), stream reads both
//! ways, and reads of the global log. Every result must be what the model says.
#![no_main]

use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use cairn_store::{
    AllRead, AppendError, EventId, EventLog, EventType, ExpectedVersion, Json, NewEvent, Position,
    RedbOptions, RedbStore, StreamId, StreamRead, Version,
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Expect {
    Any,
    NoStream,
    Exists,
    Exactly(u8),
}

#[derive(Arbitrary, Debug)]
enum Op {
    Append {
        stream: u8,
        expect: Expect,
        events: u8,
    },
    /// Sends append number `which` (of those made) again, with the same ids.
    Retry {
        which: u8,
    },
    ReadStream {
        stream: u8,
        from: u8,
        backward: bool,
        limit: u8,
    },
    ReadAll {
        after: u8,
        limit: u8,
    },
}

/// An append as the model keeps it: stream, ids, and the outcome it got.
struct Made {
    stream: String,
    ids: Vec<u128>,
    expect: ExpectedVersion,
    outcome: Option<(u64, u64)>,
}

#[derive(Default)]
struct Model {
    streams: BTreeMap<String, Vec<u128>>,
    /// (stream, id) by position - 1.
    log: Vec<(String, u128)>,
}

fn expected(expect: &Expect) -> ExpectedVersion {
    match expect {
        Expect::Any => ExpectedVersion::Any,
        Expect::NoStream => ExpectedVersion::NoStream,
        Expect::Exists => ExpectedVersion::StreamExists,
        Expect::Exactly(v) => ExpectedVersion::Exact(Version::new(u64::from(*v % 8))),
    }
}

fn admits(expect: ExpectedVersion, version: u64) -> bool {
    match expect {
        ExpectedVersion::Any => true,
        ExpectedVersion::NoStream => version == 0,
        ExpectedVersion::StreamExists => version > 0,
        ExpectedVersion::Exact(v) => v.get() == version,
    }
}

fn events(ids: &[u128]) -> Vec<NewEvent> {
    ids.iter()
        .map(|id| {
            NewEvent::new(
                EventType::new("Fuzzed").expect("a type"),
                Json::parse("{}").expect("JSON"),
            )
            .with_id(EventId::from(uuid::Uuid::from_u128(*id)))
        })
        .collect()
}

fuzz_target!(|ops: Vec<Op>| {
    if ops.len() > 64 {
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run(ops));
});

async fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = RedbStore::open(dir.path(), RedbOptions::default())
        .await
        .expect("the store opens");
    let mut model = Model::default();
    let mut made: Vec<Made> = Vec::new();
    let mut next_id = 1u128;
    for op in ops {
        match op {
            Op::Append {
                stream,
                expect,
                events: count,
            } => {
                let stream = format!("s-{}", stream % 4);
                let ids: Vec<u128> = (0..1 + count % 3)
                    .map(|_| {
                        next_id += 1;
                        next_id
                    })
                    .collect();
                let expect = expected(&expect);
                let version = model.streams.get(&stream).map_or(0, Vec::len) as u64;
                let result = store
                    .append(
                        StreamId::new(&stream).expect("a name"),
                        expect,
                        events(&ids),
                    )
                    .await;
                let outcome = if admits(expect, version) {
                    let outcome = result.expect("the model admits this append");
                    let first = model.log.len() as u64 + 1;
                    assert_eq!(outcome.first_version.get(), version + 1);
                    assert_eq!(outcome.last_version.get(), version + ids.len() as u64);
                    assert_eq!(outcome.first_position.get(), first);
                    for id in &ids {
                        model.streams.entry(stream.clone()).or_default().push(*id);
                        model.log.push((stream.clone(), *id));
                    }
                    Some((outcome.first_version.get(), outcome.first_position.get()))
                } else {
                    match result {
                        Err(AppendError::WrongExpectedVersion { actual, .. }) => {
                            assert_eq!(actual.get(), version)
                        }
                        other => panic!("the model refuses this append, the store gave {other:?}"),
                    }
                    None
                };
                made.push(Made {
                    stream,
                    ids,
                    expect,
                    outcome,
                });
            }
            Op::Retry { which } => {
                let Some(earlier) = made.get(usize::from(which) % made.len().max(1)) else {
                    continue;
                };
                let result = store
                    .append(
                        StreamId::new(&earlier.stream).expect("a name"),
                        earlier.expect,
                        events(&earlier.ids),
                    )
                    .await;
                match earlier.outcome {
                    // Stored: the retry returns the original outcome and stores nothing.
                    Some((first_version, first_position)) => {
                        let outcome = result.expect("a retry of a stored append succeeds");
                        assert_eq!(outcome.first_version.get(), first_version);
                        assert_eq!(outcome.first_position.get(), first_position);
                    }
                    // Never stored: the retry is a new append, decided like one. Its ids are
                    // unused, so the model takes it as such.
                    None => {
                        let version = model.streams.get(&earlier.stream).map_or(0, Vec::len) as u64;
                        match result {
                            Ok(_) => {
                                assert!(admits(earlier.expect, version));
                                for id in &earlier.ids {
                                    model
                                        .streams
                                        .entry(earlier.stream.clone())
                                        .or_default()
                                        .push(*id);
                                    model.log.push((earlier.stream.clone(), *id));
                                }
                                let first_version = version + 1;
                                let first_position =
                                    model.log.len() as u64 - earlier.ids.len() as u64 + 1;
                                let index = usize::from(which) % made.len();
                                made[index].outcome = Some((first_version, first_position));
                            }
                            Err(AppendError::WrongExpectedVersion { actual, .. }) => {
                                assert!(!admits(earlier.expect, version));
                                assert_eq!(actual.get(), version);
                            }
                            Err(other) => panic!("a retry failed: {other}"),
                        }
                    }
                }
            }
            Op::ReadStream {
                stream,
                from,
                backward,
                limit,
            } => {
                let stream = format!("s-{}", stream % 4);
                let limit = usize::from(limit % 8) + 1;
                let mut read = if backward {
                    StreamRead::backward()
                } else {
                    StreamRead::forward()
                };
                if from > 0 {
                    read = read.from(Version::new(u64::from(from % 10)));
                }
                read = read.limit(limit);
                let slice = store
                    .read_stream(StreamId::new(&stream).expect("a name"), read)
                    .await
                    .expect("reads");
                let all = model.streams.get(&stream).cloned().unwrap_or_default();
                assert_eq!(slice.version.get(), all.len() as u64);
                let versions: Vec<u64> = slice.events.iter().map(|e| e.version.get()).collect();
                let wanted: Vec<u64> = if backward {
                    let start = if from > 0 {
                        u64::from(from % 10).min(all.len() as u64)
                    } else {
                        all.len() as u64
                    };
                    (1..=start).rev().take(limit).collect()
                } else {
                    let start = if from > 0 { u64::from(from % 10) } else { 1 };
                    (start.max(1)..=all.len() as u64).take(limit).collect()
                };
                assert_eq!(versions, wanted);
                for event in &slice.events {
                    let id = all[event.version.get() as usize - 1];
                    assert_eq!(event.id.as_uuid().as_u128(), id);
                }
            }
            Op::ReadAll { after, limit } => {
                let after = u64::from(after % 40);
                let limit = usize::from(limit % 16) + 1;
                let slice = store
                    .read_all(AllRead::after(Position::new(after)).limit(limit))
                    .await
                    .expect("reads");
                assert_eq!(slice.head.get(), model.log.len() as u64);
                let wanted: Vec<u128> = model
                    .log
                    .iter()
                    .skip(after as usize)
                    .take(limit)
                    .map(|(_, id)| *id)
                    .collect();
                let got: Vec<u128> = slice
                    .events
                    .iter()
                    .map(|e| e.id.as_uuid().as_u128())
                    .collect();
                assert_eq!(got, wanted);
            }
        }
    }
    store.close().await;
}
