//! Building modules for `cairn dev`, `cairn deploy` and `cairn bench`, through
//! `cairn_guest_build`, the one way cairn builds a guest crate or a TypeScript module; and
//! finding cairn's checkout,
//! whose examples `cairn bench` builds and whose SDK `cairn new` depends on.

use std::path::{Path, PathBuf};

pub use cairn_guest_build::BuildError;
use cairn_guest_build::{GuestBuild, Language, Profile, TsBuild, TsBuildError};

/// A checkout of cairn: the directory holding its workspace, `examples/` and `guest-sdk/`,
/// looked for from the working directory up, then where this binary was built from.
/// `cairn bench` builds its modules from there, and `cairn new` points a new crate at its SDK.
pub fn checkout() -> Option<PathBuf> {
    let holds = |dir: &Path| {
        dir.join("Cargo.toml").is_file()
            && dir.join("examples").is_dir()
            && dir.join("guest-sdk").is_dir()
    };
    let here = std::env::current_dir().ok();
    let built_from = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let found = here
        .iter()
        .flat_map(|dir| dir.ancestors())
        .map(Path::to_path_buf)
        .chain(std::iter::once(built_from))
        .find(|dir| holds(dir))?;
    Some(found.canonicalize().unwrap_or(found))
}

/// The example modules' repository: the [`checkout`]. `cairn bench` builds its modules from
/// there, so it needs a checkout of cairn and its toolchain.
fn repository(package: &str) -> anyhow::Result<PathBuf> {
    checkout().ok_or_else(|| {
        anyhow::anyhow!(
            "this bench builds the module `{package}` from cairn's source: run it inside a \
             checkout of cairn (for example `cargo run --release -p cairn -- bench ...` from \
             its root), with the Rust toolchain of its rust-toolchain.toml"
        )
    })
}

/// Builds this repository's example (or test guest) `package` and returns the component: a
/// crate of the workspace, with the `guest` profile; or a TypeScript module, the directory
/// `examples/{package}` or `tests/guests/{package}` holding a package.json, with the
/// TypeScript SDK of the checkout. Used by `cairn bench` and the tests.
pub fn build(package: &str) -> anyhow::Result<Vec<u8>> {
    let repo = repository(package)?;
    let target_dir = repo.join("target").join("cairn-guests");
    let typescript = ["examples", "tests/guests"]
        .iter()
        .map(|dir| repo.join(dir).join(package))
        .find(|dir| Language::of(dir) == Some(Language::TypeScript));
    if let Some(dir) = typescript {
        let out = target_dir.join("ts").join(format!("{package}.wasm"));
        return TsBuild::new(&dir, &repo.join("guest-sdk-ts"), &out)
            .and_then(|build| build.run())
            .map_err(|e| anyhow::anyhow!("building {package}: {e}"));
    }
    let built = GuestBuild::packages(&repo, &[package], Profile::Guest, &target_dir)
        .quiet()
        .run()
        .map_err(|e| anyhow::anyhow!("building {package}: {e}"))?;
    Ok(built.read(package)?)
}

/// Why an author's module did not build.
#[derive(Debug, thiserror::Error)]
pub enum ModuleBuildError {
    #[error(transparent)]
    Rust(#[from] BuildError),
    #[error(transparent)]
    TypeScript(#[from] TsBuildError),
    /// The directory holds neither a Cargo.toml nor a package.json.
    #[error("{0} holds no module: no Cargo.toml (Rust) or package.json (TypeScript)")]
    NoManifest(PathBuf),
}

/// Builds the module in `dir`, in the language its manifest says, into `target_dir`, and
/// returns the component: a crate for `wasm32-wasip2` (release, stripped), or a TypeScript
/// package with the SDK its package.json names (else the checkout's).
pub fn build_module(dir: &Path, target_dir: &Path) -> Result<Vec<u8>, ModuleBuildError> {
    match Language::of(dir) {
        Some(Language::Rust) => {
            let lib = cairn_guest_build::lib_name(&dir.join("Cargo.toml"))?;
            Ok(GuestBuild::crate_at(dir, target_dir).run()?.read(&lib)?)
        }
        Some(Language::TypeScript) => {
            let name = dir
                .file_name()
                .map_or_else(|| "module".into(), |n| n.to_string_lossy().into_owned());
            let out = target_dir.join("ts").join(format!("{name}.wasm"));
            let default_sdk = checkout()
                .unwrap_or_else(|| dir.to_path_buf())
                .join("guest-sdk-ts");
            Ok(TsBuild::new(dir, &default_sdk, &out)?.run()?)
        }
        None => Err(ModuleBuildError::NoManifest(dir.to_path_buf())),
    }
}
