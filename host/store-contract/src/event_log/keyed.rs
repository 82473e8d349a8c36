//! Appends with an idempotency key ([`cairn_store::EventLog::append_keyed`]): the key is
//! recorded with the events, and the same key on the same stream gets the original outcome,
//! across restarts and under races.

use std::sync::Arc;

use cairn_store::{
    AppendError, EventLog, ExpectedVersion, IdempotencyKey, Position, StreamRead, Version,
};
use tokio::sync::Barrier;

use crate::Backend;
use crate::fixtures;

fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey::new(k).expect("valid key")
}

/// `EventLog::append_keyed` and `keyed_outcome` as their docs promise, with EventLog promise 1
/// (the recorded key is durable): a retry under a recorded key gets the original outcome,
/// recognised, whatever events it carries, also after a restart; a lookup of the key gives the
/// same; another key appends.
pub async fn the_same_key_gets_the_original_outcome_even_after_a_restart<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let stream = fixtures::stream("account-1");
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
            vec![fixtures::event("Opened", "{}")],
            key("k1"),
        )
        .await
        .expect("append");
    // A retry decides again and may produce different events (fresh ids); the key wins.
    let retry = store
        .append_keyed(
            stream.clone(),
            ExpectedVersion::NoStream,
            vec![fixtures::event("Opened", "{}")],
            key("k1"),
        )
        .await
        .expect("retry");
    assert_eq!(retry, fixtures::recognised(&original));
    assert_eq!(store.head(), Position::new(1));
    assert_eq!(
        store
            .keyed_outcome(stream.clone(), key("k1"))
            .await
            .expect("read"),
        Some(fixtures::recognised(&original)),
        "a lookup of the key gives the outcome as a retry would"
    );

    let second = store
        .append_keyed(
            stream.clone(),
            ExpectedVersion::Exact(Version::new(1)),
            vec![fixtures::event("Deposited", "{}")],
            key("k2"),
        )
        .await
        .expect("another key appends");
    assert_eq!(second.first_version, Version::new(2));

    let store = fixtures::reopen(&backend, store).await;
    let retry = store
        .append_keyed(
            stream.clone(),
            ExpectedVersion::Any,
            vec![fixtures::event("Opened", "{}")],
            key("k1"),
        )
        .await
        .expect("retry after restart");
    assert_eq!(retry, fixtures::recognised(&original));
    let slice = store
        .read_stream(stream, StreamRead::forward())
        .await
        .expect("read");
    assert_eq!(slice.version, Version::new(2));
}

/// `EventLog::append_keyed` as its doc promises, with EventLog promise 4: a recorded key
/// answers before its events are looked at, so nothing the retry carries is stored or compared,
/// not even under the original's id; under a key not yet recorded, a reused id is refused and
/// the key is not recorded.
pub async fn a_recorded_key_answers_before_the_events_and_a_new_key_does_not_excuse_a_reused_id<
    B: Backend,
>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let stream = fixtures::stream("account-4");
    let original = store
        .append_keyed(
            stream.clone(),
            ExpectedVersion::NoStream,
            vec![fixtures::event_with_id(40, "Opened", r#"{"by":"ada"}"#)],
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
            vec![fixtures::event_with_id(40, "Opened", r#"{"by":"bob"}"#)],
            key("open"),
        )
        .await
        .expect("a keyed retry");
    assert_eq!(retry, fixtures::recognised(&original));
    // Under a key not recorded yet, the ids are checked like any append's.
    let reused = store
        .append_keyed(
            stream.clone(),
            ExpectedVersion::Any,
            vec![fixtures::event_with_id(40, "Opened", r#"{"by":"bob"}"#)],
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

/// `EventLog::append_keyed` as its doc promises: a key is recorded for its stream, so the same
/// key on another stream is another command and appends.
pub async fn a_key_belongs_to_its_stream<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let a = store
        .append_keyed(
            fixtures::stream("a-1"),
            ExpectedVersion::Any,
            vec![fixtures::event("E", "{}")],
            key("same"),
        )
        .await
        .expect("a");
    let b = store
        .append_keyed(
            fixtures::stream("b-1"),
            ExpectedVersion::Any,
            vec![fixtures::event("E", "{}")],
            key("same"),
        )
        .await
        .expect("b");
    assert_ne!(a.first_position, b.first_position);
    assert_eq!(store.head(), Position::new(2));
}

/// EventLog promise 1 for keyed appends: the key is recorded in the append's transaction, so
/// a refused keyed append records no key, and the key is free for a later append.
pub async fn a_refused_keyed_append_records_nothing<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let stream = fixtures::stream("account-2");
    store
        .append(
            stream.clone(),
            ExpectedVersion::Any,
            vec![fixtures::event("E", "{}")],
        )
        .await
        .expect("seed");
    let refused = store
        .append_keyed(
            stream.clone(),
            ExpectedVersion::NoStream,
            vec![fixtures::event("E", "{}")],
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
            vec![fixtures::event("E", "{}")],
            key("k"),
        )
        .await
        .expect("the key is still free");
    assert_eq!(later.first_version, Version::new(2));
}

/// `EventLog::append_keyed` under a race, with EventLog promise 3: of 16 sends of one key at
/// once, exactly one appends and every other gets its outcome, recognised.
pub async fn racing_sends_of_one_key_append_once<B: Backend>() {
    let backend = B::create().await;
    let store = fixtures::shared(&backend).await;
    let stream = fixtures::stream("account-3");
    store
        .append(
            stream.clone(),
            ExpectedVersion::Any,
            vec![fixtures::event("Opened", "{}")],
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
                        vec![fixtures::event("Deposited", "{}")],
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
    fixtures::assert_one_written(&outcomes);
    assert_eq!(store.head(), Position::new(2), "appended once");
}
