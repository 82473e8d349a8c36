//! The contract suite on [`RedbStore`], the embedded backend: each test's store kept in its own
//! temporary directory, and faults made by a disk that fills up or fails its writes
//! (`faulty_disk/`). Beside the suite, what redb does beyond the contract on a failing disk:
//! a failed commit fails every later one until the store is reopened.

mod faulty_disk;

use cairn_store::{
    AppendError, EventId, EventLog, EventStore, EventType, ExpectedVersion, Json, NewEvent,
    RedbOptions, RedbStore, StreamId,
};
use cairn_store_contract::{Backend, WriteFaults};
use faulty_disk::{DiskFaults, FaultyDisk};

/// The database file in a data directory, as [`RedbStore::open`] names it.
const DATABASE_FILE: &str = "cairn.redb";

/// A redb store kept in a temporary directory, removed when the backend is dropped.
#[derive(Debug)]
struct RedbBackend {
    dir: tempfile::TempDir,
}

impl Backend for RedbBackend {
    type Store = RedbStore;
    type Faults = DiskFaults;

    async fn create() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    async fn open(&self) -> RedbStore {
        RedbStore::open(self.dir.path(), RedbOptions::default())
            .await
            .expect("store opens")
    }

    async fn open_faulty(&self) -> (RedbStore, DiskFaults) {
        let path = self.dir.path().join(DATABASE_FILE);
        let (disk, faults) = FaultyDisk::open(path.clone());
        let store = RedbStore::open_with_backend(disk, path, RedbOptions::default())
            .await
            .expect("the store opens on the faulty disk");
        (store, faults)
    }

    async fn close(store: RedbStore) {
        store.close().await;
    }
}

cairn_store_contract::contract_suite!(RedbBackend);

fn event(data: &str) -> NewEvent {
    NewEvent::new(
        EventType::new("Filled").expect("valid"),
        Json::parse(data).expect("valid"),
    )
    .with_id(EventId::from(uuid::Uuid::new_v4()))
}

/// With redb, freeing space is not enough once a commit failed: every later append fails, and
/// the store says so, until the store is reopened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_fails_every_later_one_until_the_store_is_reopened() {
    let backend = RedbBackend::create().await;
    let (store, faults) = backend.open_faulty().await;
    let stream = StreamId::new("disk-1").expect("valid");
    store
        .append(stream.clone(), ExpectedVersion::Any, vec![event("{}")])
        .await
        .expect("the disk has room");
    faults.fill();
    let data = format!(r#"{{"pad":"{}"}}"#, "x".repeat(20_000));
    let mut appends = 0;
    while store
        .append(stream.clone(), ExpectedVersion::Any, vec![event(&data)])
        .await
        .is_ok()
    {
        appends += 1;
        assert!(appends < 10_000, "the disk never filled");
    }
    assert!(store.write_failure().is_some());
    faults.clear();
    let after = store
        .append(
            StreamId::new("disk-probe").expect("valid"),
            ExpectedVersion::Any,
            vec![event("{}")],
        )
        .await;
    assert!(matches!(after, Err(AppendError::Storage(_))), "{after:?}");
    assert!(store.write_failure().is_some());
    RedbBackend::close(store).await;

    let store = backend.open().await;
    assert_eq!(store.write_failure(), None);
    store
        .append(stream, ExpectedVersion::Any, vec![event("{}")])
        .await
        .expect("a reopened store appends");
    store.close().await;
}
