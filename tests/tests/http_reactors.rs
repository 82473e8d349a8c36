//! Reactors through the real server: the `transfers` process manager moves money, compensates
//! a refused deposit and fails a refused withdrawal, with provenance that leads back to the
//! first command; a reset replays it, in place and on a copy of the store, and executes
//! nothing again; the failure policy parks (keeping each stream's order, and a fix retried
//! executes exactly once), stops, and sandboxes a looping or hoarding reactor; intents that
//! cannot be executed are recorded as failed outcomes; an upload with a position builds the
//! reactor from it.

mod common;

use cairn_groups::Exhausted;
use cairn_runtime::ReactorConfig;
use cairn_server::settings::Settings;
use common::server::{Server, assert_error};
use serde_json::{Value, json};

/// Settings whose reactors retry once, soon, then follow `on_failure`.
fn settings(on_failure: Exhausted) -> Settings {
    Settings {
        reactors: ReactorConfig {
            retries: 1,
            backoff_ms: 10,
            max_backoff_ms: 10,
            on_failure,
            ..ReactorConfig::default()
        },
        ..Settings::default()
    }
}

async fn start(guests: &[&str], on_failure: Exhausted) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    Server::start_configured(dir, None, guests, &settings(on_failure)).await
}

/// Waits until `check` accepts reactor `name`'s status, and returns it.
async fn wait_for(
    server: &Server,
    name: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    server
        .wait_until(&format!("/v1/reactors/{name}"), what, check)
        .await
}

/// Waits until reactor `name` has reacted to everything in the log and executed every intent.
async fn settled(server: &Server, name: &str) -> Value {
    wait_for(server, name, "settled", |s| {
        s["lag"] == 0 && s["intents_issued"] == s["intents_executed"] && s["state"] == "live"
    })
    .await
}

async fn send(server: &Server, module: &str, id: &str, command: Value) -> Value {
    let (status, body) = server.command(module, id, command).await;
    assert_eq!(status, 200, "{module}/{id}: {body}");
    body
}

/// Sends `command_type` (`Deposit` or `Withdraw`) of `amount` to bank account `account`.
async fn money(server: &Server, account: &str, command_type: &str, amount: i64) -> Value {
    send(
        server,
        "bank_account",
        account,
        json!({"type": command_type, "data": {"amount": amount}}),
    )
    .await
}

/// Retries the event `picky_reactor` parked at `position`.
async fn retry(server: &Server, position: u64) -> (u16, Value) {
    server
        .post(
            &format!("/v1/reactors/picky_reactor/parked/{position}/retry"),
            json!(null),
        )
        .await
}

/// Uploads the fixed build of `picky_reactor` as its next version.
async fn upload_fix(server: &Server) -> (u16, Value) {
    server
        .put_module(
            "picky_reactor",
            cairn_tests::guest("picky-reactor-fixed"),
            "application/wasm",
        )
        .await
}

async fn state(server: &Server, module: &str, id: &str) -> Value {
    let (status, body) = server.get(&format!("/v1/aggregates/{module}/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body["state"].clone()
}

async fn events(server: &Server, stream: &str) -> Vec<Value> {
    let (status, body) = server
        .get(&format!("/v1/streams/{stream}?limit=1000"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["events"].as_array().cloned().unwrap_or_default()
}

async fn open(server: &Server, account: &str, cents: i64) {
    send(
        server,
        "bank_account",
        account,
        json!({"type": "Open", "data": {"owner": account}}),
    )
    .await;
    if cents > 0 {
        send(
            server,
            "bank_account",
            account,
            json!({"type": "Deposit", "data": {"amount": cents}}),
        )
        .await;
    }
}

async fn transfer(server: &Server, id: &str, from: &str, to: &str, amount: i64) -> Value {
    send(
        server,
        "transfer",
        id,
        json!({"type": "Request", "data": {"from": from, "to": to, "amount": amount}}),
    )
    .await
}

#[tokio::test]
async fn transfers_move_money_compensate_and_lead_back_to_their_first_command() {
    let server = start(&["bank_account", "transfer", "transfers"], Exhausted::Park).await;
    open(&server, "a", 1_000).await;
    open(&server, "b", 0).await;

    let requested = transfer(&server, "t1", "a", "b", 300).await;
    transfer(&server, "t2", "a", "nobody", 100).await;
    transfer(&server, "t3", "b", "a", 10_000).await;
    let status = settled(&server, "transfers").await;
    assert_eq!(status["parked"], 0, "{status}");
    assert_eq!(status["stalled"], false, "{status}");

    assert_eq!(state(&server, "transfer", "t1").await["stage"], "completed");
    let t2 = state(&server, "transfer", "t2").await;
    assert_eq!(t2["stage"], "failed", "{t2}");
    assert!(
        t2["reason"]
            .as_str()
            .is_some_and(|r| r.contains("went back")),
        "{t2}"
    );
    let t3 = state(&server, "transfer", "t3").await;
    assert!(
        t3["reason"]
            .as_str()
            .is_some_and(|r| r.contains("insufficient funds")),
        "{t3}"
    );
    assert_eq!(state(&server, "bank_account", "a").await["balance"], 700);
    assert_eq!(state(&server, "bank_account", "b").await["balance"], 300);

    // The deposit to b names the reactor, the event it reacted to, and t1's first command.
    let first_command = requested["events"][0]["metadata"]["command_id"].clone();
    let deposit = events(&server, "bank_account-b")
        .await
        .into_iter()
        .find(|e| e["metadata"]["reactor"] == "transfers")
        .expect("the reactor's deposit");
    assert_eq!(
        deposit["metadata"]["correlation_id"], first_command,
        "{deposit}"
    );
    let withdrawal = events(&server, "bank_account-a")
        .await
        .into_iter()
        .find(|e| e["type"] == "Withdrawn")
        .expect("the reactor's withdrawal");
    assert_eq!(
        deposit["metadata"]["causation_id"], withdrawal["id"],
        "{deposit}"
    );
    assert_eq!(
        withdrawal["metadata"]["causation_id"],
        requested["events"][0]["id"]
    );

    // The two refusals are events of the reactor's own stream, once each.
    let outcomes = events(&server, "transfers-outcomes").await;
    let mut kinds: Vec<(&str, &str)> = outcomes
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or(""),
                e["data"]["command_type"].as_str().unwrap_or(""),
            )
        })
        .collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        [
            ("IntentRejected", "Deposit"),
            ("IntentRejected", "Withdraw")
        ],
        "{outcomes:?}"
    );

    // A replay from 0 issues the same intents under the same keys: every command is answered
    // by its key (or rejected again, its outcome recognised), and nothing new is stored.
    // t1: withdraw, deposit, complete; t2: withdraw, deposit, refund, fail; t3: withdraw, fail.
    assert_eq!(status["intents_issued"], 9, "{status}");
    let head = server.get("/v1/all?limit=1").await.1["head"].clone();
    let (code, body) = server
        .post("/v1/reactors/transfers/reset?from=0", json!(null))
        .await;
    assert_eq!(code, 202, "{body}");
    let replayed = settled(&server, "transfers").await;
    assert_eq!(replayed["intents_issued"], 9, "{replayed}");
    assert_eq!(
        server.get("/v1/all?limit=1").await.1["head"],
        head,
        "the replay stored nothing"
    );
    assert_eq!(state(&server, "bank_account", "a").await["balance"], 700);
    assert_eq!(state(&server, "bank_account", "b").await["balance"], 300);

    // The same on a copy of the store, by another node: the replay issues the same intents
    // under the same keys there too, so it stores nothing and moves no money.
    let dir = server.stop().await;
    let copy = tempfile::tempdir().expect("temp dir");
    copy_dir(dir.path(), copy.path());
    let server = Server::start_configured(
        copy,
        None,
        &["bank_account", "transfer", "transfers"],
        &settings(Exhausted::Park),
    )
    .await;
    let (code, body) = server
        .post("/v1/reactors/transfers/reset?from=0", json!(null))
        .await;
    assert_eq!(code, 202, "{body}");
    let replayed = settled(&server, "transfers").await;
    assert_eq!(
        (
            replayed["intents_issued"].clone(),
            replayed["parked"].clone()
        ),
        (json!(9), json!(0)),
        "{replayed}"
    );
    assert_eq!(
        server.get("/v1/all?limit=1").await.1["head"],
        head,
        "the replay on the copy stored nothing"
    );
    assert_eq!(state(&server, "bank_account", "a").await["balance"], 700);
    server.stop().await;
}

/// Copies the files of directory `from` into `to`, recursively.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).expect("reads the directory") {
        let entry = entry.expect("an entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a type").is_dir() {
            std::fs::create_dir_all(&target).expect("makes a directory");
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copies a file");
        }
    }
}

#[tokio::test]
async fn a_failing_event_is_parked_and_a_fix_retried_executes_once() {
    let server = start(&["bank_account", "picky_reactor"], Exhausted::Park).await;
    open(&server, "x", 5).await;
    money(&server, "x", "Withdraw", 2).await;
    money(&server, "x", "Deposit", 7).await;
    open(&server, "w", 9).await;
    let status = wait_for(&server, "picky_reactor", "parks the withdrawal", |s| {
        s["parked"] == 2 && s["lag"] == 0 && s["intents_issued"] == s["intents_executed"]
    })
    .await;
    assert!(
        status["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("withdrawals are not handled")),
        "{status}"
    );
    // It went on past the parked event with another stream's events; the deposit after the
    // withdrawal on the same stream waits behind it.
    assert_eq!(
        state(&server, "bank_account", "w_shadow").await["balance"],
        9
    );
    assert_eq!(
        state(&server, "bank_account", "x_shadow").await["balance"],
        5
    );

    let (code, parked) = server.get("/v1/reactors/picky_reactor/parked").await;
    assert_eq!(code, 200, "{parked}");
    let reasons: Vec<(Value, Value, Value)> = parked["parked"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| {
            (
                e["event_type"].clone(),
                e["reason"].clone(),
                e["attempts"].clone(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            (json!("Withdrawn"), json!("exhausted"), json!(2)),
            (json!("Deposited"), json!("behind"), json!(0))
        ],
        "{parked}"
    );
    assert!(
        parked["parked"]
            .as_array()
            .expect("a list")
            .iter()
            .all(|e| e["key"] == e["stream"]),
        "a reactor parks by stream: {parked}"
    );
    // Listed a page at a time, like a group's parked events.
    let first = &parked["parked"][0]["position"];
    let (code, page) = server
        .get(&format!(
            "/v1/reactors/picky_reactor/parked?after={first}&limit=1"
        ))
        .await;
    assert_eq!(code, 200, "{page}");
    assert_eq!(page["parked"].as_array().map(Vec::len), Some(1), "{page}");
    assert_eq!(page["parked"][0], parked["parked"][1]);
    let (code, refused) = server
        .get("/v1/reactors/picky_reactor/parked?limit=0")
        .await;
    assert_eq!(
        (code, refused["error"].as_str()),
        (400, Some("invalid_query")),
        "{refused}"
    );
    let position = parked["parked"][0]["position"]
        .as_u64()
        .expect("a position");
    let behind = parked["parked"][1]["position"]
        .as_u64()
        .expect("a position");

    // The deposit is not retried before the withdrawal it waits behind.
    let (code, report) = retry(&server, behind).await;
    assert_eq!(
        (code, report["succeeded"].clone()),
        (200, json!(0)),
        "{report}"
    );
    assert!(
        report["failed"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains(&format!("waits behind the event parked at {position}"))),
        "{report}"
    );

    // Retrying before the fix fails again, and both stay parked.
    let (code, report) = retry(&server, position).await;
    assert_eq!(
        (code, report["succeeded"].clone()),
        (200, json!(0)),
        "{report}"
    );
    assert_eq!(report["failed"][0]["position"], position, "{report}");
    assert_eq!(
        server.get("/v1/reactors/picky_reactor").await.1["parked"],
        2
    );

    // After the fix, a retry of the withdrawal takes the deposit behind it, in order.
    let (code, body) = upload_fix(&server).await;
    assert_eq!(code, 201, "{body}");
    let (code, report) = retry(&server, position).await;
    assert_eq!(
        (code, report["succeeded"].clone()),
        (200, json!(2)),
        "{report}"
    );
    for retried in [position, behind] {
        assert_error(&retry(&server, retried).await, 404, "not_parked");
    }
    settled(&server, "picky_reactor").await;
    assert_eq!(
        state(&server, "bank_account", "x_shadow").await["balance"],
        14
    );
    let deposits: Vec<Value> = events(&server, "bank_account-x_shadow")
        .await
        .into_iter()
        .filter(|e| e["type"] == "Deposited")
        .map(|e| e["data"]["amount"].clone())
        .collect();
    assert_eq!(
        deposits,
        [json!(5), json!(2), json!(7)],
        "each shadowed exactly once, in the stream's order"
    );
    assert_eq!(
        server.get("/v1/reactors/picky_reactor").await.1["parked"],
        0
    );

    // A later event of the stream is reacted to at once: nothing is parked there now.
    money(&server, "x", "Deposit", 1).await;
    settled(&server, "picky_reactor").await;
    assert_eq!(
        state(&server, "bank_account", "x_shadow").await["balance"],
        15
    );

    assert_error(
        &server.get("/v1/reactors/nope").await,
        404,
        "unknown_reactor",
    );
    assert_error(
        &server
            .call(
                server
                    .http
                    .delete(server.url("/v1/reactors/picky_reactor/parked/999")),
            )
            .await,
        404,
        "not_parked",
    );
    server.stop().await;
}

#[tokio::test]
async fn a_discarded_event_is_let_go_and_retry_all_takes_the_rest() {
    let server = start(&["bank_account", "picky_reactor"], Exhausted::Park).await;
    open(&server, "y", 50).await;
    for amount in [1, 2, 3] {
        money(&server, "y", "Withdraw", amount).await;
    }
    wait_for(&server, "picky_reactor", "parks three", |s| {
        s["parked"] == 3 && s["lag"] == 0
    })
    .await;
    let parked = server.get("/v1/reactors/picky_reactor/parked").await.1;
    let first = parked["parked"][0]["position"]
        .as_u64()
        .expect("a position");
    let (code, body) = server
        .call(
            server
                .http
                .delete(server.url(&format!("/v1/reactors/picky_reactor/parked/{first}"))),
        )
        .await;
    assert_eq!((code, body["discarded"].clone()), (200, json!(1)), "{body}");
    let (code, body) = upload_fix(&server).await;
    assert_eq!(code, 201, "{body}");
    let (code, report) = server
        .post("/v1/reactors/picky_reactor/parked/retry-all", json!(null))
        .await;
    assert_eq!(
        (code, report["succeeded"].clone()),
        (200, json!(2)),
        "{report}"
    );
    settled(&server, "picky_reactor").await;
    // 50 deposited, then the withdrawals of 2 and 3 shadowed as deposits; the discarded 1 not.
    assert_eq!(
        state(&server, "bank_account", "y_shadow").await["balance"],
        55
    );
    server.stop().await;
}

#[tokio::test]
async fn a_version_uploaded_with_a_start_position_is_built_from_it_and_executes_nothing_twice() {
    let server = start(&["bank_account", "picky_reactor"], Exhausted::Park).await;
    open(&server, "v", 5).await;
    money(&server, "v", "Withdraw", 2).await;
    wait_for(&server, "picky_reactor", "parks the withdrawal", |s| {
        s["parked"] == 1 && s["lag"] == 0 && s["intents_issued"] == s["intents_executed"]
    })
    .await;

    // `from` is for reactors: an aggregate uploaded with it is refused, and nothing is kept.
    let (code, body) = server
        .put_module(
            "bank_account?from=0",
            cairn_tests::guest("bank-account-v2"),
            "application/wasm",
        )
        .await;
    assert_eq!(
        (code, body["error"].clone()),
        (400, json!("not_a_reactor")),
        "{body}"
    );
    let (_, described) = server.get("/v1/modules/bank_account").await;
    assert_eq!(described["version"], 1, "{described}");
    let (code, body) = server
        .put_module(
            "picky_reactor?from=soon",
            cairn_tests::guest("picky-reactor-fixed"),
            "application/wasm",
        )
        .await;
    assert_eq!(code, 400, "{body}");

    // The fix, built from the start of the log: it reacts to everything again with an empty
    // state. The withdrawal is shadowed now; the deposit shadowed before is answered by its
    // key, not made again.
    let (code, body) = server
        .put_module(
            "picky_reactor?from=0",
            cairn_tests::guest("picky-reactor-fixed"),
            "application/wasm",
        )
        .await;
    assert_eq!((code, body["version"].clone()), (201, json!(2)), "{body}");
    let status = settled(&server, "picky_reactor").await;
    assert_eq!(
        (status["version"].clone(), status["parked"].clone()),
        (json!(2), json!(0)),
        "{status}"
    );
    let deposits: Vec<Value> = events(&server, "bank_account-v_shadow")
        .await
        .into_iter()
        .filter(|e| e["type"] == "Deposited")
        .map(|e| e["data"]["amount"].clone())
        .collect();
    assert_eq!(deposits, [json!(5), json!(2)], "each shadowed once");

    // The same bytes with a position install nothing and build the reactor from it again.
    let (code, body) = server
        .put_module(
            "picky_reactor?from=0",
            cairn_tests::guest("picky-reactor-fixed"),
            "application/wasm",
        )
        .await;
    assert_eq!((code, body["version"].clone()), (200, json!(2)), "{body}");
    settled(&server, "picky_reactor").await;
    assert_eq!(
        state(&server, "bank_account", "v_shadow").await["balance"],
        7
    );
    server.stop().await;
}

#[tokio::test]
async fn the_stop_policy_faults_at_the_event() {
    let server = start(&["bank_account", "picky_reactor"], Exhausted::Stop).await;
    open(&server, "z", 5).await;
    let withdrawn = money(&server, "z", "Withdraw", 1).await;
    let position = withdrawn["events"][0]["position"].clone();
    let status = wait_for(&server, "picky_reactor", "faults", |s| {
        s["state"] == "faulted"
    })
    .await;
    assert_eq!(
        status["position"],
        json!(position.as_u64().expect("a position") - 1),
        "{status}"
    );
    assert_eq!(status["fault"]["position"], position, "{status}");
    assert!(
        status["fault"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("withdrawals are not handled")),
        "{status}"
    );
    // The fault is kept: after a restart it is still faulted, where it was.
    let dir = server.stop().await;
    let server = Server::start_configured(
        dir,
        None,
        &["bank_account", "picky_reactor"],
        &settings(Exhausted::Stop),
    )
    .await;
    let status = wait_for(&server, "picky_reactor", "is faulted again", |s| {
        s["state"] == "faulted"
    })
    .await;
    assert_eq!(status["fault"]["position"], position, "{status}");
    assert_error(
        &server
            .post("/v1/reactors/picky_reactor/parked/retry-all", json!(null))
            .await,
        409,
        "reactor_not_running",
    );
    // A reset after a fix starts it again.
    upload_fix(&server).await;
    let (code, body) = server
        .post(
            &format!(
                "/v1/reactors/picky_reactor/reset?from={}",
                position.as_u64().unwrap_or(1) - 1
            ),
            json!(null),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    settled(&server, "picky_reactor").await;
    // The withdrawal, shadowed as a deposit by the fix, on the 5 shadowed before the fault.
    assert_eq!(
        state(&server, "bank_account", "z_shadow").await["balance"],
        6
    );
    server.stop().await;
}

#[tokio::test]
async fn intents_that_cannot_be_executed_are_failed_outcomes_and_the_reactor_goes_on() {
    let server = start(&["bank_account", "picky_reactor"], Exhausted::Park).await;
    send(
        &server,
        "bank_account",
        "q",
        json!({"type": "Open", "data": {"owner": "bad-input"}}),
    )
    .await;
    open(&server, "r", 4).await;
    let status = settled(&server, "picky_reactor").await;
    assert_eq!(status["parked"], 0, "{status}");
    let outcomes = events(&server, "picky_reactor-outcomes").await;
    let reasons: Vec<(String, String)> = outcomes
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or("").to_owned(),
                e["data"]["reason"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(reasons.len(), 3, "{outcomes:?}");
    assert!(
        reasons.iter().all(|(t, _)| t == "IntentFailed"),
        "{reasons:?}"
    );
    assert!(
        reasons[0]
            .1
            .contains("no aggregate module is named 'no_such_module'"),
        "{reasons:?}"
    );
    assert!(reasons[1].1.contains("invalid aggregate id"), "{reasons:?}");
    assert!(reasons[2].1.contains("not valid"), "{reasons:?}");
    assert_eq!(outcomes[0]["data"]["module"], "no_such_module");
    // It went on: the next account's shadow was opened and funded.
    assert_eq!(
        state(&server, "bank_account", "r_shadow").await["balance"],
        4
    );
    server.stop().await;
}

#[tokio::test]
async fn a_looping_or_hoarding_reactor_is_parked_and_commands_go_on() {
    let server = start(&["bank_account", "picky_reactor"], Exhausted::Park).await;
    for account in ["s", "t", "u"] {
        open(&server, account, 0).await;
    }
    money(&server, "s", "Deposit", 666).await;
    money(&server, "t", "Deposit", 777).await;
    // Commands are served while the reactor burns its budget, and it goes on with the events
    // of other streams after it parks those two.
    for _ in 0..20 {
        money(&server, "u", "Deposit", 1).await;
    }
    wait_for(&server, "picky_reactor", "parks both", |s| {
        s["parked"] == 2 && s["lag"] == 0 && s["intents_issued"] == s["intents_executed"]
    })
    .await;
    let parked = server.get("/v1/reactors/picky_reactor/parked").await.1;
    let errors: Vec<&str> = parked["parked"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| p["last_error"].as_str().unwrap_or(""))
        .collect();
    assert!(
        errors[0].contains("fuel") || errors[0].contains("CPU"),
        "{errors:?}"
    );
    assert!(errors[1].contains("memory"), "{errors:?}");
    assert_eq!(
        state(&server, "bank_account", "u_shadow").await["balance"],
        20
    );
    server.stop().await;
}

#[tokio::test]
async fn a_reactor_held_back_is_reported_stalled_in_its_status_and_metrics() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        reactors: ReactorConfig {
            retries: 1,
            backoff_ms: 3_000,
            max_backoff_ms: 3_000,
            stall_after_ms: 200,
            on_failure: Exhausted::Park,
            ..ReactorConfig::default()
        },
        ..Settings::default()
    };
    let server =
        Server::start_configured(dir, None, &["bank_account", "picky_reactor"], &settings).await;
    open(&server, "w", 5).await;
    settled(&server, "picky_reactor").await;
    money(&server, "w", "Withdraw", 1).await;
    // The withdrawal fails, and the reactor waits 3 s to try again: the head has moved, the
    // checkpoint has not.
    let stalled = wait_for(&server, "picky_reactor", "stalls", |s| s["stalled"] == true).await;
    assert!(
        stalled["lag"].as_u64().is_some_and(|lag| lag > 0),
        "{stalled}"
    );
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("cairn_reactor_stalled{reactor=\"picky_reactor\"} 1"),
        "{metrics}"
    );
    // Once it parks the event and goes on, it is not stalled any more.
    let going = wait_for(&server, "picky_reactor", "goes on", |s| {
        s["parked"] == 1 && s["stalled"] == false
    })
    .await;
    assert_eq!(going["lag"], 0, "{going}");
    server.stop().await;
}
