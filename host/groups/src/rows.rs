//! The group's read model, `{group}#group`, which holds everything the store keeps for a group,
//! so that one commit moves its checkpoint and its bookkeeping together.
//!
//! | key | value |
//! |---|---|
//! | `g` | the [`GroupConfig`], as JSON |
//! | `a` | the events above the checkpoint that were acknowledged or skipped: their positions, each as a LEB128 varint of its distance from the one before (the first from the checkpoint) |
//! | `p` + position (8 bytes, big-endian) | a [`ParkedEntry`](crate::ParkedEntry), as JSON (the parked ledger, `parked.rs`) |
//! | `k` + the key's length (2 bytes) + the key + position | empty: the `p` rows of one key, in log order (`parked.rs`) |
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
//! 3. The `p` and `k` rows keep the parked ledger's invariants (`parked.rs`): written and
//!    deleted together, one per event.
//! 4. While a key has a `k` row, its later events are not delivered: each is parked behind
//!    ([`ParkReason::Behind`](crate::ParkReason::Behind)) in the write that settles it. So a
//!    key's events reach members in log order, whatever was parked.
//! 5. An `r` row is only beside its `p` row. A replay delivers a key's released events one at
//!    a time from its first `k` row; when one is parked again, the `r` rows of the rest of its
//!    key are deleted in the same write, so the replay of that key stops there.
//! 6. While the `s` row exists nothing is delivered; a resume deletes it.

use serde::{Deserialize, Serialize};

use crate::config::GroupConfig;

pub(crate) const CONFIG: &[u8] = b"g";
pub(crate) const ACKED: &[u8] = b"a";
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

/// The key of an `r` row.
pub(crate) fn released(position: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(9);
    key.push(RELEASED);
    key.extend_from_slice(&position.to_be_bytes());
    key
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
    fn the_acked_row_reads_back_as_written() {
        let acked: std::collections::BTreeSet<u64> = [11, 12, 300, 70_000, 1 << 40].into();
        let row = acked_row(10, &acked);
        assert_eq!(read_acked_row(10, &row), Some(acked));
        assert!(acked_row(10, &Default::default()).is_empty());
        // Cut short, or with a zero gap: refused.
        assert_eq!(read_acked_row(10, &row[..row.len() - 1]), None);
        assert_eq!(read_acked_row(10, &[0]), None);
    }
}
