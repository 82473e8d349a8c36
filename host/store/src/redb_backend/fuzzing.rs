//! Entry points for the fuzz targets in `fuzz/`, not part of the API: the decoders of stored
//! values, which must turn any bytes into a value or an error and never panic, and whose
//! values encode back to the same bytes.
//!
//! Stored values end in a checksum, which random bytes almost never match, so each entry point
//! decodes the input twice: as it is (it must be refused or decode, never panic), and with the
//! checksum of its bytes added, so the fuzzer reaches the decoder behind the checksum.

use super::record::{self, PageBuilder};
use crate::event::NewEvent;
use crate::stream_id::StreamId;
use crate::version::Position;

/// Decodes `body`, an event record without its checksum, as a read does once the checksum is
/// added. A record that decodes must encode back to exactly those bytes; that is asserted, so
/// the fuzzer reports a difference as a crash.
pub fn decode_event_record(body: &[u8]) -> Result<(), String> {
    let position = Position::new(1);
    let _ = record::decode_event(body, position);
    let mut sealed = body.to_vec();
    record::seal_event(&mut sealed, position);
    let stored = record::decode_event(&sealed, position).map_err(|e| e.reason)?;
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
    assert_eq!(again, sealed, "a decoded record encodes to other bytes");
    Ok(())
}

/// Decodes `body`, a snapshot without its checksum, once the checksum is added; one that
/// decodes must encode back to those bytes.
pub fn decode_snapshot_record(body: &[u8]) -> Result<(), String> {
    let _ = record::decode_snapshot(body);
    // A snapshot's checksum, like a read model value's, is CRC-32 of the bytes before it.
    let sealed = record::seal_value(body);
    let snapshot = record::decode_snapshot(&sealed).map_err(|e| e.0)?;
    assert_eq!(
        record::encode_snapshot(&snapshot),
        sealed,
        "a decoded snapshot encodes to other bytes"
    );
    Ok(())
}
