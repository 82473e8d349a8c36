//! Idempotent appends by event id: an exact retry returns the original outcome and stores
//! nothing, before and after a restart; an id carried with other content, and any other
//! overlap, is refused and stores nothing.

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
    assert_eq!(retry.expect("retry"), common::recognised(&original));
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
    assert_eq!(
        retry.expect("retry after reopen"),
        common::recognised(&original)
    );
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

#[tokio::test]
async fn a_stored_id_with_other_content_is_refused_and_the_stored_event_is_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open(dir.path()).await;
    let stream = common::stream("order-5");
    let metadata = cairn_store::Json::parse(r#"{"trace":"t-1"}"#).expect("valid");
    let (a, b) = (
        common::event_with_id(30, "Placed", r#"{"total":10}"#).with_metadata(metadata.clone()),
        common::event_with_id(31, "Paid", r#"{"amount":10}"#),
    );
    let original = store
        .append(
            stream.clone(),
            ExpectedVersion::NoStream,
            vec![a.clone(), b.clone()],
        )
        .await
        .expect("original");
    let other_data = common::event_with_id(31, "Paid", r#"{"amount":99}"#);
    let other_type = common::event_with_id(31, "Refunded", r#"{"amount":10}"#);
    let other_metadata = b
        .clone()
        .with_metadata(cairn_store::Json::parse(r#"{"trace":"t-2"}"#).expect("valid"));
    let same_value_other_text = common::event_with_id(31, "Paid", r#"{ "amount": 10 }"#);
    let cases = [
        ("other data", stream.clone(), vec![a.clone(), other_data]),
        ("another type", stream.clone(), vec![a.clone(), other_type]),
        (
            "other metadata",
            stream.clone(),
            vec![a.clone(), other_metadata],
        ),
        (
            "the same value spelled otherwise",
            stream.clone(),
            vec![a.clone(), same_value_other_text],
        ),
        (
            "other data in part of the append",
            stream.clone(),
            vec![common::event_with_id(31, "Paid", "{}")],
        ),
        (
            "other data, to another stream",
            common::stream("order-6"),
            vec![common::event_with_id(30, "Placed", "{}")],
        ),
    ];
    for (case, target, events) in cases {
        let result = store.append(target, ExpectedVersion::Any, events).await;
        assert!(
            matches!(&result, Err(AppendError::EventIdReused { id, .. }) if *id == b.id || *id == a.id),
            "{case}: {result:?}"
        );
    }
    let message = store
        .append(
            stream.clone(),
            ExpectedVersion::Any,
            vec![common::event_with_id(31, "Paid", "{}")],
        )
        .await
        .expect_err("reused")
        .to_string();
    assert!(message.contains(&b.id.to_string()), "{message}");
    assert_eq!(
        store.head(),
        Position::new(2),
        "nothing stored by the refusals"
    );
    let slice = store
        .read_stream(stream.clone(), StreamRead::forward())
        .await
        .expect("read");
    assert_eq!(slice.events.len(), 2);
    assert_eq!(slice.events[0].metadata, metadata);
    assert_eq!(slice.events[1].data.as_str(), r#"{"amount":10}"#);

    // The exact same events are still a retry.
    let retry = store
        .append(stream, ExpectedVersion::NoStream, vec![a, b])
        .await
        .expect("an exact retry");
    assert_eq!(retry, common::recognised(&original));
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
    common::assert_one_written(&outcomes);
    assert_eq!(store.head(), Position::new(2));
}
