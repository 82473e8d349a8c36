//! The decoders of stored values (what the fuzz targets in `fuzz/` run), on a record built by
//! hand and on random and damaged bytes: a value or an error, never a panic, and a value that
//! decodes encodes back to the same bytes. The entry points add the checksum that ends every
//! stored value, so the records here are built without one.

use cairn_store::fuzzing::{decode_event_record, decode_snapshot_record};
use proptest::prelude::*;

/// `number` as unsigned LEB128.
fn var(out: &mut Vec<u8>, mut number: u64) {
    while number >= 0x80 {
        out.push((number & 0x7f) as u8 | 0x80);
        number >>= 7;
    }
    out.push(number as u8);
}

/// A well-formed event record, laid out as `record.rs` documents, without its checksum.
fn record(event_type: &str, data: &str, metadata: &str) -> Vec<u8> {
    let mut out = vec![3];
    out.extend_from_slice(&[7; 16]);
    // Stream id, version, recorded_at.
    for number in [3u64, 9, 1_700_000_000_000] {
        var(&mut out, number);
    }
    for field in [event_type, data, metadata] {
        var(&mut out, field.len() as u64);
        out.extend_from_slice(field.as_bytes());
    }
    out
}

#[test]
fn a_well_formed_record_decodes_and_a_damaged_one_is_an_error() {
    let good = record("Deposited", r#"{"amount":5}"#, "{}");
    assert_eq!(decode_event_record(&good), Ok(()));
    for cut in 0..good.len() {
        assert!(decode_event_record(&good[..cut]).is_err(), "cut at {cut}");
    }
    let mut stray = good.clone();
    stray.push(0);
    assert!(decode_event_record(&stray).is_err());
    let mut format = good.clone();
    format[0] = 1;
    assert!(decode_event_record(&format).is_err(), "layout 1's format");
    format[0] = 2;
    assert!(decode_event_record(&format).is_err(), "layout 2's format");
    let mut long_spelling = good[..17].to_vec();
    long_spelling.extend_from_slice(&[0x83, 0x00]);
    long_spelling.extend_from_slice(&good[18..]);
    assert!(
        decode_event_record(&long_spelling).is_err(),
        "a stream id of 3 in two bytes"
    );
    assert!(decode_event_record(&record("bad\ntype", "{}", "{}")).is_err());
    assert!(
        decode_event_record(&record("T", "{}", "\u{0}")).is_ok(),
        "texts are not parsed again"
    );
    let mut not_utf8 = record("T", "{}", "{}");
    let at = not_utf8.len() - 3;
    not_utf8[at] = 0xff;
    assert!(decode_event_record(&not_utf8).is_err());

    let mut snapshot = vec![2];
    snapshot.extend_from_slice(&9u64.to_le_bytes());
    snapshot.extend_from_slice(b"state");
    assert_eq!(decode_snapshot_record(&snapshot), Ok(()));
    assert!(decode_snapshot_record(&snapshot[..5]).is_err());
}

proptest! {
    #[test]
    fn any_bytes_decode_or_fail_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_event_record(&bytes);
        let _ = decode_snapshot_record(&bytes);
    }

    #[test]
    fn flipped_bytes_of_a_record_decode_or_fail_without_panicking(at in 0usize..80, bit in 0u8..8) {
        let mut bytes = record("Deposited", r#"{"amount":5}"#, "{}");
        let at = at % bytes.len();
        bytes[at] ^= 1 << bit;
        let _ = decode_event_record(&bytes);
    }
}
