//! A consumer group under crashes: 4 members consume 50,000 events while `cairn serve` is
//! killed with SIGKILL 10 times and members leave and join at random. The group is made and
//! inspected with the CLI (`cairn groups create`, `cairn groups status --json`).
//!
//! Checked, from what the members saw (each receipt numbered in the order the test saw it):
//! - no event is lost: every event is acknowledged in the end;
//! - per-key order: between two kills, each stream's deliveries come in log order over all
//!   members (a redelivery repeats the last position, never an earlier one);
//! - duplicates only for deliveries in flight: an event whose acknowledgement was answered is
//!   never delivered again;
//! - the checkpoint never passes an unacknowledged event: after each restart, every event at
//!   or before the checkpoint had an acknowledgement sent.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use common::{KillOnDrop, client, kill, serve};
use serde_json::{Value, json};

const KILLS: usize = 10;
const EVENTS_PER_CYCLE: usize = 5_000;
const STREAMS: usize = 200;
const MEMBERS: usize = 4;

/// What the members saw.
#[derive(Default)]
struct Seen {
    /// (receipt number, epoch, stream, position, attempt), in receipt order.
    receipts: Vec<(u64, usize, String, u64, u64)>,
    /// Position → the receipt number when its acknowledgement was answered.
    answered: BTreeMap<u64, u64>,
    /// Positions whose acknowledgement was sent, answered or not.
    ack_sent: BTreeSet<u64>,
    duplicates: usize,
}

struct Shared {
    seen: Mutex<Seen>,
    receipt: AtomicU64,
    stop: AtomicBool,
}

impl Shared {
    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn append_cycle(http: &reqwest::Client, url: &str, cycle: usize) {
    common::append_counted(http, url, cycle, EVENTS_PER_CYCLE, STREAMS).await;
}

/// Polls and acknowledges as member slot `slot` until the server goes away or the test says
/// stop; leaves and joins again under a new id now and then, and asks for a retry of about
/// one delivery in fifty.
async fn member(
    http: reqwest::Client,
    url: String,
    slot: usize,
    epoch: usize,
    shared: Arc<Shared>,
) {
    let mut generation = 0;
    while !shared.stop.load(Ordering::Relaxed) {
        let id = format!("m{slot}-e{epoch}-g{generation}");
        let Ok(reply) = http
            .post(format!("{url}/v1/groups/load/poll"))
            .json(&json!({"member": id, "max": 500, "wait_ms": 200}))
            .send()
            .await
        else {
            return;
        };
        let Ok(body) = reply.json::<Value>().await else {
            return;
        };
        let Some(deliveries) = body["deliveries"].as_array() else {
            panic!("a poll failed: {body}");
        };
        let mut acks = Vec::new();
        let mut retries = Vec::new();
        {
            let mut seen = shared.seen();
            for d in deliveries {
                let receipt = shared.receipt.fetch_add(1, Ordering::SeqCst);
                let position = d["event"]["position"].as_u64().expect("position");
                let stream = d["event"]["stream"].as_str().expect("stream").to_owned();
                seen.receipts.push((
                    receipt,
                    epoch,
                    stream,
                    position,
                    d["attempt"].as_u64().expect("a number"),
                ));
                let id = d["delivery"].as_str().expect("id").to_owned();
                if fastrand::u8(..50) == 0 {
                    retries.push(id);
                } else {
                    seen.ack_sent.insert(position);
                    acks.push((id, position));
                }
            }
        }
        if !acks.is_empty() {
            let ids: Vec<&String> = acks.iter().map(|(id, _)| id).collect();
            let Ok(reply) = http
                .post(format!("{url}/v1/groups/load/ack"))
                .json(&json!({"deliveries": ids}))
                .send()
                .await
            else {
                return;
            };
            match reply.status().as_u16() {
                200 => {
                    let answered = shared.receipt.fetch_add(1, Ordering::SeqCst);
                    let mut seen = shared.seen();
                    for (_, position) in &acks {
                        seen.answered.insert(*position, answered);
                    }
                }
                // A lease ran out or went back while this member held it: delivered again.
                409 => {}
                status => panic!("ack: {status} {:?}", reply.text().await),
            }
        }
        if !retries.is_empty() {
            let sent = http
                .post(format!("{url}/v1/groups/load/nack"))
                .json(&json!({"deliveries": retries, "action": "retry", "reason": "try later"}))
                .send()
                .await;
            if sent.is_err() {
                return;
            }
        }
        if fastrand::u8(..20) == 0 {
            // Leave, and come back as another member.
            let _ = http
                .delete(format!("{url}/v1/groups/load/members/{id}"))
                .send()
                .await;
            generation += 1;
        }
    }
}

async fn status(http: &reqwest::Client, url: &str) -> Value {
    http.get(format!("{url}/v1/groups/load"))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON")
}

fn start_members(
    http: &reqwest::Client,
    url: &str,
    epoch: usize,
    shared: &Arc<Shared>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..MEMBERS)
        .map(|slot| {
            tokio::spawn(member(
                http.clone(),
                url.to_owned(),
                slot,
                epoch,
                Arc::clone(shared),
            ))
        })
        .collect()
}

/// The checks on what was seen, after the epoch `epoch` restarted with `checkpoint`.
fn check(seen: &Seen, checkpoint: u64) {
    // The checkpoint passed only events whose acknowledgement was sent.
    if let Some(first_unsent) = (1..=checkpoint).find(|p| !seen.ack_sent.contains(p)) {
        panic!("the checkpoint {checkpoint} passed {first_unsent}, never acknowledged");
    }
    // Per-key order within each epoch, over all members.
    let mut last: BTreeMap<(usize, &str), u64> = BTreeMap::new();
    for (receipt, epoch, stream, position, _) in &seen.receipts {
        if let Some(before) = last.insert((*epoch, stream), *position) {
            assert!(
                before <= *position,
                "{stream} went back from {before} to {position} in epoch {epoch} (receipt {receipt})"
            );
        }
    }
    // No event delivered again after its acknowledgement was answered.
    for (receipt, _, _, position, _) in &seen.receipts {
        if let Some(answered) = seen.answered.get(position) {
            assert!(
                receipt < answered,
                "{position} was delivered again (receipt {receipt}) after its ack was answered ({answered})"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_event_is_lost_or_reordered_across_kills_and_members_coming_and_going() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let (running, mut url) = serve(&data);
    let mut running = KillOnDrop::new(running);
    let (ok, out, err) = client(&url, &["groups", "create", "load", "--category", "acct"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("made"), "{out}");

    let shared = Arc::new(Shared {
        seen: Mutex::default(),
        receipt: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    for cycle in 0..KILLS {
        append_cycle(&http, &url, cycle).await;
        let members = start_members(&http, &url, cycle, &shared);
        tokio::time::sleep(Duration::from_millis(fastrand::u64(300..1_500))).await;
        kill(running.take());
        for member in members {
            member.await.expect("a member ends when the server goes");
        }
        let (restarted, restarted_url) = serve(&data);
        running = KillOnDrop::new(restarted);
        url = restarted_url;
        let checkpoint = status(&http, &url).await["checkpoint"]
            .as_u64()
            .expect("checkpoint");
        check(&shared.seen(), checkpoint);
    }

    // Let the members finish the log.
    let total = (KILLS * EVENTS_PER_CYCLE) as u64;
    let members = start_members(&http, &url, KILLS, &shared);
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let now = status(&http, &url).await;
        if now["checkpoint"] == total && now["in_flight"] == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the group never caught up: {now}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    shared.stop.store(true, Ordering::Relaxed);
    for member in members {
        member.await.expect("a member stops");
    }
    let mut seen = shared.seen();
    check(&seen, total);
    let delivered: BTreeSet<u64> = seen.receipts.iter().map(|r| r.3).collect();
    assert_eq!(delivered.len() as u64, total, "every event was delivered");
    seen.duplicates = seen.receipts.len() - delivered.len();
    println!(
        "{} deliveries of {total} events over {KILLS} kills: {} delivered again (in flight at a kill, a retry asked for, or a member that left)",
        seen.receipts.len(),
        seen.duplicates
    );
    let (ok, out, err) = client(&url, &["groups", "status", "load", "--json"]);
    assert!(ok, "{err}");
    let status: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(status["lag"], 0, "{status}");
    assert_eq!(status["parked"], 0, "{status}");
    kill(running.take());
}
