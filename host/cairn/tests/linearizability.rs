//! Appends with expected versions and reads are linearizable, across SIGKILL restarts.
//!
//! 16 clients append (at the version they last saw, `any`, `no_stream`, `exists`, or a stale
//! version) and read on 3 streams against `cairn serve`, which is killed and restarted twice
//! while they run. Every operation's invocation, completion (or the lack of one) and reply is
//! recorded, and each stream's history is checked with the checker in
//! `common/linearizable.rs` against the stream's final content. CI requires 0 anomalies.

mod common;
#[path = "common/linearizable.rs"]
mod linearizable;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{serve, signal};
use linearizable::{Action, Expected, Operation, check};
use serde_json::{Value, json};

const CLIENTS: usize = 16;
const STREAMS: usize = 3;
/// Runs of the storm; the server is killed after each but the last, and restarted.
const RUNS: usize = 3;

type Histories = Arc<Mutex<Vec<Vec<Operation>>>>;

async fn read(http: &reqwest::Client, url: &str, stream: usize) -> Option<(u64, Vec<String>)> {
    let reply = http
        .get(format!("{url}/v1/streams/lin-{stream}?limit=10000"))
        .send()
        .await
        .ok()?;
    let body: Value = reply.json().await.ok()?;
    let ids = body["events"]
        .as_array()?
        .iter()
        .map(|e| e["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    Some((body["version"].as_u64()?, ids))
}

/// One client: appends and reads until the server goes away or `until` passes.
async fn client(
    http: reqwest::Client,
    url: String,
    histories: Histories,
    epoch: Instant,
    until: Instant,
) {
    let mut seen = [0u64; STREAMS];
    while Instant::now() < until {
        let stream = fastrand::usize(..STREAMS);
        let invoked = epoch.elapsed().as_nanos();
        if fastrand::u8(..10) < 4 {
            let Some((version, ids)) = read(&http, &url, stream).await else {
                return; // a read with no reply tells nothing
            };
            let completed = epoch.elapsed().as_nanos();
            seen[stream] = version;
            lock(&histories)[stream].push(Operation {
                invoked,
                completed: Some(completed),
                action: Action::Read { version, ids },
            });
            continue;
        }
        let (expected, wire) = match fastrand::u8(..10) {
            0..=5 => (Expected::Exactly(seen[stream]), json!(seen[stream])),
            6 => (Expected::Any, json!("any")),
            7 => (Expected::NoStream, json!("no_stream")),
            8 => (Expected::Exists, json!("exists")),
            _ => {
                let stale = seen[stream].saturating_sub(1);
                (Expected::Exactly(stale), json!(stale))
            }
        };
        let ids: Vec<String> = (0..fastrand::usize(1..=3))
            .map(|_| uuid::Uuid::new_v4().to_string())
            .collect();
        let events: Vec<Value> = ids
            .iter()
            .map(|id| json!({"id": id, "type": "Noted", "data": {}}))
            .collect();
        let sent = http
            .post(format!("{url}/v1/streams/lin-{stream}"))
            .json(&json!({"expected_version": wire, "events": events}))
            .send()
            .await;
        let reply = match sent {
            Ok(reply) => {
                let status = reply.status().as_u16();
                reply.json::<Value>().await.ok().map(|body| (status, body))
            }
            Err(_) => None,
        };
        let completed = epoch.elapsed().as_nanos();
        let (reply, completed) = match reply {
            Some((201, body)) => {
                seen[stream] = body["last_version"].as_u64().expect("a version");
                (
                    Some(Ok(body["first_version"].as_u64().expect("a version"))),
                    Some(completed),
                )
            }
            Some((409, body)) => {
                let actual = body["actual"].as_u64().expect("the actual version");
                seen[stream] = actual;
                (Some(Err(actual)), Some(completed))
            }
            Some((status, body)) => panic!("an append got {status}: {body}"),
            None => (None, None),
        };
        let gone = reply.is_none();
        lock(&histories)[stream].push(Operation {
            invoked,
            completed,
            action: Action::Append {
                expected,
                ids,
                reply,
            },
        });
        if gone {
            return;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[tokio::test(flavor = "multi_thread")]
async fn appends_and_reads_are_linearizable_across_kills() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let http = reqwest::Client::new();
    let histories: Histories = Arc::new(Mutex::new(vec![Vec::new(); STREAMS]));
    let epoch = Instant::now();
    for run in 0..RUNS {
        let (server, url) = serve(&data);
        let until = Instant::now() + Duration::from_millis(1_500);
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                tokio::spawn(client(
                    http.clone(),
                    url.clone(),
                    Arc::clone(&histories),
                    epoch,
                    until,
                ))
            })
            .collect();
        let last = run + 1 == RUNS;
        if !last {
            tokio::time::sleep(Duration::from_millis(fastrand::u64(300..1_200))).await;
            signal(&server, "-KILL");
        }
        for client in clients {
            client.await.expect("a client panicked");
        }
        let mut server = server;
        if last {
            signal(&server, "-TERM");
        }
        server.wait().expect("the server ends");
    }

    let (server, url) = serve(&data);
    let histories = lock(&histories).clone();
    for (stream, history) in histories.iter().enumerate() {
        let (_, last) = read(&http, &url, stream).await.expect("the final read");
        let appends = history
            .iter()
            .filter(|op| matches!(op.action, Action::Append { .. }))
            .count();
        assert!(appends > 50, "stream {stream} saw only {appends} appends");
        if let Err(anomaly) = check(history, &last) {
            panic!(
                "stream lin-{stream}: {} ({} operations, {} events)",
                anomaly.0,
                history.len(),
                last.len()
            );
        }
        eprintln!(
            "lin-{stream}: {} operations ({appends} appends), {} events: linearizable",
            history.len(),
            last.len()
        );
    }
    signal(&server, "-TERM");
    let mut server = server;
    server.wait().expect("the server ends");
}
