//! Settling deliveries: acknowledgements, negative ones (`retry`, `park`, `skip`, `stop`),
//! leases that run out, parking with the events of a key behind it, and parked events
//! released for replay or discarded.

use std::sync::Arc;
use std::time::Instant;

use cairn_store::ModelWrite;
use serde::{Deserialize, Serialize};

use crate::config::Exhausted;
use crate::dispatch::{Dispatcher, Entry, EntryState, Lease, Origin, ParkedKey};
use crate::error::GroupError;
use crate::name::{DeliveryId, MemberId};
use crate::parked::{self, ParkReason, ParkedEntry, Released};
use crate::rows::{self, Stopped};

/// What a member asks for an event it could not handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NackAction {
    /// Deliver it again after a backoff; when the retries run out, the group's policy applies.
    Retry,
    /// Park it now, with its key's later events behind it.
    Park,
    /// Count it as acknowledged.
    Skip,
    /// Stop the group at it until it is resumed; it is delivered again then.
    Stop,
}

impl Dispatcher {
    /// Ends the leases of `ids`, all or none: an id not in flight fails the call, naming every
    /// such id, and changes nothing.
    fn end_leases(&mut self, ids: &[DeliveryId]) -> Result<Vec<Lease>, GroupError> {
        let mut unique = ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let unknown: Vec<String> = unique
            .iter()
            .filter(|id| !self.leases.contains_key(id))
            .map(ToString::to_string)
            .collect();
        if !unknown.is_empty() {
            return Err(GroupError::UnknownDeliveries(unknown));
        }
        Ok(unique
            .into_iter()
            .map(|id| self.end_lease(id).expect("checked above"))
            .collect())
    }

    fn end_lease(&mut self, id: DeliveryId) -> Option<Lease> {
        let lease = self.leases.remove(&id)?;
        self.deadlines.remove(&(lease.deadline, id));
        let member: MemberId = lease.member.clone();
        self.lease_ended(&member);
        Some(lease)
    }

    /// Acknowledges deliveries. Returns how many.
    pub(crate) fn ack(&mut self, ids: &[DeliveryId]) -> Result<usize, GroupError> {
        let leases = self.end_leases(ids)?;
        for lease in &leases {
            self.settle(lease.origin, lease.position);
        }
        self.counts.acked += leases.len() as u64;
        Ok(leases.len())
    }

    /// Negatively acknowledges deliveries. Returns how many.
    pub(crate) fn nack(
        &mut self,
        ids: &[DeliveryId],
        action: NackAction,
        reason: Option<String>,
        now: Instant,
        now_ms: u64,
    ) -> Result<usize, GroupError> {
        let leases = self.end_leases(ids)?;
        for lease in &leases {
            let (origin, position) = (lease.origin, lease.position);
            if let Some(entry) = self.entry_mut(origin, position) {
                entry.last_error = reason.clone();
                entry.state = EntryState::Queued;
            }
            match action {
                NackAction::Retry => self.retry_or_exhaust(origin, position, now, now_ms),
                NackAction::Park => self.park_head(origin, position, ParkReason::Nacked, now_ms),
                NackAction::Skip => {
                    self.counts.skipped += 1;
                    self.settle(origin, position);
                }
                NackAction::Stop => {
                    let why = reason
                        .clone()
                        .unwrap_or_else(|| "stopped by a member".into());
                    self.stop_at(origin, position, why, now_ms);
                }
            }
        }
        Ok(leases.len())
    }

    /// Leases that ran out, backoffs that ended and members that timed out, as of `now`.
    /// Returns the members that left.
    pub(crate) fn tick(&mut self, now: Instant, now_ms: u64) -> Vec<MemberId> {
        while let Some(&(deadline, id)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            let lease = self.end_lease(id).expect("a deadline has its lease");
            self.counts.expired += 1;
            let timeout = self.config.ack_timeout_ms;
            if let Some(entry) = self.entry_mut(lease.origin, lease.position) {
                entry.last_error = Some(format!("not acknowledged within {timeout} ms"));
                entry.state = EntryState::Queued;
            }
            self.retry_or_exhaust(lease.origin, lease.position, now, now_ms);
        }
        while let Some(&(at, origin, position)) = self.backoffs.first() {
            if at > now {
                break;
            }
            self.backoffs.pop_first();
            self.make_ready(origin, position);
        }
        let gone = self.timed_out(now);
        for member in &gone {
            self.leave(member);
        }
        gone
    }

    fn retry_or_exhaust(&mut self, origin: Origin, position: u64, now: Instant, now_ms: u64) {
        let max_retries = self.config.max_retries;
        let Some(entry) = self.entry_mut(origin, position) else {
            return;
        };
        entry.retries += 1;
        let retries = entry.retries;
        if retries <= max_retries {
            let at = now + self.config.backoff(retries);
            if let Some(entry) = self.entry_mut(origin, position) {
                entry.state = EntryState::Backoff(at);
            }
            self.backoffs.insert((at, origin, position));
            self.counts.retried += 1;
            return;
        }
        match self.config.on_exhausted {
            Exhausted::Park => self.park_head(origin, position, ParkReason::Exhausted, now_ms),
            Exhausted::Skip => {
                self.counts.skipped += 1;
                self.settle(origin, position);
            }
            Exhausted::Stop => {
                let why = format!("retries ran out after {max_retries}");
                self.stop_at(origin, position, why, now_ms);
            }
        }
    }

    /// The group stops at the event, which is delivered again once it is resumed.
    fn stop_at(&mut self, origin: Origin, position: u64, reason: String, now_ms: u64) {
        let stopped = Stopped {
            position,
            reason,
            at: now_ms,
        };
        self.writes.push(ModelWrite::Put {
            key: rows::STOPPED.to_vec(),
            value: serde_json::to_vec(&stopped).expect("serialises"),
        });
        self.stopped = Some(stopped);
        if let Some(entry) = self.entry_mut(origin, position) {
            entry.retries = 0;
        }
        self.make_ready(origin, position);
    }

    /// Resumes a stopped group. Returns whether it was stopped.
    pub(crate) fn resume(&mut self) -> bool {
        if self.stopped.take().is_none() {
            return false;
        }
        self.writes.push(ModelWrite::Delete {
            key: rows::STOPPED.to_vec(),
        });
        true
    }

    /// Takes the head of a key out of the window as settled: acknowledged or skipped.
    fn settle(&mut self, origin: Origin, position: u64) {
        let Some(entry) = self.remove_entry(origin, position) else {
            return;
        };
        match origin {
            Origin::Live => self.newly_acked.push(position),
            Origin::Replay => self.let_go(&entry.key, position, true),
        }
        self.advance_key(&entry.key);
    }

    fn remove_entry(&mut self, origin: Origin, position: u64) -> Option<Entry> {
        match origin {
            Origin::Live => self.live.remove(&position),
            Origin::Replay => self.replays.remove(&position),
        }
    }

    /// Deletes a parked event's rows, and counts it out of its key.
    fn let_go(&mut self, key: &Arc<str>, position: u64, released: bool) {
        self.writes.extend(parked::let_go(key, position));
        self.writes.push(ModelWrite::Delete {
            key: rows::released(position),
        });
        self.parked_total = self.parked_total.saturating_sub(1);
        if let Some(parked) = self.parked.get_mut(key) {
            parked.count = parked.count.saturating_sub(1);
            if released {
                parked.released = parked.released.saturating_sub(1);
            }
            if parked.count == 0 {
                self.parked.remove(key);
            }
        }
    }

    /// Parks the head of a key, and the key's later events in the window behind it.
    fn park_head(&mut self, origin: Origin, position: u64, reason: ParkReason, now_ms: u64) {
        let Some(entry) = self.remove_entry(origin, position) else {
            return;
        };
        let key = Arc::clone(&entry.key);
        let rest: Vec<(Origin, u64)> = self
            .keys
            .remove(&key)
            .map(|queue| queue.0.into_iter().skip(1).collect())
            .unwrap_or_default();
        self.park_entry(origin, position, entry, reason, now_ms);
        for (origin, position) in rest {
            let Some(entry) = self.remove_entry(origin, position) else {
                continue;
            };
            self.backoffs
                .retain(|(_, o, p)| (*o, *p) != (origin, position));
            match origin {
                Origin::Live => {
                    self.park_entry(origin, position, entry, ParkReason::Behind, now_ms);
                }
                // Still parked: its replay stops here (invariant 5 of the rows).
                Origin::Replay => self.writes.push(ModelWrite::Delete {
                    key: rows::released(position),
                }),
            }
        }
    }

    /// Writes an entry's `p` and `k` rows: a live event parked for the first time, or a
    /// replayed one parked again.
    pub(super) fn park_entry(
        &mut self,
        origin: Origin,
        position: u64,
        entry: Entry,
        reason: ParkReason,
        now_ms: u64,
    ) {
        let key = Arc::clone(&entry.key);
        match (origin, entry.parked) {
            (Origin::Replay, Some(before)) => {
                // Parked again: its key's replay stops here (invariant 5 of the rows).
                self.writes.push(ModelWrite::Delete {
                    key: rows::released(position),
                });
                let counted = self.parked.entry(Arc::clone(&key)).or_default();
                counted.released = 0;
                if !self.unreleased_keys.contains(&key) {
                    self.unreleased_keys.push(Arc::clone(&key));
                }
                self.unrelease.push((Arc::clone(&key), position));
                self.writes.push(parked::repark(&ParkedEntry {
                    reason,
                    attempts: entry.attempts,
                    last_error: entry.last_error,
                    parked_at: now_ms,
                    held: Released::default(),
                    ..before
                }));
            }
            _ => {
                let counted = self.parked.entry(Arc::clone(&key)).or_insert(ParkedKey {
                    count: 0,
                    released: 0,
                });
                // A key being replayed in full takes its new events into the replay.
                let release = counted.count > 0 && counted.released == counted.count;
                counted.count += 1;
                if release {
                    counted.released += 1;
                    self.auto_released = true;
                    self.writes.push(ModelWrite::Put {
                        key: rows::released(position),
                        value: Vec::new(),
                    });
                }
                self.parked_total += 1;
                self.counts.parked += 1;
                let parked = ParkedEntry::<Released>::new(
                    &entry.event,
                    &key,
                    reason,
                    entry.attempts,
                    entry.last_error,
                    now_ms,
                );
                self.writes.extend(parked::park(&parked));
            }
        }
    }

    /// Parked events of `key` were released for replay (their `r` rows written by the task).
    pub(crate) fn released(&mut self, key: &str, count: u64) {
        self.unreleased_keys.retain(|k| &**k != key);
        if let Some(parked) = self.parked.get_mut(key) {
            parked.released = (parked.released + count).min(parked.count);
        }
    }

    /// Discards a parked event (its `p` row is `parked`): its rows go, and if a replay had
    /// loaded it, so does the replay, and a delivery of it in flight is unknown from now.
    pub(crate) fn discard(&mut self, parked: &ParkedEntry) {
        let position = parked.position;
        let key: Arc<str> = Arc::from(parked.key.as_str());
        if let Some(entry) = self.replays.get(&position) {
            let state = entry.state;
            match state {
                EntryState::Leased(id) => {
                    self.end_lease(id);
                }
                EntryState::Ready => self.members.remove_ready(&key, Origin::Replay, position),
                EntryState::Backoff(at) => {
                    self.backoffs.remove(&(at, Origin::Replay, position));
                }
                EntryState::Queued => {}
            }
            self.replays.remove(&position);
            let was_head = self
                .keys
                .get(&key)
                .and_then(|queue| queue.0.front())
                .is_some_and(|head| *head == (Origin::Replay, position));
            if was_head {
                self.advance_key(&key);
            } else if let Some(queue) = self.keys.get_mut(&key) {
                queue.0.retain(|item| *item != (Origin::Replay, position));
            }
        }
        self.let_go(&key, position, parked.held.released);
    }
}
