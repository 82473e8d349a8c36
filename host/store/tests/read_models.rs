//! Read models: writes and checkpoint commit together, the checkpoint only grows, reads are
//! consistent views, models are kept apart, and everything survives a reopen.

mod common;

use cairn_store::{
    EventStore, MAX_MODEL_KEY, ModelCommit, ModelError, ModelWrite, ModuleName, ModuleState,
    Position, ReadModelName,
};

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

#[tokio::test]
async fn writes_and_checkpoint_commit_together_and_read_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open(dir.path()).await;
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

#[tokio::test]
async fn a_checkpoint_that_does_not_move_ahead_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open(dir.path()).await;
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
            writes: vec![
                put("ok", "1"),
                ModelWrite::Put {
                    key: vec![b'k'; MAX_MODEL_KEY + 1],
                    value: vec![],
                },
            ]
            .into(),
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

#[tokio::test]
async fn models_are_kept_apart_dropped_whole_and_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open(dir.path()).await;
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
    store.close().await;

    let store = common::open(dir.path()).await;
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

#[tokio::test]
async fn a_module_state_replaces_the_last_and_drops_the_models_it_lets_go_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open(dir.path()).await;
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
    store.close().await;

    let store = common::open(dir.path()).await;
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
