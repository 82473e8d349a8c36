//! [`Pressure`]: a busy host, made on purpose. A busy loop on every core and a disk writer that
//! writes large files and syncs each one, as a compiler, a backup or a noisy neighbour beside
//! the server would. `cairn bench ... --pressure` runs its workload under it, and a test serves
//! commands under it, to show that a busy host makes cairn slower and never makes it refuse.
//!
//! Everything it starts stops when it is [stopped](Pressure::stop) or dropped: the threads
//! watch one flag, and the writer's files live in a temporary directory removed with it.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

/// Bytes of each file the disk writer writes and then syncs.
const FILE_BYTES: u64 = 256 * 1024 * 1024;
/// Bytes per write.
const CHUNK_BYTES: usize = 1024 * 1024;

/// The pressure while it runs.
#[derive(Debug)]
pub struct Pressure {
    stop: Arc<AtomicBool>,
    synced_bytes: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// What the pressure did, once stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PressureReport {
    /// Busy threads, one per core.
    pub busy_threads: usize,
    /// Bytes the disk writer wrote and synced.
    pub synced_bytes: u64,
}

impl Pressure {
    /// Starts a busy loop on every core and a disk writer whose files go in a new temporary
    /// directory under `dir` (put it on the disk the workload uses).
    pub fn start(dir: &Path) -> std::io::Result<Self> {
        let files = tempfile::Builder::new()
            .prefix("cairn-pressure-")
            .tempdir_in(dir)?;
        let stop = Arc::new(AtomicBool::new(false));
        let synced_bytes = Arc::new(AtomicU64::new(0));
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let mut threads = Vec::with_capacity(cores + 1);
        for n in 0..cores {
            let stop = Arc::clone(&stop);
            threads.push(
                std::thread::Builder::new()
                    .name(format!("cairn-pressure-cpu-{n}"))
                    .spawn(move || spin(&stop))?,
            );
        }
        let (writer_stop, synced, path) = (
            Arc::clone(&stop),
            Arc::clone(&synced_bytes),
            files.path().to_path_buf(),
        );
        threads.push(
            std::thread::Builder::new()
                .name("cairn-pressure-disk".into())
                .spawn(move || {
                    if let Err(error) = write_and_sync(&path, &writer_stop, &synced) {
                        tracing::warn!(%error, "the pressure's disk writer stopped");
                    }
                })?,
        );
        Ok(Self {
            stop,
            synced_bytes,
            threads,
            _dir: files,
        })
    }

    /// Stops every thread, waits for them, and removes the writer's files.
    pub fn stop(mut self) -> PressureReport {
        self.halt()
    }

    fn halt(&mut self) -> PressureReport {
        self.stop.store(true, Ordering::Relaxed);
        let busy_threads = self.threads.len().saturating_sub(1);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        PressureReport {
            busy_threads,
            synced_bytes: self.synced_bytes.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Pressure {
    fn drop(&mut self) {
        self.halt();
    }
}

fn spin(stop: &AtomicBool) {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..10_000 {
            n = std::hint::black_box(n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
    }
}

/// Writes files of [`FILE_BYTES`] into `dir` one after another, syncing each at its end (as
/// `dd conv=fsync` does) and removing it, until told to stop.
fn write_and_sync(dir: &Path, stop: &AtomicBool, synced: &AtomicU64) -> std::io::Result<()> {
    let chunk = vec![0x5a_u8; CHUNK_BYTES];
    let path = dir.join("pressure.bin");
    while !stop.load(Ordering::Relaxed) {
        let mut file = std::fs::File::create(&path)?;
        let mut written = 0u64;
        while written < FILE_BYTES && !stop.load(Ordering::Relaxed) {
            file.write_all(&chunk)?;
            written += CHUNK_BYTES as u64;
        }
        file.sync_all()?;
        synced.fetch_add(written, Ordering::Relaxed);
        drop(file);
        std::fs::remove_file(&path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_keeps_every_core_and_the_disk_busy_until_stopped_and_leaves_nothing() {
        let dir = tempfile::tempdir().expect("a directory");
        let pressure = Pressure::start(dir.path()).expect("starts");
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        while pressure.synced_bytes.load(Ordering::Relaxed) == 0 {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let report = pressure.stop();
        assert_eq!(report.busy_threads, cores);
        assert!(report.synced_bytes >= FILE_BYTES);
        let left = std::fs::read_dir(dir.path()).expect("readable").count();
        assert_eq!(left, 0, "the writer's files were left behind");
    }
}
