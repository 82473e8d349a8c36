//! `cairn migrate`, as an operator runs it: a real server's data directory (the `bank_account`
//! and `account_balances` examples, commands with idempotency keys, a rejection) copied into an
//! empty PostgreSQL, served from there by a node that goes on where the server stopped, and
//! copied back into a new data directory that a third server serves. Each copy reports the same
//! counts and hashes as its source; the log is the same, event for event, in all three; the
//! aggregate's state, the projection's answers and a retried command's result carry over.
//!
//! Refused with nothing changed: a database that holds events already, a data directory that
//! holds a store, and a source that is no store.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use cairn_pg_cluster::{Cluster, Options};
use common::{
    KillOnDrop, bank_command, cairn, get_json, head, log, serve, serve_with, signal, upload,
};
use serde_json::{Value, json};

const ACCOUNTS: usize = 12;

/// Runs `cairn --json migrate --from FROM --to TO`: (success, stdout, stderr).
fn migrate(from: &str, to: &str) -> (bool, String, String) {
    let output = cairn()
        .args(["--json", "migrate", "--from", from, "--to", to])
        .output()
        .expect("cairn runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn path(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

async fn query(http: &reqwest::Client, url: &str, request: Value) -> Value {
    let reply = http
        .post(format!("{url}/v1/projections/account_balances/query"))
        .json(&request)
        .send()
        .await
        .expect("the query is answered");
    assert_eq!(reply.status(), 200);
    reply.json().await.expect("JSON")
}

/// Waits until the server at `url` has the projection at `head`, then asks it everything.
async fn answers(http: &reqwest::Client, url: &str, head: u64) -> (Value, Value) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = get_json(http, format!("{url}/v1/projections/account_balances")).await;
        if status["position"].as_u64() == Some(head) {
            break;
        }
        assert!(Instant::now() < deadline, "the projection stalls: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (
        query(http, url, json!({"type": "total_deposits"})).await,
        query(http, url, json!({"type": "top", "n": ACCOUNTS})).await,
    )
}

/// Stops a server as an operator would, and waits for it to exit.
fn stop(mut server: KillOnDrop) {
    let mut child = server.take();
    signal(&child, "-TERM");
    child.wait().expect("the server exits");
}

/// The sections of a `cairn migrate --json` report: each one's item count, checked equal in
/// source and copy.
fn sections(report: &str) -> Vec<(String, u64)> {
    let report: Value = serde_json::from_str(report.trim()).expect("a JSON report");
    assert_eq!(report["equal"], true, "{report}");
    report["sections"]
        .as_object()
        .expect("sections")
        .iter()
        .map(|(name, section)| {
            assert_eq!(section["equal"], true, "{name}: {section}");
            (name.clone(), section["items"].as_u64().expect("a count"))
        })
        .collect()
}

fn count(sections: &[(String, u64)], name: &str) -> u64 {
    sections
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, items)| *items)
        .unwrap_or_else(|| panic!("no section {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_moves_to_postgresql_and_back_and_serves_on_from_where_it_was() {
    let dir = tempfile::tempdir().expect("temp dir");
    let http = reqwest::Client::new();
    let source_dir = dir.path().join("source");
    let (server, url) = serve(&source_dir);
    let server = KillOnDrop::new(server);
    upload(&http, &url, "bank_account", "bank_account").await;
    upload(&http, &url, "account_balances", "account_balances").await;
    for n in 0..ACCOUNTS {
        let account = format!("acct-{n}");
        let open = json!({"type": "Open", "data": {"owner": format!("owner {n}")}});
        assert_eq!(bank_command(&http, &url, &account, open, None).await.0, 200);
        for d in 0..3 {
            let deposit = json!({"type": "Deposit", "data": {"amount": 10 * (n + d + 1)}});
            let key = format!("deposit-{n}-{d}");
            assert_eq!(
                bank_command(&http, &url, &account, deposit, Some(&key))
                    .await
                    .0,
                200
            );
        }
    }
    let overdraw = json!({"type": "Withdraw", "data": {"amount": 1_000_000}});
    let (status, refused) = bank_command(&http, &url, "acct-0", overdraw, None).await;
    assert_eq!(status, 422, "{refused}");
    let source_head = head(&http, &url).await;
    let source_log = log(&http, &url, source_head).await;
    let source_answers = answers(&http, &url, source_head).await;
    let source_state = get_json(&http, format!("{url}/v1/aggregates/bank_account/acct-5")).await;
    stop(server);

    // Into PostgreSQL.
    let cluster = Cluster::start(Options::default()).expect("PostgreSQL starts");
    let database = cluster.create_database("migrated").expect("a database");
    let (ok, out, err) = migrate(path(&source_dir), &database);
    assert!(ok, "{out}{err}");
    let copied = sections(&out);
    assert_eq!(count(&copied, "events"), source_head);
    assert_eq!(count(&copied, "append_keys"), 3 * ACCOUNTS as u64);
    assert!(
        count(&copied, "commands") >= 4 * ACCOUNTS as u64,
        "{copied:?}"
    );
    assert_eq!(count(&copied, "modules"), 2);
    assert!(count(&copied, "read_model_rows") > 0, "{copied:?}");

    // Again into the same database: refused, and nothing changes.
    let (ok, out, err) = migrate(path(&source_dir), &database);
    assert!(!ok, "{out}");
    assert!(err.contains("not empty"), "{err}");

    let (node, node_url) = serve_with(&dir.path().join("node"), &["--store", &database]);
    let node = KillOnDrop::new(node);
    assert_eq!(head(&http, &node_url).await, source_head);
    assert_eq!(log(&http, &node_url, source_head).await, source_log);
    assert_eq!(answers(&http, &node_url, source_head).await, source_answers);
    assert_eq!(
        get_json(
            &http,
            format!("{node_url}/v1/aggregates/bank_account/acct-5")
        )
        .await,
        source_state
    );
    // A retry under a key the source kept gets the original result and appends nothing.
    let retry = json!({"type": "Deposit", "data": {"amount": 10}});
    let (status, retried) =
        bank_command(&http, &node_url, "acct-0", retry, Some("deposit-0-0")).await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(head(&http, &node_url).await, source_head);
    // It goes on where the source stopped.
    let more = json!({"type": "Deposit", "data": {"amount": 7}});
    let (status, appended) = bank_command(&http, &node_url, "acct-1", more, None).await;
    assert_eq!(status, 200, "{appended}");
    let moved_head = head(&http, &node_url).await;
    assert_eq!(moved_head, source_head + 1);
    let moved_log = log(&http, &node_url, moved_head).await;
    let moved_answers = answers(&http, &node_url, moved_head).await;
    assert_ne!(moved_answers, source_answers);
    stop(node);

    // Back into a new data directory, and refused into one that holds a store.
    let (ok, out, err) = migrate(&database, path(&source_dir));
    assert!(!ok, "{out}");
    assert!(err.contains("not empty"), "{err}");
    let back_dir = dir.path().join("back");
    let (ok, out, err) = migrate(&database, path(&back_dir));
    assert!(ok, "{out}{err}");
    assert_eq!(count(&sections(&out), "events"), moved_head);
    let (back, back_url) = serve(&back_dir);
    let back = KillOnDrop::new(back);
    assert_eq!(log(&http, &back_url, moved_head).await, moved_log);
    assert_eq!(answers(&http, &back_url, moved_head).await, moved_answers);
    drop(back);

    // A source that is no store.
    let (ok, _, err) = migrate(
        path(&dir.path().join("nothing")),
        path(&dir.path().join("x")),
    );
    assert!(!ok);
    assert!(err.contains("holds no store"), "{err}");
}
