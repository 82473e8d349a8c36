//! [`Machine`]: what a bench ran on, printed with its figures so that figures from different
//! machines are never compared unawares.
//!
//! The disk probe is an anchor for the append figures: durable appends are bounded by how
//! fast the disk syncs, so the ratio of an append rate to the probe's syncs per second travels
//! between machines better than the rate alone.

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

/// How many synced writes the probe times.
const PROBE_WRITES: usize = 200;
/// The bytes of each probe write: one page, as a commit's header write is.
const PROBE_BYTES: usize = 4096;

/// The CPU, its cores, and how fast the disk under the bench's directory syncs a page.
#[derive(Clone, Debug)]
pub(crate) struct Machine {
    pub(crate) cpu: String,
    pub(crate) cores: usize,
    pub(crate) fsync: FsyncProbe,
}

/// [`PROBE_WRITES`] appends of [`PROBE_BYTES`] to a new file, each followed by `fdatasync`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FsyncProbe {
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
}

impl Machine {
    /// Reads the CPU model and cores and probes the disk under `dir`, with a file it removes.
    pub(crate) fn probe(dir: &Path) -> anyhow::Result<Self> {
        Ok(Self {
            cpu: cpu_model(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            fsync: FsyncProbe::run(dir)?,
        })
    }

    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "cpu": self.cpu,
            "cores": self.cores,
            "fsync_4k_p50_ms": millis(self.fsync.p50),
            "fsync_4k_p99_ms": millis(self.fsync.p99),
        })
    }

    /// One line for the table.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{}, {} cores; a synced 4 KiB write: p50 {:.3} ms, p99 {:.3} ms",
            self.cpu,
            self.cores,
            millis(self.fsync.p50),
            millis(self.fsync.p99)
        )
    }
}

impl FsyncProbe {
    fn run(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join("fsync-probe");
        let mut file = std::fs::File::create(&path)
            .map_err(|e| anyhow::anyhow!("cannot probe the disk at {}: {e}", path.display()))?;
        let page = [0x5a_u8; PROBE_BYTES];
        let mut times = Vec::with_capacity(PROBE_WRITES);
        for _ in 0..PROBE_WRITES {
            let started = Instant::now();
            file.write_all(&page)?;
            file.sync_data()?;
            times.push(started.elapsed());
        }
        drop(file);
        std::fs::remove_file(&path)?;
        times.sort_unstable();
        Ok(Self {
            p50: times[times.len() / 2],
            p99: times[times.len() * 99 / 100],
        })
    }
}

/// The CPU's model name as the kernel reports it, or "CPU not known".
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, name)| name.trim().to_owned())
        })
        .unwrap_or_else(|| "CPU not known".to_owned())
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1_000.0
}
