//! Entry points for the fuzz targets in `fuzz/`, not part of the API: the decoders of stored
//! values, which must turn any bytes into a value or an error and never panic, and whose
//! values encode back to the same bytes.

use super::record::{self, PageBuilder};
use crate::event::NewEvent;
use crate::stream_id::StreamId;
use crate::version::Position;

/// Decodes `bytes` as a stored event record, as a read does. A record that decodes must encode
/// back to exactly `bytes`; that is asserted, so the fuzzer reports a difference as a crash.
pub fn decode_event_record(bytes: &[u8]) -> Result<(), String> {
    let stored = record::decode_event(bytes, Position::new(1)).map_err(|e| e.0)?;
    let (place, recorded_at) = (stored.place, stored.recorded_at);
    let stream = StreamId::new("fuzz-1").map_err(|e| e.to_string())?;
    let mut page = PageBuilder::with_capacity(1);
    page.push(stored, stream).map_err(|e| e.0)?;
    let event = page
        .finish()
        .pop()
        .ok_or_else(|| "a pushed event is missing".to_owned())?;
    let again = record::encode_event(
        &NewEvent {
            id: event.id,
            event_type: event.event_type,
            data: event.data,
            metadata: event.metadata,
        },
        place,
        recorded_at,
    );
    assert_eq!(again, bytes, "a decoded record encodes to other bytes");
    Ok(())
}

/// Decodes `bytes` as a stored snapshot; one that decodes must encode back to `bytes`.
pub fn decode_snapshot_record(bytes: &[u8]) -> Result<(), String> {
    let snapshot = record::decode_snapshot(bytes).map_err(|e| e.0)?;
    assert_eq!(
        record::encode_snapshot(&snapshot),
        bytes,
        "a decoded snapshot encodes to other bytes"
    );
    Ok(())
}
