//! I/O faults: the store on a disk that fills up, or that starts failing at a random write.
//! A failed write is never acknowledged; after the fault clears, the store reopens consistent:
//! the log runs 1, 2, 3, ... with each event once, every acknowledged append is there at the
//! versions and positions it was given, an append that failed is there whole or not at all,
//! and new appends succeed. While writes fail, the store says why (`write_failure`, which
//! `/healthz` reports); a failed commit fails every later one until the store is reopened.
//!
//! The disk is a redb storage backend over the real file that refuses to grow the file past a
//! limit (as a full filesystem does) or fails every write and sync after a countdown.

mod common;

use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use cairn_store::{
    AllRead, AppendError, AppendOutcome, EventStore, ExpectedVersion, Position, RedbOptions,
    RedbStore, StreamRead,
};
use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};

/// What the faulty disk allows.
#[derive(Debug)]
struct Faults {
    /// The file may not grow past this many bytes.
    capacity: AtomicU64,
    /// Writes and syncs left before every one fails (negative: no countdown; redb writes from
    /// one thread).
    writes_left: AtomicI64,
}

#[derive(Debug)]
struct FaultyDisk {
    file: FileBackend,
    faults: Arc<Faults>,
}

fn no_space() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::StorageFull, "no space left on device")
}

impl FaultyDisk {
    /// Counts a write or a sync down; once the count is spent, each one fails.
    fn tick(&self) -> std::io::Result<()> {
        let left = self.faults.writes_left.load(Ordering::SeqCst);
        if left < 0 {
            return Ok(());
        }
        if left == 0 {
            return Err(no_space());
        }
        self.faults.writes_left.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
}

impl StorageBackend for FaultyDisk {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.file.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.file.read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        if len > self.faults.capacity.load(Ordering::SeqCst) {
            return Err(no_space());
        }
        self.file.set_len(len)
    }

    fn sync_data(&self) -> Result<(), std::io::Error> {
        self.tick()?;
        self.file.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        if offset + data.len() as u64 > self.faults.capacity.load(Ordering::SeqCst) {
            return Err(no_space());
        }
        self.tick()?;
        self.file.write(offset, data)
    }

    fn close(&self) -> Result<(), std::io::Error> {
        self.file.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.file.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.file.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.unlock_range(start, end)
    }
}

async fn open_faulty(dir: &Path, faults: &Arc<Faults>) -> RedbStore {
    let path = dir.join("cairn.redb");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .expect("the file opens");
    let disk = FaultyDisk {
        file: FileBackend::new(file).expect("a file backend"),
        faults: Arc::clone(faults),
    };
    RedbStore::open_with_backend(disk, path, RedbOptions::default())
        .await
        .expect("the store opens on the faulty disk")
}

/// What a run of appends got: acknowledged outcomes with their ids, and failed appends' ids.
#[derive(Default)]
struct Seen {
    acked: Vec<(AppendOutcome, Vec<uuid::Uuid>)>,
    failed: Vec<(String, Vec<uuid::Uuid>)>,
}

/// Appends batches of `size`-byte events to `streams` streams until `failures` appends have
/// failed in a row (or `limit` appends were made).
async fn append_until_failing(
    store: &RedbStore,
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
            .map(|id| common::event("Filled", &data).with_id(cairn_store::EventId::from(*id)))
            .collect();
        match store
            .append(common::stream(&stream), ExpectedVersion::Any, events)
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

/// Reopens the store on a healthy disk and checks it against what was seen.
async fn check_reopened(dir: &Path, seen: &Seen) {
    let store = RedbStore::open(dir, RedbOptions::default())
        .await
        .expect("the store reopens once the fault clears");
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
            common::stream("disk-after"),
            ExpectedVersion::NoStream,
            vec![common::event("Recovered", "{}")],
        )
        .await
        .expect("appends work again");
    assert_eq!(after.first_position.get(), log.head.get() + 1);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_fails_appends_acknowledges_none_and_the_store_reopens_consistent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let faults = Arc::new(Faults {
        capacity: AtomicU64::new(u64::MAX),
        writes_left: AtomicI64::new(-1),
    });
    let store = open_faulty(dir.path(), &faults).await;
    let mut seen = append_until_failing(&store, 20, 100, usize::MAX, 50).await;
    assert_eq!(seen.failed.len(), 0, "the disk had room");
    assert_eq!(store.write_failure(), None);
    // The disk fills: the file cannot grow any more.
    let full = std::fs::metadata(dir.path().join("cairn.redb"))
        .expect("stat")
        .len();
    faults.capacity.store(full, Ordering::SeqCst);
    let more = append_until_failing(&store, 20, 20_000, 20, 10_000).await;
    assert!(more.failed.len() >= 20, "the disk never filled");
    seen.acked.extend(more.acked);
    seen.failed.extend(more.failed);
    let failure = store
        .write_failure()
        .expect("the store says its writes fail");
    assert!(
        failure.contains("space") || failure.contains("I/O"),
        "{failure}"
    );
    // Freeing space is not enough: the store needs reopening.
    faults.capacity.store(u64::MAX, Ordering::SeqCst);
    let after = store
        .append(
            common::stream("disk-probe"),
            ExpectedVersion::Any,
            vec![common::event("Probe", "{}")],
        )
        .await;
    assert!(matches!(after, Err(AppendError::Storage(_))), "{after:?}");
    assert!(store.write_failure().is_some());
    store.close().await;
    check_reopened(dir.path(), &seen).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disk_failing_at_a_random_write_never_loses_an_acknowledged_append() {
    for round in 0..20 {
        let dir = tempfile::tempdir().expect("temp dir");
        let faults = Arc::new(Faults {
            capacity: AtomicU64::new(u64::MAX),
            writes_left: AtomicI64::new(-1),
        });
        let store = open_faulty(dir.path(), &faults).await;
        faults
            .writes_left
            .store(fastrand::i64(1..400), Ordering::SeqCst);
        let seen = append_until_failing(&store, 7, 300, 10, 100_000).await;
        assert!(
            !seen.failed.is_empty(),
            "round {round}: the fault never came"
        );
        store.close().await;
        check_reopened(dir.path(), &seen).await;
    }
}
