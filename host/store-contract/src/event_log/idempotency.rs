//! Idempotent appends by event id: an exact retry returns the original outcome and stores
//! nothing, before and after a restart; an id carried with other content, and any other
//! overlap, is refused and stores nothing.

use std::sync::Arc;

use cairn_store::{AppendError, EventLog, ExpectedVersion, Json, Position, StreamRead, Version};
use tokio::sync::Barrier;

use crate::Backend;
use crate::fixtures;

/// EventLog promise 4: an append whose ids are all stored, in order, in its stream, is
/// recognised before its expectation is checked, gets the original outcome and stores nothing,
/// also after a restart.
pub async fn an_exact_retry_returns_the_original_outcome_before_and_after_reopening<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let stream = fixtures::stream("order-1");
    store
        .append(
            fixtures::stream("other-1"),
            ExpectedVersion::Any,
            vec![fixtures::event("Noise", "{}")],
        )
        .await
        .expect("first append");
    let batch = vec![
        fixtures::event_with_id(1, "Placed", r#"{"total":10}"#),
        fixtures::event_with_id(2, "Paid", r#"{"amount":10}"#),
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
    assert_eq!(retry.expect("retry"), fixtures::recognised(&original));
    assert_eq!(store.head(), Position::new(3), "the retry stored nothing");

    let store = fixtures::reopen(&backend, store).await;
    let retry = store
        .append(
            stream.clone(),
            ExpectedVersion::Exact(Version::new(7)),
            batch,
        )
        .await;
    assert_eq!(
        retry.expect("retry after reopen"),
        fixtures::recognised(&original)
    );
    let slice = store
        .read_stream(stream, StreamRead::forward())
        .await
        .expect("read");
    assert_eq!(slice.version, Version::new(2));
    assert_eq!(store.head(), Position::new(3));
}

/// EventLog promise 4: an append that overlaps stored ids only in part (a fresh event added
/// or first, another order, another stream) is refused as a conflict and stores nothing; ids
/// all stored, in their stream and in order, are a retry even if only part of the original.
pub async fn an_inexact_retry_is_a_conflict_and_stores_nothing<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let stream = fixtures::stream("order-2");
    let (a, b) = (
        fixtures::event_with_id(10, "A", "{}"),
        fixtures::event_with_id(11, "B", "{}"),
    );
    store
        .append(
            stream.clone(),
            ExpectedVersion::Any,
            vec![a.clone(), b.clone()],
        )
        .await
        .expect("original");
    let fresh = fixtures::event_with_id(12, "C", "{}");
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
            fixtures::stream("order-3"),
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
            .stream_info(fixtures::stream("order-3"))
            .await
            .expect("info")
            .exists()
    );
}

/// EventLog promise 4: a stored id carried with another type, data or metadata (even the
/// same JSON value spelled otherwise), in whole or part of an append, to its stream or
/// another, is refused naming the id; the stored event is kept and an exact retry still works.
pub async fn a_stored_id_with_other_content_is_refused_and_the_stored_event_is_kept<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let stream = fixtures::stream("order-5");
    let metadata = Json::parse(r#"{"trace":"t-1"}"#).expect("valid");
    let (a, b) = (
        fixtures::event_with_id(30, "Placed", r#"{"total":10}"#).with_metadata(metadata.clone()),
        fixtures::event_with_id(31, "Paid", r#"{"amount":10}"#),
    );
    let original = store
        .append(
            stream.clone(),
            ExpectedVersion::NoStream,
            vec![a.clone(), b.clone()],
        )
        .await
        .expect("original");
    let other_data = fixtures::event_with_id(31, "Paid", r#"{"amount":99}"#);
    let other_type = fixtures::event_with_id(31, "Refunded", r#"{"amount":10}"#);
    let other_metadata = b
        .clone()
        .with_metadata(Json::parse(r#"{"trace":"t-2"}"#).expect("valid"));
    let same_value_other_text = fixtures::event_with_id(31, "Paid", r#"{ "amount": 10 }"#);
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
            vec![fixtures::event_with_id(31, "Paid", "{}")],
        ),
        (
            "other data, to another stream",
            fixtures::stream("order-6"),
            vec![fixtures::event_with_id(30, "Placed", "{}")],
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
            vec![fixtures::event_with_id(31, "Paid", "{}")],
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
    assert_eq!(retry, fixtures::recognised(&original));
}

/// EventLog promise 4 under a race: of 16 copies of one append sent at once, exactly one
/// writes and every other gets its outcome, recognised; the events are stored once.
pub async fn concurrent_identical_appends_store_the_events_once<B: Backend>() {
    let backend = B::create().await;
    let store = fixtures::shared(&backend).await;
    let stream = fixtures::stream("order-4");
    let batch = vec![
        fixtures::event_with_id(20, "A", "{}"),
        fixtures::event_with_id(21, "B", "{}"),
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
    fixtures::assert_one_written(&outcomes);
    assert_eq!(store.head(), Position::new(2));
}
