//! Events: what a writer appends ([`NewEvent`]) and what a reader gets back ([`RecordedEvent`]).

use std::fmt;

use crate::json::Json;
use crate::name::checked_name;
use crate::stream_id::StreamId;
use crate::version::{Position, Version};

/// An event's unique id. Clients may choose it, which makes appends idempotent: an event id is
/// stored at most once.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct EventId(uuid::Uuid);

impl EventId {
    /// A fresh id. It is a UUIDv7, so ids made here sort by time and index compactly.
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7())
    }

    /// The UUID.
    pub fn as_uuid(&self) -> uuid::Uuid {
        self.0
    }
}

impl Default for EventId {
    fn default() -> Self {
        Self::new()
    }
}

impl From<uuid::Uuid> for EventId {
    fn from(id: uuid::Uuid) -> Self {
        Self(id)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

checked_name! {
    /// An event's type name, such as `CustomerCreated`.
    ///
    /// Invariant: 1 to [`EventType::MAX_LEN`] bytes of UTF-8 by the name rule
    /// of `name.rs`: no control, format or line-separating characters.
    EventType, max = 200, what = "event type"
}

/// Milliseconds since the Unix epoch.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(u64);

impl Timestamp {
    /// Wraps milliseconds since the Unix epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// The wall clock now. A clock before 1970 reads as 0.
    pub fn now() -> Self {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
    }
}

/// An event to append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    /// Its id. Appending an id the stream already holds is an idempotent retry.
    pub id: EventId,
    /// Its type name.
    pub event_type: EventType,
    /// Its payload.
    pub data: Json,
    /// Its metadata, which must be a JSON object.
    pub metadata: Json,
}

impl NewEvent {
    /// An event with a fresh id and empty metadata.
    pub fn new(event_type: EventType, data: Json) -> Self {
        Self {
            id: EventId::new(),
            event_type,
            data,
            metadata: Json::empty_object(),
        }
    }

    /// The same event with the given id.
    pub fn with_id(self, id: EventId) -> Self {
        Self { id, ..self }
    }

    /// The same event with the given metadata.
    pub fn with_metadata(self, metadata: Json) -> Self {
        Self { metadata, ..self }
    }
}

/// An event as stored: where it is in its stream and in the global log, and when it was written.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordedEvent {
    /// Its id.
    pub id: EventId,
    /// The stream it belongs to.
    pub stream: StreamId,
    /// Its version in that stream (1-based).
    pub version: Version,
    /// Its position in the global log (1-based).
    pub position: Position,
    /// Its type name.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// Its payload.
    pub data: Json,
    /// Its metadata (a JSON object).
    pub metadata: Json,
    /// When the store wrote it.
    pub recorded_at: Timestamp,
}
