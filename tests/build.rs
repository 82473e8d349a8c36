//! Builds the example modules and the test guests for `wasm32-wasip2`, and tells the tests
//! where they are (`CAIRN_GUESTS`). No `.wasm` is committed; this makes them.
//!
//! The guests get their own target directory: sharing the outer build's would wait forever on
//! its lock.

use std::path::{Path, PathBuf};
use std::process::Command;

const GUESTS: [&str; 9] = [
    "bank-account",
    "customers",
    "customer-directory",
    "account-balances",
    "misbehaving",
    "wrong-world",
    "bad-import",
    "picky-projection",
    "picky-projection-fixed",
];
const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf();
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    let target_dir = out.join("guests");
    for watched in [
        "examples",
        "guest-sdk",
        "wit",
        "tests/guests",
        "Cargo.toml",
        "Cargo.lock",
        ".cargo/config.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    ensure_target();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(&root)
        .args([
            "build",
            "--profile",
            "guest",
            "--target",
            TARGET,
            "--target-dir",
        ])
        .arg(&target_dir)
        // What cargo sets for this build script is not meant for the guests' build; under
        // `cargo clippy` that includes clippy itself, with the caller's `-D warnings`.
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CLIPPY_ARGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET");
    for guest in GUESTS {
        build.args(["-p", guest]);
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "building the guests for {TARGET} failed");
    let guests = target_dir.join(TARGET).join("guest");
    for guest in GUESTS {
        let file = guests.join(format!("{}.wasm", guest.replace('-', "_")));
        assert!(file.exists(), "{} was not built", file.display());
    }
    println!("cargo:rustc-env=CAIRN_GUESTS={}", guests.display());
}

/// Adds the target with rustup when the toolchain lacks it (a toolchain installed before
/// `rust-toolchain.toml` listed it does not get it by itself).
fn ensure_target() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| PathBuf::from(s.trim()));
    let installed =
        sysroot.is_some_and(|s| Path::new(&s).join("lib/rustlib").join(TARGET).exists());
    if !installed {
        let status = Command::new("rustup")
            .args(["target", "add", TARGET])
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "the {TARGET} target is missing and `rustup target add {TARGET}` failed"
        );
    }
}
