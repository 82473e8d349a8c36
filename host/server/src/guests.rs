//! Building module crates for `wasm32-wasip2`. Cargo gets a target directory of its own:
//! sharing the outer build's would wait forever on its lock. Each build first makes sure the
//! toolchain has the target (`cairn_guest_target::ensure`), adding it with rustup if not.

use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_guest_target::TARGET;

/// The repository this binary was built from.
fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // Wrappers of an outer build (clippy's, say) must not wrap the guest's.
    for var in [
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
    ] {
        command.env_remove(var);
    }
    command
}

/// Builds this repository's example package `package` with the `guest` profile and returns
/// the component. Used by `cairn bench`.
pub fn build(package: &str) -> anyhow::Result<Vec<u8>> {
    let repo = repository();
    cairn_guest_target::ensure(&repo)?;
    let target_dir = repo.join("target").join("cairn-guests");
    let status = cargo()
        .current_dir(&repo)
        .args([
            "build",
            "--quiet",
            "--profile",
            "guest",
            "--target",
            TARGET,
            "-p",
            package,
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .status()
        .map_err(|e| anyhow::anyhow!("cannot run cargo to build {package}: {e}"))?;
    anyhow::ensure!(
        status.success(),
        "building {package} for {TARGET} failed; if the target is missing, run \
         `rustup target add {TARGET}`"
    );
    let file = target_dir
        .join(TARGET)
        .join("guest")
        .join(format!("{}.wasm", package.replace('-', "_")));
    std::fs::read(&file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))
}

/// Why a module crate did not build.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Cargo could not be started.
    #[error("cannot run cargo: {0}")]
    Cargo(std::io::Error),
    /// The crate's Cargo.toml could not be read.
    #[error("cannot read {path}: {reason}")]
    Manifest { path: PathBuf, reason: String },
    /// The compiler refused the code; `output` is what cargo printed.
    #[error("the build failed:\n{output}")]
    Failed { output: String },
    /// The build succeeded but left no component where expected.
    #[error("the build made no {0}")]
    Missing(PathBuf),
    /// The toolchain lacks the target and it could not be added.
    #[error(transparent)]
    Target(#[from] cairn_guest_target::TargetError),
}

/// Builds the crate in `dir` for `wasm32-wasip2` (release, stripped) in `target_dir`, and
/// returns the component.
pub fn build_crate(dir: &Path, target_dir: &Path) -> Result<Vec<u8>, BuildError> {
    let manifest = dir.join("Cargo.toml");
    let lib = lib_name(&manifest)?;
    cairn_guest_target::ensure(dir)?;
    let output = cargo()
        .current_dir(dir)
        .args([
            "build",
            "--release",
            "--target",
            TARGET,
            "--lib",
            "--message-format",
            "short",
            "--config",
            "profile.release.debug=false",
            "--config",
            "profile.release.strip=true",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .output()
        .map_err(BuildError::Cargo)?;
    if !output.status.success() {
        let text = String::from_utf8_lossy(&output.stderr);
        let mut shown: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("Compiling") && !l.trim().is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        if shown.contains(TARGET) && shown.contains("target may not be installed") {
            shown.push_str(&format!("\nhint: run `rustup target add {TARGET}`"));
        }
        return Err(BuildError::Failed { output: shown });
    }
    let file = target_dir
        .join(TARGET)
        .join("release")
        .join(format!("{lib}.wasm"));
    std::fs::read(&file).map_err(|_| BuildError::Missing(file))
}

/// The name of the library a crate builds: `[lib] name`, else the package's name with `_` for
/// `-`.
fn lib_name(manifest: &Path) -> Result<String, BuildError> {
    let unreadable = |reason: String| BuildError::Manifest {
        path: manifest.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(manifest).map_err(|e| unreadable(e.to_string()))?;
    let value: toml::Table = toml::from_str(&text).map_err(|e| unreadable(e.to_string()))?;
    let lib = value
        .get("lib")
        .and_then(|l| l.get("name"))
        .and_then(|n| n.as_str());
    let package = value
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str());
    lib.or(package)
        .map(|n| n.replace('-', "_"))
        .ok_or_else(|| unreadable("it has no [package] name".into()))
}
