//! A busy host never fails a good module: commands over HTTP to `bank_account` while a busy loop
//! runs on every core and a disk writer syncs large files beside the server
//! (`cairn_bench::pressure`). Every command succeeds, no module is put on probation, and the
//! `account_balances` projection catches up without a fault, with every balance right.
//!
//! A module is blamed only for the fuel and CPU its calls use; before that, a call starved of
//! CPU passed a 50 ms wall-clock deadline and the module was put on probation and refused.

mod common;

use std::time::{Duration, Instant};

use cairn_bench::pressure::Pressure;
use common::server::Server;
use serde_json::{Value, json};

const ACCOUNTS: usize = 50;
const CLIENTS: usize = 16;
/// Commands in all, after the accounts are opened.
const COMMANDS: usize = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_under_cpu_and_disk_pressure_all_succeed_with_no_probation_or_fault() {
    let dir = tempfile::tempdir().expect("dir");
    let pressure = Pressure::start(dir.path()).expect("the pressure starts");
    let server = Server::start_in(
        tempfile::tempdir_in(dir.path()).expect("data dir"),
        None,
        &["bank_account", "account_balances"],
    )
    .await;

    for account in 0..ACCOUNTS {
        let (status, body) = server
            .command(
                "bank_account",
                &format!("p{account}"),
                json!({"type": "Open", "data": {"owner": format!("owner {account}")}}),
            )
            .await;
        assert_eq!(status, 200, "open p{account}: {body}");
    }
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (http, base) = (server.http.clone(), server.base.clone());
            tokio::spawn(async move {
                let mut failures = Vec::new();
                for n in 0..COMMANDS / CLIENTS {
                    let account = (client * 7 + n) % ACCOUNTS;
                    let reply = http
                        .post(format!(
                            "{base}/v1/aggregates/bank_account/p{account}/commands"
                        ))
                        .json(&json!({"type": "Deposit", "data": {"amount": 3}}))
                        .send()
                        .await
                        .expect("the server answers");
                    let status = reply.status().as_u16();
                    if status != 200 {
                        let body: Value = reply.json().await.unwrap_or(Value::Null);
                        failures.push(format!("p{account}: {status} {body}"));
                    }
                }
                failures
            })
        })
        .collect();
    let mut failures = Vec::new();
    for client in clients {
        failures.extend(client.await.expect("the client's task"));
    }
    assert!(
        failures.is_empty(),
        "{} of {COMMANDS} commands failed under pressure, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );

    // The projection catches up with every event, without a fault.
    let head = ACCOUNTS + COMMANDS;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, body) = server.get("/v1/projections/account_balances").await;
        assert_eq!(status, 200, "{body}");
        assert_ne!(body["state"], "faulted", "the projection faulted: {body}");
        if body["state"] == "live" && body["position"] == head {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the projection did not catch up under pressure: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let report = pressure.stop();
    assert!(report.synced_bytes > 0, "the disk writer never synced");

    for account in [0, ACCOUNTS / 2, ACCOUNTS - 1] {
        let (_, state) = server
            .get(&format!("/v1/aggregates/bank_account/p{account}"))
            .await;
        let (_, answer) = server
            .post(
                "/v1/projections/account_balances/query",
                json!({"type": "balance", "account": format!("p{account}")}),
            )
            .await;
        let deposits = (0..CLIENTS)
            .flat_map(|client| (0..COMMANDS / CLIENTS).map(move |n| (client * 7 + n) % ACCOUNTS))
            .filter(|&a| a == account)
            .count();
        assert_eq!(state["state"]["balance"], json!(3 * deposits), "p{account}");
        assert_eq!(
            answer["balance"], state["state"]["balance"],
            "p{account}: the projection and the aggregate disagree"
        );
    }

    for module in ["bank_account", "account_balances"] {
        let (status, info) = server.get(&format!("/v1/modules/{module}")).await;
        assert_eq!(status, 200, "{info}");
        assert_eq!(
            info["probation"],
            json!({"active": false, "offences": 0, "started": 0}),
            "{module} was blamed for the busy host"
        );
    }
    server.stop().await;
}
