//! Live behaviour of the real server: an SSE subscription that resumes with `Last-Event-ID`
//! while writes continue (every event exactly once, in order), and a graceful shutdown under
//! load that loses no acknowledged append and is not held open by a subscription.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::server::Server;
use futures_util::StreamExt;
use serde_json::{Value, json};

/// Reads SSE events from `response` until `until` says stop; returns (id, event) pairs.
async fn read_events(
    response: reqwest::Response,
    mut until: impl FnMut(&[(u64, Value)]) -> bool,
) -> Vec<(u64, Value)> {
    let mut body = response.bytes_stream();
    let mut buffer = String::new();
    let mut events = Vec::new();
    while !until(&events) {
        let chunk = tokio::time::timeout(Duration::from_secs(30), body.next())
            .await
            .expect("an event within 30 s")
            .expect("the stream goes on")
            .expect("a chunk");
        buffer.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
        while let Some(end) = buffer.find("\n\n") {
            let message: String = buffer.drain(..end + 2).collect();
            let mut id = None;
            let mut data = None;
            for line in message.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = Some(v.trim().parse::<u64>().expect("a numeric id"));
                }
                if let Some(v) = line.strip_prefix("data:") {
                    data = Some(serde_json::from_str::<Value>(v.trim()).expect("JSON data"));
                }
            }
            if let (Some(id), Some(data)) = (id, data) {
                events.push((id, data));
            }
        }
    }
    events
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_resumes_with_last_event_id_while_writes_continue() {
    let server = Arc::new(Server::start().await);
    for n in 0..50 {
        server
            .append(
                &format!("feed-{}", n % 7),
                json!("any"),
                json!([{"type": "Tick", "data": {"n": n}}]),
            )
            .await;
    }
    let writer = tokio::spawn({
        let server = Arc::clone(&server);
        async move {
            for n in 50..250u64 {
                let reply = server
                    .append(
                        &format!("feed-{}", n % 7),
                        json!("any"),
                        json!([{"type": "Tick", "data": {"n": n}}]),
                    )
                    .await;
                assert_eq!(reply.0, 201, "{}", reply.1);
                if n % 20 == 0 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
    });
    let first = server
        .http
        .get(server.url("/v1/subscribe"))
        .send()
        .await
        .expect("subscribes");
    assert_eq!(first.status(), 200);
    assert!(
        first.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/event-stream")
    );
    let seen = read_events(first, |events| events.len() >= 100).await;
    let last = seen.last().expect("events").0;
    let resumed = server
        .http
        .get(server.url("/v1/subscribe?after=0"))
        .header("last-event-id", last.to_string())
        .send()
        .await
        .expect("resubscribes");
    let rest = read_events(resumed, |events| events.last().is_some_and(|e| e.0 >= 250)).await;
    writer.await.expect("the writer finished");

    let all: Vec<_> = seen.iter().chain(&rest).collect();
    let ids: Vec<u64> = all.iter().map(|e| e.0).collect();
    assert_eq!(
        ids,
        (1..=250).collect::<Vec<_>>(),
        "every event exactly once, in order"
    );
    for (id, event) in &all {
        assert_eq!(event["position"], json!(id), "the id is the position");
        assert_eq!(event["data"]["n"], json!(id - 1));
    }

    // A filtered subscription sees only its category, from the start and live.
    let filtered = server
        .http
        .get(server.url("/v1/subscribe?category=feed&type=Tick&after=240"))
        .send()
        .await
        .expect("subscribes");
    let tail = read_events(filtered, |events| events.len() >= 10).await;
    assert_eq!(
        tail.iter().map(|e| e.0).collect::<Vec<_>>(),
        (241..=250).collect::<Vec<_>>()
    );
    let bad = server
        .http
        .get(server.url("/v1/subscribe"))
        .header("last-event-id", "yesterday")
        .send()
        .await
        .expect("answers");
    assert_eq!(bad.status(), 400);
    drop(tail);
    let server = Arc::into_inner(server).expect("one owner");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_graceful_shutdown_under_load_loses_no_acknowledged_append() {
    let server = Server::start_in(tempfile::tempdir().expect("dir"), None, &[]).await;
    let acknowledged: Arc<Mutex<Vec<(String, u64, String)>>> = Arc::default();
    let client = server.http.clone();
    let base = server.base.clone();
    // A subscriber stays connected: shutdown must end it, not wait for it.
    let subscription = client
        .get(format!("{base}/v1/subscribe"))
        .send()
        .await
        .expect("subscribes");
    let writers: Vec<_> = (0..16)
        .map(|w| {
            let client = client.clone();
            let base = base.clone();
            let acknowledged = Arc::clone(&acknowledged);
            tokio::spawn(async move {
                for n in 0..10_000u64 {
                    let id = uuid::Uuid::new_v4().to_string();
                    let sent = client
                        .post(format!("{base}/v1/streams/load-{w}"))
                        .json(&json!({"events": [{"id": id, "type": "Wrote", "data": {"n": n}}]}))
                        .send()
                        .await;
                    match sent {
                        Ok(reply) if reply.status() == 201 => {
                            let body: Value = reply.json().await.expect("json");
                            let version = body["last_version"].as_u64().expect("version");
                            acknowledged.lock().expect("lock").push((
                                format!("load-{w}"),
                                version,
                                id,
                            ));
                        }
                        // Refused or cut off by the shutdown: not acknowledged, so not promised.
                        _ => return,
                    }
                }
            })
        })
        .collect();
    while acknowledged.lock().expect("lock").len() < 300 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let dir = tokio::time::timeout(Duration::from_secs(30), server.stop())
        .await
        .expect("shutdown finishes although a subscription is open");
    for writer in writers {
        writer.await.expect("a writer ends once the server is gone");
    }
    drop(subscription);

    let acknowledged = acknowledged.lock().expect("lock").clone();
    let server = Server::start_in(dir, None, &[]).await;
    for w in 0..16 {
        let stream = format!("load-{w}");
        let mine: Vec<_> = acknowledged.iter().filter(|a| a.0 == stream).collect();
        let (_, read) = server
            .get(&format!("/v1/streams/{stream}?limit=10000"))
            .await;
        let events = read["events"].as_array().expect("events");
        for (_, version, id) in &mine {
            let stored = &events[(*version - 1) as usize];
            assert_eq!(
                stored["id"],
                json!(id),
                "acknowledged {stream}@{version} is stored"
            );
        }
    }
    assert!(acknowledged.len() >= 300);
    server.stop().await;
}
