//! The group's read model, `{group}#group`, which holds everything the store keeps for a group,
//! so that one commit moves its checkpoint and its bookkeeping together.
//!
//! | key | value |
//! |---|---|
//! | `g` | the [`GroupConfig`], as JSON |
//! | `a` | the events above the checkpoint that were acknowledged or skipped: their positions, each as a LEB128 varint of its distance from the one before (the first from the checkpoint) |
//! | `p` + position (8 bytes, big-endian) | a [`ParkedEntry`], as JSON |
//! | `k` + the key's length (2 bytes) + the key + position | empty: the `p` rows of one key, in log order |
//! | `r` + position | empty: a parked event released for replay |
//! | `s` | the [`Stopped`] of a group stopped by a `stop`, as JSON |
//!
//! The model's checkpoint is the group's: the position before its lowest unacknowledged event.
//!
//! Invariants, kept by the group's task (`task.rs`, deciding in `dispatch/`):
//! 1. Every event at or before the checkpoint that the filter takes is acknowledged, skipped or
//!    parked (it has a `p` row). The checkpoint never passes an event that is none of these,
//!    so no event is skipped by a restart.
//! 2. The `a` row names only positions above the checkpoint; each commit that moves the
//!    checkpoint or settles more writes it whole (or deletes it when it names none). One row
//!    rather than one per event: members acknowledge out of log order, and a row per event
//!    cost the store a write and a delete for most of them. After a restart the task reads on
//!    from the checkpoint and passes over the positions the `a` row names and those with a
//!    `p` row, so only deliveries whose acknowledgement was not yet committed are made again.
//! 3. A `p` row and its `k` row are written together and deleted together. Rows are keyed by
//!    position, so an event is parked at most once.
//! 4. While a key has a `k` row, its later events are not delivered: each is parked behind
//!    ([`ParkReason::Behind`]) in the write that settles it. So a key's events reach members in
//!    log order, whatever was parked.
//! 5. An `r` row is only beside its `p` row. A replay delivers a key's released events one at
//!    a time from its first `k` row; when one is parked again, the `r` rows of the rest of its
//!    key are deleted in the same write, so the replay of that key stops there.
//! 6. While the `s` row exists nothing is delivered; a resume deletes it.

use serde::{Deserialize, Serialize};

use crate::config::GroupConfig;

pub(crate) const CONFIG: &[u8] = b"g";
pub(crate) const ACKED: &[u8] = b"a";
pub(crate) const PARKED: u8 = b'p';
pub(crate) const BY_KEY: u8 = b'k';
pub(crate) const RELEASED: u8 = b'r';
pub(crate) const STOPPED: &[u8] = b"s";

/// The `a` row naming `acked`, positions all above `checkpoint`, in order.
pub(crate) fn acked_row(checkpoint: u64, acked: &std::collections::BTreeSet<u64>) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(acked.len() * 2);
    let mut before = checkpoint;
    for &position in acked {
        debug_assert!(position > before, "above the checkpoint, in order");
        let mut gap = position - before;
        loop {
            let low = (gap & 0x7f) as u8;
            gap >>= 7;
            if gap == 0 {
                bytes.push(low);
                break;
            }
            bytes.push(low | 0x80);
        }
        before = position;
    }
    bytes
}

/// The positions an `a` row names, read against `checkpoint`; `None` if it does not decode.
pub(crate) fn read_acked_row(
    checkpoint: u64,
    bytes: &[u8],
) -> Option<std::collections::BTreeSet<u64>> {
    let mut acked = std::collections::BTreeSet::new();
    let (mut before, mut gap, mut shift) = (checkpoint, 0u64, 0u32);
    for &byte in bytes {
        gap |= u64::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            before = before.checked_add(gap).filter(|_| gap > 0)?;
            acked.insert(before);
            (gap, shift) = (0, 0);
        } else {
            shift += 7;
            if shift > 63 {
                return None;
            }
        }
    }
    (shift == 0).then_some(acked)
}

/// The key of a `p` or `r` row.
pub(crate) fn at(table: u8, position: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(9);
    key.push(table);
    key.extend_from_slice(&position.to_be_bytes());
    key
}

/// The position in a `p` or `r` row's key.
pub(crate) fn position_of(key: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = key.get(1..9)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

/// The prefix of one key's `k` rows.
pub(crate) fn by_key_prefix(partition_key: &str) -> Vec<u8> {
    let bytes = partition_key.as_bytes();
    let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
    let mut key = Vec::with_capacity(3 + bytes.len() + 8);
    key.push(BY_KEY);
    key.extend_from_slice(&len.to_be_bytes());
    key.extend_from_slice(&bytes[..usize::from(len)]);
    key
}

/// The `k` row of `position` under `partition_key`.
pub(crate) fn by_key(partition_key: &str, position: u64) -> Vec<u8> {
    let mut key = by_key_prefix(partition_key);
    key.extend_from_slice(&position.to_be_bytes());
    key
}

/// The partition key and position a `k` row's key holds.
pub(crate) fn split_by_key(key: &[u8]) -> Option<(String, u64)> {
    let len = usize::from(u16::from_be_bytes(key.get(1..3)?.try_into().ok()?));
    let partition_key = std::str::from_utf8(key.get(3..3 + len)?).ok()?.to_owned();
    let position = u64::from_be_bytes(key.get(3 + len..3 + len + 8)?.try_into().ok()?);
    Some((partition_key, position))
}

/// Why an event was parked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParkReason {
    /// A member nacked it with `park`.
    Nacked,
    /// Its retries ran out under the `park` policy.
    Exhausted,
    /// An earlier event of its key is parked, and it waits behind it (invariant 4).
    Behind,
}

/// A parked event, as its `p` row keeps it and `GET .../parked` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParkedEntry {
    pub position: u64,
    pub event_id: String,
    pub stream: String,
    pub event_type: String,
    /// The partition key it was delivered under.
    pub key: String,
    pub reason: ParkReason,
    /// How many times it was delivered.
    pub attempts: u32,
    /// The last error a member gave (or the lease that ran out), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it was first parked, in ms since the Unix epoch.
    pub first_parked_at: u64,
    /// When it was last parked.
    pub parked_at: u64,
    /// Whether a replay has released it (an `r` row).
    #[serde(default)]
    pub released: bool,
}

/// Where and why a member stopped the group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stopped {
    pub position: u64,
    pub reason: String,
    pub at: u64,
}

/// `config` as its `g` row.
pub(crate) fn config_row(config: &GroupConfig) -> Vec<u8> {
    serde_json::to_vec(config).expect("a config serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_keys_read_back() {
        assert_eq!(position_of(&at(PARKED, 77)), Some(77));
        let key = by_key("account-1", 9);
        assert!(key.starts_with(&by_key_prefix("account-1")));
        assert_eq!(split_by_key(&key), Some(("account-1".to_owned(), 9)));
        // A key that is a prefix of another has its own rows.
        assert!(!by_key("account-12", 1).starts_with(&by_key_prefix("account-1")));
    }

    #[test]
    fn the_acked_row_reads_back_as_written() {
        let acked: std::collections::BTreeSet<u64> = [11, 12, 300, 70_000, 1 << 40].into();
        let row = acked_row(10, &acked);
        assert_eq!(read_acked_row(10, &row), Some(acked));
        assert!(acked_row(10, &Default::default()).is_empty());
        // Cut short, or with a zero gap: refused.
        assert_eq!(read_acked_row(10, &row[..row.len() - 1]), None);
        assert_eq!(read_acked_row(10, &[0]), None);
    }

    #[test]
    fn positions_sort_as_numbers() {
        assert!(at(PARKED, 255) < at(PARKED, 256));
        assert!(by_key("k", 255) < by_key("k", 256));
    }
}
