//! [`Model`]: the store as the model test expects it to behave, in memory, written out plainly
//! rather than sharing the code it checks.

use std::collections::{BTreeMap, HashMap};

use cairn_store::{Direction, ExpectedVersion};

use super::transition::{CATEGORIES, EventSpec, Expected, KEYS, ModelEvent, ModelState, STREAMS};

/// The store as it should be: the log, each stream's positions, stored ids, snapshots and
/// read models; what the last step must have returned; and every append tried, for retries.
#[derive(Clone, Debug, Default)]
pub(super) struct Model {
    pub(super) log: Vec<ModelEvent>,
    pub(super) streams: HashMap<usize, Vec<u64>>, // stream -> positions, in version order
    pub(super) ids: HashMap<u128, u64>,           // event id -> position
    pub(super) snapshots: HashMap<usize, (u64, Vec<u8>)>,
    pub(super) models: HashMap<usize, ModelState>,
    pub(super) last: Option<Expected>,
    pub(super) appends: Vec<(usize, Vec<EventSpec>)>, // every append attempted, for retries
}

impl Model {
    pub(super) fn version(&self, stream: usize) -> u64 {
        self.streams.get(&stream).map_or(0, |p| p.len() as u64)
    }

    /// The streams holding an event whose names begin with `prefix`, after `from` (before it,
    /// backward), at most `limit` of them, and whether more follow.
    pub(super) fn list_streams(
        &self,
        prefix: &str,
        from: Option<&str>,
        direction: Direction,
        limit: usize,
    ) -> Expected {
        let mut names: Vec<(String, u64)> = (0..STREAMS.len())
            .filter(|s| self.version(*s) > 0 && STREAMS[*s].starts_with(prefix))
            .filter(|s| match (from, direction) {
                (None, _) => true,
                (Some(from), Direction::Forward) => STREAMS[*s] > from,
                (Some(from), Direction::Backward) => STREAMS[*s] < from,
            })
            .map(|s| (STREAMS[s].to_owned(), self.version(s)))
            .collect();
        names.sort();
        if direction == Direction::Backward {
            names.reverse();
        }
        let more = names.len() > limit;
        names.truncate(limit);
        Expected::Streams(names, more)
    }

    pub(super) fn append(
        &mut self,
        stream: usize,
        expected: ExpectedVersion,
        events: &[EventSpec],
    ) -> Expected {
        if events.is_empty() {
            return Expected::NoEvents;
        }
        let mut seen = std::collections::HashSet::new();
        if events.iter().any(|e| !seen.insert(e.id)) {
            return Expected::DuplicateId;
        }
        let stored: Vec<u64> = events
            .iter()
            .filter_map(|e| self.ids.get(&e.id).copied())
            .collect();
        let reused = events.iter().any(|e| {
            self.ids.get(&e.id).is_some_and(|p| {
                let stored = &self.log[*p as usize - 1];
                (stored.event_type, &stored.data) != (e.event_type, &e.data)
            })
        });
        if reused {
            return Expected::EventIdReused;
        }
        if !stored.is_empty() {
            let first = &self.log[stored[0] as usize - 1];
            let exact = stored.len() == events.len()
                && first.stream == stream
                && stored.iter().enumerate().all(|(i, p)| {
                    let e = &self.log[*p as usize - 1];
                    e.stream == stream && e.version == first.version + i as u64
                });
            if !exact {
                return Expected::IdempotencyConflict;
            }
            let last = &self.log[*stored.last().expect("non-empty") as usize - 1];
            return Expected::Appended {
                first_version: first.version,
                last_version: last.version,
                first_position: first.position,
                last_position: last.position,
            };
        }
        // Written out here rather than calling `ExpectedVersion::admits`, so the model does not
        // share the code it checks.
        let actual = self.version(stream);
        let admitted = match expected {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == 0,
            ExpectedVersion::StreamExists => actual > 0,
            ExpectedVersion::Exact(v) => v.get() == actual,
        };
        if !admitted {
            return Expected::WrongVersion { actual };
        }
        let first_position = self.log.len() as u64 + 1;
        for spec in events {
            let position = self.log.len() as u64 + 1;
            let positions = self.streams.entry(stream).or_default();
            positions.push(position);
            self.log.push(ModelEvent {
                id: spec.id,
                stream,
                version: positions.len() as u64,
                position,
                event_type: spec.event_type,
                data: spec.data.clone(),
            });
            self.ids.insert(spec.id, position);
        }
        let version = self.version(stream);
        Expected::Appended {
            first_version: version - events.len() as u64 + 1,
            last_version: version,
            first_position,
            last_position: self.log.len() as u64,
        }
    }

    pub(super) fn read_stream(
        &self,
        stream: usize,
        direction: Direction,
        from: Option<u64>,
        limit: usize,
        max_bytes: usize,
    ) -> Expected {
        let positions = self.streams.get(&stream).cloned().unwrap_or_default();
        let version = positions.len() as u64;
        let wanted: Vec<ModelEvent> = match direction {
            Direction::Forward => {
                let from = from.unwrap_or(1).max(1);
                positions
                    .iter()
                    .skip((from - 1) as usize)
                    .map(|p| self.log[*p as usize - 1].clone())
                    .collect()
            }
            Direction::Backward => {
                let from = from.unwrap_or(version).min(version);
                positions
                    .iter()
                    .take(from as usize)
                    .rev()
                    .map(|p| self.log[*p as usize - 1].clone())
                    .collect()
            }
        };
        let (mut events, mut bytes, mut truncated) = (Vec::new(), 0, false);
        for event in wanted {
            if events.len() == limit {
                break;
            }
            if !events.is_empty() && bytes + event.bytes() > max_bytes {
                truncated = true;
                break;
            }
            bytes += event.bytes();
            events.push(event);
        }
        Expected::Events {
            version,
            events,
            truncated,
        }
    }

    pub(super) fn read_all(
        &self,
        after: u64,
        limit: usize,
        category: Option<usize>,
        event_type: Option<usize>,
        scan_limit: usize,
        max_bytes: usize,
    ) -> Expected {
        let head = self.log.len() as u64;
        // The positions a read may examine: `after + 1 ..= window_end`.
        let window_end = after.saturating_add(scan_limit as u64).min(head);
        let matches = |e: &&ModelEvent| {
            category.is_none_or(|c| STREAMS[e.stream].split('-').next() == Some(CATEGORIES[c]))
                && event_type.is_none_or(|t| e.event_type == t)
        };
        let (mut events, mut bytes, mut cut_before) = (Vec::new(), 0, None);
        for event in self
            .log
            .iter()
            .filter(|e| e.position > after && e.position <= window_end)
            .filter(matches)
        {
            if events.len() == limit {
                break;
            }
            if !events.is_empty() && bytes + event.bytes() > max_bytes {
                cut_before = Some(event.position);
                break;
            }
            bytes += event.bytes();
            events.push(event.clone());
        }
        let scanned_to = if limit == 0 || after >= head {
            after
        } else if let Some(position) = cut_before {
            position - 1
        } else if events.len() == limit {
            events.last().expect("limit > 0").position
        } else {
            window_end
        };
        Expected::All {
            events,
            scanned_to,
            head,
            truncated: cut_before.is_some(),
        }
    }
}

impl Model {
    pub(super) fn commit_model(
        &mut self,
        model: usize,
        writes: &[(usize, Option<u8>)],
        checkpoint: u64,
    ) -> Expected {
        let entry = self.models.entry(model);
        let (stored, entries) = match entry {
            std::collections::hash_map::Entry::Occupied(found) => {
                if checkpoint <= found.get().0 {
                    return Expected::ModelNotAhead;
                }
                found.into_mut()
            }
            std::collections::hash_map::Entry::Vacant(slot) => slot.insert((0, BTreeMap::new())),
        };
        for (key, value) in writes {
            match value {
                Some(v) => entries.insert(KEYS[*key].to_vec(), vec![*v]),
                None => entries.remove(KEYS[*key]),
            };
        }
        *stored = checkpoint;
        Expected::ModelCommitted
    }

    pub(super) fn scan_model(
        &self,
        model: usize,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Vec<(Vec<u8>, Vec<u8>)> {
        let Some((_, entries)) = self.models.get(&model) else {
            return Vec::new();
        };
        entries
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .filter(|(k, _)| start_after.is_none_or(|after| k.as_slice() > after))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}
