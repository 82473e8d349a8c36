//! Racing writers on one stream: exactly one winner per version, every loser told the actual
//! version, and the stream and the global log each hold every winning event exactly once.

use std::collections::HashMap;
use std::sync::Arc;

use cairn_store::{
    AllRead, AppendError, EventId, EventLog, EventStore, ExpectedVersion, Position, StreamId,
    StreamRead, Version,
};
use tokio::sync::Barrier;

use crate::Backend;
use crate::fixtures;

const WRITERS: usize = 64;

/// EventLog promise 3 (exactly one of racing appends at one expected version wins) and
/// promise 2 (versions and positions gap-free): every round, all 64 writers append at the same
/// expected version at once, and each loser is told the winner's version.
pub async fn lockstep_rounds_have_one_winner_and_losers_see_the_new_version<B: Backend>() {
    const ROUNDS: u64 = 40;
    let backend = B::create().await;
    let store = fixtures::shared(&backend).await;
    let stream = fixtures::stream("race-lockstep");
    let barrier = Arc::new(Barrier::new(WRITERS));
    let tasks: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (store, stream, barrier) = (store.clone(), stream.clone(), barrier.clone());
            tokio::spawn(async move {
                let mut won = Vec::new();
                for round in 0..ROUNDS {
                    barrier.wait().await;
                    let event = fixtures::event(
                        "Raced",
                        &format!(r#"{{"writer":{writer},"round":{round}}}"#),
                    );
                    let id = event.id;
                    let expected = ExpectedVersion::Exact(Version::new(round));
                    match store.append(stream.clone(), expected, vec![event]).await {
                        Ok(outcome) => {
                            assert_eq!(outcome.first_version, Version::new(round + 1));
                            won.push((round + 1, id));
                        }
                        Err(AppendError::WrongExpectedVersion {
                            actual,
                            expected: e,
                            ..
                        }) => {
                            assert_eq!(e, expected);
                            assert_eq!(
                                actual,
                                Version::new(round + 1),
                                "loser sees the winner's version"
                            );
                        }
                        Err(other) => panic!("unexpected error: {other}"),
                    }
                    barrier.wait().await;
                }
                won
            })
        })
        .collect();
    let mut winners: HashMap<u64, EventId> = HashMap::new();
    for task in tasks {
        for (version, id) in task.await.expect("writer task") {
            assert!(
                winners.insert(version, id).is_none(),
                "two winners at version {version}"
            );
        }
    }
    assert_eq!(winners.len() as u64, ROUNDS, "one winner per round");
    assert_stream_and_log_hold_exactly(&*store, &stream, &winners).await;
}

/// EventLog promises 2 and 3, free-running: each writer reads the version and appends at it,
/// until the stream is long; no version is won twice, and a loser's actual version is past the
/// stale one it expected.
pub async fn free_running_writers_never_share_a_version<B: Backend>() {
    const TARGET: u64 = 300;
    let backend = B::create().await;
    let store = fixtures::shared(&backend).await;
    let stream = fixtures::stream("race-free");
    let tasks: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (store, stream) = (store.clone(), stream.clone());
            tokio::spawn(async move {
                let (mut won, mut lost) = (Vec::new(), 0u32);
                loop {
                    let seen = store
                        .stream_info(stream.clone())
                        .await
                        .expect("info")
                        .version;
                    if seen.get() >= TARGET {
                        return (won, lost);
                    }
                    let event = fixtures::event("Raced", &format!(r#"{{"writer":{writer}}}"#));
                    let id = event.id;
                    match store
                        .append(stream.clone(), ExpectedVersion::Exact(seen), vec![event])
                        .await
                    {
                        Ok(outcome) => {
                            assert_eq!(outcome.first_version.get(), seen.get() + 1);
                            won.push((outcome.first_version.get(), id));
                        }
                        Err(AppendError::WrongExpectedVersion { actual, .. }) => {
                            assert!(
                                actual > seen,
                                "actual {actual} must be past the stale {seen}"
                            );
                            lost += 1;
                        }
                        Err(other) => panic!("unexpected error: {other}"),
                    }
                }
            })
        })
        .collect();
    let mut winners = HashMap::new();
    let mut losses = 0;
    for task in tasks {
        let (won, lost) = task.await.expect("writer task");
        losses += lost;
        for (version, id) in won {
            assert!(
                winners.insert(version, id).is_none(),
                "two winners at version {version}"
            );
        }
    }
    assert!(
        losses > 0,
        "64 free-running writers must collide at least once"
    );
    assert_eq!(winners.len() as u64, TARGET);
    assert_stream_and_log_hold_exactly(&*store, &stream, &winners).await;
}

async fn assert_stream_and_log_hold_exactly(
    store: &impl EventStore,
    stream: &StreamId,
    winners: &HashMap<u64, EventId>,
) {
    let slice = store
        .read_stream(stream.clone(), StreamRead::forward())
        .await
        .expect("read");
    assert_eq!(slice.version.get(), winners.len() as u64);
    for (index, event) in slice.events.iter().enumerate() {
        assert_eq!(
            event.version.get(),
            index as u64 + 1,
            "no gap, no duplicate"
        );
        assert_eq!(
            winners.get(&event.version.get()),
            Some(&event.id),
            "the winner's event"
        );
    }
    let all = store
        .read_all(AllRead::after(Position::START))
        .await
        .expect("read all");
    assert_eq!(
        all.events.len(),
        winners.len(),
        "the log holds each winner once"
    );
    for (index, event) in all.events.iter().enumerate() {
        assert_eq!(
            event.position.get(),
            index as u64 + 1,
            "the log is gap-free"
        );
    }
    let mut ids: Vec<_> = all.events.iter().map(|e| e.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), winners.len(), "no event twice in the log");
}

/// EventLog promises 1 and 3: of 64 racing appends to different streams, the ones whose
/// expectation fails are refused and every other one is stored; a refusal never fails the
/// appends committed beside it.
pub async fn a_conflict_never_fails_its_neighbours_in_a_batch<B: Backend>() {
    let backend = B::create().await;
    let store = fixtures::shared(&backend).await;
    let barrier = Arc::new(Barrier::new(WRITERS));
    let tasks: Vec<_> = (0..WRITERS)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                // Even writers append correctly; odd ones expect a stream that is not there.
                let expected = if i % 2 == 0 {
                    ExpectedVersion::NoStream
                } else {
                    ExpectedVersion::StreamExists
                };
                barrier.wait().await;
                let result = store
                    .append(
                        fixtures::stream(&format!("neighbour-{i}")),
                        expected,
                        vec![fixtures::event("E", "{}")],
                    )
                    .await;
                (i, result)
            })
        })
        .collect();
    for task in tasks {
        let (i, result) = task.await.expect("task");
        if i % 2 == 0 {
            assert!(result.is_ok(), "writer {i} failed: {:?}", result.err());
        } else {
            assert!(
                matches!(result, Err(AppendError::WrongExpectedVersion { actual, .. }) if actual == Version::NONE)
            );
        }
    }
    assert_eq!(store.head(), Position::new(WRITERS as u64 / 2));
}
