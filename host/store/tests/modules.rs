//! Modules kept in the store: versioned by content, listed by name, kept across restarts.

mod common;

use cairn_store::{EventStore, ModuleName, ModulePut, NewModule};

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
