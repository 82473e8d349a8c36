//! Modules promise 4, removing a module: it leaves the list, its state and the read models
//! named with it go in the same transaction, its versions stay readable, and what a later put
//! of the name may be (promises 1 and 2).

use cairn_store::{
    ModelCommit, ModelWrite, ModuleKind, ModuleName, ModulePut, ModulePutError, ModuleRemoval,
    ModuleState, Modules, NewModule, Position, ReadModelName, ReadModels,
};

use crate::Backend;
use crate::fixtures;

fn name(n: &str) -> ModuleName {
    ModuleName::new(n).expect("valid name")
}

fn model(n: &str) -> ReadModelName {
    ReadModelName::new(n).expect("valid name")
}

fn module(n: &str, kind: ModuleKind, bytes: &[u8]) -> NewModule {
    NewModule::new(name(n), kind, bytes.to_vec())
}

fn removal(n: &str, drop_models: &[&str]) -> ModuleRemoval {
    ModuleRemoval {
        module: name(n),
        drop_models: drop_models.iter().map(|m| model(m)).collect(),
    }
}

async fn commit_one(store: &impl ReadModels, n: &str) {
    store
        .commit_model(ModelCommit {
            model: model(n),
            writes: vec![ModelWrite::Put {
                key: b"k".to_vec(),
                value: b"v".to_vec(),
            }]
            .into(),
            checkpoint: Position::new(3),
        })
        .await
        .expect("commits");
}

/// Modules promise 4: a removed module leaves the list, its state is deleted and the read
/// models named with it are dropped (others stay), its versions stay readable, all of it
/// across a restart; removing it again, or a name never kept, changes nothing.
pub async fn a_removed_module_leaves_the_list_with_its_state_and_models<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    store
        .put_module(module("directory", ModuleKind::Projection, b"one"))
        .await
        .expect("put");
    store
        .put_module(module("bank", ModuleKind::Aggregate, b"two"))
        .await
        .expect("put");
    for m in ["directory#g1", "directory#g2", "balances#g1"] {
        commit_one(&store, m).await;
    }
    store
        .put_module_state(ModuleState {
            module: name("directory"),
            state: b"serving g2".to_vec(),
            drop_models: vec![],
        })
        .await
        .expect("puts");
    let removed = store
        .remove_module(removal("directory", &["directory#g1", "directory#g2"]))
        .await
        .expect("removes")
        .expect("it was kept");
    assert_eq!(
        (removed.name.as_str(), removed.version, removed.kind),
        ("directory", 1, ModuleKind::Projection)
    );

    let store = fixtures::reopen(&backend, store).await;
    let listed: Vec<_> = store
        .modules()
        .await
        .expect("lists")
        .into_iter()
        .map(|r| r.name.to_string())
        .collect();
    assert_eq!(listed, ["bank"]);
    assert_eq!(
        store.module_state(name("directory")).await.expect("reads"),
        None
    );
    // A removed module keeps no state, even one put for it after (by a runner that was late).
    store
        .put_module_state(ModuleState {
            module: name("directory"),
            state: b"late".to_vec(),
            drop_models: vec![],
        })
        .await
        .expect("puts");
    assert_eq!(
        store.module_state(name("directory")).await.expect("reads"),
        None,
        "a removed module's state was kept"
    );
    for dropped in ["directory#g1", "directory#g2"] {
        let view = store.read_model(&model(dropped)).expect("view");
        assert_eq!(view.checkpoint(), None, "{dropped}");
        assert_eq!(view.scan(b"", None, 10).expect("scan"), vec![], "{dropped}");
    }
    let other = store.read_model(&model("balances#g1")).expect("view");
    assert_eq!(other.checkpoint(), Some(Position::new(3)));
    let version = store
        .module_version(name("directory"), 1)
        .await
        .expect("reads")
        .expect("a removed module's versions stay");
    assert_eq!(version, removed);
    assert_eq!(
        store
            .remove_module(removal("directory", &[]))
            .await
            .expect("removes"),
        None,
        "removed already"
    );
    assert_eq!(
        store
            .remove_module(removal("never_kept", &[]))
            .await
            .expect("removes"),
        None
    );
    assert_eq!(store.modules().await.expect("lists").len(), 1);
}

/// Modules promise 2 after a removal: any put of the name, its last bytes too, makes a new
/// version, and the name is listed again.
pub async fn a_removed_module_comes_back_as_a_new_version<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    store
        .put_module(module("bank", ModuleKind::Aggregate, b"one"))
        .await
        .expect("put");
    store
        .remove_module(removal("bank", &[]))
        .await
        .expect("removes")
        .expect("it was kept");
    let back = store
        .put_module(module("bank", ModuleKind::Aggregate, b"one"))
        .await
        .expect("put");
    assert!(
        matches!(&back, ModulePut::Created(r) if r.version == 2),
        "{back:?}"
    );
    let again = store
        .put_module(module("bank", ModuleKind::Aggregate, b"one"))
        .await
        .expect("put");
    assert!(
        matches!(&again, ModulePut::Unchanged(r) if r.version == 2),
        "{again:?}"
    );
    let store = fixtures::reopen(&backend, store).await;
    let listed = store.modules().await.expect("lists");
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].name.as_str(), listed[0].version), ("bank", 2));
}

/// Modules promise 1 after a removal: a removed aggregate's name stays an aggregate's (its
/// streams stay), as a removed reactor's stays a reactor's (its outcome stream stays), and a
/// removed projection's or upcaster's name may be taken by another kind.
pub async fn a_removed_aggregate_keeps_its_kind_and_a_removed_projection_frees_its_name<
    B: Backend,
>() {
    let backend = B::create().await;
    let store = backend.open().await;
    store
        .put_module(module("bank", ModuleKind::Aggregate, b"one"))
        .await
        .expect("put");
    store
        .put_module(module("directory", ModuleKind::Projection, b"two"))
        .await
        .expect("put");
    store
        .put_module(module("old_shapes", ModuleKind::Upcaster, b"five"))
        .await
        .expect("put");
    store
        .put_module(module("transfers", ModuleKind::Reactor, b"seven"))
        .await
        .expect("put");
    for n in ["bank", "directory", "old_shapes", "transfers"] {
        store
            .remove_module(removal(n, &[]))
            .await
            .expect("removes")
            .expect("it was kept");
    }
    let refused = store
        .put_module(module("bank", ModuleKind::Projection, b"three"))
        .await;
    assert!(
        matches!(
            &refused,
            Err(ModulePutError::NameTaken {
                held_by: ModuleKind::Aggregate,
                ..
            })
        ),
        "{refused:?}"
    );
    let refused = store
        .put_module(module("transfers", ModuleKind::Aggregate, b"eight"))
        .await;
    assert!(
        matches!(
            &refused,
            Err(ModulePutError::NameTaken {
                held_by: ModuleKind::Reactor,
                ..
            })
        ),
        "{refused:?}"
    );
    let taken = store
        .put_module(module("directory", ModuleKind::Aggregate, b"four"))
        .await
        .expect("put");
    assert!(
        matches!(&taken, ModulePut::Created(r) if r.version == 2 && r.kind == ModuleKind::Aggregate),
        "{taken:?}"
    );
    // A removed upcaster leaves nothing under its name either.
    let freed = store
        .put_module(module("old_shapes", ModuleKind::Projection, b"six"))
        .await
        .expect("put");
    assert!(
        matches!(&freed, ModulePut::Created(r) if r.version == 2 && r.kind == ModuleKind::Projection),
        "{freed:?}"
    );
    let store = fixtures::reopen(&backend, store).await;
    let listed: Vec<_> = store
        .modules()
        .await
        .expect("lists")
        .into_iter()
        .map(|r| (r.name.to_string(), r.kind))
        .collect();
    assert_eq!(
        listed,
        [
            ("directory".to_owned(), ModuleKind::Aggregate),
            ("old_shapes".to_owned(), ModuleKind::Projection),
        ]
    );
}
