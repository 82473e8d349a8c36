//! [`AggregateReader`]: an aggregate version and the upcasters its streams are read through.
//! Every fold of stored events goes through one, so an aggregate always folds events in the
//! shape its upcasters give, wherever it folds them (a command's load, a history, a plan).
//!
//! Invariant: what is built from a reader's folds (a cached state, a snapshot) is keyed by its
//! [`AggregateReader::fold_key`], which is the module's hash while no upcaster reads its
//! category, and otherwise names the module and the upcaster set together: a state folded
//! under one set of upcasters is never taken for one folded under another.

use std::ops::Deref;
use std::sync::Arc;

use cairn_store::{ModuleHash, RecordedEvent, SnapshotKey};
use sha2::{Digest, Sha256};

use crate::aggregates::aggregate::LoadedAggregate;
use crate::call::sandbox::CallInput;
use crate::error::CallError;
use crate::upcasters::upcaster_set::UpcasterSet;

/// An aggregate version, reading its streams through `upcasters` (at most its category's).
#[derive(Clone, Debug)]
pub struct AggregateReader {
    aggregate: Arc<LoadedAggregate>,
    upcasters: UpcasterSet,
    fold_key: ModuleHash,
}

impl Deref for AggregateReader {
    type Target = Arc<LoadedAggregate>;
    fn deref(&self) -> &Arc<LoadedAggregate> {
        &self.aggregate
    }
}

impl AggregateReader {
    /// `aggregate` reading through those of `upcasters` that read its category.
    pub fn new(aggregate: Arc<LoadedAggregate>, upcasters: &UpcasterSet) -> Self {
        let category = aggregate.name().as_str().to_owned();
        let upcasters = upcasters.only(|c| c == category);
        let fold_key = match upcasters.fingerprint() {
            0 => aggregate.hash().clone(),
            set => ModuleHash::of(format!("{}+upcasters:{set:016x}", aggregate.hash()).as_bytes()),
        };
        Self {
            aggregate,
            upcasters,
            fold_key,
        }
    }

    /// The aggregate, without its upcasters.
    pub fn aggregate(&self) -> &Arc<LoadedAggregate> {
        &self.aggregate
    }

    /// The upcasters its streams are read through.
    pub fn upcasters(&self) -> &UpcasterSet {
        &self.upcasters
    }

    /// What keys the states folded by this reader (see the invariant above).
    pub fn fold_key(&self) -> &ModuleHash {
        &self.fold_key
    }

    /// The key of this reader's snapshots: its fold key.
    pub fn snapshot_key(&self) -> SnapshotKey {
        // A hex digest is always a valid key.
        SnapshotKey::new(self.fold_key.as_str())
            .unwrap_or_else(|_| unreachable!("hex digests are valid keys"))
    }

    /// Folds the stored `events` into `state`: upcast, then `evolve`, with a clock that reads
    /// the last folded event's time and randomness seeded from its id, so a replay folds
    /// identically.
    pub async fn fold(
        &self,
        state: Vec<u8>,
        events: &[RecordedEvent],
    ) -> Result<Vec<u8>, CallError> {
        if events.is_empty() {
            return Ok(state);
        }
        let upcast;
        let events = if self.upcasters.is_empty() {
            events
        } else {
            upcast = self
                .upcasters
                .read(events.to_vec())
                .await
                .map_err(|failure| failure.into_call_error())?;
            upcast.as_slice()
        };
        let Some(last) = events.last() else {
            return Ok(state);
        };
        let input = CallInput {
            time_ms: last.recorded_at.as_millis(),
            seed: Sha256::digest(last.id.as_uuid().as_bytes()).into(),
        };
        let batch = events
            .iter()
            .map(|e| (e.event_type.as_str().to_owned(), e.data.as_str().to_owned()))
            .collect();
        self.aggregate.evolve(state, batch, input).await
    }
}
