//! The promises of [`cairn_store::Snapshots`]: snapshots stored per (stream, key), replaced by
//! newer ones, refused when ahead of the stream, kept across a restart, and never visible in
//! reads of events.

use cairn_store::{
    AllRead, EventLog, ExpectedVersion, Position, Snapshot, SnapshotError, SnapshotKey, Snapshots,
    StreamRead, Version,
};

use crate::Backend;
use crate::fixtures;

fn key(k: &str) -> SnapshotKey {
    SnapshotKey::new(k).expect("valid key")
}

/// Snapshots promise 1 (snapshots never change what a read of events returns) and promise 2
/// (a snapshot reads back as last stored for its stream and key, byte for byte, also after a
/// restart, and never for another key or stream); one ahead of its stream is refused.
pub async fn snapshots_are_kept_per_key_and_never_change_event_reads<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let stream = fixtures::stream("account-1");
    let events: Vec<_> = (0..5)
        .map(|i| fixtures::event("Deposited", &format!(r#"{{"n":{i}}}"#)))
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

    let store = fixtures::reopen(&backend, store).await;
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
            .get_snapshot(fixtures::stream("account-2"), key("hash-a"))
            .await
            .expect("get"),
        None
    );
}

/// Snapshots promise 2: a snapshot of a stream that does not exist is refused as ahead of it
/// (its version is 0), and none is kept for it.
pub async fn a_snapshot_of_a_missing_stream_is_refused<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let snapshot = Snapshot {
        version: Version::new(1),
        state: vec![1],
    };
    let result = store
        .put_snapshot(fixtures::stream("ghost-1"), key("h"), snapshot)
        .await;
    assert!(
        matches!(result, Err(SnapshotError::AheadOfStream { stream_version, .. }) if stream_version == Version::NONE)
    );
    assert_eq!(
        store
            .get_snapshot(fixtures::stream("ghost-1"), key("h"))
            .await
            .expect("get"),
        None
    );
}
