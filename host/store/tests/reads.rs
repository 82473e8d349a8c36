//! Reading streams in both directions, the global log with filters, and waiting for the head.

mod common;

use std::time::Duration;

use cairn_store::{AllRead, EventStore, EventType, ExpectedVersion, Position, StreamRead, Version};

async fn seeded() -> (tempfile::TempDir, cairn_store::RedbStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open(dir.path()).await;
    // Log: 1 cust-1 A, 2 cust-1 B, 3 acct-1 A, 4 cust-2 A, 5 cust-1 A, 6 solo B
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
                common::stream(stream),
                ExpectedVersion::Any,
                vec![common::event(ty, "{}")],
            )
            .await
            .expect("append");
    }
    (dir, store)
}

fn versions(events: &[cairn_store::RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.version.get()).collect()
}

fn positions(events: &[cairn_store::RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.position.get()).collect()
}

#[tokio::test]
async fn streams_read_forward_and_backward_from_a_version_with_a_limit() {
    let (_dir, store) = seeded().await;
    let cust = common::stream("cust-1");
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
        .read_stream(common::stream("nobody-1"), StreamRead::forward())
        .await
        .expect("r");
    assert_eq!((missing.version, missing.events.len()), (Version::NONE, 0));
}

#[tokio::test]
async fn the_global_log_filters_by_category_and_type_and_says_how_far_it_looked() {
    let (_dir, store) = seeded().await;
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

#[tokio::test]
async fn a_scan_limit_bounds_the_work_of_a_filtered_read() {
    let (_dir, store) = seeded().await;
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

#[tokio::test]
async fn a_head_watcher_wakes_on_append_and_not_before() {
    let (_dir, store) = seeded().await;
    let mut watch = store.watch_head();
    assert_eq!(
        watch.wait_past(Position::new(5)).await.expect("open"),
        Position::new(6),
        "already past"
    );
    let waiting =
        tokio::time::timeout(Duration::from_millis(50), watch.wait_past(Position::new(6))).await;
    assert!(
        waiting.is_err(),
        "nothing was written, so nothing wakes the watcher"
    );
    let waiter = tokio::spawn({
        let mut watch = store.watch_head();
        async move { watch.wait_past(Position::new(6)).await }
    });
    store
        .append(
            common::stream("cust-3"),
            ExpectedVersion::Any,
            vec![common::event("A", "{}"), common::event("A", "{}")],
        )
        .await
        .expect("append");
    assert_eq!(waiter.await.expect("task").expect("open"), Position::new(8));
    assert_eq!(store.head(), Position::new(8));
}

#[tokio::test]
async fn writes_after_close_fail_and_waiters_are_released() {
    let (_dir, store) = seeded().await;
    let other = store.clone();
    let mut watch = store.watch_head();
    store.close().await;
    let result = other
        .append(
            common::stream("late-1"),
            ExpectedVersion::Any,
            vec![common::event("A", "{}")],
        )
        .await;
    assert!(
        matches!(
            result,
            Err(cairn_store::AppendError::Storage(
                cairn_store::StorageError::Closed
            ))
        ),
        "{result:?}"
    );
    drop(other);
    assert!(
        watch.wait_past(Position::new(6)).await.is_err(),
        "a closed store releases waiters"
    );
}
