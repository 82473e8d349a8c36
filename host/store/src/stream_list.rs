//! Listing streams by name: a page of the streams whose names begin with a prefix, in the
//! byte order of their names, read forward or backward from a name that is not included.
//!
//! A listing is a range over the names, so a page costs the same among ten streams as among
//! millions, and paging on from the last name of a page never skips or repeats a stream,
//! whatever is appended between the pages (a stream created meanwhile is listed if its name
//! falls after the cursor).

use crate::read::Direction;
use crate::stream_id::StreamId;
use crate::version::Version;

/// The most streams one listing returns.
pub const MAX_STREAMS_PER_LISTING: usize = 1_000;

/// A listing of streams.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamsRead {
    /// Only names that begin with this (every name when empty). A category `c` is the prefix
    /// `c-`.
    pub prefix: String,
    /// Start after this name going forward, before it going backward; `None` starts at the
    /// first name (forward) or the last (backward).
    pub from: Option<String>,
    /// Which way to read.
    pub direction: Direction,
    /// The most streams to return; at most [`MAX_STREAMS_PER_LISTING`].
    pub limit: usize,
}

impl StreamsRead {
    /// The first `limit` streams whose names begin with `prefix`.
    pub fn prefixed(prefix: impl Into<String>, limit: usize) -> Self {
        Self {
            prefix: prefix.into(),
            from: None,
            direction: Direction::Forward,
            limit,
        }
    }

    /// This listing, going on after `name` (before it, backward).
    pub fn from(mut self, name: impl Into<String>) -> Self {
        self.from = Some(name.into());
        self
    }

    /// This listing, read backward.
    pub fn backward(mut self) -> Self {
        self.direction = Direction::Backward;
        self
    }

    /// The count a listing returns at most: its `limit`, capped.
    pub fn capped_limit(&self) -> usize {
        self.limit.min(MAX_STREAMS_PER_LISTING)
    }
}

/// One stream of a listing.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ListedStream {
    /// Its name.
    pub stream: StreamId,
    /// Its version: how many events it holds.
    pub version: Version,
}

/// A page of a listing.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StreamsPage {
    /// The streams, in the order read: names ascending forward, descending backward.
    pub streams: Vec<ListedStream>,
    /// Whether more streams of the prefix lie beyond the last one returned, in the direction
    /// read.
    pub more: bool,
}
