//! Misbehaving guests through the real runtime: each is stopped with a clear, typed error,
//! nothing is appended, and the host keeps serving. And determinism: the same module, state
//! and input give the same bytes, whatever the guest reads from the clock or randomness.

mod common;

use cairn_runtime::{CallError, CallInput, CommandConfig, CommandError, Decision, Limits};
use cairn_store::{EventLog, StreamRead};
use common::{Host, command};

type Check = fn(&CallError) -> bool;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_misbehaviour_is_a_typed_error_and_nothing_is_appended() {
    // After the loop the module is on probation and its calls run only on idle CPU; they are
    // blamed only for the CPU they use, so how busy the machine running the tests is changes
    // nothing below.
    let host = Host::start_in(
        tempfile::tempdir().expect("temp dir"),
        Limits::default(),
        CommandConfig::default(),
    )
    .await;
    host.upload("misbehaving", "misbehaving").await;
    host.upload("bank_account", "bank_account").await;
    let cases: [(&str, Check); 7] = [
        ("Loop", |e| {
            matches!(
                e,
                CallError::OutOfFuel { .. } | CallError::CpuExceeded { .. }
            )
        }),
        ("Bomb", |e| matches!(e, CallError::OutOfMemory { .. })),
        (
            "Panic",
            // The trap, and the guest's panic message from its stderr, without a backtrace.
            |e| {
                matches!(e, CallError::Trap { message } if message.contains("unreachable")
                    && message.contains("deliberate panic in decide")
                    && !message.contains("wasm backtrace"))
            },
        ),
        ("Recurse", |e| matches!(e, CallError::StackOverflow)),
        (
            "Smash",
            |e| matches!(e, CallError::Trap { message } if message.contains("out of bounds memory access")),
        ),
        (
            "Garbage",
            |e| matches!(e, CallError::BadOutput { message } if message.contains("not valid JSON")),
        ),
        (
            "BadType",
            |e| matches!(e, CallError::BadOutput { message } if message.contains("control character")),
        ),
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
        // The host keeps serving: another module, and the same one.
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
    assert!(
        slice.events.is_empty(),
        "no misbehaving command appended to its stream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_guest_is_stopped_by_fuel_or_cpu() {
    let host = Host::start().await;
    host.upload("misbehaving", "misbehaving").await;
    let started = std::time::Instant::now();
    let result = host
        .command_path
        .execute("misbehaving", "loop", command("Loop", "{}"))
        .await;
    assert!(
        matches!(
            result,
            Err(CommandError::Module(
                CallError::OutOfFuel { .. } | CallError::CpuExceeded { .. }
            ))
        ),
        "{result:?}"
    );
    // Not a timing assertion on speed: only that the loop ended at all, well inside a test's life.
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

/// After a loop the module is on probation (runtime `call_gate.rs`): its calls take turns on the
/// slow lane. A good call waits for its turn and then runs: it is never refused for waiting.
/// Taking turns never changes what a call that runs answers, and other modules are untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_on_probation_takes_turns_and_its_good_calls_all_run() {
    let host = std::sync::Arc::new(Host::start().await);
    host.upload("misbehaving", "misbehaving").await;
    host.upload("bank_account", "bank_account").await;
    let looped = host
        .command_path
        .execute("misbehaving", "first-loop", command("Loop", "{}"))
        .await;
    assert!(matches!(looped, Err(CommandError::Module(_))), "{looped:?}");

    let calls: Vec<_> = (0..12)
        .map(|n| {
            let host = std::sync::Arc::clone(&host);
            tokio::spawn(async move {
                let (module, kind, data) = match n % 3 {
                    0 => ("misbehaving", "Loop", "{}"),
                    1 => ("misbehaving", "Fine", "{}"),
                    _ => ("bank_account", "Open", r#"{"owner":"Ada"}"#),
                };
                let id = format!("probation-{n}");
                let result = host
                    .command_path
                    .execute(module, &id, command(kind, data))
                    .await;
                (module, kind, result)
            })
        })
        .collect();
    for call in calls {
        let (module, kind, result) = call.await.expect("the call's task");
        match (kind, result) {
            (
                "Loop",
                Err(CommandError::Module(
                    CallError::OutOfFuel { .. } | CallError::CpuExceeded { .. },
                )),
            ) => {}
            ("Fine", Ok(_)) | ("Open", Ok(_)) => {}
            (kind, result) => panic!("{kind} on {module}: {result:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_and_randomness_replay_identically_a_thousand_times() {
    let host = Host::start().await;
    host.upload("misbehaving", "misbehaving").await;
    let module = host.registry().aggregate("misbehaving").expect("loaded");
    let input = CallInput {
        time_ms: 1_700_000_000_123,
        seed: [7; 32],
    };
    let first = module
        .decide(b"0".to_vec(), "Entropy".into(), "{}".into(), input)
        .await
        .expect("decides");
    let Decision::Events(events) = &first else {
        panic!("{first:?}")
    };
    let data: serde_json::Value = events[0].data.to_value().expect("json");
    assert_eq!(
        data["now"], 1_700_000_000_123u64,
        "the clock reads the command's time"
    );
    for replay in 0..1_000 {
        let again = module
            .decide(b"0".to_vec(), "Entropy".into(), "{}".into(), input)
            .await
            .expect("decides");
        assert_eq!(again, first, "replay {replay} differs");
    }
    let other_seed = CallInput {
        seed: [8; 32],
        ..input
    };
    let different = module
        .decide(b"0".to_vec(), "Entropy".into(), "{}".into(), other_seed)
        .await
        .expect("decides");
    assert_ne!(
        different, first,
        "another command id gives other random numbers"
    );

    let folded = module
        .evolve(b"3".to_vec(), vec![("E".into(), "{}".into()); 5], input)
        .await
        .expect("folds");
    assert_eq!(folded, b"8");
}
