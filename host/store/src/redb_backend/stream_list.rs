//! Listing streams by name prefix (`EventLog` promise 6): a range over the `streams` table,
//! which is keyed by name, and each listed stream's version from its last append
//! (invariant 2). A page reads `limit + 1` names at most, whatever the store holds.

use std::ops::Bound;

use redb::{Database, ReadableDatabase};

use super::backend;
use super::tables::{STREAM_APPENDS, STREAMS, StreamAppend};
use crate::error::StorageError;
use crate::read::Direction;
use crate::stream_id::StreamId;
use crate::stream_list::{ListedStream, StreamsPage, StreamsRead};
use crate::version::Version;

pub(crate) fn list_streams(db: &Database, read: &StreamsRead) -> Result<StreamsPage, StorageError> {
    let limit = read.capped_limit();
    let txn = db.begin_read().map_err(backend)?;
    let streams = txn.open_table(STREAMS).map_err(backend)?;
    let appends = txn.open_table(STREAM_APPENDS).map_err(backend)?;
    let prefix = read.prefix.as_str();
    let end = prefix_end(prefix);
    let (low, high): (Bound<&str>, Bound<&str>) = match (read.direction, read.from.as_deref()) {
        (Direction::Forward, from) => (
            match from {
                Some(from) if from >= prefix => Bound::Excluded(from),
                _ => Bound::Included(prefix),
            },
            end.as_deref().map_or(Bound::Unbounded, Bound::Excluded),
        ),
        (Direction::Backward, from) => (
            Bound::Included(prefix),
            match (from, end.as_deref()) {
                (Some(from), Some(end)) if from < end => Bound::Excluded(from),
                (Some(from), None) => Bound::Excluded(from),
                (_, end) => end.map_or(Bound::Unbounded, Bound::Excluded),
            },
        ),
    };
    let mut rows = streams.range::<&str>((low, high)).map_err(backend)?;
    let mut listed = Vec::with_capacity(limit.min(256));
    let mut more = false;
    loop {
        let row = match read.direction {
            Direction::Forward => rows.next(),
            Direction::Backward => rows.next_back(),
        };
        let Some(row) = row.transpose().map_err(backend)? else {
            break;
        };
        let (name, id) = (row.0.value(), row.1.value());
        if listed.len() == limit {
            more = true;
            break;
        }
        let last = appends
            .range((id, 0)..=(id, u64::MAX))
            .map_err(backend)?
            .next_back()
            .transpose()
            .map_err(backend)?;
        let version = last.map_or(0, |row| StreamAppend::from_row(row).last_version());
        listed.push(ListedStream {
            stream: StreamId::from_stored(name)
                .map_err(|e| StorageError::Corrupt(format!("stored stream name {e}")))?,
            version: Version::new(version),
        });
    }
    Ok(StreamsPage {
        streams: listed,
        more,
    })
}

/// The least string above every string that begins with `prefix`, if there is one: `prefix`
/// with its last character that is not `char::MAX` moved to the next, and what follows it
/// dropped. An empty prefix (or one of `char::MAX` alone) has none: it bounds nothing.
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn the_end_of_a_prefix_bounds_every_name_that_begins_with_it() {
        assert_eq!(prefix_end(""), None);
        assert_eq!(prefix_end("acct-").as_deref(), Some("acct."));
        assert_eq!(prefix_end("a\u{d7ff}").as_deref(), Some("a\u{e000}"));
        assert_eq!(prefix_end("a\u{10ffff}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{10ffff}"), None);
        let end = prefix_end("acct-").expect("an end");
        for name in ["acct-", "acct-1", "acct-\u{10ffff}\u{10ffff}"] {
            assert!(name < end.as_str(), "{name}");
        }
        assert!("acct." >= end.as_str());
    }
}
