//! A backup as `cairn backup` leaves it in its directory: the store's copy, `cairn.redb`, and
//! `backup.json` ([`Manifest`]) beside it, naming the copy's head, size and SHA-256, which
//! `cairn restore` checks before it trusts the copy.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The copy of the store in a backup's directory, named as a store's own file is.
pub const BACKUP_FILE: &str = "cairn.redb";
const MANIFEST_FILE: &str = "backup.json";

/// What `backup.json` says of the copy beside it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// The position of the newest event in the copy.
    pub head: u64,
    /// The copy's size in bytes.
    pub bytes: u64,
    /// The copy's SHA-256, in hex.
    pub sha256: String,
    /// When it was taken, in ms since the Unix epoch.
    pub taken_at: u64,
    /// The server it was taken from.
    pub server: String,
}

/// Where a backup in `dir` keeps its manifest.
pub fn manifest_path(dir: &Path) -> PathBuf {
    dir.join(MANIFEST_FILE)
}

impl Manifest {
    /// Writes it into `dir`, synced.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let path = manifest_path(dir);
        let file = std::fs::File::create(&path)?;
        serde_json::to_writer_pretty(&file, self)?;
        file.sync_all()?;
        Ok(())
    }

    /// Reads the manifest of the backup in `dir`.
    pub fn read(dir: &Path) -> anyhow::Result<Self> {
        let path = manifest_path(dir);
        let text = std::fs::read(&path).map_err(|e| {
            anyhow::anyhow!(
                "{} is not a backup of `cairn backup` (no {}: {e})",
                dir.display(),
                path.display()
            )
        })?;
        serde_json::from_slice(&text)
            .map_err(|e| anyhow::anyhow!("{} does not read: {e}", path.display()))
    }
}

/// The SHA-256 of the file at `path`, in hex, and its size.
pub fn sha256_of(path: &Path) -> anyhow::Result<(String, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut hash = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hash.update(&buffer[..read]);
        bytes += read as u64;
    }
    Ok((hex(&hash.finalize()), bytes))
}

/// `bytes` in lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
