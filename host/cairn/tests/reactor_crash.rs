//! Reactors execute each command exactly once under crashes: `cairn serve` is killed with
//! SIGKILL 20 times while 32 clients request transfers between 100 bank accounts, which the
//! `transfers` process manager carries out (withdraw, deposit, compensate, settle).
//!
//! After each restart, once the reactor has caught up and executed every intent:
//! - no command of the reactor was executed twice: every command id (derived from its
//!   intent's key) names exactly one append in the log;
//! - every transfer acknowledged is completed or failed (compensated), and every transfer cut
//!   off by the kill is that too, or was never stored;
//! - the money over all accounts is what was deposited at the start, and no account is
//!   negative.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{kill, serve};
use serde_json::{Value, json};

const KILLS: usize = 20;
const CLIENTS: usize = 32;
const ACCOUNTS: usize = 100;
const OPENING: i64 = 10_000;

/// The transfers the storm asked for: acknowledged, or cut off by the kill.
#[derive(Default)]
struct Requested {
    acknowledged: Vec<String>,
    in_doubt: Vec<String>,
}

async fn command(
    http: &reqwest::Client,
    url: &str,
    module: &str,
    id: &str,
    key: &str,
    body: Value,
) -> Option<(u16, Value)> {
    let reply = http
        .post(format!("{url}/v1/aggregates/{module}/{id}/commands"))
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .ok()?;
    let status = reply.status().as_u16();
    let body = reply.json().await.ok()?;
    Some((status, body))
}

async fn get(http: &reqwest::Client, url: &str) -> Value {
    http.get(url)
        .send()
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("JSON")
}

/// Requests transfers between random accounts until the server goes away.
async fn client(
    http: reqwest::Client,
    url: String,
    client: usize,
    cycle: usize,
    requested: Arc<Mutex<Requested>>,
) {
    for n in 0.. {
        let from = fastrand::usize(..ACCOUNTS);
        let to = (from + fastrand::usize(1..ACCOUNTS)) % ACCOUNTS;
        let id = format!("t{cycle}x{client}x{n}");
        let body = json!({"type": "Request", "data": {
            "from": format!("a{from}"), "to": format!("a{to}"), "amount": fastrand::i64(1..=3_000),
        }});
        let reply = command(&http, &url, "transfer", &id, &id, body).await;
        let mut requested = requested
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match reply {
            Some((200, _)) => requested.acknowledged.push(id),
            Some((status, body)) => panic!("transfer {id}: {status} {body}"),
            None => {
                requested.in_doubt.push(id);
                return;
            }
        }
    }
}

/// Waits until the reactor has reacted to the whole log and executed every intent it issued.
async fn settled(http: &reqwest::Client, url: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let status = get(http, &format!("{url}/v1/reactors/transfers")).await;
        if status["lag"] == 0
            && status["intents_issued"] == status["intents_executed"]
            && status["state"] == "live"
        {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the reactor never settled: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every event of the log.
async fn log(http: &reqwest::Client, url: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let page = get(http, &format!("{url}/v1/all?after={after}&limit=1000")).await;
        let batch = page["events"].as_array().cloned().unwrap_or_default();
        events.extend(batch);
        let scanned = page["scanned_to"].as_u64().unwrap_or(after);
        if scanned >= page["head"].as_u64().unwrap_or(0) {
            return events;
        }
        after = scanned;
    }
}

/// The checks of one restart.
async fn check(http: &reqwest::Client, url: &str, requested: &Requested, cycle: usize) {
    let status = settled(http, url).await;
    assert_eq!(status["parked"], 0, "cycle {cycle}: {status}");
    let events = log(http, url).await;

    // No command of the reactor executed twice: each appends one event, under its id.
    let mut commands_by_id: BTreeMap<String, usize> = BTreeMap::new();
    for event in events
        .iter()
        .filter(|e| e["metadata"]["reactor"] == "transfers")
    {
        *commands_by_id
            .entry(
                event["metadata"]["command_id"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
            .or_default() += 1;
    }
    let twice: Vec<_> = commands_by_id.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "cycle {cycle}: commands executed more than once: {twice:?}"
    );
    // Whatever key it ran under: the process manager sends one command per event it reacts to,
    // so no event caused two appends to one stream.
    let mut caused: BTreeMap<(String, String), usize> = BTreeMap::new();
    for event in events
        .iter()
        .filter(|e| e["metadata"]["reactor"] == "transfers")
    {
        let cause = event["metadata"]["causation_id"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let stream = event["stream"].as_str().unwrap_or("").to_owned();
        *caused.entry((cause, stream)).or_default() += 1;
    }
    let doubled: Vec<_> = caused.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        doubled.is_empty(),
        "cycle {cycle}: an event caused two commands to one stream: {doubled:?}"
    );

    // Every transfer settled.
    let mut stages: BTreeMap<String, String> = BTreeMap::new();
    for event in &events {
        let stream = event["stream"].as_str().unwrap_or("");
        if let Some(id) = stream.strip_prefix("transfer-") {
            let stage = match event["type"].as_str().unwrap_or("") {
                "Requested" => "requested",
                "Completed" => "completed",
                "Failed" => "failed",
                other => panic!("a transfer event of type {other}"),
            };
            stages.insert(id.to_owned(), stage.to_owned());
        }
    }
    for id in &requested.acknowledged {
        let stage = stages.get(id).map(String::as_str);
        assert!(
            matches!(stage, Some("completed" | "failed")),
            "cycle {cycle}: transfer {id} is {stage:?}"
        );
    }
    for id in &requested.in_doubt {
        let stage = stages.get(id).map(String::as_str);
        assert!(
            matches!(stage, None | Some("completed" | "failed")),
            "cycle {cycle}: transfer {id} in doubt is {stage:?}"
        );
    }

    // Money conserved, none negative.
    let mut total = 0;
    for account in 0..ACCOUNTS {
        let state = get(
            http,
            &format!("{url}/v1/aggregates/bank_account/a{account}"),
        )
        .await;
        let balance = state["state"]["balance"].as_i64().expect("a balance");
        assert!(balance >= 0, "cycle {cycle}: a{account} is at {balance}");
        total += balance;
    }
    assert_eq!(
        total,
        OPENING * ACCOUNTS as i64,
        "cycle {cycle}: money was made or lost"
    );
    eprintln!(
        "cycle {cycle}: {} transfers ({} in doubt), {} reactor commands, each once",
        requested.acknowledged.len(),
        requested.in_doubt.len(),
        commands_by_id.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_command_executes_once_and_money_is_conserved_across_kills() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let (mut running, url) = serve(&data);
    common::upload(&http, &url, "bank_account", "bank_account").await;
    common::upload(&http, &url, "transfer", "transfer").await;
    common::upload(&http, &url, "transfers", "transfers").await;
    for account in 0..ACCOUNTS {
        let id = format!("a{account}");
        let open = json!({"type": "Open", "data": {"owner": id}});
        assert_eq!(
            command(&http, &url, "bank_account", &id, "open", open)
                .await
                .map(|r| r.0),
            Some(200)
        );
        let deposit = json!({"type": "Deposit", "data": {"amount": OPENING}});
        assert_eq!(
            command(&http, &url, "bank_account", &id, "opening", deposit)
                .await
                .map(|r| r.0),
            Some(200)
        );
    }
    let requested = Arc::new(Mutex::new(Requested::default()));
    let mut url = url;
    for cycle in 0..KILLS {
        let storm: Vec<_> = (0..CLIENTS)
            .map(|c| {
                tokio::spawn(client(
                    http.clone(),
                    url.clone(),
                    c,
                    cycle,
                    Arc::clone(&requested),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(fastrand::u64(200..900))).await;
        kill(running);
        for task in storm {
            task.await.expect("the client ends when the server goes");
        }
        let (restarted, restarted_url) = serve(&data);
        running = restarted;
        url = restarted_url;
        let snapshot = {
            let requested = requested
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Requested {
                acknowledged: requested.acknowledged.clone(),
                in_doubt: requested.in_doubt.clone(),
            }
        };
        check(&http, &url, &snapshot, cycle).await;
    }
    kill(running);
}
