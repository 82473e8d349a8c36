//! The [`Aggregate`] trait an author implements.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// An event-sourced aggregate: it decides what a command does, and folds events into state.
///
/// Both functions must be pure: the host replays them, and the same input must give the same
/// output. The host enforces what it can (a clock that reads the command's time, random numbers
/// seeded from the command's id, no I/O), but the author keeps the rest.
pub trait Aggregate {
    /// What the aggregate remembers. `Default` is the state before any event.
    type State: Default + Serialize + DeserializeOwned;
    /// What callers ask of it; adjacently tagged, `#[serde(tag = "type", content = "data")]`.
    type Command: DeserializeOwned;
    /// What happened; adjacently tagged, `#[serde(tag = "type", content = "data")]`.
    type Event: Serialize + DeserializeOwned;

    /// Decides what `command` does given `state`: the events it causes, or why it is refused.
    fn decide(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, Rejection>;

    /// Folds one event into `state`. It must not fail: the event already happened.
    fn evolve(state: &mut Self::State, event: &Self::Event);
}

/// Why a command was refused, in words for the caller (the HTTP API answers 422 `rejected`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection(String);

impl Rejection {
    /// A refusal with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Rejection {
    fn from(message: &str) -> Self {
        Self::new(message)
    }
}

impl From<String> for Rejection {
    fn from(message: String) -> Self {
        Self(message)
    }
}
