//! Reading streams in both directions, and the global log with filters and scan limits.

use cairn_store::{
    AllRead, EventLog, EventType, ExpectedVersion, Position, RecordedEvent, StreamRead, Version,
};

use crate::Backend;
use crate::fixtures;

/// A store holding six events, one an append:
/// 1 cust-1 A, 2 cust-1 B, 3 acct-1 A, 4 cust-2 A, 5 cust-1 A, 6 solo B.
/// The backend comes with it, since it holds the place the store is kept.
pub(super) async fn seeded<B: Backend>() -> (B, B::Store) {
    let backend = B::create().await;
    let store = backend.open().await;
    for (stream, ty) in [
        ("cust-1", "A"),
        ("cust-1", "B"),
        ("acct-1", "A"),
        ("cust-2", "A"),
        ("cust-1", "A"),
        ("solo", "B"),
    ] {
        store
            .append(
                fixtures::stream(stream),
                ExpectedVersion::Any,
                vec![fixtures::event(ty, "{}")],
            )
            .await
            .expect("append");
    }
    (backend, store)
}

fn versions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.version.get()).collect()
}

fn positions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.position.get()).collect()
}

/// `EventLog::read_stream` as its doc promises, with EventLog promise 2: a stream reads
/// forward and backward, from a version and within a limit, at the versions and positions its
/// events were given; a missing stream is version 0 with no events.
pub async fn streams_read_forward_and_backward_from_a_version_with_a_limit<B: Backend>() {
    let (_backend, store) = seeded::<B>().await;
    let cust = fixtures::stream("cust-1");
    let read = |r: StreamRead| store.read_stream(cust.clone(), r);
    assert_eq!(
        versions(&read(StreamRead::forward()).await.expect("r").events),
        [1, 2, 3]
    );
    assert_eq!(
        versions(&read(StreamRead::backward()).await.expect("r").events),
        [3, 2, 1]
    );
    assert_eq!(
        versions(
            &read(StreamRead::forward().from(Version::new(2)))
                .await
                .expect("r")
                .events
        ),
        [2, 3]
    );
    assert_eq!(
        versions(
            &read(StreamRead::backward().from(Version::new(2)))
                .await
                .expect("r")
                .events
        ),
        [2, 1]
    );
    assert_eq!(
        versions(
            &read(StreamRead::forward().limit(2))
                .await
                .expect("r")
                .events
        ),
        [1, 2]
    );
    assert_eq!(
        versions(
            &read(StreamRead::backward().limit(1))
                .await
                .expect("r")
                .events
        ),
        [3]
    );
    assert!(
        read(StreamRead::forward().from(Version::new(4)))
            .await
            .expect("r")
            .events
            .is_empty()
    );
    let slice = read(StreamRead::forward()).await.expect("r");
    assert_eq!(slice.version, Version::new(3));
    assert_eq!(positions(&slice.events), [1, 2, 5]);

    let missing = store
        .read_stream(fixtures::stream("nobody-1"), StreamRead::forward())
        .await
        .expect("r");
    assert_eq!((missing.version, missing.events.len()), (Version::NONE, 0));
}

/// `EventLog::read_all` as its doc promises, with EventLog promise 2: the log reads in
/// position order, filtered by category and event type, within a limit, and says how far it
/// looked (`scanned_to`) and where the head is.
pub async fn the_global_log_filters_by_category_and_type_and_says_how_far_it_looked<B: Backend>() {
    let (_backend, store) = seeded::<B>().await;
    let all = store
        .read_all(AllRead::after(Position::START))
        .await
        .expect("r");
    assert_eq!(positions(&all.events), [1, 2, 3, 4, 5, 6]);
    assert_eq!(
        (all.scanned_to, all.head),
        (Position::new(6), Position::new(6))
    );

    let cust = store
        .read_all(AllRead::after(Position::START).category("cust"))
        .await
        .expect("r");
    assert_eq!(positions(&cust.events), [1, 2, 4, 5]);
    let type_a = EventType::new("A").expect("valid");
    let cust_a = store
        .read_all(
            AllRead::after(Position::new(1))
                .category("cust")
                .event_type(type_a.clone()),
        )
        .await
        .expect("r");
    assert_eq!(positions(&cust_a.events), [4, 5]);
    assert_eq!(cust_a.scanned_to, Position::new(6), "looked to the head");

    let page = store
        .read_all(AllRead::after(Position::START).event_type(type_a).limit(2))
        .await
        .expect("r");
    assert_eq!(positions(&page.events), [1, 3]);
    assert_eq!(
        page.scanned_to,
        Position::new(3),
        "stopped at the last event returned"
    );

    let none = store
        .read_all(AllRead::after(Position::START).category("nothing"))
        .await
        .expect("r");
    assert!(none.events.is_empty());
    assert_eq!(none.scanned_to, Position::new(6));
    let past = store
        .read_all(AllRead::after(Position::new(9)))
        .await
        .expect("r");
    assert!(past.events.is_empty());
    assert_eq!(past.scanned_to, Position::new(9));
}

/// `EventLog::read_all` as its doc promises: a scan limit bounds how many positions a
/// filtered read looks at, a miss still moves the cursor, and going on after `scanned_to`
/// reads the rest.
pub async fn a_scan_limit_bounds_the_work_of_a_filtered_read<B: Backend>() {
    let (_backend, store) = seeded::<B>().await;
    // Positions 1, 2, 4 and 5 are in category "cust"; 3 and 6 are not.
    let first = store
        .read_all(
            AllRead::after(Position::START)
                .category("cust")
                .scan_limit(3),
        )
        .await
        .expect("r");
    assert_eq!(positions(&first.events), [1, 2]);
    assert_eq!(
        first.scanned_to,
        Position::new(3),
        "looked at 1, 2 and 3 only"
    );
    assert_eq!(first.head, Position::new(6));
    let next = store
        .read_all(
            AllRead::after(first.scanned_to)
                .category("cust")
                .scan_limit(3),
        )
        .await
        .expect("r");
    assert_eq!(positions(&next.events), [4, 5]);
    assert_eq!(next.scanned_to, Position::new(6));
    let nothing = store
        .read_all(
            AllRead::after(Position::START)
                .category("nothing")
                .scan_limit(2),
        )
        .await
        .expect("r");
    assert!(nothing.events.is_empty());
    assert_eq!(
        nothing.scanned_to,
        Position::new(2),
        "a miss still moves the cursor"
    );
    let limited = store
        .read_all(AllRead::after(Position::START).limit(1).scan_limit(5))
        .await
        .expect("r");
    assert_eq!(positions(&limited.events), [1]);
    assert_eq!(
        limited.scanned_to,
        Position::new(1),
        "the event limit stops first"
    );
}
