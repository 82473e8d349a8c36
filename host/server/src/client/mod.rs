//! The commands that talk to a running server over HTTP: `deploy`, `send`, `read`, `tail`
//! and `state`.
//!
//! - `api.rs`: [`api::Api`], requests with the API key, and error replies turned into messages
//!   that say what to do.
//! - `commands.rs`: the commands; `print.rs`: their output for people.

mod api;
mod commands;
mod print;

pub use api::Api;
pub use commands::{deploy, read, send, state, tail};
