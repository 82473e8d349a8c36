//! Damage to the file under the store is found, never served: a changed byte in an event's
//! payload fails its checksum on every read that meets it (naming its position), the store
//! remembers it for health checks, other streams still read, and `verify` lists it. Damage to
//! redb's own pages makes opening fail with `OpenError::Damaged`, never a panic.

mod common;

use std::path::Path;

use cairn_store::{
    AllRead, EventLog, EventStore, ExpectedVersion, OpenError, Position, ReadError, ReadModels,
    RedbOptions, RedbStore, Snapshots, StorageError, StoredRecord, StreamRead,
};

/// Every place `needle` occurs in `haystack`. redb may hold stale copies of a page, so a test
/// that damages a value damages every copy of it.
fn occurrences(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, window)| *window == needle)
        .map(|(at, _)| at)
        .collect()
}

fn damaged_position(error: ReadError) -> Position {
    match error {
        ReadError::Storage(StorageError::Damaged(damage)) => match damage.record {
            StoredRecord::Event { position } => position,
            other => panic!("expected a damaged event, got {other:?}"),
        },
        other => panic!("expected a damaged record, got {other:?}"),
    }
}

/// Fills a store: streams `users-1` and `owners-1` (whose second event carries the unique text
/// `o7777`) and `users-2`.
async fn fill(dir: &Path) -> Position {
    let store = common::open(dir).await;
    let mut damaged_at = Position::new(0);
    for (stream, data) in [
        ("users-1", r#"{"name":"Ada"}"#),
        ("owners-1", r#"{"owner":"o1"}"#),
        ("owners-1", r#"{"owner":"o7777"}"#),
        ("users-2", r#"{"name":"Grace"}"#),
        ("owners-1", r#"{"owner":"o2"}"#),
    ] {
        let outcome = store
            .append(
                common::stream(stream),
                ExpectedVersion::Any,
                vec![common::event("Set", data)],
            )
            .await
            .expect("append");
        if data.contains("o7777") {
            damaged_at = outcome.first_position;
        }
    }
    store.close().await;
    damaged_at
}

#[tokio::test]
async fn a_changed_payload_byte_is_reported_with_its_position_and_never_served() {
    let dir = tempfile::tempdir().expect("temp dir");
    let damaged_at = fill(dir.path()).await;
    let file = dir.path().join("cairn.redb");
    let mut bytes = std::fs::read(&file).expect("read the file");
    let found = occurrences(&bytes, br#""owner":"o7777""#);
    assert!(!found.is_empty(), "the payload is in the file");
    for at in found {
        // `"o7777"` becomes `"op777"`: still JSON, still the same length.
        bytes[at + 10] = b'p';
    }
    std::fs::write(&file, &bytes).expect("write the file");

    let store = common::open(dir.path()).await;
    assert_eq!(store.damage_seen(), None, "nothing was read yet");
    let error = store
        .read_stream(common::stream("owners-1"), StreamRead::forward())
        .await
        .expect_err("the damaged event is not served");
    assert_eq!(damaged_position(error), damaged_at);
    let error = store
        .read_stream(common::stream("owners-1"), StreamRead::backward())
        .await
        .expect_err("nor backwards");
    assert_eq!(damaged_position(error), damaged_at);
    let error = store
        .read_all(AllRead::after(Position::new(0)))
        .await
        .expect_err("nor in the global log");
    let message = error.to_string();
    assert_eq!(damaged_position(error), damaged_at);
    assert!(message.contains("checksum"), "{message}");
    assert!(
        message.contains(&format!("position {damaged_at}")),
        "{message}"
    );

    let seen = store.damage_seen().expect("the store remembers the damage");
    assert_eq!(
        seen.record,
        StoredRecord::Event {
            position: damaged_at
        }
    );
    assert_eq!(
        EventStore::damage_seen(&store),
        Some(seen.clone()),
        "through the trait too"
    );

    // What lies before it, and other streams, still read.
    let before = store
        .read_all(AllRead::after(Position::new(0)).limit(2))
        .await
        .expect("the events before the damage");
    assert_eq!(before.events.len(), 2);
    for stream in ["users-1", "users-2"] {
        let slice = store
            .read_stream(common::stream(stream), StreamRead::forward())
            .await
            .expect("another stream reads");
        assert_eq!(slice.events.len(), 1);
    }
    let first = store
        .read_stream(common::stream("owners-1"), StreamRead::forward().limit(1))
        .await
        .expect("the stream's event before the damage");
    assert_eq!(first.events[0].data.as_str(), r#"{"owner":"o1"}"#);
    store.close().await;

    let report = RedbStore::verify(dir.path()).await.expect("verify runs");
    assert_eq!(report.layout, 3);
    assert_eq!(report.events, 5);
    assert_eq!(report.damage.len(), 1, "{:?}", report.damage);
    assert_eq!(report.damage[0], seen);
    assert!(!report.is_sound());
}

#[tokio::test]
async fn verify_reports_every_damaged_record_and_a_sound_file_as_sound() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open(dir.path()).await;
    for i in 0..6 {
        store
            .append(
                common::stream(&format!("items-{}", i % 2)),
                ExpectedVersion::Any,
                vec![common::event("Set", &format!(r#"{{"tag":"t{i}-unique"}}"#))],
            )
            .await
            .expect("append");
    }
    store.close().await;
    let report = RedbStore::verify(dir.path()).await.expect("verify runs");
    assert!(report.is_sound(), "{:?}", report.damage);
    assert_eq!((report.events, report.streams), (6, 2));

    let file = dir.path().join("cairn.redb");
    let mut bytes = std::fs::read(&file).expect("read");
    for tag in ["t1-unique", "t4-unique"] {
        for at in occurrences(&bytes, tag.as_bytes()) {
            bytes[at] = b'T';
        }
    }
    std::fs::write(&file, &bytes).expect("write");
    let report = RedbStore::verify(dir.path()).await.expect("verify runs");
    let damaged: Vec<_> = report.damage.iter().map(|d| d.record.clone()).collect();
    assert_eq!(
        damaged,
        [2, 5].map(|p| StoredRecord::Event {
            position: Position::new(p)
        })
    );
}

#[tokio::test]
async fn verify_refuses_a_missing_store_and_an_open_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    assert!(matches!(
        RedbStore::verify(dir.path()).await,
        Err(OpenError::Database { .. })
    ));
    let store = common::open(dir.path()).await;
    assert!(matches!(
        RedbStore::verify(dir.path()).await,
        Err(OpenError::InUse { .. })
    ));
    store.close().await;
    assert!(RedbStore::verify(dir.path()).await.is_ok());
}

#[tokio::test]
async fn a_damaged_header_is_an_open_error_that_points_to_verify() {
    let dir = tempfile::tempdir().expect("temp dir");
    fill(dir.path()).await;
    let file = dir.path().join("cairn.redb");
    let pristine = std::fs::read(&file).expect("read");
    // The magic number, then the file format version.
    for range in [0..16, 64..128] {
        let mut bytes = pristine.clone();
        bytes[range.clone()].fill(0xAA);
        std::fs::write(&file, &bytes).expect("write");
        match RedbStore::open(dir.path(), RedbOptions::default()).await {
            Err(error @ OpenError::Damaged { .. }) => {
                let message = error.to_string();
                assert!(message.contains("is damaged"), "{message}");
                assert!(
                    message.contains(&format!("cairn verify {}", dir.path().display())),
                    "{message}"
                );
                assert!(message.contains("backup"), "{message}");
            }
            other => panic!("bytes {range:?}: expected Damaged, got {other:?}"),
        }
    }
}

/// Overwrites 64 bytes at each of many places in a real store's file: opening, reading and
/// verifying either work or report damage; nothing panics. Some of these places make redb panic
/// while it opens the file ("entered unreachable code", "Malformed allocator state").
#[tokio::test]
async fn damage_anywhere_in_the_file_is_an_error_never_a_panic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open(dir.path()).await;
    for i in 0..400 {
        let data = format!(r#"{{"n":{i},"pad":"{}"}}"#, "x".repeat(100));
        store
            .append(
                common::stream(&format!("s-{}", i % 37)),
                ExpectedVersion::Any,
                vec![common::event("E", &data)],
            )
            .await
            .expect("append");
    }
    store.close().await;
    let file = dir.path().join("cairn.redb");
    let pristine = std::fs::read(&file).expect("read");
    let mut refused = 0;
    for at in (0..pristine.len()).step_by(4096).map(|page| page + 100) {
        let mut bytes = pristine.clone();
        let end = (at + 64).min(bytes.len());
        bytes[at..end].fill(0xAA);
        std::fs::write(&file, &bytes).expect("write");
        let data_dir = dir.path().to_path_buf();
        // A panic inside the task would fail the join below.
        let outcome = tokio::spawn(async move {
            match RedbStore::open(&data_dir, RedbOptions::default()).await {
                Ok(store) => {
                    let read = store
                        .read_all(AllRead::after(Position::new(0)).limit(1_000))
                        .await;
                    if let Err(error) = &read {
                        assert!(
                            store.damage_seen().is_some(),
                            "a read that failed on damage is remembered: {error}"
                        );
                    }
                    store.close().await;
                    Ok(read.is_ok())
                }
                Err(OpenError::Damaged { .. }) => Err(()),
                Err(other) => panic!("expected Damaged, got {other:?}"),
            }
        })
        .await
        .unwrap_or_else(|e| panic!("damage at byte {at} panicked: {e}"));
        if outcome.is_err() {
            refused += 1;
        }
        // Opening may have run redb's recovery; verify the damaged bytes as they are now.
        let data_dir = dir.path().to_path_buf();
        let report = tokio::spawn(async move { RedbStore::verify(&data_dir).await })
            .await
            .unwrap_or_else(|e| panic!("verify of damage at byte {at} panicked: {e}"));
        match (outcome, report) {
            (Ok(false), Ok(report)) => {
                assert!(!report.is_sound(), "verify misses damage at byte {at}")
            }
            (_, Ok(_) | Err(OpenError::Damaged { .. })) => {}
            (_, Err(other)) => panic!("verify of damage at byte {at}: {other:?}"),
        }
    }
    assert!(refused > 0, "some damage is refused at open");
}

#[tokio::test]
async fn a_damaged_snapshot_or_read_model_value_is_refused_naming_it() {
    use cairn_store::{ModelCommit, ModelWrite, ReadModelName, Snapshot, SnapshotKey, Version};
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open(dir.path()).await;
    let stream = common::stream("carts-1");
    store
        .append(
            stream.clone(),
            ExpectedVersion::NoStream,
            vec![common::event("Opened", "{}")],
        )
        .await
        .expect("append");
    let key = SnapshotKey::new("h1").expect("valid");
    store
        .put_snapshot(
            stream.clone(),
            key.clone(),
            Snapshot {
                version: Version::new(1),
                state: b"snapshot-state-unique".to_vec(),
            },
        )
        .await
        .expect("snapshot");
    let model = ReadModelName::new("carts").expect("valid");
    let put = |key: &str, value: &str| ModelWrite::Put {
        key: key.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
    };
    store
        .commit_model(ModelCommit {
            model: model.clone(),
            writes: vec![put("a", "model-value-unique"), put("b", "fine")].into(),
            checkpoint: Position::new(1),
        })
        .await
        .expect("commit");
    store.close().await;

    let file = dir.path().join("cairn.redb");
    let mut bytes = std::fs::read(&file).expect("read");
    for text in ["snapshot-state-unique", "model-value-unique"] {
        for at in occurrences(&bytes, text.as_bytes()) {
            bytes[at] = b'X';
        }
    }
    std::fs::write(&file, &bytes).expect("write");

    let store = common::open(dir.path()).await;
    let error = store
        .get_snapshot(stream.clone(), key)
        .await
        .expect_err("the damaged snapshot is not served");
    let snapshot = StoredRecord::Snapshot {
        stream: "carts-1".to_owned(),
        key: "h1".to_owned(),
    };
    match error {
        ReadError::Storage(StorageError::Damaged(damage)) => assert_eq!(damage.record, snapshot),
        other => panic!("expected a damaged snapshot, got {other:?}"),
    }
    assert_eq!(store.damage_seen().map(|d| d.record), Some(snapshot));

    let view = store.read_model(&model).expect("view");
    let entry = StoredRecord::ModelEntry {
        model: "carts".to_owned(),
        key: b"a".to_vec(),
    };
    for error in [
        view.get(b"a").expect_err("the damaged value is not served"),
        view.scan(b"", None, 10).expect_err("nor in a scan"),
    ] {
        match error {
            StorageError::Damaged(damage) => assert_eq!(damage.record, entry),
            other => panic!("expected a damaged entry, got {other:?}"),
        }
    }
    assert_eq!(
        view.get(b"b").expect("another entry"),
        Some(b"fine".to_vec())
    );
    store.close().await;

    let report = RedbStore::verify(dir.path()).await.expect("verify");
    let damaged: Vec<_> = report.damage.iter().map(|d| d.record.clone()).collect();
    assert_eq!(damaged.len(), 2, "{damaged:?}");
    assert!(damaged.contains(&entry), "{damaged:?}");
}
