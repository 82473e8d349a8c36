//! [`CommandLog`]: every command an aggregate accepted, kept with the events it appended, and
//! the others when asked, so that a new module version can decide them again.

use crate::append::AppendOutcome;
use crate::command::{CommandEntry, CommandId, LoggedCommand, NothingAppended};
use crate::error::{AppendError, ReadError, StorageError};
use crate::event::NewEvent;
use crate::version::ExpectedVersion;

/// The log of commands, one entry per command id.
///
/// What every backend promises:
/// 1. [`CommandLog::append_command`] is one append: the command's entry is written in the
///    transaction that writes its events, or neither is. An append that writes nothing (it is
///    refused, or recognised as an earlier append) writes no entry, and leaves an entry made
///    by the earlier append as it was.
/// 2. An entry whose verdict is [`crate::Verdict::Appended`] never changes. An entry of a
///    command that appended nothing ([`CommandLog::record_command`]) is replaced by a later
///    entry of the same id, whichever its verdict, so the log keeps what came of the command's
///    latest attempt.
/// 3. [`CommandLog::read_commands`] returns entries in order of their ids, after the id it is
///    given, at most `limit` of them; paging on from the last id returns every entry exactly
///    once.
#[async_trait::async_trait]
pub trait CommandLog: Send + Sync {
    /// Appends `events` to the command's stream if its version satisfies `expected`, under the
    /// command's idempotency key if it has one (as [`crate::EventLog::append_keyed`] does),
    /// and writes the command's entry, with the versions and positions the events took, in the
    /// same transaction.
    async fn append_command(
        &self,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        command: LoggedCommand,
    ) -> Result<AppendOutcome, AppendError>;

    /// Records a command that appended nothing, with how.
    async fn record_command(
        &self,
        command: LoggedCommand,
        verdict: NothingAppended,
    ) -> Result<(), StorageError>;

    /// The entry of command `id`, if the log holds one.
    async fn command(&self, id: CommandId) -> Result<Option<CommandEntry>, ReadError>;

    /// Up to `limit` entries in order of their ids, from the first id after `after` (from the
    /// first entry for `None`).
    async fn read_commands(
        &self,
        after: Option<CommandId>,
        limit: usize,
    ) -> Result<Vec<CommandEntry>, ReadError>;
}
