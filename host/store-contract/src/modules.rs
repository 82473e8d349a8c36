//! The promises of [`cairn_store::Modules`] for modules kept in the store: versioned by
//! content, listed by name, kept across restarts, and a name keeps its kind, even under
//! racing puts. (The runtime's state for a module is in `read_models.rs`, with the read models
//! it drops.)

use std::collections::HashSet;
use std::sync::Arc;

use cairn_store::{
    ModuleHash, ModuleKind, ModuleName, ModulePut, ModulePutError, Modules, NewModule, Timestamp,
};
use tokio::sync::Barrier;

use crate::Backend;
use crate::fixtures;

fn module(name: &str, bytes: &[u8]) -> NewModule {
    module_of_kind(name, ModuleKind::Aggregate, bytes)
}

fn module_of_kind(name: &str, kind: ModuleKind, bytes: &[u8]) -> NewModule {
    NewModule::new(ModuleName::new(name).expect("valid"), kind, bytes.to_vec())
}

fn hash(bytes: &[u8]) -> ModuleHash {
    ModuleHash::of(bytes)
}

/// Modules promise 5: a new version is stamped with the time it was kept; a put that changes
/// nothing keeps the stamp; the stamps are there after a restart; a version never kept has
/// none.
pub async fn a_new_version_is_stamped_with_the_time_it_was_kept<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let name = ModuleName::new("bank").expect("valid");
    let before = Timestamp::now();
    store.put_module(module("bank", b"one")).await.expect("put");
    let after = Timestamp::now();
    let first = store
        .module_uploaded_at(name.clone(), 1)
        .await
        .expect("read")
        .expect("version 1 has a stamp");
    assert!(
        before <= first && first <= after,
        "{first:?} lies between {before:?} and {after:?}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let again = store.put_module(module("bank", b"one")).await.expect("put");
    assert!(matches!(again, ModulePut::Unchanged(_)));
    store.put_module(module("bank", b"two")).await.expect("put");
    let store = fixtures::reopen(&backend, store).await;
    let uploaded = |version| {
        let store = &store;
        let name = name.clone();
        async move { store.module_uploaded_at(name, version).await.expect("read") }
    };
    assert_eq!(
        uploaded(1).await,
        Some(first),
        "an unchanged put keeps the stamp"
    );
    let second = uploaded(2).await.expect("version 2 has a stamp");
    assert!(second > first, "{second:?} is later than {first:?}");
    assert_eq!(uploaded(3).await, None, "no version 3 was kept");
    assert_eq!(
        store
            .module_uploaded_at(ModuleName::new("nothing").expect("valid"), 1)
            .await
            .expect("read"),
        None
    );
}

/// Modules promise 2: versions of a name count 1, 2, 3 with one version per distinct hash in
/// a row (going back to old bytes is a new version), a put of the latest version's bytes
/// changes nothing, and every version, its bytes and the latest of each name are there after a
/// restart.
pub async fn new_bytes_make_a_new_version_and_the_same_bytes_change_nothing<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let first = store.put_module(module("bank", b"one")).await.expect("put");
    assert!(matches!(&first, ModulePut::Created(r) if r.version == 1 && r.hash == hash(b"one")));
    let again = store.put_module(module("bank", b"one")).await.expect("put");
    assert!(matches!(&again, ModulePut::Unchanged(r) if r.version == 1));
    let second = store.put_module(module("bank", b"two")).await.expect("put");
    assert!(matches!(&second, ModulePut::Created(r) if r.version == 2));
    // Going back to old bytes is a change too: a new version with the old hash.
    let third = store.put_module(module("bank", b"one")).await.expect("put");
    assert!(matches!(&third, ModulePut::Created(r) if r.version == 3 && r.hash == hash(b"one")));
    store
        .put_module(module("customers", b"three"))
        .await
        .expect("put");

    let store = fixtures::reopen(&backend, store).await;
    let listed = store.modules().await.expect("list");
    let summary: Vec<_> = listed
        .iter()
        .map(|r| (r.name.as_str(), r.version, r.hash.clone()))
        .collect();
    assert_eq!(
        summary,
        [("bank", 3, hash(b"one")), ("customers", 1, hash(b"three"))]
    );
    assert_eq!(
        store.module_bytes(hash(b"two")).await.expect("read"),
        Some(b"two".to_vec())
    );
    assert_eq!(store.module_bytes(hash(b"nope")).await.expect("read"), None);
    let bank = ModuleName::new("bank").expect("valid");
    let second = store
        .module_version(bank.clone(), 2)
        .await
        .expect("read")
        .expect("version 2 is kept");
    assert_eq!((second.version, second.hash), (2, hash(b"two")));
    assert_eq!(store.module_version(bank, 4).await.expect("read"), None);
}

/// Modules promise 1: a put whose name is held by another kind is refused naming the kind
/// that holds it, even with the holder's own bytes, and keeps nothing; the same kind still
/// makes new versions.
pub async fn a_name_keeps_the_kind_it_was_first_kept_with<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    store
        .put_module(module_of_kind("ledger", ModuleKind::Aggregate, b"h1"))
        .await
        .expect("first put");
    for bytes in [b"h2", b"h1"] {
        let refused = store
            .put_module(module_of_kind("ledger", ModuleKind::Projection, bytes))
            .await;
        match refused {
            Err(ModulePutError::NameTaken { name, held_by }) => {
                assert_eq!((name.as_str(), held_by), ("ledger", ModuleKind::Aggregate));
            }
            other => panic!("bytes {bytes:?}: {other:?}"),
        }
    }
    let message = store
        .put_module(module_of_kind("ledger", ModuleKind::Projection, b"h3"))
        .await
        .expect_err("refused")
        .to_string();
    assert!(message.contains("aggregate"), "{message}");
    // Nothing of the refused puts was kept; the same kind still makes new versions.
    let ledger = ModuleName::new("ledger").expect("valid");
    assert_eq!(
        store.module_version(ledger.clone(), 2).await.expect("read"),
        None
    );
    assert_eq!(store.module_bytes(hash(b"h3")).await.expect("read"), None);
    let next = store
        .put_module(module_of_kind("ledger", ModuleKind::Aggregate, b"h4"))
        .await
        .expect("same kind");
    assert!(
        matches!(next, ModulePut::Created(r) if r.version == 2 && r.kind == ModuleKind::Aggregate)
    );
}

/// Modules promise 1 under a race: of 16 puts of one new name at once, half aggregates and
/// half projections, exactly one kind wins, every loser is told the winning kind, and every
/// version kept has it.
pub async fn of_racing_puts_of_one_name_exactly_one_kind_wins<B: Backend>() {
    let backend = B::create().await;
    let store = fixtures::shared(&backend).await;
    for round in 0..8 {
        let name = format!("contested_{round}");
        let barrier = Arc::new(Barrier::new(16));
        let tasks: Vec<_> = (0..16)
            .map(|task| {
                let (store, barrier) = (store.clone(), barrier.clone());
                let kind = if task % 2 == 0 {
                    ModuleKind::Aggregate
                } else {
                    ModuleKind::Projection
                };
                let module = module_of_kind(&name, kind, format!("{name}-{task}").as_bytes());
                tokio::spawn(async move {
                    barrier.wait().await;
                    (kind, store.put_module(module).await)
                })
            })
            .collect();
        let mut winners = HashSet::new();
        let mut losers = HashSet::new();
        for task in tasks {
            match task.await.expect("task") {
                (kind, Ok(put)) => {
                    assert_eq!(put.record().kind, kind);
                    winners.insert(kind);
                }
                (kind, Err(ModulePutError::NameTaken { held_by, .. })) => {
                    assert_ne!(held_by, kind);
                    losers.insert(kind);
                }
                (_, Err(other)) => panic!("{other}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?} won");
        assert_eq!(losers.len(), 1, "round {round}: {losers:?} lost");
        assert!(winners.is_disjoint(&losers));
        let listed = store.modules().await.expect("list");
        let record = listed
            .iter()
            .find(|r| r.name.as_str() == name)
            .expect("the name is kept");
        assert!(winners.contains(&record.kind));
        let name = ModuleName::new(&name).expect("valid");
        for version in 1..=record.version {
            let kept = store
                .module_version(name.clone(), version)
                .await
                .expect("read")
                .expect("kept");
            assert_eq!(kept.kind, record.kind, "every version has the winning kind");
        }
    }
}
