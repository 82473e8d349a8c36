//! The kill cycle: `cairn serve` under a write storm is killed with SIGKILL at a random moment,
//! restarted, and checked against everything it acknowledged.
//!
//! The storm: 32 clients over 1,000 streams. 24 of them append to ledger streams they own
//! (single events and batches, at the exact version they know or `any`, each event with its own
//! id); 8 send `bank_account` commands with an `Idempotency-Key`. `account_balances` projects
//! the accounts meanwhile. Each reply is recorded: acknowledged, or in doubt when the kill cut
//! it off.
//!
//! After every kill:
//! - each read model `account_balances` keeps equals a fold from scratch (the example's own
//!   code, natively) of the log up to its checkpoint;
//! - every acknowledged append is there, at the versions and positions it was given, and an
//!   append in doubt is there whole or not at all;
//! - the global log runs 1, 2, 3, ... with each event once, and each stream's versions run
//!   1, 2, 3, ... in it;
//! - retrying an acknowledged append (same ids) or command (same key) returns the original
//!   result;
//! - every balance equals the fold of its account's events, and none is negative;
//! - every event a command appended names a command the command log holds, whose entry names
//!   that event's place, and every logged command's events are there.
//!
//! 10 cycles; `CAIRN_SOAK=1` runs 50.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_sdk::projection_glue::{RawEvent, apply};
use cairn_sdk::read_model::{Kv, MemoryKv};
use cairn_store::{
    AllRead, CommandId, CommandLog, EventLog, ModuleName, Modules, Position, ReadModelName,
    ReadModels, RedbOptions, RedbStore, Verdict,
};
use common::{get_json, kill, serve};
use serde_json::{Value, json};

const LEDGER_STREAMS: usize = 900;
const ACCOUNTS: usize = 100;
const APPENDERS: usize = 24;
const COMMANDERS: usize = 8;

fn cycles() -> usize {
    if std::env::var("CAIRN_SOAK").is_ok_and(|v| v == "1") {
        50
    } else {
        10
    }
}

/// An acknowledged append, and the request that made it.
#[derive(Clone, Debug)]
struct AppendAck {
    stream: String,
    ids: Vec<String>,
    request: Value,
    reply: Value,
}

/// An acknowledged command, and the request that made it.
#[derive(Clone, Debug)]
struct CommandAck {
    account: String,
    key: String,
    command: Value,
    reply: Value,
}

/// What the storm saw.
#[derive(Default)]
struct Record {
    appends: Vec<AppendAck>,
    commands: Vec<CommandAck>,
    /// Appends cut off by the kill: (stream, event ids).
    appends_in_doubt: Vec<(String, Vec<String>)>,
}

type Shared = Arc<Mutex<Record>>;

fn record(shared: &Shared) -> std::sync::MutexGuard<'_, Record> {
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The stream's version, or `None` if the server is gone.
async fn version_of(http: &reqwest::Client, url: &str, stream: &str) -> Option<u64> {
    let reply = http
        .get(format!(
            "{url}/v1/streams/{stream}?direction=backward&limit=1"
        ))
        .send()
        .await
        .ok()?;
    let body: Value = reply.json().await.ok()?;
    body["version"].as_u64()
}

/// Appends to the ledger streams client `client` owns until the server goes away.
async fn appender(http: reqwest::Client, url: String, client: usize, shared: Shared) {
    let streams: Vec<String> = (client..LEDGER_STREAMS)
        .step_by(APPENDERS)
        .map(|k| format!("ledger-{k}"))
        .collect();
    let mut versions: HashMap<String, u64> = HashMap::new();
    loop {
        let stream = streams[fastrand::usize(..streams.len())].clone();
        let version = match versions.get(&stream) {
            Some(version) => *version,
            None => match version_of(&http, &url, &stream).await {
                Some(version) => version,
                None => return,
            },
        };
        let count = if fastrand::bool() {
            1
        } else {
            fastrand::usize(2..=10)
        };
        let ids: Vec<String> = (0..count)
            .map(|_| uuid::Uuid::new_v4().to_string())
            .collect();
        let events: Vec<Value> = ids
            .iter()
            .map(|id| json!({"id": id, "type": "Entered", "data": {"client": client}}))
            .collect();
        let expected = if fastrand::u8(..10) < 8 {
            json!(version)
        } else {
            json!("any")
        };
        let request = json!({"expected_version": expected, "events": events});
        let sent = http
            .post(format!("{url}/v1/streams/{stream}"))
            .json(&request)
            .send()
            .await;
        let reply = match sent {
            Ok(reply) => reply,
            Err(_) => {
                record(&shared).appends_in_doubt.push((stream, ids));
                return;
            }
        };
        let status = reply.status().as_u16();
        let Ok(body) = reply.json::<Value>().await else {
            record(&shared).appends_in_doubt.push((stream, ids));
            return;
        };
        match status {
            201 => {
                versions.insert(stream.clone(), body["last_version"].as_u64().expect("v"));
                record(&shared).appends.push(AppendAck {
                    stream,
                    ids,
                    request,
                    reply: body,
                });
            }
            409 => {
                // Only an append in doubt from before the kill can have moved the stream.
                versions.insert(stream, body["actual"].as_u64().expect("actual"));
            }
            other => panic!("an append got {other}: {body}"),
        }
    }
}

/// Sends commands to the accounts client `client` owns until the server goes away.
async fn commander(http: reqwest::Client, url: String, client: usize, shared: Shared) {
    let accounts: Vec<String> = (client..ACCOUNTS)
        .step_by(COMMANDERS)
        .map(|k| format!("a{k}"))
        .collect();
    let mut opened: HashSet<String> = HashSet::new();
    loop {
        let account = accounts[fastrand::usize(..accounts.len())].clone();
        let command = if !opened.contains(&account) {
            json!({"type": "Open", "data": {"owner": account}})
        } else if fastrand::bool() {
            json!({"type": "Deposit", "data": {"amount": fastrand::i64(1..100)}})
        } else {
            json!({"type": "Withdraw", "data": {"amount": fastrand::i64(1..150)}})
        };
        let key = uuid::Uuid::new_v4().to_string();
        let sent = http
            .post(format!(
                "{url}/v1/aggregates/bank_account/{account}/commands"
            ))
            .header("idempotency-key", &key)
            .json(&command)
            .send()
            .await;
        let Ok(reply) = sent else { return };
        let status = reply.status().as_u16();
        let Ok(body) = reply.json::<Value>().await else {
            return;
        };
        match status {
            200 => {
                opened.insert(account.clone());
                record(&shared).commands.push(CommandAck {
                    account,
                    key,
                    command,
                    reply: body,
                });
            }
            // Already open (a command in doubt opened it), or not enough money.
            422 if body["error"] == "rejected" => {
                opened.insert(account);
            }
            other => panic!("a command got {other}: {body}"),
        }
    }
}

/// The log's events in order (checking positions run 1, 2, 3, ... and ids are unique), as
/// the store has them.
async fn whole_log(store: &RedbStore) -> Vec<cairn_store::RecordedEvent> {
    let slice = store
        .read_all(AllRead::after(Position::START))
        .await
        .expect("reads");
    let mut ids = HashSet::new();
    for (index, event) in slice.events.iter().enumerate() {
        assert_eq!(event.position.get(), index as u64 + 1, "a gap in the log");
        assert!(
            ids.insert(event.id),
            "event {} is in the log twice",
            event.id
        );
    }
    assert_eq!(slice.events.len() as u64, slice.head.get());
    slice.events
}

/// The command log agrees with the events: every event a command appended names a command the
/// log holds, whose entry names exactly that event's place; every appended entry's events are
/// in the log, and name it.
async fn check_command_log(store: &RedbStore, log: &[cairn_store::RecordedEvent]) {
    let mut entries = HashMap::new();
    let mut after = None;
    loop {
        let page = store.read_commands(after, 1_000).await.expect("reads");
        let Some(last) = page.last() else { break };
        after = Some(last.command.id);
        entries.extend(page.into_iter().map(|entry| (entry.command.id, entry)));
    }
    let mut named = HashSet::new();
    for event in log.iter().filter(|e| e.stream.category() == "bank_account") {
        let metadata: Value = serde_json::from_str(event.metadata.as_str()).expect("JSON");
        let id = metadata["command_id"].as_str().expect("provenance");
        let id = CommandId::parse(id).expect("a command id");
        named.insert(id);
        let entry = entries.get(&id).unwrap_or_else(|| {
            panic!("event {} names command {id}, which the log lacks", event.id)
        });
        let Verdict::Appended {
            first_version,
            last_version,
            first_position,
            last_position,
        } = entry.verdict
        else {
            panic!(
                "command {id} appended event {} but its entry says otherwise",
                event.id
            );
        };
        assert!(
            (first_version..=last_version).contains(&event.version)
                && (first_position..=last_position).contains(&event.position),
            "command {id}'s entry does not cover event {} at {}/{}",
            event.id,
            event.version,
            event.position
        );
        assert_eq!(entry.command.stream, event.stream);
        assert_eq!(
            event.version.get() - first_version.get(),
            event.position.get() - first_position.get()
        );
    }
    for (id, entry) in &entries {
        assert!(
            named.contains(id),
            "command {id} is logged but no event names it: {entry:?}"
        );
    }
}

/// Checks the log and the projection's read models, with the server down.
async fn check_store(data: &Path) {
    let store = RedbStore::open(data.join("store"), RedbOptions::default())
        .await
        .expect("the store opens after a kill");
    let log = whole_log(&store).await;
    // Each stream's versions run 1, 2, 3, ... in log order.
    let mut versions: HashMap<String, u64> = HashMap::new();
    for event in &log {
        let last = versions.entry(event.stream.to_string()).or_insert(0);
        assert_eq!(
            event.version.get(),
            *last + 1,
            "{} skips or repeats a version",
            event.stream
        );
        *last += 1;
    }

    check_command_log(&store, &log).await;

    let state = store
        .module_state(ModuleName::new("account_balances").expect("name"))
        .await
        .expect("reads")
        .map(|bytes| serde_json::from_slice::<Value>(&bytes).expect("JSON"))
        .unwrap_or(Value::Null);
    for slot in [&state["serving"], &state["building"]] {
        let Some(generation) = slot["generation"].as_u64() else {
            continue;
        };
        let model = ReadModelName::new(&format!("account_balances#g{generation}")).expect("name");
        let view = store.read_model(&model).expect("view");
        let checkpoint = view.checkpoint().map_or(0, Position::get);
        let mut fold = MemoryKv::default();
        let events = log
            .iter()
            .filter(|e| e.position.get() <= checkpoint && e.stream.category() == "bank_account")
            .map(|e| RawEvent {
                stream: e.stream.to_string(),
                version: e.version.get(),
                position: e.position.get(),
                event_type: e.event_type.to_string(),
                data: e.data.as_str().to_owned(),
                metadata: e.metadata.as_str().to_owned(),
                recorded_at: e.recorded_at.as_millis(),
            });
        apply::<account_balances::AccountBalances>(&mut fold, events)
            .expect("the log folds natively");
        assert_eq!(
            view.scan(b"", None, 1_000_000).expect("scan"),
            fold.scan(b"", None, u32::MAX),
            "{model} is not the fold of the log up to its checkpoint {checkpoint}"
        );
    }
    store.close().await;
}

/// Checks what was acknowledged against the restarted server at `url`.
async fn check_server(http: &reqwest::Client, url: &str, shared: &Shared, retry_from: usize) {
    let (appends, commands, in_doubt) = {
        let record = record(shared);
        (
            record.appends.clone(),
            record.commands.clone(),
            record.appends_in_doubt.clone(),
        )
    };
    let mut streams: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let touched: HashSet<&String> = appends
        .iter()
        .map(|a| &a.stream)
        .chain(in_doubt.iter().map(|(s, _)| s))
        .collect();
    for stream in touched {
        let body: Value = get_json(http, format!("{url}/v1/streams/{stream}?limit=10000")).await;
        streams.insert(
            stream.clone(),
            body["events"].as_array().expect("events").clone(),
        );
    }
    for ack in &appends {
        let events = &streams[&ack.stream];
        let first = ack.reply["first_version"].as_u64().expect("v");
        let first_position = ack.reply["first_position"].as_u64().expect("p");
        for (offset, id) in ack.ids.iter().enumerate() {
            let event = &events[(first - 1) as usize + offset];
            assert_eq!(
                event["id"],
                json!(id),
                "an acknowledged event moved or is lost"
            );
            assert_eq!(event["version"], first + offset as u64);
            assert_eq!(event["position"], first_position + offset as u64);
        }
    }
    for (stream, ids) in &in_doubt {
        let stored: Vec<&Value> = streams[stream]
            .iter()
            .filter(|e| ids.contains(&e["id"].as_str().unwrap_or_default().to_owned()))
            .collect();
        assert!(
            stored.is_empty() || stored.len() == ids.len(),
            "an append in doubt to {stream} is there in part: {} of {}",
            stored.len(),
            ids.len()
        );
    }
    for ack in appends.iter().skip(retry_from) {
        let reply = http
            .post(format!("{url}/v1/streams/{}", ack.stream))
            .json(&ack.request)
            .send()
            .await
            .expect("sent");
        assert_eq!(reply.status(), 201);
        let body: Value = reply.json().await.expect("JSON");
        assert_eq!(body, ack.reply, "a retried append gives another result");
    }

    let mut balances: BTreeMap<String, i64> = BTreeMap::new();
    for ack in &commands {
        balances.entry(ack.account.clone()).or_insert(0);
    }
    for (account, fold) in &mut balances {
        let body: Value = get_json(
            http,
            format!("{url}/v1/streams/bank_account-{account}?limit=10000"),
        )
        .await;
        for event in body["events"].as_array().expect("events") {
            let amount = event["data"]["amount"].as_i64().unwrap_or(0);
            match event["type"].as_str() {
                Some("Deposited") => *fold += amount,
                Some("Withdrawn") => *fold -= amount,
                _ => {}
            }
            assert!(*fold >= 0, "{account} went negative");
        }
        let state: Value =
            get_json(http, format!("{url}/v1/aggregates/bank_account/{account}")).await;
        assert_eq!(
            state["state"]["balance"],
            json!(*fold),
            "{account}: {state}"
        );
    }
    for ack in &commands {
        let reply = http
            .post(format!(
                "{url}/v1/aggregates/bank_account/{}/commands",
                ack.account
            ))
            .header("idempotency-key", &ack.key)
            .json(&ack.command)
            .send()
            .await
            .expect("sent");
        assert_eq!(reply.status(), 200);
        let body: Value = reply.json().await.expect("JSON");
        assert_eq!(
            (&body["version"], &body["events"]),
            (&ack.reply["version"], &ack.reply["events"]),
            "a retried command gives another result"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_acknowledged_is_lost_or_doubled_across_kills() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let http = reqwest::Client::new();
    let shared: Shared = Arc::default();
    let (mut server, mut url) = serve(&data);
    common::upload(&http, &url, "bank_account", "bank_account").await;
    common::upload(&http, &url, "account_balances", "account_balances").await;

    for cycle in 0..cycles() {
        let retry_from = record(&shared).appends.len();
        let mut clients = Vec::new();
        for client in 0..APPENDERS {
            clients.push(tokio::spawn(appender(
                http.clone(),
                url.clone(),
                client,
                Arc::clone(&shared),
            )));
        }
        for client in 0..COMMANDERS {
            clients.push(tokio::spawn(commander(
                http.clone(),
                url.clone(),
                client,
                Arc::clone(&shared),
            )));
        }
        tokio::time::sleep(Duration::from_millis(fastrand::u64(300..1_200))).await;
        kill(server);
        for client in clients {
            client.await.expect("a storm client panicked");
        }
        check_store(&data).await;
        (server, url) = serve(&data);
        check_server(&http, &url, &shared, retry_from).await;
        let record = record(&shared);
        eprintln!(
            "cycle {cycle}: {} appends and {} commands acknowledged, {} appends in doubt",
            record.appends.len(),
            record.commands.len(),
            record.appends_in_doubt.len()
        );
    }
    let record = record(&shared);
    assert!(
        record.appends.len() > 100 && record.commands.len() > 100,
        "the storm hardly wrote: {} appends, {} commands",
        record.appends.len(),
        record.commands.len()
    );
    drop(record);
    kill(server);
}
