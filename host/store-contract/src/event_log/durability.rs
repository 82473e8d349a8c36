//! What was acknowledged is there after the store is closed and opened again, at scale.

use std::sync::Arc;

use cairn_store::{
    AllRead, EventLog, ExpectedVersion, Json, Position, RecordedEvent, StreamRead, Version,
};

use crate::Backend;
use crate::fixtures;

/// EventLog promise 1 (an acknowledged append is durable) and promise 2 (a reopened store
/// carries on from its versions and positions): every field of every event, `recorded_at`
/// included, reads back the same after a restart.
pub async fn events_read_back_identically_after_reopening<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    for i in 0..20u32 {
        let stream = fixtures::stream(&format!("account-{}", i % 3));
        let event = fixtures::event(
            "Deposited",
            &format!(r#"{{"amount": {i}, "note": "π ≈ 3.14"}}"#),
        )
        .with_metadata(Json::parse(r#"{"by":"test"}"#).expect("valid"));
        store
            .append(stream, ExpectedVersion::Any, vec![event])
            .await
            .expect("append");
    }
    let before = store
        .read_all(AllRead::after(Position::START))
        .await
        .expect("read");

    let store = fixtures::reopen(&backend, store).await;
    assert_eq!(store.head(), Position::new(20));
    let after = store
        .read_all(AllRead::after(Position::START))
        .await
        .expect("read");
    assert_eq!(before, after, "every field, recorded_at included, survives");
    // The writer carries on from the reopened head and versions.
    let outcome = store
        .append(
            fixtures::stream("account-0"),
            ExpectedVersion::Exact(Version::new(7)),
            vec![fixtures::event("Deposited", "{}")],
        )
        .await
        .expect("append after reopen");
    assert_eq!(
        (outcome.first_version, outcome.first_position),
        (Version::new(8), Position::new(21))
    );
}

/// EventLog promises 1 and 2, at scale: 100,000 streams created by 64 concurrent writers are
/// all there after a restart, each once in the global log and readable on its own.
pub async fn a_hundred_thousand_streams_are_created_and_read_back<B: Backend>() {
    const STREAMS: usize = 100_000;
    const WRITERS: usize = 64;
    let backend = B::create().await;
    let store = fixtures::shared(&backend).await;
    let tasks: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move {
                for n in (writer..STREAMS).step_by(WRITERS) {
                    let event = fixtures::event("Created", &format!(r#"{{"n":{n}}}"#));
                    store
                        .append(
                            fixtures::stream(&format!("entity-{n}")),
                            ExpectedVersion::NoStream,
                            vec![event],
                        )
                        .await
                        .expect("append");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer");
    }

    let store = Arc::new(fixtures::reopen(&backend, fixtures::unshared(store)).await);
    assert_eq!(store.head(), Position::new(STREAMS as u64));
    let mut seen = vec![false; STREAMS];
    let mut after = Position::START;
    loop {
        let page = store
            .read_all(AllRead::after(after).limit(10_000))
            .await
            .expect("read all");
        if page.events.is_empty() {
            break;
        }
        for event in &page.events {
            let n = entity_number(event);
            assert!(!seen[n], "entity-{n} appears twice");
            seen[n] = true;
            assert_eq!(event.version, Version::new(1));
        }
        after = page.scanned_to;
    }
    assert!(seen.iter().all(|s| *s), "every stream is in the log");
    let reads: Vec<_> = (0..4)
        .map(|part| {
            let store = store.clone();
            tokio::spawn(async move {
                for n in (part..STREAMS).step_by(4) {
                    let slice = store
                        .read_stream(
                            fixtures::stream(&format!("entity-{n}")),
                            StreamRead::forward(),
                        )
                        .await
                        .expect("read");
                    assert_eq!(slice.version, Version::new(1), "entity-{n}");
                    assert_eq!(slice.events.len(), 1);
                    assert_eq!(entity_number(&slice.events[0]), n);
                }
            })
        })
        .collect();
    for read in reads {
        read.await.expect("reader");
    }
}

fn entity_number(event: &RecordedEvent) -> usize {
    let data: serde_json::Value = event.data.to_value().expect("json");
    let n = data["n"].as_u64().expect("n") as usize;
    assert_eq!(event.stream.as_str(), format!("entity-{n}"));
    n
}
