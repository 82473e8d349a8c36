//! cairn-guest-build: the one way cairn builds a guest crate into a WebAssembly component,
//! used by the end-to-end tests' `build.rs`, `cairn dev`, `cairn deploy` and `cairn bench`;
//! and how a module written in TypeScript is built, by the TypeScript SDK.
//!
//! A [`GuestBuild`] says what to build (packages of a workspace, or one crate by its
//! manifest), with which [`Profile`], into which target directory; [`GuestBuild::run`] makes
//! sure the toolchain has the target, runs cargo with the environment of an outer build
//! scrubbed, and gives back where each component is ([`Built::component`]).
//!
//! - `target.rs`: [`TARGET`] and [`ensure`], which adds it with rustup when it is missing.
//! - `build.rs`: [`GuestBuild`], [`Built`] and [`BuildError`].
//! - `ts.rs`: [`Language`], a module directory's language from its manifest, and [`TsBuild`],
//!   a TypeScript module built by the SDK's script under Node.
//! - `rebuilt.rs`: [`rebuilt`], a component under another hash, as another build would be.
//!
//! It lives in a crate of its own, with few dependencies, because a build script uses it too.

mod build;
mod rebuilt;
mod target;
mod ts;

pub use build::{BuildError, Built, GuestBuild, Profile, lib_name, wasm_file_name};
pub use rebuilt::rebuilt;
pub use target::{Readiness, TARGET, TargetError, ensure};
pub use ts::{Language, TsBuild, TsBuildError};
