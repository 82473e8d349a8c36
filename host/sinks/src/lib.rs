//! cairn-sinks: sinks are consumer groups the host runs itself, publishing the events of a
//! filter to a Kafka topic or to a webhook, with the group's order per key, checkpoint,
//! retries and parking.
//!
//! How an event moves: the sink's group (`sink.{name}`, cairn-groups) delivers it to the
//! sink's task (`runner.rs`) over a stream; the task publishes what has arrived as a batch
//! (`kafka.rs`, `webhook.rs`), each event coming back as an [`Outcome`]; what the target took
//! is acknowledged, what it refused is nacked for the group's retries and policy, and what it
//! could not take now is published again after a backoff while the sink shows `waiting`.
//!
//! Layout:
//! - `config.rs`: [`SinkConfig`] and its targets; `error.rs`: [`SinkError`].
//! - `outcome.rs`, `kafka.rs`, `webhook.rs`: publishing.
//! - `runner.rs`: a sink's task and its [`RunState`]; `sinks.rs`: [`Sinks`], every sink of a
//!   node, kept in the store.
//!
//! This crate knows nothing of WebAssembly or of the HTTP API.

mod config;
mod error;
mod kafka;
mod outcome;
mod runner;
mod sinks;
mod webhook;

pub use config::{KafkaTarget, KafkaValue, SinkConfig, Target, WebhookTarget};
pub use error::SinkError;
pub use outcome::Outcome;
pub use runner::RunState;
pub use sinks::{SinkCreated, SinkStatus, Sinks};
