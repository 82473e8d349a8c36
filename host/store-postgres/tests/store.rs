//! The store on a real PostgreSQL (a throwaway cluster of `cairn-pg-cluster`), each test in a
//! database of its own: the schema made and refused when newer; appends racing at one expected
//! version; two nodes making the same new streams at once, and a batch meeting a stream another
//! transaction is making; a reader that never meets a hole
//! while writers append; event ids and idempotency
//! keys recognised on a retry; the head followed across two stores; listings; snapshots; and
//! the command log. The store-wide contract suite (`host/store-contract`) runs on it once its
//! other traits are in.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use cairn_pg_cluster::{Cluster, Options};
use cairn_store::{
    AllRead, AppendError, AppendKind, EventId, EventType, ExpectedVersion, Json, NewEvent,
    Position, StreamId, StreamRead, Version,
};
use cairn_store_postgres::{OpenError, PostgresStore, SCHEMA_VERSION};

/// One cluster for the file's tests, each test in a database of its own.
fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| Cluster::start(Options::default()).expect("PostgreSQL starts"))
}

async fn store(name: &str) -> PostgresStore {
    let url = cluster().create_database(name).expect("a database");
    PostgresStore::open(&url).await.expect("the store opens")
}

fn stream(name: &str) -> StreamId {
    StreamId::new(name).expect("a stream name")
}

fn event(data: &str) -> NewEvent {
    NewEvent::new(
        EventType::new("Happened").expect("a type"),
        Json::parse(data).expect("JSON"),
    )
}

#[tokio::test]
async fn the_schema_is_made_once_and_a_newer_one_is_refused() {
    let url = cluster().create_database("schema").expect("a database");
    PostgresStore::open(&url).await.expect("made");
    PostgresStore::open(&url)
        .await
        .expect("opened again, as it is");
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connects");
    tokio::spawn(connection);
    client
        .execute(
            "INSERT INTO cairn_schema (version) VALUES ($1)",
            &[&(SCHEMA_VERSION + 1)],
        )
        .await
        .expect("a newer version");
    let refused = PostgresStore::open(&url).await.expect_err("refused");
    assert!(
        matches!(refused, OpenError::NewerSchema { found, known } if found == SCHEMA_VERSION + 1 && known == SCHEMA_VERSION),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_64_appends_at_one_expected_version_exactly_one_wins() {
    let store = store("races").await;
    store
        .append(
            stream("race-1"),
            ExpectedVersion::NoStream,
            vec![event("{}")],
        )
        .await
        .expect("made");
    let mut racers = Vec::new();
    for n in 0..64 {
        let store = store.clone();
        racers.push(tokio::spawn(async move {
            store
                .append(
                    stream("race-1"),
                    ExpectedVersion::Exact(Version::new(1)),
                    vec![event(&format!("{{\"n\":{n}}}"))],
                )
                .await
        }));
    }
    let mut won = 0;
    for racer in racers {
        match racer.await.expect("ran") {
            Ok(outcome) => {
                won += 1;
                assert_eq!(outcome.first_version, Version::new(2));
            }
            Err(AppendError::WrongExpectedVersion { actual, .. }) => {
                assert_eq!(actual, Version::new(2));
            }
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(won, 1, "exactly one winner");
    // 64 new streams made at once, each at most once.
    let mut makers = Vec::new();
    for n in 0..64 {
        let store = store.clone();
        makers.push(tokio::spawn(async move {
            store
                .append(
                    stream(&format!("new-{}", n % 8)),
                    ExpectedVersion::NoStream,
                    vec![event("{}")],
                )
                .await
        }));
    }
    let mut made = 0;
    for maker in makers {
        if maker.await.expect("ran").is_ok() {
            made += 1;
        }
    }
    assert_eq!(made, 8, "one maker of each stream wins");
    let slice = store
        .read_all(AllRead::after(Position::START))
        .await
        .expect("reads");
    let positions: Vec<u64> = slice.events.iter().map(|e| e.position.get()).collect();
    assert_eq!(positions, (1..=10).collect::<Vec<_>>(), "gap-free");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_making_the_same_new_streams_at_once_lose_no_append() {
    // Each node's batches make new streams; a stream the other node made meanwhile leaves the
    // batch and is written alone, after it (`batch.rs`).
    let url = cluster()
        .create_database("new_streams")
        .expect("a database");
    let nodes = [
        PostgresStore::open(&url).await.expect("opens"),
        PostgresStore::open(&url).await.expect("opens"),
    ];
    let mut appends = Vec::new();
    for n in 0..96 {
        let node = nodes[n % 2].clone();
        appends.push(tokio::spawn(async move {
            node.append(
                stream(&format!("made-{}", n % 12)),
                ExpectedVersion::Any,
                vec![event(&format!("{{\"n\":{n}}}"))],
            )
            .await
        }));
    }
    let mut positions = Vec::new();
    for append in appends {
        let outcome = append.await.expect("ran").expect("appended");
        positions.push(outcome.first_position.get());
    }
    positions.sort_unstable();
    assert_eq!(positions, (1..=96).collect::<Vec<_>>(), "one position each");
    for s in 0..12 {
        let read = nodes[s % 2]
            .read_stream(stream(&format!("made-{s}")), StreamRead::forward())
            .await
            .expect("reads");
        let versions: Vec<u64> = read.events.iter().map(|e| e.version.get()).collect();
        assert_eq!(versions, (1..=8).collect::<Vec<_>>(), "stream made-{s}");
        let mut stored: Vec<&str> = read.events.iter().map(|e| e.data.as_str()).collect();
        stored.sort_unstable();
        let mut sent: Vec<String> = (0..96)
            .filter(|n| n % 12 == s)
            .map(|n| format!("{{\"n\":{n}}}"))
            .collect();
        sent.sort_unstable();
        assert_eq!(stored, sent, "every append to made-{s} is stored once");
    }
}

/// What `append` answered, sent half a second into a transaction of `statements` (which
/// hold it open for two seconds, with `pg_sleep(2)`) in `database`, and still waiting on that
/// transaction 0.7 s later; the transaction commits before the answer is taken.
async fn while_another_transaction_holds<T: Send + 'static>(
    database: &'static str,
    statements: String,
    append: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    let other = std::thread::spawn(move || {
        cluster().psql(database, &format!("BEGIN; {statements} COMMIT;"))
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let append = tokio::spawn(append);
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert!(
        !append.is_finished(),
        "the append waits on the other transaction"
    );
    other
        .join()
        .expect("ran")
        .expect("the other transaction commits");
    append.await.expect("ran")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_stream_another_transaction_makes_first_is_appended_to_after_it() {
    // Another node's transaction makes the stream and holds it uncommitted while this node's
    // batch tries to make it too: the batch waits, finds it made, leaves the append out, and
    // the append is written alone after the other's event.
    let url = cluster().create_database("made_first").expect("a database");
    let node = PostgresStore::open(&url).await.expect("opens");
    let outcome = while_another_transaction_holds(
        "made_first",
        "INSERT INTO streams (name, version) VALUES ('made-late', 1); \
         SELECT pg_sleep(2); \
         UPDATE log_head SET position = position + 1; \
         INSERT INTO events (position, id, stream, version, event_type, data, metadata, \
         recorded_at) SELECT position, gen_random_uuid(), 'made-late', 1, 'Happened', \
         '{\"by\":\"other\"}', '{}', 0 FROM log_head;"
            .to_owned(),
        {
            let node = node.clone();
            async move {
                node.append(
                    stream("made-late"),
                    ExpectedVersion::Any,
                    vec![event(r#"{"by":"node"}"#)],
                )
                .await
            }
        },
    )
    .await
    .expect("appended");
    assert_eq!(
        (outcome.first_version, outcome.first_position),
        (Version::new(2), Position::new(2))
    );
    let read = node
        .read_stream(stream("made-late"), StreamRead::forward())
        .await
        .expect("reads");
    let stored: Vec<&str> = read.events.iter().map(|e| e.data.as_str()).collect();
    assert_eq!(stored, [r#"{"by":"other"}"#, r#"{"by":"node"}"#]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_never_meets_a_hole_while_writers_append() {
    let store = store("holes").await;
    let writing = Arc::new(AtomicBool::new(true));
    let mut writers = Vec::new();
    for writer in 0..8 {
        let (store, writing) = (store.clone(), Arc::clone(&writing));
        writers.push(tokio::spawn(async move {
            let mut appended = 0u64;
            while writing.load(Ordering::Relaxed) {
                let events = (0..1 + writer % 3).map(|_| event("{}")).collect();
                store
                    .append(stream(&format!("w-{writer}")), ExpectedVersion::Any, events)
                    .await
                    .expect("appends");
                appended += 1 + writer % 3;
            }
            appended
        }));
    }
    // The reader follows the log; each read must go on exactly where the last ended.
    let mut seen = 0u64;
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(3) {
        let slice = store
            .read_all(AllRead::after(Position::new(seen)).limit(500))
            .await
            .expect("reads");
        for event in &slice.events {
            assert_eq!(event.position.get(), seen + 1, "no hole after {seen}");
            seen += 1;
        }
        assert!(
            slice.scanned_to.get() == seen,
            "a read that ended at {} passed nothing unseen (saw to {seen})",
            slice.scanned_to
        );
    }
    writing.store(false, Ordering::Relaxed);
    let mut appended = 0;
    for writer in writers {
        appended += writer.await.expect("ran");
    }
    assert_eq!(
        store.stored_head().await.expect("the head"),
        Position::new(appended)
    );
    assert!(seen > 0 && seen <= appended, "{seen} of {appended}");
}

#[tokio::test]
async fn a_retry_of_the_same_events_is_recognised_and_other_content_under_an_id_refused() {
    let store = store("retries").await;
    let id = EventId::from(uuid::Uuid::from_u128(7));
    let first = store
        .append(
            stream("order-1"),
            ExpectedVersion::NoStream,
            vec![event(r#"{"a":1}"#).with_id(id)],
        )
        .await
        .expect("appends");
    let again = store
        .append(
            stream("order-1"),
            ExpectedVersion::NoStream,
            vec![event(r#"{"a":1}"#).with_id(id)],
        )
        .await
        .expect("recognised");
    assert_eq!(again.kind, AppendKind::Recognised);
    assert_eq!(
        (again.first_position, again.last_version),
        (first.first_position, first.last_version)
    );
    let reused = store
        .append(
            stream("order-1"),
            ExpectedVersion::Any,
            vec![event(r#"{"a":2}"#).with_id(id)],
        )
        .await;
    assert!(
        matches!(reused, Err(AppendError::EventIdReused { .. })),
        "{reused:?}"
    );
    let elsewhere = store
        .append(
            stream("order-2"),
            ExpectedVersion::Any,
            vec![event(r#"{"a":1}"#).with_id(id), event("{}")],
        )
        .await;
    assert!(
        matches!(elsewhere, Err(AppendError::IdempotencyConflict { .. })),
        "{elsewhere:?}"
    );
    // Nothing of the refused appends was stored; the data reads back byte for byte.
    let slice = store
        .read_stream(stream("order-1"), StreamRead::forward())
        .await
        .expect("reads");
    assert_eq!(slice.version, Version::new(1));
    assert_eq!(slice.events.len(), 1);
    assert_eq!(slice.events[0].data.as_str(), r#"{"a":1}"#);
    assert_eq!(
        store.stored_head().await.expect("the head"),
        Position::new(1)
    );
    let missing = store
        .read_stream(stream("order-2"), StreamRead::forward())
        .await
        .expect("reads");
    assert_eq!(
        (missing.version, missing.events.len()),
        (Version::new(0), 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_waiting_on_the_head_wakes_for_another_nodes_append() {
    let url = cluster().create_database("nodes").expect("a database");
    let first = PostgresStore::open(&url).await.expect("opens");
    let second = PostgresStore::open(&url).await.expect("opens");
    let mut watch = second.watch_head();
    assert_eq!(watch.head(), Position::START);
    let waiting = tokio::spawn(async move { watch.wait_past(Position::START).await });
    let outcome = first
        .append(
            stream("n-1"),
            ExpectedVersion::NoStream,
            vec![event("{}"), event("{}")],
        )
        .await
        .expect("appends");
    assert_eq!(
        first.head(),
        outcome.last_position,
        "its own append at once"
    );
    let heard = tokio::time::timeout(std::time::Duration::from_secs(10), waiting)
        .await
        .expect("woken")
        .expect("ran")
        .expect("a head");
    assert_eq!(heard, outcome.last_position);
    assert_eq!(second.head(), outcome.last_position);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_records_one_append_and_answers_every_retry_with_it() {
    use cairn_store::{EventLog, IdempotencyKey};
    let store = store("keys").await;
    let key = IdempotencyKey::new("order-7-pay").expect("a key");
    // 16 appends under one new key at once, each with events of its own: one writes.
    let mut racers = Vec::new();
    for n in 0..16 {
        let (store, key) = (store.clone(), key.clone());
        racers.push(tokio::spawn(async move {
            EventLog::append_keyed(
                &store,
                stream("pay-7"),
                ExpectedVersion::Any,
                vec![event(&format!("{{\"n\":{n}}}"))],
                key,
            )
            .await
            .expect("answered")
        }));
    }
    let mut outcomes = Vec::new();
    for racer in racers {
        outcomes.push(racer.await.expect("ran"));
    }
    let written: Vec<_> = outcomes
        .iter()
        .filter(|o| o.kind == AppendKind::Written)
        .collect();
    assert_eq!(written.len(), 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| o.first_position == written[0].first_position),
        "every retry gets the first outcome"
    );
    assert_eq!(
        EventLog::keyed_outcome(&store, stream("pay-7"), key.clone())
            .await
            .expect("reads")
            .map(|o| o.last_version),
        Some(Version::new(1))
    );
    // The same key on another stream is another key.
    let other = EventLog::append_keyed(
        &store,
        stream("pay-8"),
        ExpectedVersion::NoStream,
        vec![event("{}")],
        key,
    )
    .await
    .expect("appends");
    assert_eq!(other.kind, AppendKind::Written);
    assert_eq!(EventLog::head(&store), Position::new(2));
}

#[tokio::test]
async fn streams_are_listed_by_prefix_a_page_at_a_time() {
    use cairn_store::{EventLog, StreamsRead};
    let store = store("listing").await;
    for name in ["acct-1", "acct-2", "acct-3", "other-1"] {
        EventLog::append(
            &store,
            stream(name),
            ExpectedVersion::Any,
            vec![event("{}"), event("{}")],
        )
        .await
        .expect("appends");
    }
    let page = EventLog::list_streams(&store, StreamsRead::prefixed("acct-", 2))
        .await
        .expect("lists");
    let names: Vec<&str> = page.streams.iter().map(|s| s.stream.as_str()).collect();
    assert_eq!((names, page.more), (vec!["acct-1", "acct-2"], true));
    assert!(page.streams.iter().all(|s| s.version == Version::new(2)));
    let rest = EventLog::list_streams(&store, StreamsRead::prefixed("acct-", 2).from("acct-2"))
        .await
        .expect("lists");
    let names: Vec<&str> = rest.streams.iter().map(|s| s.stream.as_str()).collect();
    assert_eq!((names, rest.more), (vec!["acct-3"], false));
    let backward = EventLog::list_streams(&store, StreamsRead::prefixed("acct-", 10).backward())
        .await
        .expect("lists");
    let names: Vec<&str> = backward.streams.iter().map(|s| s.stream.as_str()).collect();
    assert_eq!(names, ["acct-3", "acct-2", "acct-1"]);
    assert_eq!(
        EventLog::stream_info(&store, stream("other-1"))
            .await
            .expect("reads")
            .version,
        Version::new(2)
    );
    assert!(
        !EventLog::stream_info(&store, stream("none-1"))
            .await
            .expect("reads")
            .exists()
    );
}

#[tokio::test]
async fn a_snapshot_is_kept_per_stream_and_key_and_never_ahead_of_its_stream() {
    use cairn_store::{EventLog, Snapshot, SnapshotError, SnapshotKey, Snapshots};
    let store = store("snapshots").await;
    let key = |k: &str| SnapshotKey::new(k).expect("a key");
    EventLog::append(
        &store,
        stream("acct-1"),
        ExpectedVersion::NoStream,
        vec![event("{}"), event("{}")],
    )
    .await
    .expect("appends");
    assert_eq!(
        store
            .get_snapshot(stream("acct-1"), key("h1"))
            .await
            .expect("reads"),
        None
    );
    let at2 = Snapshot {
        version: Version::new(2),
        state: b"\x00two\xff".to_vec(),
    };
    store
        .put_snapshot(stream("acct-1"), key("h1"), at2.clone())
        .await
        .expect("kept");
    let at1 = Snapshot {
        version: Version::new(1),
        state: b"one".to_vec(),
    };
    store
        .put_snapshot(stream("acct-1"), key("h2"), at1.clone())
        .await
        .expect("kept");
    assert_eq!(
        store
            .get_snapshot(stream("acct-1"), key("h1"))
            .await
            .expect("reads"),
        Some(at2)
    );
    assert_eq!(
        store
            .get_snapshot(stream("acct-1"), key("h2"))
            .await
            .expect("reads"),
        Some(at1.clone())
    );
    store
        .put_snapshot(stream("acct-1"), key("h1"), at1.clone())
        .await
        .expect("replaced");
    assert_eq!(
        store
            .get_snapshot(stream("acct-1"), key("h1"))
            .await
            .expect("reads"),
        Some(at1)
    );
    let ahead = store
        .put_snapshot(
            stream("acct-1"),
            key("h1"),
            Snapshot {
                version: Version::new(3),
                state: Vec::new(),
            },
        )
        .await;
    assert!(
        matches!(ahead, Err(SnapshotError::AheadOfStream { snapshot, stream_version, .. })
            if snapshot == Version::new(3) && stream_version == Version::new(2)),
        "{ahead:?}"
    );
    let none = store
        .put_snapshot(
            stream("acct-9"),
            key("h1"),
            Snapshot {
                version: Version::new(1),
                state: Vec::new(),
            },
        )
        .await;
    assert!(
        matches!(none, Err(SnapshotError::AheadOfStream { .. })),
        "{none:?}"
    );
    assert_eq!(
        store
            .get_snapshot(stream("acct-9"), key("h1"))
            .await
            .expect("reads"),
        None
    );
}

fn command(id: u128, stream_name: &str, key: Option<&str>) -> cairn_store::LoggedCommand {
    cairn_store::LoggedCommand {
        id: cairn_store::CommandId::from(uuid::Uuid::from_u128(id)),
        command_type: cairn_store::CommandType::new("Deposit").expect("a type"),
        data: Json::parse(r#"{"amount":5}"#).expect("JSON"),
        idempotency_key: key.map(|k| cairn_store::IdempotencyKey::new(k).expect("a key")),
        time: cairn_store::Timestamp::from_millis(1_000),
        aggregate: cairn_store::ModuleName::new("bank_account").expect("a name"),
        stream: stream(stream_name),
        decided_at: Version::new(0),
        module_hash: cairn_store::ModuleHash::of(b"module"),
    }
}

#[tokio::test]
async fn a_commands_entry_commits_with_its_events_and_an_appended_one_never_changes() {
    use cairn_store::{CommandId, CommandLog, NothingAppended, Verdict};
    let store = store("commands").await;
    let first = command(1, "bank_account-a", Some("k1"));
    let outcome = store
        .append_command(ExpectedVersion::NoStream, vec![event("{}")], first.clone())
        .await
        .expect("appends");
    let entry = store
        .command(first.id)
        .await
        .expect("reads")
        .expect("an entry");
    assert_eq!(entry.command, first);
    assert_eq!(
        entry.verdict,
        Verdict::Appended {
            first_version: outcome.first_version,
            last_version: outcome.last_version,
            first_position: outcome.first_position,
            last_position: outcome.last_position,
        }
    );
    // A retry under its key is recognised and leaves the entry.
    let again = store
        .append_command(ExpectedVersion::NoStream, vec![event("{}")], first.clone())
        .await
        .expect("recognised");
    assert_eq!(again.kind, AppendKind::Recognised);
    // The same id without the key, with new events: refused, nothing stored.
    let reused = store
        .append_command(
            ExpectedVersion::Any,
            vec![event("{}")],
            command(1, "bank_account-a", None),
        )
        .await;
    assert!(
        matches!(reused, Err(AppendError::CommandIdReused { .. })),
        "{reused:?}"
    );
    assert_eq!(
        store.stored_head().await.expect("the head"),
        Position::new(1)
    );
    // An appended entry is not replaced by a later record of nothing appended.
    store
        .record_command(first.clone(), NothingAppended::Unchanged)
        .await
        .expect("recorded");
    assert_eq!(
        store
            .command(first.id)
            .await
            .expect("reads")
            .map(|e| e.verdict),
        Some(entry.verdict.clone())
    );
    // A rejection is kept, and replaced by a later attempt that appends.
    let second = command(2, "bank_account-b", None);
    store
        .record_command(
            second.clone(),
            NothingAppended::Rejected {
                message: "insufficient funds".into(),
            },
        )
        .await
        .expect("recorded");
    assert_eq!(
        store
            .command(second.id)
            .await
            .expect("reads")
            .map(|e| e.verdict),
        Some(Verdict::NothingAppended(NothingAppended::Rejected {
            message: "insufficient funds".into()
        }))
    );
    store
        .append_command(ExpectedVersion::Any, vec![event("{}")], second.clone())
        .await
        .expect("appends");
    assert!(matches!(
        store
            .command(second.id)
            .await
            .expect("reads")
            .map(|e| e.verdict),
        Some(Verdict::Appended { .. })
    ));
    // Read in order of ids, a page at a time.
    store
        .record_command(
            command(3, "bank_account-c", None),
            NothingAppended::Unchanged,
        )
        .await
        .expect("recorded");
    let page = store.read_commands(None, 2).await.expect("reads");
    let ids: Vec<CommandId> = page.iter().map(|e| e.command.id).collect();
    assert_eq!(ids, [first.id, second.id]);
    let rest = store
        .read_commands(Some(second.id), 10)
        .await
        .expect("reads");
    assert_eq!(rest.len(), 1);
    assert_eq!(
        rest[0].command.id,
        CommandId::from(uuid::Uuid::from_u128(3))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_id_another_transaction_appends_under_meanwhile_fails_the_batch_and_is_refused() {
    use cairn_store::CommandLog;
    // Another transaction records command 7 as appended and holds it uncommitted while this
    // node's batch, which checked the id before, writes its entry: the batch fails and
    // writes nothing, and the append, written alone, is refused.
    let url = cluster()
        .create_database("command_raced")
        .expect("a database");
    let node = PostgresStore::open(&url).await.expect("opens");
    let raced = command(7, "bank_account-raced", None);
    let id = uuid::Uuid::from_u128(7);
    let refused = while_another_transaction_holds(
        "command_raced",
        format!(
            "INSERT INTO commands (id, command_type, data, time, aggregate, stream, \
             decided_at, module_hash, verdict, first_version, last_version, \
             first_position, last_position) VALUES ('{id}', 'Deposit', '{{}}', 0, \
             'bank_account', 'bank_account-elsewhere', 0, 'h', 'appended', 1, 1, 1, 1); \
             SELECT pg_sleep(2);"
        ),
        {
            let node = node.clone();
            async move {
                node.append_command(ExpectedVersion::NoStream, vec![event("{}")], raced)
                    .await
            }
        },
    )
    .await;
    assert!(
        matches!(refused, Err(AppendError::CommandIdReused { .. })),
        "{refused:?}"
    );
    let read = node
        .read_stream(stream("bank_account-raced"), StreamRead::forward())
        .await
        .expect("reads");
    assert!(read.events.is_empty(), "nothing of the batch was kept");
    assert_eq!(node.stored_head().await.expect("the head"), Position::START);
}
