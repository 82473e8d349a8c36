//! The command log over HTTP, against the real server and the example modules: every accepted
//! command is kept with its events and found from their provenance; with `[commands] log =
//! "all"` rejected, invalid and unchanged commands are kept too, and by default they are not;
//! with `log = "off"` none is; bad ids are clear errors.

mod common;

use cairn_runtime::{CommandConfig, CommandLogging};
use cairn_server::settings::Settings;
use cairn_store::{NothingAppended, Verdict};
use common::server::{Server, assert_error};
use serde_json::{Value, json};

fn logging(log: CommandLogging) -> Settings {
    Settings {
        commands: CommandConfig {
            log,
            ..CommandConfig::default()
        },
        ..Settings::default()
    }
}

async fn start(log: CommandLogging) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    Server::start_configured(dir, None, &["bank_account", "customers"], &logging(log)).await
}

/// The command id an event's provenance names.
fn command_id(event: &Value) -> String {
    event["metadata"]["command_id"]
        .as_str()
        .expect("provenance names the command")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_accepted_command_is_found_from_its_events() {
    let server = start(CommandLogging::Accepted).await;
    let opened = server
        .command(
            "bank_account",
            "a1",
            json!({"type": "Open", "data": {"owner": "Ada"}}),
        )
        .await;
    assert_eq!(opened.0, 200, "{}", opened.1);
    let deposited = server
        .call(
            server
                .http
                .post(server.url("/v1/aggregates/bank_account/a1/commands"))
                .header("idempotency-key", "deposit-1")
                .json(&json!({"type": "Deposit", "data": {"amount": 250}})),
        )
        .await;
    assert_eq!(deposited.0, 200, "{}", deposited.1);
    let event = &deposited.1["events"][0];
    let id = command_id(event);

    let (status, command) = server.get(&format!("/v1/commands/{id}")).await;
    assert_eq!(status, 200, "{command}");
    let module = server.get("/v1/modules/bank_account").await.1;
    assert_eq!(command["id"], id.as_str());
    assert_eq!(command["type"], "Deposit");
    assert_eq!(command["data"], json!({"amount": 250}));
    assert_eq!(command["idempotency_key"], "deposit-1");
    assert_eq!(command["aggregate"], "bank_account");
    assert_eq!(command["aggregate_id"], "a1");
    assert_eq!(command["stream"], "bank_account-a1");
    assert_eq!(command["decided_at"], 1, "decided on the opened account");
    assert_eq!(command["module_hash"], module["hash"]);
    assert_eq!(command["time"], event["metadata"]["command_time"]);
    assert_eq!(command["verdict"], "appended");
    assert!(command.get("message").is_none());
    assert_eq!(
        command["events"],
        json!([event]),
        "the events it appended, as stored"
    );

    // A retry under the key is answered by the key: the log keeps the one command.
    let retried = server
        .call(
            server
                .http
                .post(server.url("/v1/aggregates/bank_account/a1/commands"))
                .header("idempotency-key", "deposit-1")
                .json(&json!({"type": "Deposit", "data": {"amount": 250}})),
        )
        .await;
    assert_eq!(command_id(&retried.1["events"][0]), id);
    assert_eq!(server.get(&format!("/v1/commands/{id}")).await.1, command);

    // Rejections are not kept by default.
    let rejected = server
        .command(
            "bank_account",
            "a1",
            json!({"type": "Withdraw", "data": {"amount": 10_000}}),
        )
        .await;
    assert_error(&rejected, 422, "rejected");
    let store = server.node.as_ref().expect("running").store().clone();
    let log = store.read_commands(None, 100).await.expect("reads");
    assert_eq!(log.len(), 2, "Open and Deposit: {log:?}");
    assert!(
        log.iter()
            .all(|entry| matches!(entry.verdict, Verdict::Appended { .. }))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_log_all_every_decision_is_kept_and_with_log_off_none() {
    let server = start(CommandLogging::All).await;
    for (command, status) in [
        (json!({"type": "Withdraw", "data": {"amount": 5}}), 422),
        (json!({"type": "Open", "data": {"owner": "Ada"}}), 200),
        (json!({"type": "Withdraw", "data": {"amount": 5}}), 422),
        (json!({"type": "Deposit", "data": {"amount": "five"}}), 422),
    ] {
        let reply = server.command("bank_account", "b1", command).await;
        assert_eq!(reply.0, status, "{}", reply.1);
    }
    let store = server.node.as_ref().expect("running").store().clone();
    // In id order, which is the order they were sent in: the ids of commands without a key
    // are UUIDv7s, which one process makes in rising order.
    let log = store.read_commands(None, 100).await.expect("reads");
    let seen: Vec<(&str, u64, &str)> = log
        .iter()
        .map(|entry| {
            let verdict = match &entry.verdict {
                Verdict::Appended { .. } => "appended",
                Verdict::NothingAppended(NothingAppended::Rejected { .. }) => "rejected",
                Verdict::NothingAppended(NothingAppended::Invalid { .. }) => "invalid",
                Verdict::NothingAppended(NothingAppended::Unchanged) => "unchanged",
            };
            (
                entry.command.command_type.as_str(),
                entry.command.decided_at.get(),
                verdict,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("Withdraw", 0, "rejected"),
            ("Open", 0, "appended"),
            ("Withdraw", 1, "rejected"),
            ("Deposit", 1, "invalid"),
        ]
    );
    let rejected = &log[2];
    let (status, reply) = server
        .get(&format!("/v1/commands/{}", rejected.command.id))
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["verdict"], "rejected");
    assert!(
        reply["message"]
            .as_str()
            .is_some_and(|m| m.contains("insufficient funds")),
        "{reply}"
    );
    assert_eq!(reply["events"], json!([]));
    server.stop().await;

    let server = start(CommandLogging::Off).await;
    let opened = server
        .command(
            "bank_account",
            "c1",
            json!({"type": "Open", "data": {"owner": "Ada"}}),
        )
        .await;
    assert_eq!(opened.0, 200, "{}", opened.1);
    let id = command_id(&opened.1["events"][0]);
    assert_error(
        &server.get(&format!("/v1/commands/{id}")).await,
        404,
        "unknown_command",
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_command_ids_and_types_are_clear_errors() {
    let server = start(CommandLogging::Accepted).await;
    let reply = server.get("/v1/commands/not-a-uuid").await;
    assert_error(&reply, 400, "invalid_command_id");
    assert!(
        reply.1["message"]
            .as_str()
            .is_some_and(|m| m.contains("not-a-uuid")),
        "{}",
        reply.1
    );
    assert_error(
        &server
            .get("/v1/commands/0190d5c4-0000-7000-8000-000000000000")
            .await,
        404,
        "unknown_command",
    );
    assert_error(
        &server
            .get("/v1/commands/0190d5c4-0000-7000-8000-000000000000?verbose=1")
            .await,
        400,
        "invalid_query",
    );
    let untyped = server
        .command("bank_account", "d1", json!({"type": "", "data": {}}))
        .await;
    assert_error(&untyped, 400, "invalid_command_type");
    let stream = server.get("/v1/streams/bank_account-d1").await;
    assert_eq!(stream.1["version"], 0, "nothing was appended");
    server.stop().await;
}
