//! A reactor's parked events as ledgers kept them before reactors parked through the shared
//! parked ledger ([`cairn_groups::parked`]): a `p` row keyed by position and the event's id
//! (25 bytes), with the step it failed at, and a `w` row counting each stream's. The task moves
//! them over when it starts, in one amendment, before it reacts to anything; a ledger with none
//! is left as it is.

use cairn_groups::{ParkReason, parked};
use cairn_store::{ModelEntry, ModelRead, ModelWrite, StorageError};
use serde::Deserialize;

use crate::reactors::intent::IssuedIntent;
use crate::reactors::ledger::{HeldIntents, ParkedEvent};

/// The length of an old `p` row's key: `p`, the position, the event's id.
const OLD_PARKED_KEY: usize = 1 + 8 + 16;
const OLD_WAITING: u8 = b'w';
const PAGE: usize = 1_000;

/// An old `p` row.
#[derive(Deserialize)]
struct OldParked {
    position: u64,
    event_id: String,
    #[serde(default)]
    stream: String,
    event_type: String,
    #[serde(flatten)]
    step: OldStep,
    attempts: u32,
    last_error: String,
    parked_at: u64,
}

#[derive(Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
enum OldStep {
    React,
    Intents { intents: Vec<IssuedIntent> },
    Behind,
}

impl From<OldParked> for ParkedEvent {
    fn from(old: OldParked) -> Self {
        // A row older still named no stream: its event is a chain alone, under its own id.
        let key = if old.stream.is_empty() {
            old.event_id.clone()
        } else {
            old.stream.clone()
        };
        let (reason, intents, last_error) = match old.step {
            OldStep::Behind => (ParkReason::Behind, Vec::new(), None),
            OldStep::React => (ParkReason::Exhausted, Vec::new(), Some(old.last_error)),
            OldStep::Intents { intents } => (ParkReason::Exhausted, intents, Some(old.last_error)),
        };
        ParkedEvent {
            position: old.position,
            event_id: old.event_id,
            stream: old.stream,
            event_type: old.event_type,
            key,
            reason,
            attempts: old.attempts,
            last_error,
            first_parked_at: old.parked_at,
            parked_at: old.parked_at,
            held: HeldIntents { intents },
        }
    }
}

/// Every row with `prefix`, as stored.
fn all(view: &dyn ModelRead, prefix: &[u8]) -> Result<Vec<ModelEntry>, StorageError> {
    let mut rows = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = view.scan(prefix, after.as_deref(), PAGE)?;
        let full = page.len() == PAGE;
        after = page.last().map(|(key, _)| key.clone());
        rows.extend(page);
        if !full {
            return Ok(rows);
        }
    }
}

/// The writes that move `view`'s old rows to the shared ledger: each old `p` row deleted and
/// parked anew (its `p` and `k` rows), and every `w` row deleted. Empty when there are none.
pub(crate) fn move_over(view: &dyn ModelRead) -> Result<Vec<ModelWrite>, StorageError> {
    let mut writes = Vec::new();
    for (key, value) in all(view, &[parked::PARKED])? {
        if key.len() != OLD_PARKED_KEY {
            continue;
        }
        let old: OldParked = serde_json::from_slice(&value).map_err(|e| {
            StorageError::Corrupt(format!("a reactor's old parked row does not read: {e}"))
        })?;
        writes.push(ModelWrite::Delete { key });
        writes.extend(parked::park(&ParkedEvent::from(old)));
    }
    for (key, _) in all(view, &[OLD_WAITING])? {
        writes.push(ModelWrite::Delete { key });
    }
    Ok(writes)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use cairn_store::ModelRows;

    fn old_key(position: u64) -> Vec<u8> {
        let mut key = vec![b'p'];
        key.extend_from_slice(&position.to_be_bytes());
        key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        key
    }

    #[test]
    fn old_rows_move_to_the_shared_ledger_in_their_streams_order() {
        let intent = serde_json::json!({
            "intent": {"module": "bank", "id": "b", "command_type": "Deposit", "data": "{}"},
            "event_id": "e5", "position": 5, "stream": "a-1", "index": 0,
            "correlation_id": "c", "key": "reactor:e5:0"
        });
        let rows = [
            (
                3,
                serde_json::json!({"position": 3, "event_id": "e3", "stream": "a-1", "event_type": "T",
                "step": "react", "attempts": 4, "last_error": "trap", "parked_at": 10}),
            ),
            (
                5,
                serde_json::json!({"position": 5, "event_id": "e5", "stream": "a-1", "event_type": "",
                "step": "intents", "intents": [intent], "attempts": 4, "last_error": "down", "parked_at": 11}),
            ),
            (
                7,
                serde_json::json!({"position": 7, "event_id": "e7", "stream": "a-1", "event_type": "T",
                "step": "behind", "attempts": 0, "last_error": "waits", "parked_at": 12}),
            ),
            (
                8,
                serde_json::json!({"position": 8, "event_id": "e8", "event_type": "T",
                "step": "react", "attempts": 1, "last_error": "trap", "parked_at": 13}),
            ),
        ];
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = rows
            .iter()
            .map(|(position, json)| (old_key(*position), json.to_string().into_bytes()))
            .collect();
        model.insert(b"wa-1".to_vec(), b"3".to_vec());
        model.insert(b"sstate".to_vec(), b"kept".to_vec());
        let mut model = ModelRows(model);

        model.apply(move_over(&model).expect("reads"));

        assert_eq!(parked::count(&model).expect("counts"), 4);
        assert_eq!(
            parked::positions_of_key(&model, "a-1", None, 10).expect("reads"),
            [3, 5, 7]
        );
        assert_eq!(parked::first_of_key(&model, "e8").expect("reads"), Some(8));
        let moved: Vec<ParkedEvent> = parked::page(&model, 0, 10).expect("reads");
        let seen: Vec<(u64, ParkReason, usize, Option<&str>)> = moved
            .iter()
            .map(|p| {
                (
                    p.position,
                    p.reason,
                    p.held.intents.len(),
                    p.last_error.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (3, ParkReason::Exhausted, 0, Some("trap")),
                (5, ParkReason::Exhausted, 1, Some("down")),
                (7, ParkReason::Behind, 0, None),
                (8, ParkReason::Exhausted, 0, Some("trap")),
            ]
        );
        assert!(!model.0.contains_key(b"wa-1".as_slice()), "the counts go");
        assert_eq!(
            model.0.get(b"sstate".as_slice()),
            Some(&b"kept".to_vec()),
            "the state stays"
        );
        assert!(
            move_over(&model).expect("reads").is_empty(),
            "nothing is left to move"
        );
    }
}
