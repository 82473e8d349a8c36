//! What the registry refuses at upload, and why; and what it does with the same bytes twice.

mod common;

use cairn_runtime::{LoadError, ModuleKind};
use common::Host;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_of_another_world_is_refused_with_the_reason() {
    let host = Host::start().await;
    let error = host
        .registry()
        .upload("calc", cairn_tests::guest("wrong-world"))
        .await
        .expect_err("refused");
    match &error {
        LoadError::WrongWorld { reason } => {
            assert!(
                reason.contains("add") && reason.contains("cairn:module/aggregate@0.1.0"),
                "{reason}"
            );
        }
        other => panic!("expected WrongWorld, got {other:?}"),
    }
    assert!(host.registry().list().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_bytes_and_core_modules_are_refused() {
    let host = Host::start().await;
    let registry = host.registry();
    let cases: [(&str, Vec<u8>); 4] = [
        ("empty", Vec::new()),
        ("text", b"hello, this is not wasm".to_vec()),
        (
            "truncated",
            cairn_tests::guest("bank_account")[..1_000].to_vec(),
        ),
        ("core module", b"\0asm\x01\0\0\0".to_vec()),
    ];
    for (case, bytes) in cases {
        let error = registry.upload("broken", bytes).await.expect_err(case);
        let message = error.to_string();
        match (case, &error) {
            ("core module", LoadError::CoreModule) => {
                assert!(message.contains("wasm32-wasip2"), "{message}")
            }
            (_, LoadError::Invalid { .. }) if case != "core module" => {}
            _ => panic!("{case}: unexpected {error:?}"),
        }
    }
    let bad_name = registry
        .upload("bad\nname", cairn_tests::guest("bank_account"))
        .await;
    assert!(matches!(bad_name, Err(LoadError::Name(_))), "{bad_name:?}");
    assert!(registry.list().is_empty(), "nothing was loaded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_bytes_twice_change_nothing_and_new_bytes_swap_in() {
    let host = Host::start().await;
    let registry = host.registry();
    let first = registry
        .upload("bank_account", cairn_tests::guest("bank_account"))
        .await
        .expect("upload");
    assert!(first.created && first.record.version == 1 && first.kind == ModuleKind::Aggregate);
    let again = registry
        .upload("bank_account", cairn_tests::guest("bank_account"))
        .await
        .expect("upload");
    assert!(!again.created && again.record.version == 1 && again.record.hash == first.record.hash);
    let swapped = registry
        .upload("bank_account", cairn_tests::guest("customers"))
        .await
        .expect("upload");
    assert!(swapped.created && swapped.record.version == 2);
    let loaded = registry.aggregate("bank_account").expect("loaded");
    assert_eq!(loaded.hash(), &swapped.record.hash);
    assert_eq!(registry.list().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_the_sandbox_does_not_provide_is_refused_by_name() {
    let host = Host::start().await;
    let error = host
        .registry()
        .upload("greedy", cairn_tests::guest("bad-import"))
        .await
        .expect_err("refused");
    match &error {
        LoadError::BadImport { reason } => assert!(reason.contains("steal-secrets"), "{reason}"),
        other => panic!("expected BadImport, got {other:?}"),
    }
    assert!(host.registry().list().is_empty());
}

/// A component that would cost more to compile than the host's budget is refused from its
/// sections alone, before it is compiled: a 16 MiB component of 250,000 functions once took
/// 9.4 s and 1.8 GB to compile before it was refused as the wrong world.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_over_the_compile_budget_is_refused_before_it_is_compiled() {
    let limits = cairn_runtime::Limits {
        compile_functions: 50,
        ..cairn_runtime::Limits::default()
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let host = Host::start_in(dir, limits, cairn_runtime::CommandConfig::default()).await;
    let error = host
        .registry()
        .upload("bank_account", cairn_tests::guest("bank_account"))
        .await
        .expect_err("over the budget");
    assert!(
        matches!(&error, LoadError::ExceedsLimits { reason } if reason.contains("limits.compile_functions")),
        "{error:?}"
    );
    assert!(host.registry().list().is_empty(), "something was kept");
    // Within the budget (the default) the same bytes load.
    let host = Host::start().await;
    let uploaded = host
        .registry()
        .upload("bank_account", cairn_tests::guest("bank_account"))
        .await
        .expect("loads within the default budget");
    assert_eq!(uploaded.kind, ModuleKind::Aggregate);
}

/// A module kept by a release whose rule for names allowed `-` (here `old-bank`) is not
/// served after the rule changed: its streams could be spelled by another module's (module
/// `old`, id `bank-1`). Nothing is lost: its events stay in their streams and read as
/// before, and the same component uploads under a name that follows the rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_kept_under_a_name_the_rule_now_refuses_is_not_served_and_its_events_stay() {
    use cairn_store::{
        EventLog, EventType, ExpectedVersion, Json, ModuleName, Modules, NewEvent, NewModule,
        StreamId, StreamRead,
    };
    let host = Host::start().await;
    let bytes = cairn_tests::guest("bank_account");
    host.store
        .put_module(NewModule::new(
            ModuleName::kept("old-bank").expect("a kept name"),
            ModuleKind::Aggregate,
            bytes.clone(),
        ))
        .await
        .expect("kept");
    let stream = StreamId::new("old-bank-1").expect("a stream");
    let opened = NewEvent::new(
        EventType::new("Opened").expect("a type"),
        Json::parse(r#"{"owner":"Ada"}"#).expect("json"),
    );
    host.store
        .append(stream.clone(), ExpectedVersion::NoStream, vec![opened])
        .await
        .expect("appended");
    let dir = host.stop().await;

    let host = Host::start_in(
        dir,
        cairn_runtime::Limits::default(),
        cairn_runtime::CommandConfig::default(),
    )
    .await;
    assert!(
        host.registry().aggregate("old-bank").is_none(),
        "a name that breaks the rule is served"
    );
    let slice = host
        .store
        .read_stream(stream.clone(), StreamRead::forward())
        .await
        .expect("reads");
    assert_eq!(slice.events.len(), 1, "the kept module's events are gone");
    assert_eq!(stream.category(), "old");
    let uploaded = host
        .registry()
        .upload("old_bank", bytes)
        .await
        .expect("the same bytes under a name that follows the rule");
    assert_eq!(uploaded.kind, ModuleKind::Aggregate);
}

/// One name, one kind, even when an aggregate and a projection are uploaded under it at the same
/// moment: the kind check is part of the store's write, so exactly one kind wins every race,
/// the loser is told which kind holds the name, and after a restart the same kind loads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_of_one_name_as_two_kinds_register_exactly_one() {
    let host = std::sync::Arc::new(Host::start().await);
    let (aggregate, projection) = (
        cairn_tests::guest("bank_account"),
        cairn_tests::guest("account_balances"),
    );
    let mut winners = Vec::new();
    for n in 0..20 {
        let name = format!("contested_{n}");
        let (a, p) = {
            let (h1, h2) = (std::sync::Arc::clone(&host), std::sync::Arc::clone(&host));
            let (n1, n2) = (name.clone(), name.clone());
            let (b1, b2) = (aggregate.clone(), projection.clone());
            tokio::join!(
                tokio::spawn(async move { h1.registry().upload(&n1, b1).await }),
                tokio::spawn(async move { h2.registry().upload(&n2, b2).await })
            )
        };
        let (a, p) = (a.expect("task"), p.expect("task"));
        let winner = match (&a, &p) {
            (Ok(_), Err(LoadError::NameTaken { held_by, .. })) => {
                assert_eq!(held_by, "an aggregate");
                ModuleKind::Aggregate
            }
            (Err(LoadError::NameTaken { held_by, .. }), Ok(_)) => {
                assert_eq!(held_by, "a projection");
                ModuleKind::Projection
            }
            other => panic!("{name}: not exactly one winner: {other:?}"),
        };
        let listed = host.registry().list();
        let kinds: Vec<_> = listed.iter().filter(|m| m.name.as_str() == name).collect();
        assert_eq!(kinds.len(), 1, "{name}: {kinds:?}");
        assert_eq!(kinds[0].kind, winner, "{name}");
        winners.push((name, winner));
    }
    let host = std::sync::Arc::into_inner(host).expect("the only handle");
    let dir = host.stop().await;
    let host = Host::start_in(
        dir,
        cairn_runtime::Limits::default(),
        cairn_runtime::CommandConfig::default(),
    )
    .await;
    for (name, kind) in winners {
        let loaded = match kind {
            ModuleKind::Aggregate => host.registry().aggregate(&name).is_some(),
            ModuleKind::Projection => host.registry().projection(&name).is_some(),
            ModuleKind::Upcaster => host.registry().upcaster(&name).is_some(),
            ModuleKind::Reactor => host.registry().reactor(&name).is_some(),
        };
        assert!(loaded, "{name} did not load back as {kind:?}");
    }
}
