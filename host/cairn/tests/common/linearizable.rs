//! A linearizability checker for one stream: Wing and Gong's search with Lowe's cache of
//! (linearized operations, state) pairs, over the stream model.
//!
//! An operation has the time it was invoked and the time it completed (`None`: the reply never
//! came, because the server was killed). The model's state is the stream's version. The final
//! content of the stream (read after the run) settles which events an append wrote: an append
//! whose reply never came either wrote its events where the stream has them, or never happened.

use std::collections::HashSet;

/// What an append expected of the stream's version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expected {
    Any,
    NoStream,
    Exists,
    Exactly(u64),
}

impl Expected {
    fn admits(self, version: u64) -> bool {
        match self {
            Expected::Any => true,
            Expected::NoStream => version == 0,
            Expected::Exists => version > 0,
            Expected::Exactly(v) => version == v,
        }
    }
}

/// What an operation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// An append of events with these ids; its reply: `Some(Ok(first version))`,
    /// `Some(Err(actual version))` for a 409, or `None` when it never came.
    Append {
        expected: Expected,
        ids: Vec<String>,
        reply: Option<Result<u64, u64>>,
    },
    /// A read that saw the stream at `version`, holding `ids`.
    Read { version: u64, ids: Vec<String> },
}

#[derive(Clone, Debug)]
pub(crate) struct Operation {
    pub(crate) invoked: u128,
    /// `None`: no reply came.
    pub(crate) completed: Option<u128>,
    pub(crate) action: Action,
}

/// Why a history is not linearizable.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Anomaly(pub(crate) String);

/// Checks `history` against the stream model, given the stream's final content `last`.
pub(crate) fn check(history: &[Operation], last: &[String]) -> Result<(), Anomaly> {
    // Reads whose contents are not a prefix of the final stream are anomalies on their own.
    for op in history {
        if let Action::Read { version, ids } = &op.action
            && last.get(..*version as usize) != Some(ids.as_slice())
        {
            return Err(Anomaly(format!(
                "a read at version {version} saw {ids:?}, not the stream's first events"
            )));
        }
    }
    let mut written = HashSet::new();
    for id in last {
        if !written.insert(id) {
            return Err(Anomaly(format!("event {id} is in the stream twice")));
        }
    }
    // Events in the stream that no append wrote.
    let appended: HashSet<&String> = history
        .iter()
        .filter_map(|op| match &op.action {
            Action::Append { ids, .. } => Some(ids),
            Action::Read { .. } => None,
        })
        .flatten()
        .collect();
    if let Some(stray) = last.iter().find(|id| !appended.contains(id)) {
        return Err(Anomaly(format!("event {stray} was never appended")));
    }
    search(history, last)
}

/// One end of an operation, in time order: calls before returns at the same instant.
#[derive(Clone, Copy, Debug)]
struct Entry {
    op: usize,
    call: bool,
}

fn step(action: &Action, version: u64, last: &[String]) -> Option<u64> {
    match action {
        Action::Read { version: seen, .. } => (*seen == version).then_some(version),
        Action::Append {
            expected,
            ids,
            reply,
        } => {
            let start = version as usize;
            let lands = expected.admits(version) && last.get(start..start + ids.len()) == Some(ids);
            match reply {
                Some(Ok(first)) => {
                    (lands && *first == version + 1).then_some(version + ids.len() as u64)
                }
                Some(Err(actual)) => {
                    (!expected.admits(version) && *actual == version).then_some(version)
                }
                // No reply: it wrote its events here, or (if the stream lacks them) nothing.
                None if lands => Some(version + ids.len() as u64),
                None if !last.contains(&ids[0]) => Some(version),
                None => None,
            }
        }
    }
}

fn search(history: &[Operation], last: &[String]) -> Result<(), Anomaly> {
    let mut ends: Vec<(u128, bool, usize)> = Vec::new();
    for (op, operation) in history.iter().enumerate() {
        ends.push((operation.invoked, false, op));
        ends.push((operation.completed.unwrap_or(u128::MAX), true, op));
    }
    // Calls (false) sort before returns (true) at the same time.
    ends.sort();
    let entries: Vec<Entry> = ends
        .iter()
        .map(|&(_, ret, op)| Entry { op, call: !ret })
        .collect();
    // A doubly linked list over `entries`, so lifting an operation out is O(1).
    let n = entries.len();
    let mut next: Vec<usize> = (1..=n).collect();
    let mut prev: Vec<usize> = (0..n).map(|i| i.wrapping_sub(1)).collect();
    let mut head = 0usize;
    let mut return_of = vec![0usize; history.len()];
    for (index, entry) in entries.iter().enumerate() {
        if !entry.call {
            return_of[entry.op] = index;
        }
    }
    let words = history.len().div_ceil(64);
    let mut linearized = vec![0u64; words];
    let mut cache: HashSet<(Vec<u64>, u64)> = HashSet::new();
    let mut stack: Vec<(usize, u64)> = Vec::new();
    let mut version = 0u64;
    let mut at = head;

    let unlink = |i: usize, next: &mut Vec<usize>, prev: &mut Vec<usize>, head: &mut usize| {
        if prev[i] == usize::MAX {
            *head = next[i];
        } else {
            next[prev[i]] = next[i];
        }
        if next[i] < n {
            prev[next[i]] = prev[i];
        }
    };
    let relink = |i: usize, next: &mut Vec<usize>, prev: &mut Vec<usize>, head: &mut usize| {
        if prev[i] == usize::MAX {
            *head = i;
        } else {
            next[prev[i]] = i;
        }
        if next[i] < n {
            prev[next[i]] = i;
        }
    };

    while head < n {
        if at >= n {
            return Err(Anomaly("the search ran off the history".into()));
        }
        let entry = entries[at];
        if entry.call {
            let op = entry.op;
            if let Some(after) = step(&history[op].action, version, last) {
                linearized[op / 64] |= 1 << (op % 64);
                if cache.insert((linearized.clone(), after)) {
                    stack.push((at, version));
                    version = after;
                    unlink(at, &mut next, &mut prev, &mut head);
                    unlink(return_of[op], &mut next, &mut prev, &mut head);
                    at = head;
                    continue;
                }
                linearized[op / 64] &= !(1 << (op % 64));
            }
            at = next[at];
        } else {
            // An operation returned before any order could place it: undo the last choice.
            let Some((call, before)) = stack.pop() else {
                let op = &history[entry.op];
                return Err(Anomaly(format!(
                    "no order of the operations explains {:?} (invoked at {}, completed at {:?})",
                    op.action, op.invoked, op.completed
                )));
            };
            let op = entries[call].op;
            version = before;
            linearized[op / 64] &= !(1 << (op % 64));
            relink(return_of[op], &mut next, &mut prev, &mut head);
            relink(call, &mut next, &mut prev, &mut head);
            at = next[call];
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    fn append(t: (u128, u128), expected: Expected, id: &str, reply: Result<u64, u64>) -> Operation {
        Operation {
            invoked: t.0,
            completed: Some(t.1),
            action: Action::Append {
                expected,
                ids: ids(&[id]),
                reply: Some(reply),
            },
        }
    }

    fn read(t: (u128, u128), seen: &[&str]) -> Operation {
        Operation {
            invoked: t.0,
            completed: Some(t.1),
            action: Action::Read {
                version: seen.len() as u64,
                ids: ids(seen),
            },
        }
    }

    #[test]
    fn racing_appends_with_one_winner_and_reads_in_between_are_linearizable() {
        let history = [
            append((0, 10), Expected::NoStream, "a", Ok(1)),
            append((1, 12), Expected::NoStream, "b", Err(1)),
            read((2, 3), &[]),
            read((11, 13), &["a"]),
            append((14, 20), Expected::Exactly(1), "c", Ok(2)),
            read((15, 16), &["a"]),
            read((21, 22), &["a", "c"]),
        ];
        assert_eq!(check(&history, &ids(&["a", "c"])), Ok(()));
    }

    #[test]
    fn a_stale_read_after_an_acknowledged_append_is_an_anomaly() {
        let history = [
            append((0, 10), Expected::Any, "a", Ok(1)),
            read((20, 30), &[]),
        ];
        assert!(check(&history, &ids(&["a"])).is_err());
    }

    #[test]
    fn an_order_against_real_time_is_an_anomaly() {
        // b is first in the stream, yet a finished before b began.
        let history = [
            append((0, 5), Expected::Any, "a", Ok(2)),
            append((10, 15), Expected::Any, "b", Ok(1)),
        ];
        assert!(check(&history, &ids(&["b", "a"])).is_err());
    }

    #[test]
    fn a_lost_acknowledged_append_and_a_wrong_409_are_anomalies() {
        let lost = [append((0, 5), Expected::Any, "a", Ok(1))];
        assert!(check(&lost, &[]).is_err());
        let wrong = [
            append((0, 5), Expected::Any, "a", Ok(1)),
            append((10, 15), Expected::NoStream, "b", Err(0)),
        ];
        assert!(check(&wrong, &ids(&["a"])).is_err());
    }

    #[test]
    fn an_append_without_a_reply_happened_whole_or_not_at_all() {
        let pending = |id: &str| Operation {
            invoked: 0,
            completed: None,
            action: Action::Append {
                expected: Expected::Any,
                ids: ids(&[id, "x"]),
                reply: None,
            },
        };
        let written = [pending("a"), read((5, 6), &[])];
        assert_eq!(check(&written, &ids(&["a", "x"])), Ok(()));
        assert_eq!(check(&[pending("a")], &[]), Ok(()));
        // Half of it is not one of the two.
        assert!(check(&[pending("a")], &ids(&["a"])).is_err());
    }
}
