//! A projection's read model survives SIGKILL: `cairn serve` is killed at random moments while
//! a projection replays history, 20 times. After each kill, every read model the projection
//! keeps (the one serving, and one being rebuilt) equals a fold from scratch of the log up to
//! its own checkpoint: no event applied twice, none missed. A replay that finishes is started
//! again with a reset, so the kills keep landing mid-replay.
//!
//! The projection is the `picky-projection` test guest, which counts events by type, so an
//! event applied twice or missed shows in a count.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cairn_store::{
    AllRead, EventLog, ModuleName, Modules, Position, ReadModelName, ReadModels, RedbOptions,
    RedbStore,
};
use common::{kill, serve};
use serde_json::{Value, json};

const KILLS: usize = 20;
const EVENTS: usize = 60_000;
const TYPES: [&str; 3] = ["Opened", "Moved", "Closed"];

/// Counts by event type of the log up to each position: `counts[p]` covers `1..=p`.
async fn counts_by_position(store: &RedbStore) -> Vec<BTreeMap<String, i64>> {
    let slice = store
        .read_all(AllRead::after(Position::START))
        .await
        .expect("reads the log");
    let mut counts = vec![BTreeMap::new()];
    for event in slice.events {
        let mut next = counts.last().cloned().unwrap_or_default();
        *next.entry(event.event_type.to_string()).or_insert(0) += 1;
        counts.push(next);
    }
    counts
}

/// Checks every read model the projection keeps against a fold of the log up to its
/// checkpoint. Returns the kept lifecycle and each model's checkpoint.
async fn check_models(data: &Path) -> (Value, Vec<u64>) {
    let store = RedbStore::open(data.join("store"), RedbOptions::default())
        .await
        .expect("the store opens after a kill");
    let state = store
        .module_state(ModuleName::new("picky").expect("name"))
        .await
        .expect("reads")
        .map(|bytes| serde_json::from_slice::<Value>(&bytes).expect("JSON"))
        .unwrap_or(Value::Null);
    let folds = counts_by_position(&store).await;
    let mut checkpoints = Vec::new();
    for slot in [&state["serving"], &state["building"]] {
        let Some(generation) = slot["generation"].as_u64() else {
            continue;
        };
        let model = ReadModelName::new(&format!("picky#g{generation}")).expect("name");
        let view = store.read_model(&model).expect("view");
        let checkpoint = view.checkpoint().map_or(0, Position::get);
        let found: BTreeMap<String, i64> = view
            .scan(b"count/", None, 100)
            .expect("scan")
            .into_iter()
            .map(|(key, value)| {
                let key = String::from_utf8(key).expect("utf-8");
                let kind = key.strip_prefix("count/").expect("a count").to_owned();
                let count = serde_json::from_slice(&value).expect("a number");
                (kind, count)
            })
            .collect();
        assert_eq!(
            found, folds[checkpoint as usize],
            "{model} at checkpoint {checkpoint} is not the fold of the log up to it"
        );
        // `kinds` is counted by a scan inside `apply`: it must agree with the counts.
        let kinds: Option<usize> = view
            .get(b"kinds")
            .expect("reads")
            .map(|bytes| serde_json::from_slice(&bytes).expect("a number"));
        assert_eq!(
            kinds.unwrap_or(0),
            found.len(),
            "{model} at checkpoint {checkpoint}"
        );
        checkpoints.push(checkpoint);
    }
    store.close().await;
    (state, checkpoints)
}

async fn write_history(http: &reqwest::Client, url: &str) {
    for batch in 0..EVENTS / 1_000 {
        let events: Vec<Value> = (0..1_000)
            .map(|n| json!({"type": TYPES[(batch + n) % 3], "data": {"n": n}}))
            .collect();
        let reply = http
            .post(format!("{url}/v1/streams/ledger-{batch}"))
            .json(&json!({"expected_version": "no_stream", "events": events}))
            .send()
            .await
            .expect("sent");
        assert_eq!(
            reply.status(),
            201,
            "{}",
            reply.text().await.unwrap_or_default()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_model_equals_a_fold_to_its_checkpoint_after_every_kill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let picky = cairn_server::guests::build("picky-projection").expect("the test guest builds");
    let http = reqwest::Client::new();

    let (server, url) = serve(&data);
    write_history(&http, &url).await;
    let uploaded = http
        .put(format!("{url}/v1/modules/picky"))
        .header("content-type", "application/wasm")
        .body(picky)
        .send()
        .await
        .expect("sent");
    assert_eq!(uploaded.status(), 201);
    let mut server = Some(server);
    let mut kills_mid_replay = 0;
    for cycle in 0..KILLS {
        let running = match server.take() {
            Some(running) => running,
            None => {
                let (running, restarted) = serve(&data);
                let (_, status) = get(&http, &format!("{restarted}/v1/projections/picky")).await;
                if status["state"] == "live" && status["rebuilding"].is_null() {
                    // Replayed to the end: start another replay to kill.
                    let reset = http
                        .post(format!("{restarted}/v1/projections/picky/reset"))
                        .send()
                        .await
                        .expect("sent");
                    assert_eq!(reset.status(), 202);
                }
                running
            }
        };
        tokio::time::sleep(Duration::from_millis(fastrand::u64(0..150))).await;
        kill(running);
        let (state, checkpoints) = check_models(&data).await;
        assert!(
            !checkpoints.is_empty() || cycle == 0,
            "cycle {cycle}: no model is kept: {state}"
        );
        eprintln!("cycle {cycle}: {checkpoints:?}");
        if checkpoints.iter().any(|c| (*c as usize) < EVENTS) {
            kills_mid_replay += 1;
        }
    }
    assert!(
        kills_mid_replay >= KILLS / 2,
        "only {kills_mid_replay} of {KILLS} kills landed during a replay"
    );

    // After the last kill it finishes, and answers what the log says.
    let (mut running, url) = serve(&data);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, status) = get(&http, &format!("{url}/v1/projections/picky")).await;
        if status["state"] == "live" && status["rebuilding"].is_null() {
            break;
        }
        assert!(Instant::now() < deadline, "never finished: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (index, kind) in TYPES.iter().enumerate() {
        let answer = http
            .post(format!("{url}/v1/projections/picky/query"))
            .json(&json!({"type": "count", "event_type": kind}))
            .send()
            .await
            .expect("sent")
            .json::<Value>()
            .await
            .expect("JSON");
        // Batch b holds 1,000 events with types cycling from b % 3.
        let expected: usize = (0..EVENTS / 1_000)
            .map(|batch| (0..1_000).filter(|n| (batch + n) % 3 == index).count())
            .sum();
        assert_eq!(answer, json!({"count": expected}), "{kind}");
    }
    Command::new("kill")
        .args(["-TERM", &running.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(running.wait().expect("exits").success());
    check_models(&data).await;
}

async fn get(http: &reqwest::Client, url: &str) -> (u16, Value) {
    let reply = http.get(url).send().await.expect("sent");
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}
