//! Idempotent appends by event id: an exact retry returns the original outcome and stores
//! nothing, before and after a restart; any other overlap is refused and stores nothing.

mod common;

use std::sync::Arc;

use cairn_store::{AppendError, EventStore, ExpectedVersion, Position, StreamRead, Version};
use tokio::sync::Barrier;

#[tokio::test]
async fn an_exact_retry_returns_the_original_outcome_before_and_after_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open(dir.path()).await;
    let stream = common::stream("order-1");
    store
        .append(
            common::stream("other-1"),
            ExpectedVersion::Any,
            vec![common::event("Noise", "{}")],
        )
        .await
        .expect("first append");
    let batch = vec![
        common::event_with_id(1, "Placed", r#"{"total":10}"#),
        common::event_with_id(2, "Paid", r#"{"amount":10}"#),
    ];
    let original = store
        .append(stream.clone(), ExpectedVersion::NoStream, batch.clone())
        .await
        .expect("original append");
    assert_eq!(
        (original.first_version, original.last_version),
        (Version::new(1), Version::new(2))
    );
    assert_eq!(
        (original.first_position, original.last_position),
        (Position::new(2), Position::new(3))
    );

    // The expectation no longer holds, but a retry is recognised before it is checked.
    let retry = store
        .append(stream.clone(), ExpectedVersion::NoStream, batch.clone())
        .await;
    assert_eq!(retry.expect("retry"), original);
    assert_eq!(store.head(), Position::new(3), "the retry stored nothing");

    store.close().await;
    let store = common::open(dir.path()).await;
    let retry = store
        .append(
            stream.clone(),
            ExpectedVersion::Exact(Version::new(7)),
            batch,
        )
        .await;
    assert_eq!(retry.expect("retry after reopen"), original);
    let slice = store
        .read_stream(stream, StreamRead::forward())
        .await
        .expect("read");
    assert_eq!(slice.version, Version::new(2));
    assert_eq!(store.head(), Position::new(3));
}

#[tokio::test]
async fn an_inexact_retry_is_a_conflict_and_stores_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open(dir.path()).await;
    let stream = common::stream("order-2");
    let (a, b) = (
        common::event_with_id(10, "A", "{}"),
        common::event_with_id(11, "B", "{}"),
    );
    store
        .append(
            stream.clone(),
            ExpectedVersion::Any,
            vec![a.clone(), b.clone()],
        )
        .await
        .expect("original");
    let fresh = common::event_with_id(12, "C", "{}");
    let cases = [
        (
            "a fresh event added",
            stream.clone(),
            vec![a.clone(), b.clone(), fresh.clone()],
        ),
        (
            "a fresh event first",
            stream.clone(),
            vec![fresh.clone(), a.clone()],
        ),
        (
            "the wrong order",
            stream.clone(),
            vec![b.clone(), a.clone()],
        ),
        (
            "another stream",
            common::stream("order-3"),
            vec![a.clone(), b.clone()],
        ),
    ];
    for (case, target, events) in cases {
        let result = store.append(target, ExpectedVersion::Any, events).await;
        assert!(
            matches!(result, Err(AppendError::IdempotencyConflict { .. })),
            "{case}: {result:?}"
        );
    }
    assert_eq!(
        store.head(),
        Position::new(2),
        "nothing stored by the conflicts"
    );

    // Ids that are all stored, in this stream and in order, are a retry even if they are only
    // part of the original append: the outcome names where they are.
    let tail = store
        .append(stream.clone(), ExpectedVersion::NoStream, vec![b.clone()])
        .await
        .expect("a retry of the tail");
    assert_eq!(
        (tail.first_version, tail.last_position),
        (Version::new(2), Position::new(2))
    );
    assert_eq!(store.head(), Position::new(2));
    assert!(
        !store
            .stream_info(common::stream("order-3"))
            .await
            .expect("info")
            .exists()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_identical_appends_store_the_events_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open(dir.path()).await;
    let stream = common::stream("order-4");
    let batch = vec![
        common::event_with_id(20, "A", "{}"),
        common::event_with_id(21, "B", "{}"),
    ];
    let barrier = Arc::new(Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (store, stream, batch, barrier) = (
                store.clone(),
                stream.clone(),
                batch.clone(),
                barrier.clone(),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                store.append(stream, ExpectedVersion::NoStream, batch).await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("task").expect("every copy succeeds"));
    }
    assert!(
        outcomes.windows(2).all(|w| w[0] == w[1]),
        "one outcome for all copies"
    );
    assert_eq!(store.head(), Position::new(2));
}
