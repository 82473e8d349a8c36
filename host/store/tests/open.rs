//! Opening and closing the store: a file of another layout is refused, as is a database already
//! open or a data directory that cannot be made; a clone of a closed store fails its writes.

mod common;

use cairn_store::{
    AppendError, EventLog, ExpectedVersion, OpenError, RedbOptions, RedbStore, StorageError,
};

#[tokio::test]
async fn a_database_of_another_layout_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open(dir.path()).await;
    store
        .append(
            common::stream("s-1"),
            ExpectedVersion::Any,
            vec![common::event("E", "{}")],
        )
        .await
        .expect("append");
    store.close().await;

    // Pretend a future cairn wrote this file.
    let file = dir.path().join("cairn.redb");
    {
        let db = redb::Database::open(&file).expect("redb opens it");
        let txn = db.begin_write().expect("txn");
        {
            let meta: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("meta");
            let mut table = txn.open_table(meta).expect("meta table");
            table.insert("format", 99).expect("insert");
        }
        txn.commit().expect("commit");
    }
    let result = RedbStore::open(dir.path(), RedbOptions::default()).await;
    match result {
        Err(error @ OpenError::UnknownFormat { found: 99, .. }) => {
            assert!(error.to_string().contains("layout 99"), "{error}");
        }
        other => panic!("expected UnknownFormat, got {other:?}"),
    }
}

#[tokio::test]
async fn a_database_cannot_be_opened_twice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let _store = common::open(dir.path()).await;
    let second = RedbStore::open(dir.path(), RedbOptions::default()).await;
    match second {
        Err(error @ OpenError::InUse { .. }) => {
            let message = error.to_string();
            assert!(
                message.contains("another cairn is using the data directory"),
                "{message}"
            );
            assert!(
                message.contains(&dir.path().display().to_string()),
                "it names the directory: {message}"
            );
        }
        other => panic!("expected InUse, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unusable_data_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, b"x").expect("write");
    let result = RedbStore::open(file.join("data"), RedbOptions::default()).await;
    match result {
        Err(error @ OpenError::CreateDirectory { .. }) => {
            assert!(
                error
                    .to_string()
                    .contains("cannot create the data directory"),
                "{error}"
            );
        }
        other => panic!("expected CreateDirectory, got {other:?}"),
    }
}

#[tokio::test]
async fn writes_through_a_clone_of_a_closed_store_fail() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open(dir.path()).await;
    store
        .append(
            common::stream("early-1"),
            ExpectedVersion::Any,
            vec![common::event("A", "{}")],
        )
        .await
        .expect("append");
    let other = store.clone();
    store.close().await;
    let result = other
        .append(
            common::stream("late-1"),
            ExpectedVersion::Any,
            vec![common::event("A", "{}")],
        )
        .await;
    assert!(
        matches!(result, Err(AppendError::Storage(StorageError::Closed))),
        "{result:?}"
    );
}
