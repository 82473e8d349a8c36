//! Reads have a byte budget: large events read through `/v1/all`, `/v1/streams` and an SSE
//! subscriber that stops reading cannot take the server's memory.
//! The real `cairn serve` is measured from outside, by its peak resident memory (`VmHWM`).
//!
//! Before the budget, `GET /v1/all?limit=10000` over 1 MB events took the server from 20 MB to
//! 1.4 GB, four at once to 2.9 GB, and each SSE subscriber that stopped reading pinned about
//! 305 MB.

mod common;

use std::time::Duration;

use common::{kill, serve};
use serde_json::{Value, json};

/// Events of about 900 KB (an append's body is limited to 1 MiB).
const EVENT_BYTES: usize = 900_000;
/// 120 of them: about 108 MB in the log.
const EVENTS: usize = 120;
/// The peak the server may reach serving all of it below, many times over the default read
/// budget (4 MiB a page) and far under what one unbounded read took.
const PEAK_LIMIT_BYTES: u64 = 300 * 1024 * 1024;

/// The peak resident memory of process `pid`, in bytes.
fn peak_resident(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kb * 1024
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_events_read_every_way_at_once_stay_within_a_stated_peak() {
    let dir = tempfile::tempdir().expect("dir");
    let (server, url) = serve(dir.path());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client");
    let big = "x".repeat(EVENT_BYTES);
    for n in 0..EVENTS {
        let reply = http
            .post(format!("{url}/v1/streams/big-1"))
            .json(&json!({"events": [{"type": "Big", "data": {"n": n, "blob": big}}]}))
            .send()
            .await
            .expect("append");
        assert_eq!(reply.status(), 201, "append {n}");
    }
    drop(big);
    let before = peak_resident(server.id());

    // An SSE subscriber from the start that reads its headers and then nothing more.
    let stalled = tokio::net::TcpStream::connect(url.trim_start_matches("http://"))
        .await
        .expect("connects");
    stalled.writable().await.expect("writable");
    stalled
        .try_write(b"GET /v1/subscribe?after=0 HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("request sent");

    // Four readers of the whole log and four of the whole stream, at once, each paging to the
    // end as a client must.
    let mut readers = Vec::new();
    for reader in 0..8 {
        let (http, url) = (http.clone(), url.clone());
        readers.push(tokio::spawn(async move {
            let mut seen = 0usize;
            let mut after = 0u64;
            loop {
                let page: Value = if reader % 2 == 0 {
                    http.get(format!("{url}/v1/all?after={after}&limit=10000"))
                        .send()
                        .await
                        .expect("read")
                        .json()
                        .await
                        .expect("json")
                } else {
                    http.get(format!(
                        "{url}/v1/streams/big-1?from={}&limit=10000",
                        after + 1
                    ))
                    .send()
                    .await
                    .expect("read")
                    .json()
                    .await
                    .expect("json")
                };
                let events = page["events"].as_array().expect("events");
                assert!(
                    !events.is_empty() || seen == EVENTS,
                    "{reader}: an empty page at {after}"
                );
                seen += events.len();
                if seen >= EVENTS {
                    break;
                }
                after = if reader % 2 == 0 {
                    page["scanned_to"].as_u64().expect("scanned_to")
                } else {
                    events.last().expect("an event")["version"]
                        .as_u64()
                        .expect("version")
                };
            }
            seen
        }));
    }
    for reader in readers {
        assert_eq!(
            reader.await.expect("reader"),
            EVENTS,
            "a reader missed events"
        );
    }
    let peak = peak_resident(server.id());
    drop(stalled);
    kill(server);
    assert!(
        peak < PEAK_LIMIT_BYTES,
        "the server peaked at {} MiB serving {} MiB of events (it was at {} MiB before the reads)",
        peak / (1024 * 1024),
        EVENTS * EVENT_BYTES / (1024 * 1024),
        before / (1024 * 1024)
    );
}
