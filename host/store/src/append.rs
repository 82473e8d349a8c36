//! What an append returns, and the checks on an append that need no stored state.

use std::collections::HashSet;

use crate::error::AppendError;
use crate::event::{NewEvent, Timestamp};
use crate::name::checked_name;
use crate::stream_id::StreamId;
use crate::version::{Position, Version};

/// The most events one append may carry.
pub const MAX_EVENTS_PER_APPEND: usize = 1_000;

/// The largest event, in bytes of type, data and metadata together: 16 MiB.
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

checked_name! {
    /// A client's key for one command (the HTTP `Idempotency-Key`). An append made with a key
    /// records it with its events; the same key on the same stream later gets the original
    /// outcome, and nothing is appended again.
    ///
    /// Invariant: 1 to [`IdempotencyKey::MAX_LEN`] bytes of UTF-8 by the name rule
    /// of `name.rs`: no control, format or line-separating characters.
    IdempotencyKey, max = 200, what = "idempotency key"
}

/// Where an append's events landed. An idempotent retry gets the original append's outcome.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AppendOutcome {
    /// The stream appended to.
    pub stream: StreamId,
    /// The version of the first event appended.
    pub first_version: Version,
    /// The version of the last event appended; the stream's version after the append.
    pub last_version: Version,
    /// The global position of the first event appended.
    pub first_position: Position,
    /// The global position of the last event appended.
    pub last_position: Position,
    /// When the store wrote the events. (Not in the HTTP reply, whose fields design.md fixes.)
    #[serde(skip_serializing, default)]
    pub recorded_at: Timestamp,
    /// Whether this append wrote the events or recognised them as an earlier append's. (Not
    /// in the HTTP reply either: a retry is answered as the original was.)
    #[serde(skip_serializing, default)]
    pub kind: AppendKind,
}

/// Whether the store wrote an append's events, or recognised the append as one it had already
/// written (the same idempotency key, or the same event ids with the same content) and gave
/// that one's outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
pub enum AppendKind {
    /// The events were written by this append.
    #[default]
    Written,
    /// Nothing was written: an earlier append of the same events was recognised.
    Recognised,
}

/// Checks what every backend checks of an append before it reads the store: the stream is not reserved, there are
/// 1 to [`MAX_EVENTS_PER_APPEND`] events, none over [`MAX_EVENT_BYTES`], no id repeats and every
/// metadata is an object. (The size limit also keeps every stored length within the `u32` of
/// the record layout.)
pub fn check_append(stream: &StreamId, events: &[NewEvent]) -> Result<(), AppendError> {
    if stream.is_system() {
        return Err(AppendError::ReservedStream(stream.clone()));
    }
    if events.is_empty() {
        return Err(AppendError::NoEvents);
    }
    if events.len() > MAX_EVENTS_PER_APPEND {
        return Err(AppendError::TooManyEvents {
            count: events.len(),
            max: MAX_EVENTS_PER_APPEND,
        });
    }
    let mut seen = HashSet::with_capacity(events.len());
    for (index, event) in events.iter().enumerate() {
        if !seen.insert(event.id) {
            return Err(AppendError::DuplicateEventId { id: event.id });
        }
        if !event.metadata.is_object() {
            return Err(AppendError::MetadataNotObject { index });
        }
        let bytes = event.event_type.as_str().len()
            + event.data.as_str().len()
            + event.metadata.as_str().len();
        if bytes > MAX_EVENT_BYTES {
            return Err(AppendError::EventTooLarge {
                index,
                bytes,
                max: MAX_EVENT_BYTES,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventType, Json};

    fn event() -> NewEvent {
        NewEvent::new(
            EventType::new("Happened").expect("valid"),
            Json::empty_object(),
        )
    }

    fn stream(name: &str) -> StreamId {
        StreamId::new(name).expect("valid")
    }

    #[test]
    fn accepts_one_to_the_limit() {
        assert!(check_append(&stream("s-1"), &[event()]).is_ok());
        let full: Vec<_> = (0..MAX_EVENTS_PER_APPEND).map(|_| event()).collect();
        assert!(check_append(&stream("s-1"), &full).is_ok());
    }

    #[test]
    fn refuses_each_kind_of_bad_append() {
        assert!(matches!(
            check_append(&stream("$all"), &[event()]),
            Err(AppendError::ReservedStream(_))
        ));
        assert!(matches!(
            check_append(&stream("s-1"), &[]),
            Err(AppendError::NoEvents)
        ));
        let over: Vec<_> = (0..=MAX_EVENTS_PER_APPEND).map(|_| event()).collect();
        assert!(matches!(
            check_append(&stream("s-1"), &over),
            Err(AppendError::TooManyEvents {
                count: 1001,
                max: 1000
            })
        ));
        let twin = event();
        assert!(matches!(
            check_append(&stream("s-1"), &[twin.clone(), event(), twin.clone()]),
            Err(AppendError::DuplicateEventId { id }) if id == twin.id
        ));
        let huge = Json::from_value(&"x".repeat(MAX_EVENT_BYTES)).expect("serialises");
        assert!(matches!(
            check_append(
                &stream("s-1"),
                &[
                    event(),
                    NewEvent::new(EventType::new("Big").expect("valid"), huge)
                ]
            ),
            Err(AppendError::EventTooLarge {
                index: 1,
                max: MAX_EVENT_BYTES,
                ..
            })
        ));
        let array_metadata = event().with_metadata(Json::parse("[]").expect("valid"));
        assert!(matches!(
            check_append(&stream("s-1"), &[event(), array_metadata]),
            Err(AppendError::MetadataNotObject { index: 1 })
        ));
    }
}
