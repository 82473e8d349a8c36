//! Builds the example modules and the test guests for `wasm32-wasip2`, and tells the tests
//! where they are (`CAIRN_GUESTS`). No `.wasm` is committed; this makes them.
//!
//! The guests get their own target directory: sharing the outer build's would wait forever on
//! its lock.

use std::path::PathBuf;

use cairn_guest_build::{GuestBuild, Profile};

const GUESTS: [&str; 16] = [
    "bank_account",
    "customers",
    "customer_directory",
    "account_balances",
    "customers-upcaster",
    "transfer",
    "transfers",
    "picky-reactor",
    "picky-reactor-fixed",
    "misbehaving",
    "bank-account-v2",
    "wrong-world",
    "bad-import",
    "picky-projection",
    "picky-projection-fixed",
    "misbehaving-upcaster",
];
fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf();
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
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
    let built = GuestBuild::packages(&root, &GUESTS, Profile::Guest, &out.join("guests"))
        .run()
        .unwrap_or_else(|e| panic!("building the guests: {e}"));
    for guest in GUESTS {
        let file = built.component(guest);
        assert!(file.exists(), "{} was not built", file.display());
    }
    println!("cargo:rustc-env=CAIRN_GUESTS={}", built.dir().display());
}
