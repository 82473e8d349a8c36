//! The workload of the linearizability tests: clients that append (at the version they last
//! saw, `any`, `no_stream`, `exists`, or a stale version) and read on [`STREAMS`] streams
//! `lin-0`, `lin-1`, ... over HTTP, recording each operation's invocation, completion (or the
//! lack of one) and reply for the checker in `linearizable.rs`.
#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{Value, json};

use crate::linearizable::{Action, Expected, Operation};

/// The streams the clients use.
pub const STREAMS: usize = 3;

/// Each stream's history of operations.
pub type Histories = Arc<Mutex<Vec<Vec<Operation>>>>;

pub async fn read(http: &reqwest::Client, url: &str, stream: usize) -> Option<(u64, Vec<String>)> {
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
pub async fn client(
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

pub fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
