//! [`SinkError`]: every way a sink operation fails.

use cairn_groups::GroupError;
use cairn_store::{ModelError, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("invalid sink: {0}")]
    Invalid(String),
    #[error("no sink is named {0:?}")]
    NotFound(String),
    #[error("a sink named {0:?} exists already, with another config")]
    Exists(String),
    /// The target could not be reached when the sink was made; nothing was made.
    #[error("{0}")]
    Unreachable(String),
    #[error(transparent)]
    Group(#[from] GroupError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Model(#[from] ModelError),
}
