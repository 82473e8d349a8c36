//! Failing storage, through [`crate::WriteFaults`]: storage that fills up, or that fails every
//! write from a random one on. A failed append is never acknowledged; while writes fail the
//! store says why ([`cairn_store::EventStore::write_failure`], which `/healthz` reports); and
//! once the fault clears, the store reopens consistent: the log runs 1, 2, 3, ... with each
//! event once, every acknowledged append is there at the versions and positions it was given,
//! an append that failed is there whole or not at all, and new appends succeed.

use std::collections::{HashMap, HashSet};

use cairn_store::{
    AllRead, AppendError, AppendOutcome, EventId, EventLog, EventStore, ExpectedVersion, Position,
    StreamRead,
};

use crate::fixtures;
use crate::{Backend, WriteFaults};

/// What a run of appends got: acknowledged outcomes with their ids, and failed appends' ids.
#[derive(Default)]
struct Seen {
    acked: Vec<(AppendOutcome, Vec<uuid::Uuid>)>,
    failed: Vec<(String, Vec<uuid::Uuid>)>,
}

/// Appends batches of `size`-byte events to `streams` streams until `failures` appends have
/// failed in a row (or `limit` appends were made).
async fn append_until_failing(
    store: &impl EventStore,
    streams: usize,
    size: usize,
    failures: usize,
    limit: usize,
) -> Seen {
    let mut seen = Seen::default();
    let mut in_a_row = 0;
    for n in 0..limit {
        let stream = format!("disk-{}", n % streams);
        let ids: Vec<uuid::Uuid> = (0..1 + n % 3).map(|_| uuid::Uuid::new_v4()).collect();
        let data = format!(r#"{{"pad":"{}"}}"#, "x".repeat(size));
        let events = ids
            .iter()
            .map(|id| fixtures::event("Filled", &data).with_id(EventId::from(*id)))
            .collect();
        match store
            .append(fixtures::stream(&stream), ExpectedVersion::Any, events)
            .await
        {
            Ok(outcome) => {
                in_a_row = 0;
                seen.acked.push((outcome, ids));
            }
            Err(AppendError::Storage(_)) => {
                in_a_row += 1;
                seen.failed.push((stream, ids));
                if in_a_row >= failures {
                    break;
                }
            }
            Err(other) => panic!("an append was refused, not failed: {other}"),
        }
    }
    seen
}

/// Opens the store again on healthy storage and checks it against what was seen.
async fn check_reopened<B: Backend>(backend: &B, seen: &Seen) {
    let store = backend.open().await;
    let log = store
        .read_all(AllRead::after(Position::START))
        .await
        .expect("reads");
    let mut ids = HashSet::new();
    let mut versions: HashMap<String, u64> = HashMap::new();
    for (index, event) in log.events.iter().enumerate() {
        assert_eq!(event.position.get(), index as u64 + 1, "a gap in the log");
        assert!(ids.insert(event.id.as_uuid()), "an event twice");
        let version = versions.entry(event.stream.to_string()).or_default();
        *version += 1;
        assert_eq!(
            event.version.get(),
            *version,
            "{} skips a version",
            event.stream
        );
    }
    for (outcome, appended) in &seen.acked {
        let slice = store
            .read_stream(
                outcome.stream.clone(),
                StreamRead::forward().from(outcome.first_version),
            )
            .await
            .expect("reads");
        for (event, id) in slice.events.iter().zip(appended) {
            assert_eq!(event.id.as_uuid(), *id, "an acknowledged event is lost");
        }
        assert_eq!(
            slice.events[0].position, outcome.first_position,
            "an acknowledged event moved"
        );
    }
    for (stream, failed) in &seen.failed {
        let there = failed.iter().filter(|id| ids.contains(id)).count();
        assert!(
            there == 0 || there == failed.len(),
            "a failed append to {stream} is there in part"
        );
    }
    let after = store
        .append(
            fixtures::stream("disk-after"),
            ExpectedVersion::NoStream,
            vec![fixtures::event("Recovered", "{}")],
        )
        .await
        .expect("appends work again");
    assert_eq!(after.first_position.get(), log.head.get() + 1);
    assert_eq!(store.write_failure(), None, "writes succeed again");
    B::close(store).await;
}

/// EventLog promise 1 on full storage ([`WriteFaults::fill`]), and `EventStore::write_failure`:
/// appends fail rather than being acknowledged, the store says its writes fail and why, and
/// once the storage has room and the store is reopened, every acknowledged append is there,
/// every failed one whole or absent, and appends work.
pub async fn a_full_storage_fails_appends_acknowledges_none_and_the_store_reopens_consistent<
    B: Backend,
>() {
    let backend = B::create().await;
    let (store, faults) = backend.open_faulty().await;
    let mut seen = append_until_failing(&store, 20, 100, usize::MAX, 50).await;
    assert_eq!(seen.failed.len(), 0, "the storage had room");
    assert_eq!(store.write_failure(), None);
    faults.fill();
    let more = append_until_failing(&store, 20, 20_000, 20, 10_000).await;
    assert!(more.failed.len() >= 20, "the storage never filled");
    seen.acked.extend(more.acked);
    seen.failed.extend(more.failed);
    let failure = store
        .write_failure()
        .expect("the store says its writes fail");
    assert!(
        failure.contains("space") || failure.contains("I/O"),
        "{failure}"
    );
    faults.clear();
    B::close(store).await;
    check_reopened(&backend, &seen).await;
}

/// EventLog promise 1 on storage that fails every write from a random one on
/// ([`WriteFaults::fail_after`]), in 20 rounds: no acknowledged append is lost or moved, no
/// failed append is there in part, and the reopened store appends.
pub async fn storage_failing_at_a_random_write_never_loses_an_acknowledged_append<B: Backend>() {
    for round in 0..20 {
        let backend = B::create().await;
        let (store, faults) = backend.open_faulty().await;
        faults.fail_after(fastrand::u64(1..400));
        let seen = append_until_failing(&store, 7, 300, 10, 100_000).await;
        assert!(
            !seen.failed.is_empty(),
            "round {round}: the fault never came"
        );
        // Closed while its storage still fails, as a crash would leave it.
        B::close(store).await;
        faults.clear();
        check_reopened(&backend, &seen).await;
    }
}
