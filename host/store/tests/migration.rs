//! A file of layout 1 (records under their streams, the log as pointers to them), written here
//! by hand as the code of that layout wrote it, is moved to the current layout when the store
//! opens it: every read, append, retry and keyed command answers as before, and the old tables
//! are gone. A layout 1 file with a damaged record is refused, and left as it was.

mod common;

use cairn_store::{
    AllRead, EventStore, ExpectedVersion, IdempotencyKey, OpenError, Position, RedbOptions,
    RedbStore, StreamRead, Version,
};
use redb::{ReadableDatabase, TableDefinition, TableHandle};

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const STREAMS: TableDefinition<&str, u64> = TableDefinition::new("streams");
const STREAM_NAMES: TableDefinition<u64, &str> = TableDefinition::new("stream_names");
const STREAM_EVENTS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("stream_events");
const LOG: TableDefinition<u64, (u64, u64)> = TableDefinition::new("log");
const EVENT_IDS: TableDefinition<u128, (u64, u64)> = TableDefinition::new("event_ids");
const COMMANDS: TableDefinition<(u64, &str), (u64, u64)> = TableDefinition::new("commands");

/// One event as layout 1 stored it.
struct Layout1Event {
    stream_id: u64,
    version: u64,
    position: u64,
    id: u128,
    event_type: &'static str,
    data: &'static str,
}

/// Layout 1's record: format 1, id, position, recorded_at, then type, data and metadata.
fn layout_1_record(event: &Layout1Event) -> Vec<u8> {
    let mut out = vec![1];
    out.extend_from_slice(&event.id.to_be_bytes());
    out.extend_from_slice(&event.position.to_le_bytes());
    out.extend_from_slice(&(1_700_000_000_000 + event.position).to_le_bytes());
    for field in [event.event_type, event.data, r#"{"by":"test"}"#] {
        out.extend_from_slice(&(field.len() as u32).to_le_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    out
}

const EVENTS: [Layout1Event; 3] = [
    Layout1Event {
        stream_id: 1,
        version: 1,
        position: 1,
        id: 0x11,
        event_type: "Placed",
        data: r#"{"total": 10}"#,
    },
    Layout1Event {
        stream_id: 2,
        version: 1,
        position: 2,
        id: 0x21,
        event_type: "Joined",
        data: r#"{"name":"Ada"}"#,
    },
    Layout1Event {
        stream_id: 1,
        version: 2,
        position: 3,
        id: 0x12,
        event_type: "Paid",
        data: "{}",
    },
];

/// Writes a layout 1 file into `dir`: streams `orders-1` (two events, the second appended with
/// idempotency key `pay-1`) and `users-1` (one). `damage` replaces the record at position 2.
fn write_layout_1(dir: &std::path::Path, damage: Option<&[u8]>) {
    let db = redb::Database::create(dir.join("cairn.redb")).expect("create");
    let txn = db.begin_write().expect("txn");
    {
        txn.open_table(META)
            .expect("meta")
            .insert("format", 1)
            .expect("insert");
        let mut streams = txn.open_table(STREAMS).expect("streams");
        let mut names = txn.open_table(STREAM_NAMES).expect("names");
        for (id, name) in [(1, "orders-1"), (2, "users-1")] {
            streams.insert(name, id).expect("insert");
            names.insert(id, name).expect("insert");
        }
        let mut stream_events = txn.open_table(STREAM_EVENTS).expect("stream_events");
        let mut log = txn.open_table(LOG).expect("log");
        let mut ids = txn.open_table(EVENT_IDS).expect("event_ids");
        for event in &EVENTS {
            let place = (event.stream_id, event.version);
            let record = match damage {
                Some(bytes) if event.position == 2 => bytes.to_vec(),
                _ => layout_1_record(event),
            };
            stream_events
                .insert(place, record.as_slice())
                .expect("insert");
            log.insert(event.position, place).expect("insert");
            ids.insert(event.id, place).expect("insert");
        }
        txn.open_table(COMMANDS)
            .expect("commands")
            .insert((1, "pay-1"), (2, 2))
            .expect("insert");
    }
    txn.commit().expect("commit");
}

fn table_names(dir: &std::path::Path) -> Vec<String> {
    let db = redb::Database::open(dir.join("cairn.redb")).expect("open");
    let txn = db.begin_read().expect("txn");
    txn.list_tables()
        .expect("tables")
        .map(|t| t.name().to_owned())
        .collect()
}

fn format_of(dir: &std::path::Path) -> Option<u64> {
    let db = redb::Database::open(dir.join("cairn.redb")).expect("open");
    let txn = db.begin_read().expect("txn");
    let meta = txn.open_table(META).expect("meta");
    meta.get("format").expect("get").map(|v| v.value())
}

#[tokio::test]
async fn a_layout_1_file_is_moved_to_the_current_layout_and_answers_as_before() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_layout_1(dir.path(), None);
    let store = common::open(dir.path()).await;

    let orders = store
        .read_stream(common::stream("orders-1"), StreamRead::forward())
        .await
        .expect("read");
    assert_eq!(orders.version, Version::new(2));
    let seen: Vec<_> = orders
        .events
        .iter()
        .map(|e| {
            (
                e.version.get(),
                e.position.get(),
                e.event_type.as_str(),
                e.data.as_str(),
                e.metadata.as_str(),
                e.recorded_at.as_millis(),
                e.id.as_uuid().as_u128(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                1,
                1,
                "Placed",
                r#"{"total": 10}"#,
                r#"{"by":"test"}"#,
                1_700_000_000_001,
                0x11
            ),
            (
                2,
                3,
                "Paid",
                "{}",
                r#"{"by":"test"}"#,
                1_700_000_000_003,
                0x12
            ),
        ]
    );
    let backward = store
        .read_stream(common::stream("orders-1"), StreamRead::backward().limit(1))
        .await
        .expect("read");
    assert_eq!(backward.events[0].version, Version::new(2));

    let all = store
        .read_all(AllRead::after(Position::new(0)))
        .await
        .expect("read all");
    let order: Vec<_> = all
        .events
        .iter()
        .map(|e| (e.position.get(), e.stream.as_str(), e.version.get()))
        .collect();
    assert_eq!(
        order,
        [(1, "orders-1", 1), (2, "users-1", 1), (3, "orders-1", 2)]
    );
    assert_eq!(all.head, Position::new(3));
    let users = store
        .read_all(AllRead::after(Position::new(0)).category("users"))
        .await
        .expect("read all");
    assert_eq!(users.events.len(), 1);
    assert_eq!(users.events[0].event_type.as_str(), "Joined");

    // The keyed command and a retry of a stored event answer with what was stored.
    let key = IdempotencyKey::new("pay-1").expect("valid key");
    let keyed = store
        .keyed_outcome(common::stream("orders-1"), key)
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(
        (keyed.first_version, keyed.first_position),
        (Version::new(2), Position::new(3))
    );
    assert_eq!(keyed.recorded_at.as_millis(), 1_700_000_000_003);
    let retry = store
        .append(
            common::stream("orders-1"),
            ExpectedVersion::Any,
            vec![
                common::event_with_id(0x12, "Paid", "{}")
                    .with_metadata(cairn_store::Json::parse(r#"{"by":"test"}"#).expect("valid")),
            ],
        )
        .await
        .expect("a retry");
    assert_eq!(retry.first_position, Position::new(3));

    // New appends carry on from the old head and the old versions.
    let next = store
        .append(
            common::stream("orders-1"),
            ExpectedVersion::Exact(Version::new(2)),
            vec![common::event("Shipped", "{}")],
        )
        .await
        .expect("append");
    assert_eq!(
        (next.first_version, next.first_position),
        (Version::new(3), Position::new(4))
    );
    let fresh = store
        .append(
            common::stream("carts-1"),
            ExpectedVersion::NoStream,
            vec![common::event("Opened", "{}")],
        )
        .await
        .expect("a new stream");
    assert_eq!(fresh.first_position, Position::new(5));
    store.close().await;

    assert_eq!(format_of(dir.path()), Some(2));
    let tables = table_names(dir.path());
    assert!(
        !tables.iter().any(|t| t == "log" || t == "stream_events"),
        "layout 1's tables are gone: {tables:?}"
    );
    let store = common::open(dir.path()).await;
    let all = store
        .read_all(AllRead::after(Position::new(0)))
        .await
        .expect("read all");
    assert_eq!(all.events.len(), 5, "everything is there after a restart");
    store.close().await;
}

#[tokio::test]
async fn a_layout_1_file_with_a_damaged_record_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_layout_1(dir.path(), Some(&[1, 2, 3]));
    for _ in 0..2 {
        match RedbStore::open(dir.path(), RedbOptions::default()).await {
            Err(error @ OpenError::Storage { .. }) => {
                assert!(error.to_string().contains("truncated"), "{error}");
            }
            other => panic!("expected a storage error, got {other:?}"),
        }
        assert_eq!(format_of(dir.path()), Some(1), "nothing was committed");
        assert!(table_names(dir.path()).iter().any(|t| t == "log"));
    }
}
