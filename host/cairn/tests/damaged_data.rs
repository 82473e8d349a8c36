//! Damaged data over the real `cairn serve` and `cairn verify`: one changed byte inside an
//! event's payload on disk is never served (a JSON `storage_corrupt` error naming its
//! position), `/healthz` reports it, SSE ends with an error event rather than `data: {}`, and
//! `cairn verify` on the stopped data directory lists it and exits with failure.
//!
//! Before checksums, the changed byte was served as valid data (`"owner":"o7777"` became
//! `"op777"`) and `/healthz` stayed ok.

mod common;

use std::time::Duration;

use common::{cairn, serve, signal};
use serde_json::{Value, json};

/// Stops `server` as an operator would (SIGTERM), so its file is closed cleanly.
fn stop(mut server: std::process::Child) {
    signal(&server, "-TERM");
    assert!(server.wait().expect("exits").success());
}

fn occurrences(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(at, _)| at)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_payload_byte_is_never_served_and_verify_lists_it() {
    let dir = tempfile::tempdir().expect("dir");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let (server, url) = serve(dir.path());
    for (stream, data) in [
        ("owners-1", json!({"owner": "o7777"})),
        ("users-2", json!({"name": "Ada"})),
    ] {
        let reply = http
            .post(format!("{url}/v1/streams/{stream}"))
            .json(&json!({"events": [{"type": "Set", "data": data}]}))
            .send()
            .await
            .expect("append");
        assert_eq!(reply.status(), 201);
    }
    stop(server);

    let file = dir.path().join("store").join("cairn.redb");
    let mut bytes = std::fs::read(&file).expect("the store's file");
    let found = occurrences(&bytes, br#""owner":"o7777""#);
    assert!(!found.is_empty(), "the payload is not in the file");
    for at in found {
        bytes[at + br#""owner":"o"#.len()] = b'p';
    }
    std::fs::write(&file, &bytes).expect("write");

    let (server, url) = serve(dir.path());
    let get = |path: String| {
        let http = http.clone();
        async move {
            let reply = http.get(path).send().await.expect("the server answers");
            let status = reply.status().as_u16();
            (status, reply.json::<Value>().await.expect("a JSON body"))
        }
    };
    let (status, body) = get(format!("{url}/v1/streams/owners-1")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (500, Some("storage_corrupt")),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("position 1")),
        "{body}"
    );
    let (status, body) = get(format!("{url}/v1/all")).await;
    assert_eq!(status, 500, "{body}");
    assert!(
        !body.to_string().contains("op777"),
        "damaged data was served: {body}"
    );
    let (status, body) = get(format!("{url}/v1/streams/users-2")).await;
    assert_eq!(status, 200, "another stream reads: {body}");
    let (status, health) = get(format!("{url}/healthz")).await;
    assert_eq!(
        (status, health["status"].as_str()),
        (503, Some("storage_corrupt")),
        "{health}"
    );

    let sse = http
        .get(format!("{url}/v1/subscribe?after=0"))
        .send()
        .await
        .expect("subscribes")
        .text()
        .await
        .expect("the stream ends");
    assert!(
        sse.contains("event: error")
            && sse.contains("storage_corrupt")
            && !sse.contains("data: {}"),
        "{sse}"
    );
    stop(server);

    let verified = cairn()
        .arg("verify")
        .arg(dir.path())
        .output()
        .expect("cairn verify runs");
    let out = String::from_utf8_lossy(&verified.stdout);
    let err = String::from_utf8_lossy(&verified.stderr);
    assert!(
        !verified.status.success(),
        "verify passed a damaged store: {out}"
    );
    assert!(
        out.contains("damaged: the event at position 1"),
        "{out}\n{err}"
    );
    assert!(err.contains("1 damaged record"), "{err}");
}
