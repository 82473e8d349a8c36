//! The `cairn` process runs without transparent huge pages (see `disable_transparent_huge_pages`
//! in `src/main.rs` and docs/storage.md): a first touch of fresh heap must never stop the
//! store's writer while the kernel clears 2 MiB.

#![cfg(target_os = "linux")]

mod common;

use common::{kill, serve};

#[test]
fn a_serving_cairn_has_transparent_huge_pages_off() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (child, _url) = serve(dir.path());
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .expect("the server's /proc status");
    kill(child);
    // Linux reports the flag since 5.0; the prctl that sets it is older.
    let flag = status
        .lines()
        .find_map(|line| line.strip_prefix("THP_enabled:"))
        .expect("this kernel reports THP_enabled in /proc/PID/status");
    assert_eq!(flag.trim(), "0", "{status}");
}
