//! The byte layout of stored values: event records, snapshots and read model entries, each
//! ending in a checksum that every read verifies.
//!
//! An event record (the value of `events`, keyed by its position). Numbers marked `var` are
//! unsigned LEB128 in the fewest bytes (a longer spelling is refused, so a record has one
//! encoding); small numbers, the common case, take one or two bytes.
//!
//! ```text
//! u8   format (3)
//! [16] event id
//! var  stream id
//! var  version in the stream
//! var  recorded_at (ms since the epoch)
//! var  type length,     then the type (UTF-8)
//! var  data length,     then the data (JSON text)
//! var  metadata length, then the metadata (JSON object text)
//! u32  checksum (little-endian): CRC-32 of the position (u64, little-endian), then of every
//!      byte above
//! ```
//!
//! The checksum covers the key too, so a record that turns up under another position is
//! refused as well as one whose bytes changed. Layout 2 of the database stored format 2, the
//! same record without the checksum; [`decode_layout_2_event`] reads it for the migration
//! (`migrate.rs`). Layout 1 stored format 1 (the numbers little-endian: position and
//! recorded_at as u64, the lengths as u32), without the stream id and version, which were the
//! key; [`decode_layout_1_event`] reads it.
//!
//! A snapshot (the value of `snapshots`): `u8 format (2)`, `u64 version`, the state bytes, then
//! `u32` CRC-32 of the bytes before it. Layout 2 stored format 1, without the checksum.
//!
//! A read model entry (the value of `model_entries`): the value's bytes, then `u32` CRC-32 of
//! them ([`seal_value`], [`open_value`]). Layout 2 stored the bare value.
//!
//! A checksum that does not match is a [`Damage`] (for events, naming the position), never data.
//! Decoding checks every length against the bytes present and every text for UTF-8, so a value
//! that passes its checksum but does not decode is an error too, never a panic. Data and
//! metadata are not parsed again: they were checked as JSON before they were written. Verifying
//! costs one CRC over bytes the read holds already (crc32fast, with the CPU's carry-less
//! multiply), and no allocation.

use std::ops::Range;
use std::sync::Arc;

use crate::error::{Damage, StorageError};
use crate::event::{EventId, EventType, NewEvent, RecordedEvent, Timestamp};
use crate::json::Json;
use crate::snapshot::Snapshot;
use crate::stream_id::StreamId;
use crate::version::{Position, Version};

const RECORD_FORMAT: u8 = 3;
const LAYOUT_2_RECORD_FORMAT: u8 = 2;
const LAYOUT_1_RECORD_FORMAT: u8 = 1;
const SNAPSHOT_FORMAT: u8 = 2;
const LAYOUT_2_SNAPSHOT_FORMAT: u8 = 1;
/// The bytes of the checksum at the end of every stored value.
pub(super) const CHECKSUM_BYTES: usize = 4;

/// A stored value that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Corrupt(pub(crate) String);

impl From<Corrupt> for StorageError {
    fn from(corrupt: Corrupt) -> Self {
        StorageError::Corrupt(corrupt.0)
    }
}

/// Where an event is stored: its place in the global log and in its stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EventPlace {
    pub(crate) position: Position,
    pub(crate) stream_id: u64,
    pub(crate) version: u64,
}

/// Encodes `event` as stored at `place`, written at `recorded_at`.
pub(crate) fn encode_event(event: &NewEvent, place: EventPlace, recorded_at: Timestamp) -> Vec<u8> {
    let mut out = encode_fields(
        RECORD_FORMAT,
        event.id,
        place,
        recorded_at,
        [
            event.event_type.as_str().as_bytes(),
            event.data.as_str().as_bytes(),
            event.metadata.as_str().as_bytes(),
        ],
    );
    seal_event(&mut out, place.position);
    out
}

/// Encodes `stored` again in the current format, for the migration: its fields as they were.
pub(crate) fn reencode(stored: &StoredEvent<'_>) -> Vec<u8> {
    let mut out = encode_fields(
        RECORD_FORMAT,
        stored.id,
        stored.place,
        stored.recorded_at,
        [stored.event_type, stored.data, stored.metadata],
    );
    seal_event(&mut out, stored.place.position);
    out
}

/// Encodes `stored` as layout 2 stored it (format 2, no checksum), for the migration from
/// layout 1, which goes through layout 2.
pub(crate) fn encode_layout_2_event(stored: &StoredEvent<'_>) -> Vec<u8> {
    encode_fields(
        LAYOUT_2_RECORD_FORMAT,
        stored.id,
        stored.place,
        stored.recorded_at,
        [stored.event_type, stored.data, stored.metadata],
    )
}

/// Appends the checksum of an event record whose bytes so far are `out`, stored at `position`.
pub(crate) fn seal_event(out: &mut Vec<u8>, position: Position) {
    let checksum = event_checksum(position, out);
    out.extend_from_slice(&checksum.to_le_bytes());
}

/// The checksum of the event record `body` (the bytes before its checksum) at `position`.
fn event_checksum(position: Position, body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&position.get().to_le_bytes());
    hasher.update(body);
    hasher.finalize()
}

/// Splits a stored value into its bytes and the checksum that ends it, if it is long enough.
pub(super) fn split_checksum(bytes: &[u8]) -> Option<(&[u8], u32)> {
    let at = bytes.len().checked_sub(CHECKSUM_BYTES)?;
    let (body, checksum) = bytes.split_at(at);
    let checksum: [u8; CHECKSUM_BYTES] = checksum.try_into().ok()?;
    Some((body, u32::from_le_bytes(checksum)))
}

/// The bytes of a stored value whose checksum is CRC-32 of them alone (snapshots and read model
/// entries), once the checksum matches.
fn checked_body(bytes: &[u8]) -> Result<&[u8], Corrupt> {
    let (body, checksum) =
        split_checksum(bytes).ok_or_else(|| Corrupt("shorter than its checksum".to_owned()))?;
    if crc32fast::hash(body) != checksum {
        return Err(Corrupt(CHECKSUM_MISMATCH.to_owned()));
    }
    Ok(body)
}

/// The reason given for a value whose checksum does not match.
pub(super) const CHECKSUM_MISMATCH: &str = "its checksum does not match its bytes";

/// A read model's value as stored: the value, then its checksum.
pub(crate) fn seal_value(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + CHECKSUM_BYTES);
    out.extend_from_slice(value);
    out.extend_from_slice(&crc32fast::hash(value).to_le_bytes());
    out
}

/// The value of a stored read model entry, once its checksum matches.
pub(crate) fn open_value(stored: &[u8]) -> Result<&[u8], Corrupt> {
    checked_body(stored)
}

/// The record of an event with `id` at `place`, written at `recorded_at`, whose type, data and
/// metadata are `fields`, in record format `format`, without a checksum.
fn encode_fields(
    format: u8,
    id: EventId,
    place: EventPlace,
    recorded_at: Timestamp,
    fields: [&[u8]; 3],
) -> Vec<u8> {
    let text: usize = fields.iter().map(|field| field.len()).sum();
    let mut out = Vec::with_capacity(1 + 16 + 3 * 10 + 3 * 10 + text + CHECKSUM_BYTES);
    out.push(format);
    out.extend_from_slice(id.as_uuid().as_bytes());
    // The position is the record's key, not part of it.
    for number in [place.stream_id, place.version, recorded_at.as_millis()] {
        put_var(&mut out, number);
    }
    for field in fields {
        put_var(&mut out, field.len() as u64);
        out.extend_from_slice(field);
    }
    out
}

/// Appends `number` as unsigned LEB128 in the fewest bytes.
pub(super) fn put_var(out: &mut Vec<u8>, mut number: u64) {
    loop {
        let low = (number & 0x7f) as u8;
        number >>= 7;
        if number == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

/// A decoded record that still borrows the stored bytes, so filters can look at the type before
/// anything is copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredEvent<'a> {
    pub(crate) id: EventId,
    pub(crate) place: EventPlace,
    pub(crate) recorded_at: Timestamp,
    pub(crate) event_type: &'a [u8],
    pub(crate) data: &'a [u8],
    pub(crate) metadata: &'a [u8],
}

/// How many bytes of text the events of one read share in one buffer.
const TEXT_CHUNK: usize = 64 * 1024;

/// Builds the events of one read.
///
/// Their data and metadata texts are copied into shared buffers of [`TEXT_CHUNK`] bytes, so a
/// read makes one allocation per few hundred events rather than one per event: allocating and
/// freeing per event was the largest cost of a read. Chunks stay small enough to come from the
/// heap, not from fresh memory mappings. Consecutive events usually repeat their type, so a
/// type is shared with the previous event.
#[derive(Debug, Default)]
pub(crate) struct PageBuilder {
    /// Events whose texts are in sealed chunks are complete. The rest, from `first_open` on,
    /// hold `{}` until their chunk is sealed.
    events: Vec<RecordedEvent>,
    first_open: usize,
    /// The chunk being filled, and where each open event's data and metadata lie in it.
    open: String,
    open_spans: Vec<(Range<usize>, Range<usize>)>,
    last_type: Option<EventType>,
}

impl PageBuilder {
    pub(crate) fn with_capacity(events: usize) -> Self {
        Self {
            events: Vec::with_capacity(events),
            ..Self::default()
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    /// Adds `stored`, an event of `stream`.
    pub(crate) fn push(
        &mut self,
        stored: StoredEvent<'_>,
        stream: StreamId,
    ) -> Result<(), Corrupt> {
        let event_type = match &self.last_type {
            Some(last) if last.as_str().as_bytes() == stored.event_type => last.clone(),
            _ => {
                let fresh = EventType::from_stored(utf8("type", stored.event_type)?)
                    .map_err(|e| Corrupt(format!("event type {e}")))?;
                self.last_type.insert(fresh).clone()
            }
        };
        let (data, metadata) = (
            utf8("data", stored.data)?,
            utf8("metadata", stored.metadata)?,
        );
        if !self.open.is_empty() && self.open.len() + data.len() + metadata.len() > TEXT_CHUNK {
            self.seal();
        }
        if self.open.capacity() == 0 {
            self.open
                .reserve(TEXT_CHUNK.max(data.len() + metadata.len()));
        }
        let spans = (self.copy_text(data), self.copy_text(metadata));
        self.open_spans.push(spans);
        self.events.push(RecordedEvent {
            id: stored.id,
            stream,
            version: Version::new(stored.place.version),
            position: stored.place.position,
            event_type,
            data: Json::empty_object(),
            metadata: Json::empty_object(),
            recorded_at: stored.recorded_at,
        });
        Ok(())
    }

    /// Appends a whole `&str` to the open chunk, so the span lies on character boundaries.
    fn copy_text(&mut self, text: &str) -> Range<usize> {
        let start = self.open.len();
        self.open.push_str(text);
        start..self.open.len()
    }

    /// Turns the open chunk into a shared buffer and points its events' texts into it.
    fn seal(&mut self) {
        let chunk = Arc::new(std::mem::take(&mut self.open));
        let open_events = &mut self.events[self.first_open..];
        for (event, (data, metadata)) in open_events.iter_mut().zip(self.open_spans.drain(..)) {
            event.data = Json::from_trusted(Arc::clone(&chunk), data);
            event.metadata = Json::from_trusted(Arc::clone(&chunk), metadata);
        }
        self.first_open = self.events.len();
    }

    pub(crate) fn finish(mut self) -> Vec<RecordedEvent> {
        self.seal();
        self.events
    }
}

/// Checks what [`PageBuilder::push`] checks of a record's texts (UTF-8, a valid type), without
/// building an event: for `verify.rs`.
pub(crate) fn check_texts(stored: &StoredEvent<'_>) -> Result<(), Corrupt> {
    EventType::new(utf8("type", stored.event_type)?)
        .map_err(|e| Corrupt(format!("event type {e}")))?;
    utf8("data", stored.data)?;
    utf8("metadata", stored.metadata)?;
    Ok(())
}

fn utf8<'a>(field: &str, bytes: &'a [u8]) -> Result<&'a str, Corrupt> {
    std::str::from_utf8(bytes).map_err(|e| Corrupt(format!("{field} is not UTF-8: {e}")))
}

/// Decodes the event record stored at `position`, once its checksum matches. Text fields are
/// checked for UTF-8 when they become events ([`PageBuilder`]), so filters can compare raw bytes
/// first.
pub(crate) fn decode_event(bytes: &[u8], position: Position) -> Result<StoredEvent<'_>, Damage> {
    let (body, checksum) = split_checksum(bytes)
        .ok_or_else(|| Damage::event(position, "the record is shorter than its checksum"))?;
    if event_checksum(position, body) != checksum {
        return Err(Damage::event(position, CHECKSUM_MISMATCH));
    }
    decode_fields(body, position, RECORD_FORMAT).map_err(|e| Damage::event(position, e.0))
}

/// Decodes the event record that layout 2 stored at `position` (format 2, no checksum), for the
/// migration.
pub(crate) fn decode_layout_2_event(
    bytes: &[u8],
    position: Position,
) -> Result<StoredEvent<'_>, Corrupt> {
    decode_fields(bytes, position, LAYOUT_2_RECORD_FORMAT)
}

/// Decodes the bytes of an event record of format `expected` before its checksum.
fn decode_fields(
    bytes: &[u8],
    position: Position,
    expected: u8,
) -> Result<StoredEvent<'_>, Corrupt> {
    let mut r = Reader { bytes, at: 0 };
    let format = r.u8()?;
    if format != expected {
        return Err(Corrupt(format!("unknown event record format {format}")));
    }
    let id = EventId::from(uuid::Uuid::from_bytes(r.array()?));
    let place = EventPlace {
        position,
        stream_id: r.var()?,
        version: r.var()?,
    };
    let recorded_at = Timestamp::from_millis(r.var()?);
    let event_type = r.var_field()?;
    let data = r.var_field()?;
    let metadata = r.var_field()?;
    r.end_of_event(StoredEvent {
        id,
        place,
        recorded_at,
        event_type,
        data,
        metadata,
    })
}

/// Decodes the event `version` of stream `stream_id` as layout 1 stored it (format 1, without
/// the stream id and version), for the migration.
pub(crate) fn decode_layout_1_event(
    bytes: &[u8],
    stream_id: u64,
    version: u64,
) -> Result<StoredEvent<'_>, Corrupt> {
    let mut r = Reader { bytes, at: 0 };
    let format = r.u8()?;
    if format != LAYOUT_1_RECORD_FORMAT {
        return Err(Corrupt(format!(
            "unknown event record format {format} in a layout 1 database"
        )));
    }
    let id = EventId::from(uuid::Uuid::from_bytes(r.array()?));
    let place = EventPlace {
        position: Position::new(r.u64()?),
        stream_id,
        version,
    };
    let recorded_at = Timestamp::from_millis(r.u64()?);
    let event_type = r.field()?;
    let data = r.field()?;
    let metadata = r.field()?;
    r.end_of_event(StoredEvent {
        id,
        place,
        recorded_at,
        event_type,
        data,
        metadata,
    })
}

/// Encodes a snapshot.
pub(crate) fn encode_snapshot(snapshot: &Snapshot) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + snapshot.state.len() + CHECKSUM_BYTES);
    out.push(SNAPSHOT_FORMAT);
    out.extend_from_slice(&snapshot.version.get().to_le_bytes());
    out.extend_from_slice(&snapshot.state);
    let checksum = crc32fast::hash(&out);
    out.extend_from_slice(&checksum.to_le_bytes());
    out
}

/// Decodes a snapshot, once its checksum matches.
pub(crate) fn decode_snapshot(bytes: &[u8]) -> Result<Snapshot, Corrupt> {
    decode_snapshot_fields(checked_body(bytes)?, SNAPSHOT_FORMAT)
}

/// Decodes a snapshot as layout 2 stored it (format 1, no checksum), for the migration.
pub(crate) fn decode_layout_2_snapshot(bytes: &[u8]) -> Result<Snapshot, Corrupt> {
    decode_snapshot_fields(bytes, LAYOUT_2_SNAPSHOT_FORMAT)
}

fn decode_snapshot_fields(bytes: &[u8], expected: u8) -> Result<Snapshot, Corrupt> {
    let mut r = Reader { bytes, at: 0 };
    let format = r.u8()?;
    if format != expected {
        return Err(Corrupt(format!("unknown snapshot format {format}")));
    }
    let version = Version::new(r.u64()?);
    Ok(Snapshot {
        version,
        state: bytes[r.at..].to_vec(),
    })
}

/// A cursor over a stored value that refuses to read past its end.
pub(super) struct Reader<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Corrupt> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| {
                Corrupt(format!(
                    "truncated: needs {n} bytes at offset {}, has {}",
                    self.at,
                    self.bytes.len()
                ))
            })?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    pub(super) fn array<const N: usize>(&mut self) -> Result<[u8; N], Corrupt> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(super) fn u8(&mut self) -> Result<u8, Corrupt> {
        Ok(self.array::<1>()?[0])
    }

    fn u64(&mut self) -> Result<u64, Corrupt> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A length-prefixed field.
    fn field(&mut self) -> Result<&'a [u8], Corrupt> {
        let len = u32::from_le_bytes(self.array()?);
        self.take(usize::try_from(len).unwrap_or(usize::MAX))
    }

    /// An unsigned LEB128 number in the fewest bytes.
    pub(super) fn var(&mut self) -> Result<u64, Corrupt> {
        let mut number = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            if shift == 63 && byte > 1 {
                return Err(Corrupt("a number past 64 bits".to_owned()));
            }
            number |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                if shift > 0 && byte == 0 {
                    return Err(Corrupt("a number spelled with a needless byte".to_owned()));
                }
                return Ok(number);
            }
        }
        Err(Corrupt("a number past 64 bits".to_owned()))
    }

    /// A field whose length is an LEB128 number.
    pub(super) fn var_field(&mut self) -> Result<&'a [u8], Corrupt> {
        let len = self.var()?;
        self.take(usize::try_from(len).unwrap_or(usize::MAX))
    }

    /// `event`, if nothing follows it.
    fn end_of_event(self, event: StoredEvent<'a>) -> Result<StoredEvent<'a>, Corrupt> {
        if self.at != self.bytes.len() {
            return Err(Corrupt(format!(
                "{} stray bytes after the event record",
                self.bytes.len() - self.at
            )));
        }
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> NewEvent {
        NewEvent::new(
            EventType::new("CustomerCreated").expect("valid"),
            Json::parse(r#"{"name": "Ada", "email": "ada@example.com"}"#).expect("valid"),
        )
        .with_metadata(Json::parse(r#"{"trace": "t-1"}"#).expect("valid"))
    }

    fn place(position: u64) -> EventPlace {
        EventPlace {
            position: Position::new(position),
            stream_id: 5,
            version: 3,
        }
    }

    #[test]
    fn an_event_round_trips() {
        let event = sample();
        let bytes = encode_event(&event, place(42), Timestamp::from_millis(1_700));
        let stored = decode_event(&bytes, Position::new(42)).expect("decodes");
        assert_eq!(stored.id, event.id);
        assert_eq!(stored.place, place(42));
        assert_eq!(stored.recorded_at, Timestamp::from_millis(1_700));
        assert_eq!(stored.event_type, b"CustomerCreated");
        assert_eq!(stored.data, event.data.as_str().as_bytes());
        assert_eq!(stored.metadata, event.metadata.as_str().as_bytes());
        let mut page = PageBuilder::default();
        page.push(stored, StreamId::new("customer-1").expect("valid"))
            .expect("decodes");
        let recorded = page.finish().remove(0);
        assert_eq!(recorded.event_type, event.event_type);
        assert_eq!(recorded.data, event.data);
        assert_eq!(recorded.metadata, event.metadata);
        assert_eq!(
            (recorded.version, recorded.position),
            (Version::new(3), Position::new(42))
        );
    }

    #[test]
    fn every_truncation_and_extension_is_corrupt_not_a_panic() {
        let bytes = encode_event(&sample(), place(1), Timestamp::from_millis(0));
        for cut in 0..bytes.len() {
            assert!(
                decode_event(&bytes[..cut], Position::new(1)).is_err(),
                "cut at {cut} decoded"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_event(&longer, Position::new(1)).is_err());
    }

    /// `bytes` with its checksum replaced by the one its other bytes have at `position`.
    fn resealed(mut bytes: Vec<u8>, position: u64) -> Vec<u8> {
        bytes.truncate(bytes.len() - CHECKSUM_BYTES);
        seal_event(&mut bytes, Position::new(position));
        bytes
    }

    #[test]
    fn a_wrong_format_or_bad_utf8_is_corrupt() {
        let mut bytes = encode_event(&sample(), place(1), Timestamp::from_millis(0));
        bytes[0] = 9;
        let error = decode_event(&resealed(bytes, 1), Position::new(1)).expect_err("bad format");
        assert!(error.reason.contains("format 9"), "{error}");
        assert_eq!(
            decode_event(
                &resealed(encode_layout_2_event(&stored_sample()), 1),
                Position::new(1)
            )
            .expect_err("format 2 is not read as 3")
            .reason,
            "unknown event record format 2"
        );
        let mut bytes = encode_event(&sample(), place(1), Timestamp::from_millis(0));
        // Stream id 5, version 3, time 0 and the type's length take a byte each.
        let type_at = 1 + 16 + 3 + 1;
        bytes[type_at] = 0xff;
        let bytes = resealed(bytes, 1);
        let stored = decode_event(&bytes, Position::new(1)).expect("the layout is intact");
        let stream = StreamId::new("s").expect("valid");
        let error = PageBuilder::default()
            .push(stored, stream)
            .expect_err("bad utf-8");
        assert!(error.0.contains("UTF-8"), "{error}");
        let mut huge_length = bytes[..1 + 16 + 3].to_vec();
        put_var(&mut huge_length, u64::MAX);
        seal_event(&mut huge_length, Position::new(1));
        assert!(decode_event(&huge_length, Position::new(1)).is_err());
    }

    fn stored_sample() -> StoredEvent<'static> {
        StoredEvent {
            id: EventId::from(uuid::Uuid::from_u128(7)),
            place: place(1),
            recorded_at: Timestamp::from_millis(5),
            event_type: b"Opened",
            data: br#"{"owner":"o7777"}"#,
            metadata: b"{}",
        }
    }

    #[test]
    fn every_flipped_bit_of_an_event_record_is_damage_naming_its_position() {
        let bytes = encode_event(&sample(), place(42), Timestamp::from_millis(1_700));
        for at in 0..bytes.len() {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[at] ^= 1 << bit;
                let error = decode_event(&damaged, Position::new(42))
                    .expect_err("a flipped bit is refused");
                assert_eq!(
                    error.record,
                    crate::error::StoredRecord::Event {
                        position: Position::new(42)
                    }
                );
                assert_eq!(error.reason, CHECKSUM_MISMATCH, "byte {at} bit {bit}");
            }
        }
        let error = decode_event(&bytes, Position::new(43)).expect_err("another position");
        assert_eq!(error.reason, CHECKSUM_MISMATCH);
        assert!(decode_event(&bytes[..3], Position::new(42)).is_err());
    }

    #[test]
    fn a_layout_2_record_decodes_and_reencodes_with_a_checksum() {
        let stored = stored_sample();
        let layout_2 = encode_layout_2_event(&stored);
        assert_eq!(layout_2[0], 2);
        let decoded = decode_layout_2_event(&layout_2, Position::new(1)).expect("decodes");
        assert_eq!(decoded, stored);
        let current = reencode(&decoded);
        assert_eq!(current.len(), layout_2.len() + CHECKSUM_BYTES);
        assert_eq!(decode_event(&current, Position::new(1)), Ok(stored));
        assert!(decode_layout_2_event(&current, Position::new(1)).is_err());
    }

    #[test]
    fn a_read_model_value_is_sealed_and_a_damaged_one_refused() {
        let sealed = seal_value(b"balance=5");
        assert_eq!(open_value(&sealed), Ok(&b"balance=5"[..]));
        assert_eq!(open_value(&seal_value(b"")), Ok(&b""[..]));
        let mut damaged = sealed.clone();
        damaged[3] ^= 1;
        assert_eq!(
            open_value(&damaged),
            Err(Corrupt(CHECKSUM_MISMATCH.to_owned()))
        );
        assert!(open_value(&sealed[..3]).is_err());
    }

    #[test]
    fn numbers_round_trip_in_the_fewest_bytes_and_no_other_spelling_decodes() {
        for number in [0, 1, 127, 128, 300, 1_795_000_000_000, u64::MAX] {
            let mut bytes = Vec::new();
            put_var(&mut bytes, number);
            let mut r = Reader {
                bytes: &bytes,
                at: 0,
            };
            assert_eq!(r.var(), Ok(number));
            assert_eq!(r.at, bytes.len());
        }
        let refused: [&[u8]; 4] = [
            &[0x80, 0x00],
            &[0xff, 0x00],
            &[0xff; 10],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
        ];
        for bytes in refused {
            let mut r = Reader { bytes, at: 0 };
            assert!(r.var().is_err(), "{bytes:?} decoded");
        }
    }

    #[test]
    fn a_layout_1_record_decodes_with_its_place_from_the_key() {
        let event = sample();
        // Format 1: format, id, position, recorded_at, then the three fields.
        let mut bytes = vec![1];
        bytes.extend_from_slice(event.id.as_uuid().as_bytes());
        bytes.extend_from_slice(&42u64.to_le_bytes());
        bytes.extend_from_slice(&1_700u64.to_le_bytes());
        for field in [
            event.event_type.as_str(),
            event.data.as_str(),
            event.metadata.as_str(),
        ] {
            bytes.extend_from_slice(&(field.len() as u32).to_le_bytes());
            bytes.extend_from_slice(field.as_bytes());
        }
        let stored = decode_layout_1_event(&bytes, 5, 3).expect("decodes");
        assert_eq!(stored.place, place(42));
        assert_eq!(stored.recorded_at, Timestamp::from_millis(1_700));
        assert_eq!(stored.data, event.data.as_str().as_bytes());
        assert!(
            decode_event(&bytes, Position::new(42)).is_err(),
            "format 1 is not read as 2"
        );
        let current = encode_event(&event, place(42), Timestamp::from_millis(1_700));
        assert!(decode_layout_1_event(&current, 5, 3).is_err());
        for cut in 0..bytes.len() {
            assert!(decode_layout_1_event(&bytes[..cut], 5, 3).is_err());
        }
    }

    #[test]
    fn a_snapshot_round_trips_and_truncation_is_corrupt() {
        let snapshot = Snapshot {
            version: Version::new(7),
            state: vec![1, 2, 3],
        };
        let bytes = encode_snapshot(&snapshot);
        assert_eq!(decode_snapshot(&bytes).expect("decodes"), snapshot);
        for cut in 0..bytes.len() {
            assert!(decode_snapshot(&bytes[..cut]).is_err());
        }
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x10;
            assert!(decode_snapshot(&damaged).is_err(), "byte {at}");
        }
        let layout_2 = &bytes[..bytes.len() - CHECKSUM_BYTES];
        let mut layout_2 = layout_2.to_vec();
        layout_2[0] = LAYOUT_2_SNAPSHOT_FORMAT;
        assert_eq!(decode_layout_2_snapshot(&layout_2), Ok(snapshot));
    }
}
