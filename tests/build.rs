//! Builds the example modules and the test guests for `wasm32-wasip2`, and tells the tests
//! where they are (`CAIRN_GUESTS`). No `.wasm` is committed; this makes them.
//!
//! The guests get their own target directory: sharing the outer build's would wait forever on
//! its lock.

use std::path::PathBuf;
use std::process::Command;

use cairn_guest_target::TARGET;

const GUESTS: [&str; 9] = [
    "bank_account",
    "customers",
    "customer_directory",
    "account_balances",
    "misbehaving",
    "wrong-world",
    "bad-import",
    "picky-projection",
    "picky-projection-fixed",
];
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
    if let Err(e) = cairn_guest_target::ensure(&root) {
        panic!("{e}");
    }
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
