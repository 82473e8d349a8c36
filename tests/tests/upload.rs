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
            cairn_tests::guest("bank-account")[..1_000].to_vec(),
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
        .upload("bad\nname", cairn_tests::guest("bank-account"))
        .await;
    assert!(matches!(bad_name, Err(LoadError::Name(_))), "{bad_name:?}");
    assert!(registry.list().is_empty(), "nothing was loaded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_bytes_twice_change_nothing_and_new_bytes_swap_in() {
    let host = Host::start().await;
    let registry = host.registry();
    let first = registry
        .upload("bank-account", cairn_tests::guest("bank-account"))
        .await
        .expect("upload");
    assert!(first.created && first.record.version == 1 && first.kind == ModuleKind::Aggregate);
    let again = registry
        .upload("bank-account", cairn_tests::guest("bank-account"))
        .await
        .expect("upload");
    assert!(!again.created && again.record.version == 1 && again.record.hash == first.record.hash);
    let swapped = registry
        .upload("bank-account", cairn_tests::guest("customers"))
        .await
        .expect("upload");
    assert!(swapped.created && swapped.record.version == 2);
    let loaded = registry.aggregate("bank-account").expect("loaded");
    assert_eq!(loaded.hash().as_str(), swapped.record.hash);
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
