//! The [`Reactor`] trait: domain logic that answers events with commands ([`Intent`]s).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::glue::encode_tagged;
use crate::projection::{Recorded, Subscription};
use crate::read_model::ReadModel;

/// A reactor: for each event it subscribes to, it decides which commands to send to which
/// aggregates. The host executes each command exactly once, whatever retries, crashes or
/// replays happen, and commits the reactor's state with the events it has reacted to.
///
/// `Event` is adjacently tagged, like an aggregate's (`#[serde(tag = "type", content =
/// "data")]`); events of types it does not name are passed over with no intents. A process
/// manager that waits for several events keeps what it has seen in `state`, its own key-value
/// table.
///
/// `react` must be deterministic: the same events give the same intents, in the same order.
/// Its clock reads the event's time, and its randomness is seeded from the event's id.
///
/// A command that the aggregate rejects, or that cannot be sent at all, comes back as an event
/// of the reactor's own stream `{reactor}-outcomes`: `IntentRejected` or `IntentFailed`, with
/// the intent's `module`, `id`, `command_type` and `data`, and the `reason`. Subscribe to your
/// own category to compensate.
pub trait Reactor {
    /// The events this reactor reacts to.
    type Event: DeserializeOwned;

    /// Which events the host delivers; everything by default.
    fn subscription() -> Subscription {
        Subscription::everything()
    }

    /// The commands `event` calls for. An error is a failure on this event: its state writes
    /// are discarded, and the host retries it and then follows the reactor's failure policy
    /// (park, skip or stop).
    fn react(
        state: &mut ReadModel<'_>,
        event: Recorded<Self::Event>,
    ) -> Result<Vec<Intent>, ReactorError>;
}

/// A command for an aggregate: the module, the aggregate's id, and the command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intent {
    pub module: String,
    pub id: String,
    pub command_type: String,
    /// The payload, as JSON text.
    pub data: String,
}

impl Intent {
    /// `command` for aggregate `id` of `module`. The command is adjacently tagged, as an
    /// aggregate's commands are (`#[serde(tag = "type", content = "data")]`).
    pub fn command(
        module: &str,
        id: impl Into<String>,
        command: &impl Serialize,
    ) -> Result<Self, ReactorError> {
        let (command_type, data) = encode_tagged(command).map_err(ReactorError::new)?;
        Ok(Self {
            module: module.to_owned(),
            id: id.into(),
            command_type,
            data,
        })
    }

    /// A command of type `command_type` with `data` as it is: for a command type this crate
    /// has no enum for.
    pub fn raw(module: &str, id: &str, command_type: &str, data: &str) -> Self {
        Self {
            module: module.to_owned(),
            id: id.to_owned(),
            command_type: command_type.to_owned(),
            data: data.to_owned(),
        }
    }
}

/// Why a reactor failed on an event. The message is shown in the reactor's status and in its
/// parked events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReactorError(String);

impl ReactorError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    pub fn message(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ReactorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ReactorError {
    fn from(message: &str) -> Self {
        Self::new(message)
    }
}

impl From<String> for ReactorError {
    fn from(message: String) -> Self {
        Self(message)
    }
}

impl From<crate::ProjectionError> for ReactorError {
    fn from(error: crate::ProjectionError) -> Self {
        Self(error.message().to_owned())
    }
}
