//! Building modules for `cairn dev`, `cairn deploy` and `cairn bench`, through
//! `cairn_guest_build`, the one way cairn builds a guest crate; and finding cairn's checkout,
//! whose examples `cairn bench` builds and whose SDK `cairn new` depends on.

use std::path::{Path, PathBuf};

pub use cairn_guest_build::BuildError;
use cairn_guest_build::{GuestBuild, Profile};

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

/// Builds this repository's example package `package` with the `guest` profile and returns
/// the component. Used by `cairn bench`.
pub fn build(package: &str) -> anyhow::Result<Vec<u8>> {
    let repo = repository(package)?;
    let target_dir = repo.join("target").join("cairn-guests");
    let built = GuestBuild::packages(&repo, &[package], Profile::Guest, &target_dir)
        .quiet()
        .run()
        .map_err(|e| anyhow::anyhow!("building {package}: {e}"))?;
    Ok(built.read(package)?)
}

/// Builds the crate in `dir` for `wasm32-wasip2` (release, stripped) in `target_dir`, and
/// returns the component.
pub fn build_crate(dir: &Path, target_dir: &Path) -> Result<Vec<u8>, BuildError> {
    let lib = cairn_guest_build::lib_name(&dir.join("Cargo.toml"))?;
    GuestBuild::crate_at(dir, target_dir).run()?.read(&lib)
}
