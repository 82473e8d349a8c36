//! Webhook sinks through the real server, to a real HTTP receiver on 127.0.0.1 that this test
//! starts: a receiver that fails for 10 seconds gets everything after, in each stream's order,
//! and deduplicates by the `Idempotency-Key` it is sent; the sink says it is waiting while it
//! fails; an event the receiver refuses is retried and then parked in the sink's group; and
//! bad sinks get a clear error and change nothing.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::server::{Server, assert_error};
use serde_json::{Value, json};

/// What the receiver saw.
#[derive(Default)]
struct Received {
    /// (stream, position) of each event taken, first time only, in arrival order.
    taken: Vec<(String, u64)>,
    keys: BTreeSet<String>,
    duplicates: usize,
    refused_while_down: usize,
}

#[derive(Clone)]
struct Receiver {
    received: Arc<Mutex<Received>>,
    down_until: Instant,
}

async fn receive(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    axum::Json(event): axum::Json<Value>,
) -> StatusCode {
    let mut received = receiver.received.lock().expect("the lock");
    if Instant::now() < receiver.down_until {
        received.refused_while_down += 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    if event["type"] == "Poison" {
        return StatusCode::UNPROCESSABLE_ENTITY;
    }
    let key = headers["idempotency-key"]
        .to_str()
        .expect("a header")
        .to_owned();
    assert_eq!(key, event["id"], "the key is the event's id");
    if !received.keys.insert(key) {
        received.duplicates += 1;
        return StatusCode::OK;
    }
    received.taken.push((
        event["stream"].as_str().expect("a string").to_owned(),
        event["position"].as_u64().expect("a number"),
    ));
    StatusCode::NO_CONTENT
}

/// A receiver on 127.0.0.1:0 that answers 503 for `down` from now.
async fn start_receiver(down: Duration) -> (String, Arc<Mutex<Received>>) {
    let received = Arc::new(Mutex::new(Received::default()));
    let receiver = Receiver {
        received: Arc::clone(&received),
        down_until: Instant::now() + down,
    };
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let url = format!("http://{}/hook", listener.local_addr().expect("an address"));
    tokio::spawn(async move {
        axum::serve(listener, app)
            .await
            .expect("the receiver serves")
    });
    (url, received)
}

async fn append(server: &Server, stream: &str, kinds: &[&str]) {
    let events: Vec<Value> = kinds
        .iter()
        .map(|kind| json!({"type": kind, "data": {}}))
        .collect();
    let reply = server
        .append(stream, json!("any"), Value::Array(events))
        .await;
    assert_eq!(reply.0, 201, "{}", reply.1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_down_for_ten_seconds_gets_everything_after_in_order() {
    let server = Server::start().await;
    let (url, received) = start_receiver(Duration::from_secs(10)).await;
    let made = server
        .post(
            "/v1/sinks",
            json!({"name": "hook", "webhook": {"url": url}, "filter": {"categories": ["order"]}}),
        )
        .await;
    assert_eq!(made.0, 201, "{}", made.1);
    assert_eq!(made.1["group"], "sink.hook");
    for round in 0..10 {
        for order in 0..10 {
            append(&server, &format!("order-{order}"), &["Placed", "Paid"]).await;
        }
        if round == 0 {
            append(&server, "other-1", &["Ignored"]).await;
        }
    }
    let waiting = server
        .wait_until("/v1/sinks/hook", "the sink waiting", |s| {
            s["state"] == "waiting"
        })
        .await;
    assert!(
        waiting["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("503")),
        "{waiting}"
    );
    let done = server
        .wait_until("/v1/sinks/hook", "everything published", |s| {
            s["published"] == 200 && s["group"]["lag"] == 0
        })
        .await;
    assert_eq!(done["state"], "running", "{done}");
    {
        let received = received.lock().expect("the lock");
        assert!(received.refused_while_down > 0);
        assert_eq!(received.taken.len(), 200, "every event once");
        let mut last: BTreeMap<&str, u64> = BTreeMap::new();
        for (stream, position) in &received.taken {
            assert!(
                stream.starts_with("order-"),
                "{stream} is not in the filter"
            );
            if let Some(before) = last.insert(stream, *position) {
                assert!(before < *position, "{stream}: {position} after {before}");
            }
        }
        println!(
            "duplicates deduplicated by the receiver: {}",
            received.duplicates
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_the_receiver_refuses_is_retried_then_parked_with_its_stream_behind_it() {
    let server = Server::start().await;
    let (url, received) = start_receiver(Duration::ZERO).await;
    server
        .post(
            "/v1/sinks",
            json!({"name": "picky", "webhook": {"url": url}, "max_retries": 1}),
        )
        .await;
    append(&server, "order-1", &["Placed", "Poison", "Paid"]).await;
    append(&server, "order-2", &["Placed"]).await;
    let status = server
        .wait_until("/v1/sinks/picky", "the poison parked", |s| {
            s["group"]["parked"] == 2 && s["published"] == 2
        })
        .await;
    assert_eq!(status["refused"], 2, "tried twice: {status}");
    let (_, parked) = server.get("/v1/groups/sink.picky/parked").await;
    let reasons: Vec<&str> = parked["parked"]
        .as_array()
        .expect("an array")
        .iter()
        .map(|p| p["reason"].as_str().expect("a string"))
        .collect();
    assert_eq!(reasons, vec!["exhausted", "behind"]);
    let taken: Vec<u64> = received
        .lock()
        .expect("the lock")
        .taken
        .iter()
        .map(|t| t.1)
        .collect();
    assert_eq!(taken.len(), 2);
    assert!(taken.contains(&1) && taken.contains(&4));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_sinks_get_a_clear_error_and_nothing_is_made() {
    let server = Server::start().await;
    assert_error(
        &server
            .post(
                "/v1/sinks",
                json!({"name": "s", "webhook": {"url": "ftp://x/"}}),
            )
            .await,
        400,
        "invalid_sink",
    );
    assert_error(
        &server.post("/v1/sinks", json!({"name": "s"})).await,
        400,
        "invalid_sink",
    );
    // Nothing listens on this port: the broker cannot be reached.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = closed.local_addr().expect("an address").port();
    drop(closed);
    let started = Instant::now();
    assert_error(
        &server
            .post(
                "/v1/sinks",
                json!({"name": "k", "kafka": {"brokers": format!("127.0.0.1:{port}"), "topic": "t"}}),
            )
            .await,
        502,
        "target_unreachable",
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    let (_, sinks) = server.get("/v1/sinks").await;
    assert_eq!(sinks["sinks"], json!([]));
    let (_, groups) = server.get("/v1/groups").await;
    assert_eq!(groups["groups"], json!([]), "no group was made either");
    assert_error(&server.get("/v1/sinks/k").await, 404, "unknown_sink");
    // The server keeps serving.
    append(&server, "order-1", &["Placed"]).await;
    server.stop().await;
}
