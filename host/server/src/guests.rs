//! Building the example modules of this repository for `wasm32-wasip2`, so `cairn bench` (and
//! `cairn dev`) can run them. The guests get their own target directory: sharing the outer
//! build's would wait on its lock.

use std::path::PathBuf;
use std::process::Command;

/// The repository this binary was built from.
fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds example package `package` with the `guest` profile and returns the component.
pub(crate) fn build(package: &str) -> anyhow::Result<Vec<u8>> {
    let repo = repository();
    let target_dir = repo.join("target").join("cairn-guests");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&repo)
        .args([
            "build",
            "--quiet",
            "--profile",
            "guest",
            "--target",
            "wasm32-wasip2",
            "-p",
            package,
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .status()
        .map_err(|e| anyhow::anyhow!("cannot run cargo to build {package}: {e}"))?;
    anyhow::ensure!(
        status.success(),
        "building {package} for wasm32-wasip2 failed; if the target is missing, run \
         `rustup target add wasm32-wasip2`"
    );
    let file = target_dir
        .join("wasm32-wasip2/guest")
        .join(format!("{}.wasm", package.replace('-', "_")));
    std::fs::read(&file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))
}
