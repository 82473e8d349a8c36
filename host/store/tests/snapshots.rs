//! Snapshots: stored per (stream, key), replaced by newer ones, refused when ahead of the stream,
//! kept across a restart, and never visible in reads of events.

mod common;

use cairn_store::{
    AllRead, EventStore, ExpectedVersion, Position, Snapshot, SnapshotError, SnapshotKey,
    StreamRead, Version,
};

fn key(k: &str) -> SnapshotKey {
    SnapshotKey::new(k).expect("valid key")
}

#[tokio::test]
async fn snapshots_are_kept_per_key_and_never_change_event_reads() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open(dir.path()).await;
    let stream = common::stream("account-1");
    let events: Vec<_> = (0..5)
        .map(|i| common::event("Deposited", &format!(r#"{{"n":{i}}}"#)))
        .collect();
    store
        .append(stream.clone(), ExpectedVersion::NoStream, events)
        .await
        .expect("append");
    let stream_before = store
        .read_stream(stream.clone(), StreamRead::forward())
        .await
        .expect("read");
    let log_before = store
        .read_all(AllRead::after(Position::START))
        .await
        .expect("read");

    assert_eq!(
        store
            .get_snapshot(stream.clone(), key("hash-a"))
            .await
            .expect("get"),
        None
    );
    let a3 = Snapshot {
        version: Version::new(3),
        state: b"a at 3".to_vec(),
    };
    store
        .put_snapshot(stream.clone(), key("hash-a"), a3.clone())
        .await
        .expect("put");
    let b5 = Snapshot {
        version: Version::new(5),
        state: b"b at 5".to_vec(),
    };
    store
        .put_snapshot(stream.clone(), key("hash-b"), b5.clone())
        .await
        .expect("put");
    assert_eq!(
        store
            .get_snapshot(stream.clone(), key("hash-a"))
            .await
            .expect("get"),
        Some(a3)
    );
    assert_eq!(
        store
            .get_snapshot(stream.clone(), key("hash-b"))
            .await
            .expect("get"),
        Some(b5.clone())
    );

    let a5 = Snapshot {
        version: Version::new(5),
        state: Vec::new(),
    };
    store
        .put_snapshot(stream.clone(), key("hash-a"), a5.clone())
        .await
        .expect("replace");
    let ahead = Snapshot {
        version: Version::new(6),
        state: b"future".to_vec(),
    };
    let refused = store
        .put_snapshot(stream.clone(), key("hash-a"), ahead)
        .await;
    assert!(matches!(
        refused,
        Err(SnapshotError::AheadOfStream { snapshot, stream_version, .. })
            if snapshot == Version::new(6) && stream_version == Version::new(5)
    ));

    assert_eq!(
        store
            .read_stream(stream.clone(), StreamRead::forward())
            .await
            .expect("read"),
        stream_before
    );
    assert_eq!(
        store
            .read_all(AllRead::after(Position::START))
            .await
            .expect("read"),
        log_before
    );
    assert_eq!(store.head(), Position::new(5));

    store.close().await;
    let store = common::open(dir.path()).await;
    assert_eq!(
        store
            .get_snapshot(stream.clone(), key("hash-a"))
            .await
            .expect("get"),
        Some(a5)
    );
    assert_eq!(
        store
            .get_snapshot(stream.clone(), key("hash-b"))
            .await
            .expect("get"),
        Some(b5)
    );
    assert_eq!(
        store
            .get_snapshot(common::stream("account-2"), key("hash-a"))
            .await
            .expect("get"),
        None
    );
}

#[tokio::test]
async fn a_snapshot_of_a_missing_stream_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open(dir.path()).await;
    let snapshot = Snapshot {
        version: Version::new(1),
        state: vec![1],
    };
    let result = store
        .put_snapshot(common::stream("ghost-1"), key("h"), snapshot)
        .await;
    assert!(
        matches!(result, Err(SnapshotError::AheadOfStream { stream_version, .. }) if stream_version == Version::NONE)
    );
}
