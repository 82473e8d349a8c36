//! Upcasters over HTTP, against the real server with the real example modules: events stored
//! in the first shape of `customers` are read in the second by every reader (a command's load,
//! the state, the history, `GET /v1/streams`, `GET /v1/all`, SSE, the `customer_directory`
//! projection, a plan), `?raw=true` reads them as stored, and nothing stored changes. A
//! snapshot folded without the upcaster is not used with it. An upcaster that traps, loops, or
//! gives what is not an event is a clear error, and its upload is refused while it fails on
//! stored events.

mod common;

use std::time::Duration;

use cairn_store::{Snapshot, SnapshotKey, StreamId, Version};
use common::server::{Server, assert_error};
use futures_util::StreamExt;
use serde_json::{Value, json};

/// Appends the first-shape events of customer `id`: created as Ada, then updated.
async fn write_first_shape(server: &Server, id: &str) {
    let reply = server
        .append(
            &format!("customers-{id}"),
            json!("no_stream"),
            json!([
                {"type": "CustomerCreated", "data": {"name": "Ada", "email": "ada@example.com"}},
                {"type": "CustomerUpdated", "data": {"name": "Ada Lovelace", "email": "ada@lovelace.org"}},
            ]),
        )
        .await;
    assert_eq!(reply.0, 201, "{}", reply.1);
}

/// Uploads guest `guest` as module `name`, with `query` (such as `?force=true`).
async fn upload(server: &Server, name: &str, guest: &str, query: &str) -> (u16, Value) {
    server
        .put_module(
            &format!("{name}{query}"),
            cairn_tests::guest(guest),
            "application/wasm",
        )
        .await
}

/// The types and `upcast_from` of `events`, as (type, from) pairs.
fn types(events: &Value) -> Vec<(String, Option<String>)> {
    events
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["type"].as_str().expect("a type").to_owned(),
                e["upcast_from"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn pair(event_type: &str, from: Option<&str>) -> (String, Option<String>) {
    (event_type.to_owned(), from.map(str::to_owned))
}

/// Reads `count` events from an SSE response, with the id each carries, if any.
async fn sse_messages(response: reqwest::Response, count: usize) -> Vec<(Option<u64>, Value)> {
    let mut body = response.bytes_stream();
    let (mut buffer, mut events) = (String::new(), Vec::new());
    while events.len() < count {
        let chunk = tokio::time::timeout(Duration::from_secs(30), body.next())
            .await
            .expect("an event within 30 s")
            .expect("the stream goes on")
            .expect("a chunk");
        buffer.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
        while let Some(end) = buffer.find("\n\n") {
            let message: String = buffer.drain(..end + 2).collect();
            let (mut id, mut data) = (None, None);
            for line in message.lines() {
                if let Some(value) = line.strip_prefix("id:") {
                    id = Some(value.trim().parse::<u64>().expect("a numeric id"));
                }
                if let Some(value) = line.strip_prefix("data:") {
                    data = Some(serde_json::from_str(value.trim()).expect("JSON data"));
                }
            }
            if let Some(data) = data {
                events.push((id, data));
            }
        }
    }
    events
}

/// Reads `count` events from an SSE response.
async fn sse_events(response: reqwest::Response, count: usize) -> Vec<Value> {
    sse_messages(response, count)
        .await
        .into_iter()
        .map(|(_, event)| event)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reader_sees_the_second_shape_and_raw_reads_the_stored_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_in(dir, None, &["customers", "customer_directory"]).await;
    write_first_shape(&server, "c1").await;

    // Without the upcaster, version two of customers cannot read the stream.
    let (status, body) = server.get("/v1/aggregates/customers/c1").await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("CustomerCreated")),
        "{body}"
    );

    // Its upload plans the customers aggregate read through it: nothing fails.
    let (status, body) = upload(&server, "customers_upcaster", "customers_upcaster", "").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["kind"], "upcaster");

    // The aggregate's load: the state, and a command decided on it.
    let (status, state) = server.get("/v1/aggregates/customers/c1").await;
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["version"], 2);
    assert_eq!(
        state["state"],
        json!({"status": "active", "name": "Ada Lovelace", "email": "ada@lovelace.org"})
    );
    let (status, decided) = server
        .command(
            "customers",
            "c1",
            json!({"type": "Update", "data": {"email": "countess@lovelace.org"}}),
        )
        .await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(
        types(&decided["events"]),
        [pair("CustomerEmailChanged", None)]
    );

    // The stream, read through the upcaster, and as stored.
    let upcast = [
        pair("CustomerRegistered", Some("CustomerCreated")),
        pair("CustomerRenamed", Some("CustomerUpdated")),
        pair("CustomerEmailChanged", Some("CustomerUpdated")),
        pair("CustomerEmailChanged", None),
    ];
    let (status, read) = server.get("/v1/streams/customers-c1").await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(types(&read["events"]), upcast);
    assert_eq!(read["version"], 3);
    let versions: Vec<u64> = read["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["version"].as_u64().expect("a version"))
        .collect();
    assert_eq!(
        versions,
        [1, 2, 2, 3],
        "an upcast event keeps its stored version"
    );
    assert_eq!(read["read_to"], 3, "{read}");
    let ids: Vec<&str> = read["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["id"].as_str().expect("an id"))
        .collect();
    assert_ne!(
        ids[1], ids[2],
        "events upcast from one stored event have ids of their own"
    );
    assert_eq!(
        read["events"][1]["data"],
        json!({"name": "Ada Lovelace"}),
        "{read}"
    );
    let stored = [
        pair("CustomerCreated", None),
        pair("CustomerUpdated", None),
        pair("CustomerEmailChanged", None),
    ];
    let (_, raw) = server.get("/v1/streams/customers-c1?raw=true").await;
    assert_eq!(types(&raw["events"]), stored);
    assert_eq!(
        raw["events"][1]["data"],
        json!({"name": "Ada Lovelace", "email": "ada@lovelace.org"})
    );
    assert_eq!(
        raw["events"][1]["id"], ids[1],
        "the first keeps the stored event's id"
    );

    // The global log, with a type filter on the types served.
    let (_, all) = server.get("/v1/all?category=customers").await;
    assert_eq!(types(&all["events"]), upcast);
    let (_, renamed) = server
        .get("/v1/all?category=customers&type=CustomerRenamed")
        .await;
    assert_eq!(
        types(&renamed["events"]),
        [pair("CustomerRenamed", Some("CustomerUpdated"))]
    );
    let (_, old) = server.get("/v1/all?type=CustomerUpdated").await;
    assert_eq!(types(&old["events"]), []);
    let (_, old_raw) = server.get("/v1/all?type=CustomerUpdated&raw=true").await;
    assert_eq!(types(&old_raw["events"]), [pair("CustomerUpdated", None)]);

    // A subscription, and a raw one.
    let response = reqwest::get(server.url("/v1/subscribe?category=customers"))
        .await
        .expect("subscribes");
    let sent = sse_messages(response, 4).await;
    let ids: Vec<Option<u64>> = sent.iter().map(|(id, _)| *id).collect();
    let positions: Vec<u64> = read["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["position"].as_u64().expect("a position"))
        .collect();
    assert_eq!(
        ids,
        [
            Some(positions[0]),
            None,
            Some(positions[2]),
            Some(positions[3])
        ],
        "only the last event of a position carries it as its id, so a resume misses none"
    );
    let sent: Vec<Value> = sent.into_iter().map(|(_, event)| event).collect();
    assert_eq!(types(&Value::Array(sent)), upcast);
    let response = reqwest::get(server.url("/v1/subscribe?category=customers&raw=true"))
        .await
        .expect("subscribes");
    let sent = sse_events(response, 3).await;
    assert_eq!(types(&Value::Array(sent)), stored);

    // The projection: rebuilt under the upcaster, it lists c1 by its second-shape fields.
    let query = json!({"type": "by_email", "email": "countess@lovelace.org"});
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let found = loop {
        let (status, body) = server
            .post("/v1/projections/customer_directory/query", query.clone())
            .await;
        if status == 200 && !body.is_null() {
            break body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the directory never found c1: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(found["name"], "Ada Lovelace", "{found}");

    // The history: each state folded from the events as read now.
    let (status, history) = server.get("/v1/aggregates/customers/c1/history").await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(
        history["steps"][1]["state"]["name"], "Ada Lovelace",
        "{history}"
    );

    // A plan of the same upcaster finds nothing; nothing stored changed throughout.
    let (status, plan) = server
        .call(
            reqwest::Client::new()
                .post(server.url("/v1/modules/customers_upcaster/plan"))
                .header("content-type", "application/wasm")
                .body(cairn_tests::guest("customers_upcaster")),
        )
        .await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["kind"], "upcaster", "{plan}");
    assert_eq!(plan["category"], "customers", "{plan}");
    assert_eq!(plan["replay"]["failed"], 0, "{plan}");
    assert_eq!(plan["changes"], false, "{plan}");
    let (_, raw_after) = server.get("/v1/streams/customers-c1?raw=true").await;
    assert_eq!(raw_after["events"], raw["events"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_folded_without_the_upcaster_is_not_used_with_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_in(dir, None, &["customers"]).await;
    let (status, _) = server
        .command(
            "customers",
            "c1",
            json!({"type": "Create", "data": {"name": "Ada", "email": "ada@example.com"}}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, modules) = server.get("/v1/modules").await;
    let hash = modules["modules"][0]["hash"]
        .as_str()
        .expect("a hash")
        .to_owned();
    // A snapshot under the module's own key, at the stream's version, that the events do not
    // give: a load that uses it shows it.
    let planted = Snapshot {
        version: Version::new(1),
        state: br#"{"status":"active","name":"Planted","email":"planted@example.com"}"#.to_vec(),
    };
    server
        .store()
        .put_snapshot(
            StreamId::new("customers-c1").expect("a stream"),
            SnapshotKey::new(&hash).expect("a key"),
            planted,
        )
        .await
        .expect("planted");
    // Restarted, so no state is cached: the load starts from the snapshot.
    let server = Server::start_in(server.stop().await, None, &["customers"]).await;
    let (_, state) = server.get("/v1/aggregates/customers/c1").await;
    assert_eq!(
        state["state"]["name"], "Planted",
        "the snapshot is used: {state}"
    );

    let (status, body) = upload(&server, "customers_upcaster", "customers_upcaster", "").await;
    assert_eq!(status, 201, "{body}");
    let (_, state) = server.get("/v1/aggregates/customers/c1").await;
    assert_eq!(
        state["state"]["name"], "Ada",
        "a snapshot folded without the upcaster is not used with it: {state}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misbehaving_upcaster_is_refused_while_it_fails_on_stored_events() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_in(dir, None, &[]).await;
    let stored = [
        ("ledger-trap", "Trap"),
        ("ledger-loop", "Loop"),
        ("ledger-garbage", "Garbage"),
        ("ledger-badtype", "BadType"),
    ];
    for (stream, event_type) in stored {
        let reply = server
            .append(
                stream,
                json!("any"),
                json!([{"type": event_type, "data": {}}]),
            )
            .await;
        assert_eq!(reply.0, 201, "{}", reply.1);
    }
    let reply = server
        .append(
            "ledger-fine",
            json!("any"),
            json!([
                {"type": "Split", "data": {}},
                {"type": "Drop", "data": {}},
                {"type": "Renamed", "data": {"kept": true}},
                {"type": "Untouched", "data": {}},
            ]),
        )
        .await;
    assert_eq!(reply.0, 201, "{}", reply.1);

    // The upload upcasts every stored event it upgrades, and names each stream it fails on.
    let refused = upload(&server, "misbehaving_upcaster", "misbehaving-upcaster", "").await;
    assert_error(&refused, 409, "incompatible_with_history");
    let failures = refused.1["failures"]
        .as_array()
        .unwrap_or_else(|| panic!("failures: {}", refused.1))
        .clone();
    let message_of = |stream: &str| -> String {
        failures
            .iter()
            .find(|f| f["stream"] == stream)
            .unwrap_or_else(|| panic!("{stream} is among the failures: {failures:?}"))["error"]
            .as_str()
            .expect("a message")
            .to_owned()
    };
    assert_eq!(failures.len(), 4, "{failures:?}");
    assert!(
        refused.1["message"]
            .as_str()
            .is_some_and(|m| m.contains("category 'ledger'") && m.contains("4 of its 5 streams")),
        "{}",
        refused.1
    );
    assert!(
        message_of("ledger-trap").contains("trapped"),
        "{failures:?}"
    );
    let looped = message_of("ledger-loop");
    assert!(
        looped.contains("fuel") || looped.contains("CPU time"),
        "{looped}"
    );
    assert!(
        message_of("ledger-garbage").contains("JSON"),
        "{failures:?}"
    );
    assert!(
        message_of("ledger-badtype").contains("type"),
        "{failures:?}"
    );
    let (_, modules) = server.get("/v1/modules").await;
    assert_eq!(modules["modules"], json!([]), "nothing was kept");

    // Forced, it serves: each read that meets a failing event says which, and raw reads go on.
    let (status, body) = upload(
        &server,
        "misbehaving_upcaster",
        "misbehaving-upcaster",
        "?force=true",
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let failed = server.get("/v1/streams/ledger-trap").await;
    assert_error(&failed, 500, "module_bad_output");
    let message = failed.1["message"].as_str().expect("a message");
    assert!(
        message.contains("misbehaving_upcaster") && message.contains("ledger-trap"),
        "{message}"
    );
    let (status, raw) = server.get("/v1/streams/ledger-trap?raw=true").await;
    assert_eq!(status, 200, "{raw}");
    assert_eq!(raw["events"][0]["type"], "Trap");
    let failed = server.get("/v1/all?category=ledger").await;
    assert_error(&failed, 500, "module_bad_output");

    // Where it behaves: one event read as two, one as none, one renamed, one untouched.
    let (status, fine) = server.get("/v1/streams/ledger-fine").await;
    assert_eq!(status, 200, "{fine}");
    assert_eq!(
        types(&fine["events"]),
        [
            pair("Part", Some("Split")),
            pair("Part", Some("Split")),
            pair("Current", Some("Renamed")),
            pair("Untouched", None),
        ]
    );
    assert_eq!(fine["events"][1]["data"], json!({"n": 2}));
    assert_eq!(fine["events"][2]["data"], json!({"kept": true}));

    // A second upcaster of one category is refused; removing the first reads it as stored.
    let taken = server
        .put_module(
            "another_ledger_upcaster",
            cairn_tests::guest("misbehaving-upcaster"),
            "application/wasm",
        )
        .await;
    assert_error(&taken, 409, "category_taken");
    let (status, removed) = server
        .call(reqwest::Client::new().delete(server.url("/v1/modules/misbehaving_upcaster")))
        .await;
    assert_eq!(status, 200, "{removed}");
    let (status, read) = server.get("/v1/streams/ledger-trap").await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(types(&read["events"]), [pair("Trap", None)]);
    server.stop().await;
}
