//! Several `cairn serve` nodes on one PostgreSQL, as an operator runs them: each started with
//! `--store postgres://...` on a throwaway cluster (`cairn-pg-cluster`), the real
//! `bank_account` module uploaded to one of them.
//!
//! - A module uploaded on one node is served by the others.
//! - Withdrawals race on the same accounts through different nodes: no account goes below
//!   zero, every accepted withdrawal's event is stored once, and an SSE subscriber on one node
//!   sees every event appended through the others, in position order, with no gap. A plan
//!   of another build of the module on a third node replays every account and decides every
//!   logged command again, and finds no change.
//! - Appends and reads through all three nodes are linearizable (the single-node suite's
//!   checker, `common/linearizable.rs`).
//! - The node running the projections is killed with SIGKILL under commands: another takes
//!   them over, and every node's queries reach the fold of the log.
//! - PostgreSQL stopped under writers: every node's `/healthz` turns 503, nothing acknowledged
//!   is lost, and the nodes serve again by themselves once it is back.

mod common;
#[path = "common/linearizable.rs"]
mod linearizable;
#[path = "common/linearizable_client.rs"]
mod linearizable_client;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_pg_cluster::{Cluster, Options};
use common::{KillOnDrop, bank_command, get_json, head, serve_with};
use serde_json::{Value, json};

const ACCOUNTS: usize = 8;
const CLIENTS: usize = 64;
const WITHDRAWALS_PER_CLIENT: usize = 6;
const OPENING_BALANCE: i64 = 100;
const WITHDRAWAL: i64 = 30;

/// Nodes serving the database at `url`, each with its own data directory under `dir`.
fn nodes(dir: &std::path::Path, url: &str, count: usize) -> (Vec<KillOnDrop>, Vec<String>) {
    (0..count)
        .map(|n| {
            let (child, address) = serve_with(&dir.join(format!("node-{n}")), &["--store", url]);
            (KillOnDrop::new(child), address)
        })
        .unzip()
}

/// Waits until the node at `url` lists module `name`.
async fn serves_module(http: &reqwest::Client, url: &str, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed = get_json(http, format!("{url}/v1/modules")).await;
        let names: Vec<&str> = listed["modules"]
            .as_array()
            .map(|m| m.iter().filter_map(|m| m["name"].as_str()).collect())
            .unwrap_or_default();
        if names.contains(&name) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{url} never loaded {name}: {listed}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads the SSE subscription of the node at `url` from the start, pushing each event's
/// position (its `id:`) until `until` has been seen.
async fn subscribe(url: String, seen: Arc<Mutex<Vec<u64>>>) {
    let mut reply = reqwest::Client::new()
        .get(format!("{url}/v1/subscribe"))
        .send()
        .await
        .expect("subscribed");
    assert_eq!(reply.status(), 200);
    let mut pending = String::new();
    while let Some(chunk) = reply.chunk().await.expect("the stream goes on") {
        pending.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = pending.find('\n') {
            let line: String = pending.drain(..=end).collect();
            if let Some(id) = line.trim_end().strip_prefix("id: ") {
                let position = id.parse().expect("a position");
                seen.lock().expect("not poisoned").push(position);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_one_log_and_race_fairly() {
    let cluster = Cluster::start(Options::default()).expect("PostgreSQL starts");
    let url = cluster.create_database("nodes").expect("a database");
    let dir = tempfile::tempdir().expect("temp dir");
    let (_nodes, urls) = nodes(dir.path(), &url, 3);
    let http = reqwest::Client::new();

    // Uploaded on one node, served by every node.
    common::upload(&http, &urls[0], "bank_account", "bank_account").await;
    for node in &urls {
        serves_module(&http, node, "bank_account").await;
    }

    let seen = Arc::new(Mutex::new(Vec::new()));
    let subscriber = tokio::spawn(subscribe(urls[2].clone(), Arc::clone(&seen)));

    let accounts: Vec<String> = (0..ACCOUNTS).map(|n| format!("acct-{n}")).collect();
    for (n, account) in accounts.iter().enumerate() {
        let node = &urls[n % urls.len()];
        let (status, body) = bank_command(
            &http,
            node,
            account,
            json!({"type": "Open", "data": {"owner": account}}),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let deposit = json!({"type": "Deposit", "data": {"amount": OPENING_BALANCE}});
        let (status, body) = bank_command(&http, node, account, deposit, None).await;
        assert_eq!(status, 200, "{body}");
    }

    // 64 clients withdraw from the same accounts through all three nodes.
    let accepted: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (http, node) = (http.clone(), urls[client % urls.len()].clone());
        let (accounts, accepted) = (accounts.clone(), Arc::clone(&accepted));
        clients.push(tokio::spawn(async move {
            for round in 0..WITHDRAWALS_PER_CLIENT {
                let account = &accounts[(client + round) % accounts.len()];
                let withdraw = json!({"type": "Withdraw", "data": {"amount": WITHDRAWAL}});
                let (status, body) = bank_command(&http, &node, account, withdraw, None).await;
                match status {
                    200 => {
                        assert_eq!(body["events"].as_array().map(Vec::len), Some(1), "{body}");
                        *accepted
                            .lock()
                            .expect("not poisoned")
                            .entry(account.clone())
                            .or_default() += 1;
                    }
                    422 => assert_eq!(body["error"], "rejected", "{body}"),
                    other => panic!("withdrawal through {node}: {other} {body}"),
                }
            }
        }));
    }
    for client in clients {
        client.await.expect("the client ran");
    }

    let accepted = accepted.lock().expect("not poisoned").clone();
    for account in &accounts {
        let stream = get_json(
            &http,
            format!("{}/v1/streams/bank_account-{account}?limit=1000", urls[1]),
        )
        .await;
        let events = stream["events"].as_array().expect("events");
        let withdrawn = events.iter().filter(|e| e["type"] == "Withdrawn").count();
        // Each race had one winner: the accepted withdrawals are exactly the ones stored, and
        // the money never ran out.
        assert_eq!(
            withdrawn,
            accepted.get(account).copied().unwrap_or(0),
            "{account}"
        );
        assert_eq!(
            withdrawn as i64,
            OPENING_BALANCE / WITHDRAWAL,
            "{account}: {stream}"
        );
        for node in &urls {
            let state = get_json(
                &http,
                format!("{node}/v1/aggregates/bank_account/{account}"),
            )
            .await;
            assert_eq!(
                state["state"]["balance"],
                json!(OPENING_BALANCE - withdrawn as i64 * WITHDRAWAL),
                "{account} through {node}"
            );
        }
    }

    // The subscriber on the third node saw every position, in order, once.
    let head = head(&http, &urls[0]).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.lock().expect("not poisoned").len() < head as usize {
        assert!(
            Instant::now() < deadline,
            "the subscriber fell short of {head}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    subscriber.abort();
    let seen = seen.lock().expect("not poisoned").clone();
    assert_eq!(seen, (1..=head).collect::<Vec<u64>>());

    // A plan on another node, over the history on PostgreSQL: another build of the same code
    // replays every account and decides every logged command again, and changes nothing.
    let candidate = cairn_guest_build::rebuilt(
        cairn_server::guests::build("bank_account").expect("the module builds"),
    );
    let reply = http
        .post(format!("{}/v1/modules/bank_account/plan", urls[1]))
        .header("content-type", "application/wasm")
        .body(candidate)
        .send()
        .await
        .expect("sent");
    assert_eq!(reply.status(), 200);
    let report: Value = reply.json().await.expect("a report");
    let withdrawals: usize = accepted.values().sum();
    let logged = 2 * ACCOUNTS + withdrawals;
    assert_eq!(report["changes"], json!(false), "{report}");
    assert_eq!(report["replay"]["streams"], json!(ACCOUNTS), "{report}");
    assert_eq!(report["replay"]["equal"], json!(ACCOUNTS), "{report}");
    assert_eq!(report["replay"]["events"], json!(logged), "{report}");
    assert_eq!(report["redecide"]["commands"], json!(logged), "{report}");
    assert_eq!(report["redecide"]["same"], json!(logged), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_report_a_stopped_database_and_recover_by_themselves() {
    let cluster = Cluster::start(Options::default()).expect("PostgreSQL starts");
    let url = cluster.create_database("restart").expect("a database");
    let dir = tempfile::tempdir().expect("temp dir");
    let (_nodes, urls) = nodes(dir.path(), &url, 2);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("a client");

    // Writers append through both nodes, keeping the ids of what was acknowledged.
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let writing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut writers = Vec::new();
    for writer in 0..8 {
        let (http, node) = (http.clone(), urls[writer % urls.len()].clone());
        let (acknowledged, writing) = (Arc::clone(&acknowledged), Arc::clone(&writing));
        writers.push(tokio::spawn(async move {
            while writing.load(std::sync::atomic::Ordering::Relaxed) {
                let id = uuid::Uuid::new_v4().to_string();
                let sent = http
                    .post(format!("{node}/v1/streams/storm-{writer}"))
                    .json(&json!({"expected_version": "any",
                                  "events": [{"id": id, "type": "Stormed", "data": {}}]}))
                    .send()
                    .await;
                match sent {
                    Ok(reply) if reply.status() == 201 => {
                        acknowledged.lock().expect("not poisoned").push(id);
                    }
                    // Refused while the database is away: nothing is acknowledged.
                    Ok(reply) => assert_eq!(reply.status(), 503, "{node}"),
                    Err(_) => {}
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.stop().expect("PostgreSQL stops");
    for node in &urls {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let reply = http
                .get(format!("{node}/healthz"))
                .send()
                .await
                .expect("healthz answers without the database");
            if reply.status() == 503 {
                let body: Value = reply.json().await.expect("JSON");
                assert_eq!(body["status"], "writes_failing", "{body}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{node} stayed healthy without PostgreSQL"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.restart().expect("PostgreSQL starts again");
    for node in &urls {
        let deadline = Instant::now() + Duration::from_secs(30);
        while http
            .get(format!("{node}/healthz"))
            .send()
            .await
            .map_or(true, |reply| reply.status() != 200)
        {
            assert!(Instant::now() < deadline, "{node} did not recover");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Writes go through again on both nodes.
    let before = acknowledged.lock().expect("not poisoned").len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    writing.store(false, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        writer.await.expect("the writer ran");
    }
    let acknowledged = acknowledged.lock().expect("not poisoned").clone();
    assert!(
        acknowledged.len() > before,
        "no append went through after the restart"
    );

    // Every acknowledged event is stored.
    let mut stored = std::collections::BTreeSet::new();
    let mut after = 0;
    loop {
        let page = get_json(
            &http,
            format!("{}/v1/all?after={after}&limit=1000", urls[1]),
        )
        .await;
        let events = page["events"].as_array().expect("events");
        if events.is_empty() {
            break;
        }
        for event in events {
            stored.insert(event["id"].as_str().expect("an id").to_owned());
        }
        after = page["scanned_to"].as_u64().expect("scanned_to");
    }
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !stored.contains(*id))
        .collect();
    assert!(lost.is_empty(), "acknowledged and lost: {lost:?}");
}

/// Whether the node at `url` runs the runners: a follower refuses anything about consumer
/// groups as run elsewhere, the runner answers that the group is unknown.
async fn runs_runners(http: &reqwest::Client, url: &str) -> bool {
    match http.get(format!("{url}/v1/groups/nobody")).send().await {
        Ok(reply) => reply.status() == 404,
        Err(_) => false,
    }
}

/// The node of `urls` that runs the runners, once exactly one does.
async fn runner_of(http: &reqwest::Client, urls: &[String]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut running = Vec::new();
        for (n, url) in urls.iter().enumerate() {
            if runs_runners(http, url).await {
                running.push(n);
            }
        }
        if let [one] = running[..] {
            return one;
        }
        assert!(
            running.len() <= 1,
            "several nodes run the runners: {running:?}"
        );
        assert!(Instant::now() < deadline, "no node took the runners over");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn total_deposits(http: &reqwest::Client, url: &str) -> Option<i64> {
    let reply = http
        .post(format!("{url}/v1/projections/account_balances/query"))
        .json(&json!({"type": "total_deposits"}))
        .send()
        .await
        .ok()?;
    if reply.status() != 200 {
        return None;
    }
    reply.json::<Value>().await.ok()?["total_deposits"].as_i64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_runner_node_hands_its_projections_over_and_every_node_answers_queries() {
    let cluster = Cluster::start(Options::default()).expect("PostgreSQL starts");
    let url = cluster.create_database("takeover").expect("a database");
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut nodes, urls) = nodes(dir.path(), &url, 3);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("a client");
    let runner = runner_of(&http, &urls).await;
    let follower = (runner + 1) % urls.len();
    common::upload(&http, &urls[follower], "bank_account", "bank_account").await;
    common::upload(
        &http,
        &urls[follower],
        "account_balances",
        "account_balances",
    )
    .await;
    for node in &urls {
        serves_module(&http, node, "account_balances").await;
    }
    // A node that does not run the projection reports it as run elsewhere, from what the
    // runner node committed, and refuses to change it.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed = get_json(&http, format!("{}/v1/projections", urls[follower])).await;
        let states: Vec<&str> = listed["projections"]
            .as_array()
            .map(|p| p.iter().filter_map(|p| p["state"].as_str()).collect())
            .unwrap_or_default();
        if states == ["elsewhere"] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never listed as run elsewhere: {listed}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused = http
        .post(format!(
            "{}/v1/projections/account_balances/pause",
            urls[follower]
        ))
        .send()
        .await
        .expect("answered");
    assert_eq!(refused.status(), 503);
    let refused: Value = refused.json().await.expect("JSON");
    assert_eq!(refused["error"], "runs_elsewhere", "{refused}");
    let running = get_json(
        &http,
        format!("{}/v1/projections/account_balances", urls[runner]),
    )
    .await;
    assert_ne!(running["state"], "elsewhere", "{running}");
    // Nor does it write a reactor's model: a reset, or a version built from a position, is
    // the running node's to do.
    common::upload(&http, &urls[follower], "transfer", "transfer").await;
    common::upload(&http, &urls[follower], "transfers", "transfers").await;
    let reset = http
        .post(format!(
            "{}/v1/reactors/transfers/reset?from=0",
            urls[follower]
        ))
        .send()
        .await
        .expect("answered");
    assert_eq!(reset.status(), 503);
    let built_from = http
        .put(format!("{}/v1/modules/transfers?from=0", urls[follower]))
        .header("content-type", "application/wasm")
        .body(cairn_server::guests::build("transfers").expect("the example builds"))
        .send()
        .await
        .expect("answered");
    assert_eq!(built_from.status(), 503);
    let refused: Value = built_from.json().await.expect("JSON");
    assert_eq!(refused["error"], "runs_elsewhere", "{refused}");

    // Deposits through all three nodes; the runner is killed while they go on. A writer on
    // the killed node stops at its first unanswered command, whose deposit is in doubt.
    let acknowledged: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    let writing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut writers = Vec::new();
    for writer in 0..9 {
        let node = urls[writer % urls.len()].clone();
        let (http, acknowledged, writing) = (
            http.clone(),
            Arc::clone(&acknowledged),
            Arc::clone(&writing),
        );
        writers.push(tokio::spawn(async move {
            let account = format!("w-{writer}");
            let open = json!({"type": "Open", "data": {"owner": account}});
            let (status, body) = bank_command(&http, &node, &account, open, None).await;
            assert_eq!(status, 200, "{body}");
            let mut amount = 1;
            while writing.load(std::sync::atomic::Ordering::Relaxed) {
                let deposit = json!({"type": "Deposit", "data": {"amount": amount}});
                let sent = http
                    .post(format!(
                        "{node}/v1/aggregates/bank_account/{account}/commands"
                    ))
                    .json(&deposit)
                    .send()
                    .await;
                match sent {
                    Ok(reply) if reply.status() == 200 => {
                        acknowledged
                            .lock()
                            .expect("not poisoned")
                            .push((account.clone(), amount));
                    }
                    Ok(reply) => panic!("a deposit through {node}: {}", reply.status()),
                    Err(_) => return,
                }
                amount += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    common::kill(nodes[runner].take());
    tokio::time::sleep(Duration::from_secs(1)).await;
    writing.store(false, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        writer.await.expect("the writer ran");
    }
    let acknowledged = acknowledged.lock().expect("not poisoned").clone();
    assert!(!acknowledged.is_empty());

    // Every acknowledged deposit is stored; the log's deposits are what the read model must
    // reach.
    let alive: Vec<String> = urls
        .iter()
        .enumerate()
        .filter(|(n, _)| *n != runner)
        .map(|(_, url)| url.clone())
        .collect();
    let mut logged = 0;
    for writer in 0..9 {
        let account = format!("w-{writer}");
        let stream = get_json(
            &http,
            format!("{}/v1/streams/bank_account-{account}?limit=10000", alive[0]),
        )
        .await;
        let amounts: Vec<i64> = stream["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["type"] == "Deposited")
            .map(|e| e["data"]["amount"].as_i64().expect("an amount"))
            .collect();
        for (_, amount) in acknowledged.iter().filter(|(a, _)| *a == account) {
            assert!(
                amounts.contains(amount),
                "{account}: acknowledged {amount}, not stored"
            );
        }
        logged += amounts.iter().sum::<i64>();
    }
    let accepted = logged;

    // One of the two left takes the runners over, and the read model reaches the fold of the
    // log, as every node that is left answers.
    runner_of(&http, &alive).await;
    for node in &alive {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let total = total_deposits(&http, node).await;
            if total == Some(accepted) {
                break;
            }
            assert!(
                total.is_none_or(|t| t < accepted),
                "{node}: the read model counts {total:?}, more than the {accepted} in the log"
            );
            assert!(
                Instant::now() < deadline,
                "{node}: the read model stayed at {total:?} of {accepted}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_and_reads_through_three_nodes_are_linearizable() {
    use linearizable_client::{Histories, STREAMS, client, lock, read};
    let cluster = Cluster::start(Options::default()).expect("PostgreSQL starts");
    let url = cluster.create_database("linearizable").expect("a database");
    let dir = tempfile::tempdir().expect("temp dir");
    let (_nodes, urls) = nodes(dir.path(), &url, 3);
    let http = reqwest::Client::new();
    let histories: Histories = Arc::new(Mutex::new(vec![Vec::new(); STREAMS]));
    let epoch = Instant::now();
    let until = Instant::now() + Duration::from_secs(3);
    let clients: Vec<_> = (0..18)
        .map(|n| {
            tokio::spawn(client(
                http.clone(),
                urls[n % urls.len()].clone(),
                Arc::clone(&histories),
                epoch,
                until,
            ))
        })
        .collect();
    for client in clients {
        client.await.expect("a client panicked");
    }
    let histories = lock(&histories).clone();
    for (stream, history) in histories.iter().enumerate() {
        let (_, last) = read(&http, &urls[stream % urls.len()], stream)
            .await
            .expect("the final read");
        let appends = history
            .iter()
            .filter(|op| matches!(op.action, linearizable::Action::Append { .. }))
            .count();
        assert!(appends > 30, "stream {stream} saw only {appends} appends");
        if let Err(anomaly) = linearizable::check(history, &last) {
            panic!(
                "stream lin-{stream}: {} ({} operations, {} events)",
                anomaly.0,
                history.len(),
                last.len()
            );
        }
        eprintln!(
            "lin-{stream}: {} operations ({appends} appends) over 3 nodes, {} events: linearizable",
            history.len(),
            last.len()
        );
    }
}
