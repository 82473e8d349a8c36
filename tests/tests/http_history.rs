//! Time travel over HTTP, against the real server and the `bank_account` example: the state
//! after each event equals a native fold of the example's own code, for random streams; each
//! state is computed by the module version that wrote its event (or the installed one, when
//! asked); `?at=N` gives one state; and bad ranges are clear errors.

mod common;

use bank_account::{Account, AccountEvent, BankAccount};
use cairn_sdk::Aggregate;
use common::server::{Server, assert_error};
use serde_json::{Value, json};

/// The states a native fold of `events` passes through, from the initial one.
fn native_states(events: &[Value]) -> Vec<Value> {
    let mut account = Account::default();
    let mut states = vec![serde_json::to_value(&account).expect("serialises")];
    for event in events {
        let event: AccountEvent = serde_json::from_value(json!({
            "type": event["type"],
            "data": event["data"],
        }))
        .expect("an event of the example");
        BankAccount::evolve(&mut account, &event);
        states.push(serde_json::to_value(&account).expect("serialises"));
    }
    states
}

/// Sends random commands to account `id`: an open, then deposits and withdrawals, some of
/// them rejected. Returns how many events were appended.
async fn random_stream(server: &Server, id: &str, commands: usize) -> u64 {
    let opened = server
        .command(
            "bank_account",
            id,
            json!({"type": "Open", "data": {"owner": id}}),
        )
        .await;
    assert_eq!(opened.0, 200, "{}", opened.1);
    let mut version = 1;
    for _ in 0..commands {
        let amount = fastrand::i64(1..500);
        let kind = if fastrand::bool() {
            "Deposit"
        } else {
            "Withdraw"
        };
        let reply = server
            .command(
                "bank_account",
                id,
                json!({"type": kind, "data": {"amount": amount}}),
            )
            .await;
        match reply.0 {
            200 => version = reply.1["version"].as_u64().expect("a version"),
            422 => assert_error(&reply, 422, "rejected"),
            other => panic!("{other}: {}", reply.1),
        }
    }
    version
}

async fn history(server: &Server, id: &str, query: &str) -> Value {
    let (status, reply) = server
        .get(&format!("/v1/aggregates/bank_account/{id}/history{query}"))
        .await;
    assert_eq!(status, 200, "{reply}");
    reply
}

#[tokio::test(flavor = "multi_thread")]
async fn each_state_is_the_native_fold_up_to_its_event() {
    let server = Server::start().await;
    for round in 0..4 {
        let id = format!("r{round}");
        let version = random_stream(&server, &id, fastrand::usize(5..40)).await;
        let stream = server
            .get(&format!("/v1/streams/bank_account-{id}"))
            .await
            .1;
        let events = stream["events"].as_array().expect("events").clone();
        let expected = native_states(&events);

        let whole = history(&server, &id, "").await;
        assert_eq!(whole["version"], version);
        assert_eq!(whole["next"], Value::Null);
        let steps = whole["steps"].as_array().expect("steps");
        assert_eq!(steps.len() as u64, version);
        for (index, step) in steps.iter().enumerate() {
            assert_eq!(step["version"], index as u64 + 1);
            assert_eq!(step["event"], events[index], "the event that moved it");
            assert_eq!(
                step["state"],
                expected[index + 1],
                "the state after version {}",
                index + 1
            );
        }

        // A page from the middle, and one state.
        let from = fastrand::u64(1..=version);
        let page = history(&server, &id, &format!("?from={from}&limit=3")).await;
        let steps = page["steps"].as_array().expect("steps");
        let last = (from + 2).min(version);
        assert_eq!(steps.len() as u64, last - from + 1);
        assert_eq!(steps[0]["state"], expected[from as usize]);
        let next = if last < version {
            json!(last + 1)
        } else {
            Value::Null
        };
        assert_eq!(page["next"], next);
        for at in [0, from, version] {
            let (status, state) = server
                .get(&format!("/v1/aggregates/bank_account/{id}?at={at}"))
                .await;
            assert_eq!(status, 200, "{state}");
            assert_eq!(state["version"], at);
            assert_eq!(state["state"], expected[at as usize], "the state at {at}");
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn each_state_is_computed_by_the_version_that_wrote_its_event() {
    let server = Server::start().await;
    random_stream(&server, "m1", 3).await;
    let first_hash = server.get("/v1/modules/bank_account").await.1["hash"].clone();
    // A new build of the module: the same code under another hash.
    let (status, uploaded) = server
        .put_module(
            "bank_account",
            cairn_tests::rebuilt("bank_account"),
            "application/wasm",
        )
        .await;
    assert_eq!(status, 201, "{uploaded}");
    let second_hash = uploaded["hash"].clone();
    assert_ne!(first_hash, second_hash);
    let deposited = server
        .command(
            "bank_account",
            "m1",
            json!({"type": "Deposit", "data": {"amount": 5}}),
        )
        .await;
    assert_eq!(deposited.0, 200, "{}", deposited.1);
    let version = deposited.1["version"].as_u64().expect("a version");

    let recorded = history(&server, "m1", "").await;
    assert_eq!(recorded["module"], "recorded");
    let steps = recorded["steps"].as_array().expect("steps");
    for step in steps {
        let written_by = &step["event"]["metadata"]["module_hash"];
        assert_eq!(&step["module_hash"], written_by, "step {}", step["version"]);
    }
    assert_eq!(steps.last().expect("steps")["module_hash"], second_hash);
    assert!(steps.iter().any(|step| step["module_hash"] == first_hash));

    let current = history(&server, "m1", "?module=current").await;
    assert_eq!(current["module"], "current");
    let steps_now = current["steps"].as_array().expect("steps");
    assert!(
        steps_now
            .iter()
            .all(|step| step["module_hash"] == second_hash)
    );
    let states = |steps: &[Value]| steps.iter().map(|s| s["state"].clone()).collect::<Vec<_>>();
    assert_eq!(
        states(steps),
        states(steps_now),
        "the same code folds alike"
    );
    let at = server
        .get(&format!(
            "/v1/aggregates/bank_account/m1?at={version}&module=current"
        ))
        .await;
    assert_eq!(at.0, 200, "{}", at.1);
    assert_eq!(at.1["state"], steps_now.last().expect("steps")["state"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_ranges_are_clear_errors() {
    let server = Server::start().await;
    let version = random_stream(&server, "e1", 2).await;
    for query in [
        "?from=0",
        "?from=3&to=2",
        "?limit=0",
        "?limit=10001",
        "?module=latest",
        "?at=1",
    ] {
        let reply = server
            .get(&format!("/v1/aggregates/bank_account/e1/history{query}"))
            .await;
        assert_error(&reply, 400, "invalid_query");
    }
    let beyond = server
        .get(&format!(
            "/v1/aggregates/bank_account/e1?at={}",
            version + 1
        ))
        .await;
    assert_error(&beyond, 400, "invalid_query");
    assert!(
        beyond.1["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("at version {version}"))),
        "{}",
        beyond.1
    );
    let module_alone = server
        .get("/v1/aggregates/bank_account/e1?module=current")
        .await;
    assert_error(&module_alone, 400, "invalid_query");
    let unknown = server.get("/v1/aggregates/bank_acount/e1/history").await;
    assert_error(&unknown, 404, "unknown_module");
    // A range past the end is empty, not an error, however far past.
    for from in [version + 5, u64::MAX] {
        let past = history(&server, "e1", &format!("?from={from}")).await;
        assert_eq!(past["steps"], json!([]));
        assert_eq!(past["next"], Value::Null);
    }
    server.stop().await;
}
