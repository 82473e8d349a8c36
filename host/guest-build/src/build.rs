//! [`GuestBuild`]: one cargo build of guest crates for [`TARGET`], and [`Built`], where its
//! components are.
//!
//! Cargo gets a target directory of the caller's choosing, never the outer build's: sharing
//! that would wait forever on its lock. What an outer build sets for its own compiler (clippy's
//! wrappers and flags, a target directory, a build target) is removed from the guests' build,
//! so a guest builds the same under `cargo test`, `cargo clippy` and a plain shell.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::target::{TARGET, TargetError, ensure};

/// What an outer cargo sets that must not reach the guests' build.
const OUTER_BUILD_ENV: [&str; 7] = [
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CLIPPY_ARGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
];

/// How the guests are compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// The workspace's `guest` profile (`.cargo/config.toml` and `Cargo.toml` of this
    /// repository): the examples and test guests.
    Guest,
    /// `--release`, without debug information and stripped: an author's module, whose own
    /// workspace has no `guest` profile.
    Release,
}

impl Profile {
    /// The directory under `{target_dir}/{TARGET}` its output goes to.
    fn dir(self) -> &'static str {
        match self {
            Profile::Guest => "guest",
            Profile::Release => "release",
        }
    }
}

/// What to build.
#[derive(Clone, Debug)]
enum Crates {
    /// Packages of the workspace that cargo finds from the working directory.
    Packages(Vec<String>),
    /// The library of the crate whose manifest this is.
    Manifest(PathBuf),
}

/// One cargo build of guest crates.
#[derive(Clone, Debug)]
pub struct GuestBuild {
    dir: PathBuf,
    crates: Crates,
    profile: Profile,
    target_dir: PathBuf,
    quiet: bool,
}

/// Why guests did not build.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The toolchain lacks the target and it could not be added.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// Cargo could not be started.
    #[error("cannot run cargo: {0}")]
    Cargo(std::io::Error),
    /// A crate's Cargo.toml could not be read.
    #[error("cannot read {path}: {reason}")]
    Manifest { path: PathBuf, reason: String },
    /// The compiler refused the code; `output` is what cargo printed, without its progress.
    #[error("the build failed:\n{output}")]
    Failed { output: String },
    /// The build succeeded but left no component where expected.
    #[error("the build made no {0}")]
    Missing(PathBuf),
}

impl GuestBuild {
    /// Builds `packages` of the workspace at `root` with `profile`, into `target_dir`.
    pub fn packages(root: &Path, packages: &[&str], profile: Profile, target_dir: &Path) -> Self {
        Self {
            dir: root.to_path_buf(),
            crates: Crates::Packages(packages.iter().map(|p| (*p).to_owned()).collect()),
            profile,
            target_dir: target_dir.to_path_buf(),
            quiet: false,
        }
    }

    /// Builds the library of the crate in `dir`, released and stripped, into `target_dir`.
    pub fn crate_at(dir: &Path, target_dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            crates: Crates::Manifest(dir.join("Cargo.toml")),
            profile: Profile::Release,
            target_dir: target_dir.to_path_buf(),
            quiet: false,
        }
    }

    /// Keeps cargo's progress off the terminal: only a failure is shown, in the error.
    pub fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    /// Runs the build: the target first ([`ensure`]), then cargo.
    pub fn run(&self) -> Result<Built, BuildError> {
        ensure(&self.dir)?;
        let mut cargo = self.command();
        let failed = if self.quiet || matches!(self.crates, Crates::Manifest(_)) {
            let Output { status, stderr, .. } = cargo.output().map_err(BuildError::Cargo)?;
            (!status.success()).then(|| shown(&String::from_utf8_lossy(&stderr)))
        } else {
            let status = cargo.status().map_err(BuildError::Cargo)?;
            (!status.success()).then(|| format!("cargo exited with {status}; its output is above"))
        };
        if let Some(output) = failed {
            return Err(BuildError::Failed { output });
        }
        Ok(Built {
            dir: self.target_dir.join(TARGET).join(self.profile.dir()),
        })
    }

    /// The cargo command of the build, its environment scrubbed of an outer build's.
    fn command(&self) -> Command {
        let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        for var in OUTER_BUILD_ENV {
            cargo.env_remove(var);
        }
        cargo.current_dir(&self.dir).arg("build");
        match self.profile {
            Profile::Guest => cargo.args(["--profile", "guest"]),
            Profile::Release => cargo.args([
                "--release",
                "--config",
                "profile.release.debug=false",
                "--config",
                "profile.release.strip=true",
            ]),
        };
        cargo
            .args(["--target", TARGET])
            .arg("--target-dir")
            .arg(&self.target_dir);
        match &self.crates {
            Crates::Packages(packages) => {
                for package in packages {
                    cargo.args(["-p", package]);
                }
            }
            Crates::Manifest(manifest) => {
                cargo
                    .args(["--lib", "--message-format", "short", "--manifest-path"])
                    .arg(manifest);
            }
        }
        if self.quiet {
            cargo.arg("--quiet");
        }
        cargo
    }
}

/// Where a finished build's components are.
#[derive(Clone, Debug)]
pub struct Built {
    dir: PathBuf,
}

impl Built {
    /// The component of package (or library) `name`, read.
    pub fn read(&self, name: &str) -> Result<Vec<u8>, BuildError> {
        let file = self.component(name);
        std::fs::read(&file).map_err(|_| BuildError::Missing(file))
    }

    /// Where the component of package (or library) `name` is.
    pub fn component(&self, name: &str) -> PathBuf {
        self.dir.join(wasm_file_name(name))
    }

    /// The directory holding every component of the build.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The file cargo makes of library `name`: `-` becomes `_`, then `.wasm`.
pub fn wasm_file_name(name: &str) -> String {
    format!("{}.wasm", name.replace('-', "_"))
}

/// The library a crate's manifest builds: `[lib] name`, else the package's name.
pub fn lib_name(manifest: &Path) -> Result<String, BuildError> {
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
        .map(str::to_owned)
        .ok_or_else(|| unreadable("it has no [package] name".into()))
}

/// What cargo printed, without its progress lines, with a hint when the target is missing.
fn shown(stderr: &str) -> String {
    let mut shown: String = stderr
        .lines()
        .filter(|l| !l.trim_start().starts_with("Compiling") && !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    if shown.contains(TARGET) && shown.contains("target may not be installed") {
        shown.push_str(&format!("\nhint: run `rustup target add {TARGET}`"));
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_component_is_named_as_cargo_names_a_library() {
        assert_eq!(wasm_file_name("bank_account"), "bank_account.wasm");
        assert_eq!(wasm_file_name("wrong-world"), "wrong_world.wasm");
        let built = Built {
            dir: PathBuf::from("t/wasm32-wasip2/guest"),
        };
        assert_eq!(
            built.component("picky-projection"),
            PathBuf::from("t/wasm32-wasip2/guest/picky_projection.wasm")
        );
    }

    #[test]
    fn the_build_has_none_of_an_outer_builds_environment() {
        let build = GuestBuild::packages(
            Path::new("."),
            &["a", "b"],
            Profile::Guest,
            Path::new("out"),
        );
        let command = build.command();
        let removed: Vec<_> = command
            .get_envs()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .collect();
        for var in OUTER_BUILD_ENV {
            assert!(removed.iter().any(|r| r == var), "{var} is kept");
        }
        let args: Vec<_> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "build",
                "--profile",
                "guest",
                "--target",
                TARGET,
                "--target-dir",
                "out",
                "-p",
                "a",
                "-p",
                "b"
            ]
        );
    }

    #[test]
    fn a_crates_library_name_comes_from_its_manifest() {
        let dir = std::env::temp_dir().join(format!("cairn-guest-build-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let manifest = dir.join("Cargo.toml");
        std::fs::write(&manifest, "[package]\nname = \"my-module\"\n").expect("write");
        assert_eq!(lib_name(&manifest).expect("named"), "my-module");
        std::fs::write(&manifest, "[package]\nname = \"p\"\n[lib]\nname = \"l\"\n").expect("write");
        assert_eq!(lib_name(&manifest).expect("named"), "l");
        std::fs::write(&manifest, "[workspace]\n").expect("write");
        assert!(lib_name(&manifest).is_err());
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
