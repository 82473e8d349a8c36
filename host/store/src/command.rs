//! Commands as the command log keeps them ([`crate::CommandLog`]): what was asked of an
//! aggregate ([`LoggedCommand`]), and what its module made of it ([`Verdict`]).
//!
//! The log keeps a command so that it can be decided again later, by a new version of its
//! module, against the state it was decided on: so each entry holds the command's type and
//! data, the version of its aggregate it was decided at, the hash of the module that decided
//! it, and its time (the clock a module reads). Events a command appended name it in their
//! provenance (`command_id`), and its entry names their versions and positions.

use std::fmt;

use crate::append::IdempotencyKey;
use crate::event::Timestamp;
use crate::json::Json;
use crate::module::{ModuleHash, ModuleName};
use crate::name::checked_name;
use crate::stream_id::StreamId;
use crate::version::{Position, Version};

/// A command's id. The runtime makes it: a UUIDv7 for a command without an idempotency key,
/// one derived from the stream and the key otherwise, so a retry under a key has the same id.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct CommandId(uuid::Uuid);

impl CommandId {
    /// The UUID.
    pub fn as_uuid(&self) -> uuid::Uuid {
        self.0
    }

    /// Reads an id written as a UUID (`0190d5c4-...`).
    pub fn parse(text: &str) -> Result<Self, uuid::Error> {
        uuid::Uuid::parse_str(text).map(Self)
    }
}

impl From<uuid::Uuid> for CommandId {
    fn from(id: uuid::Uuid) -> Self {
        Self(id)
    }
}

impl fmt::Display for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

checked_name! {
    /// A command's type name, such as `Deposit`.
    ///
    /// Invariant: 1 to [`CommandType::MAX_LEN`] bytes of UTF-8 by the name rule
    /// of `name.rs`: no control, format or line-separating characters.
    CommandType, max = 200, what = "command type"
}

/// A command as the log keeps it: what was asked, of which aggregate, decided where and by
/// which module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedCommand {
    /// Its id, which the provenance of its events names.
    pub id: CommandId,
    /// Its type name.
    pub command_type: CommandType,
    /// Its payload (JSON).
    pub data: Json,
    /// The client's idempotency key, if it sent one.
    pub idempotency_key: Option<IdempotencyKey>,
    /// Its time: what the module's clock read while deciding it.
    pub time: Timestamp,
    /// The aggregate module it was sent to.
    pub aggregate: ModuleName,
    /// The aggregate's stream, `{aggregate}-{id}`.
    pub stream: StreamId,
    /// The aggregate's version it was decided at: its events, if any, follow this version.
    pub decided_at: Version,
    /// The hash of the module version that decided it.
    pub module_hash: ModuleHash,
}

impl LoggedCommand {
    /// The aggregate's id: the stream's name after `{aggregate}-`.
    pub fn aggregate_id(&self) -> &str {
        self.stream.id_in_category().unwrap_or(self.stream.as_str())
    }
}

/// What the module made of a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted, and its events were appended: versions `first_version..=last_version` of its
    /// stream, at positions `first_position..=last_position`.
    Appended {
        /// The version of its first event.
        first_version: Version,
        /// The version of its last event.
        last_version: Version,
        /// The position of its first event.
        first_position: Position,
        /// The position of its last event.
        last_position: Position,
    },
    /// It appended nothing.
    NothingAppended(NothingAppended),
}

/// How a command appended nothing: each is kept only when the log is asked to keep them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NothingAppended {
    /// Accepted, with no events to append (the aggregate was already as asked).
    Unchanged,
    /// Refused by the module, with its message.
    Rejected {
        /// The module's message.
        message: String,
    },
    /// The module could not read the command (an unknown type, data of the wrong shape).
    Invalid {
        /// The module's message.
        message: String,
    },
}

/// One entry of the command log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandEntry {
    /// The command.
    pub command: LoggedCommand,
    /// What came of it.
    pub verdict: Verdict,
}
