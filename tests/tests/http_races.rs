//! 64 writers race on one stream over HTTP, each reading the stream's version and appending at
//! it. Exactly one append wins each version, every loser's 409 names the version it expected
//! and the actual one, and the stream holds each winner's event at the version it was given.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::server::Server;
use serde_json::{Value, json};

const WRITERS: usize = 64;
/// The race stops once the stream has this many events.
const VERSIONS: u64 = 150;

/// What one attempt did: the version it expected, and the reply.
struct Attempt {
    writer: usize,
    expected: u64,
    status: u16,
    body: Value,
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let reply = request.send().await.expect("the server answers");
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn one_writer_wins_each_version_and_every_loser_hears_the_actual_one() {
    let server = Server::start().await;
    let stream_url = Arc::new(server.url("/v1/streams/race-1"));
    // Only the version is wanted from a read.
    let version_url = Arc::new(server.url("/v1/streams/race-1?direction=backward&limit=1"));
    let start = Arc::new(tokio::sync::Barrier::new(WRITERS));
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let http = server.http.clone();
            let url = Arc::clone(&stream_url);
            let version_url = Arc::clone(&version_url);
            let start = Arc::clone(&start);
            tokio::spawn(async move {
                start.wait().await;
                let mut attempts = Vec::new();
                loop {
                    let (status, read) = send(http.get(version_url.as_str())).await;
                    assert_eq!(status, 200, "{read}");
                    let expected = read["version"].as_u64().expect("a version");
                    if expected >= VERSIONS {
                        return attempts;
                    }
                    let body = json!({
                        "expected_version": expected,
                        "events": [{"type": "Raced", "data": {"writer": writer}}],
                    });
                    let (status, body) = send(http.post(url.as_str()).json(&body)).await;
                    attempts.push(Attempt {
                        writer,
                        expected,
                        status,
                        body,
                    });
                }
            })
        })
        .collect();
    let mut attempts = Vec::new();
    for writer in writers {
        attempts.extend(writer.await.expect("the writer finished"));
    }

    let (_, stream) = server.get("/v1/streams/race-1?limit=1000").await;
    let last = stream["version"].as_u64().expect("a version");
    assert!(
        (VERSIONS..VERSIONS + WRITERS as u64).contains(&last),
        "{last}"
    );
    let mut winners: BTreeMap<u64, usize> = BTreeMap::new();
    let mut losses = 0;
    for attempt in &attempts {
        match attempt.status {
            201 => {
                let version = attempt.body["first_version"].as_u64().expect("a version");
                assert_eq!(version, attempt.expected + 1, "{}", attempt.body);
                let earlier = winners.insert(version, attempt.writer);
                assert!(earlier.is_none(), "two writers won version {version}");
            }
            409 => {
                losses += 1;
                let body = &attempt.body;
                assert_eq!(body["error"], "wrong_expected_version", "{body}");
                assert_eq!(body["stream"], "race-1", "{body}");
                assert_eq!(body["expected"], attempt.expected, "{body}");
                let actual = body["actual"].as_u64().expect("the actual version");
                assert!(
                    actual > attempt.expected && actual <= last,
                    "a loser at {} heard {actual} (the stream ends at {last})",
                    attempt.expected
                );
            }
            other => panic!("an attempt got {other}: {}", attempt.body),
        }
    }
    assert_eq!(
        winners.keys().copied().collect::<Vec<_>>(),
        (1..=last).collect::<Vec<_>>(),
        "exactly one 2xx for every version"
    );
    assert!(losses > 0, "the writers never raced");
    for event in stream["events"].as_array().expect("events") {
        let version = event["version"].as_u64().expect("a version");
        assert_eq!(
            event["data"]["writer"],
            json!(winners[&version]),
            "version {version} holds its winner's event"
        );
    }
    server.stop().await;
}
