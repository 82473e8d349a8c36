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
#[path = "common/linearizable_client.rs"]
mod linearizable_client;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{serve, signal};
use linearizable::{Action, check};
use linearizable_client::{Histories, STREAMS, client, lock, read};

const CLIENTS: usize = 16;
/// Runs of the storm; the server is killed after each but the last, and restarted.
const RUNS: usize = 3;

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
