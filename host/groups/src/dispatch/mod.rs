//! [`Dispatcher`]: a group's deliveries as a pure state machine, with no store and no clock of
//! its own. The task (`task.rs`) feeds it events (live ones from the log, released parked ones
//! from the replay feed), members, acknowledgements and the time, and writes what it returns.
//!
//! - `mod.rs`: the window of unsettled events, intake, and the writes a flush commits.
//! - `members.rs`: members, which keys each owns, and taking deliveries for one.
//! - `settle.rs`: acknowledgements, negative ones, parking, and leases that run out.
//!
//! Invariants kept here (the rows' invariants, `rows.rs`, are kept through them):
//! 1. A key's events wait in one queue in log order ([`KeyQueue`]); only its head is ever
//!    ready or leased. So at most one event of a key is in flight.
//! 2. A ready entry is in exactly one ready set: its owner's, or the unowned set when the
//!    group has no member.
//! 3. `live` holds every event after the durable checkpoint that the filter takes and that is
//!    not settled; the next checkpoint is the position before its first, or `read_to` when it
//!    is empty.
//! 4. A key in `parked` has `k` rows; its `released` entries are the first of them.

pub(crate) mod members;
mod settle;

pub use settle::NackAction;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use cairn_store::{ModelWrite, RecordedEvent};

use crate::config::GroupConfig;
use crate::name::{DeliveryId, MemberId};
use crate::parked::{ParkReason, ParkedEntry};
use crate::rows::{self, Stopped};

pub(crate) use members::MemberKind;

/// Where an entry came from. Replays sort first: they are older than anything live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Origin {
    Replay,
    Live,
}

/// The most unsettled live events the window holds; reading the log waits while it is full.
pub(crate) const WINDOW: usize = 20_000;

/// An event waiting for, or out on, delivery.
#[derive(Debug)]
struct Entry {
    event: Arc<RecordedEvent>,
    key: Arc<str>,
    /// Deliveries made.
    attempts: u32,
    /// Deliveries made again after a `retry` or a lease that ran out.
    retries: u32,
    last_error: Option<String>,
    state: EntryState,
    /// For a replay, its `p` row as it was loaded.
    parked: Option<ParkedEntry>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EntryState {
    /// Behind an earlier event of its key.
    Queued,
    /// The head of its key's queue, in a ready set.
    Ready,
    /// The head of its key's queue, waiting out a retry's backoff.
    Backoff(Instant),
    /// Out to a member.
    Leased(DeliveryId),
}

/// One key's events, in log order (invariant 1).
#[derive(Debug, Default)]
struct KeyQueue(VecDeque<(Origin, u64)>);

/// A key with parked events (invariant 4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ParkedKey {
    pub count: u64,
    pub released: u64,
}

/// A delivery out to a member.
#[derive(Debug)]
struct Lease {
    origin: Origin,
    position: u64,
    member: MemberId,
    deadline: Instant,
}

/// One event delivered to one member.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Delivery {
    /// What the member acknowledges.
    #[serde(rename = "delivery")]
    pub id: DeliveryId,
    /// 1 for the first delivery of the event, more for each delivered again.
    pub attempt: u32,
    /// The partition key the event is ordered by.
    pub key: Arc<str>,
    /// Whether it is a parked event, released by a replay.
    pub replayed: bool,
    pub event: Arc<RecordedEvent>,
}

/// What the durable state becomes at the next commit.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Flush {
    pub writes: Vec<ModelWrite>,
    /// The new checkpoint, when it moves.
    pub checkpoint: Option<u64>,
}

/// What the dispatcher starts from: the group's durable state, as its rows hold it.
#[derive(Debug, Default)]
pub(crate) struct Durable {
    pub checkpoint: u64,
    /// Positions above the checkpoint the `a` row names.
    pub acked: BTreeSet<u64>,
    /// Positions above the checkpoint with a `p` row.
    pub parked_above: BTreeSet<u64>,
    pub parked_keys: HashMap<Arc<str>, ParkedKey>,
    pub stopped: Option<Stopped>,
}

#[derive(Debug)]
pub(crate) struct Dispatcher {
    config: Arc<GroupConfig>,
    epoch: u32,
    next_delivery: u64,
    /// The durable checkpoint, or the one the commit in flight writes.
    checkpoint: u64,
    /// The last log position examined.
    read_to: u64,
    live: BTreeMap<u64, Entry>,
    replays: BTreeMap<u64, Entry>,
    keys: HashMap<Arc<str>, KeyQueue>,
    parked: HashMap<Arc<str>, ParkedKey>,
    parked_total: u64,
    /// Positions above the checkpoint settled before a restart, passed over when read again.
    settled_before: BTreeSet<u64>,
    /// Positions above the checkpoint acknowledged or skipped: what the `a` row names, or will
    /// at the next flush.
    acked_rows: BTreeSet<u64>,
    /// Live positions acknowledged or skipped since the last flush.
    newly_acked: Vec<u64>,
    writes: Vec<ModelWrite>,
    members: members::Members,
    leases: HashMap<DeliveryId, Lease>,
    deadlines: BTreeSet<(Instant, DeliveryId)>,
    backoffs: BTreeSet<(Instant, Origin, u64)>,
    stopped: Option<Stopped>,
    /// Keys whose replay stopped at an event parked again: the feed's later entries of them
    /// are let go, not delivered.
    unreleased_keys: Vec<Arc<str>>,
    /// Keys parked again during a replay, with the position: the task deletes the `r` rows of
    /// their later `k` rows in the same write (invariant 5 of the rows).
    unrelease: Vec<(Arc<str>, u64)>,
    /// An event was parked behind a key being replayed in full, and released with it.
    auto_released: bool,
    pub(crate) counts: Counts,
}

/// What a group has done since its task started.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Counts {
    pub delivered: u64,
    pub acked: u64,
    pub retried: u64,
    pub parked: u64,
    pub skipped: u64,
    pub expired: u64,
}

impl Dispatcher {
    pub(crate) fn new(config: Arc<GroupConfig>, epoch: u32, durable: Durable) -> Self {
        let parked_total = durable.parked_keys.values().map(|p| p.count).sum();
        let mut settled_before = durable.acked.clone();
        settled_before.extend(&durable.parked_above);
        Self {
            config,
            epoch,
            next_delivery: 0,
            checkpoint: durable.checkpoint,
            read_to: durable.checkpoint,
            live: BTreeMap::new(),
            replays: BTreeMap::new(),
            keys: HashMap::new(),
            parked: durable.parked_keys,
            parked_total,
            settled_before,
            acked_rows: durable.acked,
            newly_acked: Vec::new(),
            writes: Vec::new(),
            members: members::Members::default(),
            leases: HashMap::new(),
            deadlines: BTreeSet::new(),
            backoffs: BTreeSet::new(),
            stopped: durable.stopped,
            unreleased_keys: Vec::new(),
            unrelease: Vec::new(),
            auto_released: false,
            counts: Counts::default(),
        }
    }

    pub(crate) fn config(&self) -> &GroupConfig {
        &self.config
    }

    /// The last log position examined: the log is read on after it.
    pub(crate) fn read_to(&self) -> u64 {
        self.read_to
    }

    pub(crate) fn checkpoint(&self) -> u64 {
        self.checkpoint
    }

    /// Whether the window has room for more of the log.
    pub(crate) fn wants_more(&self) -> bool {
        self.live.len() < WINDOW
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.leases.len()
    }

    pub(crate) fn parked_total(&self) -> u64 {
        self.parked_total
    }

    pub(crate) fn stopped(&self) -> Option<&Stopped> {
        self.stopped.as_ref()
    }

    /// Unsettled events in the window: live and replayed.
    pub(crate) fn waiting(&self) -> usize {
        self.live.len() + self.replays.len()
    }

    /// Whether a replay entry at `position` is loaded already.
    pub(crate) fn has_replay(&self, position: u64) -> bool {
        self.replays.contains_key(&position)
    }

    /// Loaded replays not yet settled.
    pub(crate) fn replays_loaded(&self) -> usize {
        self.replays.len()
    }

    /// Takes the next event of the log (read in order after [`Dispatcher::read_to`]).
    pub(crate) fn push_live(&mut self, event: RecordedEvent, now_ms: u64) {
        let position = event.position.get();
        debug_assert!(position > self.read_to, "the log is read in order");
        self.read_to = position;
        if !self.config.filter.matches(&event) || self.settled_before.remove(&position) {
            return;
        }
        let key: Arc<str> = Arc::from(self.config.partition_key.key_of(&event));
        let entry = Entry {
            event: Arc::new(event),
            key: Arc::clone(&key),
            attempts: 0,
            retries: 0,
            last_error: None,
            state: EntryState::Queued,
            parked: None,
        };
        if self.parked.contains_key(&key) {
            // Invariant 4 of the rows: it waits behind the parked ones.
            self.park_entry(Origin::Live, position, entry, ParkReason::Behind, now_ms);
            return;
        }
        self.live.insert(position, entry);
        self.enqueue(key, Origin::Live, position);
    }

    /// Passes over log positions up to `position` that held nothing the group takes.
    pub(crate) fn scanned_to(&mut self, position: u64) {
        if position > self.read_to {
            self.read_to = position;
            self.settled_before = self.settled_before.split_off(&(position + 1));
        }
    }

    /// Takes a parked event released for replay, with its `p` row.
    pub(crate) fn push_replay(&mut self, event: RecordedEvent, parked: ParkedEntry) {
        let position = parked.position;
        if self.replays.contains_key(&position) {
            return;
        }
        let key: Arc<str> = Arc::from(parked.key.as_str());
        if self.unreleased_keys.contains(&key) {
            // Its key's replay stopped at an earlier event (invariant 5 of the rows).
            self.writes.push(ModelWrite::Delete {
                key: rows::released(position),
            });
            return;
        }
        let entry = Entry {
            event: Arc::new(event),
            key: Arc::clone(&key),
            attempts: parked.attempts,
            retries: 0,
            last_error: parked.last_error.clone(),
            state: EntryState::Queued,
            parked: Some(parked),
        };
        self.replays.insert(position, entry);
        self.enqueue(key, Origin::Replay, position);
    }

    /// Keys whose replay stopped at a position since the last call: the `r` rows of their
    /// later `k` rows are to be deleted with the next flush.
    pub(crate) fn take_unrelease(&mut self) -> Vec<(Arc<str>, u64)> {
        std::mem::take(&mut self.unrelease)
    }

    /// Whether an event was released since the last call, with the key it was parked
    /// behind: the replay feed has more to read.
    pub(crate) fn take_auto_released(&mut self) -> bool {
        std::mem::take(&mut self.auto_released)
    }

    /// Adds writes the task made (`r` rows of a replay, deletions of stale ones) to the next
    /// flush.
    pub(crate) fn push_writes(&mut self, writes: impl IntoIterator<Item = ModelWrite>) {
        self.writes.extend(writes);
    }

    /// Puts an entry at the back of its key's queue; it is ready when it is the head.
    fn enqueue(&mut self, key: Arc<str>, origin: Origin, position: u64) {
        let queue = self.keys.entry(Arc::clone(&key)).or_default();
        queue.0.push_back((origin, position));
        if queue.0.len() == 1 {
            self.make_ready(origin, position);
        }
    }

    fn entry_mut(&mut self, origin: Origin, position: u64) -> Option<&mut Entry> {
        match origin {
            Origin::Live => self.live.get_mut(&position),
            Origin::Replay => self.replays.get_mut(&position),
        }
    }

    /// The head of `key`'s queue after its head settled, made ready.
    fn advance_key(&mut self, key: &Arc<str>) {
        let Some(queue) = self.keys.get_mut(key) else {
            return;
        };
        queue.0.pop_front();
        match queue.0.front().copied() {
            Some((origin, position)) => self.make_ready(origin, position),
            None => {
                self.keys.remove(key);
            }
        }
    }

    fn make_ready(&mut self, origin: Origin, position: u64) {
        let Some(entry) = self.entry_mut(origin, position) else {
            return;
        };
        entry.state = EntryState::Ready;
        let key = Arc::clone(&entry.key);
        self.members.add_ready(&key, origin, position);
    }

    /// The writes the next commit makes, and the checkpoint it moves to; `None` when nothing
    /// changed. One commit at a time: call it again only after the last one is durable.
    pub(crate) fn flush(&mut self) -> Option<Flush> {
        let checkpoint = self
            .live
            .keys()
            .next()
            .map_or(self.read_to, |first| first - 1);
        let mut writes = std::mem::take(&mut self.writes);
        let newly = !self.newly_acked.is_empty();
        self.acked_rows.extend(self.newly_acked.drain(..));
        let above = self.acked_rows.split_off(&(checkpoint + 1));
        let passed = !std::mem::replace(&mut self.acked_rows, above).is_empty();
        if newly || passed {
            // Invariant 2 of the rows: the `a` row names what is acknowledged above the
            // checkpoint this flush commits.
            writes.push(if self.acked_rows.is_empty() {
                ModelWrite::Delete {
                    key: rows::ACKED.to_vec(),
                }
            } else {
                ModelWrite::Put {
                    key: rows::ACKED.to_vec(),
                    value: rows::acked_row(checkpoint, &self.acked_rows),
                }
            });
        }
        let moved = (checkpoint > self.checkpoint).then_some(checkpoint);
        if let Some(checkpoint) = moved {
            self.checkpoint = checkpoint;
        }
        (moved.is_some() || !writes.is_empty()).then_some(Flush {
            writes,
            checkpoint: moved,
        })
    }

    fn next_id(&mut self) -> DeliveryId {
        self.next_delivery += 1;
        DeliveryId {
            epoch: self.epoch,
            n: self.next_delivery,
        }
    }

    /// The earliest time [`Dispatcher::tick`] has something to do.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let lease = self.deadlines.first().map(|(at, _)| *at);
        let backoff = self.backoffs.first().map(|(at, _, _)| *at);
        let member = self.members.next_timeout(self.config.member_timeout());
        [lease, backoff, member].into_iter().flatten().min()
    }
}

#[cfg(test)]
mod tests;
