//! [`UpcasterSet`]: the upcasters one reader reads with, and the read that turns stored events
//! into what the reader sees.
//!
//! Invariants kept here:
//! 1. A set holds at most one upcaster per category (the registry refuses a second one).
//! 2. [`UpcasterSet::read`] keeps the order of the stored events; an upgraded event is replaced
//!    by what its upcaster gave, in the upcaster's order, each keeping the stored event's id,
//!    stream, version, position, metadata and time. Events no upcaster covers pass unchanged,
//!    and a batch with none costs no call.
//! 3. The [`UpcasterSet::fingerprint`] of the empty set is 0, and two sets with the same
//!    upcasters (by category and hash) have the same fingerprint: what was built without
//!    upcasters keeps its key, and what was built under one set is never used under another.

use std::collections::BTreeMap;
use std::sync::Arc;

use cairn_store::{EventId, EventType, ModuleName, Position, RecordedEvent, StreamId, Version};
use sha2::{Digest, Sha256};

use super::upcaster::{LoadedUpcaster, UpcastError, UpcastEvent};
use crate::error::CallError;

/// The most stored events one `upcast` call is given.
const EVENTS_PER_CALL: usize = 256;

/// An event as a reader sees it, and the stored type it was upcast from, if it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadEvent {
    pub event: RecordedEvent,
    pub upcast_from: Option<EventType>,
}

/// An upcaster failed on a stored event, so the read that met it cannot go on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the upcaster {upcaster} failed on {stream} at version {version} ({event_type}): {error}")]
pub struct UpcastFailure {
    pub upcaster: ModuleName,
    pub stream: StreamId,
    pub version: Version,
    pub position: Position,
    pub event_type: EventType,
    pub error: UpcastError,
}

impl UpcastFailure {
    /// The failure as a call's: a host fault stays one (the module is not blamed, and a retry
    /// may pass); anything else is the upcaster's bad output, named in the message.
    pub fn into_call_error(self) -> CallError {
        match &self.error {
            UpcastError::Call(error) if error.is_host_fault() => error.clone(),
            _ => CallError::BadOutput {
                message: self.to_string(),
            },
        }
    }
}

/// The upcasters a reader reads with, by the category each upgrades (invariant 1).
#[derive(Clone, Default)]
pub struct UpcasterSet {
    by_category: Arc<BTreeMap<String, Arc<LoadedUpcaster>>>,
}

impl std::fmt::Debug for UpcasterSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.by_category.iter().map(|(c, u)| (c, u.name())))
            .finish()
    }
}

impl UpcasterSet {
    /// The set of `upcasters`; a later one of a category replaces an earlier one.
    pub(crate) fn new(upcasters: impl IntoIterator<Item = Arc<LoadedUpcaster>>) -> Self {
        let by_category = upcasters
            .into_iter()
            .map(|u| (u.upgrades().category.clone(), u))
            .collect();
        Self {
            by_category: Arc::new(by_category),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_category.is_empty()
    }

    /// The upcasters, by category.
    pub fn upcasters(&self) -> impl Iterator<Item = &Arc<LoadedUpcaster>> {
        self.by_category.values()
    }

    /// The upcaster of `category`, if there is one.
    pub fn of_category(&self, category: &str) -> Option<&Arc<LoadedUpcaster>> {
        self.by_category.get(category)
    }

    /// The part of this set whose categories `admits` lets through.
    pub fn only(&self, admits: impl Fn(&str) -> bool) -> Self {
        Self::new(
            self.by_category
                .iter()
                .filter(|(category, _)| admits(category))
                .map(|(_, u)| Arc::clone(u)),
        )
    }

    /// This set with `upcaster` in place of its category's, and of any version of its name
    /// (which may have upgraded another category).
    pub fn with(&self, upcaster: Arc<LoadedUpcaster>) -> Self {
        let name = upcaster.name().clone();
        Self::new(
            self.by_category
                .values()
                .filter(|u| *u.name() != name)
                .cloned()
                .chain([upcaster]),
        )
    }

    /// What identifies the set (invariant 3).
    pub fn fingerprint(&self) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let mut digest = Sha256::new();
        for (category, upcaster) in self.by_category.iter() {
            digest.update(category.as_bytes());
            digest.update(b"=");
            digest.update(upcaster.hash().as_str().as_bytes());
            digest.update(b";");
        }
        let bytes: [u8; 32] = digest.finalize().into();
        let mut first = [0; 8];
        first.copy_from_slice(&bytes[..8]);
        u64::from_be_bytes(first).max(1)
    }

    /// What a reader sees of `events` (invariant 2).
    pub async fn read(
        &self,
        events: Vec<RecordedEvent>,
    ) -> Result<Vec<RecordedEvent>, UpcastFailure> {
        if !self.covers_any(&events) {
            return Ok(events);
        }
        Ok(self
            .read_marked(events)
            .await?
            .into_iter()
            .map(|read| read.event)
            .collect())
    }

    /// [`UpcasterSet::read`], with each event's stored type when it was upcast.
    pub async fn read_marked(
        &self,
        events: Vec<RecordedEvent>,
    ) -> Result<Vec<ReadEvent>, UpcastFailure> {
        let unmarked = |event| ReadEvent {
            event,
            upcast_from: None,
        };
        if !self.covers_any(&events) {
            return Ok(events.into_iter().map(unmarked).collect());
        }
        let mut given: Vec<Option<Vec<UpcastEvent>>> = vec![None; events.len()];
        for upcaster in self.by_category.values() {
            let covered: Vec<usize> = events
                .iter()
                .enumerate()
                .filter(|(_, e)| {
                    upcaster
                        .upgrades()
                        .covers(e.stream.category(), &e.event_type)
                })
                .map(|(index, _)| index)
                .collect();
            for chunk in covered.chunks(EVENTS_PER_CALL) {
                let lists = upcast_chunk(upcaster, &events, chunk).await?;
                for (&index, list) in chunk.iter().zip(lists) {
                    given[index] = Some(list);
                }
            }
        }
        let mut read = Vec::with_capacity(events.len());
        for (stored, given) in events.into_iter().zip(given) {
            match given {
                None => read.push(unmarked(stored)),
                Some(list) => {
                    read.extend(
                        list.into_iter()
                            .enumerate()
                            .map(|(index, upcast)| ReadEvent {
                                event: RecordedEvent {
                                    id: sibling_id(&stored, index),
                                    event_type: upcast.event_type,
                                    data: upcast.data,
                                    ..stored.clone()
                                },
                                upcast_from: Some(stored.event_type.clone()),
                            }),
                    )
                }
            }
        }
        Ok(read)
    }

    fn covers_any(&self, events: &[RecordedEvent]) -> bool {
        !self.is_empty()
            && events.iter().any(|e| {
                self.by_category
                    .get(e.stream.category())
                    .is_some_and(|u| u.upgrades().covers(e.stream.category(), &e.event_type))
            })
    }
}

/// The id of the `index`-th event upcast from `stored`: the stored event's for the first, and
/// for each after it an id derived from it and the index (the same on every read), so no two
/// events a reader sees share an id.
fn sibling_id(stored: &RecordedEvent, index: usize) -> EventId {
    if index == 0 {
        return stored.id;
    }
    let mut digest = Sha256::new();
    digest.update(stored.id.as_uuid().as_bytes());
    digest.update(b"upcast");
    digest.update((index as u64).to_le_bytes());
    let digest: [u8; 32] = digest.finalize().into();
    let mut bytes = [0; 16];
    bytes.copy_from_slice(&digest[..16]);
    EventId::from(uuid::Uuid::new_v8(bytes))
}

/// The upcast of `events[i]` for each `i` of `chunk`. A call that fails for the module's
/// reasons is tried again one event at a time, to name the event it fails on (or to get past a
/// batch too large for the module's memory).
async fn upcast_chunk(
    upcaster: &Arc<LoadedUpcaster>,
    events: &[RecordedEvent],
    chunk: &[usize],
) -> Result<Vec<Vec<UpcastEvent>>, UpcastFailure> {
    let input = |indices: &[usize]| -> Vec<(String, String)> {
        indices
            .iter()
            .map(|&i| {
                let e = &events[i];
                (e.event_type.as_str().to_owned(), e.data.as_str().to_owned())
            })
            .collect()
    };
    let failure = |index: usize, error: UpcastError| {
        let event = &events[index];
        UpcastFailure {
            upcaster: upcaster.name().clone(),
            stream: event.stream.clone(),
            version: event.version,
            position: event.position,
            event_type: event.event_type.clone(),
            error,
        }
    };
    match upcaster.upcast(input(chunk)).await {
        Ok(lists) => Ok(lists),
        Err(UpcastError::Refused { index, message }) => {
            let at = chunk.get(index).copied().unwrap_or(chunk[0]);
            Err(failure(at, UpcastError::Refused { index: 0, message }))
        }
        Err(UpcastError::Call(error)) if chunk.len() > 1 && !error.is_host_fault() => {
            let mut lists = Vec::with_capacity(chunk.len());
            for &index in chunk {
                match upcaster.upcast(input(&[index])).await {
                    Ok(mut one) => lists.push(one.pop().unwrap_or_default()),
                    Err(error) => return Err(failure(index, error)),
                }
            }
            Ok(lists)
        }
        Err(error) => Err(failure(chunk[0], error)),
    }
}
