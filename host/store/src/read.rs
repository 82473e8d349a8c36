//! Read requests and their results: one stream, the global log, a stream's metadata.

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
}

impl StreamRead {
    /// The whole stream, oldest first.
    pub fn forward() -> Self {
        Self {
            from: None,
            direction: Direction::Forward,
            limit: usize::MAX,
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
}

impl AllRead {
    /// Every event after `after`.
    pub fn after(after: Position) -> Self {
        Self {
            after,
            limit: usize::MAX,
            category: None,
            event_type: None,
            scan_limit: usize::MAX,
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
    /// with a scan limit it can be short of the head; the next read continues after it.
    pub scanned_to: Position,
    /// The head of the log when it was read.
    pub head: Position,
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
