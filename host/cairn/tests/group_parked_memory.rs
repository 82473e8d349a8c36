//! 100,000 parked events of a consumer group replay in bounded memory: the replay reads them
//! from the store a page at a time, never whole (KurrentDB#2181 loaded them all and crashed).
//!
//! `cairn serve` holds a group over 100,000 events of 2 KiB (about 200 MiB of data) on 1,000
//! streams. A member parks the first event of each stream, so every later one is parked
//! behind it: 100,000 parked. The server's resident memory is read from /proc after that
//! (the store's page cache is warm by then: parking read every event), and sampled every
//! 50 ms while all of them are replayed and acknowledged. Its growth must stay far below the
//! data's size; the figures are printed.

mod common;

use std::time::{Duration, Instant};

use common::{KillOnDrop, kill, serve};
use serde_json::{Value, json};

const STREAMS: usize = 1_000;
const PER_STREAM: usize = 100;
const EVENTS: usize = STREAMS * PER_STREAM;
const DATA_BYTES: usize = 2_048;
/// The most the server's memory may grow while it replays: a fifth of the events' data.
const GROWTH_LIMIT: u64 = 40 * 1024 * 1024;

/// The server's resident set, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kib * 1024
}

async fn post(http: &reqwest::Client, url: &str, body: Value) -> Value {
    let reply = http.post(url).json(&body).send().await.expect("answers");
    let status = reply.status();
    let body: Value = reply.json().await.expect("JSON");
    assert!(status.is_success(), "{url}: {status} {body}");
    body
}

async fn status(http: &reqwest::Client, url: &str) -> Value {
    http.get(format!("{url}/v1/groups/g"))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_thousand_parked_events_replay_in_bounded_memory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let (running, url) = serve(&dir.path().join("data"));
    let pid = running.id();
    let mut running = KillOnDrop::new(running);
    post(
        &http,
        &format!("{url}/v1/groups"),
        json!({"name": "g", "filter": {"categories": ["big"]}}),
    )
    .await;
    let filler = "x".repeat(DATA_BYTES);
    for stream in 0..STREAMS {
        let events: Vec<Value> = (0..PER_STREAM)
            .map(|n| json!({"type": "Big", "data": {"n": n, "filler": filler}}))
            .collect();
        post(
            &http,
            &format!("{url}/v1/streams/big-{stream}"),
            json!({"expected_version": "no_stream", "events": events}),
        )
        .await;
    }

    // Park the first event of every stream; the rest park behind them as they are read.
    let deadline = Instant::now() + Duration::from_secs(300);
    while status(&http, &url).await["parked"].as_u64() < Some(EVENTS as u64) {
        let page = post(
            &http,
            &format!("{url}/v1/groups/g/poll"),
            json!({"member": "m", "max": 1000, "wait_ms": 200}),
        )
        .await;
        let ids: Vec<Value> = page["deliveries"]
            .as_array()
            .expect("deliveries")
            .iter()
            .map(|d| d["delivery"].clone())
            .collect();
        if !ids.is_empty() {
            post(
                &http,
                &format!("{url}/v1/groups/g/nack"),
                json!({"deliveries": ids, "action": "park", "reason": "not yet"}),
            )
            .await;
        }
        assert!(Instant::now() < deadline, "{}", status(&http, &url).await);
    }
    let before = rss(pid);

    let replayed = post(
        &http,
        &format!("{url}/v1/groups/g/parked/replay"),
        json!({"all": true}),
    )
    .await;
    assert_eq!(replayed["count"], EVENTS);
    let mut peak = rss(pid);
    let mut acked = 0;
    let mut last_sample = Instant::now();
    while acked < EVENTS {
        let page = post(
            &http,
            &format!("{url}/v1/groups/g/poll"),
            json!({"member": "m", "max": 1000, "wait_ms": 200}),
        )
        .await;
        let ids: Vec<Value> = page["deliveries"]
            .as_array()
            .expect("deliveries")
            .iter()
            .map(|d| d["delivery"].clone())
            .collect();
        if !ids.is_empty() {
            acked += ids.len();
            post(
                &http,
                &format!("{url}/v1/groups/g/ack"),
                json!({"deliveries": ids}),
            )
            .await;
        }
        if last_sample.elapsed() >= Duration::from_millis(50) {
            peak = peak.max(rss(pid));
            last_sample = Instant::now();
        }
        assert!(Instant::now() < deadline, "{}", status(&http, &url).await);
    }
    peak = peak.max(rss(pid));
    let done = status(&http, &url).await;
    assert_eq!(done["parked"], 0, "{done}");
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    println!(
        "replaying {EVENTS} parked events of {DATA_BYTES} B: the server's RSS was {:.1} MiB before, {:.1} MiB at its peak (+{:.1} MiB; the events' data is {:.1} MiB)",
        mib(before),
        mib(peak),
        mib(peak.saturating_sub(before)),
        mib((EVENTS * DATA_BYTES) as u64)
    );
    assert!(
        peak.saturating_sub(before) < GROWTH_LIMIT,
        "the server grew by {:.1} MiB while it replayed",
        mib(peak.saturating_sub(before))
    );
    kill(running.take());
}
