//! [`TsBuild`]: a module written in TypeScript built into a component by the TypeScript SDK
//! (`guest-sdk-ts/`), and [`Language`], which tells a module directory's language from the
//! manifest it holds.
//!
//! The SDK's build script does the work (`bin/cairn-ts-build.mjs`: esbuild bundles the module,
//! componentize-js makes the component, no ahead-of-time compilation). Node runs it, with the
//! SDK's packages installed: when they are missing, or were installed from another lockfile
//! (`node_modules/.cairn-installed` holds a hash of the one they came from), `npm ci` installs
//! them from its lockfile first, under a lock file in the SDK so builds running at once install
//! once.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The language of a module directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    /// A crate: the directory holds `Cargo.toml`.
    Rust,
    /// A Node package built by the TypeScript SDK: the directory holds `package.json`.
    TypeScript,
}

impl Language {
    /// The language of the module in `dir`, from its manifest; `None` if it holds neither.
    /// A directory holding both is taken for a crate.
    pub fn of(dir: &Path) -> Option<Self> {
        if dir.join("Cargo.toml").is_file() {
            Some(Self::Rust)
        } else if dir.join("package.json").is_file() {
            Some(Self::TypeScript)
        } else {
            None
        }
    }
}

/// Why a TypeScript module did not build.
#[derive(Debug, thiserror::Error)]
pub enum TsBuildError {
    /// Node or npm could not be started.
    #[error("cannot run {program}: {source} (TypeScript modules need Node 20 or newer and npm)")]
    Start {
        program: &'static str,
        source: std::io::Error,
    },
    /// No SDK was found for the module.
    #[error(
        "no TypeScript SDK for {module} at {sdk} (the `file:` path of its `@cairn/sdk` \
         dependency, else the guest-sdk-ts of cairn's checkout)"
    )]
    NoSdk { module: PathBuf, sdk: PathBuf },
    /// `npm ci` in the SDK failed.
    #[error("installing the TypeScript SDK's packages (npm ci in {sdk}) failed:\n{output}")]
    Install { sdk: PathBuf, output: String },
    /// The build script refused the module; `output` is what it printed.
    #[error("the build failed:\n{output}")]
    Failed { output: String },
    /// A directory or the install lock could not be made.
    #[error("cannot prepare {path}: {source}")]
    Prepare {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The build succeeded but its component could not be read.
    #[error("cannot read the component {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One build of a TypeScript module.
#[derive(Clone, Debug)]
pub struct TsBuild {
    module: PathBuf,
    sdk: PathBuf,
    out: PathBuf,
}

impl TsBuild {
    /// The module in `module`, built into `out` with the SDK its package.json names (a
    /// `file:` dependency on `@cairn/sdk`), else with `default_sdk`.
    pub fn new(module: &Path, default_sdk: &Path, out: &Path) -> Result<Self, TsBuildError> {
        let sdk = named_sdk(module).unwrap_or_else(|| default_sdk.to_path_buf());
        if !sdk.join("bin/cairn-ts-build.mjs").is_file() {
            return Err(TsBuildError::NoSdk {
                module: module.to_path_buf(),
                sdk,
            });
        }
        Ok(Self {
            module: module.to_path_buf(),
            sdk,
            out: out.to_path_buf(),
        })
    }

    /// Installs the SDK's packages if they are missing, builds the component and returns it.
    pub fn run(&self) -> Result<Vec<u8>, TsBuildError> {
        install(&self.sdk)?;
        if let Some(dir) = self.out.parent() {
            std::fs::create_dir_all(dir).map_err(|source| TsBuildError::Prepare {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let output = Command::new("node")
            .arg(self.sdk.join("bin/cairn-ts-build.mjs"))
            .arg(&self.module)
            .arg(&self.out)
            .output()
            .map_err(|source| TsBuildError::Start {
                program: "node",
                source,
            })?;
        if !output.status.success() {
            return Err(TsBuildError::Failed {
                output: printed(&output),
            });
        }
        std::fs::read(&self.out).map_err(|source| TsBuildError::Read {
            path: self.out.clone(),
            source,
        })
    }
}

/// The SDK directory `module`'s package.json depends on as `"@cairn/sdk": "file:DIR"`.
fn named_sdk(module: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(module.join("package.json")).ok()?;
    let manifest: serde_json::Value = serde_json::from_str(&text).ok()?;
    ["dependencies", "devDependencies"]
        .iter()
        .find_map(|field| {
            let spec = manifest[field]["@cairn/sdk"].as_str()?;
            Some(module.join(spec.strip_prefix("file:")?))
        })
}

/// Where a finished install says which lockfile it came from.
const INSTALLED_MARK: &str = "node_modules/.cairn-installed";

/// A hash of `sdk`'s lockfile, as the install mark holds it.
fn lockfile_hash(sdk: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    std::fs::read(sdk.join("package-lock.json"))
        .unwrap_or_default()
        .hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// Runs `npm ci` in `sdk` unless its packages are installed from its lockfile as it is, under
/// `sdk/.install.lock`.
fn install(sdk: &Path) -> Result<(), TsBuildError> {
    let wanted = lockfile_hash(sdk);
    let installed = || {
        std::fs::read_to_string(sdk.join(INSTALLED_MARK)).is_ok_and(|mark| mark.trim() == wanted)
    };
    if installed() {
        return Ok(());
    }
    let lock_path = sdk.join(".install.lock");
    let lock = File::create(&lock_path).map_err(|source| TsBuildError::Prepare {
        path: lock_path.clone(),
        source,
    })?;
    lock.lock().map_err(|source| TsBuildError::Prepare {
        path: lock_path,
        source,
    })?;
    if installed() {
        return Ok(());
    }
    let output = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(sdk)
        .output()
        .map_err(|source| TsBuildError::Start {
            program: "npm",
            source,
        })?;
    if !output.status.success() {
        return Err(TsBuildError::Install {
            sdk: sdk.to_path_buf(),
            output: printed(&output),
        });
    }
    let mark = sdk.join(INSTALLED_MARK);
    std::fs::write(&mark, wanted).map_err(|source| TsBuildError::Prepare { path: mark, source })
}

fn printed(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
    .trim_end()
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_is_rust_or_typescript_by_its_manifest() {
        let dir = tempfile::tempdir().expect("a directory");
        assert_eq!(Language::of(dir.path()), None);
        std::fs::write(dir.path().join("package.json"), "{}").expect("written");
        assert_eq!(Language::of(dir.path()), Some(Language::TypeScript));
        std::fs::write(dir.path().join("Cargo.toml"), "").expect("written");
        assert_eq!(Language::of(dir.path()), Some(Language::Rust));
    }

    #[test]
    fn packages_installed_from_the_lockfile_as_it_is_are_not_installed_again() {
        let sdk = tempfile::tempdir().expect("a directory");
        std::fs::write(sdk.path().join("package-lock.json"), "{\"v\": 1}").expect("written");
        std::fs::create_dir(sdk.path().join("node_modules")).expect("mkdir");
        std::fs::write(sdk.path().join(INSTALLED_MARK), lockfile_hash(sdk.path()))
            .expect("written");
        // With the mark matching, no npm is run (none need be on the PATH for this).
        install(sdk.path()).expect("nothing to do");
        std::fs::write(sdk.path().join("package-lock.json"), "{\"v\": 2}").expect("written");
        assert_ne!(
            std::fs::read_to_string(sdk.path().join(INSTALLED_MARK)).expect("read"),
            lockfile_hash(sdk.path()),
            "a changed lockfile no longer matches the mark"
        );
    }

    #[test]
    fn the_sdk_is_the_one_the_package_names() {
        let dir = tempfile::tempdir().expect("a directory");
        std::fs::write(
            dir.path().join("package.json"),
            r#"{"devDependencies": {"@cairn/sdk": "file:../sdk"}}"#,
        )
        .expect("written");
        assert_eq!(named_sdk(dir.path()), Some(dir.path().join("../sdk")));
        std::fs::write(dir.path().join("package.json"), r#"{"dependencies": {}}"#)
            .expect("written");
        assert_eq!(named_sdk(dir.path()), None);
    }
}
