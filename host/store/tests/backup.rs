//! `RedbStore::backup`: a copy taken while writers append is the store as of one commit, whole:
//! it opens as a store of its own, its log is the source's first `head` events byte for byte,
//! every stream's version agrees with it, and the snapshots, modules and read models come along.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cairn_store::{
    AllRead, BackupError, EventLog, ExpectedVersion, ModelCommit, ModelWrite, Position,
    ReadModelName, ReadModels, RedbStore, Snapshot, SnapshotKey, Snapshots, StreamRead, Version,
};
use common::{event, open, stream};

/// Every event of `store` from position 1 to `head`, as (position, id, stream, version, data).
async fn log(store: &RedbStore, head: u64) -> Vec<(u64, String, String, u64, String)> {
    let mut events = Vec::new();
    let mut after = Position::START;
    while after.get() < head {
        let slice = store
            .read_all(AllRead::after(after).limit(1_000))
            .await
            .expect("reads");
        for e in slice.events {
            if e.position.get() <= head {
                events.push((
                    e.position.get(),
                    e.id.to_string(),
                    e.stream.to_string(),
                    e.version.get(),
                    e.data.as_str().to_owned(),
                ));
            }
        }
        after = slice.scanned_to;
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_writes_is_the_store_at_one_commit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir.path().join("source")).await;
    // What is not events comes along too.
    store
        .append(
            stream("account-0"),
            ExpectedVersion::NoStream,
            vec![event("Opened", "{}")],
        )
        .await
        .expect("appends");
    store
        .put_snapshot(
            stream("account-0"),
            SnapshotKey::new("v1").expect("a key"),
            Snapshot {
                version: Version::new(1),
                state: b"{}".to_vec(),
            },
        )
        .await
        .expect("a snapshot");
    store
        .commit_model(ModelCommit {
            model: ReadModelName::new("balances#g1").expect("a name"),
            writes: vec![ModelWrite::Put {
                key: b"account-0".to_vec(),
                value: b"7".to_vec(),
            }]
            .into(),
            checkpoint: Position::new(1),
        })
        .await
        .expect("a model");

    // Four writers append while the backup is taken.
    let writing = Arc::new(AtomicBool::new(true));
    let mut writers = Vec::new();
    for writer in 0..4 {
        let (store, writing) = (store.clone(), Arc::clone(&writing));
        writers.push(tokio::spawn(async move {
            let mut appended = 0u64;
            while writing.load(Ordering::Relaxed) || appended < 50 {
                let name = stream(&format!("account-{writer}"));
                store
                    .append(
                        name,
                        ExpectedVersion::Any,
                        vec![event("Deposited", &format!("{{\"n\":{appended}}}"))],
                    )
                    .await
                    .expect("appends");
                appended += 1;
            }
            appended
        }));
    }
    while store.head().get() < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let copy = dir.path().join("copy");
    std::fs::create_dir_all(&copy).expect("mkdir");
    let report = store
        .backup(copy.join("cairn.redb"))
        .await
        .expect("the backup is taken");
    writing.store(false, Ordering::Relaxed);
    let mut appended = 0;
    for writer in writers {
        appended += writer.await.expect("the writer ran");
    }
    assert!(report.head >= 200, "{report:?}");
    assert!(
        store.head().get() > report.head,
        "writes went on after the backup's commit: {} then {}",
        report.head,
        store.head().get()
    );
    assert_eq!(store.head().get(), appended + 1);

    // A backup to a file that exists is refused, and leaves it be.
    let again = store.backup(copy.join("cairn.redb")).await;
    assert!(
        matches!(again, Err(BackupError::Exists { .. })),
        "{again:?}"
    );

    let verified = RedbStore::verify(&copy).await.expect("the copy opens");
    assert!(verified.is_sound(), "{:?}", verified.damage);
    assert_eq!(verified.events, report.head);
    let restored = open(&copy).await;
    assert_eq!(restored.head().get(), report.head);
    assert_eq!(
        log(&restored, report.head).await,
        log(&store, report.head).await,
        "the copy's log is the source's first events, byte for byte"
    );
    // Each stream's version is its count of events in the copy's log.
    let copied = log(&restored, report.head).await;
    for writer in 0..4 {
        let name = format!("account-{writer}");
        let count = copied.iter().filter(|e| e.2 == name).count() as u64;
        let slice = restored
            .read_stream(stream(&name), StreamRead::forward().limit(1))
            .await
            .expect("reads");
        assert_eq!(slice.version.get(), count, "{name}");
    }
    assert!(
        restored
            .get_snapshot(stream("account-0"), SnapshotKey::new("v1").expect("a key"))
            .await
            .expect("reads")
            .is_some(),
        "the snapshot came along"
    );
    let model = restored
        .read_model(&ReadModelName::new("balances#g1").expect("a name"))
        .expect("reads");
    assert_eq!(model.get(b"account-0").expect("reads"), Some(b"7".to_vec()));
    // The copy takes writes of its own, on from its head.
    let outcome = restored
        .append(
            stream("account-9"),
            ExpectedVersion::NoStream,
            vec![event("Opened", "{}")],
        )
        .await
        .expect("the copy appends");
    assert_eq!(outcome.first_position.get(), report.head + 1);
}

#[tokio::test]
async fn a_table_the_backup_does_not_know_fails_it_and_leaves_no_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path()).await;
    store
        .append(
            stream("a-1"),
            ExpectedVersion::NoStream,
            vec![event("Opened", "{}")],
        )
        .await
        .expect("appends");
    store.close().await;
    // A table a later layout might add, unknown to this backup.
    {
        let db = redb::Database::create(dir.path().join("cairn.redb")).expect("opens");
        let write = db.begin_write().expect("writes");
        write
            .open_table(redb::TableDefinition::<u64, u64>::new("stray"))
            .expect("a table")
            .insert(1, 1)
            .expect("a row");
        write.commit().expect("commits");
    }
    let store = open(dir.path()).await;
    let target = dir.path().join("copy.redb");
    let refused = store.backup(target.clone()).await;
    let error = refused.expect_err("refused").to_string();
    assert!(error.contains("stray"), "{error}");
    assert!(!target.exists(), "no backup file");
    assert!(
        !dir.path().join("copy.redb.partial").exists(),
        "no partial file"
    );
}
