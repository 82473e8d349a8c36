//! Streams over HTTP against the real server: appends with every expected version, the 409
//! body, idempotent retries, reads, the global log, and bad input (each a clear error, with
//! nothing stored).

mod common;

use common::server::{Server, assert_error};
use serde_json::json;

fn event(kind: &str, n: u64) -> serde_json::Value {
    json!({"type": kind, "data": {"n": n}})
}

#[tokio::test(flavor = "multi_thread")]
async fn expected_versions_over_http() {
    let server = Server::start_with(None).await;
    let created = server
        .append("order-1", json!("no_stream"), json!([event("Placed", 1)]))
        .await;
    assert_eq!(created.0, 201, "{}", created.1);
    assert_eq!(
        created.1,
        json!({"stream": "order-1", "first_version": 1, "last_version": 1,
               "first_position": 1, "last_position": 1})
    );

    let again = server
        .append("order-1", json!("no_stream"), json!([event("Placed", 2)]))
        .await;
    assert_error(&again, 409, "wrong_expected_version");
    assert_eq!(again.1["stream"], "order-1");
    assert_eq!(again.1["expected"], "no_stream");
    assert_eq!(again.1["actual"], 1);

    let stale = server
        .append("order-1", json!(0), json!([event("Paid", 3)]))
        .await;
    assert_error(&stale, 409, "wrong_expected_version");
    assert_eq!(
        (stale.1["expected"].clone(), stale.1["actual"].clone()),
        (json!(0), json!(1))
    );

    let missing = server
        .append("order-2", json!("exists"), json!([event("Paid", 4)]))
        .await;
    assert_error(&missing, 409, "wrong_expected_version");
    assert_eq!(missing.1["expected"], "exists");
    assert_eq!(missing.1["actual"], 0);

    let exact = server
        .append(
            "order-1",
            json!(1),
            json!([event("Paid", 5), event("Shipped", 6)]),
        )
        .await;
    assert_eq!(exact.0, 201, "{}", exact.1);
    assert_eq!(exact.1["last_version"], 3);
    let any = server
        .append("order-1", json!("any"), json!([event("Noted", 7)]))
        .await;
    assert_eq!(any.1["last_version"], 4);
    let defaulted = server
        .post(
            "/v1/streams/order-1",
            json!({"events": [event("Noted", 8)]}),
        )
        .await;
    assert_eq!(
        defaulted.1["last_version"], 5,
        "expected_version defaults to any"
    );

    let read = server.get("/v1/streams/order-1").await;
    assert_eq!(read.0, 200);
    assert_eq!(read.1["version"], 5);
    let types: Vec<_> = read.1["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["type"].as_str().expect("type").to_owned())
        .collect();
    assert_eq!(types, ["Placed", "Paid", "Shipped", "Noted", "Noted"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_with_the_same_ids_returns_the_original_result() {
    let server = Server::start().await;
    let id = uuid::Uuid::new_v4();
    let events = json!([{"id": id, "type": "Placed", "data": {}}]);
    let first = server
        .append("order-9", json!("no_stream"), events.clone())
        .await;
    assert_eq!(first.0, 201, "{}", first.1);
    let retry = server.append("order-9", json!("no_stream"), events).await;
    assert_eq!(retry, first, "a retry gets the original result");
    let read = server.get("/v1/streams/order-9").await;
    assert_eq!(read.1["version"], 1, "nothing appended twice");
    assert_eq!(read.1["events"][0]["id"], json!(id));

    let other = server
        .append(
            "order-10",
            json!("any"),
            json!([{"id": id, "type": "Placed", "data": {}}]),
        )
        .await;
    assert_error(&other, 409, "idempotency_conflict");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_page_both_ways_and_the_global_log_filters() {
    let server = Server::start().await;
    for n in 1..=5 {
        server
            .append("cart-a", json!("any"), json!([event("Added", n)]))
            .await;
        server
            .append("order-b", json!("any"), json!([event("Placed", n)]))
            .await;
    }
    let missing = server.get("/v1/streams/nobody-here").await;
    assert_eq!(
        missing,
        (
            200,
            json!({"stream": "nobody-here", "version": 0, "events": []})
        )
    );

    let page = server.get("/v1/streams/cart-a?from=2&limit=2").await;
    let versions: Vec<_> = page.1["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["version"].as_u64())
        .collect();
    assert_eq!(versions, [Some(2), Some(3)]);
    let back = server
        .get("/v1/streams/cart-a?direction=backward&limit=2")
        .await;
    let versions: Vec<_> = back.1["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["version"].as_u64())
        .collect();
    assert_eq!(versions, [Some(5), Some(4)]);

    let all = server.get("/v1/all?after=3&limit=4").await;
    let positions: Vec<_> = all.1["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["position"].as_u64())
        .collect();
    assert_eq!(positions, [Some(4), Some(5), Some(6), Some(7)]);
    assert_eq!(all.1["head"], 10);
    let carts = server.get("/v1/all?category=cart").await;
    assert_eq!(carts.1["events"].as_array().expect("events").len(), 5);
    assert!(
        carts.1["events"]
            .as_array()
            .expect("events")
            .iter()
            .all(|e| e["stream"] == "cart-a")
    );
    let placed = server.get("/v1/all?type=Placed&limit=2").await;
    assert_eq!(placed.1["events"].as_array().expect("events").len(), 2);
    assert!(
        placed.1["events"]
            .as_array()
            .expect("events")
            .iter()
            .all(|e| e["type"] == "Placed")
    );

    assert_error(
        &server.get("/v1/streams/cart-a?limit=0").await,
        400,
        "invalid_query",
    );
    assert_error(
        &server.get("/v1/streams/cart-a?limit=10001").await,
        400,
        "invalid_query",
    );
    assert_error(
        &server.get("/v1/streams/cart-a?direction=sideways").await,
        400,
        "invalid_query",
    );
    assert_error(&server.get("/v1/all?after=-1").await, 400, "invalid_query");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_a_clear_error_and_stores_nothing() {
    let server = Server::start().await;
    let one = json!([event("Placed", 1)]);

    // Bad stream names.
    assert_error(
        &server.append("%24system", json!("any"), one.clone()).await,
        400,
        "reserved_stream",
    );
    assert_error(
        &server.append("bad%07bell", json!("any"), one.clone()).await,
        400,
        "invalid_stream",
    );
    let long = "s".repeat(201);
    assert_error(
        &server.append(&long, json!("any"), one.clone()).await,
        400,
        "invalid_stream",
    );
    assert_error(
        &server.get(&format!("/v1/streams/{long}")).await,
        400,
        "invalid_stream",
    );

    // Malformed JSON, a wrong shape, a wrong content type.
    let malformed = server
        .call(
            server
                .http
                .post(server.url("/v1/streams/s-1"))
                .header("content-type", "application/json")
                .body("{\"events\": ["),
        )
        .await;
    assert_error(&malformed, 400, "malformed_json");
    let shape = server
        .post("/v1/streams/s-1", json!({"events": "none"}))
        .await;
    assert_error(&shape, 422, "invalid_body");
    let unknown_field = server
        .post("/v1/streams/s-1", json!({"events": [], "expected": 1}))
        .await;
    assert_error(&unknown_field, 422, "invalid_body");
    let bad_expected = server.append("s-1", json!("sometimes"), one.clone()).await;
    assert_error(&bad_expected, 422, "invalid_body");
    let bad_type = server
        .append("s-1", json!("any"), json!([{"type": "", "data": {}}]))
        .await;
    assert_error(&bad_type, 422, "invalid_body");
    let text = server
        .call(
            server
                .http
                .post(server.url("/v1/streams/s-1"))
                .header("content-type", "text/plain")
                .body("{}"),
        )
        .await;
    assert_error(&text, 415, "unsupported_media_type");

    // What the store refuses.
    assert_error(
        &server.append("s-1", json!("any"), json!([])).await,
        422,
        "no_events",
    );
    let many: Vec<_> = (0..1001).map(|n| event("E", n)).collect();
    assert_error(
        &server.append("s-1", json!("any"), json!(many)).await,
        422,
        "too_many_events",
    );
    let metadata = server
        .append(
            "s-1",
            json!("any"),
            json!([{"type": "E", "data": {}, "metadata": [1]}]),
        )
        .await;
    assert_error(&metadata, 422, "metadata_not_object");
    let id = uuid::Uuid::new_v4();
    let twice = server
        .append(
            "s-1",
            json!("any"),
            json!([{"id": id, "type": "E", "data": {}}, {"id": id, "type": "E", "data": {}}]),
        )
        .await;
    assert_error(&twice, 422, "duplicate_event_id");

    // Over the 1 MiB body limit.
    let big = json!([{"type": "Big", "data": {"blob": "x".repeat(1024 * 1024)}}]);
    assert_error(
        &server.append("s-1", json!("any"), big).await,
        413,
        "body_too_large",
    );

    // Unknown routes and methods.
    assert_error(&server.get("/v2/streams/s-1").await, 404, "not_found");
    let delete = server
        .call(server.http.delete(server.url("/v1/streams/s-1")))
        .await;
    assert_error(&delete, 405, "method_not_allowed");

    let all = server.get("/v1/all").await;
    assert_eq!(all.1["events"], json!([]), "nothing was stored");
    assert_eq!(all.1["head"], 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rare_filter_is_read_in_bounded_scans() {
    let server = Server::start_in(tempfile::tempdir().expect("dir"), None, &[]).await;
    // 100,000 events of category "busy", then one of category "rare".
    for batch in 0..100 {
        let events: Vec<_> = (0..1000).map(|n| event("Tick", batch * 1000 + n)).collect();
        let reply = server
            .append(&format!("busy-{batch}"), json!("any"), json!(events))
            .await;
        assert_eq!(reply.0, 201, "{}", reply.1);
    }
    server
        .append("rare-1", json!("any"), json!([event("Seen", 1)]))
        .await;

    let first = server.get("/v1/all?category=rare").await;
    assert_eq!(
        first.1["events"],
        json!([]),
        "the first read stops after its scan limit"
    );
    assert_eq!(first.1["scanned_to"], 100_000);
    assert_eq!(first.1["head"], 100_001);
    let next = server.get("/v1/all?category=rare&after=100000").await;
    assert_eq!(next.1["events"][0]["stream"], "rare-1");

    // A subscription goes on through the bounded scans by itself.
    let response = server
        .http
        .get(server.url("/v1/subscribe?category=rare"))
        .send()
        .await
        .expect("subscribes");
    let mut body = futures_util::StreamExt::boxed(response.bytes_stream());
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            futures_util::StreamExt::next(&mut body),
        )
        .await
        .expect("the rare event arrives")
        .expect("the stream goes on")
        .expect("a chunk");
        text.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
    }
    assert!(text.contains("id: 100001"), "{text}");
    drop(body);
    server.stop().await;
}

/// A retry must repeat the same events: an event id that is stored with other content is a
/// 409 `event_id_reused`, and the stored event stays as it was. (It used to answer 201 with the
/// original positions and drop the new content.)
#[tokio::test(flavor = "multi_thread")]
async fn an_event_id_reused_with_other_content_is_refused_and_nothing_changes() {
    let server = Server::start().await;
    let id = "4a1f9a9e-1b0c-4e55-9f55-0c3d2a7d3a11";
    let first = json!([{"id": id, "type": "Opened", "data": {"owner": "o7777"}}]);
    let (status, body) = server
        .append("reuse-1", json!("no_stream"), first.clone())
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, again) = server.append("reuse-1", json!("any"), first).await;
    assert_eq!(
        (status, &again),
        (201, &body),
        "an exact retry answers as before"
    );
    let altered = json!([{"id": id, "type": "Opened", "data": {"owner": "mallory"}}]);
    let reply = server.append("reuse-1", json!("any"), altered).await;
    assert_error(&reply, 409, "event_id_reused");
    let (_, read) = server.get("/v1/streams/reuse-1").await;
    assert_eq!(read["version"], 1, "{read}");
    assert_eq!(read["events"][0]["data"]["owner"], "o7777", "{read}");
}

/// What common JSON parsers cannot hold is refused at append with a 422, so every reader of
/// cairn's own output (`cairn read`, `cairn tail`, SSE clients) can parse what it stores; and
/// stream names with invisible or bidirectional-control characters are a 400.
#[tokio::test(flavor = "multi_thread")]
async fn json_readers_cannot_hold_and_invisible_names_are_refused() {
    let server = Server::start().await;
    for data in [r#"{"x": 1e400}"#, r#"{"x": -1e400}"#, r#"{"x": "\ud800"}"#] {
        let body = format!(r#"{{"events": [{{"type": "E", "data": {data}}}]}}"#);
        let reply = server
            .call(
                server
                    .http
                    .post(server.url("/v1/streams/json-1"))
                    .header("content-type", "application/json")
                    .body(body),
            )
            .await;
        assert_eq!(reply.0, 422, "{data}: {}", reply.1);
    }
    let (_, read) = server.get("/v1/streams/json-1").await;
    assert_eq!(read["version"], 0, "something was stored: {read}");
    for name in [
        "a%E2%80%8Bb",
        "evil-%E2%80%AEexe",
        "%EF%BB%BFbom",
        "tag-%F3%A0%81%81",
    ] {
        let reply = server
            .append(name, json!("any"), json!([{"type": "E", "data": {}}]))
            .await;
        assert_error(&reply, 400, "invalid_stream");
    }
}
