//! Misbehaving guests through the real runtime: each is stopped with a clear, typed error,
//! nothing is appended, and the host keeps serving. And determinism: the same module, state
//! and input give the same bytes, whatever the guest reads from the clock or randomness.

mod common;

use cairn_runtime::{CallError, CallInput, CommandConfig, CommandError, Decision, Limits};
use cairn_store::{EventStore, StreamRead};
use common::{Host, command};

type Check = fn(&CallError) -> bool;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_misbehaviour_is_a_typed_error_and_nothing_is_appended() {
    // After the loop the module is on probation and its calls run only on idle CPU; a long
    // deadline keeps the checks below from depending on how busy the machine running the
    // tests is (the loop itself still ends by fuel).
    let limits = Limits {
        deadline: std::time::Duration::from_secs(30),
        ..Limits::default()
    };
    let host = Host::start_in(
        tempfile::tempdir().expect("temp dir"),
        limits,
        CommandConfig::default(),
    )
    .await;
    host.upload("misbehaving", "misbehaving").await;
    host.upload("bank-account", "bank-account").await;
    let cases: [(&str, Check); 7] = [
        ("Loop", |e| {
            matches!(
                e,
                CallError::OutOfFuel { .. } | CallError::DeadlineExceeded { .. }
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
            .aggregates
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
        host.aggregates
            .execute(
                "bank-account",
                &format!("after-{misbehaviour}"),
                command("Open", r#"{"owner":"Ada"}"#),
            )
            .await
            .unwrap_or_else(|e| panic!("after {misbehaviour}: {e}"));
        host.aggregates
            .execute(
                "misbehaving",
                &format!("fine-{misbehaviour}"),
                command("Fine", "{}"),
            )
            .await
            .unwrap_or_else(|e| panic!("after {misbehaviour}: {e}"));
    }
    let stream = cairn_runtime::Aggregates::stream_of("misbehaving", "m1").expect("valid");
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
async fn a_looping_guest_is_stopped_by_fuel_or_deadline() {
    let host = Host::start().await;
    host.upload("misbehaving", "misbehaving").await;
    let started = std::time::Instant::now();
    let result = host
        .aggregates
        .execute("misbehaving", "loop", command("Loop", "{}"))
        .await;
    assert!(
        matches!(
            result,
            Err(CommandError::Module(
                CallError::OutOfFuel { .. } | CallError::DeadlineExceeded { .. }
            ))
        ),
        "{result:?}"
    );
    // Not a timing assertion on speed: only that the loop ended at all, well inside a test's life.
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

/// After a loop the module is on probation (runtime `call_gate.rs`): its calls take turns on the
/// slow lane, and one whose turn does not come before its deadline fails without running.
/// Taking turns never changes what a call that runs answers, and other modules are untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_on_probation_takes_turns_and_others_are_untouched() {
    let host = std::sync::Arc::new(Host::start().await);
    // The default deadline of 50 ms applies: a good call waiting behind the loops may pass it
    // (so it is allowed below, and `call.rs` tests that path on its own).
    host.upload("misbehaving", "misbehaving").await;
    host.upload("bank-account", "bank-account").await;
    let looped = host
        .aggregates
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
                    _ => ("bank-account", "Open", r#"{"owner":"Ada"}"#),
                };
                let id = format!("probation-{n}");
                let result = host
                    .aggregates
                    .execute(module, &id, command(kind, data))
                    .await;
                (module, id, kind, result)
            })
        })
        .collect();
    let mut fine_timed_out = Vec::new();
    for call in calls {
        let (module, id, kind, result) = call.await.expect("the call's task");
        match (kind, result) {
            (
                "Loop",
                Err(CommandError::Module(
                    CallError::OutOfFuel { .. }
                    | CallError::DeadlineExceeded { .. }
                    | CallError::NoTurnBeforeDeadline { .. },
                )),
            ) => {}
            ("Fine", Ok(_)) | ("Open", Ok(_)) => {}
            // Waiting behind the loops, a good call of the same module may pass its deadline
            // before its turn comes, or while it runs on the starved slow lane.
            (
                "Fine",
                Err(CommandError::Module(
                    CallError::NoTurnBeforeDeadline { .. } | CallError::DeadlineExceeded { .. },
                )),
            ) => {
                fine_timed_out.push((module, id));
            }
            (kind, result) => panic!("{kind} on {module}: {result:?}"),
        }
    }
    for (module, id) in fine_timed_out {
        let stream = cairn_runtime::Aggregates::stream_of(module, &id).expect("valid");
        let slice = host
            .store
            .read_stream(stream, StreamRead::forward())
            .await
            .expect("read");
        assert!(slice.events.is_empty(), "{id} timed out but appended");
    }
    // A good call of the module on probation runs and answers as before once the CPU is free
    // (on a busy machine one may still pass its deadline waiting).
    let mut attempts = 0;
    loop {
        let result = host
            .aggregates
            .execute(
                "misbehaving",
                &format!("after-{attempts}"),
                command("Fine", "{}"),
            )
            .await;
        match result {
            Ok(_) => break,
            Err(CommandError::Module(
                CallError::NoTurnBeforeDeadline { .. } | CallError::DeadlineExceeded { .. },
            )) if attempts < 100 => {
                attempts += 1;
            }
            other => panic!("a good call on probation: {other:?}"),
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
