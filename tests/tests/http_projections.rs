//! Projections through the real server and runner: history written before the upload is all
//! reflected, live events show up, answers match a fold of `GET /v1/all`, a new version is
//! built beside the serving one and takes over with queries answered throughout, a failing
//! projection is faulted with the event's position and type while others stay live, and a
//! restart resumes from the checkpoint without applying anything twice.

mod common;

use std::time::{Duration, Instant};

use common::server::{Server, assert_error};
use serde_json::{Value, json};

async fn upload(server: &Server, name: &str, bytes: Vec<u8>) -> Value {
    let (status, body) = server.put_module(name, bytes, "application/wasm").await;
    assert!(status == 201 || status == 200, "{status}: {body}");
    body
}

/// Waits until `check` accepts the projection's status.
async fn wait_for(
    server: &Server,
    name: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    server.wait_for_projection(name, what, check).await
}

/// Appends `events` (stream, type), then uploads `picky`, so that its first batch holds them
/// all, and waits for it to fault. Returns its status.
async fn picky_faulted_after(server: &Server, events: &[(&str, &str)]) -> Value {
    for (stream, event_type) in events {
        let (status, body) = server
            .append(
                stream,
                json!("any"),
                json!([{"type": event_type, "data": {}}]),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    upload(server, "picky", cairn_tests::guest("picky-projection")).await;
    wait_for(server, "picky", "faulted", |s| s["state"] == "faulted").await
}

/// Where a faulted projection failed (position, event type) and where its model stands.
fn fault_place(status: &Value) -> (Value, Value, Value) {
    (
        status["fault"]["position"].clone(),
        status["fault"]["event_type"].clone(),
        status["position"].clone(),
    )
}

async fn query(server: &Server, name: &str, request: Value) -> Value {
    let (status, body) = server
        .post(&format!("/v1/projections/{name}/query"), request)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn customer(server: &Server, id: &str, command: Value) {
    let (status, body) = server.command("customers", id, command).await;
    assert_eq!(status, 200, "{body}");
}

/// Active and deleted counts, folded from the global log.
async fn counts_from_the_log(server: &Server) -> Value {
    let (_, log) = server.get("/v1/all?category=customers&limit=10000").await;
    let mut status = std::collections::BTreeMap::new();
    for event in log["events"].as_array().expect("events") {
        let stream = event["stream"].as_str().expect("stream").to_owned();
        match event["type"].as_str() {
            Some("CustomerRegistered") => {
                status.insert(stream, "active");
            }
            Some("CustomerDeleted") => {
                status.insert(stream, "deleted");
            }
            _ => {}
        }
    }
    let active = status.values().filter(|s| **s == "active").count();
    json!({"active": active, "deleted": status.len() - active})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_projection_catches_up_follows_live_rebuilds_and_restarts() {
    let server = Server::start_in(tempfile::tempdir().expect("dir"), None, &["customers"]).await;
    for n in 0..40 {
        customer(&server, &format!("c{n}"), json!({"type": "Create", "data": {"name": format!("N{n}"), "email": format!("c{n}@example.com")}})).await;
    }
    for n in 0..10 {
        customer(&server, &format!("c{n}"), json!({"type": "Delete"})).await;
    }
    let uploaded = upload(
        &server,
        "customer_directory",
        cairn_tests::guest("customer_directory"),
    )
    .await;
    assert_eq!(uploaded["kind"], "projection");
    let live = wait_for(&server, "customer_directory", "caught up", |s| {
        s["state"] == "live" && s["position"] == 50
    })
    .await;
    assert_eq!(live["version"], 1);
    assert_eq!(live["lag_events"], 0);
    assert_eq!(
        query(&server, "customer_directory", json!({"type": "count"})).await,
        json!({"active": 30, "deleted": 10})
    );
    assert_eq!(
        query(&server, "customer_directory", json!({"type": "count"})).await,
        counts_from_the_log(&server).await
    );
    let deleted = query(
        &server,
        "customer_directory",
        json!({"type": "list", "status": "deleted", "limit": 3}),
    )
    .await;
    assert_eq!(deleted["customers"].as_array().expect("page").len(), 3);
    assert_eq!(
        deleted["next"], "c2",
        "the deleted are c0 to c9, in id order"
    );

    // Live events show up.
    customer(&server, "c20", json!({"type": "Delete"})).await;
    wait_for(&server, "customer_directory", "saw the delete", |s| {
        s["position"] == 51
    })
    .await;
    assert_eq!(
        query(&server, "customer_directory", json!({"type": "count"})).await,
        counts_from_the_log(&server).await
    );

    // A new version builds beside the old; queries are answered throughout, never half-built.
    upload(
        &server,
        "customer_directory",
        cairn_tests::rebuilt("customer_directory"),
    )
    .await;
    let writer = {
        let http = server.http.clone();
        let url = server.url("/v1/aggregates/customers/c99/commands");
        tokio::spawn(async move {
            let reply = http
                .post(url)
                .json(&json!({"type": "Create", "data": {"name": "Z", "email": "z@example.com"}}))
                .send()
                .await
                .expect("sent");
            assert_eq!(reply.status(), 200);
        })
    };
    count_until_taken_over(
        &server,
        "version 2",
        |total| {
            assert!(
                total == 40 || total == 41,
                "a query saw a half-built model: {total}"
            )
        },
        |status| status["version"] == 2,
    )
    .await;
    writer.await.expect("the writer finished");
    wait_for(&server, "customer_directory", "saw c99", |s| {
        s["position"] == 52
    })
    .await;
    assert_eq!(
        query(&server, "customer_directory", json!({"type": "count"})).await,
        json!({"active": 30, "deleted": 11})
    );

    // Bad requests.
    assert_error(
        &server
            .post(
                "/v1/projections/customer_directory/query",
                json!({"type": "everything"}),
            )
            .await,
        422,
        "query_refused",
    );
    assert_error(
        &server
            .post("/v1/projections/nobody/query", json!({"type": "count"}))
            .await,
        404,
        "unknown_projection",
    );
    assert_error(
        &server.get("/v1/projections/nobody").await,
        404,
        "unknown_projection",
    );
    let (_, list) = server.get("/v1/projections").await;
    assert_eq!(list["projections"][0]["name"], "customer_directory");

    // After a restart the projection is back and goes on from its checkpoint.
    let dir = server.stop().await;
    let server = Server::start_in(dir, None, &[]).await;
    customer(&server, "c30", json!({"type": "Delete"})).await;
    wait_for(&server, "customer_directory", "resumed", |s| {
        s["position"] == 53 && s["state"] == "live"
    })
    .await;
    assert_eq!(
        query(&server, "customer_directory", json!({"type": "count"})).await,
        json!({"active": 29, "deleted": 12}),
        "nothing applied twice, nothing missed"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_projection_is_faulted_and_the_others_stay_live() {
    let server = Server::start_in(
        tempfile::tempdir().expect("dir"),
        None,
        &["customers", "bank_account"],
    )
    .await;
    upload(
        &server,
        "account_balances",
        cairn_tests::guest("account_balances"),
    )
    .await;
    upload(
        &server,
        "customer_directory",
        cairn_tests::guest("customer_directory"),
    )
    .await;
    let (status, body) = server
        .command(
            "bank_account",
            "1",
            json!({"type": "Open", "data": {"owner": "ada"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    server
        .command(
            "bank_account",
            "1",
            json!({"type": "Deposit", "data": {"amount": 700}}),
        )
        .await;
    wait_for(&server, "account_balances", "caught up", |s| {
        s["position"] == 2
    })
    .await;
    assert_eq!(
        query(
            &server,
            "account_balances",
            json!({"type": "total_deposits"})
        )
        .await,
        json!({"total_deposits": 700})
    );

    // An event the projection cannot apply: money moved in an account never opened.
    let (status, body) = server
        .append(
            "bank_account-9",
            json!("any"),
            json!([{"type": "Deposited", "data": {"amount": 5}}]),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let faulted = wait_for(&server, "account_balances", "faulted", |s| {
        s["state"] == "faulted"
    })
    .await;
    assert_eq!(faulted["fault"]["position"], 3);
    assert_eq!(faulted["fault"]["event_type"], "Deposited");
    assert!(
        faulted["fault"]["error"]
            .as_str()
            .expect("error")
            .contains("before it was opened"),
        "{faulted}"
    );
    assert_eq!(
        faulted["position"], 2,
        "nothing of the failed batch was committed"
    );

    // The other projection stays live, and the faulted one still answers from what it has.
    server
        .command(
            "customers",
            "c1",
            json!({"type": "Create", "data": {"name": "A", "email": "a@b.co"}}),
        )
        .await;
    wait_for(&server, "customer_directory", "live", |s| {
        s["state"] == "live" && s["position"] == 4
    })
    .await;
    assert_eq!(
        query(
            &server,
            "account_balances",
            json!({"type": "total_deposits"})
        )
        .await,
        json!({"total_deposits": 700})
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_projection_stops_between_batches_and_resumes_from_its_checkpoint() {
    let server = Server::start_in(tempfile::tempdir().expect("dir"), None, &["customers"]).await;
    upload(
        &server,
        "customer_directory",
        cairn_tests::guest("customer_directory"),
    )
    .await;
    customer(
        &server,
        "c1",
        json!({"type": "Create", "data": {"name": "A", "email": "a@b.co"}}),
    )
    .await;
    wait_for(&server, "customer_directory", "caught up", |s| {
        s["position"] == 1 && s["state"] == "live"
    })
    .await;

    let (status, _) = server
        .post("/v1/projections/customer_directory/pause", json!({}))
        .await;
    assert_eq!(status, 200);
    wait_for(&server, "customer_directory", "paused", |s| {
        s["state"] == "paused"
    })
    .await;
    customer(
        &server,
        "c2",
        json!({"type": "Create", "data": {"name": "B", "email": "b@b.co"}}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, paused) = server.get("/v1/projections/customer_directory").await;
    assert_eq!(
        (paused["state"].clone(), paused["position"].clone()),
        (json!("paused"), json!(1)),
        "{paused}"
    );
    assert_eq!(
        (paused["head"].clone(), paused["lag_events"].clone()),
        (json!(2), json!(1)),
        "a paused projection's lag counts what came after the pause: {paused}"
    );
    assert_eq!(
        query(&server, "customer_directory", json!({"type": "count"})).await,
        json!({"active": 1, "deleted": 0}),
        "queries are answered while paused"
    );

    let (status, _) = server
        .post("/v1/projections/customer_directory/resume", json!({}))
        .await;
    assert_eq!(status, 200);
    wait_for(&server, "customer_directory", "resumed", |s| {
        s["position"] == 2 && s["state"] == "live"
    })
    .await;
    assert_eq!(
        query(&server, "customer_directory", json!({"type": "count"})).await,
        json!({"active": 2, "deleted": 0})
    );
    assert_error(
        &server.post("/v1/projections/nobody/pause", json!({})).await,
        404,
        "unknown_projection",
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn uploading_a_fix_resumes_a_faulted_projection() {
    let server = Server::start_in(tempfile::tempdir().expect("dir"), None, &[]).await;
    // The projection's first batch holds all four and refuses its third: the two before it
    // are committed on their own, and the fault stands just before it.
    let events = [("s-1", "A"), ("s-2", "B"), ("s-1", "Poison"), ("s-2", "A")];
    let faulted = picky_faulted_after(&server, &events).await;
    assert_eq!(
        fault_place(&faulted),
        (json!(3), json!("Poison"), json!(2)),
        "{faulted}"
    );
    let count = |event_type: &str| json!({"type": "count", "event_type": event_type});
    for (event_type, n) in [("A", 1), ("B", 1), ("Poison", 0)] {
        assert_eq!(
            query(&server, "picky", count(event_type)).await,
            json!({"count": n}),
            "the faulted model holds the events before the refused one: {event_type}"
        );
    }

    upload(
        &server,
        "picky",
        cairn_tests::guest("picky-projection-fixed"),
    )
    .await;
    let fixed = wait_for(&server, "picky", "resumed with the fix", |s| {
        s["version"] == 2 && s["state"] == "live" && s["position"] == 4
    })
    .await;
    assert_eq!(fixed["fault"], Value::Null, "{fixed}");
    assert_eq!(fixed["rebuilding"], Value::Null, "{fixed}");
    for (event_type, n) in [("A", 2), ("B", 1), ("Poison", 1)] {
        assert_eq!(
            query(&server, "picky", count(event_type)).await,
            json!({"count": n}),
            "{event_type}"
        );
    }
    // Counted by a scan in `apply` that must see the batch's own writes.
    assert_eq!(
        query(&server, "picky", json!({"type": "kinds"})).await,
        json!({"count": 3})
    );
    server.stop().await;
}

/// A trap names no event, so the runner finds the one that caused it by applying shorter
/// prefixes of the batch: the fault names that event, and the model holds every event before it.
#[tokio::test(flavor = "multi_thread")]
async fn a_trap_in_the_middle_of_a_batch_is_reported_at_its_event() {
    let server = Server::start_in(tempfile::tempdir().expect("dir"), None, &[]).await;
    let mut events = vec![("s-1", "A"); 9];
    events.extend([("s-2", "B"), ("s-3", "Panic"), ("s-1", "A"), ("s-2", "B")]);
    let faulted = picky_faulted_after(&server, &events).await;
    assert_eq!(
        fault_place(&faulted),
        (json!(11), json!("Panic"), json!(10)),
        "{faulted}"
    );
    let error = faulted["fault"]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("trapped") && error.contains("picky cannot bear a Panic event"),
        "the trap, with the guest's panic message: {faulted}"
    );
    let count = |event_type: &str| json!({"type": "count", "event_type": event_type});
    for (event_type, n) in [("A", 9), ("B", 1)] {
        assert_eq!(
            query(&server, "picky", count(event_type)).await,
            json!({"count": n}),
            "{event_type}"
        );
    }
    server.stop().await;
}

/// Projection calls run on a thread of their own and do not yield as they burn fuel, so a
/// looping `query` or `apply` must still be stopped: the query answers an error, the apply
/// faults only its projection at the looping event, and the projection keeps answering (once
/// its probation allows: see `query_after_probation`).
#[tokio::test(flavor = "multi_thread")]
async fn a_looping_projection_call_is_stopped_and_the_projection_still_answers() {
    let server = Server::start_in(tempfile::tempdir().expect("dir"), None, &[]).await;
    upload(&server, "picky", cairn_tests::guest("picky-projection")).await;
    let (status, body) = server
        .append("s-1", json!("any"), json!([{"type": "A", "data": {}}]))
        .await;
    assert_eq!(status, 201, "{body}");
    wait_for(&server, "picky", "live at 1", |s| {
        s["state"] == "live" && s["position"] == 1
    })
    .await;

    let started = Instant::now();
    let (status, body) = server
        .post("/v1/projections/picky/query", json!({"type": "spin"}))
        .await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body["error"] == "module_out_of_fuel" || body["error"] == "module_cpu_exceeded",
        "{body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the looping query was stopped"
    );
    assert_eq!(
        query_after_probation(
            &server,
            "picky",
            json!({"type": "count", "event_type": "A"})
        )
        .await,
        json!({"count": 1})
    );

    let (status, body) = server
        .append("s-2", json!("any"), json!([{"type": "Spin", "data": {}}]))
        .await;
    assert_eq!(status, 201, "{body}");
    let faulted = wait_for(&server, "picky", "faulted", |s| s["state"] == "faulted").await;
    assert_eq!(
        (
            faulted["fault"]["position"].clone(),
            faulted["position"].clone()
        ),
        (json!(2), json!(1)),
        "{faulted}"
    );
    assert_eq!(
        query_after_probation(
            &server,
            "picky",
            json!({"type": "count", "event_type": "A"})
        )
        .await,
        json!({"count": 1}),
        "a faulted projection still answers from its model"
    );
    server.stop().await;
}

/// Asks the module once, after one of its calls ran out of fuel: for 10 s the module is on
/// probation and its calls take turns on the idle-priority slow lane (docs/runtime.md,
/// "Probation"), but a call that waits there is never refused for it. Any failure fails the
/// test.
async fn query_after_probation(server: &Server, name: &str, request: Value) -> Value {
    let (status, body) = server
        .post(&format!("/v1/projections/{name}/query"), request)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Asks the directory for its count, handing each total to `check`, until a rebuilt model that
/// `rebuilt` accepts serves and is live. Every query must be answered.
async fn count_until_taken_over(
    server: &Server,
    what: &str,
    mut check: impl FnMut(i64),
    rebuilt: impl Fn(&Value) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        check(customers_counted(server).await);
        let (_, status) = server.get("/v1/projections/customer_directory").await;
        if rebuilt(&status) && status["state"] == "live" && status["rebuilding"].is_null() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} never took over: {status}"
        );
    }
}

/// Active plus deleted customers, as the serving read model counts them.
async fn customers_counted(server: &Server) -> i64 {
    let counts = query(server, "customer_directory", json!({"type": "count"})).await;
    counts["active"].as_i64().expect("n") + counts["deleted"].as_i64().expect("n")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_rebuilds_beside_the_serving_model_and_takes_over_under_writes() {
    let server = Server::start_in(tempfile::tempdir().expect("dir"), None, &["customers"]).await;
    for n in 0..300 {
        customer(
            &server,
            &format!("c{n}"),
            json!({"type": "Create", "data": {"name": "N", "email": format!("c{n}@example.com")}}),
        )
        .await;
    }
    upload(
        &server,
        "customer_directory",
        cairn_tests::guest("customer_directory"),
    )
    .await;
    let first = wait_for(&server, "customer_directory", "caught up", |s| {
        s["state"] == "live" && s["position"] == 300
    })
    .await;
    assert_eq!(first["generation"], 1);

    let writer = {
        let http = server.http.clone();
        let base = server.url("/v1/aggregates/customers");
        tokio::spawn(async move {
            for n in 300..400 {
                let reply = http
                    .post(format!("{base}/c{n}/commands"))
                    .json(&json!({"type": "Create", "data": {"name": "W", "email": format!("c{n}@example.com")}}))
                    .send()
                    .await
                    .expect("sent");
                assert_eq!(reply.status(), 200);
            }
        })
    };
    let (status, started) = server
        .post("/v1/projections/customer_directory/reset", json!({}))
        .await;
    assert_eq!(status, 202, "{started}");
    assert_eq!(started["generation"], 1, "the old model still serves");
    assert_eq!(started["rebuilding"]["generation"], 2, "{started}");
    assert_eq!(started["rebuilding"]["version"], 1, "{started}");

    // Queries never fail and never see a half-built model: the count never goes down.
    let mut seen = 300;
    count_until_taken_over(
        &server,
        "the reset",
        |total| {
            assert!(
                total >= seen,
                "a query saw a half-built model: {total} after {seen}"
            );
            seen = total;
        },
        |status| status["generation"] == 2,
    )
    .await;
    writer.await.expect("the writer finished");
    wait_for(&server, "customer_directory", "saw every write", |s| {
        s["position"] == 400
    })
    .await;
    assert_eq!(
        query(&server, "customer_directory", json!({"type": "count"})).await,
        counts_from_the_log(&server).await
    );
    assert_error(
        &server.post("/v1/projections/nobody/reset", json!({})).await,
        404,
        "unknown_projection",
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pause_and_a_rebuild_in_progress_are_kept_across_a_restart() {
    let server = Server::start_in(tempfile::tempdir().expect("dir"), None, &["customers"]).await;
    upload(
        &server,
        "customer_directory",
        cairn_tests::guest("customer_directory"),
    )
    .await;
    for n in 0..3 {
        customer(
            &server,
            &format!("c{n}"),
            json!({"type": "Create", "data": {"name": "N", "email": format!("c{n}@example.com")}}),
        )
        .await;
    }
    wait_for(&server, "customer_directory", "caught up", |s| {
        s["state"] == "live" && s["position"] == 3
    })
    .await;
    let (status, _) = server
        .post("/v1/projections/customer_directory/pause", json!({}))
        .await;
    assert_eq!(status, 200);
    // A new version while paused: built beside the serving one, and paused too.
    upload(
        &server,
        "customer_directory",
        cairn_tests::rebuilt("customer_directory"),
    )
    .await;
    let before = wait_for(&server, "customer_directory", "building v2", |s| {
        s["rebuilding"]["version"] == 2 && s["rebuilding"]["state"] == "paused"
    })
    .await;
    assert_eq!(
        (before["version"].clone(), before["generation"].clone()),
        (json!(1), json!(1))
    );

    let dir = server.stop().await;
    let server = Server::start_in(dir, None, &[]).await;
    let after = wait_for(&server, "customer_directory", "restored", |s| {
        s["state"] == "paused" && s["rebuilding"]["state"] == "paused"
    })
    .await;
    assert_eq!(
        (
            after["version"].clone(),
            after["generation"].clone(),
            after["position"].clone(),
            after["rebuilding"]["version"].clone(),
            after["rebuilding"]["generation"].clone(),
            after["rebuilding"]["position"].clone()
        ),
        (json!(1), json!(1), json!(3), json!(2), json!(2), json!(0)),
        "the old version serves and the new one waits: {after}"
    );
    assert_eq!(
        query(&server, "customer_directory", json!({"type": "count"})).await,
        json!({"active": 3, "deleted": 0}),
        "version 1, loaded again from the store, answers"
    );
    customer(
        &server,
        "c3",
        json!({"type": "Create", "data": {"name": "N", "email": "c3@example.com"}}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, still) = server.get("/v1/projections/customer_directory").await;
    assert_eq!(still["position"], 3, "still paused: {still}");

    let (status, _) = server
        .post("/v1/projections/customer_directory/resume", json!({}))
        .await;
    assert_eq!(status, 200);
    let resumed = wait_for(&server, "customer_directory", "taken over by v2", |s| {
        s["version"] == 2 && s["state"] == "live" && s["position"] == 4 && s["rebuilding"].is_null()
    })
    .await;
    assert_eq!(resumed["generation"], 2);
    assert_eq!(
        query(&server, "customer_directory", json!({"type": "count"})).await,
        json!({"active": 4, "deleted": 0})
    );

    // The resume is kept too.
    let dir = server.stop().await;
    let server = Server::start_in(dir, None, &[]).await;
    customer(
        &server,
        "c4",
        json!({"type": "Create", "data": {"name": "N", "email": "c4@example.com"}}),
    )
    .await;
    wait_for(
        &server,
        "customer_directory",
        "live after the restart",
        |s| s["generation"] == 2 && s["state"] == "live" && s["position"] == 5,
    )
    .await;
    server.stop().await;
}

/// A projection of one category (read with the store's category filter) reads past the events
/// of others and reaches the head, though the log ends on them.
#[tokio::test(flavor = "multi_thread")]
async fn a_projection_of_one_category_reads_past_the_others_to_the_head() {
    let server = Server::start_in(tempfile::tempdir().expect("dir"), None, &["customers"]).await;
    for n in 0..30 {
        customer(&server, &format!("c{n}"), json!({"type": "Create", "data": {"name": format!("N{n}"), "email": format!("c{n}@example.com")}})).await;
        let events: Vec<Value> = (0..n % 4)
            .map(|k| json!({"type": "Placed", "data": {"k": k}}))
            .collect();
        if !events.is_empty() {
            let (status, body) = server
                .append(&format!("orders-{n}"), json!("any"), json!(events))
                .await;
            assert_eq!(status, 201, "{body}");
        }
    }
    let (status, body) = server
        .append(
            "orders-last",
            json!("any"),
            json!([{"type": "Placed", "data": {}}]),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, all) = server.get("/v1/all?limit=1").await;
    let head = all["head"].clone();
    upload(
        &server,
        "customer_directory",
        cairn_tests::guest("customer_directory"),
    )
    .await;
    wait_for(&server, "customer_directory", "reached the head", |s| {
        s["state"] == "live" && s["position"] == head
    })
    .await;
    assert_eq!(
        query(&server, "customer_directory", json!({"type": "count"})).await,
        json!({"active": 30, "deleted": 0})
    );
    server.stop().await;
}
