//! A store's whole content as a stream of backend-neutral parts, for `cairn migrate`: one
//! backend exports its image, another imports it into an empty store, and each side's
//! [`ImageDigest`] shows that both hold the same.
//!
//! Data moves in one direction: the source's export sends [`ImagePart`]s down a bounded
//! channel, as of one moment of the source (one read transaction); the caller digests each part
//! and passes it on to the target's import, which writes them all in one transaction (all or
//! nothing).
//!
//! Invariants of an image, kept by every export and relied on by every import:
//! 1. Every [`ImagePart::Events`] comes first, and together they hold positions `1..=head` in
//!    order, with no gap.
//! 2. An [`ImagePart::ModelRows`] of a read model follows that model's [`ImagePart::Model`].
//! 3. Each item appears once (an append key, a command, a snapshot, a module version, a blob, a
//!    module state, a removal, a read model, a row).
//! 4. [`ImagePart::End`] comes last, once the export has read everything. An import commits
//!    only after it: a channel that closes without it is an export that failed
//!    ([`ImportError::Cut`]).
//!
//! Other parts come in any order. The digest of every section but the log is therefore a sum
//! of its items' hashes, which does not depend on the order; the log's is one SHA-256 over its
//! events in position order.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use tokio::sync::mpsc::{Receiver, Sender};

use crate::append::IdempotencyKey;
use crate::command::{CommandEntry, NothingAppended, Verdict};
use crate::error::StorageError;
use crate::event::{RecordedEvent, Timestamp};
use crate::module::{ModuleHash, ModuleName, ModuleRecord};
use crate::read_model::ReadModelName;
use crate::snapshot::{Snapshot, SnapshotKey};
use crate::stream_id::StreamId;
use crate::version::{Position, Version};

/// How many items an export puts in one part, at most.
pub const IMAGE_PART_ITEMS: usize = 1_000;

/// How many parts wait between an export and what reads them.
const IMAGE_CHANNEL_PARTS: usize = 8;

/// A channel for an image's parts, bounded so an export waits for a slow import.
pub fn image_channel() -> (Sender<ImagePart>, Receiver<ImagePart>) {
    tokio::sync::mpsc::channel(IMAGE_CHANNEL_PARTS)
}

/// One part of a store's image (see the invariants above).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImagePart {
    /// Events of the log, in position order.
    Events(Vec<RecordedEvent>),
    /// Idempotency keys, each with the versions its append wrote.
    AppendKeys(Vec<KeptAppendKey>),
    /// Command log entries.
    Commands(Vec<CommandEntry>),
    /// Snapshots.
    Snapshots(Vec<KeptSnapshot>),
    /// Versions of modules.
    Modules(Vec<KeptModule>),
    /// A module's bytes.
    ModuleBlob { hash: ModuleHash, bytes: Vec<u8> },
    /// The runtime's opaque state for modules.
    ModuleStates(Vec<(ModuleName, Vec<u8>)>),
    /// Removed modules, each with the version that was latest when it was removed.
    RemovedModules(Vec<(ModuleName, u64)>),
    /// A read model and its checkpoint; its rows follow.
    Model {
        name: ReadModelName,
        checkpoint: Position,
    },
    /// Entries (key, value) of a read model.
    ModelRows {
        name: ReadModelName,
        rows: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// The image is whole.
    End,
}

/// An idempotency key of a stream and the versions the append made with it wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptAppendKey {
    pub stream: StreamId,
    pub key: IdempotencyKey,
    pub first_version: Version,
    pub last_version: Version,
}

/// A snapshot, with the stream and key it is kept under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptSnapshot {
    pub stream: StreamId,
    pub key: SnapshotKey,
    pub snapshot: Snapshot,
}

/// A version of a module, and when it was kept (`None` for one kept by a release that did not
/// record it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptModule {
    pub record: ModuleRecord,
    pub uploaded_at: Option<Timestamp>,
}

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The target holds something already; an import only fills an empty store.
    #[error("the target store is not empty: {0}")]
    NotEmpty(String),
    /// The parts break an invariant of an image (see `image.rs`).
    #[error("the image is out of order: {0}")]
    OutOfOrder(String),
    /// The image holds something the target cannot keep, such as a name an older release
    /// allowed that this backend refuses.
    #[error("the target cannot keep this: {0}")]
    Unsupported(String),
    /// The export feeding the import stopped before its end.
    #[error("the image ended before its end: the export stopped")]
    Cut,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The names of an image's sections, in the order they are reported.
pub const IMAGE_SECTIONS: [&str; 10] = [
    "events",
    "append_keys",
    "commands",
    "snapshots",
    "modules",
    "module_blobs",
    "module_states",
    "removed_modules",
    "read_models",
    "read_model_rows",
];

/// How many items a section holds, and a hash of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SectionDigest {
    pub items: u64,
    /// The log's: SHA-256 over its events in order. Every other section's: the sum, modulo
    /// 2^256, of each item's SHA-256, so the order they came in does not matter.
    pub hash: [u8; 32],
}

impl SectionDigest {
    /// The hash in lowercase hex.
    pub fn hex(&self) -> String {
        self.hash.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A digest of a whole image, section by section: two stores hold the same content exactly when
/// their digests are equal (up to SHA-256 collisions).
#[derive(Clone, Debug, Default)]
pub struct ImageDigest {
    log: Sha256,
    sections: BTreeMap<&'static str, SectionDigest>,
}

impl PartialEq for ImageDigest {
    fn eq(&self, other: &Self) -> bool {
        self.sections() == other.sections()
    }
}

impl ImageDigest {
    /// Digests every part `parts` brings, to its end, passing each on to `forward` if given.
    /// If `forward` closes (its import failed), it stops at once, so the export stops too.
    pub async fn of(mut parts: Receiver<ImagePart>, forward: Option<Sender<ImagePart>>) -> Self {
        let mut digest = Self::default();
        while let Some(part) = parts.recv().await {
            digest.add(&part);
            if let Some(forward) = &forward
                && forward.send(part).await.is_err()
            {
                break;
            }
        }
        digest
    }

    /// Adds what `part` holds.
    pub fn add(&mut self, part: &ImagePart) {
        match part {
            ImagePart::Events(events) => {
                for event in events {
                    let item = Fields::new()
                        .u64(event.position.get())
                        .bytes(event.id.as_uuid().as_bytes())
                        .text(event.stream.as_str())
                        .u64(event.version.get())
                        .text(event.event_type.as_str())
                        .text(event.data.as_str())
                        .text(event.metadata.as_str())
                        .u64(event.recorded_at.as_millis());
                    self.log.update(&item.0);
                    self.sections.entry("events").or_default().items += 1;
                }
            }
            ImagePart::AppendKeys(keys) => {
                for key in keys {
                    self.sum(
                        "append_keys",
                        Fields::new()
                            .text(key.stream.as_str())
                            .text(key.key.as_str())
                            .u64(key.first_version.get())
                            .u64(key.last_version.get()),
                    );
                }
            }
            ImagePart::Commands(entries) => {
                for entry in entries {
                    self.sum("commands", command_fields(entry));
                }
            }
            ImagePart::Snapshots(snapshots) => {
                for kept in snapshots {
                    self.sum(
                        "snapshots",
                        Fields::new()
                            .text(kept.stream.as_str())
                            .text(kept.key.as_str())
                            .u64(kept.snapshot.version.get())
                            .bytes(&kept.snapshot.state),
                    );
                }
            }
            ImagePart::Modules(modules) => {
                for kept in modules {
                    let record = &kept.record;
                    self.sum(
                        "modules",
                        Fields::new()
                            .text(record.name.as_str())
                            .u64(record.version)
                            .text(record.kind.as_str())
                            .text(record.hash.as_str())
                            .option(kept.uploaded_at.map(Timestamp::as_millis)),
                    );
                }
            }
            ImagePart::ModuleBlob { hash, bytes } => {
                self.sum(
                    "module_blobs",
                    Fields::new().text(hash.as_str()).bytes(bytes),
                );
            }
            ImagePart::ModuleStates(states) => {
                for (name, state) in states {
                    self.sum(
                        "module_states",
                        Fields::new().text(name.as_str()).bytes(state),
                    );
                }
            }
            ImagePart::RemovedModules(removed) => {
                for (name, version) in removed {
                    self.sum(
                        "removed_modules",
                        Fields::new().text(name.as_str()).u64(*version),
                    );
                }
            }
            ImagePart::Model { name, checkpoint } => {
                self.sum(
                    "read_models",
                    Fields::new().text(name.as_str()).u64(checkpoint.get()),
                );
            }
            ImagePart::ModelRows { name, rows } => {
                for (key, value) in rows {
                    self.sum(
                        "read_model_rows",
                        Fields::new().text(name.as_str()).bytes(key).bytes(value),
                    );
                }
            }
            ImagePart::End => {}
        }
    }

    /// Each section of [`IMAGE_SECTIONS`], in that order, with what it holds (an empty one
    /// included).
    pub fn sections(&self) -> Vec<(&'static str, SectionDigest)> {
        IMAGE_SECTIONS
            .iter()
            .map(|&name| {
                let mut section = self.sections.get(name).cloned().unwrap_or_default();
                if name == "events" {
                    section.hash = self.log.clone().finalize().into();
                }
                (name, section)
            })
            .collect()
    }

    fn sum(&mut self, section: &'static str, item: Fields) {
        let hash: [u8; 32] = Sha256::digest(&item.0).into();
        let entry = self.sections.entry(section).or_default();
        entry.items += 1;
        add_256(&mut entry.hash, &hash);
    }
}

/// `into += add`, both big-endian numbers, modulo 2^256.
fn add_256(into: &mut [u8; 32], add: &[u8; 32]) {
    let mut carry = 0u16;
    for (a, b) in into.iter_mut().zip(add).rev() {
        let sum = u16::from(*a) + u16::from(*b) + carry;
        *a = (sum & 0xff) as u8;
        carry = sum >> 8;
    }
}

fn command_fields(entry: &CommandEntry) -> Fields {
    let command = &entry.command;
    let fields = Fields::new()
        .bytes(command.id.as_uuid().as_bytes())
        .text(command.command_type.as_str())
        .text(command.data.as_str())
        .option_text(command.idempotency_key.as_ref().map(IdempotencyKey::as_str))
        .u64(command.time.as_millis())
        .text(command.aggregate.as_str())
        .text(command.stream.as_str())
        .u64(command.decided_at.get())
        .text(command.module_hash.as_str());
    match &entry.verdict {
        Verdict::Appended {
            first_version,
            last_version,
            first_position,
            last_position,
        } => fields
            .text("appended")
            .u64(first_version.get())
            .u64(last_version.get())
            .u64(first_position.get())
            .u64(last_position.get()),
        Verdict::NothingAppended(NothingAppended::Unchanged) => fields.text("unchanged"),
        Verdict::NothingAppended(NothingAppended::Rejected { message }) => {
            fields.text("rejected").text(message)
        }
        Verdict::NothingAppended(NothingAppended::Invalid { message }) => {
            fields.text("invalid").text(message)
        }
    }
}

/// An item's fields as bytes, each length-prefixed so no two items encode alike.
struct Fields(Vec<u8>);

impl Fields {
    fn new() -> Self {
        Self(Vec::new())
    }

    fn bytes(mut self, bytes: &[u8]) -> Self {
        self.0
            .extend_from_slice(&(bytes.len() as u64).to_be_bytes());
        self.0.extend_from_slice(bytes);
        self
    }

    fn text(self, text: &str) -> Self {
        self.bytes(text.as_bytes())
    }

    fn u64(self, number: u64) -> Self {
        self.bytes(&number.to_be_bytes())
    }

    fn option(self, number: Option<u64>) -> Self {
        match number {
            Some(number) => self.bytes(&[1]).u64(number),
            None => self.bytes(&[0]),
        }
    }

    fn option_text(self, text: Option<&str>) -> Self {
        match text {
            Some(text) => self.bytes(&[1]).text(text),
            None => self.bytes(&[0]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sum_wraps_and_carries() {
        let mut a = [0xffu8; 32];
        let mut one = [0u8; 32];
        one[31] = 1;
        add_256(&mut a, &one);
        assert_eq!(a, [0u8; 32]);
        let mut b = [0u8; 32];
        b[31] = 0xff;
        add_256(&mut b, &one);
        assert_eq!((b[30], b[31]), (1, 0));
    }

    #[test]
    fn sections_do_not_depend_on_the_order_of_their_items() {
        let states = |names: &[&str]| {
            ImagePart::ModuleStates(
                names
                    .iter()
                    .map(|n| (ModuleName::new(n).expect("a name"), n.as_bytes().to_vec()))
                    .collect(),
            )
        };
        let (mut one, mut two) = (ImageDigest::default(), ImageDigest::default());
        one.add(&states(&["a", "b"]));
        one.add(&states(&["c"]));
        two.add(&states(&["c", "b"]));
        two.add(&states(&["a"]));
        assert_eq!(one, two);
        let mut three = ImageDigest::default();
        three.add(&states(&["a", "b", "d"]));
        assert_ne!(one, three);
        assert_eq!(one.sections()[6].1.items, 3);
    }
}
