//! Appends with an idempotency key: the key is recorded with the events, and the same key on
//! the same stream gets the original outcome, across restarts and under races.

mod common;

use std::sync::Arc;

use cairn_store::{
    AppendError, EventStore, ExpectedVersion, IdempotencyKey, Position, StreamRead, Version,
};
use tokio::sync::Barrier;

fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey::new(k).expect("valid key")
}

#[tokio::test]
async fn the_same_key_gets_the_original_outcome_even_after_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open(dir.path()).await;
    let stream = common::stream("account-1");
    assert_eq!(
        store
            .keyed_outcome(stream.clone(), key("k1"))
            .await
            .expect("read"),
        None
    );
    let original = store
        .append_keyed(
            stream.clone(),
            ExpectedVersion::NoStream,
            vec![common::event("Opened", "{}")],
            key("k1"),
        )
        .await
        .expect("append");
    // A retry decides again and may produce different events (fresh ids); the key wins.
    let retry = store
        .append_keyed(
            stream.clone(),
            ExpectedVersion::NoStream,
            vec![common::event("Opened", "{}")],
            key("k1"),
        )
        .await
        .expect("retry");
    assert_eq!(retry, common::recognised(&original));
    assert_eq!(store.head(), Position::new(1));
    assert_eq!(
        store
            .keyed_outcome(stream.clone(), key("k1"))
            .await
            .expect("read"),
        Some(common::recognised(&original)),
        "a lookup of the key gives the outcome as a retry would"
    );

    let second = store
        .append_keyed(
            stream.clone(),
            ExpectedVersion::Exact(Version::new(1)),
            vec![common::event("Deposited", "{}")],
            key("k2"),
        )
        .await
        .expect("another key appends");
    assert_eq!(second.first_version, Version::new(2));

    store.close().await;
    let store = common::open(dir.path()).await;
    let retry = store
        .append_keyed(
            stream.clone(),
            ExpectedVersion::Any,
            vec![common::event("Opened", "{}")],
            key("k1"),
        )
        .await
        .expect("retry after restart");
    assert_eq!(retry, common::recognised(&original));
    let slice = store
        .read_stream(stream, StreamRead::forward())
        .await
        .expect("read");
    assert_eq!(slice.version, Version::new(2));
}

#[tokio::test]
async fn a_recorded_key_answers_before_the_events_and_a_new_key_does_not_excuse_a_reused_id() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open(dir.path()).await;
    let stream = common::stream("account-4");
    let original = store
        .append_keyed(
            stream.clone(),
            ExpectedVersion::NoStream,
            vec![common::event_with_id(40, "Opened", r#"{"by":"ada"}"#)],
            key("open"),
        )
        .await
        .expect("append");
    // The key names the command: its retry gets the original outcome, whatever it carries, and
    // nothing it carries is stored, not even under the original's id.
    let retry = store
        .append_keyed(
            stream.clone(),
            ExpectedVersion::Any,
            vec![common::event_with_id(40, "Opened", r#"{"by":"bob"}"#)],
            key("open"),
        )
        .await
        .expect("a keyed retry");
    assert_eq!(retry, common::recognised(&original));
    // Under a key not recorded yet, the ids are checked like any append's.
    let reused = store
        .append_keyed(
            stream.clone(),
            ExpectedVersion::Any,
            vec![common::event_with_id(40, "Opened", r#"{"by":"bob"}"#)],
            key("other"),
        )
        .await;
    assert!(
        matches!(reused, Err(AppendError::EventIdReused { .. })),
        "{reused:?}"
    );
    assert_eq!(
        store
            .keyed_outcome(stream.clone(), key("other"))
            .await
            .expect("read"),
        None
    );
    assert_eq!(store.head(), Position::new(1));
    let slice = store
        .read_stream(stream, StreamRead::forward())
        .await
        .expect("read");
    assert_eq!(slice.events[0].data.as_str(), r#"{"by":"ada"}"#);
}

#[tokio::test]
async fn a_key_belongs_to_its_stream() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open(dir.path()).await;
    let a = store
        .append_keyed(
            common::stream("a-1"),
            ExpectedVersion::Any,
            vec![common::event("E", "{}")],
            key("same"),
        )
        .await
        .expect("a");
    let b = store
        .append_keyed(
            common::stream("b-1"),
            ExpectedVersion::Any,
            vec![common::event("E", "{}")],
            key("same"),
        )
        .await
        .expect("b");
    assert_ne!(a.first_position, b.first_position);
    assert_eq!(store.head(), Position::new(2));
}

#[tokio::test]
async fn a_refused_keyed_append_records_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open(dir.path()).await;
    let stream = common::stream("account-2");
    store
        .append(
            stream.clone(),
            ExpectedVersion::Any,
            vec![common::event("E", "{}")],
        )
        .await
        .expect("seed");
    let refused = store
        .append_keyed(
            stream.clone(),
            ExpectedVersion::NoStream,
            vec![common::event("E", "{}")],
            key("k"),
        )
        .await;
    assert!(refused.is_err());
    assert_eq!(
        store
            .keyed_outcome(stream.clone(), key("k"))
            .await
            .expect("read"),
        None
    );
    let later = store
        .append_keyed(
            stream,
            ExpectedVersion::Exact(Version::new(1)),
            vec![common::event("E", "{}")],
            key("k"),
        )
        .await
        .expect("the key is still free");
    assert_eq!(later.first_version, Version::new(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_sends_of_one_key_append_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open(dir.path()).await;
    let stream = common::stream("account-3");
    store
        .append(
            stream.clone(),
            ExpectedVersion::Any,
            vec![common::event("Opened", "{}")],
        )
        .await
        .expect("seed");
    let barrier = Arc::new(Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (store, stream, barrier) = (store.clone(), stream.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .append_keyed(
                        stream,
                        ExpectedVersion::Any,
                        vec![common::event("Deposited", "{}")],
                        key("once"),
                    )
                    .await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("task").expect("append"));
    }
    common::assert_one_written(&outcomes);
    assert_eq!(store.head(), Position::new(2), "appended once");
}
