//! The WebAssembly target cairn's modules are built for ([`TARGET`]), and [`ensure`], which
//! adds it with rustup to the toolchain that builds them when that toolchain lacks it.
//!
//! `rust-toolchain.toml` lists the target, but rustup adds a listed target only when it
//! installs the toolchain: a machine that already had the pinned toolchain does not get it.
//! Every build ([`crate::GuestBuild::run`]) calls [`ensure`] first, so that from a fresh clone
//! one command is all the set-up.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

/// The target triple of every module.
pub const TARGET: &str = "wasm32-wasip2";

/// Whether [`ensure`] found the target or had to add it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// The toolchain had it already.
    Present,
    /// rustup added it just now.
    Added,
}

/// Why the target could not be made ready.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// `rustc` could not be asked where the target's libraries go.
    #[error("cannot ask rustc where the {TARGET} target lives: {0}")]
    Rustc(String),
    /// The target is missing and rustup could not be started (a toolchain not managed by
    /// rustup, say).
    #[error(
        "the Rust toolchain lacks the {TARGET} target, and rustup could not be run to add it \
         ({0}); install the target for this toolchain"
    )]
    NoRustup(std::io::Error),
    /// The target is missing and rustup failed to add it.
    #[error(
        "the Rust toolchain lacks the {TARGET} target, and `rustup target add {TARGET}` \
         failed ({0}); run it by hand to see why"
    )]
    NotAdded(ExitStatus),
}

/// Makes sure the toolchain that cargo uses in `dir` can build for [`TARGET`], adding the
/// target with `rustup target add` when it cannot. rustc and rustup run in `dir`, so they
/// pick the same toolchain (its `rust-toolchain.toml`, or `RUSTUP_TOOLCHAIN`) as cargo there.
pub fn ensure(dir: &Path) -> Result<Readiness, TargetError> {
    if target_libdir(dir)?.is_dir() {
        return Ok(Readiness::Present);
    }
    let status = Command::new("rustup")
        .current_dir(dir)
        .args(["target", "add", TARGET])
        .status()
        .map_err(TargetError::NoRustup)?;
    if status.success() {
        Ok(Readiness::Added)
    } else {
        Err(TargetError::NotAdded(status))
    }
}

/// Where the toolchain keeps the target's standard library, whether or not it is there.
fn target_libdir(dir: &Path) -> Result<PathBuf, TargetError> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(rustc)
        .current_dir(dir)
        .args(["--print", "target-libdir", "--target", TARGET])
        .output()
        .map_err(|e| TargetError::Rustc(e.to_string()))?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        return Err(TargetError::Rustc(said.trim().to_owned()));
    }
    let path = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if path.is_empty() {
        return Err(TargetError::Rustc("it printed no path".into()));
    }
    Ok(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_libdir_is_the_targets_own() {
        let here = std::env::current_dir().expect("a working directory");
        let dir = target_libdir(&here).expect("rustc answers");
        assert!(
            dir.components().any(|c| c.as_os_str() == TARGET),
            "{}",
            dir.display()
        );
    }

    #[test]
    fn a_missing_directory_is_a_clear_error() {
        let gone = Path::new("/this/directory/does/not/exist");
        let error = ensure(gone).expect_err("no rustc runs in a missing directory");
        assert!(matches!(error, TargetError::Rustc(_)), "{error}");
        assert!(error.to_string().contains(TARGET), "{error}");
    }
}
