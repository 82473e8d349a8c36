//! The example modules through the real runtime and store: commands, state, provenance,
//! idempotency, races, snapshots and restarts.

mod common;

use std::sync::Arc;

use cairn_runtime::{CommandConfig, CommandError, Limits};
use cairn_store::{EventLog, EventStore, ExpectedVersion, Snapshots, StreamRead, Version};
use common::{Host, command, keyed};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bank_account_takes_commands_and_keeps_its_rules() {
    let host = Host::start().await;
    host.upload("bank_account", "bank_account").await;
    let bank = &host.command_path;

    let opened = bank
        .execute("bank_account", "a1", command("Open", r#"{"owner":"Ada"}"#))
        .await
        .expect("open");
    assert_eq!(opened.version, Version::new(1));
    assert_eq!(opened.events[0].event_type.as_str(), "Opened");
    assert_eq!(opened.events[0].data.as_str(), r#"{"owner":"Ada"}"#);
    bank.execute(
        "bank_account",
        "a1",
        command("Deposit", r#"{"amount":100}"#),
    )
    .await
    .expect("deposit");
    let rejected = bank
        .execute(
            "bank_account",
            "a1",
            command("Withdraw", r#"{"amount":101}"#),
        )
        .await;
    assert!(
        matches!(&rejected, Err(CommandError::Rejected(m)) if m.contains("insufficient funds")),
        "{rejected:?}"
    );
    let invalid = bank
        .execute(
            "bank_account",
            "a1",
            command("Withdraw", r#"{"amount":"lots"}"#),
        )
        .await;
    assert!(
        matches!(invalid, Err(CommandError::InvalidCommand(_))),
        "{invalid:?}"
    );
    let unknown = bank.execute("nope", "a1", command("Open", "{}")).await;
    assert!(
        matches!(unknown, Err(CommandError::UnknownModule(_))),
        "{unknown:?}"
    );

    let state = bank.state("bank_account", "a1").await.expect("state");
    assert_eq!(state.version, Version::new(2));
    let state: serde_json::Value = state.state.to_value().expect("json");
    assert_eq!(state, serde_json::json!({"owner": "Ada", "balance": 100}));

    // Each event says where it came from.
    let stream = host
        .store
        .read_stream(opened.stream.clone(), StreamRead::forward())
        .await
        .expect("read");
    assert_eq!(
        stream.events.len(),
        2,
        "the rejected and invalid commands appended nothing"
    );
    let metadata: serde_json::Value = stream.events[1].metadata.to_value().expect("json");
    assert_eq!(metadata["module"], "bank_account");
    assert_eq!(metadata["module_hash"].as_str().map(str::len), Some(64));
    assert!(
        metadata["command_id"].is_string() && metadata["command_time"].is_u64(),
        "{metadata}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_command_runs_once() {
    let host = Host::start().await;
    host.upload("bank_account", "bank_account").await;
    let bank = &host.command_path;
    bank.execute("bank_account", "k1", command("Open", r#"{"owner":"Ada"}"#))
        .await
        .expect("open");
    let first = bank
        .execute(
            "bank_account",
            "k1",
            keyed("Deposit", r#"{"amount":10}"#, "pay-1"),
        )
        .await
        .expect("deposit");
    let again = bank
        .execute(
            "bank_account",
            "k1",
            keyed("Deposit", r#"{"amount":10}"#, "pay-1"),
        )
        .await
        .expect("retry");
    assert_eq!(again, first, "the retry gets the original result");
    let state: serde_json::Value = bank
        .state("bank_account", "k1")
        .await
        .expect("state")
        .state
        .to_value()
        .expect("json");
    assert_eq!(state["balance"], 10, "deposited once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_concurrent_withdrawals_never_overdraw() {
    let host = Arc::new(Host::start().await);
    host.upload("bank_account", "bank_account").await;
    let bank = &host.command_path;
    bank.execute("bank_account", "hot", command("Open", r#"{"owner":"Ada"}"#))
        .await
        .expect("open");
    bank.execute(
        "bank_account",
        "hot",
        command("Deposit", r#"{"amount":1000}"#),
    )
    .await
    .expect("deposit");
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let host = Arc::clone(&host);
            tokio::spawn(async move {
                host.command_path
                    .execute(
                        "bank_account",
                        "hot",
                        command("Withdraw", r#"{"amount":30}"#),
                    )
                    .await
            })
        })
        .collect();
    let mut accepted = Vec::new();
    for task in tasks {
        match task.await.expect("task") {
            Ok(outcome) => accepted.push(outcome),
            Err(CommandError::Rejected(message)) => {
                assert!(message.contains("insufficient funds"), "{message}")
            }
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(accepted.len(), 33, "1000 / 30 = 33 withdrawals fit");
    let state: serde_json::Value = bank
        .state("bank_account", "hot")
        .await
        .expect("state")
        .state
        .to_value()
        .expect("json");
    assert_eq!(state["balance"], 1000 - 33 * 30);
    let stream = host
        .store
        .read_stream(accepted[0].stream.clone(), StreamRead::forward())
        .await
        .expect("read");
    assert_eq!(stream.events.len(), 2 + 33);
    for outcome in &accepted {
        let event = &outcome.events[0];
        assert_eq!(
            stream.events[event.version.get() as usize - 1],
            *event,
            "every accepted withdrawal is in the stream"
        );
    }
}

/// An append the command path did not make (a direct write) leaves the cached state stale: a
/// rejection decided on it is decided again on the stored state, and an accepted command's
/// append conflicts and is retried on the stored state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_after_a_direct_append_retries_on_the_stored_state() {
    let host = Host::start().await;
    host.upload("bank_account", "bank_account").await;
    let bank = &host.command_path;
    let opened = bank
        .execute("bank_account", "d1", command("Open", r#"{"owner":"Ada"}"#))
        .await
        .expect("open");
    host.store
        .append(
            opened.stream.clone(),
            ExpectedVersion::Exact(Version::new(1)),
            vec![common::new_event("Deposited", r#"{"amount":50}"#)],
        )
        .await
        .expect("direct append");
    let withdrawn = bank
        .execute(
            "bank_account",
            "d1",
            command("Withdraw", r#"{"amount":50}"#),
        )
        .await
        .expect("the retry sees the direct deposit");
    assert_eq!(withdrawn.version, Version::new(3));
    // Accepted on the stale state this time: the append conflicts and the retry decides again.
    host.store
        .append(
            opened.stream.clone(),
            ExpectedVersion::Exact(Version::new(3)),
            vec![common::new_event("Deposited", r#"{"amount":20}"#)],
        )
        .await
        .expect("direct append");
    let deposited = bank
        .execute("bank_account", "d1", command("Deposit", r#"{"amount":5}"#))
        .await
        .expect("deposit after a conflict");
    assert_eq!(deposited.version, Version::new(5));
    assert_eq!(deposited.events.len(), 1);
    let state: serde_json::Value = bank
        .state("bank_account", "d1")
        .await
        .expect("state")
        .state
        .to_value()
        .expect("json");
    assert_eq!(state["balance"], 25);
}

/// The same module with a custom section appended: valid, same logic, another hash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_are_used_by_their_module_version_only_and_survive_a_restart() {
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
    host.upload("bank_account", "bank_account").await;
    let bank = &host.command_path;
    bank.execute("bank_account", "s1", command("Open", r#"{"owner":"Ada"}"#))
        .await
        .expect("open");
    for _ in 0..24 {
        bank.execute("bank_account", "s1", command("Deposit", r#"{"amount":1}"#))
            .await
            .expect("deposit");
    }
    // Snapshots are written after a command has answered; settling waits for them.
    bank.settle().await;
    let stream = cairn_runtime::CommandPath::stream_of("bank_account", "s1").expect("valid");
    let old_hash = host
        .registry()
        .aggregate("bank_account")
        .expect("loaded")
        .hash()
        .clone();
    let key = cairn_store::SnapshotKey::new(old_hash.as_str()).expect("valid");
    let snapshot = host
        .store
        .get_snapshot(stream.clone(), key.clone())
        .await
        .expect("read")
        .expect("taken");
    assert_eq!(
        snapshot.version,
        Version::new(20),
        "taken when the stream passed 20"
    );

    // Plant a wrong snapshot for this module version: if loads use snapshots, they show it.
    let planted = cairn_store::Snapshot {
        version: Version::new(25),
        state: br#"{"owner":"Ada","balance":999}"#.to_vec(),
    };
    host.store
        .put_snapshot(stream.clone(), key, planted)
        .await
        .expect("plant");

    // After a restart the module comes back from the store, and its snapshot with it.
    let dir = host.stop().await;
    let host = Host::start_in(dir, Limits::default(), config).await;
    let loaded = host
        .registry()
        .aggregate("bank_account")
        .expect("the module came back");
    assert_eq!(loaded.hash(), &old_hash);
    let state: serde_json::Value = host
        .command_path
        .state("bank_account", "s1")
        .await
        .expect("state")
        .state
        .to_value()
        .expect("json");
    assert_eq!(
        state["balance"], 999,
        "the old module version loads from its snapshot"
    );

    // A new module version ignores the old version's snapshot and folds the events.
    let uploaded = host
        .registry()
        .upload("bank_account", cairn_tests::rebuilt("bank_account"))
        .await
        .expect("upload");
    assert!(
        uploaded.created && uploaded.record.version == 2,
        "{uploaded:?}"
    );
    let state = host
        .command_path
        .state("bank_account", "s1")
        .await
        .expect("state");
    assert_eq!(state.version, Version::new(25));
    let state: serde_json::Value = state.state.to_value().expect("json");
    assert_eq!(
        state["balance"], 24,
        "the true balance, folded from the events"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_command_finds_the_state_the_last_one_cached() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = cairn_store::RedbStore::open(dir.path().join("data"), Default::default())
        .await
        .expect("store opens");
    let counting = Arc::new(common::test_store::TestStore::new(Arc::new(store.clone())));
    let shared: Arc<dyn EventStore> = counting.clone();
    let registry = cairn_runtime::Registry::open(
        Arc::clone(&shared),
        &dir.path().join("cache"),
        Limits::default(),
    )
    .await
    .expect("runtime starts");
    registry
        .upload("bank_account", cairn_tests::guest("bank_account"))
        .await
        .expect("uploads");
    let config = CommandConfig {
        cache_entries: std::num::NonZeroUsize::new(1).expect("one"),
        ..CommandConfig::default()
    };
    let bank = cairn_runtime::CommandPath::new(Arc::new(registry), shared, config);

    let opened = bank
        .execute("bank_account", "a1", command("Open", r#"{"owner":"Ada"}"#))
        .await
        .expect("open");
    assert_eq!(opened.version, Version::new(1));
    let first_load = counting.stream_reads();
    assert!(first_load > 0, "the first command loads the stream");
    for n in 2..=11 {
        let deposited = bank
            .execute("bank_account", "a1", command("Deposit", r#"{"amount":1}"#))
            .await
            .expect("deposit");
        assert_eq!(deposited.version, Version::new(n));
    }
    assert_eq!(
        counting.stream_reads(),
        first_load,
        "ten more commands on a1 decided on the state the one before cached, reading nothing"
    );
    // A rejection is decided again on the stored state before it is answered.
    let rejected = bank
        .execute(
            "bank_account",
            "a1",
            command("Withdraw", r#"{"amount":11}"#),
        )
        .await;
    assert!(
        matches!(&rejected, Err(CommandError::Rejected(_))),
        "{rejected:?}"
    );
    assert!(counting.stream_reads() > first_load);

    // The cache holds one state here: a command on a2 pushes a1's out, so a1 is read again,
    // and the state read is still right.
    bank.execute("bank_account", "a2", command("Open", r#"{"owner":"Bo"}"#))
        .await
        .expect("open a2");
    bank.settle().await;
    let before = counting.stream_reads();
    let withdrawn = bank
        .execute(
            "bank_account",
            "a1",
            command("Withdraw", r#"{"amount":10}"#),
        )
        .await
        .expect("the balance is 10");
    assert_eq!(withdrawn.version, Version::new(12));
    assert!(
        counting.stream_reads() > before,
        "a1 was evicted, so its stream was read"
    );
    bank.settle().await;
    drop(bank);
    store.close().await;
}
