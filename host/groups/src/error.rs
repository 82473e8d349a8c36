//! [`GroupError`]: every way a group operation fails. The HTTP edge maps each variant to one
//! status and code.

use cairn_store::{ModelError, ReadError, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error("{0}")]
    InvalidName(String),
    #[error("{0}")]
    InvalidMember(String),
    #[error("{0}")]
    InvalidDelivery(String),
    #[error("invalid group config: {0}")]
    InvalidConfig(String),
    #[error("no group is named {0:?}")]
    NotFound(String),
    /// This node shares its store with others, and consumer groups run on the node holding
    /// the runner lease, not this one.
    #[error(
        "consumer groups run on the node that holds the runner lease, and this node does not: \
         its store is shared with other nodes. Send this to the node running the runners"
    )]
    RunsElsewhere,
    #[error("a group named {0:?} exists already, with another config")]
    Exists(String),
    /// Deliveries that are not in flight: never made, already settled, or whose lease ran out
    /// or went back when their member left (then the event is delivered again). Nothing was
    /// changed.
    #[error(
        "not in flight: {}; nothing was acknowledged (a lease that ran out or whose member left is delivered again)",
        .0.join(", ")
    )]
    UnknownDeliveries(Vec<String>),
    #[error("{0}")]
    BadRequest(String),
    /// A parked event that waits behind an earlier one of its key.
    #[error(
        "the event at {position} waits behind the one parked at {first} (same key); replay that one"
    )]
    Behind { position: u64, first: u64 },
    #[error("no event is parked at {0}")]
    NotParked(u64),
    #[error("the group's task has stopped")]
    Gone,
    /// A write or read of the group's rows failed; its task starts again from its last commit.
    #[error("the group failed: {0}")]
    Failed(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The store refused the group's write: another task writes the same group's model.
    #[error(transparent)]
    Model(#[from] ModelError),
}

impl From<ReadError> for GroupError {
    fn from(error: ReadError) -> Self {
        GroupError::Storage(error.into())
    }
}
