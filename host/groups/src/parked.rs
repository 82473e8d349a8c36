//! The parked ledger: events given up on, kept by partition key inside a read model, so that a
//! key's later events wait behind its parked ones and a retry takes them in log order. One
//! layout and one set of writes for every consumer of the log that parks: a group keeps it in
//! its `{group}#group` model (`rows.rs`), a reactor in its own model beside its state, so that
//! a park commits with the checkpoint that passes the event.
//!
//! | key | value |
//! |---|---|
//! | `p` + position (8 bytes, big-endian) | a [`ParkedEntry`], as JSON |
//! | `k` + the key's length (2 bytes) + the key + position | empty: the `p` rows of one key, in log order |
//!
//! Invariants, kept by every writer through [`park`], [`repark`] and [`let_go`]:
//! 1. A `p` row and its `k` row are written together and deleted together. Rows are keyed by
//!    position, so an event is parked at most once, and a key's `k` rows list its parked
//!    events in log order.
//! 2. While a key has a `k` row, its later events are not handled: each is parked behind
//!    ([`ParkReason::Behind`]) in the write that passes it. A retry takes a key's parked events
//!    from its first ([`first_of_key`]), in order, and stops at the first that fails again. So
//!    a key's events are handled in log order, whatever was parked.
//!
//! Readers page ([`page`], [`positions_of_key`]); nothing here loads a ledger whole.

use cairn_store::{ModelRead, ModelWrite, StorageError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The table byte of `p` rows.
pub const PARKED: u8 = b'p';
/// The table byte of `k` rows.
pub const BY_KEY: u8 = b'k';

/// Why an event was parked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParkReason {
    /// A member nacked it with `park`.
    Nacked,
    /// Its retries ran out under the `park` policy.
    Exhausted,
    /// An earlier event of its key is parked, and it waits behind it (invariant 2).
    Behind,
}

/// What a group keeps with a parked event: whether a replay has released it (its `r` row,
/// read beside the `p` row).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Released {
    #[serde(default)]
    pub released: bool,
}

/// A parked event, as its `p` row keeps it and a listing shows it. `Held` is what its owner
/// keeps with it to try it again, flattened into the row: [`Released`] for a group, the
/// intents it could not execute for a reactor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParkedEntry<Held = Released> {
    pub position: u64,
    pub event_id: String,
    pub stream: String,
    pub event_type: String,
    /// The partition key it is ordered by.
    pub key: String,
    pub reason: ParkReason,
    /// How many times it was tried.
    pub attempts: u32,
    /// Why its last try failed (or the lease that ran out), if it was tried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it was first parked, in ms since the Unix epoch.
    pub first_parked_at: u64,
    /// When it was last parked.
    pub parked_at: u64,
    #[serde(flatten)]
    pub held: Held,
}

impl<Held: Default> ParkedEntry<Held> {
    /// `event`, parked under `key` at `now_ms` for `reason`, after `attempts` tries.
    pub fn new(
        event: &cairn_store::RecordedEvent,
        key: &str,
        reason: ParkReason,
        attempts: u32,
        last_error: Option<String>,
        now_ms: u64,
    ) -> Self {
        Self {
            position: event.position.get(),
            event_id: event.id.to_string(),
            stream: event.stream.to_string(),
            event_type: event.event_type.to_string(),
            key: key.to_owned(),
            reason,
            attempts,
            last_error,
            first_parked_at: now_ms,
            parked_at: now_ms,
            held: Held::default(),
        }
    }
}

/// The key of a `p` row.
pub fn row_key(position: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(9);
    key.push(PARKED);
    key.extend_from_slice(&position.to_be_bytes());
    key
}

/// The position in a row's key that is a table byte and a position (`p`, a group's `r`).
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

fn corrupt(what: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(format!("a parked event's row does not read: {what}"))
}

fn row<Held: Serialize>(entry: &ParkedEntry<Held>) -> ModelWrite {
    ModelWrite::Put {
        key: row_key(entry.position),
        value: serde_json::to_vec(entry).expect("a parked entry serialises"),
    }
}

/// The writes that park `entry`: its `p` row and its `k` row (invariant 1).
pub fn park<Held: Serialize>(entry: &ParkedEntry<Held>) -> [ModelWrite; 2] {
    [
        row(entry),
        ModelWrite::Put {
            key: by_key(&entry.key, entry.position),
            value: Vec::new(),
        },
    ]
}

/// The write that keeps what a parked event's new try gave (its `k` row stands).
pub fn repark<Held: Serialize>(entry: &ParkedEntry<Held>) -> ModelWrite {
    row(entry)
}

/// The writes that let the event parked at `position` under `key` go (invariant 1).
pub fn let_go(key: &str, position: u64) -> [ModelWrite; 2] {
    [
        ModelWrite::Delete {
            key: row_key(position),
        },
        ModelWrite::Delete {
            key: by_key(key, position),
        },
    ]
}

/// The event parked at `position`, if one is.
pub fn entry<Held: DeserializeOwned>(
    view: &dyn ModelRead,
    position: u64,
) -> Result<Option<ParkedEntry<Held>>, StorageError> {
    view.get(&row_key(position))?
        .map(|bytes| serde_json::from_slice(&bytes).map_err(corrupt))
        .transpose()
}

/// Up to `limit` parked events after position `after`, in log order.
pub fn page<Held: DeserializeOwned>(
    view: &dyn ModelRead,
    after: u64,
    limit: usize,
) -> Result<Vec<ParkedEntry<Held>>, StorageError> {
    view.scan(&[PARKED], Some(&row_key(after)), limit)?
        .into_iter()
        .map(|(_, value)| serde_json::from_slice(&value).map_err(corrupt))
        .collect()
}

/// The positions of `key`'s parked events after `after`, in log order, up to `limit`.
pub fn positions_of_key(
    view: &dyn ModelRead,
    key: &str,
    after: Option<u64>,
    limit: usize,
) -> Result<Vec<u64>, StorageError> {
    let start = after.map(|position| by_key(key, position));
    view.scan(&by_key_prefix(key), start.as_deref(), limit)?
        .iter()
        .map(|(k, _)| {
            split_by_key(k)
                .map(|(_, position)| position)
                .ok_or_else(|| corrupt("a k row's key"))
        })
        .collect()
}

/// The position of `key`'s first parked event, the one a retry of the key starts at.
pub fn first_of_key(view: &dyn ModelRead, key: &str) -> Result<Option<u64>, StorageError> {
    Ok(positions_of_key(view, key, None, 1)?.first().copied())
}

/// How many events are parked, counted a page at a time.
pub fn count(view: &dyn ModelRead) -> Result<u64, StorageError> {
    const PAGE: usize = 10_000;
    let mut counted = 0u64;
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = view.scan(&[BY_KEY], after.as_deref(), PAGE)?;
        counted += page.len() as u64;
        match page.last() {
            Some((key, _)) if page.len() == PAGE => after = Some(key.clone()),
            _ => return Ok(counted),
        }
    }
}

#[cfg(test)]
mod tests {
    use cairn_store::ModelRows;

    use super::*;

    fn parked(key: &str, position: u64, reason: ParkReason) -> ParkedEntry {
        ParkedEntry {
            position,
            event_id: format!("id-{position}"),
            stream: key.to_owned(),
            event_type: "Happened".into(),
            key: key.to_owned(),
            reason,
            attempts: 1,
            last_error: None,
            first_parked_at: 1,
            parked_at: 1,
            held: Released::default(),
        }
    }

    #[test]
    fn row_keys_read_back() {
        assert_eq!(position_of(&row_key(77)), Some(77));
        let key = by_key("account-1", 9);
        assert!(key.starts_with(&by_key_prefix("account-1")));
        assert_eq!(split_by_key(&key), Some(("account-1".to_owned(), 9)));
        // A key that is a prefix of another has its own rows.
        assert!(!by_key("account-12", 1).starts_with(&by_key_prefix("account-1")));
        // Positions sort as numbers.
        assert!(row_key(255) < row_key(256));
        assert!(by_key("k", 255) < by_key("k", 256));
    }

    #[test]
    fn a_keys_rows_come_and_go_together_and_its_first_is_where_a_retry_starts() {
        let mut model = ModelRows::default();
        model.apply(park(&parked("a-1", 3, ParkReason::Exhausted)));
        model.apply(park(&parked("b-1", 4, ParkReason::Nacked)));
        model.apply(park(&parked("a-1", 7, ParkReason::Behind)));
        assert_eq!(count(&model).expect("counts"), 3);
        assert_eq!(first_of_key(&model, "a-1").expect("reads"), Some(3));
        assert_eq!(
            positions_of_key(&model, "a-1", None, 10).expect("reads"),
            [3, 7]
        );
        let listed: Vec<u64> = page::<Released>(&model, 3, 10)
            .expect("reads")
            .iter()
            .map(|e| e.position)
            .collect();
        assert_eq!(listed, [4, 7], "a page starts after its cursor");

        // A new try that fails again keeps its row, with what it gave.
        let mut again = parked("a-1", 3, ParkReason::Exhausted);
        again.attempts = 2;
        model.apply([repark(&again)]);
        assert_eq!(
            entry::<Released>(&model, 3).expect("reads"),
            Some(again),
            "kept"
        );

        for (key, position) in [("a-1", 3), ("a-1", 7), ("b-1", 4)] {
            model.apply(let_go(key, position));
        }
        assert!(model.0.is_empty(), "no row is left: {:?}", model.0.keys());
        assert_eq!(first_of_key(&model, "a-1").expect("reads"), None);
    }

    #[test]
    fn what_an_owner_holds_is_kept_beside_the_common_fields() {
        #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
        struct Intents {
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            intents: Vec<String>,
        }
        let mut entry = ParkedEntry::<Intents> {
            held: Intents {
                intents: vec!["debit".into()],
            },
            ..serde_json::from_value(serde_json::json!({
                "position": 5, "event_id": "e", "stream": "s-1", "event_type": "T",
                "key": "s-1", "reason": "exhausted", "attempts": 4,
                "first_parked_at": 1, "parked_at": 2
            }))
            .expect("reads without what is held")
        };
        let json = serde_json::to_value(&entry).expect("writes");
        assert_eq!(json["intents"], serde_json::json!(["debit"]));
        assert_eq!(json["reason"], "exhausted");
        let back: ParkedEntry<Intents> = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, entry);
        entry.held.intents.clear();
        let json = serde_json::to_value(&entry).expect("writes");
        assert!(json.get("intents").is_none());
    }
}
