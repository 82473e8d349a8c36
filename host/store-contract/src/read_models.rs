//! The promises of [`cairn_store::ReadModels`]: writes and checkpoint commit together, the
//! checkpoint only grows, reads are consistent views, models are kept apart, and everything
//! survives a reopen; and Modules promise 3, a module's state changing with the read models it
//! drops.

use cairn_store::{
    MAX_MODEL_KEY, ModelAmend, ModelCommit, ModelError, ModelWrite, ModuleName, ModuleState,
    Modules, Position, ReadModelName, ReadModels,
};

use crate::Backend;
use crate::fixtures;

fn name(n: &str) -> ReadModelName {
    ReadModelName::new(n).expect("valid name")
}

fn put(key: &str, value: &str) -> ModelWrite {
    ModelWrite::Put {
        key: key.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
    }
}

fn delete(key: &str) -> ModelWrite {
    ModelWrite::Delete {
        key: key.as_bytes().to_vec(),
    }
}

/// A write whose key is one byte over the limit: refused.
fn key_too_long() -> ModelWrite {
    ModelWrite::Put {
        key: vec![b'k'; MAX_MODEL_KEY + 1],
        value: vec![],
    }
}

fn commit(model: &str, writes: Vec<ModelWrite>, checkpoint: u64) -> ModelCommit {
    ModelCommit {
        model: name(model),
        writes: writes.into(),
        checkpoint: Position::new(checkpoint),
    }
}

fn strings(entries: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<(String, String)> {
    entries
        .into_iter()
        .map(|(k, v)| {
            (
                String::from_utf8(k).expect("utf-8"),
                String::from_utf8(v).expect("utf-8"),
            )
        })
        .collect()
}

/// ReadModels promise 1 (writes and checkpoint commit together; a later write in a commit
/// wins) and promise 2 (a view sees what committed before it opened and nothing after, for as
/// long as it is held); a model never committed is empty with no checkpoint, and scans go by
/// prefix, after a key, within a limit.
pub async fn writes_and_checkpoint_commit_together_and_read_back<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let fresh = store.read_model(&name("directory")).expect("view");
    assert_eq!(fresh.checkpoint(), None);
    assert_eq!(fresh.get(b"anything").expect("get"), None);

    store
        .commit_model(commit(
            "directory",
            vec![
                put("customer/1", "ada"),
                put("customer/2", "bob"),
                put("customer/3", "cy"),
                put("deleted/2", ""),
                put("customer/3", "cyd"),
                delete("customer/4"),
            ],
            7,
        ))
        .await
        .expect("commits");
    let view = store.read_model(&name("directory")).expect("view");
    assert_eq!(view.checkpoint(), Some(Position::new(7)));
    assert_eq!(
        view.get(b"customer/3").expect("get"),
        Some(b"cyd".to_vec()),
        "a later write wins"
    );
    assert_eq!(
        strings(view.scan(b"customer/", None, 10).expect("scan")),
        [
            ("customer/1".into(), "ada".into()),
            ("customer/2".into(), "bob".into()),
            ("customer/3".into(), "cyd".into())
        ]
    );
    assert_eq!(
        strings(
            view.scan(b"customer/", Some(b"customer/1"), 1)
                .expect("scan")
        ),
        [("customer/2".into(), "bob".into())],
        "after a key, with a limit"
    );
    assert_eq!(view.scan(b"nothing/", None, 10).expect("scan"), vec![]);
    assert_eq!(
        view.scan(b"", None, 10).expect("scan").len(),
        4,
        "the empty prefix is everything"
    );

    store
        .commit_model(commit(
            "directory",
            vec![delete("customer/2"), put("deleted/1", "")],
            9,
        ))
        .await
        .expect("commits");
    assert_eq!(
        view.get(b"customer/2").expect("get"),
        Some(b"bob".to_vec()),
        "a view does not change"
    );
    let later = store.read_model(&name("directory")).expect("view");
    assert_eq!(later.get(b"customer/2").expect("get"), None);
    assert_eq!(later.scan(b"deleted/", None, 10).expect("scan").len(), 2);
    assert_eq!(later.checkpoint(), Some(Position::new(9)));
}

/// ReadModels promise 1: a commit whose checkpoint is not past the model's is refused naming
/// both, as is one with a key too long, and a refused commit writes none of its writes and
/// leaves the checkpoint.
pub async fn a_checkpoint_that_does_not_move_ahead_is_refused_and_nothing_is_written<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    store
        .commit_model(commit("counts", vec![put("n", "1")], 5))
        .await
        .expect("commits");
    for checkpoint in [5, 4] {
        let refused = store
            .commit_model(commit("counts", vec![put("n", "2")], checkpoint))
            .await
            .expect_err("not ahead");
        assert!(
            matches!(refused, ModelError::CheckpointNotAhead { stored, given, .. }
                if stored == Position::new(5) && given == Position::new(checkpoint)),
            "{refused:?}"
        );
    }
    let too_long = store
        .commit_model(ModelCommit {
            model: name("counts"),
            writes: vec![put("ok", "1"), key_too_long()].into(),
            checkpoint: Position::new(6),
        })
        .await
        .expect_err("key too long");
    assert!(
        matches!(too_long, ModelError::TooLarge { .. }),
        "{too_long:?}"
    );
    let view = store.read_model(&name("counts")).expect("view");
    assert_eq!(view.get(b"n").expect("get"), Some(b"1".to_vec()));
    assert_eq!(
        view.get(b"ok").expect("get"),
        None,
        "a refused commit writes nothing"
    );
    assert_eq!(view.checkpoint(), Some(Position::new(5)));
}

/// ReadModels promise 3: an amendment writes entries and leaves the checkpoint, so the next
/// commit still needs a checkpoint past it; a refused amendment (a key too long) writes none of
/// its writes; a model never committed is not amended, and stays empty.
pub async fn an_amendment_writes_entries_and_leaves_the_checkpoint<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let never = store
        .amend_model(ModelAmend {
            model: name("fresh"),
            writes: vec![put("a", "1")],
        })
        .await
        .expect_err("never committed");
    assert!(
        matches!(never, ModelError::NeverCommitted { .. }),
        "{never:?}"
    );
    let fresh = store.read_model(&name("fresh")).expect("view");
    assert_eq!(
        (fresh.checkpoint(), fresh.get(b"a").expect("get")),
        (None, None)
    );

    store
        .commit_model(commit("pending", vec![put("i1", "x"), put("i2", "y")], 4))
        .await
        .expect("commits");
    store
        .amend_model(ModelAmend {
            model: name("pending"),
            writes: vec![delete("i1"), put("o1", "rejected"), put("i2", "z")],
        })
        .await
        .expect("amends");
    let refused = store
        .amend_model(ModelAmend {
            model: name("pending"),
            writes: vec![delete("i2"), key_too_long()],
        })
        .await
        .expect_err("key too long");
    assert!(
        matches!(refused, ModelError::TooLarge { .. }),
        "{refused:?}"
    );
    let store = fixtures::reopen(&backend, store).await;
    let view = store.read_model(&name("pending")).expect("view");
    assert_eq!(view.checkpoint(), Some(Position::new(4)));
    assert_eq!(
        strings(view.scan(b"", None, 10).expect("scan")),
        [("i2".into(), "z".into()), ("o1".into(), "rejected".into())]
    );
    let again = store
        .commit_model(commit("pending", vec![put("i3", "w")], 4))
        .await
        .expect_err("the checkpoint stayed at 4");
    assert!(
        matches!(again, ModelError::CheckpointNotAhead { .. }),
        "{again:?}"
    );
}

/// ReadModels promise 4: a replacement leaves the model holding exactly its writes at its
/// checkpoint, even one behind the model's, and leaves other models alone; a refused one (a
/// key too long) leaves the model as it was; replacing a model never made makes it.
pub async fn a_replacement_leaves_exactly_its_writes_at_its_checkpoint<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    store
        .commit_model(commit("old", vec![put("a", "1"), put("b", "2")], 9))
        .await
        .expect("commits");
    store
        .commit_model(commit("other", vec![put("a", "x")], 2))
        .await
        .expect("commits");
    let refused = store
        .replace_model(commit("old", vec![key_too_long()], 1))
        .await
        .expect_err("key too long");
    assert!(
        matches!(refused, ModelError::TooLarge { .. }),
        "{refused:?}"
    );
    let view = store.read_model(&name("old")).expect("view");
    assert_eq!(view.checkpoint(), Some(Position::new(9)));
    assert_eq!(
        strings(view.scan(b"", None, 10).expect("scan")),
        [("a".into(), "1".into()), ("b".into(), "2".into())],
        "a refused replacement changes nothing"
    );
    drop(view);

    store
        .replace_model(commit("old", vec![put("c", "3")], 1))
        .await
        .expect("replaces");
    store
        .replace_model(commit("new", vec![put("n", "1")], 0))
        .await
        .expect("makes a model never made");
    let store = fixtures::reopen(&backend, store).await;
    let view = store.read_model(&name("old")).expect("view");
    assert_eq!(view.checkpoint(), Some(Position::new(1)));
    assert_eq!(
        strings(view.scan(b"", None, 10).expect("scan")),
        [("c".into(), "3".into())]
    );
    let other = store.read_model(&name("other")).expect("view");
    assert_eq!(
        (other.checkpoint(), other.get(b"a").expect("get")),
        (Some(Position::new(2)), Some(b"x".to_vec()))
    );
    let new = store.read_model(&name("new")).expect("view");
    assert_eq!(
        (new.checkpoint(), new.get(b"n").expect("get")),
        (Some(Position::new(0)), Some(b"1".to_vec()))
    );
    store
        .commit_model(commit("old", vec![put("d", "4")], 2))
        .await
        .expect("a commit goes on from the replacement's checkpoint");
}

/// ReadModels promise 1 across models and restarts: models are kept apart, a drop removes a
/// model's entries and checkpoint (dropping one never made is fine), what committed is there
/// after a restart, and a model made after a drop starts empty.
pub async fn models_are_kept_apart_dropped_whole_and_survive_a_reopen<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    for (model, value) in [("blue", "b"), ("green", "g"), ("\u{ff}", "last")] {
        store
            .commit_model(commit(model, vec![put("k1", value), put("k2", value)], 3))
            .await
            .expect("commits");
    }
    store.drop_model(name("blue")).await.expect("drops");
    store
        .drop_model(name("never-there"))
        .await
        .expect("dropping nothing is fine");
    let blue = store.read_model(&name("blue")).expect("view");
    assert_eq!(
        (blue.checkpoint(), blue.scan(b"", None, 10).expect("scan")),
        (None, vec![])
    );

    let store = fixtures::reopen(&backend, store).await;
    let green = store.read_model(&name("green")).expect("view");
    assert_eq!(green.checkpoint(), Some(Position::new(3)));
    assert_eq!(
        strings(green.scan(b"", None, 10).expect("scan")),
        [("k1".into(), "g".into()), ("k2".into(), "g".into())]
    );
    // A model made after a drop may reuse the dropped id; it starts empty.
    store
        .commit_model(commit("red", vec![put("k3", "r")], 1))
        .await
        .expect("commits");
    let red = store.read_model(&name("red")).expect("view");
    assert_eq!(
        strings(red.scan(b"", None, 10).expect("scan")),
        [("k3".into(), "r".into())]
    );
    let last = store.read_model(&name("\u{ff}")).expect("view");
    assert_eq!(last.scan(b"k", None, 10).expect("scan").len(), 2);
    let green = store.read_model(&name("green")).expect("view");
    assert_eq!(
        green.scan(b"", None, 10).expect("scan").len(),
        2,
        "red did not touch green"
    );
}

/// Modules promise 3: a module's state replaces the last one put, and the read models it
/// names to drop are dropped with it; after a restart the state and the drop are both there,
/// and the models it kept are untouched.
pub async fn a_module_state_replaces_the_last_and_drops_the_models_it_lets_go_at_once<
    B: Backend,
>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let module = ModuleName::new("directory").expect("valid");
    assert_eq!(
        store.module_state(module.clone()).await.expect("read"),
        None
    );
    for model in ["directory#g1", "directory#g2"] {
        store
            .commit_model(commit(model, vec![put("k", "v")], 4))
            .await
            .expect("commits");
    }
    store
        .put_module_state(ModuleState {
            module: module.clone(),
            state: b"serving g1".to_vec(),
            drop_models: vec![],
        })
        .await
        .expect("puts");
    store
        .put_module_state(ModuleState {
            module: module.clone(),
            state: b"serving g2".to_vec(),
            drop_models: vec![name("directory#g1"), name("never-there")],
        })
        .await
        .expect("puts");

    let store = fixtures::reopen(&backend, store).await;
    assert_eq!(
        store.module_state(module).await.expect("read"),
        Some(b"serving g2".to_vec())
    );
    let dropped = store.read_model(&name("directory#g1")).expect("view");
    assert_eq!(
        (
            dropped.checkpoint(),
            dropped.scan(b"", None, 10).expect("scan")
        ),
        (None, vec![])
    );
    let kept = store.read_model(&name("directory#g2")).expect("view");
    assert_eq!(kept.checkpoint(), Some(Position::new(4)));
}
