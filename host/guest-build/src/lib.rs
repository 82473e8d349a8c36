//! cairn-guest-build: the one way cairn builds a guest crate into a WebAssembly component,
//! used by the end-to-end tests' `build.rs`, `cairn dev`, `cairn deploy` and `cairn bench`.
//!
//! A [`GuestBuild`] says what to build (packages of a workspace, or one crate by its
//! manifest), with which [`Profile`], into which target directory; [`GuestBuild::run`] makes
//! sure the toolchain has the target, runs cargo with the environment of an outer build
//! scrubbed, and gives back where each component is ([`Built::component`]).
//!
//! - `target.rs`: [`TARGET`] and [`ensure`], which adds it with rustup when it is missing.
//! - `build.rs`: [`GuestBuild`], [`Built`] and [`BuildError`].
//!
//! It lives in a crate of its own, with few dependencies, because a build script uses it too.

mod build;
mod target;

pub use build::{BuildError, Built, GuestBuild, Profile, lib_name, wasm_file_name};
pub use target::{Readiness, TARGET, TargetError, ensure};
