//! `GET /v1/subscribe`: the global log as server-sent events, catch-up then live.
//!
//! Invariant: the subscription keeps one cursor, the last position examined, and every read
//! starts after it, whether it is catching up or live. Switching from catch-up to live is only
//! waiting for the head to pass the cursor, so no event is lost or repeated across the switch.
//! Each event's SSE `id:` is its position; a client that reconnects with `Last-Event-ID`
//! resumes right after the last event it saw.
//!
//! What a subscriber holds is bounded: events are read in pages of about [`PAGE_BYTES`] (the
//! number of events per read follows the size of the events just read, starting from one after
//! each wait), and each is serialised only when the connection can take it. A subscriber that
//! stops reading holds one page, one serialised event and hyper's write buffer, until the
//! connection's write-stall timeout disconnects it (`edge/io.rs`).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use cairn_store::{AllRead, EventStore, HeadWatch, Position, RecordedEvent};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;

use crate::http::all::filtered;
use crate::http::error::ApiError;
use crate::http::extract::QueryParams;
use crate::http::served::{ServedEvent, Serving};
use crate::http::state::AppState;

/// The most events one read fetches.
const PAGE: usize = 500;
/// About how many bytes of events one read fetches.
const PAGE_BYTES: usize = 1024 * 1024;

/// Where a subscription starts, and which events it sends.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct SubscribeQuery {
    /// Send events after this position (default 0: from the start). `Last-Event-ID` wins over
    /// it.
    pub after: Option<u64>,
    /// Only events of streams in this category.
    pub category: Option<String>,
    /// Only events of this type.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
    /// The events as stored, not read through the upcasters.
    #[serde(default)]
    pub raw: bool,
}

/// Subscribes to the global log.
#[utoipa::path(
    get,
    path = "/v1/subscribe",
    params(
        SubscribeQuery,
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this position"),
    ),
    responses(
        (status = 200, description = "`text/event-stream`: one `message` per event, `id:` its position, `data:` the event as JSON", content_type = "text/event-stream", body = String),
        (status = 400, description = "Bad query or Last-Event-ID", body = crate::http::error::ErrorBody),
    ),
    tag = "streams"
)]
pub(super) async fn subscribe(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryParams(query): QueryParams<SubscribeQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let after = match headers.get("last-event-id") {
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_last_event_id",
                    "Last-Event-ID must be the position of an event (a whole number)",
                )
            })?,
        None => query.after.unwrap_or(0),
    };
    let read = filtered(Position::new(after), query.category, query.event_type)?.limit(1);
    let cursor = Cursor {
        state: state.clone(),
        raw: query.raw,
        store: state.store.clone(),
        head: state.store.watch_head(),
        read,
        ended: false,
        _live: crate::telemetry::LiveSubscriber::new(),
    };
    let events = stream::unfold(cursor, Cursor::next_page)
        .flat_map(|page| stream::iter(page.into_iter().map(Ok)))
        .take_until(state.shutting_down());
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// A subscription's place in the log.
struct Cursor {
    /// Where the upcasters are found: each page reads through those loaded when it is read.
    state: AppState,
    /// Whether events are sent as stored.
    raw: bool,
    store: std::sync::Arc<dyn EventStore>,
    head: HeadWatch,
    /// The next read: after the last position examined, with the filters, and as many events
    /// as [`next_limit`] says.
    read: AllRead,
    /// Whether the store failed and the subscriber has been told: the stream ends.
    ended: bool,
    /// Counts the subscription in `cairn_subscribers` for as long as it lives.
    _live: crate::telemetry::LiveSubscriber,
}

impl Cursor {
    /// The next events to send, waiting for new ones once caught up. Ends the stream when the
    /// store closes or fails; a failure (a damaged record, which is never served) is sent first
    /// as an `error` event with cairn's JSON error body, so the subscriber knows why.
    async fn next_page(mut self) -> Option<(Vec<Event>, Self)> {
        if self.ended {
            return None;
        }
        loop {
            let serving = Serving::new(&self.state, self.raw);
            let slice = match self.store.read_all(serving.store_read(&self.read)).await {
                Ok(slice) => slice,
                Err(error) => {
                    tracing::warn!(%error, "a subscription ends: the store failed");
                    self.ended = true;
                    let body = ApiError::from(error).body_json();
                    return Some((vec![Event::default().event("error").data(body)], self));
                }
            };
            let scanned_to = slice.scanned_to.max(self.read.after);
            if !slice.events.is_empty() {
                let bytes = slice.events.iter().map(event_bytes).sum();
                let count = slice.events.len();
                let served = match serving.all(slice, &self.read).await {
                    Ok(served) => served,
                    Err(error) => {
                        // An upcaster failed on an event: the subscriber is told, and the
                        // stream ends before it, so a resume starts there again.
                        tracing::warn!("a subscription ends: an upcaster failed on an event");
                        self.ended = true;
                        return Some((
                            vec![Event::default().event("error").data(error.body_json())],
                            self,
                        ));
                    }
                };
                self.read.after = scanned_to;
                self.read.limit = next_limit(self.read.limit, count, bytes);
                if served.events.is_empty() {
                    continue;
                }
                let events = &served.events;
                let sent = events
                    .iter()
                    .enumerate()
                    .map(|(index, event)| {
                        // The events upcast from one stored event share its position; only the
                        // last of them carries it as its id, so a subscriber that resumes
                        // from an id has had every one of them.
                        let last_of_position = events
                            .get(index + 1)
                            .is_none_or(|next| next.event.position != event.event.position);
                        to_sse(event, last_of_position)
                    })
                    .collect();
                return Some((sent, self));
            }
            self.read.after = scanned_to;
            // Whatever comes next may be larger: start small again.
            self.read.limit = 1;
            if self.head.wait_past(self.read.after).await.is_err() {
                return None;
            }
        }
    }
}

/// How many events the next read fetches, after one that fetched `count` (of at most `limit`)
/// weighing `bytes`: as many as fit in [`PAGE_BYTES`] at their size, at most twice as many as
/// before and at most [`PAGE`], at least one.
fn next_limit(limit: usize, count: usize, bytes: usize) -> usize {
    let fit = PAGE_BYTES.saturating_mul(count) / bytes.max(1);
    fit.min(limit.saturating_mul(2)).clamp(1, PAGE)
}

/// About what an event weighs in memory.
fn event_bytes(event: &RecordedEvent) -> usize {
    event.data.as_str().len()
        + event.metadata.as_str().len()
        + event.stream.as_str().len()
        + event.event_type.as_str().len()
        + 128
}

/// `served` as an SSE message: `data:` the event as JSON, and `id:` its position if `with_id`.
fn to_sse(served: &ServedEvent, with_id: bool) -> Event {
    // Every event serialises: stored texts were checked as JSON when appended and against
    // their checksum when read, and an upcaster's output is checked as JSON when given.
    let position = served.event.position.get();
    let data = serde_json::to_string(served).unwrap_or_else(|e| {
        tracing::error!(error = %e, position, "an event does not serialise");
        String::from("{}")
    });
    let message = Event::default().data(data);
    if with_id {
        message.id(position.to_string())
    } else {
        message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_the_size_of_events() {
        // Small events: the page doubles up to PAGE.
        assert_eq!(next_limit(1, 1, 200), 2);
        assert_eq!(next_limit(256, 256, 256 * 200), PAGE);
        // Events of 1 MiB: one at a time.
        assert_eq!(next_limit(1, 1, 1024 * 1024), 1);
        assert_eq!(next_limit(500, 500, 500 * 1024 * 1024), 1);
        // Events of 100 KiB: ten to a page.
        assert_eq!(next_limit(64, 64, 64 * 100 * 1024), 10);
    }
}
