//! Plans of projections over HTTP, against the real server: a candidate folds the whole log
//! into a read model beside the serving one, and the queries given with the plan are answered
//! by both. A candidate that fails on an event names it; one that answers as the serving one
//! reports nothing; a serving model that answers otherwise shows the difference as a diff;
//! without queries the report says so; nothing is installed; bad input is a clear error.

mod common;

use common::server::{Server, assert_error};
use serde_json::{Value, json};

/// Plans `guest` as the next version of `name`, with `queries` (a JSON array) if given.
async fn plan(server: &Server, name: &str, guest: &str, queries: Option<Value>) -> (u16, Value) {
    let mut request = server
        .http
        .post(server.url(&format!("/v1/modules/{name}/plan")))
        .header("content-type", "application/wasm")
        .body(cairn_tests::guest(guest));
    if let Some(queries) = queries {
        request = request.query(&[("queries", queries.to_string())]);
    }
    server.call(request).await
}

async fn append(server: &Server, stream: &str, types: &[&str]) {
    let events: Vec<Value> = types
        .iter()
        .map(|t| json!({"type": t, "data": {}}))
        .collect();
    let reply = server.append(stream, json!("any"), json!(events)).await;
    assert_eq!(reply.0, 201, "{}", reply.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projection_plan_folds_the_log_and_compares_the_answers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_in(dir, None, &[]).await;
    let (status, body) = server
        .put_module(
            "picky",
            cairn_tests::guest("picky-projection-fixed"),
            "application/wasm",
        )
        .await;
    assert_eq!(status, 201, "{body}");
    append(&server, "feed-1", &["A", "B", "Poison", "A"]).await;
    server
        .wait_for_projection("picky", "caught up", |s| s["position"] == 4)
        .await;
    let queries = json!([
        {"type": "count", "event_type": "A"},
        {"type": "kinds"},
    ]);

    // The same version: it folds all four events and answers both queries alike.
    let (status, same) = plan(
        &server,
        "picky",
        "picky-projection-fixed",
        Some(queries.clone()),
    )
    .await;
    assert_eq!(status, 200, "{same}");
    assert_eq!(same["kind"], "projection");
    assert_eq!(same["events"], 4, "{same}");
    assert_eq!(same["failure"], Value::Null, "{same}");
    assert_eq!(
        (same["same"].clone(), same["different"].clone()),
        (json!(2), json!(0))
    );
    assert_eq!(
        same["queries"][0]["candidate"],
        json!({"count": 2}),
        "{same}"
    );
    assert_eq!(same["changes"], false, "{same}");

    // The version before the fix fails on the third event, and says where.
    let (status, picky) = plan(&server, "picky", "picky-projection", Some(queries.clone())).await;
    assert_eq!(status, 200, "{picky}");
    assert_eq!(picky["failure"]["position"], 3, "{picky}");
    assert_eq!(picky["failure"]["type"], "Poison", "{picky}");
    assert_eq!(
        picky["queries"],
        json!([]),
        "no answers of a model left half-built"
    );
    assert_eq!(picky["changes"], true, "{picky}");

    // The serving model stops (paused) while events go on: the candidate, folding all of
    // them, answers otherwise, shown as a diff.
    let (status, _) = server.post("/v1/projections/picky/pause", json!({})).await;
    assert_eq!(status, 200);
    append(&server, "feed-2", &["A"]).await;
    let (status, lagging) = plan(&server, "picky", "picky-projection-fixed", Some(queries)).await;
    assert_eq!(status, 200, "{lagging}");
    assert_eq!(lagging["events"], 5, "{lagging}");
    assert_eq!(
        (lagging["same"].clone(), lagging["different"].clone()),
        (json!(1), json!(1))
    );
    let differing = &lagging["queries"][0];
    assert_eq!(differing["live"], json!({"count": 2}), "{lagging}");
    assert_eq!(differing["candidate"], json!({"count": 3}), "{lagging}");
    assert_eq!(differing["diff"], json!(["count: 2 → 3"]), "{lagging}");
    assert_eq!(lagging["changes"], true);

    // Without queries, the report says none were given.
    let (status, unasked) = plan(&server, "picky", "picky-projection-fixed", None).await;
    assert_eq!(status, 200, "{unasked}");
    assert_eq!(unasked["queries_given"], false, "{unasked}");

    // Nothing was installed: the serving version is still the first.
    let (_, modules) = server.get("/v1/modules").await;
    assert_eq!(modules["modules"][0]["version"], 1, "{modules}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_projection_plans_are_clear_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_in(dir, None, &["customers", "customer_directory"]).await;
    let not_json = server
        .call(
            server
                .http
                .post(server.url("/v1/modules/customer_directory/plan?queries=%7Bnope"))
                .header("content-type", "application/wasm")
                .body(cairn_tests::guest("customer_directory")),
        )
        .await;
    assert_error(&not_json, 400, "invalid_query");
    let aggregate_for_a_projection = plan(&server, "customer_directory", "customers", None).await;
    assert_error(&aggregate_for_a_projection, 400, "not_an_aggregate");
    let projection_for_an_aggregate = plan(&server, "customers", "customer_directory", None).await;
    assert_error(&projection_for_an_aggregate, 400, "not_a_projection");
    server.stop().await;
}
