//! A file of layout 1 (records under their streams, the log as pointers to them), written here
//! by hand as the code of that layout wrote it, is moved to the current layout when the store
//! opens it: every read, append, retry and keyed command answers as before, and the old tables
//! are gone. A layout 1 file with a damaged record is refused as damaged, and left as it was.

mod common;

use cairn_store::{
    AllRead, EventLog, ExpectedVersion, IdempotencyKey, OpenError, Position, ReadModels,
    RedbOptions, RedbStore, Snapshots, StreamRead, Version,
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
            // A retry repeats the event as stored, metadata included.
            vec![
                common::event_with_id(0x12, "Paid", "{}")
                    .with_metadata(cairn_store::Json::parse(r#"{"by":"test"}"#).expect("json")),
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

    assert_eq!(format_of(dir.path()), Some(3));
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
            Err(error @ OpenError::Damaged { .. }) => {
                let message = error.to_string();
                assert!(message.contains("truncated"), "{message}");
                assert!(message.contains("cairn verify"), "{message}");
            }
            other => panic!("expected a damaged file, got {other:?}"),
        }
        assert_eq!(format_of(dir.path()), Some(1), "nothing was committed");
        assert!(table_names(dir.path()).iter().any(|t| t == "log"));
    }
}

const EVENTS_TABLE: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
const STREAM_APPENDS: TableDefinition<(u64, u64), (u64, u64)> =
    TableDefinition::new("stream_appends");
const SNAPSHOTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("snapshots");
const MODELS: TableDefinition<&str, (u64, u64)> = TableDefinition::new("models");
const MODEL_ENTRIES: TableDefinition<(u64, &[u8]), &[u8]> = TableDefinition::new("model_entries");

/// `number` as unsigned LEB128.
fn var(out: &mut Vec<u8>, mut number: u64) {
    while number >= 0x80 {
        out.push((number & 0x7f) as u8 | 0x80);
        number >>= 7;
    }
    out.push(number as u8);
}

/// Layout 2's record (format 2, no checksum) of the event at `position`: stream 1, version
/// `position`.
fn layout_2_record(position: u64, data: &str) -> Vec<u8> {
    let mut out = vec![2];
    out.extend_from_slice(&(0x100 + u128::from(position)).to_be_bytes());
    for number in [1, position, 1_700_000_000_000 + position] {
        var(&mut out, number);
    }
    for field in ["Set", data, "{}"] {
        var(&mut out, field.len() as u64);
        out.extend_from_slice(field.as_bytes());
    }
    out
}

/// Writes a layout 2 file into `dir`: stream `items-1` with three events at positions 1 to 3
/// (appended one by one), a snapshot `h1` of it at version 2, and read model `totals` with
/// two entries. `damage` replaces the record at position 2.
fn write_layout_2(dir: &std::path::Path, damage: Option<&[u8]>) {
    let db = redb::Database::create(dir.join("cairn.redb")).expect("create");
    let txn = db.begin_write().expect("txn");
    {
        txn.open_table(META)
            .expect("meta")
            .insert("format", 2)
            .expect("insert");
        txn.open_table(STREAMS)
            .expect("streams")
            .insert("items-1", 1)
            .expect("insert");
        txn.open_table(STREAM_NAMES)
            .expect("names")
            .insert(1, "items-1")
            .expect("insert");
        let mut events = txn.open_table(EVENTS_TABLE).expect("events");
        let mut appends = txn.open_table(STREAM_APPENDS).expect("appends");
        let mut ids = txn.open_table(EVENT_IDS).expect("event_ids");
        for position in 1..=3 {
            let record = match damage {
                Some(bytes) if position == 2 => bytes.to_vec(),
                _ => layout_2_record(position, &format!(r#"{{"n":{position}}}"#)),
            };
            events.insert(position, record.as_slice()).expect("insert");
            appends
                .insert((1, position), (position, 1))
                .expect("insert");
            ids.insert(0x100 + u128::from(position), (1, position))
                .expect("insert");
        }
        let mut snapshot = vec![1];
        snapshot.extend_from_slice(&2u64.to_le_bytes());
        snapshot.extend_from_slice(b"state");
        txn.open_table(SNAPSHOTS)
            .expect("snapshots")
            .insert(("items-1", "h1"), snapshot.as_slice())
            .expect("insert");
        txn.open_table(MODELS)
            .expect("models")
            .insert("totals", (1, 3))
            .expect("insert");
        let mut entries = txn.open_table(MODEL_ENTRIES).expect("entries");
        for (key, value) in [(&b"a"[..], &b"10"[..]), (b"b", b"")] {
            entries.insert((1, key), value).expect("insert");
        }
    }
    txn.commit().expect("commit");
}

#[tokio::test]
async fn a_layout_2_file_gains_checksums_and_answers_as_before() {
    use cairn_store::{ReadModelName, SnapshotKey};
    let dir = tempfile::tempdir().expect("temp dir");
    write_layout_2(dir.path(), None);
    let store = common::open(dir.path()).await;
    let items = store
        .read_stream(common::stream("items-1"), StreamRead::forward())
        .await
        .expect("read");
    let seen: Vec<_> = items
        .events
        .iter()
        .map(|e| {
            (
                e.position.get(),
                e.version.get(),
                e.data.as_str().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        (1..=3)
            .map(|p| (p, p, format!(r#"{{"n":{p}}}"#)))
            .collect::<Vec<_>>()
    );
    let all = store
        .read_all(AllRead::after(Position::new(0)))
        .await
        .expect("read all");
    assert_eq!(all.events.len(), 3);
    let snapshot = store
        .get_snapshot(
            common::stream("items-1"),
            SnapshotKey::new("h1").expect("valid"),
        )
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(
        (snapshot.version, snapshot.state.as_slice()),
        (Version::new(2), &b"state"[..])
    );
    let model = store
        .read_model(&ReadModelName::new("totals").expect("valid"))
        .expect("view");
    assert_eq!(model.get(b"a").expect("get"), Some(b"10".to_vec()));
    assert_eq!(
        model.scan(b"", None, 10).expect("scan"),
        [(b"a".to_vec(), b"10".to_vec()), (b"b".to_vec(), Vec::new())]
    );
    store.close().await;

    assert_eq!(format_of(dir.path()), Some(3));
    // Every value now ends in four bytes of checksum.
    let db = redb::Database::open(dir.path().join("cairn.redb")).expect("open");
    let txn = db.begin_read().expect("txn");
    let events = txn.open_table(EVENTS_TABLE).expect("events");
    let stored = events.get(1).expect("get").expect("row").value().to_vec();
    let layout_2 = layout_2_record(1, r#"{"n":1}"#);
    assert_eq!(stored.len(), layout_2.len() + 4);
    assert_eq!(stored[0], 3);
    assert_eq!(&stored[1..layout_2.len()], &layout_2[1..]);
    drop((events, txn, db));
    let report = RedbStore::verify(dir.path()).await.expect("verify");
    assert!(report.is_sound(), "{:?}", report.damage);
    assert_eq!(
        (report.events, report.snapshots, report.model_entries),
        (3, 1, 2)
    );
}

#[tokio::test]
async fn a_layout_2_file_with_a_damaged_record_is_refused_naming_it_and_left_as_it_was() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_layout_2(dir.path(), Some(&[2, 9]));
    // verify reads layout 2 too, and names the record.
    let report = RedbStore::verify(dir.path()).await.expect("verify");
    assert_eq!(report.layout, 2);
    assert_eq!(report.damage.len(), 1, "{:?}", report.damage);
    assert_eq!(
        report.damage[0].record,
        cairn_store::StoredRecord::Event {
            position: Position::new(2)
        }
    );
    for _ in 0..2 {
        match RedbStore::open(dir.path(), RedbOptions::default()).await {
            Err(error @ OpenError::Damaged { .. }) => {
                let message = error.to_string();
                assert!(message.contains("position 2"), "{message}");
            }
            other => panic!("expected a damaged file, got {other:?}"),
        }
        assert_eq!(format_of(dir.path()), Some(2), "nothing was committed");
    }
}
