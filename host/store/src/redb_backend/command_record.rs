//! The byte layout of a command log entry (the value of `command_log`, keyed by the command's
//! id), in the style of `record.rs`: numbers marked `var` are unsigned LEB128 in the fewest
//! bytes, and the value ends in a checksum every read verifies.
//!
//! ```text
//! u8   format (1)
//! var  time (ms since the epoch)
//! var  decided_at (the aggregate's version)
//! var  type length,      then the command type (UTF-8)
//! var  data length,      then the data (JSON text)
//! var  key length,       then the idempotency key (0: none; a key is never empty)
//! var  aggregate length, then the module name
//! var  stream length,    then the stream name
//! var  hash length,      then the module hash (hex)
//! u8   verdict: 0 appended, then var first_version, var last_version, var first_position,
//!      var last_position; 1 unchanged; 2 rejected, then var length and the message; 3
//!      invalid, then var length and the message
//! u32  checksum (little-endian): CRC-32 of the id (16 bytes), then of every byte above
//! ```
//!
//! The part before the verdict ([`CommandBody`]) is encoded by the caller, off the writer
//! thread; the writer adds the verdict, which for an append names where the events landed,
//! and the checksum ([`CommandBody::seal`]).

use super::record::{CHECKSUM_MISMATCH, Corrupt, Reader, put_var, split_checksum};
use crate::append::IdempotencyKey;
use crate::command::{
    CommandEntry, CommandId, CommandType, LoggedCommand, NothingAppended, Verdict,
};
use crate::error::{Damage, StoredRecord};
use crate::event::Timestamp;
use crate::json::Json;
use crate::module::{ModuleHash, ModuleName};
use crate::stream_id::StreamId;
use crate::version::{Position, Version};

const FORMAT: u8 = 1;
const APPENDED: u8 = 0;
const UNCHANGED: u8 = 1;
const REJECTED: u8 = 2;
const INVALID: u8 = 3;

/// A command's entry up to its verdict, encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CommandBody {
    pub(crate) id: CommandId,
    bytes: Vec<u8>,
}

impl CommandBody {
    /// Encodes everything of `command` but its verdict.
    pub(crate) fn encode(command: &LoggedCommand) -> Self {
        let key = command
            .idempotency_key
            .as_ref()
            .map_or("", IdempotencyKey::as_str);
        let texts = [
            command.command_type.as_str(),
            command.data.as_str(),
            key,
            command.aggregate.as_str(),
            command.stream.as_str(),
            command.module_hash.as_str(),
        ];
        let mut bytes =
            Vec::with_capacity(1 + 20 + texts.iter().map(|t| t.len() + 2).sum::<usize>() + 32);
        bytes.push(FORMAT);
        put_var(&mut bytes, command.time.as_millis());
        put_var(&mut bytes, command.decided_at.get());
        for text in texts {
            put_var(&mut bytes, text.len() as u64);
            bytes.extend_from_slice(text.as_bytes());
        }
        Self {
            id: command.id,
            bytes,
        }
    }

    /// The whole stored value: these bytes, `verdict`, and the checksum.
    pub(crate) fn seal(&self, verdict: &Verdict) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes.len() + 48);
        out.extend_from_slice(&self.bytes);
        match verdict {
            Verdict::Appended {
                first_version,
                last_version,
                first_position,
                last_position,
            } => {
                out.push(APPENDED);
                for number in [
                    first_version.get(),
                    last_version.get(),
                    first_position.get(),
                    last_position.get(),
                ] {
                    put_var(&mut out, number);
                }
            }
            Verdict::NothingAppended(NothingAppended::Unchanged) => out.push(UNCHANGED),
            Verdict::NothingAppended(NothingAppended::Rejected { message }) => {
                out.push(REJECTED);
                put_message(&mut out, message);
            }
            Verdict::NothingAppended(NothingAppended::Invalid { message }) => {
                out.push(INVALID);
                put_message(&mut out, message);
            }
        }
        let checksum = checksum(self.id, &out);
        out.extend_from_slice(&checksum.to_le_bytes());
        out
    }
}

fn put_message(out: &mut Vec<u8>, message: &str) {
    put_var(out, message.len() as u64);
    out.extend_from_slice(message.as_bytes());
}

fn checksum(id: CommandId, body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(id.as_uuid().as_bytes());
    hasher.update(body);
    hasher.finalize()
}

/// Whether the stored entry `bytes` says the command appended events, once its checksum
/// matches: such an entry is never replaced (promise 2 of `CommandLog`).
pub(crate) fn is_appended(id: CommandId, bytes: &[u8]) -> Result<bool, Damage> {
    Ok(matches!(
        decode(id, bytes)?.verdict,
        Verdict::Appended { .. }
    ))
}

/// Decodes the entry of command `id`, once its checksum matches.
pub(crate) fn decode(id: CommandId, bytes: &[u8]) -> Result<CommandEntry, Damage> {
    let damage = |reason: String| Damage {
        record: StoredRecord::Command { id },
        reason,
    };
    let (body, stored) = split_checksum(bytes)
        .ok_or_else(|| damage("the entry is shorter than its checksum".to_owned()))?;
    if checksum(id, body) != stored {
        return Err(damage(CHECKSUM_MISMATCH.to_owned()));
    }
    decode_fields(id, body).map_err(|e| damage(e.0))
}

fn decode_fields(id: CommandId, bytes: &[u8]) -> Result<CommandEntry, Corrupt> {
    let mut r = Reader { bytes, at: 0 };
    let format = r.u8()?;
    if format != FORMAT {
        return Err(Corrupt(format!("unknown command entry format {format}")));
    }
    let time = Timestamp::from_millis(r.var()?);
    let decided_at = Version::new(r.var()?);
    let command_type = text(&mut r, "type")?;
    let data = text(&mut r, "data")?;
    let key = text(&mut r, "idempotency key")?;
    let aggregate = text(&mut r, "aggregate")?;
    let stream = text(&mut r, "stream")?;
    let hash = text(&mut r, "module hash")?;
    let command = LoggedCommand {
        id,
        command_type: CommandType::from_stored(command_type)
            .map_err(|e| Corrupt(format!("command type {e}")))?,
        data: Json::parse(data).map_err(|e| Corrupt(format!("data: {e}")))?,
        idempotency_key: match key {
            "" => None,
            key => Some(
                IdempotencyKey::from_stored(key)
                    .map_err(|e| Corrupt(format!("idempotency key {e}")))?,
            ),
        },
        time,
        aggregate: ModuleName::kept(aggregate)
            .map_err(|e| Corrupt(format!("aggregate name {e}")))?,
        stream: StreamId::from_stored(stream).map_err(|e| Corrupt(format!("stream {e}")))?,
        decided_at,
        module_hash: ModuleHash::parse(hash).map_err(|e| Corrupt(format!("module hash: {e}")))?,
    };
    let verdict = match r.u8()? {
        APPENDED => Verdict::Appended {
            first_version: Version::new(r.var()?),
            last_version: Version::new(r.var()?),
            first_position: Position::new(r.var()?),
            last_position: Position::new(r.var()?),
        },
        UNCHANGED => Verdict::NothingAppended(NothingAppended::Unchanged),
        REJECTED => Verdict::NothingAppended(NothingAppended::Rejected {
            message: text(&mut r, "message")?.to_owned(),
        }),
        INVALID => Verdict::NothingAppended(NothingAppended::Invalid {
            message: text(&mut r, "message")?.to_owned(),
        }),
        other => return Err(Corrupt(format!("unknown verdict {other}"))),
    };
    if r.at != bytes.len() {
        return Err(Corrupt(format!(
            "{} stray bytes after the command entry",
            bytes.len() - r.at
        )));
    }
    Ok(CommandEntry { command, verdict })
}

fn text<'a>(r: &mut Reader<'a>, field: &str) -> Result<&'a str, Corrupt> {
    std::str::from_utf8(r.var_field()?).map_err(|e| Corrupt(format!("{field} is not UTF-8: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(key: Option<&str>) -> LoggedCommand {
        LoggedCommand {
            id: CommandId::from(uuid::Uuid::now_v7()),
            command_type: CommandType::new("Deposit").expect("valid"),
            data: Json::parse(r#"{"amount": 5}"#).expect("valid"),
            idempotency_key: key.map(|k| IdempotencyKey::new(k).expect("valid")),
            time: Timestamp::from_millis(1_795_000_000_000),
            aggregate: ModuleName::new("bank_account").expect("valid"),
            stream: StreamId::new("bank_account-a1").expect("valid"),
            decided_at: Version::new(7),
            module_hash: ModuleHash::of(b"module"),
        }
    }

    #[test]
    fn every_verdict_round_trips() {
        let verdicts = [
            Verdict::Appended {
                first_version: Version::new(8),
                last_version: Version::new(9),
                first_position: Position::new(300),
                last_position: Position::new(301),
            },
            Verdict::NothingAppended(NothingAppended::Unchanged),
            Verdict::NothingAppended(NothingAppended::Rejected {
                message: "insufficient funds".to_owned(),
            }),
            Verdict::NothingAppended(NothingAppended::Invalid {
                message: "unknown variant".to_owned(),
            }),
        ];
        for (verdict, key) in verdicts
            .into_iter()
            .zip([Some("k-1"), None, None, Some("k")])
        {
            let command = command(key);
            let bytes = CommandBody::encode(&command).seal(&verdict);
            let entry = decode(command.id, &bytes).expect("decodes");
            assert_eq!(entry, CommandEntry { command, verdict });
        }
    }

    #[test]
    fn a_changed_byte_or_another_id_is_damage() {
        let command = command(None);
        let mut bytes = CommandBody::encode(&command)
            .seal(&Verdict::NothingAppended(NothingAppended::Unchanged));
        let other = CommandId::from(uuid::Uuid::now_v7());
        assert!(
            decode(other, &bytes).is_err(),
            "the id is part of the checksum"
        );
        bytes[3] ^= 1;
        let damage = decode(command.id, &bytes).expect_err("damaged");
        assert_eq!(damage.record, StoredRecord::Command { id: command.id });
        assert!(decode(command.id, &bytes[..2]).is_err());
    }

    #[test]
    fn the_aggregate_id_is_the_stream_after_its_category() {
        assert_eq!(command(None).aggregate_id(), "a1");
    }
}
