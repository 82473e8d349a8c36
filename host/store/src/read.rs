//! Read requests and their results: one stream, the global log, a stream's metadata.
//!
//! Every read of events is bounded twice: by a count (`limit`) and by bytes (`max_bytes`,
//! [`DEFAULT_READ_BYTES`] unless set), measured as the store holds each event: its type, data
//! and metadata together, as for [`crate::MAX_EVENT_BYTES`]. A read whose next event would
//! take it past its bytes stops before that event and says so (`truncated`), but a read
//! always returns its first event, however large, so a reader paging through always moves on.
//! Where to go on is the same as after a read cut by its count: a stream read continues from
//! the version after (forward) or before (backward) its last event, a read of the log after
//! its `scanned_to`.

use crate::event::{EventType, RecordedEvent};
use crate::stream_id::StreamId;
use crate::version::{Position, Version};

/// Which way a stream is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Oldest first.
    #[default]
    Forward,
    /// Newest first.
    Backward,
}

/// The bytes a read returns at most, unless it says otherwise: 4 MiB of event types, data and
/// metadata.
///
/// Small enough that a server answering many reads at once holds a few MiB for each (a read
/// of 10,000 events of 1 MiB would hold 10 GB), and that a page is a JSON reply of a few MiB;
/// large enough that a page of a thousand typical events (a few hundred bytes each) is cut by
/// its count, not its bytes, so small events read as fast as before. It matches the byte
/// budget of a projection's batch in the runtime. A single event can be larger (up to
/// [`crate::MAX_EVENT_BYTES`]): it is returned alone.
pub const DEFAULT_READ_BYTES: usize = 4 * 1024 * 1024;

/// A read of one stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamRead {
    /// The first version to return. `None` starts at the first event going forward and at the
    /// last going backward.
    pub from: Option<Version>,
    /// Which way to read.
    pub direction: Direction,
    /// The most events to return.
    pub limit: usize,
    /// The most bytes of events to return (types, data and metadata), except that the first
    /// event is returned whatever its size.
    pub max_bytes: usize,
}

impl StreamRead {
    /// The whole stream, oldest first, in pages of at most [`DEFAULT_READ_BYTES`].
    pub fn forward() -> Self {
        Self {
            from: None,
            direction: Direction::Forward,
            limit: usize::MAX,
            max_bytes: DEFAULT_READ_BYTES,
        }
    }

    /// The whole stream, newest first.
    pub fn backward() -> Self {
        Self {
            direction: Direction::Backward,
            ..Self::forward()
        }
    }

    /// Starts at version `from` (inclusive).
    pub fn from(self, from: Version) -> Self {
        Self {
            from: Some(from),
            ..self
        }
    }

    /// Returns at most `limit` events.
    pub fn limit(self, limit: usize) -> Self {
        Self { limit, ..self }
    }

    /// Returns at most `bytes` bytes of events (but always the first event).
    pub fn max_bytes(self, bytes: usize) -> Self {
        Self {
            max_bytes: bytes,
            ..self
        }
    }
}

/// Part of a stream.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StreamSlice {
    /// The stream.
    pub stream: StreamId,
    /// The stream's version when it was read (0 if it does not exist).
    pub version: Version,
    /// The events, in the order asked for.
    pub events: Vec<RecordedEvent>,
    /// Whether the read stopped at its byte budget: the stream holds more events that the
    /// read would have returned. The next read starts at the version after the last event
    /// (before it, going backward). Serialised only when true.
    #[serde(default, skip_serializing_if = "is_false")]
    pub truncated: bool,
}

fn is_false(flag: &bool) -> bool {
    !flag
}

/// Versions `first..=last` of one stream, whatever their size: a read that pages on until it
/// has them all ([`crate::EventLog::read_versions`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionsRead {
    pub stream: StreamId,
    pub first: Version,
    pub last: Version,
}

/// A [`VersionsRead`] under way, page by page: what every backend's `read_versions` does,
/// whether it reads a page by awaiting or by blocking.
pub(crate) struct VersionsPaging {
    wanted: VersionsRead,
    /// The version the next page begins at; none once a page came back empty (the stream
    /// ends before `last`).
    from: Option<Version>,
    events: Vec<RecordedEvent>,
}

impl VersionsPaging {
    pub(crate) fn new(wanted: VersionsRead) -> Self {
        Self {
            from: Some(wanted.first),
            wanted,
            events: Vec::new(),
        }
    }

    pub(crate) fn stream(&self) -> &StreamId {
        &self.wanted.stream
    }

    /// The read of the next page (up to `last`, within the default byte budget); none once
    /// the read is done.
    pub(crate) fn next_page(&self) -> Option<StreamRead> {
        let from = self.from.filter(|from| *from <= self.wanted.last)?;
        let count = usize::try_from(self.wanted.last.get() + 1 - from.get()).unwrap_or(usize::MAX);
        Some(StreamRead::forward().from(from).limit(count))
    }

    /// Takes a page's events. An empty page ends the read: the stream ends before `last`.
    pub(crate) fn take(&mut self, page: StreamSlice) {
        self.from = page
            .events
            .last()
            .map(|e| Version::new(e.version.get() + 1));
        self.events.extend(page.events);
    }

    pub(crate) fn into_events(self) -> Vec<RecordedEvent> {
        self.events
    }
}

/// A read of the global log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllRead {
    /// Return events after this position.
    pub after: Position,
    /// The most events to return.
    pub limit: usize,
    /// Only events of streams in this category (the part of the stream name before the first
    /// `-`).
    pub category: Option<String>,
    /// Only events of this type.
    pub event_type: Option<EventType>,
    /// The most positions to examine. With filters, a read that examines this many returns
    /// what it found so far, and `scanned_to` says where to go on; a filter that matches
    /// nothing then costs a bounded amount of work per read, not a scan of the whole log.
    pub scan_limit: usize,
    /// The most bytes of events to return (types, data and metadata), except that the first
    /// matching event is returned whatever its size.
    pub max_bytes: usize,
}

impl AllRead {
    /// Every event after `after`, in pages of at most [`DEFAULT_READ_BYTES`].
    pub fn after(after: Position) -> Self {
        Self {
            after,
            limit: usize::MAX,
            category: None,
            event_type: None,
            scan_limit: usize::MAX,
            max_bytes: DEFAULT_READ_BYTES,
        }
    }

    /// Returns at most `bytes` bytes of events (but always the first matching event).
    pub fn max_bytes(self, bytes: usize) -> Self {
        Self {
            max_bytes: bytes,
            ..self
        }
    }

    /// Examines at most `positions` positions of the log.
    pub fn scan_limit(self, positions: usize) -> Self {
        Self {
            scan_limit: positions,
            ..self
        }
    }

    /// Returns at most `limit` events.
    pub fn limit(self, limit: usize) -> Self {
        Self { limit, ..self }
    }

    /// Only events of streams in `category`.
    pub fn category(self, category: impl Into<String>) -> Self {
        Self {
            category: Some(category.into()),
            ..self
        }
    }

    /// Only events of type `event_type`.
    pub fn event_type(self, event_type: EventType) -> Self {
        Self {
            event_type: Some(event_type),
            ..self
        }
    }
}

/// Part of the global log.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AllSlice {
    /// The matching events, in position order.
    pub events: Vec<RecordedEvent>,
    /// The last position examined. With filters it can be past the last event returned, and
    /// with a scan limit or a byte budget it can be short of the head; the next read
    /// continues after it.
    pub scanned_to: Position,
    /// The head of the log when it was read.
    pub head: Position,
    /// Whether the read stopped at its byte budget: an event it would have returned follows
    /// `scanned_to`, which is then the last event returned. Serialised only when true.
    #[serde(default, skip_serializing_if = "is_false")]
    pub truncated: bool,
}

/// What the store knows of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StreamInfo {
    /// Its version: how many events it holds.
    pub version: Version,
}

impl StreamInfo {
    /// Whether the stream has any event.
    pub fn exists(&self) -> bool {
        !self.version.is_none()
    }
}
