//! Storage that fails under a command and under a projection, through the real server with the
//! example modules: the failure is the host's, never the module's. A command gets 503
//! `storage_failed` with nothing appended, the module is not put on probation, and the metrics
//! count a host fault, not a module failure; a projection batch whose read model cannot be read
//! is retried, never faulted, and once the storage is back the model is exact.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::server::{Server, assert_error};
use common::test_store::{Faults, TestStore};
use serde_json::{Value, json};

/// A server with `guests` over a [`TestStore`], and the store's fault switches.
async fn start(guests: &[&str]) -> (Server, Arc<Faults>) {
    let mut faults = None;
    let server = Server::start_layered(guests, |store| {
        let store = Arc::new(TestStore::new(store));
        faults = Some(store.faults());
        store
    })
    .await;
    (server, faults.expect("the layer was put over the store"))
}

/// The lines of `metrics` for `counter` that name `module`.
fn counted<'a>(metrics: &'a str, counter: &str, module: &str) -> Vec<&'a str> {
    let module = format!("module=\"{module}\"");
    metrics
        .lines()
        .filter(|line| line.starts_with(counter) && line.contains(&module))
        .collect()
}

async fn module_probation(server: &Server, name: &str) -> Value {
    let (status, module) = server.get(&format!("/v1/modules/{name}")).await;
    assert_eq!(status, 200, "{module}");
    module["probation"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn storage_that_fails_under_a_command_is_a_503_and_never_the_modules_fault() {
    let (server, faults) = start(&["bank_account"]).await;
    let open = server
        .command(
            "bank_account",
            "a1",
            json!({"type": "Open", "data": {"owner": "o"}}),
        )
        .await;
    assert_eq!(open.0, 200, "{}", open.1);

    faults.appends.store(true, Ordering::SeqCst);
    for _ in 0..3 {
        let failed = server
            .command(
                "bank_account",
                "a1",
                json!({"type": "Deposit", "data": {"amount": 5}}),
            )
            .await;
        assert_error(&failed, 503, "storage_failed");
        let message = failed.1["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("injected: an append failed"),
            "{}",
            failed.1
        );
    }
    let probation = module_probation(&server, "bank_account").await;
    assert_eq!(probation["offences"], 0, "{probation}");
    assert_eq!(probation["active"], false, "{probation}");
    let metrics = server.metrics().await;
    assert!(
        counted(&metrics, "cairn_module_traps_total", "bank_account").is_empty(),
        "{metrics}"
    );
    let outcomes = counted(&metrics, "cairn_commands_total", "bank_account");
    assert!(
        outcomes
            .iter()
            .any(|line| line.contains("outcome=\"failed\"") && line.ends_with(" 3")),
        "{outcomes:?}"
    );
    assert!(
        !outcomes.iter().any(|line| line.contains("module_failed")),
        "{outcomes:?}"
    );

    // Storage back: nothing of the failed commands was appended, and commands go on.
    faults.appends.store(false, Ordering::SeqCst);
    let deposited = server
        .command(
            "bank_account",
            "a1",
            json!({"type": "Deposit", "data": {"amount": 7}}),
        )
        .await;
    assert_eq!(deposited.0, 200, "{}", deposited.1);
    let (status, state) = server.get("/v1/aggregates/bank_account/a1").await;
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["version"], 2, "{state}");
    assert_eq!(state["state"]["balance"], 7, "{state}");
    server.stop().await;
}

async fn balance(server: &Server, account: &str) -> (u16, Value) {
    server
        .post(
            "/v1/projections/account_balances/query",
            json!({"type": "balance", "account": account}),
        )
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn storage_that_fails_under_a_projection_is_retried_and_never_faulted() {
    let (server, faults) = start(&["bank_account", "account_balances"]).await;
    for (id, command) in [
        ("a1", json!({"type": "Open", "data": {"owner": "o"}})),
        ("a1", json!({"type": "Deposit", "data": {"amount": 10}})),
    ] {
        let reply = server.command("bank_account", id, command).await;
        assert_eq!(reply.0, 200, "{}", reply.1);
    }
    let live_at_head =
        |status: &Value| status["state"] == "live" && status["position"] == status["head"];
    server
        .wait_for_projection("account_balances", "caught up", live_at_head)
        .await;

    faults.model_reads.store(true, Ordering::SeqCst);
    for (id, command) in [
        ("a1", json!({"type": "Deposit", "data": {"amount": 5}})),
        ("a2", json!({"type": "Open", "data": {"owner": "p"}})),
        ("a2", json!({"type": "Deposit", "data": {"amount": 7}})),
    ] {
        let reply = server.command("bank_account", id, command).await;
        assert_eq!(
            reply.0, 200,
            "commands do not read read models: {}",
            reply.1
        );
    }
    // The batch fails at its first read, and is applied again after a pause.
    let deadline = Instant::now() + Duration::from_secs(60);
    while faults.failed_model_reads.load(Ordering::SeqCst) < 2 {
        assert!(Instant::now() < deadline, "the batch was not applied again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, status) = server.get("/v1/projections/account_balances").await;
    assert_ne!(status["state"], "faulted", "{status}");
    assert_eq!(status["fault"], Value::Null, "{status}");
    // A query reads the read model too: the host's fault, a 503.
    assert_error(&balance(&server, "a1").await, 503, "storage_failed");
    let metrics = server.metrics().await;
    assert!(
        counted(&metrics, "cairn_module_traps_total", "account_balances").is_empty(),
        "{metrics}"
    );
    assert!(
        counted(&metrics, "cairn_host_faults_total", "account_balances")
            .iter()
            .any(|line| line.contains("kind=\"storage_failed\"")),
        "{metrics}"
    );
    let probation = module_probation(&server, "account_balances").await;
    assert_eq!(probation["offences"], 0, "{probation}");

    // Storage back: the runner carries on from its checkpoint, and every event counts once.
    faults.model_reads.store(false, Ordering::SeqCst);
    server
        .wait_for_projection("account_balances", "caught up again", live_at_head)
        .await;
    let (_, status) = server.get("/v1/projections/account_balances").await;
    assert_eq!(status["fault"], Value::Null, "{status}");
    for (account, expected) in [("a1", 15), ("a2", 7)] {
        let (code, answer) = balance(&server, account).await;
        assert_eq!(code, 200, "{answer}");
        assert_eq!(answer["balance"], expected, "{account}: {answer}");
    }
    server.stop().await;
}
