//! Members of a group: joining and leaving (which moves only the keys they must, `assign.rs`),
//! which ready entries each owns (invariant 2), and taking deliveries for one member.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::assign;
use crate::dispatch::{Delivery, Dispatcher, EntryState, Lease, Origin};
use crate::name::MemberId;

/// How a member receives deliveries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum MemberKind {
    /// Long polls; it has left when it has not polled for the group's member timeout.
    Poll,
    /// Holds a stream of deliveries; it has left when the stream closes.
    Stream,
}

#[derive(Debug)]
struct Member {
    kind: MemberKind,
    in_flight: u32,
    last_seen: Instant,
    /// A poll is waiting: the member is there.
    polling: bool,
    ready: BTreeSet<(Origin, u64)>,
}

/// A member as the status shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MemberStatus {
    pub member: MemberId,
    pub kind: &'static str,
    pub in_flight: u32,
    /// Events of its keys ready to be delivered to it.
    pub ready: usize,
}

#[derive(Debug, Default)]
pub(super) struct Members {
    members: BTreeMap<MemberId, Member>,
    /// Ready entries while the group has no member.
    unowned: BTreeSet<(Origin, u64)>,
}

impl Members {
    fn set_for(&mut self, key: &str) -> &mut BTreeSet<(Origin, u64)> {
        match assign::owner(key, self.members.keys()).cloned() {
            Some(owner) => {
                &mut self
                    .members
                    .get_mut(&owner)
                    .expect("an owner is a member")
                    .ready
            }
            None => &mut self.unowned,
        }
    }

    pub(super) fn add_ready(&mut self, key: &str, origin: Origin, position: u64) {
        self.set_for(key).insert((origin, position));
    }

    pub(super) fn remove_ready(&mut self, key: &str, origin: Origin, position: u64) {
        self.set_for(key).remove(&(origin, position));
    }

    /// When the next polling member times out, if one is not polling.
    pub(super) fn next_timeout(&self, timeout: Duration) -> Option<Instant> {
        self.members
            .values()
            .filter(|m| m.kind == MemberKind::Poll && !m.polling)
            .map(|m| m.last_seen + timeout)
            .min()
    }
}

impl Dispatcher {
    /// `member` joins (or is seen again) as `kind`. Returns whether it is new.
    pub(crate) fn join(&mut self, member: &MemberId, kind: MemberKind, now: Instant) -> bool {
        if let Some(known) = self.members.members.get_mut(member) {
            known.last_seen = now;
            known.kind = kind;
            return false;
        }
        self.members.members.insert(
            member.clone(),
            Member {
                kind,
                in_flight: 0,
                last_seen: now,
                polling: false,
                ready: BTreeSet::new(),
            },
        );
        self.rebalance();
        true
    }

    /// Marks whether `member` has a poll waiting (it is not timed out while it has).
    pub(crate) fn polling(&mut self, member: &MemberId, polling: bool, now: Instant) {
        if let Some(known) = self.members.members.get_mut(member) {
            known.polling = polling;
            known.last_seen = now;
        }
    }

    pub(crate) fn member_count(&self) -> usize {
        self.members.members.len()
    }

    pub(crate) fn is_member(&self, member: &MemberId) -> bool {
        self.members.members.contains_key(member)
    }

    /// `member` leaves: its deliveries in flight go back at once, first in their keys, and its
    /// keys go to the others. Returns whether it was a member.
    pub(crate) fn leave(&mut self, member: &MemberId) -> bool {
        let Some(mut gone) = self.members.members.remove(member) else {
            return false;
        };
        self.members.unowned.append(&mut gone.ready);
        let ids: Vec<_> = self
            .leases
            .iter()
            .filter(|(_, lease)| lease.member == *member)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let lease = self.leases.remove(&id).expect("listed above");
            self.deadlines.remove(&(lease.deadline, id));
            if let Some(entry) = self.entry_mut(lease.origin, lease.position) {
                entry.state = EntryState::Ready;
                // Placed by the rebalance below.
                self.members.unowned.insert((lease.origin, lease.position));
            }
        }
        self.rebalance();
        true
    }

    /// Members that stopped polling longer than the timeout ago, as of `now`.
    pub(crate) fn timed_out(&self, now: Instant) -> Vec<MemberId> {
        let timeout = self.config.member_timeout();
        self.members
            .members
            .iter()
            .filter(|(_, m)| {
                m.kind == MemberKind::Poll && !m.polling && m.last_seen + timeout <= now
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Places every ready entry in its owner's set, after the members changed.
    fn rebalance(&mut self) {
        let mut ready = std::mem::take(&mut self.members.unowned);
        for member in self.members.members.values_mut() {
            ready.append(&mut member.ready);
        }
        for (origin, position) in ready {
            let key = match origin {
                Origin::Live => self.live.get(&position),
                Origin::Replay => self.replays.get(&position),
            }
            .map(|entry| Arc::clone(&entry.key));
            if let Some(key) = key {
                self.members.add_ready(&key, origin, position);
            }
        }
    }

    /// Up to `max` deliveries for `member`, within its room for more in flight. None while the
    /// group is stopped.
    pub(crate) fn take(&mut self, member: &MemberId, max: usize, now: Instant) -> Vec<Delivery> {
        if self.stopped.is_some() {
            return Vec::new();
        }
        let limit = self.config.max_in_flight;
        let deadline = now + self.config.ack_timeout();
        let Some(known) = self.members.members.get_mut(member) else {
            return Vec::new();
        };
        let room = limit.saturating_sub(known.in_flight) as usize;
        let mut taken = Vec::new();
        while taken.len() < max.min(room) {
            let Some(next) = known.ready.pop_first() else {
                break;
            };
            taken.push(next);
        }
        known.in_flight += taken.len() as u32;
        let mut deliveries = Vec::with_capacity(taken.len());
        for (origin, position) in taken {
            let id = self.next_id();
            let entry = self
                .entry_mut(origin, position)
                .expect("a ready entry is in the window");
            entry.state = EntryState::Leased(id);
            entry.attempts += 1;
            deliveries.push(Delivery {
                id,
                attempt: entry.attempts,
                key: Arc::clone(&entry.key),
                replayed: origin == Origin::Replay,
                event: Arc::clone(&entry.event),
            });
            self.leases.insert(
                id,
                Lease {
                    origin,
                    position,
                    member: member.clone(),
                    deadline,
                },
            );
            self.deadlines.insert((deadline, id));
        }
        self.counts.delivered += deliveries.len() as u64;
        deliveries
    }

    /// A lease ended (settled, ran out, or went back): its member has room for one more.
    pub(super) fn lease_ended(&mut self, member: &MemberId) {
        if let Some(known) = self.members.members.get_mut(member) {
            known.in_flight = known.in_flight.saturating_sub(1);
        }
    }

    /// Whether `member` could be given a delivery now.
    pub(crate) fn has_ready_for(&self, member: &MemberId) -> bool {
        self.stopped.is_none()
            && self
                .members
                .members
                .get(member)
                .is_some_and(|m| !m.ready.is_empty() && m.in_flight < self.config.max_in_flight)
    }

    pub(crate) fn member_statuses(&self) -> Vec<MemberStatus> {
        self.members
            .members
            .iter()
            .map(|(id, m)| MemberStatus {
                member: id.clone(),
                kind: match m.kind {
                    MemberKind::Poll => "poll",
                    MemberKind::Stream => "stream",
                },
                in_flight: m.in_flight,
                ready: m.ready.len(),
            })
            .collect()
    }

    pub(crate) fn member_kind(&self, member: &MemberId) -> Option<MemberKind> {
        self.members.members.get(member).map(|m| m.kind)
    }
}
