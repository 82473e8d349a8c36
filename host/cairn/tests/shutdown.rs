//! `cairn serve` always shuts down: SIGTERM ends the process, with the store closed and its
//! "cairn stopped" line printed, within a bound, whatever its clients are doing: a subscriber
//! that stopped reading, a request head or body never finished. And a client holding sockets
//! cannot use up the process's file descriptors.

mod common;
#[path = "common/raw.rs"]
mod raw;

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Output, cairn, signal};
use raw::{address_of, connect, connect_with_small_window, read_head};

/// Long past the grace period and well short of the client-side timeouts set below: the
/// process exits because shutdown is bounded, not because a client timed out.
const EXITS_WITHIN: Duration = Duration::from_secs(60);

/// A cairn.toml whose timeouts for clients are far longer than the test, so that only the
/// shutdown's grace period can end the connections it holds.
const PATIENT: &str = "[http]\nheader_timeout_ms = 600_000\nbody_timeout_ms = 600_000\n\
                       idle_timeout_ms = 600_000\nwrite_stall_timeout_ms = 600_000\n\
                       shutdown_grace_ms = 1_000\n";

/// `cairn serve` with `cairn_toml` as its `--config` (and any `extra` arguments), started
/// under `prefix` (such as `prlimit`) if given.
fn serve(
    data: &Path,
    cairn_toml: &str,
    prefix: &[&str],
    extra: &[&str],
) -> (Child, Output, SocketAddr) {
    let config = data.join("cairn.toml");
    std::fs::write(&config, cairn_toml).expect("writes cairn.toml");
    let mut command = match prefix.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(env!("CARGO_BIN_EXE_cairn"));
            command
        }
        None => cairn(),
    };
    let mut child = command
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.join("data"))
        .arg("--config")
        .arg(&config)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cairn serve starts");
    let mut output = Output::of(&mut child);
    let line = output.wait_for("cairn is serving", Duration::from_secs(120));
    let address = address_of(line.split_whitespace().last().expect("a URL"));
    (child, output, address)
}

/// Sends SIGTERM and checks that the process stops cleanly within [`EXITS_WITHIN`].
fn terminates(mut child: Child, mut output: Output) {
    let asked = Instant::now();
    signal(&child, "-TERM");
    output.wait_for("cairn stopped", EXITS_WITHIN);
    loop {
        if let Some(status) = child.try_wait().expect("waits") {
            assert!(status.success(), "{status}");
            return;
        }
        assert!(
            asked.elapsed() < EXITS_WITHIN,
            "still running after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigterm_ends_a_subscription_whose_client_stopped_reading() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (child, output, address) = serve(dir.path(), PATIENT, &[], &[]);
    raw::append_large(address, "large-1", 12, 900 * 1024);
    let mut subscriber = connect_with_small_window(address);
    subscriber
        .write_all(b"GET /v1/subscribe HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("subscribes");
    let head = read_head(&mut subscriber);
    assert!(head.contains("text/event-stream"), "{head}");
    // It reads no more; give the server the moment it takes to fill its send buffer.
    std::thread::sleep(Duration::from_secs(2));
    terminates(child, output);
    drop(subscriber);
}

#[test]
fn sigterm_ends_a_request_whose_head_never_ends() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (child, output, address) = serve(dir.path(), PATIENT, &[], &[]);
    let mut socket = connect(address);
    socket
        .write_all(b"GET /v1/all HTTP/1.1\r\nHost: x\r\n")
        .expect("sends part of a head");
    terminates(child, output);
    drop(socket);
}

#[test]
fn sigterm_ends_a_request_whose_body_never_ends() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (child, output, address) = serve(dir.path(), PATIENT, &[], &[]);
    let mut socket = connect(address);
    socket
        .write_all(
            b"POST /v1/streams/orders-1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 1000\r\n\r\n{\"events\": [",
        )
        .expect("sends part of a body");
    // The request is in flight once the server has its head; give it the moment to get it.
    std::thread::sleep(Duration::from_millis(200));
    terminates(child, output);
    drop(socket);
}

#[test]
fn held_sockets_cannot_use_up_the_file_descriptors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (child, mut output, address) = serve(
        dir.path(),
        "",
        &["prlimit", "--nofile=64:64", "--"],
        &["--api-key", "k3y"],
    );
    // More sockets than the process has descriptors, each with a head that never ends: the
    // API key cannot help, it is checked once the head is whole.
    let held: Vec<_> = (0..60)
        .map(|_| {
            let mut socket = connect(address);
            socket
                .write_all(b"GET /v1/all HTTP/1.1\r\nHost: x\r\n")
                .expect("sends part of a head");
            socket
        })
        .collect();
    let health = raw::get(address, "/healthz");
    assert_eq!(health.status, 200, "{}", health.body);
    let read = raw::exchange(
        address,
        b"GET /v1/all HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k3y\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(read.status, 200, "{}", read.body);
    drop(held);
    signal(&child, "-TERM");
    output.wait_for("cairn stopped", EXITS_WITHIN);
    let printed = output.seen().join("\n");
    assert!(
        !printed.contains("accept"),
        "the server could not accept:\n{printed}"
    );
    let mut child = child;
    assert!(child.wait().expect("exits").success());
}

#[test]
fn serve_refuses_a_blank_api_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = cairn()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            " ",
            "--data",
        ])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the API key is blank"), "{stderr}");
    assert!(
        std::fs::read_dir(dir.path()).expect("dir").next().is_none(),
        "nothing was created"
    );
}
