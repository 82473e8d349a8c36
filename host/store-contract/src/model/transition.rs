//! What the model test's steps are: the streams, types, read models and keys it draws from,
//! a step ([`Transition`]), and what a step must return ([`Expected`]).

use std::collections::BTreeMap;

use cairn_store::{Direction, ExpectedVersion};

/// What histories draw from: streams (two share a category), categories to filter by (one
/// that no stream has), event types, read models, and model keys (some prefixes of others).
pub(super) const STREAMS: [&str; 4] = ["acct-1", "acct-2", "cust-1", "solo"];
pub(super) const CATEGORIES: [&str; 4] = ["acct", "cust", "solo", "none"];
pub(super) const TYPES: [&str; 3] = ["Opened", "Deposited", "Withdrawn"];
pub(super) const MODELS: [&str; 2] = ["blue", "green"];
pub(super) const KEYS: [&[u8]; 5] = [b"a", b"ab", b"abc", b"b", b"\xff"];
/// Prefixes to list streams by: every name, a category, a category with its `-`, a whole
/// name, a letter two categories share, and none.
pub(super) const STREAM_PREFIXES: [&str; 6] = ["", "acct", "acct-", "acct-1", "c", "zzz"];
/// Where listings go on from: every stream name, and names between and around them.
pub(super) const STREAM_CURSORS: [&str; 7] = [
    "acct-1",
    "acct-2",
    "cust-1",
    "solo",
    "acct-15",
    "b",
    "\u{10ffff}",
];

/// A read model in the reference: its checkpoint and its entries.
pub(super) type ModelState = (u64, BTreeMap<Vec<u8>, Vec<u8>>);

/// A stored event as the model holds it; its stream and type are indexes into [`STREAMS`]
/// and [`TYPES`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ModelEvent {
    pub(super) id: u128,
    pub(super) stream: usize,
    pub(super) version: u64,
    pub(super) position: u64,
    pub(super) event_type: usize,
    pub(super) data: String,
}

impl ModelEvent {
    /// What a read's byte budget counts of the event: its type, data and metadata (`{}`).
    pub(super) fn bytes(&self) -> usize {
        TYPES[self.event_type].len() + self.data.len() + 2
    }
}

/// An event an append carries: its id, its type (an index into [`TYPES`]) and its data.
#[derive(Clone, Debug)]
pub(super) struct EventSpec {
    pub(super) id: u128,
    pub(super) event_type: usize,
    pub(super) data: String,
}

/// One step of a history.
#[derive(Clone, Debug)]
pub(super) enum Transition {
    Append {
        stream: usize,
        expected: ExpectedVersion,
        events: Vec<EventSpec>,
    },
    ReadStream {
        stream: usize,
        direction: Direction,
        from: Option<u64>,
        limit: usize,
        max_bytes: usize,
    },
    ReadAll {
        after: u64,
        limit: usize,
        category: Option<usize>,
        event_type: Option<usize>,
        scan_limit: usize,
        max_bytes: usize,
    },
    CommitModel {
        model: usize,
        /// (key, value); no value is a delete.
        writes: Vec<(usize, Option<u8>)>,
        checkpoint: u64,
    },
    /// Drop and commit again in one write (ReadModels promise 4); the checkpoint may be
    /// behind the model's.
    ReplaceModel {
        model: usize,
        writes: Vec<(usize, Option<u8>)>,
        checkpoint: u64,
    },
    DropModel {
        model: usize,
    },
    ScanModel {
        model: usize,
        prefix: usize,
        start_after: Option<usize>,
        limit: usize,
    },
    ListStreams {
        prefix: usize,
        from: Option<usize>,
        direction: Direction,
        limit: usize,
    },
    PutSnapshot {
        stream: usize,
        version: u64,
        state: Vec<u8>,
    },
    Reopen,
}

/// What the last transition must have returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Expected {
    Nothing,
    Appended {
        first_version: u64,
        last_version: u64,
        first_position: u64,
        last_position: u64,
    },
    WrongVersion {
        actual: u64,
    },
    IdempotencyConflict,
    EventIdReused,
    DuplicateId,
    NoEvents,
    Events {
        version: u64,
        events: Vec<ModelEvent>,
        truncated: bool,
    },
    All {
        events: Vec<ModelEvent>,
        scanned_to: u64,
        head: u64,
        truncated: bool,
    },
    SnapshotStored,
    SnapshotAhead,
    ModelCommitted,
    ModelNotAhead,
    ModelEntries(Vec<(Vec<u8>, Vec<u8>)>),
    /// A listing: (name, version) in the order listed, and whether more follow.
    Streams(Vec<(String, u64)>, bool),
}

/// Prefix `n` of the generated ones: a key, or (past the last key) the empty prefix.
pub(super) fn prefix_of(n: usize) -> &'static [u8] {
    KEYS.get(n).copied().unwrap_or(b"")
}
