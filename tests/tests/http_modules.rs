//! Modules over HTTP: removing one (`DELETE /v1/modules/{name}`) and what stays, a name taken
//! by the other kind, and both across a restart. A removed aggregate keeps its events and its
//! name's kind; a removed projection's read models are dropped and its name is free.

mod common;

use common::server::{Server, assert_error};
use serde_json::{Value, json};

async fn upload(server: &Server, name: &str, guest: &str) -> (u16, Value) {
    server
        .put_module(name, cairn_tests::guest(guest), "application/wasm")
        .await
}

async fn remove(server: &Server, name: &str) -> (u16, Value) {
    server
        .call(
            server
                .http
                .delete(server.url(&format!("/v1/modules/{name}"))),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_aggregate_keeps_its_events_and_its_name_stays_an_aggregates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_in(dir, None, &["customers"]).await;
    let created = server
        .command(
            "customers",
            "c1",
            json!({"type": "Create", "data": {"name": "Ada", "email": "ada@example.com"}}),
        )
        .await;
    assert_eq!(created.0, 200, "{}", created.1);

    let removed = remove(&server, "customers").await;
    assert_eq!(removed.0, 200, "{}", removed.1);
    assert_eq!(removed.1["name"], "customers");
    assert_eq!(removed.1["kind"], "aggregate");
    assert_eq!(removed.1["version"], 1);
    assert_eq!(removed.1["streams_kept"], "customers-*");
    assert_eq!(removed.1["read_models_dropped"], json!([]));
    assert!(
        removed.1["message"]
            .as_str()
            .is_some_and(|m| m.contains("stay")),
        "{}",
        removed.1
    );

    // Commands are refused; the module is gone from the list; its events read as before.
    let refused = server
        .command("customers", "c1", json!({"type": "Delete"}))
        .await;
    assert_error(&refused, 404, "unknown_module");
    assert_error(
        &server.get("/v1/modules/customers").await,
        404,
        "unknown_module",
    );
    assert_eq!(server.get("/v1/modules").await.1["modules"], json!([]));
    let stream = server.get("/v1/streams/customers-c1").await;
    assert_eq!(stream.0, 200, "{}", stream.1);
    assert_eq!(stream.1["events"][0]["type"], "CustomerRegistered");
    assert_error(&remove(&server, "customers").await, 404, "unknown_module");

    // The name stays an aggregate's: a projection may not take it.
    let taken = upload(&server, "customers", "customer_directory").await;
    assert_error(&taken, 409, "name_taken");
    assert!(
        taken.1["message"]
            .as_str()
            .is_some_and(|m| m.contains("aggregate")),
        "{}",
        taken.1
    );

    // After a restart the removed module is not loaded again.
    let dir = server.stop().await;
    let server = Server::start_in(dir, None, &[]).await;
    assert_eq!(server.get("/v1/modules").await.1["modules"], json!([]));
    assert_error(
        &server
            .command("customers", "c2", json!({"type": "Delete"}))
            .await,
        404,
        "unknown_module",
    );

    // Uploading it again serves it as a new version, on the events it left.
    let back = upload(&server, "customers", "customers").await;
    assert_eq!(back.0, 201, "{}", back.1);
    assert_eq!(back.1["version"], 2);
    let described = server.get("/v1/modules/customers").await;
    assert_eq!(described.0, 200, "{}", described.1);
    let versions: Vec<u64> = described.1["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| v["version"].as_u64().expect("a number"))
        .collect();
    assert_eq!(versions, [2, 1], "every version kept, newest first");
    assert_eq!(described.1["versions"][0]["hash"], back.1["hash"]);
    let state = server.get("/v1/aggregates/customers/c1").await;
    assert_eq!(state.0, 200, "{}", state.1);
    assert_eq!(state.1["version"], 1, "{}", state.1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_projection_drops_its_read_models_and_frees_its_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_in(dir, None, &["customers", "customer_directory"]).await;
    for id in ["c1", "c2"] {
        let (status, body) = server
            .command(
                "customers",
                id,
                json!({"type": "Create", "data": {"name": id, "email": format!("{id}@example.com")}}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    server
        .wait_for_projection("customer_directory", "caught up", |status| {
            status["state"] == "live" && status["position"] == 2
        })
        .await;

    let removed = remove(&server, "customer_directory").await;
    assert_eq!(removed.0, 200, "{}", removed.1);
    assert_eq!(removed.1["kind"], "projection");
    assert_eq!(removed.1["streams_kept"], Value::Null);
    assert_eq!(
        removed.1["read_models_dropped"],
        json!(["customer_directory#g1"])
    );
    assert_error(
        &server.get("/v1/projections/customer_directory").await,
        404,
        "unknown_projection",
    );
    assert_error(
        &server
            .post(
                "/v1/projections/customer_directory/query",
                json!({"type": "count"}),
            )
            .await,
        404,
        "unknown_projection",
    );
    let listed = server.get("/v1/projections").await;
    assert_eq!(listed.1["projections"], json!([]), "{}", listed.1);

    // Its name is free: uploaded again it rebuilds from the start of the log.
    let back = upload(&server, "customer_directory", "customer_directory").await;
    assert_eq!(back.0, 201, "{}", back.1);
    assert_eq!(back.1["version"], 2);
    let status = server
        .wait_for_projection("customer_directory", "rebuilt", |status| {
            status["state"] == "live" && status["position"] == 2
        })
        .await;
    assert_eq!(status["version"], 2, "{status}");
    let count = server
        .post(
            "/v1/projections/customer_directory/query",
            json!({"type": "count"}),
        )
        .await;
    assert_eq!(count.1, json!({"active": 2, "deleted": 0}));

    // Removed again, it stays removed across a restart; an aggregate may then take the name.
    assert_eq!(remove(&server, "customer_directory").await.0, 200);
    let dir = server.stop().await;
    let server = Server::start_in(dir, None, &[]).await;
    assert_error(
        &server.get("/v1/projections/customer_directory").await,
        404,
        "unknown_projection",
    );
    let aggregate = upload(&server, "customer_directory", "bank_account").await;
    assert_eq!(aggregate.0, 201, "{}", aggregate.1);
    assert_eq!(aggregate.1["kind"], "aggregate");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_held_by_the_other_kind_is_a_409_that_names_the_kind() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_in(dir, None, &["customers", "customer_directory"]).await;
    let projection_over_aggregate = upload(&server, "customers", "customer_directory").await;
    assert_error(&projection_over_aggregate, 409, "name_taken");
    assert!(
        projection_over_aggregate.1["message"]
            .as_str()
            .is_some_and(|m| m.contains("an aggregate")),
        "{}",
        projection_over_aggregate.1
    );
    let aggregate_over_projection = upload(&server, "customer_directory", "customers").await;
    assert_error(&aggregate_over_projection, 409, "name_taken");
    assert!(
        aggregate_over_projection.1["message"]
            .as_str()
            .is_some_and(|m| m.contains("a projection")),
        "{}",
        aggregate_over_projection.1
    );
    // Nothing changed: both still serve as they were.
    let listed = server.get("/v1/modules").await.1;
    let kinds: Vec<(String, String)> = listed["modules"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap_or("").to_owned(),
                m["kind"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("customer_directory".to_owned(), "projection".to_owned()),
            ("customers".to_owned(), "aggregate".to_owned())
        ]
    );
    assert_error(
        &remove(&server, "no_such_module").await,
        404,
        "unknown_module",
    );
    server.stop().await;
}
