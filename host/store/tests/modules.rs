//! Modules kept in the store: versioned by content, listed by name, kept across restarts, and
//! a name keeps its kind, even under racing puts.

mod common;

use cairn_store::{EventStore, ModuleName, ModulePut, ModulePutError, NewModule};

fn module(name: &str, hash: &str, bytes: &[u8]) -> NewModule {
    NewModule {
        name: ModuleName::new(name).expect("valid"),
        kind: "aggregate".into(),
        hash: hash.into(),
        bytes: bytes.to_vec(),
    }
}

#[tokio::test]
async fn new_bytes_make_a_new_version_and_the_same_bytes_change_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open(dir.path()).await;
    let first = store
        .put_module(module("bank", "h1", b"one"))
        .await
        .expect("put");
    assert!(matches!(&first, ModulePut::Created(r) if r.version == 1 && r.hash == "h1"));
    let again = store
        .put_module(module("bank", "h1", b"one"))
        .await
        .expect("put");
    assert!(matches!(&again, ModulePut::Unchanged(r) if r.version == 1));
    let second = store
        .put_module(module("bank", "h2", b"two"))
        .await
        .expect("put");
    assert!(matches!(&second, ModulePut::Created(r) if r.version == 2));
    // Going back to old bytes is a change too: a new version with the old hash.
    let third = store
        .put_module(module("bank", "h1", b"one"))
        .await
        .expect("put");
    assert!(matches!(&third, ModulePut::Created(r) if r.version == 3 && r.hash == "h1"));
    store
        .put_module(module("customers", "h3", b"three"))
        .await
        .expect("put");

    store.close().await;
    let store = common::open(dir.path()).await;
    let listed = store.modules().await.expect("list");
    let summary: Vec<_> = listed
        .iter()
        .map(|r| (r.name.as_str(), r.version, r.hash.as_str()))
        .collect();
    assert_eq!(summary, [("bank", 3, "h1"), ("customers", 1, "h3")]);
    assert_eq!(
        store.module_bytes("h2".into()).await.expect("read"),
        Some(b"two".to_vec())
    );
    assert_eq!(store.module_bytes("nope".into()).await.expect("read"), None);
    let bank = ModuleName::new("bank").expect("valid");
    let second = store
        .module_version(bank.clone(), 2)
        .await
        .expect("read")
        .expect("version 2 is kept");
    assert_eq!((second.version, second.hash.as_str()), (2, "h2"));
    assert_eq!(store.module_version(bank, 4).await.expect("read"), None);
}

fn module_of_kind(name: &str, kind: &str, hash: &str) -> NewModule {
    NewModule {
        kind: kind.into(),
        ..module(name, hash, hash.as_bytes())
    }
}

#[tokio::test]
async fn a_name_keeps_the_kind_it_was_first_kept_with() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open(dir.path()).await;
    store
        .put_module(module_of_kind("ledger", "aggregate", "h1"))
        .await
        .expect("first put");
    for hash in ["h2", "h1"] {
        let refused = store
            .put_module(module_of_kind("ledger", "projection", hash))
            .await;
        match refused {
            Err(ModulePutError::NameTaken { name, held_by }) => {
                assert_eq!((name.as_str(), held_by.as_str()), ("ledger", "aggregate"));
            }
            other => panic!("hash {hash}: {other:?}"),
        }
    }
    let message = store
        .put_module(module_of_kind("ledger", "projection", "h3"))
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
    assert_eq!(store.module_bytes("h3".into()).await.expect("read"), None);
    let next = store
        .put_module(module_of_kind("ledger", "aggregate", "h4"))
        .await
        .expect("same kind");
    assert!(matches!(next, ModulePut::Created(r) if r.version == 2 && r.kind == "aggregate"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_racing_puts_of_one_name_exactly_one_kind_wins() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open(dir.path()).await;
    for round in 0..8 {
        let name = format!("contested_{round}");
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(16));
        let tasks: Vec<_> = (0..16)
            .map(|task| {
                let (store, barrier) = (store.clone(), barrier.clone());
                let kind = if task % 2 == 0 {
                    "aggregate"
                } else {
                    "projection"
                };
                let module = module_of_kind(&name, kind, &format!("{name}-{task}"));
                tokio::spawn(async move {
                    barrier.wait().await;
                    (kind, store.put_module(module).await)
                })
            })
            .collect();
        let mut winners = std::collections::BTreeSet::new();
        let mut losers = std::collections::BTreeSet::new();
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
        assert!(winners.contains(record.kind.as_str()));
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
