//! Events as the API serves them: read through the upcasters, so every client sees the current
//! shape of each event, or as stored with `?raw=true`. Stored events are never rewritten.
//!
//! An upcast event keeps the stored event's stream, version, position, metadata and time (and
//! its id, the first of them), and says what it was stored as (`upcast_from`); one stored
//! event may be served as several (sharing its version and position) or as none. A stream
//! page says which stored versions it covers (`read_to`); in a subscription, only the last
//! event of a position carries it as its SSE id. A type filter (`?type=`) applies to the
//! types served: with upcasters loaded it is applied after the upcast, not by the store.

use cairn_runtime::UpcasterSet;
use cairn_store::{AllRead, AllSlice, EventType, RecordedEvent, StreamId, StreamSlice};
use serde::Serialize;

use crate::http::error::ApiError;
use crate::http::state::AppState;

/// An event as served.
#[derive(Clone, Debug, Serialize)]
pub(super) struct ServedEvent {
    #[serde(flatten)]
    pub event: RecordedEvent,
    /// The type the event was stored as, when an upcaster gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upcast_from: Option<EventType>,
}

/// Part of a stream, as served.
#[derive(Debug, Serialize)]
pub(super) struct ServedStreamSlice {
    pub stream: StreamId,
    pub version: cairn_store::Version,
    pub events: Vec<ServedEvent>,
    /// The last stored version the page covers (none for an empty read): an upcaster may give
    /// fewer or more events than were stored, so the next page starts after this one, not
    /// after the last event's version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_to: Option<cairn_store::Version>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// Part of the global log, as served.
#[derive(Debug, Serialize)]
pub(super) struct ServedAllSlice {
    pub events: Vec<ServedEvent>,
    pub scanned_to: cairn_store::Position,
    pub head: cairn_store::Position,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// How a read serves events: through these upcasters, or as stored.
#[derive(Clone, Debug)]
pub(super) struct Serving {
    /// None for `?raw=true`.
    upcasters: Option<UpcasterSet>,
}

impl Serving {
    /// Through the upcasters loaded now, unless `raw`.
    pub(super) fn new(state: &AppState, raw: bool) -> Self {
        let upcasters = state.command_path.registry().upcasters();
        Self {
            upcasters: (!raw && !upcasters.is_empty()).then_some(upcasters),
        }
    }

    /// Whether the store may filter by event type: only when the types it holds are the types
    /// served.
    pub(super) fn store_filters_types(&self) -> bool {
        self.upcasters.is_none()
    }

    /// `read` as the store should run it: without its type filter when the filter applies to
    /// upcast types, which [`Serving::all`] then applies.
    pub(super) fn store_read(&self, read: &AllRead) -> AllRead {
        let mut read = read.clone();
        if !self.store_filters_types() {
            read.event_type = None;
        }
        read
    }

    /// `events` as served, keeping only those of `event_type` if given.
    pub(super) async fn events(
        &self,
        events: Vec<RecordedEvent>,
        event_type: Option<&EventType>,
    ) -> Result<Vec<ServedEvent>, ApiError> {
        let served: Vec<ServedEvent> = match &self.upcasters {
            None => events
                .into_iter()
                .map(|event| ServedEvent {
                    event,
                    upcast_from: None,
                })
                .collect(),
            Some(upcasters) => upcasters
                .read_marked(events)
                .await
                .map_err(|failure| ApiError::from(failure.into_call_error()))?
                .into_iter()
                .map(|read| ServedEvent {
                    event: read.event,
                    upcast_from: read.upcast_from,
                })
                .collect(),
        };
        Ok(match event_type {
            Some(wanted) => served
                .into_iter()
                .filter(|e| e.event.event_type == *wanted)
                .collect(),
            None => served,
        })
    }

    /// A stream slice as served.
    pub(super) async fn stream(&self, slice: StreamSlice) -> Result<ServedStreamSlice, ApiError> {
        let read_to = slice.events.last().map(|e| e.version);
        Ok(ServedStreamSlice {
            stream: slice.stream,
            version: slice.version,
            read_to,
            events: self.events(slice.events, None).await?,
            truncated: slice.truncated,
        })
    }

    /// A slice of the global log read by `read` (as [`Serving::store_read`] ran it) as served.
    pub(super) async fn all(
        &self,
        slice: AllSlice,
        read: &AllRead,
    ) -> Result<ServedAllSlice, ApiError> {
        let event_type = if self.store_filters_types() {
            None
        } else {
            read.event_type.as_ref()
        };
        Ok(ServedAllSlice {
            events: self.events(slice.events, event_type).await?,
            scanned_to: slice.scanned_to,
            head: slice.head,
            truncated: slice.truncated,
        })
    }
}
