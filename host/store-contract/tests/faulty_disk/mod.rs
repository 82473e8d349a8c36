//! [`FaultyDisk`]: a redb storage backend over the real file that refuses to grow the file past
//! a limit (as a full filesystem does) or fails every write and sync after a countdown, and
//! [`DiskFaults`], the switch a test turns it with.

use std::ops::Bound;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use cairn_store_contract::WriteFaults;
use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};

/// What the faulty disk allows.
#[derive(Debug)]
struct Limits {
    /// The file may not grow past this many bytes.
    capacity: AtomicU64,
    /// Writes and syncs left before every one fails (negative: no countdown; redb writes from
    /// one thread).
    writes_left: AtomicI64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            capacity: AtomicU64::new(u64::MAX),
            writes_left: AtomicI64::new(-1),
        }
    }
}

/// The faults of one [`FaultyDisk`]: healthy until told otherwise.
#[derive(Clone, Debug)]
pub(crate) struct DiskFaults {
    limits: Arc<Limits>,
    file: PathBuf,
}

impl WriteFaults for DiskFaults {
    /// The file may not grow past the length it has now.
    fn fill(&self) {
        let full = std::fs::metadata(&self.file).expect("stat").len();
        self.limits.capacity.store(full, Ordering::SeqCst);
    }

    /// `writes` more writes and syncs succeed; every one after them fails.
    fn fail_after(&self, writes: u64) {
        let writes = i64::try_from(writes).expect("a countdown that fits");
        self.limits.writes_left.store(writes, Ordering::SeqCst);
    }

    fn clear(&self) {
        self.limits.capacity.store(u64::MAX, Ordering::SeqCst);
        self.limits.writes_left.store(-1, Ordering::SeqCst);
    }
}

/// The real file, behind the faults.
#[derive(Debug)]
pub(crate) struct FaultyDisk {
    file: FileBackend,
    limits: Arc<Limits>,
}

impl FaultyDisk {
    /// Opens (or creates) `path` as a disk that is healthy until its faults say otherwise.
    pub(crate) fn open(path: PathBuf) -> (Self, DiskFaults) {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .expect("the file opens");
        let limits = Arc::new(Limits::default());
        let disk = Self {
            file: FileBackend::new(file).expect("a file backend"),
            limits: Arc::clone(&limits),
        };
        (disk, DiskFaults { limits, file: path })
    }

    /// Counts a write or a sync down; once the count is spent, each one fails.
    fn tick(&self) -> std::io::Result<()> {
        let left = self.limits.writes_left.load(Ordering::SeqCst);
        if left < 0 {
            return Ok(());
        }
        if left == 0 {
            return Err(no_space());
        }
        self.limits.writes_left.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
}

fn no_space() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::StorageFull, "no space left on device")
}

impl StorageBackend for FaultyDisk {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.file.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.file.read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        if len > self.limits.capacity.load(Ordering::SeqCst) {
            return Err(no_space());
        }
        self.file.set_len(len)
    }

    fn sync_data(&self) -> Result<(), std::io::Error> {
        self.tick()?;
        self.file.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        if offset + data.len() as u64 > self.limits.capacity.load(Ordering::SeqCst) {
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
