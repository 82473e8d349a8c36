//! Modules written in TypeScript (the SDK in `guest-sdk-ts/`), built by the SDK's build and run
//! by the real runtime, as Rust modules are:
//!
//! - the TypeScript `bank_account` decides, rejects and folds as the Rust one does; its
//!   snapshots are its JSON state, and a restarted host loads from them;
//! - a TypeScript module that throws, loops or allocates without bound meets the same typed
//!   errors as a Rust one (the JavaScript error's message in the trap's), nothing is appended,
//!   and the host keeps serving;
//! - `Date.now()`, `new Date()` and `Math.random()` read the host's clock and seeded
//!   randomness: 1,000 replays give the same bytes, and another seed other numbers.

mod common;

use cairn_runtime::{CallError, CallInput, CommandConfig, CommandError, Decision, Limits};
use cairn_store::{EventLog, Snapshots, StreamRead};
use common::{Host, command};

/// The component of the TypeScript module `package` (under `examples/` or `tests/guests/`).
fn typescript(package: &str) -> Vec<u8> {
    cairn_server::guests::build(package).unwrap_or_else(|e| panic!("{package} builds: {e}"))
}

async fn upload_typescript(host: &Host, name: &str, package: &str) {
    host.registry()
        .upload(name, typescript(package))
        .await
        .unwrap_or_else(|e| panic!("{package} uploads as {name}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typescript_bank_account_decides_as_the_rust_one_does() {
    let host = Host::start().await;
    upload_typescript(&host, "bank_account", "ts-bank-account").await;
    let path = &host.command_path;
    path.execute("bank_account", "a1", command("Open", r#"{"owner":"Ada"}"#))
        .await
        .expect("opens");
    path.execute(
        "bank_account",
        "a1",
        command("Deposit", r#"{"amount":100}"#),
    )
    .await
    .expect("deposits");
    let refused = path
        .execute(
            "bank_account",
            "a1",
            command("Withdraw", r#"{"amount":101}"#),
        )
        .await;
    match refused {
        Err(CommandError::Rejected(message)) => assert_eq!(
            message,
            "insufficient funds: the balance is 100, the withdrawal 101"
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
    let invalid = path
        .execute(
            "bank_account",
            "a1",
            command("Deposit", r#"{"amount":"lots"}"#),
        )
        .await;
    assert!(
        matches!(invalid, Err(CommandError::InvalidCommand(_))),
        "{invalid:?}"
    );
    path.execute(
        "bank_account",
        "a1",
        command("Withdraw", r#"{"amount":30}"#),
    )
    .await
    .expect("withdraws");
    let state = path.state("bank_account", "a1").await.expect("a state");
    assert_eq!(
        state.state.to_value::<serde_json::Value>().expect("JSON"),
        serde_json::json!({"owner": "Ada", "balance": 70})
    );
}

type Check = fn(&CallError) -> bool;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misbehaving_typescript_module_meets_the_same_typed_errors() {
    let host = Host::start_in(
        tempfile::tempdir().expect("temp dir"),
        Limits::default(),
        CommandConfig::default(),
    )
    .await;
    upload_typescript(&host, "misbehaving", "ts-misbehaving").await;
    host.upload("bank_account", "bank_account").await;
    let cases: [(&str, Check); 3] = [
        (
            "Throw",
            // The trap, with the JavaScript error's message from the module's stderr.
            |e| matches!(e, CallError::Trap { message } if message.contains("deliberate error in decide")),
        ),
        ("Loop", |e| {
            matches!(
                e,
                CallError::OutOfFuel { .. } | CallError::CpuExceeded { .. }
            )
        }),
        ("Bomb", |e| matches!(e, CallError::OutOfMemory { .. })),
    ];
    for (misbehaviour, expected) in cases {
        let head = host.store.head();
        let result = host
            .command_path
            .execute("misbehaving", "m1", command(misbehaviour, "{}"))
            .await;
        match &result {
            Err(CommandError::Module(error)) => {
                assert!(expected(error), "{misbehaviour}: unexpected error {error}")
            }
            other => panic!("{misbehaviour}: expected a module error, got {other:?}"),
        }
        assert_eq!(host.store.head(), head, "{misbehaviour} appended something");
        host.command_path
            .execute(
                "bank_account",
                &format!("after-{misbehaviour}"),
                command("Open", r#"{"owner":"Ada"}"#),
            )
            .await
            .unwrap_or_else(|e| panic!("after {misbehaviour}: {e}"));
        host.command_path
            .execute(
                "misbehaving",
                &format!("fine-{misbehaviour}"),
                command("Fine", "{}"),
            )
            .await
            .unwrap_or_else(|e| panic!("after {misbehaviour}: {e}"));
    }
    let stream = cairn_runtime::CommandPath::stream_of("misbehaving", "m1").expect("valid");
    let slice = host
        .store
        .read_stream(stream, StreamRead::forward())
        .await
        .expect("read");
    assert!(slice.events.is_empty(), "nothing appended to m1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_and_randomness_of_javascript_replay_identically_a_thousand_times() {
    let host = Host::start().await;
    upload_typescript(&host, "misbehaving", "ts-misbehaving").await;
    let module = host.registry().aggregate("misbehaving").expect("loaded");
    let state = br#"{"decided":0}"#.to_vec();
    let input = CallInput {
        time_ms: 1_700_000_000_123,
        seed: [7; 32],
    };
    let first = module
        .decide(state.clone(), "Entropy".into(), "{}".into(), input)
        .await
        .expect("decides");
    let Decision::Events(events) = &first else {
        panic!("{first:?}")
    };
    let data: serde_json::Value = events[0].data.to_value().expect("json");
    assert_eq!(
        data["now"], 1_700_000_000_123u64,
        "Date.now() reads the command's time"
    );
    assert_eq!(data["date"], "2023-11-14T22:13:20.123Z", "new Date() too");
    let random = data["random"].as_array().expect("numbers");
    assert!(
        random[0] != random[1] && random[1] != random[2],
        "Math.random() moves on within a call: {random:?}"
    );
    for replay in 0..1_000 {
        let again = module
            .decide(state.clone(), "Entropy".into(), "{}".into(), input)
            .await
            .expect("decides");
        assert_eq!(again, first, "replay {replay} differs");
    }
    let other_seed = CallInput {
        seed: [8; 32],
        ..input
    };
    let other = module
        .decide(state, "Entropy".into(), "{}".into(), other_seed)
        .await
        .expect("decides");
    let Decision::Events(other) = &other else {
        panic!("{other:?}")
    };
    let other: serde_json::Value = other[0].data.to_value().expect("json");
    assert_eq!(other["now"], data["now"]);
    assert_ne!(
        other["random"], data["random"],
        "another seed, other numbers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typescript_aggregates_snapshots_are_its_json_state_and_survive_a_restart() {
    let config = CommandConfig {
        snapshot_every: 10,
        ..CommandConfig::default()
    };
    let host = Host::start_in(
        tempfile::tempdir().expect("dir"),
        Limits::default(),
        config.clone(),
    )
    .await;
    upload_typescript(&host, "bank_account", "ts-bank-account").await;
    let path = &host.command_path;
    path.execute("bank_account", "s1", command("Open", r#"{"owner":"Ada"}"#))
        .await
        .expect("open");
    for _ in 0..24 {
        path.execute("bank_account", "s1", command("Deposit", r#"{"amount":1}"#))
            .await
            .expect("deposit");
    }
    path.settle().await;
    let stream = cairn_runtime::CommandPath::stream_of("bank_account", "s1").expect("valid");
    let hash = host
        .registry()
        .aggregate("bank_account")
        .expect("loaded")
        .hash()
        .clone();
    let key = cairn_store::SnapshotKey::new(hash.as_str()).expect("valid");
    let snapshot = host
        .store
        .get_snapshot(stream.clone(), key.clone())
        .await
        .expect("read")
        .expect("taken");
    assert_eq!(snapshot.version, cairn_store::Version::new(20));
    // The state bytes are the module's JSON, as the Rust module's are.
    assert_eq!(snapshot.state, br#"{"owner":"Ada","balance":19}"#);
    // A planted snapshot shows that loads after a restart start from it.
    host.store
        .put_snapshot(
            stream,
            key,
            cairn_store::Snapshot {
                version: cairn_store::Version::new(25),
                state: br#"{"owner":"Ada","balance":999}"#.to_vec(),
            },
        )
        .await
        .expect("plant");
    let dir = host.stop().await;
    let host = Host::start_in(dir, Limits::default(), config).await;
    let state = host
        .command_path
        .state("bank_account", "s1")
        .await
        .expect("state")
        .state
        .to_value::<serde_json::Value>()
        .expect("json");
    assert_eq!(state["balance"], 999, "the module loads from its snapshot");
}
