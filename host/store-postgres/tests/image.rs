//! A store moved between backends, as `cairn migrate` moves it: an embedded store with every
//! kind of content (events over many streams and parts, keyed appends, the command log with a
//! rejection, snapshots, module versions with a removal and a state, read models with more rows
//! than a part holds, and one with none) exported into an empty PostgreSQL, and from there into
//! a new embedded store. All three images digest alike; the copies answer every read as the
//! original does; and each copy goes on where the original stopped (the next position, the
//! next version, a retry under a migrated key recognised).
//!
//! Bad input leaves the target as it was: a target that is not empty or that nodes serve, an
//! export cut short, events out of order, a key naming versions its stream lacks, and a name
//! an older release allowed that PostgreSQL's store refuses.

use std::sync::{Arc, OnceLock};

use cairn_pg_cluster::{Cluster, Options};
use cairn_store::{
    AllRead, AppendKind, CommandId, CommandType, EventLog, EventStore, EventType, ExpectedVersion,
    IdempotencyKey, ImageDigest, ImagePart, ImportError, Json, KeptAppendKey, LoggedCommand,
    ModelCommit, ModelWrite, ModuleHash, ModuleKind, ModuleName, ModuleRemoval, ModuleState,
    NewEvent, NewModule, NothingAppended, Position, ReadModelName, RedbOptions, RedbStore,
    Snapshot, SnapshotKey, StreamId, Timestamp, Version, image_channel,
};
use cairn_store_postgres::PostgresStore;

fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| Cluster::start(Options::default()).expect("PostgreSQL starts"))
}

fn stream(n: usize) -> StreamId {
    StreamId::new(&format!("account-{n}")).expect("a stream name")
}

fn event(n: usize) -> NewEvent {
    NewEvent::new(
        EventType::new("Deposited").expect("a type"),
        Json::parse(&format!(r#"{{"amount":{n}}}"#)).expect("JSON"),
    )
    .with_metadata(Json::parse(r#"{"source":"image test"}"#).expect("JSON"))
}

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::new(text).expect("a key")
}

fn model(name: &str) -> ReadModelName {
    ReadModelName::new(name).expect("a model name")
}

fn module_name(name: &str) -> ModuleName {
    ModuleName::new(name).expect("a module name")
}

const STREAMS: usize = 30;
const ROUNDS: usize = 30;
const MODEL_ROWS: usize = 1_500;

/// Fills `store` with some of everything; returns a command id that appended and one that
/// was rejected.
async fn fill(store: &dyn EventStore) -> (CommandId, CommandId) {
    for round in 0..ROUNDS {
        for n in 0..STREAMS {
            let expected = match round {
                0 => ExpectedVersion::NoStream,
                _ => ExpectedVersion::Any,
            };
            // Some appends of two events, so runs of one stream's positions vary in length.
            let events = if (n + round) % 3 == 0 {
                vec![event(n), event(round)]
            } else {
                vec![event(n)]
            };
            if (n + round) % 7 == 0 {
                store
                    .append_keyed(stream(n), expected, events, key(&format!("k-{round}-{n}")))
                    .await
                    .expect("a keyed append");
            } else {
                store
                    .append(stream(n), expected, events)
                    .await
                    .expect("an append");
            }
        }
    }
    let command = |decided_at: u64| LoggedCommand {
        id: CommandId::from(uuid::Uuid::now_v7()),
        command_type: CommandType::new("Deposit").expect("a type"),
        data: Json::parse(r#"{"amount": 5}"#).expect("JSON"),
        idempotency_key: Some(key("deposit-once")),
        time: Timestamp::from_millis(1_795_000_000_000),
        aggregate: module_name("bank"),
        stream: stream(0),
        decided_at: Version::new(decided_at),
        module_hash: ModuleHash::of(b"bank v2"),
    };
    let version = store.stream_info(stream(0)).await.expect("info").version;
    let appended = command(version.get());
    store
        .append_command(
            ExpectedVersion::Exact(version),
            vec![event(5)],
            appended.clone(),
        )
        .await
        .expect("a command's append");
    let rejected = LoggedCommand {
        idempotency_key: None,
        ..command(version.get() + 1)
    };
    store
        .record_command(
            rejected.clone(),
            NothingAppended::Rejected {
                message: "insufficient funds".into(),
            },
        )
        .await
        .expect("a rejection recorded");
    for n in 0..3 {
        let version = store.stream_info(stream(n)).await.expect("info").version;
        store
            .put_snapshot(
                stream(n),
                SnapshotKey::new("bank@abc").expect("a key"),
                Snapshot {
                    version,
                    state: vec![n as u8; 40],
                },
            )
            .await
            .expect("a snapshot");
    }
    for (name, kind, bytes) in [
        ("bank", ModuleKind::Aggregate, &b"bank v1"[..]),
        ("bank", ModuleKind::Aggregate, b"bank v2"),
        ("balances", ModuleKind::Projection, b"balances v1"),
        ("gone", ModuleKind::Projection, b"gone v1"),
    ] {
        store
            .put_module(NewModule::new(module_name(name), kind, bytes.to_vec()))
            .await
            .expect("a module kept");
    }
    store
        .remove_module(ModuleRemoval {
            module: module_name("gone"),
            drop_models: vec![],
        })
        .await
        .expect("a module removed");
    store
        .put_module_state(ModuleState {
            module: module_name("balances"),
            state: b"generation 1".to_vec(),
            drop_models: vec![],
        })
        .await
        .expect("a module state");
    let writes: Vec<ModelWrite> = (0..MODEL_ROWS)
        .map(|i| ModelWrite::Put {
            key: format!("row-{i:05}").into_bytes(),
            value: vec![(i % 251) as u8; i % 17],
        })
        .collect();
    let head = store.head();
    store
        .commit_model(ModelCommit {
            model: model("balances-1"),
            writes: Arc::from(writes),
            checkpoint: head,
        })
        .await
        .expect("a read model commit");
    store
        .commit_model(ModelCommit {
            model: model("empty-1"),
            writes: Arc::from(vec![ModelWrite::Delete {
                key: b"nothing".to_vec(),
            }]),
            checkpoint: Position::new(3),
        })
        .await
        .expect("an empty read model");
    (appended.id, rejected.id)
}

/// The image of `export`'s store, digested.
async fn digest_of(
    export: impl Future<Output = Result<(), cairn_store::StorageError>>,
    parts: tokio::sync::mpsc::Receiver<ImagePart>,
) -> ImageDigest {
    let (exported, digest) = tokio::join!(export, ImageDigest::of(parts, None));
    exported.expect("the export");
    digest
}

async fn whole_log(store: &dyn EventStore) -> Vec<cairn_store::RecordedEvent> {
    store
        .read_all(
            AllRead::after(Position::new(0))
                .limit(100_000)
                .max_bytes(usize::MAX),
        )
        .await
        .expect("read_all")
        .events
}

/// Every read a copy must answer as the original does.
async fn assert_reads_alike(original: &dyn EventStore, copy: &dyn EventStore, ids: [CommandId; 2]) {
    assert_eq!(whole_log(original).await, whole_log(copy).await, "the log");
    for n in [0, 7, 29] {
        assert_eq!(
            original.stream_info(stream(n)).await.expect("info"),
            copy.stream_info(stream(n)).await.expect("info"),
        );
    }
    for (round, n) in [(0, 0), (1, 6), (19, 9)] {
        let k = key(&format!("k-{round}-{n}"));
        let kept = original
            .keyed_outcome(stream(n), k.clone())
            .await
            .expect("a key");
        assert!(kept.is_some(), "key k-{round}-{n} is kept");
        assert_eq!(kept, copy.keyed_outcome(stream(n), k).await.expect("a key"));
    }
    for id in ids {
        let entry = original.command(id).await.expect("a command");
        assert!(entry.is_some());
        assert_eq!(entry, copy.command(id).await.expect("a command"));
    }
    let snapshot_key = SnapshotKey::new("bank@abc").expect("a key");
    assert_eq!(
        original
            .get_snapshot(stream(2), snapshot_key.clone())
            .await
            .expect("a snapshot"),
        copy.get_snapshot(stream(2), snapshot_key)
            .await
            .expect("a snapshot"),
    );
    assert_eq!(
        original.modules().await.expect("modules"),
        copy.modules().await.expect("modules")
    );
    for version in [1, 2] {
        let at = original
            .module_uploaded_at(module_name("bank"), version)
            .await
            .expect("an upload time");
        assert!(at.is_some());
        assert_eq!(
            at,
            copy.module_uploaded_at(module_name("bank"), version)
                .await
                .expect("an upload time")
        );
    }
    assert_eq!(
        original
            .module_state(module_name("balances"))
            .await
            .expect("a state"),
        copy.module_state(module_name("balances"))
            .await
            .expect("a state"),
    );
    for name in ["balances-1", "empty-1"] {
        let (a, b) = (
            original.read_model(&model(name)).expect("a view"),
            copy.read_model(&model(name)).expect("a view"),
        );
        assert_eq!(a.checkpoint(), b.checkpoint(), "{name}'s checkpoint");
        let rows = |view: &dyn cairn_store::ModelRead| view.scan(b"", None, 10_000).expect("rows");
        assert_eq!(rows(a.as_ref()), rows(b.as_ref()), "{name}'s rows");
    }
}

#[tokio::test]
async fn a_store_goes_to_postgresql_and_back_unchanged() {
    let dir = tempfile::tempdir().expect("a directory");
    let original = RedbStore::open(dir.path().join("a"), RedbOptions::default())
        .await
        .expect("opens");
    let ids = fill(&original).await;
    let (ids_0, ids_1) = ids;

    let url = cluster()
        .create_database("image_round_trip")
        .expect("a database");
    let postgres = PostgresStore::open(&url).await.expect("opens");
    let (out, received) = image_channel();
    let (forward, forwarded) = image_channel();
    let (exported, from_redb, imported) = tokio::join!(
        original.export_image(out),
        ImageDigest::of(received, Some(forward)),
        postgres.import_image(forwarded)
    );
    exported.expect("exported");
    imported.expect("imported into PostgreSQL");
    postgres.close().await;

    let postgres = PostgresStore::open(&url).await.expect("opens again");
    let (out, received) = image_channel();
    let (forward, forwarded) = image_channel();
    let back = dir.path().join("b");
    let (exported, from_postgres, imported) = tokio::join!(
        postgres.export_image(out),
        ImageDigest::of(received, Some(forward)),
        RedbStore::import_image(&back, forwarded)
    );
    exported.expect("exported from PostgreSQL");
    imported.expect("imported into a new embedded store");
    let returned = RedbStore::open(&back, RedbOptions::default())
        .await
        .expect("the new store opens");
    let (out, received) = image_channel();
    let from_returned = digest_of(returned.export_image(out), received).await;

    assert_eq!(from_redb, from_postgres);
    assert_eq!(from_redb, from_returned);
    let counts: Vec<(&str, u64)> = from_redb
        .sections()
        .iter()
        .map(|(name, section)| (*name, section.items))
        .collect();
    let events = original.head().get();
    assert_eq!(
        counts,
        vec![
            ("events", events),
            ("append_keys", 130),
            ("commands", 2),
            ("snapshots", 3),
            ("modules", 4),
            ("module_blobs", 4),
            ("module_states", 1),
            ("removed_modules", 1),
            ("read_models", 2),
            ("read_model_rows", MODEL_ROWS as u64),
        ]
    );
    assert!(events > 1_000, "the log spans several parts: {events}");

    assert_reads_alike(&original, &postgres, [ids_0, ids_1]).await;
    assert_reads_alike(&original, &returned, [ids_0, ids_1]).await;

    // Each copy goes on where the original stopped.
    for copy in [&postgres as &dyn EventStore, &returned] {
        let version = original.stream_info(stream(3)).await.expect("info").version;
        let next = copy
            .append(stream(3), ExpectedVersion::Exact(version), vec![event(1)])
            .await
            .expect("an append to a copy");
        assert_eq!(next.first_position, Position::new(events + 1));
        assert_eq!(next.first_version, Version::new(version.get() + 1));
        let retry = copy
            .append_keyed(
                stream(0),
                ExpectedVersion::Any,
                vec![event(0)],
                key("k-0-0"),
            )
            .await
            .expect("a retry under a migrated key");
        assert_eq!(retry.kind, AppendKind::Recognised);
        assert_eq!(retry.first_position, Position::new(1));
    }
    postgres.close().await;
    returned.close().await;
    original.close().await;
}

/// An image of `events`, then `rest`, then its end if `end`.
async fn send_image(
    parts: tokio::sync::mpsc::Sender<ImagePart>,
    events: Vec<cairn_store::RecordedEvent>,
    rest: Vec<ImagePart>,
    end: bool,
) {
    // An import that refuses stops reading, so later sends may fail.
    let _ = parts.send(ImagePart::Events(events)).await;
    for part in rest {
        let _ = parts.send(part).await;
    }
    if end {
        let _ = parts.send(ImagePart::End).await;
    }
}

fn recorded(from: u64, count: u64) -> Vec<cairn_store::RecordedEvent> {
    (from..from + count)
        .map(|i| cairn_store::RecordedEvent {
            id: cairn_store::EventId::new(),
            stream: stream(1),
            version: Version::new(i),
            position: Position::new(i),
            event_type: EventType::new("Deposited").expect("a type"),
            data: Json::parse("{}").expect("JSON"),
            metadata: Json::parse("{}").expect("JSON"),
            recorded_at: Timestamp::from_millis(1_795_000_000_000),
        })
        .collect()
}

fn key_past_the_end() -> ImagePart {
    ImagePart::AppendKeys(vec![KeptAppendKey {
        stream: stream(1),
        key: key("k"),
        first_version: Version::new(2),
        last_version: Version::new(9),
    }])
}

#[tokio::test]
async fn a_bad_image_or_a_full_target_leaves_the_target_as_it_was() {
    let dir = tempfile::tempdir().expect("a directory");
    let url = cluster()
        .create_database("image_refusals")
        .expect("a database");
    let postgres = PostgresStore::open(&url).await.expect("opens");
    let empty = {
        let (out, received) = image_channel();
        digest_of(postgres.export_image(out), received).await
    };
    let cases: [(&str, Vec<cairn_store::RecordedEvent>, Vec<ImagePart>, bool); 3] = [
        ("cut", recorded(1, 5), vec![], false),
        ("a gap", recorded(2, 5), vec![], true),
        (
            "a key past the end",
            recorded(1, 5),
            vec![key_past_the_end()],
            true,
        ),
    ];
    for (case, events, rest, end) in cases {
        let (parts, received) = image_channel();
        let (_, refused) = tokio::join!(
            send_image(parts, events.clone(), rest.clone(), end),
            postgres.import_image(received)
        );
        let refused = refused.expect_err(case);
        let (parts, received) = image_channel();
        let target = dir.path().join(case);
        let (_, redb_refused) = tokio::join!(
            send_image(parts, events, rest, end),
            RedbStore::import_image(&target, received)
        );
        let redb_refused = redb_refused.expect_err(case);
        for error in [&refused, &redb_refused] {
            match case {
                "cut" => assert!(matches!(error, ImportError::Cut), "{case}: {error}"),
                _ => assert!(
                    matches!(error, ImportError::OutOfOrder(_)),
                    "{case}: {error}"
                ),
            }
        }
        let (out, received) = image_channel();
        assert_eq!(
            digest_of(postgres.export_image(out), received).await,
            empty,
            "{case}"
        );
        let left: Vec<_> = std::fs::read_dir(&target)
            .map(|files| {
                files
                    .filter_map(Result::ok)
                    .map(|f| f.file_name())
                    .collect()
            })
            .unwrap_or_default();
        assert!(left.is_empty(), "{case}: {left:?} left behind");
    }

    // A name an older release allowed, which this backend's readers refuse.
    let legacy = cairn_store::ModuleName::kept("old-style-name").expect("a kept name");
    let (parts, received) = image_channel();
    let (_, refused) = tokio::join!(
        send_image(
            parts,
            recorded(1, 1),
            vec![ImagePart::ModuleStates(vec![(legacy, b"state".to_vec())])],
            true,
        ),
        postgres.import_image(received)
    );
    assert!(
        matches!(refused, Err(ImportError::Unsupported(ref why)) if why.contains("old-style-name")),
        "{refused:?}"
    );
    let (out, received) = image_channel();
    assert_eq!(digest_of(postgres.export_image(out), received).await, empty);

    // A database that nodes serve: one holds the runner lease.
    let lease = postgres.acquire_runner_lease().await.expect("the lease");
    let (parts, received) = image_channel();
    let (_, refused) = tokio::join!(
        send_image(parts, recorded(1, 1), vec![], true),
        postgres.import_image(received)
    );
    assert!(
        matches!(refused, Err(ImportError::NotEmpty(ref why)) if why.contains("runner lease")),
        "{refused:?}"
    );
    drop(lease);

    // A full target: a database with events, and a data directory with a store.
    postgres
        .append(stream(1), ExpectedVersion::NoStream, vec![event(1)])
        .await
        .expect("an append");
    let (out, received) = image_channel();
    let before = digest_of(postgres.export_image(out), received).await;
    let (parts, received) = image_channel();
    let (_, refused) = tokio::join!(
        send_image(parts, recorded(1, 1), vec![], true),
        postgres.import_image(received)
    );
    assert!(
        matches!(refused, Err(ImportError::NotEmpty(ref why)) if why.contains("events")),
        "{refused:?}"
    );
    let (out, received) = image_channel();
    assert_eq!(
        digest_of(postgres.export_image(out), received).await,
        before
    );
    let full = dir.path().join("full");
    let store = RedbStore::open(&full, RedbOptions::default())
        .await
        .expect("opens");
    store.close().await;
    let (parts, received) = image_channel();
    let (_, refused) = tokio::join!(
        send_image(parts, recorded(1, 1), vec![], true),
        RedbStore::import_image(&full, received)
    );
    assert!(
        matches!(refused, Err(ImportError::NotEmpty(_))),
        "{refused:?}"
    );
    postgres.close().await;
}
