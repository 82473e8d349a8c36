//! The reactor's read model, which holds everything the host keeps for a reactor, so that one
//! commit can move all of it together: its state, its checkpoint, and its ledger of intents.
//!
//! | key | value |
//! |---|---|
//! | `s` + the module's key | the module's value (its `kv` table) |
//! | `i` + position (8 bytes, big-endian) + index (4 bytes) | an [`IssuedIntent`] not yet executed, as JSON |
//! | `o` + position + index | a [`RecordedOutcome`] not yet appended to the reactor's stream, as JSON |
//! | `p` + position (8 bytes, big-endian) | a [`ParkedEvent`], as JSON: the parked ledger of [`cairn_groups::parked`], keyed by stream |
//! | `k` + the stream's length (2 bytes) + the stream + position | empty: one stream's `p` rows, in log order (the same ledger) |
//! | `r` + the intent's key | the [`RecordedOutcome`] of an intent that appended nothing, kept |
//! | `n` | intents issued and events skipped ([`Counts`]), written by the commits of reactions |
//! | `x` | intents executed, written by the amendments that record outcomes |
//! | `f` | the [`KeptFault`] of a reactor stopped under `on_failure = "stop"` |
//!
//! Invariants, kept by the runner (`runner/`):
//! 1. The `s` rows and the checkpoint are the fold of `react` over the subscribed events up to
//!    the checkpoint, but for the events parked or skipped; the `i` rows an event's reaction
//!    gave are written in the commit that moves the checkpoint past it.
//! 2. An `i` row is deleted only in the amendment that records its outcome: nothing (the
//!    command appended, or was recognised by its key), or an `o` row. An `o` row is deleted
//!    only after its event is in the reactor's stream. So after a crash every intent whose
//!    outcome was not recorded is still an `i` row, and executing it again is safe by its key.
//! 3. A `p` row is written with the checkpoint that moves past its event (or, for an event
//!    whose intents failed for the host, with the deletion of those `i` rows, which it then
//!    holds, all of that event's in one row), and with its `k` row; it is deleted with what its
//!    retry recorded, or when discarded, each time with the `k` row (the parked ledger's
//!    invariant 1). A retry that fails again writes it anew, with the attempt and its error.
//! 4. An `r` row is written with the `o` row of an intent that appended nothing (a rejection,
//!    a failure), and kept, across resets too: an intent issued again under its key is not
//!    executed again (a command that appended is answered by its key in the aggregate's
//!    stream; one that did not leaves no key there, so its `r` row answers for it).
//! 5. `n` is written only by the commits (and amendments) of reactions, and `x` only by the
//!    amendments that record outcomes, so the two, which the runner writes at once, never
//!    overwrite each other's counts.
//! 6. An `f` row is written when the reactor stops at a failure, and deleted when a later
//!    version starts; a task of the version that wrote it does not run. A reset drops it with
//!    the model.
//! 7. While a stream has a `k` row, its later events are not reacted to: each is parked behind
//!    ([`ParkReason::Behind`](cairn_groups::ParkReason::Behind)) in the commit that moves the
//!    checkpoint past it. A retry takes a stream's parked events from its first, in order, and
//!    stops at the first that fails again (the parked ledger's invariant 2). So one stream's
//!    events are reacted to in their order, whatever was parked.
//!
//! A ledger written before reactors parked through the shared ledger kept its `p` rows under
//! the event's id too, and counted each stream's in a `w` row; `runner/legacy_rows.rs` moves
//! them over when the reactor's task starts.

use std::sync::{Arc, Mutex, PoisonError};

use cairn_store::{ModelEntry, ModelRead, ModelWrite, Position, StorageError};
use serde::{Deserialize, Serialize};

use crate::projections::model_overlay::{self, Overlay};
use crate::reactors::intent::{IssuedIntent, RecordedOutcome};

pub(crate) const STATE: u8 = b's';
pub(crate) const ISSUED: u8 = b'i';
pub(crate) const OUTCOME: u8 = b'o';
pub(crate) const RECORDED: u8 = b'r';
pub(crate) const COUNTS: &[u8] = b"n";
pub(crate) const EXECUTED: &[u8] = b"x";
pub(crate) const FAULT: &[u8] = b"f";

/// Where and why a reactor stopped, and which version stopped there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KeptFault {
    pub version: u64,
    pub position: u64,
    pub error: String,
}

/// The key of an `i` or `o` row.
pub(crate) fn intent_key(table: u8, position: u64, index: u32) -> Vec<u8> {
    let mut key = Vec::with_capacity(13);
    key.push(table);
    key.extend_from_slice(&position.to_be_bytes());
    key.extend_from_slice(&index.to_be_bytes());
    key
}

/// What a reactor keeps with a parked event: the intents of it that the host could not
/// execute, which a retry executes again under the same keys. None when `react` failed on the
/// event, or it waits behind another of its stream: a retry then reacts to it again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldIntents {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intents: Vec<IssuedIntent>,
}

/// An event a reactor gave up on, in the parked ledger shared with consumer groups, keyed by
/// its stream.
pub type ParkedEvent = cairn_groups::ParkedEntry<HeldIntents>;

/// What a reactor has done since it was first run (or reset): kept with its state, so a
/// restart goes on counting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Counts {
    /// Intents its reactions gave.
    pub issued: u64,
    /// Intents whose command was executed (appended, recognised, rejected or failed).
    #[serde(skip)]
    pub executed: u64,
    /// Events skipped under the `skip` policy.
    pub skipped: u64,
}

/// A row of the ledger as JSON.
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// A row of the ledger read back; damage is the store's to report.
pub(crate) fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, StorageError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StorageError::Corrupt(format!("a reactor's ledger row does not read: {e}")))
}

/// Every row of one table (`i` or `o`), decoded, in key order.
pub(crate) fn rows<T: for<'de> Deserialize<'de>>(
    view: &dyn ModelRead,
    table: u8,
) -> Result<Vec<(Vec<u8>, T)>, StorageError> {
    entries(view, table)?
        .into_iter()
        .map(|(key, value)| Ok((key, decode(&value)?)))
        .collect()
}

/// Every row of one table, as stored, in key order.
pub(crate) fn entries(view: &dyn ModelRead, table: u8) -> Result<Vec<ModelEntry>, StorageError> {
    let mut entries = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = view.scan(&[table], after.as_deref(), 1_000)?;
        let full = page.len() == 1_000;
        after = page.last().map(|(key, _)| key.clone());
        entries.extend(page);
        if !full {
            return Ok(entries);
        }
    }
}

/// The counts kept in `view` (invariant 5).
pub(crate) fn counts(view: &dyn ModelRead) -> Result<Counts, StorageError> {
    let mut counts: Counts = match view.get(COUNTS)? {
        Some(bytes) => decode(&bytes)?,
        None => Counts::default(),
    };
    if let Some(bytes) = view.get(EXECUTED)? {
        counts.executed = decode(&bytes)?;
    }
    Ok(counts)
}

/// The write of the counts of reactions (`n`).
pub(crate) fn reacted_counts(counts: &Counts) -> ModelWrite {
    ModelWrite::Put {
        key: COUNTS.to_vec(),
        value: encode(counts),
    }
}

/// The write of the count of intents executed (`x`).
pub(crate) fn executed_count(counts: &Counts) -> ModelWrite {
    ModelWrite::Put {
        key: EXECUTED.to_vec(),
        value: encode(&counts.executed),
    }
}

/// The key of the `r` row of the intent keyed `key`.
pub(crate) fn recorded_key(key: &str) -> Vec<u8> {
    let mut row = vec![RECORDED];
    row.extend_from_slice(key.as_bytes());
    row
}

/// The writes that put `issued` in the ledger as not yet executed.
pub(crate) fn issue(issued: &IssuedIntent) -> ModelWrite {
    ModelWrite::Put {
        key: intent_key(ISSUED, issued.position, issued.index),
        value: encode(issued),
    }
}

/// The writes that record `outcome` for its intent (invariants 2 and 4).
pub(crate) fn record_outcome(outcome: &RecordedOutcome) -> [ModelWrite; 3] {
    let (position, index) = (outcome.issued.position, outcome.issued.index);
    let value = encode(outcome);
    [
        ModelWrite::Delete {
            key: intent_key(ISSUED, position, index),
        },
        ModelWrite::Put {
            key: intent_key(OUTCOME, position, index),
            value: value.clone(),
        },
        ModelWrite::Put {
            key: recorded_key(&outcome.issued.key),
            value,
        },
    ]
}

/// The module's state as it sees it during one event of a batch: the committed state under the
/// `s` rows, with the writes of the batch's earlier events laid over it. Keys are the module's
/// own, without the `s`.
#[derive(Debug)]
pub(crate) struct StateView {
    committed: Arc<Mutex<Box<dyn ModelRead>>>,
    batch: Arc<Overlay>,
}

impl StateView {
    pub(crate) fn new(committed: Arc<Mutex<Box<dyn ModelRead>>>, batch: Arc<Overlay>) -> Self {
        Self { committed, batch }
    }
}

/// The committed `s` rows, read with the module's keys.
#[derive(Debug)]
struct CommittedState<'a>(&'a Mutex<Box<dyn ModelRead>>);

fn state_key(key: &[u8]) -> Vec<u8> {
    let mut prefixed = Vec::with_capacity(key.len() + 1);
    prefixed.push(STATE);
    prefixed.extend_from_slice(key);
    prefixed
}

impl ModelRead for CommittedState<'_> {
    fn checkpoint(&self) -> Option<Position> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .checkpoint()
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let view = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        view.get(&state_key(key))
    }

    fn scan(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<ModelEntry>, StorageError> {
        let view = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let after = start_after.map(state_key);
        let entries = view.scan(&state_key(prefix), after.as_deref(), limit)?;
        Ok(entries
            .into_iter()
            .map(|(mut key, value)| {
                key.remove(0);
                (key, value)
            })
            .collect())
    }
}

impl ModelRead for StateView {
    fn checkpoint(&self) -> Option<Position> {
        CommittedState(&self.committed).checkpoint()
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        model_overlay::get(&CommittedState(&self.committed), &*self.batch, key)
    }

    fn scan(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<ModelEntry>, StorageError> {
        model_overlay::scan(
            &CommittedState(&self.committed),
            &*self.batch,
            prefix,
            start_after,
            limit,
        )
    }
}

/// The writes of a batch's state, as `s` rows.
pub(crate) fn state_writes(batch: &Overlay) -> impl Iterator<Item = ModelWrite> + '_ {
    batch.iter().map(|(key, value)| match value {
        Some(value) => ModelWrite::Put {
            key: state_key(key),
            value: value.clone(),
        },
        None => ModelWrite::Delete {
            key: state_key(key),
        },
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use cairn_store::ModelRows;

    #[test]
    fn the_module_sees_its_own_keys_over_the_committed_state_and_the_batch() {
        let committed: BTreeMap<Vec<u8>, Vec<u8>> = [
            (b"sa1".to_vec(), b"old".to_vec()),
            (b"sa2".to_vec(), b"old".to_vec()),
            (intent_key(ISSUED, 1, 0), b"{}".to_vec()),
        ]
        .into_iter()
        .collect();
        let committed: Arc<Mutex<Box<dyn ModelRead>>> =
            Arc::new(Mutex::new(Box::new(ModelRows(committed))));
        let mut batch = Overlay::new();
        batch.insert(b"a2".to_vec(), None);
        batch.insert(b"a3".to_vec(), Some(b"new".to_vec()));
        let view = StateView::new(Arc::clone(&committed), Arc::new(batch.clone()));
        assert_eq!(view.get(b"a1").expect("reads"), Some(b"old".to_vec()));
        assert_eq!(view.get(b"a2").expect("reads"), None);
        let keys: Vec<Vec<u8>> = view
            .scan(b"", None, 10)
            .expect("scans")
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            keys,
            [b"a1".to_vec(), b"a3".to_vec()],
            "no ledger row shows"
        );
        let writes: Vec<ModelWrite> = state_writes(&batch).collect();
        assert_eq!(writes[0].key(), b"sa2");
        assert_eq!(writes[1].key(), b"sa3");
    }
}
